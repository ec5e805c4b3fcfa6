package mailgate.reactor.crash;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The spool promise under kill -9: a 250 means the message is durable in queue/ exactly as sent, and a
 * crash never leaves a partial file in queue/.
 * <p>
 * Each round starts a real daemon, lets 16 concurrent clients send messages of random size (200 B to 64 KiB,
 * with dot-stuffed lines), kills the daemon with SIGKILL at a random moment mid-load, checks the queue
 * against what the clients saw, then restarts the daemon on the same spool and port and checks it comes
 * back clean (tmp/ emptied) and accepts mail.
 */
class CrashConsistencyTest
{
    private static final int ROUNDS = Math.max(10, Integer.getInteger("crash.rounds", 10));
    private static final int SENDERS = 16;
    private static final int READ_TIMEOUT_MS = 10_000;
    private static final Pattern QUEUED = Pattern.compile("^250 2\\.0\\.0 Ok: queued as ([0-9A-F]{16})$");

    /** One message as the client sent it. */
    private static final class Sent
    {
        final String testId;
        final byte[] content;
        volatile String queueId;

        Sent(final String testId, final byte[] content)
        {
            this.testId = testId;
            this.content = content;
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void acknowledgedMessagesSurviveKill9AndNoQueueFileIsPartial(@TempDir final Path dir) throws Exception
    {
        final long seed = Long.getLong("crash.seed", System.nanoTime());
        final Random random = new Random(seed);
        int totalAcked = 0;
        int totalExtra = 0;
        int totalSent = 0;
        int totalTmpLeftovers = 0;
        final List<String> problems = new ArrayList<>();
        final long started = System.nanoTime();
        for (int round = 0; round < ROUNDS; round++)
        {
            final Path spool = dir.resolve("round-" + round).resolve("spool");
            final RoundResult result = runRound(round, spool, random.nextLong(), 100 + random.nextInt(501), problems);
            totalAcked += result.acked;
            totalExtra += result.extra;
            totalSent += result.sent;
            totalTmpLeftovers += result.tmpLeftovers;
            System.out.printf("round %d: killed after %d ms, %d messages started, %d acknowledged (250), " +
                "%d queued without 250, %d partial tmp/ files removed at restart%n",
                round, result.delayMs, result.sent, result.acked, result.extra, result.tmpLeftovers);
        }
        final String summary = String.format("CrashConsistencyTest (seed %d): %d rounds in %d ms, %d messages " +
            "started, %d acknowledged and all found intact, %d extra unacknowledged-but-queued, %d partial tmp/ " +
            "files cleaned at restart, %d problems (lost or partial)",
            seed, ROUNDS, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), totalSent, totalAcked,
            totalExtra, totalTmpLeftovers, problems.size());
        System.out.println(summary);
        System.err.println(summary);
        if (!problems.isEmpty())
        {
            fail(problems.size() + " problem(s), first ones:\n" +
                String.join("\n", problems.subList(0, Math.min(30, problems.size()))));
        }
        // the test must have tested something: load was running when each kill came
        assertTrue(totalAcked >= ROUNDS, "too few acknowledged messages to mean anything: " + totalAcked);
    }

    private record RoundResult(int delayMs, int sent, int acked, int extra, int tmpLeftovers)
    {
    }

    private RoundResult runRound(
        final int round, final Path spool, final long seed, final int delayMs, final List<String> problems)
        throws Exception
    {
        final DaemonProcess daemon = DaemonProcess.start(spool);
        final int port = daemon.port();
        final ConcurrentLinkedQueue<Sent> sent = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<String> senderErrors = new ConcurrentLinkedQueue<>();
        final AtomicBoolean killed = new AtomicBoolean();
        final AtomicInteger acks = new AtomicInteger();
        final ExecutorService senders = Executors.newFixedThreadPool(SENDERS);
        try
        {
            for (int t = 0; t < SENDERS; t++)
            {
                final int thread = t;
                final Random random = new Random(seed + t);
                senders.execute(() -> send(round, thread, random, port, sent, acks, killed, senderErrors));
            }
            // mid-load: wait until messages are being acknowledged, then crash at a random moment
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(5))
                .until(() -> acks.get() > 0 || !senderErrors.isEmpty());
            Thread.sleep(delayMs); // the random crash point, not a synchronisation
            killed.set(true);
            daemon.kill9();
            senders.shutdown();
            assertTrue(senders.awaitTermination(READ_TIMEOUT_MS * 2L, TimeUnit.MILLISECONDS), "senders did not stop");
        }
        finally
        {
            senders.shutdownNow();
            daemon.kill9();
        }
        for (final String error : senderErrors)
        {
            problems.add("round " + round + ": sender error before the kill: " + error + "\n" + daemon.stderr());
        }

