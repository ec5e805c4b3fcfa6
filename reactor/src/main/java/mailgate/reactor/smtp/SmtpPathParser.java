/*
 * SUMMARY
 * Parses the argument of MAIL FROM: and RCPT TO: in place: the path, then ESMTP parameters.
 *
 * DESCRIPTION
 * RFC 5321 4.1.2 path syntax with the usual leniency of deployed servers (a space after the colon, a
 * source route that is dropped). Local part: dot-atom or quoted string; domain: labels or an address
 * literal. UTF-8 is allowed in both (RFC 6531) and flagged, so the session can require SMTPUTF8.
 * Parameters are checked against the extensions mailgate offers: SIZE (RFC 1870), BODY (RFC 6152,
 * RFC 3030), SMTPUTF8 (RFC 6531), RET/ENVID/NOTIFY/ORCPT (RFC 3461).
 *
 * LIMITS
 * Local part 64 octets, domain 255, path 256 (RFC 5321 4.5.3.1).
 */
package mailgate.reactor.smtp;

import org.agrona.DirectBuffer;

/**
 * In-place parser for MAIL/RCPT arguments; one per session, no allocation.
 */
public final class SmtpPathParser
{
    /** BODY=7BIT or no BODY parameter. */
    public static final int BODY_7BIT = 0;
    /** BODY=8BITMIME. */
    public static final int BODY_8BITMIME = 1;
    /** BODY=BINARYMIME. */
    public static final int BODY_BINARYMIME = 2;

    private static final int MAX_LOCAL_PART = 64;
    private static final int MAX_DOMAIN = 255;
    private static final int MAX_PATH = 256;

    private int addressOffset;
    private int addressLength;
    private int paramsOffset;
    private int paramsLength;
    private boolean nonAscii;
    private long size;
    private int body;
    private boolean smtpUtf8;

    public int addressOffset()
    {
        return addressOffset;
    }

    public int addressLength()
    {
        return addressLength;
    }

    public int paramsOffset()
    {
        return paramsOffset;
    }

    public int paramsLength()
    {
        return paramsLength;
    }

    /**
     * @return true when the address has octets above 127.
     */
    public boolean nonAscii()
    {
        return nonAscii;
    }

    /**
     * @return SIZE parameter, or -1 when absent.
     */
    public long size()
    {
        return size;
    }

    /**
     * @return one of the BODY_ constants.
     */
    public int body()
    {
        return body;
    }

    public boolean smtpUtf8()
    {
        return smtpUtf8;
    }

    /**
     * Parse "FROM:&lt;path&gt; params".
     *
     * @param buffer the command line.
     * @param offset first byte after "MAIL ".
     * @param end    end of line (CR LF excluded).
     * @return null when good, else the reply to send.
     */
    public byte[] parseMail(final DirectBuffer buffer, final int offset, final int end)
    {
        final int start = skipKeyword(buffer, offset, end, "FROM:");
        if (start < 0)
        {
            return SmtpReplies.MAIL_SYNTAX;
        }
        final int after = parsePath(buffer, start, end, true);
        if (after < 0)
        {
            return -2 == after ? SmtpReplies.MAIL_SYNTAX : SmtpReplies.BAD_SENDER;
        }
        return parseParams(buffer, after, end, true);
    }

    /**
     * Parse "TO:&lt;path&gt; params".
     *
     * @param buffer the command line.
     * @param offset first byte after "RCPT ".
     * @param end    end of line (CR LF excluded).
     * @return null when good, else the reply to send.
     */
    public byte[] parseRcpt(final DirectBuffer buffer, final int offset, final int end)
    {
        final int start = skipKeyword(buffer, offset, end, "TO:");
        if (start < 0)
        {
            return SmtpReplies.RCPT_SYNTAX;
        }
        final int after = parsePath(buffer, start, end, false);
        if (after < 0)
        {
            return -2 == after ? SmtpReplies.RCPT_SYNTAX : SmtpReplies.BAD_RECIPIENT;
        }
        return parseParams(buffer, after, end, false);
    }

