package mailgate.handoff;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * End to end against a real Postfix (Debian package) run as a private instance on a loopback port by
 * benchmarks/peers/postfix.sh (messages land on its hold queue). Skipped where Postfix is not installed or
 * the test does not run as root (the script needs both). Once in plain text (Postfix offers no STARTTLS, the
 * default opportunistic mode goes on without), once with PEER_TLS=may (smtpd_tls_security_level=may) and
 * handoff.tls = required with the certificate verified against the one postfix.sh made.
 */
class HandoffPostfixTest
{
    @TempDir
    Path dir;

    @Test
    void postfixReceivesIdenticalMessages() throws Exception
    {
        final String maillog = deliverFive("none");
        assertEquals(5, HandoffDeliveryTestSupport.count(maillog, ", tls=none, status=sent"), maillog);
    }

    @Test
    void postfixOverStartTlsWithVerifiedCertificate() throws Exception
    {
        final String maillog = deliverFive("may");
        assertEquals(5, HandoffDeliveryTestSupport.count(maillog, ", tls=TLSv1.3/TLS_"), maillog);
    }

    /**
     * @param peerTls PEER_TLS for postfix.sh: none or may.
     * @return the handoff's maillog.
     */
    private String deliverFive(final String peerTls) throws Exception
    {
        final Path script = Path.of("..", "benchmarks", "peers", "postfix.sh").toAbsolutePath().normalize();
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/postfix")) && Files.exists(script), "postfix not installed");
        assumeTrue("root".equals(System.getProperty("user.name")), "postfix.sh needs root");
        final int port = FakeMta.freePort();
        // not under @TempDir: that is 0700 and Postfix's own users must reach their queue directory
        final Path work = Files.createTempDirectory("mailgate-handoff-postfix");
        Files.setPosixFilePermissions(work, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        assertEquals(0, run(List.of("bash", script.toString(), "start", Integer.toString(port), work.toString()),
            peerTls), "postfix.sh start");
        final boolean tls = "may".equals(peerTls);
        try
        {
            final HandoffFixture f = new HandoffFixture(dir);
            final List<String> ids = new ArrayList<>();
            final List<byte[]> messages = new ArrayList<>();
            for (int i = 0; i < 5; i++)
            {
                final String id = HandoffFixture.nextId();
                final String body = "Message-Id: <" + id + "@client.example>\r\n" +
                    "Date: Wed, 25 Nov 2026 13:28:50 +0000\r\nTo: b@example.com\r\n\r\n" +
                    HandoffFixture.trickyBody();
                // HandoffFixture.message ends its header block with an empty line; put ours before it
                final byte[] m = messageWithHeaders(id, body);
                f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
                ids.add(id);
                messages.add(m);
            }
            final String[] settings = tls ?
                new String[]{"handoff.workers = 2", "handoff.tls = required", "handoff.tls-verify = true",
                    "handoff.tls-trust = " + work.resolve("etc").resolve("tls-cert.pem")} :
                new String[]{"handoff.workers = 2"};
            try (Handoff h = f.start("smtp://127.0.0.1:" + port, settings))
            {
                await().atMost(Duration.ofSeconds(60)).until(f::queueEmpty);
            }
            final String maillog = f.maillog();
            assertEquals(5, HandoffDeliveryTestSupport.count(maillog, "status=sent"), maillog);
            for (int i = 0; i < ids.size(); i++)
            {
                final Matcher m = Pattern.compile(ids.get(i) + ": .*status=sent \\(250 2\\.0\\.0 Ok: queued as (\\w+)\\)")
                    .matcher(maillog);
                assertTrue(m.find(), maillog);
                final String stored = postcat(work, m.group(1));
                // drop Postfix's own Received header (first header and its continuation lines)
                final String[] lines = stored.split("\n", -1);
                assertTrue(lines[0].startsWith("Received: from "), stored);
                if (tls)
                {
                    // smtpd_tls_received_header: Postfix itself says the message came over TLS 1.3
                    assertTrue(stored.substring(0, stored.indexOf("\nReceived: from client.example"))
                        .contains("(using TLSv1.3 with cipher "), stored);
                }
                int start = 1;
                while (start < lines.length && (lines[start].startsWith("\t") || lines[start].startsWith(" ")))
                {
                    start++;
                }
                final String rest = String.join("\n", java.util.Arrays.copyOfRange(lines, start, lines.length));
                final String expected = new String(messages.get(i), StandardCharsets.UTF_8).replace("\r\n", "\n");
                assertEquals(expected, rest, "message " + ids.get(i) + " as Postfix stored it");
            }
            return maillog;
        }
        finally
        {
            run(List.of("bash", script.toString(), "stop", Integer.toString(port), work.toString()), peerTls);
            run(List.of("rm", "-rf", work.toString()), peerTls);
        }
    }

    private static byte[] messageWithHeaders(final String id, final String headersAndBody)
    {
        final String text = "Received: from client.example ([192.0.2.7])\r\n" +
            "\tby mx.example (mailgate) with ESMTP id " + id + "\r\n" +
            "\tfor <b@example.com>;\r\n" +
            "\tWed, 25 Nov 2026 13:28:56 GMT\r\n" +
            "Subject: test " + id + "\r\n" +
            "From: a@example.com\r\n" + headersAndBody;
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String postcat(final Path work, final String queueId) throws IOException, InterruptedException
    {
        final Process p = new ProcessBuilder("postcat", "-c", work.resolve("etc").toString(), "-h", "-b", "-q",
            queueId).redirectErrorStream(true).start();
        final byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), new String(out, StandardCharsets.UTF_8));
        return new String(out, StandardCharsets.UTF_8);
    }

    private static int run(final List<String> cmd, final String peerTls) throws IOException, InterruptedException
    {
        final ProcessBuilder builder = new ProcessBuilder(cmd).inheritIO();
        builder.environment().put("PEER_TLS", peerTls);
        final Process p = builder.start();
        if (!p.waitFor(60, TimeUnit.SECONDS))
        {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }
}
