/*
 * SUMMARY
 * End-to-end tests of the load generator against Python's stdlib smtpd DebuggingServer (no PIPELINING, no
 * CHUNKING), started as a subprocess on a free loopback port. Skipped when python3 with smtpd (Python <= 3.11) is
 * not available.
 */
package mailgate.bench;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LoadGeneratorTest
{
    private static Process smtpd;
    private static int port;

    @BeforeAll
    static void startSmtpd() throws Exception
    {
        assumeTrue(pythonHasSmtpd(), "python3 with the smtpd module (Python <= 3.11) is needed");
        port = freePort();
        smtpd = new ProcessBuilder("python3", "-W", "ignore", "-m", "smtpd", "-n", "-c", "DebuggingServer",
            "127.0.0.1:" + port)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
        awaitPort(port, TimeUnit.SECONDS.toNanos(20));
    }

    @AfterAll
    static void stopSmtpd() throws InterruptedException
    {
        if (null != smtpd)
        {
            smtpd.destroy();
            if (!smtpd.waitFor(5, TimeUnit.SECONDS))
            {
                smtpd.destroyForcibly();
            }
        }
    }

    @Test
    void closedLoopAcceptsEveryMessage() throws IOException
    {
        final LoadResult result = run("--connections", "4", "--messages", "200", "--per-connection", "50");

        assertEquals(200, result.accepted());
        assertEquals(0, result.rejected4xx() + result.rejected5xx() + result.failed() + result.errors());
        // per message: MAIL, RCPT and final 250; per session: 220, EHLO 250 and 221
        assertEquals(200 * 3 + result.sessions() * 3, result.replies(2));
        assertEquals(200, result.replies(3));
        assertEquals(0, result.replies(4) + result.replies(5));
        assertTrue(result.sessions() >= 4, "at least 200 / 50 connections: " + result.sessions());
        assertEquals(result.sessions(), result.histogram(Phase.CONNECT).getTotalCount());
        assertEquals(200, result.histogram(Phase.MAIL).getTotalCount());
        assertEquals(200, result.histogram(Phase.RCPT).getTotalCount());
        assertEquals(200, result.histogram(Phase.DATA).getTotalCount());
        assertEquals(200, result.histogram(Phase.MESSAGE).getTotalCount());
        assertEquals(200L * 1024, result.acceptedBytes());
        assertFalse(result.usedPipelining(), "smtpd does not advertise PIPELINING");
        assertTrue(result.messagesPerSecond() > 0);
        assertTrue(result.megabytesPerSecond() > 0);
    }

    @Test
    void pipeliningOffAndSeveralRecipientsAndBdatFallback() throws IOException
    {
        final LoadResult result = run("--connections", "3", "--messages", "60", "--per-connection", "7",
            "--pipelining", "off", "--recipients", "3", "--bdat", "on", "--size", "5000");

        assertEquals(60, result.accepted());
        assertEquals(0, result.errors());
        assertEquals(60 * 3, result.histogram(Phase.RCPT).getTotalCount());
        assertEquals(60 * 5 + result.sessions() * 3, result.replies(2));
        assertFalse(result.usedChunking(), "smtpd does not advertise CHUNKING: DATA is used");
        assertTrue(result.sessions() >= 9, "at least ceil(60 / 7) connections: " + result.sessions());
    }

    @Test
    void openLoopAtFixedRate() throws IOException
    {
        final LoadResult result = run("--connections", "4", "--messages", "50", "--rate", "200");

        assertEquals(50, result.accepted());
        // 50 messages at 200/s are scheduled over 245 ms
        assertTrue(result.measuredSeconds() >= 0.2, "measured " + result.measuredSeconds());
        assertEquals(50, result.histogram(Phase.MESSAGE).getTotalCount());
    }

    @Test
    void emlDirectoryRoundRobin(@TempDir final Path dir) throws IOException
    {
        Files.writeString(dir.resolve("a.eml"), "From: a@example.test\nSubject: a\n\n.leading dot\nbody\n");
        Files.writeString(dir.resolve("b.eml"), "From: b@example.test\r\nSubject: b\r\n\r\nno final newline");
        Files.writeString(dir.resolve("ignored.txt"), "not an eml");

        final LoadResult result = run("--connections", "2", "--messages", "10", "--eml-dir", dir.toString());

        assertEquals(10, result.accepted());
        assertEquals(0, result.errors());
    }

    @Test
    void reportHasPercentilePlots(@TempDir final Path dir) throws IOException
    {
        final Path reportDir = dir.resolve("report");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final int code = LoadGenerator.execute(new String[]{"--target", "127.0.0.1:" + port, "--connections", "4",
            "--messages", "100", "--per-connection", "50", "--report", reportDir.toString(), "--json", "--quiet"},
            new PrintStream(out, true, StandardCharsets.UTF_8), quietStream());

        assertEquals(LoadGenerator.EXIT_OK, code);
        final String json = out.toString(StandardCharsets.UTF_8).trim();
        assertTrue(json.startsWith("{") && json.endsWith("}"), json);
        assertTrue(json.contains("\"accepted\":100"), json);
        assertTrue(json.contains("\"p99.9\":"), json);

        final Path index = reportDir.resolve("index.html");
        assertTrue(Files.isRegularFile(index));
        final String html = Files.readString(index);
        assertTrue(html.contains("<svg"), "inline SVG");
        assertTrue(html.contains("<polyline") || html.contains("<path"), "a plotted line");
        for (final String label : new String[]{"90%", "99%", "99.9%", "99.99%", "99.999%"})
        {
            assertTrue(html.contains(">" + label + "<"), "percentile label " + label);
        }
        for (final Phase phase : Phase.values())
        {
            assertTrue(html.contains(phase.label()), "phase " + phase.label());
        }
        assertFalse(html.contains("<script"), "no scripts");
    }

    @Test
    void exitCodeOneWhenNothingIsAccepted() throws IOException
    {
        final int closedPort = freePort();
        final int code = LoadGenerator.execute(new String[]{"--target", "127.0.0.1:" + closedPort,
            "--connections", "2", "--messages", "5", "--quiet"}, quietStream(), quietStream());

        assertEquals(LoadGenerator.EXIT_NOTHING_ACCEPTED, code);
    }

    @Test
    void exitCodeTwoOnBadFlags()
    {
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int code = LoadGenerator.execute(new String[]{"--connections", "many"}, quietStream(),
            new PrintStream(err, true, StandardCharsets.UTF_8));

        assertEquals(LoadGenerator.EXIT_USAGE, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--connections must be an integer, got 'many'"),
            err.toString(StandardCharsets.UTF_8));
    }

    private static LoadResult run(final String... flags) throws IOException
    {
        final String[] args = new String[flags.length + 3];
        args[0] = "--target";
        args[1] = "127.0.0.1:" + port;
        args[2] = "--quiet";
        System.arraycopy(flags, 0, args, 3, flags.length);
        return LoadGenerator.run(LoadOptions.parse(args), quietStream());
    }

    static PrintStream quietStream()
    {
        return new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    }

    static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }

    private static boolean pythonHasSmtpd()
    {
        try
        {
            final Process p = new ProcessBuilder("python3", "-W", "ignore", "-c", "import smtpd")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
            return p.waitFor(30, TimeUnit.SECONDS) && 0 == p.exitValue();
        }
        catch (final IOException ex)
        {
            return false;
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static void awaitPort(final int port, final long timeoutNs) throws Exception
    {
        final long deadline = System.nanoTime() + timeoutNs;
        while (true)
        {
            try (Socket socket = new Socket())
            {
                socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
                return;
            }
            catch (final IOException ex)
            {
                if (!smtpd.isAlive())
                {
                    throw new IllegalStateException("python smtpd exited with " + smtpd.exitValue());
                }
                if (System.nanoTime() - deadline > 0)
                {
                    throw new IllegalStateException("python smtpd did not listen on port " + port + " in time", ex);
                }
                Thread.sleep(20);
            }
        }
    }
}
