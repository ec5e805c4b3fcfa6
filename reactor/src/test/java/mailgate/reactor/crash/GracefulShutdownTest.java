package mailgate.reactor.crash;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM is a graceful stop: the listener closes, idle sessions get 421 4.3.2 at once, a transaction in
 * flight may finish within smtpd.shutdown-grace (set to 3 s here), and the process exits 0.
 * <p>
 * One event loop, so that "the idle client got its 421" proves the loop has already marked every session
 * as draining, the mid-DATA one included, before that one sends the rest of its message.
 */
class GracefulShutdownTest
{
    private static final long GRACE_MS = 3_000;
    private static final int READ_TIMEOUT_MS = 15_000;
    private static final Pattern QUEUED = Pattern.compile("^250 2\\.0\\.0 Ok: queued as ([0-9A-F]{16})$");

    private static DaemonProcess startDaemon(final Path dir) throws IOException
    {
        final Path config = dir.resolve("smtpd.conf");
        Files.writeString(config, "smtpd.shutdown-grace = " + GRACE_MS + "ms\n");
        return DaemonProcess.start(dir.resolve("spool"), "--config", config.toString(), "--event-loops", "1");
    }

    private static SmtpTestClient openTransaction(final int port) throws IOException
    {
        final SmtpTestClient client = SmtpTestClient.connect(port, READ_TIMEOUT_MS);
        assertTrue(client.readReply().startsWith("220 "));
        client.expect("EHLO busy.test", "250");
        client.expect("MAIL FROM:<sender@shutdown.test>", "250");
        client.expect("RCPT TO:<rcpt@shutdown.test>", "250");
        client.expect("DATA", "354");
        return client;
    }

    private static CompletableFuture<Integer> sigterm(final DaemonProcess daemon)
    {
        return CompletableFuture.supplyAsync(() ->
        {
            try
            {
                return daemon.terminate(GRACE_MS + 20_000);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return -2;
            }
        });
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void transactionInFlightFinishesIdleClientGets421AndExitIsZero(@TempDir final Path dir) throws Exception
    {
        final DaemonProcess daemon = startDaemon(dir);
        try
        {
            final int port = daemon.port();
            final byte[] content = CrashContent.randomContent(new Random(42), "graceful-1", 20_000);
            final byte[] wire = SmtpTestClient.dotStuff(content);
            final int half = wire.length / 2;
            try (SmtpTestClient busy = openTransaction(port);
                SmtpTestClient idle = SmtpTestClient.connect(port, READ_TIMEOUT_MS))
            {
                assertTrue(idle.readReply().startsWith("220 "));
                idle.expect("EHLO idle.test", "250");
                busy.write(Arrays.copyOfRange(wire, 0, half));

                final long sigtermNs = System.nanoTime();
                final CompletableFuture<Integer> exit = sigterm(daemon);

                final String idleReply = idle.readReply();
                assertTrue(idleReply.startsWith("421 4.3.2 "), "idle client: " + idleReply);
                assertEquals(null, readLineOrNullOnReset(idle), "idle client's connection must close after 421");
                assertThrows(IOException.class, () -> SmtpTestClient.connect(port, 2_000).close(),
                    "the listener must be closed once shutdown has begun");

                // the mid-DATA client finishes its message after the shutdown began
                busy.write(Arrays.copyOfRange(wire, half, wire.length));
                final String reply = busy.readReply();
                final Matcher m = QUEUED.matcher(reply);
                assertTrue(m.matches(), "mid-DATA client at end of data: " + reply);
                final String after = readLineOrNullOnReset(busy);
                assertTrue(null == after || after.startsWith("421 4.3.2 "),
                    "after its 250 the client gets 421 or a closed connection, not: " + after);

                final int status = exit.get(GRACE_MS + 25_000, TimeUnit.MILLISECONDS);
                final long exitMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigtermNs);
                System.out.println("GracefulShutdownTest: exit status " + status + " " + exitMs +
                    " ms after SIGTERM (grace " + GRACE_MS + " ms); queued " + m.group(1));
                assertTrue(exitMs <= GRACE_MS, "exited " + exitMs + " ms after SIGTERM, grace is " + GRACE_MS);

                final QueueFile parsed = QueueFile.parse(daemon.queueDir().resolve(m.group(1)));
                assertTrue(Arrays.equals(content, parsed.content), "queued message differs from what was sent");
                assertTrue(daemon.maillog().contains("daemon stopped"), daemon.maillog());
                // last, so that a wrong status does not hide the checks above
                assertEquals(0, status, "exit status after SIGTERM (143 = the JVM's default 128+SIGTERM); stderr:\n" +
                    daemon.stderr());
            }
        }
        finally
        {
            daemon.close();
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void transactionStalledPastTheGraceIsCutOffWith421AndNotQueued(@TempDir final Path dir) throws Exception
    {
        final DaemonProcess daemon = startDaemon(dir);
        try
        {
            final int port = daemon.port();
            final byte[] wire = SmtpTestClient.dotStuff(
                CrashContent.randomContent(new Random(7), "graceful-2", 5_000));
            try (SmtpTestClient stalled = openTransaction(port))
            {
                stalled.write(Arrays.copyOfRange(wire, 0, wire.length / 2));
                final long sigtermNs = System.nanoTime();
                final CompletableFuture<Integer> exit = sigterm(daemon);

                final String reply = stalled.readReply();
                final long replyMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigtermNs);
                assertTrue(reply.startsWith("421 4.3.2 "), "stalled client: " + reply);
                assertTrue(replyMs >= GRACE_MS - 250,
                    "a transaction in flight must get the grace period, got 421 after " + replyMs + " ms");
                assertEquals(null, readLineOrNullOnReset(stalled), "connection must close after 421");

                final int status = exit.get(GRACE_MS + 25_000, TimeUnit.MILLISECONDS);
                final long exitMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sigtermNs);
                System.out.println("GracefulShutdownTest: stalled client cut off after " + replyMs +
                    " ms, exit status " + status + " after " + exitMs + " ms");
                assertTrue(exitMs <= GRACE_MS + 2_000, "exited " + exitMs + " ms after SIGTERM");
                try (Stream<Path> queue = Files.list(daemon.queueDir());
                    Stream<Path> tmp = Files.list(daemon.spool().resolve("tmp")))
                {
                    assertEquals(List.of(), queue.toList(), "a message cut off mid-DATA must not be queued");
                    assertEquals(List.of(), tmp.toList(), "its partial tmp/ file must be removed");
                }
                // last, so that a wrong status does not hide the checks above
                assertEquals(0, status, "exit status after SIGTERM (143 = the JVM's default 128+SIGTERM); stderr:\n" +
                    daemon.stderr());
            }
        }
        finally
        {
            daemon.close();
        }
    }

    private static String readLineOrNullOnReset(final SmtpTestClient client) throws IOException
    {
        try
        {
            return client.readLine();
        }
        catch (final SocketException ex)
        {
            return null; // reset: closed as well
        }
    }
}
