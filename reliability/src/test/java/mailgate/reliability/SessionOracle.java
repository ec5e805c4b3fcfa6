package mailgate.reliability;

import mailgate.reactor.smtp.BareLfMode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An independent reading of what a client sent, checked against what the session answered: one reply per command
 * line, DATA de-stuffed by a reference decoder, BDAT chunks counted from the command, and every {@code 250 queued}
 * matched against the spool copy. Written apart from SmtpSession so that a bug in either shows as a disagreement.
 */
final class SessionOracle
{
    private static final Pattern REPLY_LINE = Pattern.compile("([2-5][0-9][0-9])([ -])[^\r\n]*");
    private static final Pattern QUEUED = Pattern.compile("^250 2\\.0\\.0 Ok: queued as ([A-Za-z0-9]+)$");
    private static final int MAX_COMMAND_LINE = 512;
    private static final int MAX_TEXT_LINE = 1000;

    private final byte[] input;
    private final List<String> units;
    private final BareLfMode bareLfMode;
    private final long maxMessageSize;
    private final List<Path> queued;
    private final Set<String> queuedIds = new HashSet<>();
    private int position;
    private int unit;

    /** What the oracle saw, for the figures. */
    int messagesChecked;
    int commandsChecked;

    /**
     * @param input          every byte the client sent.
     * @param replies        every octet the session wrote, greeting included.
     * @param bareLfMode     the session's mode.
     * @param maxMessageSize the session's limit.
     * @param queued         the queue files present after the session.
     */
    SessionOracle(final byte[] input, final String replies, final BareLfMode bareLfMode, final long maxMessageSize,
        final List<Path> queued)
    {
        this.input = input;
        this.units = units(replies);
        this.bareLfMode = bareLfMode;
        this.maxMessageSize = maxMessageSize;
        this.queued = queued;
    }

    /**
     * Split replies into complete replies (multi-line ones joined), asserting each line is well formed: a code
     * 200..599, ' ' or '-', CR LF, at most 512 octets, the same code on every line of a multi-line reply.
     */
    static List<String> units(final String replies)
    {
        final List<String> units = new ArrayList<>();
        int from = 0;
        StringBuilder current = null;
        while (from < replies.length())
        {
            final int crlf = replies.indexOf("\r\n", from);
            check(crlf >= 0, "reply without CR LF: " + printable(replies.substring(from)));
            final String line = replies.substring(from, crlf);
            check(line.length() + 2 <= 512, "reply line over 512 octets");
            final Matcher m = REPLY_LINE.matcher(line);
            check(m.matches(), "malformed reply line: " + printable(line));
            if (null != current)
            {
                check(current.substring(0, 3).equals(m.group(1)), "multi-line reply changes code: " + printable(line));
            }
            else
            {
                current = new StringBuilder();
            }
            current.append(line).append('\n');
            if (" ".equals(m.group(2)))
            {
                units.add(current.toString());
                current = null;
            }
            from = crlf + 2;
        }
        check(null == current, "multi-line reply never ended");
        return units;
    }

    /**
     * Walk input and replies together.
     *
     * @param closing whether the session says it is closing.
     */
    void check(final boolean closing) throws IOException
    {
        check(!units.isEmpty() && units.get(0).startsWith("220 "), "no greeting");
        unit = 1;
        final ByteArrayOutputStream chunks = new ByteArrayOutputStream();
        boolean chunksTrusted = true;
        boolean closed = false;
        while (!closed && unit < units.size())
        {
            final int lf = indexOf(input, (byte)'\n', position);
            check(lf >= 0, "reply without a complete command: " + units.get(unit));
            final int lineStart = position;
            position = lf + 1;
            final String reply = units.get(unit++);
            commandsChecked++;
            final String code = reply.substring(0, 3);
            if (lf + 1 - lineStart > MAX_COMMAND_LINE)
            {
                check(reply.startsWith("500 5.5.2"), "long line got " + reply);
                closed = errorLimit();
                continue;
            }
            final boolean hasCr = lf > lineStart && '\r' == input[lf - 1];
            final String line = new String(input, lineStart, (hasCr ? lf - 1 : lf) - lineStart,
                StandardCharsets.ISO_8859_1);
            final String verb = line.split(" ", 2)[0].toUpperCase(Locale.ROOT);
            if ("354".equals(code))
            {
                check("DATA".equals(verb), "354 for " + printable(line));
                if (!data(hasCr))
                {
                    return;
                }
            }
            else if ("BDAT".equals(verb) && !reply.startsWith("500") && (BareLfMode.NORMALIZE == bareLfMode || hasCr))
            {
                if (reply.startsWith("501 5.5.4 Syntax: BDAT"))
                {
                    // the chunk cannot be skipped without a size: the session closes (with 421 if this was the
                    // error that reached the limit)
                    errorLimit();
                    check(unit == units.size() && closing, "session goes on after a bad BDAT");
                    return;
                }
                final long size = Long.parseLong(line.substring(5).trim().split(" ", 2)[0]);
                if (position + size > input.length)
                {
                    check(false, "BDAT answered before its chunk arrived: " + reply);
                }
                chunks.write(input, position, (int)size);
                position += (int)size;
                if (reply.startsWith("250 2.0.0 ") && reply.contains(" octets received"))
                {
                    check(reply.startsWith("250 2.0.0 " + size + " octets"), "wrong chunk size: " + reply);
                    check(chunks.size() <= maxMessageSize, "chunk over the size limit accepted");
                }
                else
                {
                    if (reply.startsWith("250 "))
                    {
                        check(chunks.size() <= maxMessageSize, "message over the size limit accepted");
                        if (chunksTrusted)
                        {
                            queued(reply, chunks.toByteArray());
                        }
                    }
                    else if (reply.startsWith("552 5.3.4 Error: message file too big"))
                    {
                        check(!chunksTrusted || chunks.size() > maxMessageSize, "552 under the limit");
                    }
                    chunks.reset();
                    chunksTrusted = true;
                }
            }
            else
            {
                check(!QUEUED.matcher(reply.trim()).matches(), "queued without DATA/BDAT: " + printable(line));
                if (("RSET".equals(verb) || "EHLO".equals(verb) || "HELO".equals(verb) || "MAIL".equals(verb)) &&
                    code.startsWith("2"))
                {
                    chunks.reset();
                    chunksTrusted = true;
                }
                else if (chunks.size() > 0)
                {
                    // a command between chunks: the oracle does not model which ones end the transaction
                    chunksTrusted = false;
                }
                if ("221".equals(code))
                {
                    check("QUIT".equals(verb), "221 for " + printable(line));
                    check(unit == units.size() && closing, "session goes on after QUIT");
                    return;
                }
            }
            closed = errorLimit();
        }
        check(unit == units.size(), "more replies than commands");
        check(closed == closing, closed ? "421 sent but the session is not closing" : "closing without 421");
        check(queuedIds.size() == queued.size(), queued.size() + " queue files for " + queuedIds.size() + " x 250");
    }

