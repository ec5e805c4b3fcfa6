/*
 * SUMMARY
 * Unit tests of message generation: exact size, CRLF lines shorter than 998, dot-stuffing and the DATA terminator.
 */
package mailgate.bench;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MessageSourceTest
{
    @Test
    void generatedMessagesHaveTheRequestedSizeAndValidLines()
    {
        for (final int size : new int[]{1024, 333, 334, 335, 5000, 100_001})
        {
            final MessageSource source = MessageSource.generated(size, "a@example.test",
                new String[]{"b+1@example.test", "b+2@example.test"}, "loadgen.test");
            final String raw = message(source, 42, false);
            assertEquals(size, raw.length(), "size " + size);
            assertEquals(size, source.size(42));
            assertTrue(raw.startsWith("From: <a@example.test>\r\nTo: <b+1@example.test>,\r\n <b+2@example.test>\r\n"));
            assertTrue(raw.contains("Subject: mailgate load test 000000000042\r\n"));
            assertTrue(raw.contains("Message-ID: <000000000042."));
            assertTrue(raw.contains("\r\nDate: "));
            assertTrue(raw.contains("\r\n\r\n"), "header/body separator");
            assertTrue(raw.endsWith("\r\n"));
            for (final String line : raw.split("\r\n", -1))
            {
                assertTrue(line.length() < 998);
                assertTrue(line.indexOf('\n') < 0 && line.indexOf('\r') < 0, "no bare CR/LF");
                for (int i = 0; i < line.length(); i++)
                {
                    assertTrue(line.charAt(i) >= 0x20 && line.charAt(i) < 0x7f, "printable ASCII");
                }
            }

            final String data = message(source, 42, true);
            assertTrue(data.endsWith("\r\n.\r\n"));
            assertEquals(raw, unstuff(data));
        }
    }

    @Test
    void fillerExercisesDotStuffing()
    {
        final MessageSource source = MessageSource.generated(10_000, "a@x.test", new String[]{"b@x.test"}, "x.test");
        assertTrue(message(source, 1, false).contains("\r\n."));
        assertTrue(message(source, 1, true).contains("\r\n.."));
    }

    @Test
    void dotStuffAndCrlfNormalisation()
    {
        assertArrayEquals(ascii("..a\r\nb\r\n..\r\n.\r\n"), MessageSource.dotStuff(ascii(".a\r\nb\r\n.\r\n")));
        assertArrayEquals(ascii("x\r\n.\r\n"), MessageSource.dotStuff(ascii("x")));
        assertArrayEquals(ascii("a\r\nb\r\nc\r\n"), MessageSource.toCrlf(ascii("a\nb\rc")));
        assertArrayEquals(ascii("a\r\n\r\nb\r\n"), MessageSource.toCrlf(ascii("a\r\n\nb\r\n")));
    }

    private static String message(final MessageSource source, final long seq, final boolean dotStuffed)
    {
        final ByteBuffer scratch = ByteBuffer.allocate(source.scratchCapacity());
        final ByteBuffer[] out = new ByteBuffer[4];
        final int n = source.fill(seq, dotStuffed, scratch, out, 0);
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++)
        {
            final ByteBuffer b = out[i].duplicate();
            final byte[] bytes = new byte[b.remaining()];
            b.get(bytes);
            sb.append(new String(bytes, StandardCharsets.US_ASCII));
        }
        return sb.toString();
    }

    private static String unstuff(final String data)
    {
        final String body = data.substring(0, data.length() - 3);
        final StringBuilder sb = new StringBuilder();
        for (final String line : body.split("\r\n", -1))
        {
            sb.append(line.startsWith(".") ? line.substring(1) : line).append("\r\n");
        }
        return sb.substring(0, sb.length() - 2);
    }

    private static byte[] ascii(final String s)
    {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
