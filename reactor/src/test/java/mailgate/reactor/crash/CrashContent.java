package mailgate.reactor.crash;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * Test data for the crash tests: random but reproducible message content.
 */
final class CrashContent
{
    private CrashContent()
    {
    }

    /**
     * Random message content of about the given size: a few headers naming the test id, then text lines
     * (some start with dots, some are empty, none is longer than 998 octets), every line CRLF-terminated.
     *
     * @param random source.
     * @param testId unique id put in the X-Test-Id header.
     * @param size   target length in octets (at least 200).
     * @return the content.
     */
    static byte[] randomContent(final Random random, final String testId, final int size)
    {
        final ByteArrayOutputStream content = new ByteArrayOutputStream(size + 1024);
        final String headers = "Message-ID: <" + testId + "@crash.test>\r\n" +
            "X-Test-Id: " + testId + "\r\n" +
            "From: <sender@crash.test>\r\n" +
            "To: <rcpt@crash.test>\r\n" +
            "Subject: crash consistency " + testId + "\r\n" +
            "\r\n";
        content.writeBytes(headers.getBytes(StandardCharsets.US_ASCII));
        while (content.size() + 2 <= size)
        {
            final int room = size - content.size() - 2;
            final int kind = random.nextInt(12);
            if (0 == kind)
            {
                content.write('.');
            }
            else if (1 == kind && room >= 2)
            {
                content.write('.');
                content.write('.');
            }
            else if (2 != kind)
            {
                final int length = Math.min(room, random.nextInt(900));
                for (int i = 0; i < length; i++)
                {
                    final int c = 0 == i && 3 == kind ? '.' : 0 == random.nextInt(40) ? '\t' : 0x20 + random.nextInt(95);
                    content.write(c);
                }
            }
            content.write('\r');
            content.write('\n');
        }
        return content.toByteArray();
    }
}