    /** A 421 after the reply ends the session: it must be the last reply. */
    private boolean errorLimit()
    {
        if (unit < units.size() && units.get(unit).startsWith("421 "))
        {
            unit++;
            check(unit == units.size(), "replies after 421");
            return true;
        }
        return false;
    }

    /**
     * Reference DATA decoder (RFC 5321 4.5.2, mailgate's bare LF rules): only CR LF . CR LF after a CR LF-ended line
     * ends the data; a leading dot is removed; a bare LF ends a line (normalised to CR LF) but a "." after it does
     * not end the data; a bare CR is data.
     *
     * @return false when the input ended inside the data (then no more replies may exist).
     */
    private boolean data(final boolean dataLineHadCr) throws IOException
    {
        final ByteArrayOutputStream body = new ByteArrayOutputStream();
        boolean properStart = dataLineHadCr;
        boolean tooLong = false;
        boolean bareLf = false;
        while (true)
        {
            final int lf = indexOf(input, (byte)'\n', position);
            if (lf < 0)
            {
                check(unit == units.size(), "reply before the end of data");
                return false;
            }
            final boolean cr = lf > position && '\r' == input[lf - 1];
            int from = position;
            final int to = cr ? lf - 1 : lf;
            position = lf + 1;
            if (properStart && cr && to - from == 1 && '.' == input[from])
            {
                break;
            }
            if (from < to && '.' == input[from])
            {
                from++;
            }
            body.write(input, from, to - from);
            body.write('\r');
            body.write('\n');
            tooLong |= to - from > MAX_TEXT_LINE - 2;
            bareLf |= !cr;
            properStart = cr;
        }
        check(unit < units.size(), "no reply to the end of data");
        final String reply = units.get(unit++);
        final byte[] message = body.toByteArray();
        final boolean tooBig = message.length > maxMessageSize;
        final boolean refusedBareLf = bareLf && BareLfMode.REJECT == bareLfMode;
        if (reply.startsWith("250 "))
        {
            check(!tooBig && !refusedBareLf && !tooLong, "250 for a message that breaks a limit: " + reply);
            queued(reply, message);
        }
        else if (reply.startsWith("552 "))
        {
            check(tooBig, "552 for a message under the limit");
        }
        else if (reply.startsWith("550 "))
        {
            check(!tooBig && refusedBareLf, "550 without a bare LF");
        }
        else if (reply.startsWith("554 5.6.0"))
        {
            check(!tooBig && !refusedBareLf && tooLong, "554 without a long line");
        }
        else
        {
            check(reply.startsWith("4"), "unexpected end-of-data reply " + reply);
        }
        return true;
    }

    private void queued(final String reply, final byte[] message) throws IOException
    {
        final Matcher m = QUEUED.matcher(reply.trim());
        check(m.matches(), "not a queued reply: " + reply);
        final String id = m.group(1);
        check(queuedIds.add(id), "queue id twice: " + id);
        final Path file = queued.stream().filter((p) -> p.getFileName().toString().equals(id)).findFirst().orElse(null);
        check(null != file, "250 but no queue file " + id);
        check(SessionDriver.holdsMessage(file, message), "250 but the spool copy of " + id +
            " differs from the de-stuffed data (" + message.length + " octets expected, file " + Files.size(file) + ")");
        messagesChecked++;
    }

    private static int indexOf(final byte[] bytes, final byte b, final int from)
    {
        for (int i = from; i < bytes.length; i++)
        {
            if (b == bytes[i])
            {
                return i;
            }
        }
        return -1;
    }

    static String printable(final String text)
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(text.length(), 4000); i++)
        {
            final char c = text.charAt(i);
            sb.append(c >= 32 && c < 127 ? String.valueOf(c) : String.format("\\x%02x", (int)c));
        }
        return sb.toString();
    }

    private static void check(final boolean condition, final String message)
    {
        if (!condition)
        {
            throw new AssertionError(message);
        }
    }
}