    private static int skipKeyword(final DirectBuffer buffer, final int offset, final int end, final String keyword)
    {
        final int length = keyword.length();
        if (end - offset < length)
        {
            return -1;
        }
        for (int i = 0; i < length; i++)
        {
            if (Ascii.upper(buffer.getByte(offset + i)) != keyword.charAt(i))
            {
                return -1;
            }
        }
        int i = offset + length;
        while (i < end && ' ' == buffer.getByte(i))
        {
            i++;
        }
        return i;
    }

    /**
     * @return index after the path, -1 for a bad address, -2 for a syntax error around it.
     */
    private int parsePath(final DirectBuffer buffer, final int start, final int end, final boolean isMail)
    {
        nonAscii = false;
        if (start >= end)
        {
            return -2;
        }
        int pathEnd;
        int i = start;
        if ('<' == buffer.getByte(i))
        {
            i++;
            pathEnd = findClosingBracket(buffer, i, end);
            if (pathEnd < 0)
            {
                return -2;
            }
        }
        else
        {
            pathEnd = i;
            while (pathEnd < end && ' ' != buffer.getByte(pathEnd))
            {
                pathEnd++;
            }
        }
        final int after = pathEnd < end && '>' == buffer.getByte(pathEnd) ? pathEnd + 1 : pathEnd;
        if (pathEnd - i > MAX_PATH)
        {
            return -1;
        }
        if (i < pathEnd && '@' == buffer.getByte(i))
        {
            // source route "@a,@b:" is obsolete (RFC 5321 C): accepted and dropped
            while (i < pathEnd && ':' != buffer.getByte(i))
            {
                final byte b = buffer.getByte(i);
                if (b <= ' ' || b >= 127 || '<' == b || '>' == b)
                {
                    return -1;
                }
                i++;
            }
            if (i == pathEnd)
            {
                return -1;
            }
            i++;
        }
        addressOffset = i;
        addressLength = pathEnd - i;
        if (0 == addressLength)
        {
            return isMail ? after : -1;
        }
        if (!isMailbox(buffer, i, pathEnd, isMail))
        {
            return -1;
        }
        return after;
    }

    private static int findClosingBracket(final DirectBuffer buffer, final int from, final int end)
    {
        boolean quoted = false;
        for (int i = from; i < end; i++)
        {
            final byte b = buffer.getByte(i);
            if (quoted)
            {
                if ('\\' == b)
                {
                    i++;
                }
                else if ('"' == b)
                {
                    quoted = false;
                }
            }
            else if ('"' == b)
            {
                quoted = true;
            }
            else if ('>' == b)
            {
                return i;
            }
        }
        return -1;
    }

    private boolean isMailbox(final DirectBuffer buffer, final int start, final int end, final boolean isMail)
    {
        int i = start;
        if ('"' == buffer.getByte(i))
        {
            i++;
            while (i < end && '"' != buffer.getByte(i))
            {
                final byte b = buffer.getByte(i);
                if ('\\' == b)
                {
                    i++;
                    if (i >= end || !isPrintable(buffer.getByte(i)))
                    {
                        return false;
                    }
                }
                else if (!isPrintable(b) && (b & 0x80) == 0)
                {
                    return false;
                }
                nonAscii |= (b & 0x80) != 0;
                i++;
            }
            if (i >= end)
            {
                return false;
            }
            i++;
            // found by fuzzing: the octet after the closing quote was skipped as if it were the '@', so
            // "a"xexample.test passed, and an 8-bit octet there slipped past the SMTPUTF8 and UTF-8 checks
            if (i < end && '@' != buffer.getByte(i))
            {
                return false;
            }
        }
        else
        {
            boolean dotAllowed = false;
            while (i < end && '@' != buffer.getByte(i))
            {
                final byte b = buffer.getByte(i);
                if ('.' == b)
                {
                    if (!dotAllowed)
                    {
                        return false;
                    }
                    dotAllowed = false;
                }
                else if (isAtext(b))
                {
                    nonAscii |= (b & 0x80) != 0;
                    dotAllowed = true;
                }
                else
                {
                    return false;
                }
                i++;
            }
            if (!dotAllowed)
            {
                return false;
            }
        }
        final int localLength = i - start;
        if (localLength > MAX_LOCAL_PART)
        {
            return false;
        }
        if (i == end)
        {
            // RFC 5321 4.5.1: RCPT TO:<Postmaster> without a domain must be accepted
            return !isMail && isPostmaster(buffer, start, end);
        }
        i++;
        return isDomain(buffer, i, end) && (nonAscii ? Utf8.isValid(buffer, start, end) : true);
    }

