package mailgate.handoff;

import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * End to end into a real Dovecot: Python's smtplib → mailgate smtpd (its own JVM) → spool → handoff over
 * LMTP → Dovecot's lmtp → the user's Maildir. Skipped only where Dovecot is not installed or the test does not
 * run as root (DovecotLmtp says which).
 */
class HandoffDovecotTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void clientToSmtpdToDovecotStoresTheSameBytesAndRejectsAnUnknownUser() throws Exception
    {
        final String why = DovecotLmtp.unavailable();
        assumeTrue(null == why, why);
        final Path spool = dir.resolve("spool");
        try (DovecotLmtp dovecot = DovecotLmtp.start(List.of("good", "other"));
             DaemonProcess smtpd = DaemonProcess.start(spool, "--set", "smtpd.hostname=mx.example.test"))
        {
            final List<byte[]> sent = new ArrayList<>();
            final List<String> ids = new ArrayList<>();
            final List<List<String>> rcpts = List.of(
                List.of("good@example.com"),
                List.of("good@example.com", "other@example.com"),
                List.of("good@example.com", "nosuchuser@example.com"));
            for (int i = 0; i < rcpts.size(); i++)
            {
                final byte[] message = message(i);
                sent.add(message);
                ids.add(sendWithPython(smtpd.port(), rcpts.get(i), message));
            }
            final ByteArrayOutputStream maillogBytes = new ByteArrayOutputStream();
            final ByteArrayOutputStream diagBytes = new ByteArrayOutputStream();
            final Path conf = dir.resolve("handoff.conf");
            Files.writeString(conf, "handoff.next-hop = " + dovecot.uri() + "\nhandoff.workers = 2\n" +
                "handoff.poll-interval = 50ms\nhandoff.timeout = 10s\n");
            try (Handoff h = HandoffMain.run(new String[]{"--spool", spool.toString(), "--set",
                "smtpd.hostname=handoff.test", "--handoff-config", conf.toString()},
                new PrintStream(maillogBytes, true, StandardCharsets.UTF_8),
                new PrintStream(diagBytes, true, StandardCharsets.UTF_8)))
            {
                await().atMost(DEADLINE).until(() -> isEmpty(smtpd.queueDir()));
            }
            final String maillog = maillogBytes.toString(StandardCharsets.UTF_8);
            final String context = maillog + diagBytes.toString(StandardCharsets.UTF_8) + dovecot.logs();

            // good has messages 0, 1, 2 once each; other has message 1
            final List<Path> good = dovecot.newMail("good");
            final List<Path> other = dovecot.newMail("other");
            assertEquals(3, good.size(), context);
            assertEquals(1, other.size(), context);
            for (int i = 0; i < 3; i++)
            {
                assertStoredExactly(find(good, i), sent.get(i), ids.get(i), context);
            }
            assertStoredExactly(find(other, 1), sent.get(1), ids.get(1), context);

            // per-recipient LMTP outcome: the unknown user is rejected at RCPT, the message goes to failed/
            final String failedId = ids.get(2);
            assertTrue(maillog.contains(failedId + ": to=<good@example.com>, relay=127.0.0.1:" + dovecot.port),
                context);
            assertTrue(maillog.contains(", tls=none, status=sent (250 2.0.0 <good@example.com> "), context);
            assertTrue(maillog.contains(failedId + ": to=<nosuchuser@example.com>") &&
                maillog.contains("status=bounced (550 5.1.1 <nosuchuser@example.com> User doesn't exist"), context);
            final Path failedDir = spool.resolve("failed");
            final String reason = Files.readString(failedDir.resolve(failedId + ".reason"));
            assertTrue(reason.contains("<nosuchuser@example.com>: 550 5.1.1") &&
                reason.contains("<good@example.com>: delivered"), reason);
            assertTrue(Files.exists(failedDir.resolve(failedId)));
            assertFalse(Files.exists(failedDir.resolve(ids.get(0))));
            assertEquals(4, HandoffDeliveryTestSupport.count(maillog, "status=sent"), context);
        }
    }

    /** A message as a client writes it: headers, an empty line, a body that needs dot-stuffing and is 8-bit. */
    private static byte[] message(final int n)
    {
        return ("From: Sender <a@example.com>\r\n" +
            "To: good@example.com\r\n" +
            "Subject: handoff to dovecot " + n + "\r\n" +
            "Message-ID: <dovecot-" + n + "@client.example>\r\n" +
            "Date: Wed, 25 Nov 2026 13:28:50 +0000\r\n" +
            "MIME-Version: 1.0\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Transfer-Encoding: 8bit\r\n" +
            "\r\n" + HandoffFixture.trickyBody()).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The stored file is: Dovecot's trace headers, mailgate's Received header (naming the queue id), then the
     * client's message byte for byte.
     */
    private static void assertStoredExactly(final byte[] stored, final byte[] sent, final String queueId,
        final String context)
    {
        assertTrue(stored.length > sent.length, context);
        final byte[] tail = Arrays.copyOfRange(stored, stored.length - sent.length, stored.length);
        assertArrayEquals(sent, tail, "the client's message, byte for byte, at the end of the Maildir file");
        final String prefix = new String(stored, 0, stored.length - sent.length, StandardCharsets.UTF_8);
        assertTrue(prefix.endsWith("\r\n"), prefix);
        for (final String line : prefix.substring(0, prefix.length() - 2).split("\r\n", -1))
        {
            assertTrue(line.startsWith("\t") || line.startsWith(" ") || line.startsWith("Return-Path: ") ||
                line.startsWith("Delivered-To: ") || line.startsWith("Received: "), "only trace headers added: " +
                prefix);
        }
        assertTrue(prefix.contains("by mx.example.test (mailgate) with ESMTP id " + queueId), prefix);
        assertTrue(prefix.indexOf("with LMTP") < prefix.indexOf("(mailgate)"), "Dovecot's trace first: " + prefix);
    }

    private static byte[] find(final List<Path> files, final int n) throws IOException
    {
        byte[] found = null;
        for (final Path file : files)
        {
            final byte[] b = Files.readAllBytes(file);
            if (new String(b, StandardCharsets.UTF_8).contains("Subject: handoff to dovecot " + n + "\r\n"))
            {
                assertTrue(null == found, "message " + n + " stored twice");
                found = b;
            }
        }
        assertTrue(null != found, "message " + n + " not stored");
        return found;
    }

    /**
     * Python's smtplib sends the message (it dot-stuffs; the bytes already end in CR LF, so they go unchanged).
     *
     * @return the queue id from smtpd's "250 ... queued as ID".
     */
    private String sendWithPython(final int port, final List<String> rcpts, final byte[] message) throws Exception
    {
        final Path file = Files.createTempFile(dir, "message", ".eml");
        Files.write(file, message);
        final String script = String.join("\n",
            "import smtplib, sys",
            "s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30)",
            "s.ehlo('client.example')",
            "code, resp = s.mail('a@example.com', ['BODY=8BITMIME'])",
            "assert code == 250, (code, resp)",
            "for r in sys.argv[2].split(','):",
            "    code, resp = s.rcpt(r)",
            "    assert code == 250, (code, resp)",
            "code, resp = s.data(open(sys.argv[3], 'rb').read())",
            "print(code, resp.decode())",
            "s.quit()");
        final Process p = new ProcessBuilder("python3", "-c", script, Integer.toString(port), String.join(",", rcpts),
            file.toString()).redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 smtplib did not finish");
        assertEquals(0, p.exitValue(), out);
        final Matcher m = Pattern.compile("^250 .*queued as ([0-9A-F]{16})", Pattern.MULTILINE).matcher(out);
        assertTrue(m.find(), out);
        return m.group(1);
    }

    private static boolean isEmpty(final Path dir) throws IOException
    {
        try (var files = Files.list(dir))
        {
            return files.findAny().isEmpty();
        }
    }
}
