package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;

import java.util.regex.Pattern;

/**
 * One verdict on a message, as sent in a FilterReply: action, SMTP reply text, header lines to add, and a
 * reason for the maillog. Immutable; stages (the SPI) return these.
 */
public final class FilterVerdict
{
    /** Default reply for REJECT. */
    public static final String REJECT_DEFAULT = "554 5.7.1 message content rejected";
    /** Default reply for TEMPFAIL from a rule. */
    public static final String TEMPFAIL_DEFAULT = "451 4.7.1 message content deferred, try again later";

    private static final Pattern FIELD_NAME = Pattern.compile("^[\\x21-\\x39\\x3b-\\x7e]{1,76}$");
    private static final Pattern REPLY_5XX = Pattern.compile("^5[0-9][0-9] 5\\.[0-9]{1,3}\\.[0-9]{1,3}( .*)?$");
    private static final Pattern REPLY_4XX = Pattern.compile("^4[0-9][0-9] 4\\.[0-9]{1,3}\\.[0-9]{1,3}( .*)?$");
    private static final FilterVerdict ACCEPT = new FilterVerdict(FilterAction.ACCEPT, "", "", "");

    private final FilterAction action;
    private final String replyText;
    private final String headers;
    private final String reason;

    FilterVerdict(final FilterAction action, final String replyText, final String headers, final String reason)
    {
        this.action = action;
        this.replyText = replyText;
        this.headers = headers;
        this.reason = reason;
    }

    /**
     * @return accept unchanged.
     */
    public static FilterVerdict accept()
    {
        return ACCEPT;
    }

    /**
     * @param reason for the maillog.
     * @return accept and stop looking (later rules and stages are not consulted).
     */
    public static FilterVerdict accept(final String reason)
    {
        return new FilterVerdict(FilterAction.ACCEPT, "", "", reason);
    }

    /**
     * @param headerLine "Name: value", no CR or LF.
     * @param reason     for the maillog.
     * @return add a header and go on scanning.
     */
    public static FilterVerdict addHeader(final String headerLine, final String reason)
    {
        return new FilterVerdict(FilterAction.ADD_HEADERS, "", checkHeader(headerLine) + "\r\n", reason);
    }

    /**
     * @param text   free text, or a full reply "5xx 5.x.y text"; null means the default.
     * @param reason for the maillog.
     * @return reject permanently.
     */
    public static FilterVerdict reject(final String text, final String reason)
    {
        return new FilterVerdict(FilterAction.REJECT, reply(text, REPLY_5XX, "554 5.7.1 ", REJECT_DEFAULT), "", reason);
    }

    /**
     * @param text   free text, or a full reply "4xx 4.x.y text"; null means the default.
     * @param reason for the maillog.
     * @return defer (the client retries).
     */
    public static FilterVerdict tempfail(final String text, final String reason)
    {
        return new FilterVerdict(
            FilterAction.TEMPFAIL, reply(text, REPLY_4XX, "451 4.7.1 ", TEMPFAIL_DEFAULT), "", reason);
    }

    /**
     * @param reason for the maillog.
     * @return say 250 but drop the message.
     */
    public static FilterVerdict discard(final String reason)
    {
        return new FilterVerdict(FilterAction.DISCARD, "", "", reason);
    }

    /**
     * @param reason for the maillog.
     * @return say 250 and move the message to quarantine/.
     */
    public static FilterVerdict quarantine(final String reason)
    {
        return new FilterVerdict(FilterAction.QUARANTINE, "", "", reason);
    }

    static FilterVerdict failure(final String replyText, final String reason)
    {
        return new FilterVerdict(FilterAction.TEMPFAIL, replyText, "", reason);
    }

    static FilterVerdict of(final FilterAction action, final String replyText, final String headers, final String reason)
    {
        return new FilterVerdict(action, replyText, headers, reason);
    }

    public FilterAction action()
    {
        return action;
    }

    /**
     * @return the full SMTP reply line for REJECT and TEMPFAIL, else empty.
     */
    public String replyText()
    {
        return replyText;
    }

    /**
     * @return header lines to add, each "Name: value\r\n", for ADD_HEADERS, else empty.
     */
    public String headers()
    {
        return headers;
    }

    public String reason()
    {
        return reason;
    }

    /**
     * @return true when scanning stops here (everything but ADD_HEADERS).
     */
    public boolean isTerminal()
    {
        return FilterAction.ADD_HEADERS != action;
    }

    public String toString()
    {
        return action + (replyText.isEmpty() ? "" : " \"" + replyText + "\"") +
            (headers.isEmpty() ? "" : " headers=" + headers.replace("\r\n", "\\r\\n")) +
            (reason.isEmpty() ? "" : " (" + reason + ")");
    }

    /**
     * @param line "Name: value".
     * @return the same, when it is a safe header line.
     * @throws IllegalArgumentException when it is not.
     */
    static String checkHeader(final String line)
    {
        final int colon = line.indexOf(':');
        if (colon <= 0 || !FIELD_NAME.matcher(line.substring(0, colon)).matches())
        {
            throw new IllegalArgumentException("'" + line + "' is not 'Name: value' (name of printable ASCII)");
        }
        if (line.length() > 998)
        {
            throw new IllegalArgumentException("header line longer than 998 characters");
        }
        for (int i = 0; i < line.length(); i++)
        {
            final char c = line.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7f)
            {
                throw new IllegalArgumentException("header line holds a control character (CR, LF, NUL ...)");
            }
        }
        return line;
    }

    static String reply(final String text, final Pattern full, final String prefix, final String fallback)
    {
        if (null == text || text.isBlank())
        {
            return fallback;
        }
        final String t = text.strip();
        for (int i = 0; i < t.length(); i++)
        {
            final char c = t.charAt(i);
            if (c < 0x20 || c > 0x7e)
            {
                throw new IllegalArgumentException("reply text must be printable ASCII");
            }
        }
        if (t.length() > 500)
        {
            throw new IllegalArgumentException("reply text longer than 500 characters");
        }
        if (full.matcher(t).matches())
        {
            return t;
        }
        if (Character.isDigit(t.charAt(0)))
        {
            throw new IllegalArgumentException("reply '" + t + "' starts with a code but is not '" +
                prefix.strip() + "'-shaped (e.g. " + fallback.substring(0, 9) + ")");
        }
        return prefix + t;
    }
}