    private boolean isDomain(final DirectBuffer buffer, final int start, final int end)
    {
        final int length = end - start;
        if (length <= 0 || length > MAX_DOMAIN)
        {
            return false;
        }
        if ('[' == buffer.getByte(start))
        {
            if (']' != buffer.getByte(end - 1) || length < 3)
            {
                return false;
            }
            for (int i = start + 1; i < end - 1; i++)
            {
                final byte b = buffer.getByte(i);
                if (b <= ' ' || b >= 127 || '[' == b || ']' == b || '\\' == b)
                {
                    return false;
                }
            }
            return true;
        }
        int labelLength = 0;
        for (int i = start; i < end; i++)
        {
            final byte b = buffer.getByte(i);
            if ('.' == b)
            {
                if (0 == labelLength)
                {
                    return false;
                }
                labelLength = 0;
            }
            else if (Ascii.isAlphaNumeric(b) || '-' == b || (b & 0x80) != 0)
            {
                nonAscii |= (b & 0x80) != 0;
                labelLength++;
            }
            else
            {
                return false;
            }
        }
        return labelLength > 0 || end - start > 1;
    }

    private static boolean isPostmaster(final DirectBuffer buffer, final int start, final int end)
    {
        final String postmaster = "POSTMASTER";
        if (end - start != postmaster.length())
        {
            return false;
        }
        for (int i = 0; i < postmaster.length(); i++)
        {
            if (Ascii.upper(buffer.getByte(start + i)) != postmaster.charAt(i))
            {
                return false;
            }
        }
        return true;
    }

    private byte[] parseParams(final DirectBuffer buffer, final int start, final int end, final boolean isMail)
    {
        size = -1;
        body = BODY_7BIT;
        smtpUtf8 = false;
        int i = start;
        while (i < end && ' ' == buffer.getByte(i))
        {
            i++;
        }
        if (i == start && i < end)
        {
            return isMail ? SmtpReplies.MAIL_SYNTAX : SmtpReplies.RCPT_SYNTAX;
        }
        paramsOffset = i;
        int trimmedEnd = end;
        while (trimmedEnd > i && ' ' == buffer.getByte(trimmedEnd - 1))
        {
            trimmedEnd--;
        }
        paramsLength = trimmedEnd - i;
        int seen = 0;
        while (i < trimmedEnd)
        {
            final int keyStart = i;
            while (i < trimmedEnd && '=' != buffer.getByte(i) && ' ' != buffer.getByte(i))
            {
                i++;
            }
            final int keyEnd = i;
            int valueStart = -1;
            int valueEnd = -1;
            if (i < trimmedEnd && '=' == buffer.getByte(i))
            {
                valueStart = ++i;
                while (i < trimmedEnd && ' ' != buffer.getByte(i))
                {
                    final byte b = buffer.getByte(i);
                    if (b < 33 || '=' == b || 127 == b)
                    {
                        return SmtpReplies.BAD_PARAMETER;
                    }
                    i++;
                }
                valueEnd = i;
                if (valueEnd == valueStart)
                {
                    return SmtpReplies.BAD_PARAMETER;
                }
            }
            if (keyEnd == keyStart)
            {
                return SmtpReplies.BAD_PARAMETER;
            }
            final int param = isMail ? mailParam(buffer, keyStart, keyEnd) : rcptParam(buffer, keyStart, keyEnd);
            if (param < 0)
            {
                return SmtpReplies.UNKNOWN_PARAMETER;
            }
            if ((seen & (1 << param)) != 0)
            {
                return SmtpReplies.BAD_PARAMETER;
            }
            seen |= 1 << param;
            if (!checkValue(buffer, param, isMail, valueStart, valueEnd))
            {
                return SmtpReplies.BAD_PARAMETER;
            }
            while (i < trimmedEnd && ' ' == buffer.getByte(i))
            {
                i++;
            }
        }
        return null;
    }

