/*
 * SUMMARY
 * Incremental SMTP reply parser (RFC 5321 section 4.2). Bytes are fed as they arrive; a reply may be split across
 * reads, several replies may arrive in one read, and a reply may span lines ("250-..." continued, "250 ..." last).
 * Lines end in CRLF; a bare LF is accepted too.
 *
 * LIMITS
 * Lines longer than MAX_LINE bytes are refused as a protocol error (RFC 5321 allows 512 for reply lines).
 */
package mailgate.bench;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Parses SMTP replies from bytes fed in arbitrary pieces; keeps the text lines only when asked (EHLO).
 */
public final class ReplyParser
{
    /** Returned by {@link #parse(ByteBuffer)} when the buffer ended before a reply was complete. */
    public static final int INCOMPLETE = 0;

    /** Longest reply line accepted, in bytes, without CRLF. */
    public static final int MAX_LINE = 4096;

    private final byte[] line = new byte[MAX_LINE];
    private final List<String> lines = new ArrayList<>();
    private int lineLength;
    private int replyCode = -1;
    private boolean captureLines;

    /**
     * Keep the text of each line of the following replies (after the code and separator), e.g. for EHLO keywords.
     *
     * @param capture whether to keep lines.
     */
    public void captureLines(final boolean capture)
    {
        captureLines = capture;
    }

    /**
     * The lines of the last complete reply, when capturing; valid until the next reply begins.
     *
     * @return texts after "250-" / "250 ".
     */
    public List<String> lines()
    {
        return lines;
    }

    /**
     * Consume bytes until one reply is complete or the buffer is exhausted.
     *
     * @param buffer bytes read from the server, between position and limit; position is advanced past what was used.
     * @return the reply code (200..599) when a reply was completed, else {@link #INCOMPLETE}.
     * @throws SmtpProtocolException when a line is not a valid reply line.
     */
    public int parse(final ByteBuffer buffer) throws SmtpProtocolException
    {
        while (buffer.hasRemaining())
        {
            final byte b = buffer.get();
            if ('\n' != b)
            {
                if (lineLength == MAX_LINE)
                {
                    throw new SmtpProtocolException("reply line longer than " + MAX_LINE + " bytes");
                }
                line[lineLength++] = b;
                continue;
            }

            int length = lineLength;
            if (length > 0 && '\r' == line[length - 1])
            {
                length--;
            }
            lineLength = 0;
            final int code = lineCode(length);
            final boolean last = 3 == length || '-' != line[3];
            if (replyCode < 0)
            {
                replyCode = code;
                lines.clear();
            }
            else if (code != replyCode)
            {
                throw new SmtpProtocolException("multi-line reply changes code from " + replyCode + " to " + code);
            }
            if (captureLines)
            {
                lines.add(length > 4 ? new String(line, 4, length - 4, StandardCharsets.US_ASCII) : "");
            }
            if (last)
            {
                replyCode = -1;
                return code;
            }
        }
        return INCOMPLETE;
    }

    /**
     * Forget a partly received reply (after the connection is closed).
     */
    public void reset()
    {
        lineLength = 0;
        replyCode = -1;
        lines.clear();
    }

    private int lineCode(final int length) throws SmtpProtocolException
    {
        if (length < 3 || !isDigit(line[0], '2', '5') || !isDigit(line[1], '0', '9') || !isDigit(line[2], '0', '9') ||
            (length > 3 && ' ' != line[3] && '-' != line[3]))
        {
            throw new SmtpProtocolException("not an SMTP reply line: '" + printable(length) + "'");
        }
        return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    }

    private static boolean isDigit(final byte b, final char min, final char max)
    {
        return b >= min && b <= max;
    }

    private String printable(final int length)
    {
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(length, 80); i++)
        {
            final int c = line[i] & 0xff;
            sb.append(c >= 0x20 && c < 0x7f ? (char)c : '?');
        }
        return sb.toString();
    }
}
