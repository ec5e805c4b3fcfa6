package mailgate.rate;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two smtpd processes on one host share one counter file: a limit of N messages per client holds at exactly N
 * across both under concurrent load (no lost increments), and the refusals carry the policy's reply.
 */
class RateSmtpdTest
{
    private static final int LIMIT = 150;
    private static final int PER_DAEMON = 120;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void limitHoldsExactlyAcrossTwoSmtpdProcesses() throws Exception
    {
        final Path rateDir = Files.createDirectory(tmp.resolve("rate"));
        Files.setPosixFilePermissions(rateDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        final Path policy = tmp.resolve("rate.policy");
        Files.writeString(policy, "messages client-ip " + LIMIT + "/1m 450 4.7.1 Too many messages from you\n",
            StandardCharsets.US_ASCII);
        final Path config = tmp.resolve("rate.conf");
        Files.writeString(config, "rate.node-id = 0\nrate.map-file = " + rateDir.resolve("counters") +
            "\nrate.max-entries = 1000\nrate.policy-file = " + policy + "\n", StandardCharsets.US_ASCII);
        try (DaemonProcess first = DaemonProcess.start(tmp.resolve("a/spool"), "--set", "rate.config=" + config,
                "--set", "smtpd.hard-error-limit=1000");
            DaemonProcess second = DaemonProcess.start(tmp.resolve("b/spool"), "--set", "rate.config=" + config,
                "--set", "smtpd.hard-error-limit=1000"))
        {
            final AtomicInteger accepted = new AtomicInteger();
            final AtomicInteger refused = new AtomicInteger();
            final List<String> other = java.util.Collections.synchronizedList(new ArrayList<>());
            final ExecutorService pool = Executors.newFixedThreadPool(4);
            final List<Future<?>> runs = new ArrayList<>();
            for (final DaemonProcess daemon : List.of(first, second, first, second))
            {
                runs.add(pool.submit(() ->
                {
                    try (SmtpTestClient client = SmtpTestClient.open(daemon.port(), 10_000))
                    {
                        for (int i = 0; i < PER_DAEMON / 2; i++)
                        {
                            final String reply = client.command("MAIL FROM:<a@example.test>");
                            if (reply.startsWith("250"))
                            {
                                accepted.incrementAndGet();
                                client.command("RSET");
                            }
                            else if (reply.equals("450 4.7.1 Too many messages from you"))
                            {
                                refused.incrementAndGet();
                            }
                            else
                            {
                                other.add(reply);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (final Future<?> run : runs)
            {
                run.get(90, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertTrue(other.isEmpty(), "unexpected replies " + other);
            assertEquals(LIMIT, accepted.get(), "exactly the limit got through across both processes");
            assertEquals(2 * PER_DAEMON - LIMIT, refused.get());
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void protocolErrorsAndRejectedRecipientsAreCountedFromTheSession() throws Exception
    {
        final Path rateDir = Files.createDirectory(tmp.resolve("rate2"));
        Files.setPosixFilePermissions(rateDir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        final Path policy = tmp.resolve("rate2.policy");
        Files.writeString(policy, "protocol-errors client-ip 5/1m 421 4.7.0 Too many errors from you\n",
            StandardCharsets.US_ASCII);
        final Path config = tmp.resolve("rate2.conf");
        Files.writeString(config, "rate.node-id = 0\nrate.map-file = " + rateDir.resolve("counters") +
            "\nrate.max-entries = 1000\nrate.policy-file = " + policy + "\n", StandardCharsets.US_ASCII);
        try (DaemonProcess daemon = DaemonProcess.start(tmp.resolve("c/spool"), "--set", "rate.config=" + config))
        {
            try (SmtpTestClient client = SmtpTestClient.open(daemon.port(), 10_000))
            {
                assertEquals("250 2.1.0 Ok", client.command("MAIL FROM:<a@example.test>"), "below the limit");
                client.command("RSET");
                for (int i = 0; i < 6; i++)
                {
                    assertTrue(client.command("BOGUS").startsWith("500 5.5.1"));
                }
                assertEquals("421 4.7.0 Too many errors from you", client.command("MAIL FROM:<a@example.test>"),
                    "protocol errors counted by the session reach the rate tracker");
            }
        }
    }
}