    private static final String[] MAIL_PARAMS = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID"};
    private static final String[] RCPT_PARAMS = {"NOTIFY", "ORCPT"};
    private static final String[] BODY_VALUES = {"7BIT", "8BITMIME", "BINARYMIME"};
    private static final String[] RET_VALUES = {"FULL", "HDRS"};
    private static final String[] NOTIFY_VALUES = {"NEVER", "SUCCESS", "FAILURE", "DELAY"};

    private static int mailParam(final DirectBuffer buffer, final int start, final int end)
    {
        return Ascii.indexOfIgnoreCase(MAIL_PARAMS, buffer, start, end);
    }

    private static int rcptParam(final DirectBuffer buffer, final int start, final int end)
    {
        return Ascii.indexOfIgnoreCase(RCPT_PARAMS, buffer, start, end);
    }

    private boolean checkValue(
        final DirectBuffer buffer, final int param, final boolean isMail, final int start, final int end)
    {
        final boolean hasValue = start >= 0;
        if (isMail)
        {
            switch (param)
            {
                case 0:
                    if (!hasValue || end - start > 18)
                    {
                        return false;
                    }
                    long value = 0;
                    for (int i = start; i < end; i++)
                    {
                        final byte b = buffer.getByte(i);
                        if (b < '0' || b > '9')
                        {
                            return false;
                        }
                        value = value * 10 + (b - '0');
                    }
                    size = value;
                    return true;
                case 1:
                    if (!hasValue)
                    {
                        return false;
                    }
                    body = Ascii.indexOfIgnoreCase(BODY_VALUES, buffer, start, end);
                    return body >= 0;
                case 2:
                    smtpUtf8 = true;
                    return !hasValue;
                case 3:
                    return hasValue && Ascii.indexOfIgnoreCase(RET_VALUES, buffer, start, end) >= 0;
                default:
                    return hasValue && end - start <= 100 && isXtext(buffer, start, end);
            }
        }
        if (0 == param)
        {
            return hasValue && isNotify(buffer, start, end);
        }
        if (!hasValue)
        {
            return false;
        }
        int semicolon = -1;
        for (int i = start; i < end; i++)
        {
            if (';' == buffer.getByte(i))
            {
                semicolon = i;
                break;
            }
        }
        return semicolon > start && semicolon < end - 1 && end - start <= 500;
    }

    private static boolean isNotify(final DirectBuffer buffer, final int start, final int end)
    {
        int i = start;
        int seen = 0;
        while (i < end)
        {
            int j = i;
            while (j < end && ',' != buffer.getByte(j))
            {
                j++;
            }
            final int which = Ascii.indexOfIgnoreCase(NOTIFY_VALUES, buffer, i, j);
            if (which < 0 || (seen & (1 << which)) != 0)
            {
                return false;
            }
            seen |= 1 << which;
            i = j + 1;
            if (j < end && i == end)
            {
                return false;
            }
        }
        return 0 != seen && ((seen & 1) == 0 || seen == 1);
    }

    private static boolean isXtext(final DirectBuffer buffer, final int start, final int end)
    {
        for (int i = start; i < end; i++)
        {
            final byte b = buffer.getByte(i);
            if ('+' == b)
            {
                if (i + 2 >= end)
                {
                    return false;
                }
                if (!Ascii.isUpperHex(buffer.getByte(i + 1)) || !Ascii.isUpperHex(buffer.getByte(i + 2)))
                {
                    return false;
                }
                i += 2;
            }
            else if (b < 33 || b > 126 || '=' == b)
            {
                return false;
            }
        }
        return true;
    }

    private static boolean isPrintable(final byte b)
    {
        return b >= 32 && b < 127;
    }

    private static boolean isAtext(final byte b)
    {
        if ((b & 0x80) != 0 || Ascii.isAlphaNumeric(b))
        {
            return true;
        }
        switch (b)
        {
            case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
            case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
                return true;
            default:
                return false;
        }
    }
}
