package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile clients against a real smtpd process (command-timeout 2s): each ends with the right reply or a
 * disconnect, and a normal client is served right after (and during).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DaemonAbuseTest
{
    @TempDir
    static Path dir;
    private static DaemonProcess daemon;

    @BeforeAll
    static void start() throws IOException
    {
        daemon = DaemonProcess.start(dir.resolve("spool"), "--event-loops", "2", "--set", "smtpd.command-timeout=2s",
            "--set", "smtpd.hostname=mx.test");
    }

    @AfterAll
    static void stop() throws InterruptedException
    {
        daemon.close();
    }

    @AfterEach
    void othersAreStillServed() throws IOException
    {
        assertTrue(daemon.process().isAlive(), daemon.stderr());
        final long start = System.nanoTime();
        assertTrue(SmtpTestClient.sendMessage(daemon.port(), "Subject: ok\r\n\r\nhello\r\n").startsWith("250 2.0.0 Ok: queued"));
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2), "normal client slower than 2 s");
    }

    /**
     * The brief's promise: a client sending one byte every 200 ms with command-timeout 2s gets 421 4.4.2 within
     * about the command timeout (the timeout runs from one complete command to the next).
     */
    @Test
    void slowlorisIsCutOffWhileTrickling() throws Exception
    {
        slowloris(30, true);
    }

    private void slowloris(final int trickleSeconds, final boolean expectCutOffWhileTrickling) throws Exception
    {
        try (SmtpTestClient slow = SmtpTestClient.connect(daemon.port(), (trickleSeconds + 30) * 1000))
        {
            SmtpTestClient.check(slow.readReplyOrNull(), "220");
            final long start = System.nanoTime();
            final CompletableFuture<String> reply = CompletableFuture.supplyAsync(() ->
            {
                try
                {
                    return slow.readLineOrNull();
                }
                catch (final IOException ex)
                {
                    return "exception " + ex;
                }
            });
            // 300 octets without LF, then more: the line goes over 512 octets and is discarded to its end
            final byte[] trickle = ("NOOP " + "x".repeat(2000)).getBytes(StandardCharsets.US_ASCII);
            int sent = 0;
            int servedMeanwhile = 0;
            while (!reply.isDone() && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(trickleSeconds))
            {
                try
                {
                    slow.write(new byte[]{trickle[sent++]});
                }
                catch (final IOException ex)
                {
                    break;
                }
                if (0 == sent % 10)
                {
                    // meanwhile other clients are served promptly
                    final long t = System.nanoTime();
                    assertTrue(SmtpTestClient.sendMessage(daemon.port(), "Subject: x\r\n\r\ny\r\n").startsWith("250"));
                    assertTrue(System.nanoTime() - t < TimeUnit.SECONDS.toNanos(2));
                    servedMeanwhile++;
                }
                Thread.sleep(200);
            }
            final boolean cutWhileTrickling = reply.isDone();
            final double trickled = (System.nanoTime() - start) / 1e9;
            final String line = reply.get(10, TimeUnit.SECONDS);
            final double seconds = (System.nanoTime() - start) / 1e9;
            Reliability.figure(String.format("slowloris (1 byte / 200 ms, command-timeout 2s): %d bytes over %.1f s, " +
                "cut off while trickling: %s; '%s' %.1f s after the first byte; %d other clients served meanwhile " +
                "(each < 2 s)", sent, trickled, cutWhileTrickling, line, seconds, servedMeanwhile));
            assertEquals("421 4.4.2 mx.test Error: timeout exceeded", line, "after " + sent + " bytes");
            assertTrue(slow.closedByServer());
            if (expectCutOffWhileTrickling)
            {
                assertTrue(cutWhileTrickling && seconds < 4, "still connected after " + seconds + " s");
            }
            else
            {
                assertTrue(seconds - trickled < 4, "not cut off within ~2 s of the last byte");
            }
        }
    }

    @Test
    void silentClientIsTimedOutAfterTheCommandTimeout() throws Exception
    {
        try (SmtpTestClient silent = SmtpTestClient.connect(daemon.port(), 10_000))
        {
            SmtpTestClient.check(silent.readReplyOrNull(), "220");
            silent.write("NOOP");
            assertEquals("421 4.4.2 mx.test Error: timeout exceeded", silent.readLineOrNull());
            assertTrue(silent.closedByServer());
        }
    }

    @Test
    void pipeliningFloodIsAnsweredCompletely() throws Exception
    {
        final int n = Reliability.count(10_000, 100_000);
        try (SmtpTestClient client = SmtpTestClient.connect(daemon.port(), 30_000))
        {
            SmtpTestClient.check(client.readReplyOrNull(), "220");
            SmtpTestClient.check(client.commandOrNull("EHLO flood.test"), "250");
            final byte[] flood = "NOOP\r\n".repeat(n).getBytes(StandardCharsets.US_ASCII);
            // write from another thread: the server may stop reading while its replies are not read
            final CompletableFuture<Void> writer = CompletableFuture.runAsync(() ->
            {
                try
                {
                    client.write(flood);
                }
                catch (final IOException ex)
                {
                    throw new java.io.UncheckedIOException(ex);
                }
            });
            int ok = 0;
            for (int i = 0; i < n; i++)
            {
                final String line = client.readLineOrNull();
                if ("250 2.0.0 Ok".equals(line))
                {
                    ok++;
                }
                else
                {
                    throw new AssertionError("reply " + i + ": " + line);
                }
            }
            writer.get(30, TimeUnit.SECONDS);
            assertEquals("221 2.0.0 Bye", client.commandOrNull("QUIT"));
            Reliability.figure("pipelining flood: " + n + " NOOPs in one write, " + ok + " x 250 answered, then QUIT 221");
        }
    }

    @Test
    void commandFloodAfterErrorsHitsTheHardErrorLimit() throws Exception
    {
        final int n = Reliability.count(1_000, 20_000);
        try (SmtpTestClient client = SmtpTestClient.connect(daemon.port(), 10_000))
        {
            SmtpTestClient.check(client.readReplyOrNull(), "220");
            try
            {
                client.write("BOGUS\r\n".repeat(n));
            }
            catch (final IOException ignore)
            {
                // the server may close before it read everything
            }
            int errors = 0;
            String line;
            String last = null;
            while (null != (line = client.readLineOrNull()))
            {
                if (line.startsWith("500 "))
                {
                    errors++;
                }
                last = line;
            }
            Reliability.figure("command flood: " + n + " bad commands in one write: " + errors +
                " x 500 then '" + last + "' and close");
            assertEquals(20, errors, "the 20th error reply is followed by 421 (smtpd.hard-error-limit = 20)");
            assertEquals("421 4.7.0 mx.test Error: too many errors", last);
        }
    }

    @Test
    void hugeHeaderBlockIsTakenOrRefusedCleanly() throws Exception
    {
        // 900 KB of headers in well-formed lines; then one 900 KB header line (over the 1000-octet limit)
        final StringBuilder headers = new StringBuilder();
        int i = 0;
        while (headers.length() < 900 * 1024)
        {
            headers.append("X-Filler-").append(i++).append(": ").append("v".repeat(80)).append("\r\n");
        }
        final String reply = SmtpTestClient.sendMessage(daemon.port(), headers + "Subject: big\r\n\r\nbody\r\n");
        assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), reply);
        final String oneLine = SmtpTestClient.sendMessage(daemon.port(),
            "X-Huge: " + "h".repeat(900 * 1024) + "\r\n\r\nbody\r\n");
        assertEquals("554 5.6.0 Error: text line longer than 1000 octets", oneLine);
        Reliability.figure("huge headers: 900 KB block of " + i + " header lines -> " + reply.substring(0, 20) +
            "...; one 900 KB header line -> " + oneLine);
    }

    @Test
    void nulBytesAndInvalidUtf8InCommandsAreRefused() throws Exception
    {
        try (SmtpTestClient client = SmtpTestClient.connect(daemon.port(), 10_000))
        {
            SmtpTestClient.check(client.readReplyOrNull(), "220");
            final String nul = client.commandOrNull("NO\0OP");
            final String nulHelo = client.commandOrNull("EHLO a\0b.test");
            assertEquals("500 5.5.2 Error: bad character in command", nul);
            assertEquals("500 5.5.2 Error: bad character in command", nulHelo);
            SmtpTestClient.check(client.commandOrNull("EHLO client.test"), "250");
            client.write(new byte[]{'N', (byte) 0xC3, (byte) 0x28, 'P', '\r', '\n'});
            final String badVerb = client.readReplyOrNull();
            client.write("MAIL FROM:<".getBytes(StandardCharsets.US_ASCII));
            client.write(new byte[]{(byte) 0xFF, (byte) 0xFE, '@', 'x', '.', 't', 'e', 's', 't', '>', ' ', 'S', 'M', 'T', 'P',
                'U', 'T', 'F', '8', '\r', '\n'});
            final String badMail = client.readReplyOrNull();
            client.write(new byte[]{'M', 'A', 'I', 'L', ' ', 'F', 'R', 'O', 'M', ':', '<', (byte) 0xE2, (byte) 0x82, '@',
                'x', '.', 't', 'e', 's', 't', '>', '\r', '\n'});
            final String truncatedUtf8 = client.readReplyOrNull();
            Reliability.figure("NUL / invalid UTF-8 in commands: NUL -> '" + nul + "', bad verb -> '" + badVerb +
                "', MAIL with 0xFF 0xFE -> '" + badMail + "', MAIL with truncated UTF-8 -> '" + truncatedUtf8 + "'");
            assertTrue(badVerb.startsWith("500 "), badVerb);
            assertTrue(badMail.startsWith("5"), badMail);
            assertTrue(truncatedUtf8.startsWith("5"), truncatedUtf8);
            assertEquals("250 2.0.0 Ok", client.commandOrNull("NOOP"));
        }
    }
}
