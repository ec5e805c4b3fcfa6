package mailgate.reactor.smtp;

import mailgate.reactor.policy.MessageAction;
import mailgate.reactor.policy.PolicyQuery;
import mailgate.reactor.policy.SmtpPolicy;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A content filter's verdicts on a finished message: headers added (size and checksum recomputed), quarantine,
 * discard - each with the spool outcome it promises.
 */
class MessageVerdictTest
{
    @TempDir
    Path tmp;

    /** Answers every message question with one verdict. */
    static final class VerdictPolicy implements SmtpPolicy
    {
        final MessageAction action;
        final UnsafeBuffer headers;

        VerdictPolicy(final MessageAction action, final String headers)
        {
            this.action = action;
            this.headers = new UnsafeBuffer(headers.getBytes(StandardCharsets.US_ASCII));
        }

        public void onConnect(final PolicyQuery query)
        {
            query.accept();
        }

        public void onMailFrom(final PolicyQuery query)
        {
            query.accept();
        }

        public void onRcptTo(final PolicyQuery query)
        {
            query.accept();
        }

        public void onMessage(final PolicyQuery query)
        {
            query.acceptMessage(action, headers, 0, headers.capacity());
        }
    }

    private String send(final SessionHarness harness)
    {
        harness.takeReplies();
        harness.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
        return harness.send("Subject: s\r\n\r\nbody\r\n.\r\n");
    }

    @Test
    void addedHeadersFollowTheReceivedHeader() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE),
            new VerdictPolicy(MessageAction.ADD_HEADERS, "X-Filter: scanned\r\nX-Score: 1\r\n")))
        {
            assertTrue(send(harness).startsWith("250 2.0.0 Ok: queued as "));
            final Path file = harness.queued().get(0);
            assertEquals("X-Filter: scanned\r\nX-Score: 1\r\nSubject: s\r\n\r\nbody\r\n", SessionHarness.messageOf(file));
            final byte[] all = Files.readAllBytes(file);
            final String text = new String(all, StandardCharsets.ISO_8859_1);
            final int start = text.indexOf("\n\n") + 2;
            final long size = Long.parseLong(text.replaceAll("(?s).*\nsize: (\\d+)\n.*", "$1"));
            assertEquals(all.length - start, size, "size field covers the added headers");
            final CRC32C crc = new CRC32C();
            crc.update(all, start, all.length - start);
            assertTrue(text.contains(String.format("\ncrc32c: %08x\n", (int)crc.getValue())), "checksum recomputed");
            assertEquals(0, harness.spool.tmpDir().toFile().list().length);
        }
    }

    @Test
    void quarantinedMessageGoesToQuarantineWith250() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE), new VerdictPolicy(MessageAction.QUARANTINE, "")))
        {
            final String reply = send(harness);
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued as "), reply);
            assertEquals(0, harness.queued().size());
            final String id = reply.substring("250 2.0.0 Ok: queued as ".length()).trim();
            assertTrue(Files.exists(harness.spool.quarantineDir().resolve(id)));
        }
    }

    @Test
    void discardedMessageGets250AndIsNotKept() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE), new VerdictPolicy(MessageAction.DISCARD, "")))
        {
            assertTrue(send(harness).startsWith("250 2.0.0 Ok: queued as "));
            assertEquals(0, harness.queued().size());
            assertEquals(0, harness.spool.quarantineDir().toFile().list().length);
            assertEquals(0, harness.spool.tmpDir().toFile().list().length);
            assertEquals("250 2.1.0 Ok\r\n", harness.send("MAIL FROM:<c@x.test>\r\n"), "session goes on");
        }
    }
}
