/*
 * SUMMARY
 * Unit tests of the incremental SMTP reply parser: split replies, several replies in one buffer, multi-line replies.
 */
package mailgate.bench;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ReplyParserTest
{
    @Test
    void severalRepliesInOneBuffer() throws SmtpProtocolException
    {
        final ReplyParser parser = new ReplyParser();
        final ByteBuffer buffer = ascii("250 ok\r\n550 5.1.1 no\r\n354 go\r\n");

        assertEquals(250, parser.parse(buffer));
        assertEquals(550, parser.parse(buffer));
        assertEquals(354, parser.parse(buffer));
        assertEquals(ReplyParser.INCOMPLETE, parser.parse(buffer));
    }

    @Test
    void replySplitAtEveryByte() throws SmtpProtocolException
    {
        final ReplyParser parser = new ReplyParser();
        parser.captureLines(true);
        final byte[] bytes = "250-mx.test hello\r\n250-PIPELINING\r\n250 CHUNKING\r\n221 bye\r\n"
            .getBytes(StandardCharsets.US_ASCII);
        int replies = 0;
        int last = 0;
        for (final byte b : bytes)
        {
            final int code = parser.parse(ByteBuffer.wrap(new byte[]{b}));
            if (ReplyParser.INCOMPLETE != code)
            {
                replies++;
                last = code;
                if (1 == replies)
                {
                    assertEquals(250, code);
                    assertEquals(List.of("mx.test hello", "PIPELINING", "CHUNKING"), parser.lines());
                }
            }
        }
        assertEquals(2, replies);
        assertEquals(221, last);
    }

    @Test
    void bareCodeAndBareLf() throws SmtpProtocolException
    {
        final ReplyParser parser = new ReplyParser();
        assertEquals(250, parser.parse(ascii("250\n")));
        assertEquals(220, parser.parse(ascii("220-a\n220 b\r\n")));
    }

    @Test
    void malformedLinesAreRefused()
    {
        assertThrows(SmtpProtocolException.class, () -> new ReplyParser().parse(ascii("hello\r\n")));
        assertThrows(SmtpProtocolException.class, () -> new ReplyParser().parse(ascii("25\r\n")));
        assertThrows(SmtpProtocolException.class, () -> new ReplyParser().parse(ascii("250x\r\n")));
        assertThrows(SmtpProtocolException.class, () -> new ReplyParser().parse(ascii("250-a\r\n251 b\r\n")));
        assertThrows(SmtpProtocolException.class,
            () -> new ReplyParser().parse(ascii("250 " + "x".repeat(ReplyParser.MAX_LINE) + "\r\n")));
    }

    private static ByteBuffer ascii(final String s)
    {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }
}
