package mailgate.reactor.smtp;

import mailgate.reactor.policy.AcceptAllPolicy;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolVerifier;
import mailgate.reactor.spool.SpoolWriteBuffers;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A spool file gathered in a loop's write buffer (written in 64 KiB pieces, a small one in a single write with its
 * size and checksum patched in memory) is byte for byte the file that writing through gives: message sizes on both
 * sides of every buffer boundary, input cut at random, an envelope too large for a buffer, and both sync modes.
 */
class SpoolWriteBuffersTest
{
    private static final int LINE = 78;

    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = Spool.SyncMode.class, names = {"FSYNC", "SYNCFS"})
    void messagesAroundEveryBufferBoundaryArriveIntact(final Spool.SyncMode mode) throws Exception
    {
        final Random random = new Random(42);
        final SmtpSettings settings = new SmtpSettings(
            "mx.test", 4 << 20, 2000, 20, 300_000, 300_000, 0, 10_000, BareLfMode.NORMALIZE);
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"), settings, new AcceptAllPolicy(), mode))
        {
            harness.takeReplies();
            harness.send("EHLO c\r\n");
            final int b = SpoolWriteBuffers.BUFFER_LENGTH;
            final int[] sizes = {0, 1, 1000, b - 700, b - 400, b - 300, b, b + 1, 2 * b - 350, 2 * b, 3 * b + 17};
            for (final int size : sizes)
            {
                for (final int recipients : new int[]{1, 500})
                {
                    harness.clearQueue();
                    final String body = body(random, size);
                    final StringBuilder envelope = new StringBuilder("MAIL FROM:<a@x.test>\r\n");
                    for (int r = 0; r < recipients; r++)
                    {
                        // 500 recipients of ~140 octets: an envelope larger than a write buffer
                        envelope.append("RCPT TO:<r").append(r).append('@').append("d".repeat(60)).append('.')
                            .append("e".repeat(60)).append(".test>\r\n");
                    }
                    harness.send(envelope + "DATA\r\n");
                    final String stuffed = (body.startsWith(".") ? "." : "") + body.replace("\r\n.", "\r\n..");
                    final byte[] data = (stuffed + ".\r\n").getBytes(StandardCharsets.ISO_8859_1);
                    final StringBuilder replies = new StringBuilder();
                    int from = 0;
                    while (from < data.length)
                    {
                        final int to = Math.min(data.length, from + 1 + random.nextInt(20_000));
                        replies.append(harness.send(java.util.Arrays.copyOfRange(data, from, to)));
                        from = to;
                    }
                    assertTrue(replies.toString().startsWith("250 2.0.0 Ok: queued as "),
                        size + " octets, " + recipients + " recipients: " + replies);
                    final List<Path> queued = harness.queued();
                    assertEquals(1, queued.size());
                    assertTrue(SpoolVerifier.isComplete(queued.get(0)), "size and checksum fields match the file");
                    assertEquals(body, SessionHarness.messageOf(queued.get(0)), size + " octets");
                    assertEquals(recipients, SessionHarness.envelopeOf(queued.get(0)).split("\nrcpt: ", -1).length - 1);
                }
            }
        }
    }

    private static String body(final Random random, final int size)
    {
        final StringBuilder sb = new StringBuilder(size + LINE);
        while (sb.length() < size)
        {
            final int length = Math.min(LINE, size - sb.length());
            if (length < 2)
            {
                sb.append("\r\n", 0, 2);
                break;
            }
            for (int i = 0; i < length - 2; i++)
            {
                sb.append((char)(' ' + 1 + random.nextInt(94)));
            }
            sb.append("\r\n");
        }
        return sb.toString();
    }
}
