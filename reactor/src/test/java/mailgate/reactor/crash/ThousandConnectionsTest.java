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
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 1,000 connections open at once on a daemon with two event loops: every one is greeted, every one queues
 * a message and is told 221, the queue holds 1,000 files and the maillog 1,000 "result=queued" lines.
 * <p>
 * The clients move in lock step (all greet, all EHLO, all MAIL, ... all QUIT) so that all 1,000 sessions
 * are open and in the same phase at the same time, including 1,000 messages waiting for their fsync.
 */
class ThousandConnectionsTest
{
    private static final int CONNECTIONS = 1000;
    private static final int THREADS = 8;
    private static final int READ_TIMEOUT_MS = 30_000;
    private static final Pattern QUEUED = Pattern.compile("^250 2\\.0\\.0 Ok: queued as ([0-9A-F]{16})$");

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void thousandConcurrentConnectionsAllQueue(@TempDir final Path dir) throws Exception
    {
        final Path config = dir.resolve("smtpd.conf");
        Files.writeString(config, "smtpd.max-connections-per-client = 2000\n");
        final Path spool = dir.resolve("spool");
        final DaemonProcess daemon = DaemonProcess.start(spool, "--config", config.toString(), "--event-loops", "2");
        final ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        final List<SmtpTestClient> clients = new ArrayList<>(CONNECTIONS);
        final Map<String, String> queueIdToTestId = new ConcurrentHashMap<>();
        final Map<String, byte[]> contentByTestId = new ConcurrentHashMap<>();
        final ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
        try
        {
            final long started = System.nanoTime();
            // phase 1: open all connections (the backlog is 4096, so they all connect)
            for (int i = 0; i < CONNECTIONS; i++)
            {
                clients.add(SmtpTestClient.connect(daemon.port(), READ_TIMEOUT_MS));
            }
            // phase 2..: each thread drives its share of connections through each step before the next step
            final CyclicBarrier barrier = new CyclicBarrier(THREADS);
            final List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
            {
                final List<SmtpTestClient> mine = new ArrayList<>();
                for (int i = t; i < CONNECTIONS; i += THREADS)
                {
                    mine.add(clients.get(i));
                }
                final int thread = t;
                futures.add(pool.submit(() ->
                {
                    drive(thread, mine, barrier, queueIdToTestId, contentByTestId);
                    return null;
                }));
            }
            for (final Future<?> future : futures)
            {
                try
                {
                    future.get(READ_TIMEOUT_MS * 2L, TimeUnit.MILLISECONDS);
                }
                catch (final java.util.concurrent.ExecutionException ex)
                {
                    errors.add(String.valueOf(ex.getCause()));
                }
            }
            final long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertEquals(List.of(), List.copyOf(errors), () -> "client errors; daemon stderr:\n" + daemon.stderr());
            assertEquals(CONNECTIONS, queueIdToTestId.size(), "distinct queue ids in 250 replies");

            final Path queue = daemon.queueDir();
            final List<Path> files;
            try (Stream<Path> list = Files.list(queue))
            {
                files = list.toList();
            }
            assertEquals(CONNECTIONS, files.size(), "files in queue/");
            for (final Path file : files)
            {
                final QueueFile parsed = QueueFile.parse(file);
                final String testId = queueIdToTestId.get(parsed.name);
                assertTrue(null != testId, "queue/" + parsed.name + " was never acknowledged");
                assertTrue(Arrays.equals(contentByTestId.get(testId), parsed.content), "content of " + parsed.name);
            }

            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                .until(() -> countQueuedLines(daemon.maillog()) >= CONNECTIONS);
            assertEquals(CONNECTIONS, countQueuedLines(daemon.maillog()), "maillog lines with result=queued");

            // both loops served: the 12th hex digit of a queue id is the number of the loop that received it
            // (Spool.queueId: 11 digits of epoch ms, 1 of loop, 4 of sequence)
            final Map<Character, Integer> perLoop = new TreeMap<>();
            for (final String queueId : queueIdToTestId.keySet())
            {
                perLoop.merge(queueId.charAt(11), 1, Integer::sum);
            }
            final String summary = "ThousandConnectionsTest: " + CONNECTIONS + " concurrent connections, all greeted, " +
                "all queued (250) and 221 in " + elapsedMs + " ms; " + files.size() + " queue files; messages per " +
                "event loop (from queue ids) " + perLoop;
            System.out.println(summary);
            System.err.println(summary);
            assertEquals(2, perLoop.size(), "both event loops must have served connections: " + perLoop);
            assertTrue(perLoop.containsKey('0') && perLoop.containsKey('1'), "loops 0 and 1: " + perLoop);
        }
        finally
        {
            pool.shutdownNow();
            for (final SmtpTestClient client : clients)
            {
                client.close();
            }
            daemon.close();
        }
    }

    private static int countQueuedLines(final String maillog)
    {
        int count = 0;
        for (final String line : maillog.split("\n"))
        {
            if (line.contains("result=queued"))
            {
                count++;
            }
        }
        return count;
    }

    private static void drive(
        final int thread, final List<SmtpTestClient> clients, final CyclicBarrier barrier,
        final Map<String, String> queueIdToTestId, final Map<String, byte[]> contentByTestId) throws Exception
    {
        final Random random = new Random(thread);
        final int n = clients.size();
        final String[] testIds = new String[n];
        final byte[][] contents = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            testIds[i] = "c" + thread + "-" + i;
            contents[i] = CrashContent.randomContent(random, testIds[i], 200 + random.nextInt(4000));
            contentByTestId.put(testIds[i], contents[i]);
        }
        // every connection reads its greeting before any sends a command: 1,000 sessions open at once
        for (final SmtpTestClient client : clients)
        {
            check(client.readReply(), "220 ", "greeting");
        }
        barrier.await(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        step(clients, (i) -> "EHLO client" + thread + "-" + i + ".test", "250", barrier);
        step(clients, (i) -> "MAIL FROM:<sender" + i + "@thousand.test>", "250", barrier);
        step(clients, (i) -> "RCPT TO:<rcpt" + i + "@thousand.test>", "250", barrier);
        step(clients, (i) -> "DATA", "354", barrier);
        for (int i = 0; i < n; i++)
        {
            clients.get(i).write(SmtpTestClient.dotStuff(contents[i]));
        }
        for (int i = 0; i < n; i++)
        {
            final String reply = clients.get(i).readReply();
            final Matcher m = QUEUED.matcher(reply);
            if (!m.matches())
            {
                throw new IOException(testIds[i] + ": end of data: " + reply);
            }
            if (null != queueIdToTestId.put(m.group(1), testIds[i]))
            {
                throw new IOException("queue id " + m.group(1) + " given twice");
            }
        }
        barrier.await(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        step(clients, (i) -> "QUIT", "221", barrier);
        for (final SmtpTestClient client : clients)
        {
            if (null != client.readLine())
            {
                throw new IOException("connection not closed after 221");
            }
        }
    }

    private static void step(
        final List<SmtpTestClient> clients, final java.util.function.IntFunction<String> command, final String code,
        final CyclicBarrier barrier) throws Exception
    {
        for (int i = 0; i < clients.size(); i++)
        {
            clients.get(i).sendLine(command.apply(i));
        }
        for (int i = 0; i < clients.size(); i++)
        {
            check(clients.get(i).readReply(), code, command.apply(i));
        }
        barrier.await(READ_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    private static void check(final String reply, final String code, final String what) throws IOException
    {
        if (!reply.startsWith(code))
        {
            throw new IOException(what + " -> " + reply);
        }
    }
}