        final Path queue = spool.resolve("queue");
        final Map<String, Sent> byTestId = new HashMap<>();
        final Map<String, Sent> byQueueId = new HashMap<>();
        for (final Sent s : sent)
        {
            byTestId.put(s.testId, s);
            if (null != s.queueId && null != byQueueId.put(s.queueId, s))
            {
                problems.add("round " + round + ": queue id " + s.queueId + " acknowledged twice");
            }
        }
        int acked = 0;
        for (final Sent s : sent)
        {
            if (null == s.queueId)
            {
                continue;
            }
            acked++;
            final Path file = queue.resolve(s.queueId);
            if (!Files.exists(file))
            {
                problems.add("round " + round + ": LOST: " + s.testId + " got 250 queued as " + s.queueId +
                    " but queue/" + s.queueId + " does not exist");
            }
        }
        int extra = 0;
        try (Stream<Path> files = Files.list(queue))
        {
            for (final Path file : files.toList())
            {
                final String name = file.getFileName().toString();
                final QueueFile parsed;
                try
                {
                    parsed = QueueFile.parse(file);
                }
                catch (final QueueFile.MalformedException ex)
                {
                    problems.add("round " + round + ": PARTIAL/CORRUPT queue file " +
                        (byQueueId.containsKey(name) ? "(acknowledged) " : "(not acknowledged) ") + ex.getMessage());
                    continue;
                }
                final String testId = parsed.contentHeader("X-Test-Id");
                final Sent s = null == testId ? null : byTestId.get(testId);
                if (null == s)
                {
                    problems.add("round " + round + ": queue/" + name + " holds a message no client sent (X-Test-Id " +
                        testId + ")");
                    continue;
                }
                if (!Arrays.equals(s.content, parsed.content))
                {
                    problems.add("round " + round + ": queue/" + name + " (" + testId + ") content differs from " +
                        "what the client sent: " + s.content.length + " bytes sent, " + parsed.content.length +
                        " bytes queued, first difference at " + Arrays.mismatch(s.content, parsed.content));
                }
                if (!parsed.receivedHeader.contains(" id " + name))
                {
                    problems.add("round " + round + ": queue/" + name + " Received header lacks the id: " +
                        parsed.receivedHeader);
                }
                if (null == s.queueId)
                {
                    extra++;
                }
                else if (!s.queueId.equals(name))
                {
                    problems.add("round " + round + ": " + testId + " acknowledged as " + s.queueId + " but found in " +
                        name);
                }
            }
        }

        // restart on the same spool and port: it must start clean and accept mail
        final Path tmp = spool.resolve("tmp");
        final int tmpLeftovers;
        try (Stream<Path> files = Files.list(tmp))
        {
            tmpLeftovers = (int)files.count();
        }
        final DaemonProcess restarted = DaemonProcess.startOnPort(port, spool);
        try
        {
            try (Stream<Path> files = Files.list(tmp))
            {
                assertEquals(List.of(), files.toList(), "round " + round + ": tmp/ not emptied at restart");
            }
            if (tmpLeftovers > 0)
            {
                await().atMost(Duration.ofSeconds(10)).until(() ->
                    restarted.maillog().contains("removed " + tmpLeftovers + " partial file(s) from tmp/"));
            }
            final String testId = "round" + round + "-after-restart";
            final byte[] content = CrashContent.randomContent(new Random(seed), testId, 1000);
            final String queueId;
            try (SmtpTestClient client = SmtpTestClient.connect(port, READ_TIMEOUT_MS))
            {
                assertTrue(client.readReply().startsWith("220 "));
                client.expect("EHLO restart.test", "250");
                client.expect("MAIL FROM:<sender@crash.test>", "250");
                client.expect("RCPT TO:<rcpt@crash.test>", "250");
                client.expect("DATA", "354");
                client.write(SmtpTestClient.dotStuff(content));
                final String reply = client.readReply();
                final Matcher m = QUEUED.matcher(reply);
                assertTrue(m.matches(), "round " + round + ": after restart: " + reply);
                queueId = m.group(1);
                client.expect("QUIT", "221");
            }
            final QueueFile parsed = QueueFile.parse(queue.resolve(queueId));
            assertTrue(Arrays.equals(content, parsed.content), "round " + round + ": message after restart differs");
        }
        finally
        {
            restarted.close();
        }
        return new RoundResult(delayMs, sent.size(), acked, extra, tmpLeftovers);
    }

    private static void send(
        final int round, final int thread, final Random random, final int port, final ConcurrentLinkedQueue<Sent> sent,
        final AtomicInteger acks, final AtomicBoolean killed, final ConcurrentLinkedQueue<String> errors)
    {
        int message = 0;
        while (!killed.get())
        {
            try (SmtpTestClient client = SmtpTestClient.connect(port, READ_TIMEOUT_MS))
            {
                final String greeting = client.readReply();
                if (!greeting.startsWith("220 "))
                {
                    throw new SmtpTestClient.UnexpectedReplyException("greeting: " + greeting);
                }
                client.expect("EHLO sender" + thread + ".crash.test", "250");
                final int perConnection = 1 + random.nextInt(20);
                for (int i = 0; i < perConnection && !killed.get(); i++)
                {
                    final String testId = "r" + round + "-t" + thread + "-m" + message++;
                    final byte[] content =
                        CrashContent.randomContent(random, testId, 200 + random.nextInt(65537 - 200));
                    final Sent s = new Sent(testId, content);
                    sent.add(s);
                    client.expect("MAIL FROM:<sender" + thread + "@crash.test>", "250");
                    client.expect("RCPT TO:<rcpt@crash.test>", "250");
                    client.expect("DATA", "354");
                    client.write(SmtpTestClient.dotStuff(content));
                    final String reply = client.readReply();
                    final Matcher m = QUEUED.matcher(reply);
                    if (!m.matches())
                    {
                        throw new SmtpTestClient.UnexpectedReplyException("end of data: " + reply);
                    }
                    s.queueId = m.group(1);
                    acks.incrementAndGet();
                }
                client.expect("QUIT", "221");
            }
            catch (final SmtpTestClient.UnexpectedReplyException ex)
            {
                // a complete reply can only come from a live daemon; kill -9 sends none
                errors.add("thread " + thread + ": " + ex.getMessage());
                return;
            }
            catch (final IOException ex)
            {
                if (!killed.get())
                {
                    errors.add("thread " + thread + ": " + ex);
                }
                return;
            }
        }
    }
}
