package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.reactor.spool.SpoolVerifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * smtpd in a small heap and a small direct-memory budget: messages far larger than the heap, many at once, must
 * stream to the spool (250 and complete on disk), an oversized one gets 552, and running out of direct memory for
 * connection buffers must cost connections, not the daemon.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class MemoryLimitsTest
{
    private static final int MIB = 1024 * 1024;

    @TempDir
    Path tmp;

    @Test
    void messagesLargerThanTheHeapStreamToTheSpool() throws Exception
    {
        final int clients = Reliability.count(40, 200);
        final int messageMib = Reliability.count(2, 10);
        final int oversized = 4;
        final int heapMib = 32;
        try (DaemonProcess daemon = DaemonProcess.startWithJvmFlags(
            List.of("-Xms" + heapMib + "m", "-Xmx" + heapMib + "m", "-XX:MaxDirectMemorySize=16m"),
            tmp.resolve("spool"), "--event-loops", "2",
            "--set", "smtpd.message-size-limit=" + (messageMib + 1) * MIB))
        {
            final long pid = daemon.pid();
            final AtomicLong peakRssKib = new AtomicLong(rssKib(pid));
            final ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
            final ConcurrentLinkedQueue<String> queuedIds = new ConcurrentLinkedQueue<>();
            final AtomicLong tooBig = new AtomicLong();
            final AtomicLong tempFailed = new AtomicLong();
            final CountDownLatch done = new CountDownLatch(clients + oversized);
            final long started = System.nanoTime();
            for (int i = 0; i < clients + oversized; i++)
            {
                final boolean big = i >= clients;
                final long bodyBytes = big ? (messageMib + 2L) * MIB : (long)messageMib * MIB;
                final int id = i;
                final Thread t = new Thread(() ->
                {
                    try
                    {
                        final String reply = send(daemon.port(), id, bodyBytes);
                        if (big)
                        {
                            if (reply.startsWith("552 5.3.4"))
                            {
                                tooBig.incrementAndGet();
                            }
                            else
                            {
                                wrong.add("oversized message " + id + " got " + reply);
                            }
                        }
                        else if (reply.startsWith("250"))
                        {
                            queuedIds.add(queueId(reply));
                        }
                        else if (reply.startsWith("4"))
                        {
                            tempFailed.incrementAndGet();
                        }
                        else
                        {
                            wrong.add("message " + id + " got " + reply);
                        }
                    }
                    catch (final IOException | RuntimeException ex)
                    {
                        wrong.add("client " + id + ": " + ex);
                    }
                    finally
                    {
                        done.countDown();
                    }
                }, "big-" + i);
                t.setDaemon(true);
                t.start();
            }
            // meanwhile a small message is served, and the daemon's memory is sampled
            final long smallStarted = System.nanoTime();
            SmtpTestClient.check(
                SmtpTestClient.sendMessage(daemon.port(), "Subject: small\r\n\r\nwhile big ones stream\r\n"), "250");
            final long smallMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - smallStarted);
            while (!done.await(100, TimeUnit.MILLISECONDS))
            {
                peakRssKib.accumulateAndGet(rssKib(pid), Math::max);
                assertTrue(daemon.process().isAlive(), "smtpd died: " + daemon.stderr());
            }
            final long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertTrue(wrong.isEmpty(), "wrong outcomes: " + wrong);
            assertTrue(daemon.process().isAlive(), "smtpd died: " + daemon.stderr());
            assertEquals(oversized, tooBig.get(), "oversized messages refused with 552");
            assertTrue(queuedIds.size() >= clients / 2, "most big messages queued: " + queuedIds.size());
            for (final String id : queuedIds)
            {
                final Path file = daemon.queueDir().resolve(id);
                assertTrue(SpoolVerifier.isComplete(file), "queued and complete: " + id);
                assertTrue(Files.size(file) > (long)messageMib * MIB, "whole message on disk: " + id);
            }
            assertEquals(queuedIds.size() + 1, count(daemon.queueDir()), "queue holds exactly the 250s");
            SmtpTestClient.check(
                SmtpTestClient.sendMessage(daemon.port(), "Subject: after\r\n\r\nstill serving\r\n"), "250");
            Reliability.figure(String.format("small heap: smtpd -Xmx%dm, MaxDirectMemorySize 16m; %d concurrent %d MiB " +
                "messages + %d oversized: %d x 250 (all complete in queue/), %d x 4xx, %d x 552 5.3.4; a small message " +
                "meanwhile took %d ms; peak RSS %d MiB; %d ms in all", heapMib, clients, messageMib, oversized, queuedIds.size(),
                tempFailed.get(), tooBig.get(), smallMs, peakRssKib.get() / 1024, millis));
        }
    }

    @Test
    void runningOutOfDirectMemoryCostsConnectionsNotTheDaemon() throws Exception
    {
        // 8k receive + 4k reply buffer per connection: 4 MiB holds a few hundred, not 500
        final int attempts = 500;
        try (DaemonProcess daemon = DaemonProcess.startWithJvmFlags(
            List.of("-XX:MaxDirectMemorySize=4m"), tmp.resolve("spool"), "--event-loops", "2"))
        {
            final long openStarted = System.nanoTime();
            final List<SmtpTestClient> greeted = new ArrayList<>();
            int refused = 0;
            int refusedWith421 = 0;
            for (int i = 0; i < attempts; i++)
            {
                final SmtpTestClient client = SmtpTestClient.connect(daemon.port(), 5_000);
                client.socket().setSoTimeout(2_000);
                String reply;
                try
                {
                    reply = client.readReplyOrNull();
                }
                catch (final SocketTimeoutException | java.net.SocketException ex)
                {
                    reply = null;
                }
                if (null != reply && reply.startsWith("220"))
                {
                    greeted.add(client);
                }
                else
                {
                    refused++;
                    refusedWith421 += null != reply && reply.startsWith("421 4.3.2") ? 1 : 0;
                    client.close();
                }
                assertTrue(daemon.process().isAlive(), "smtpd died after " + i + " connections: " + daemon.stderr());
            }
            assertTrue(refused > 0, "never ran out of direct memory: " + greeted.size() + " greeted");
            assertEquals(refused, refusedWith421, "every refused connection is told why (421 4.3.2)");
            // the ones that got in are served
            final SmtpTestClient first = greeted.get(0);
            SmtpTestClient.check(first.commandOrNull("EHLO client.test"), "250");
            SmtpTestClient.check(first.commandOrNull("NOOP"), "250");
            final int held = greeted.size();
            for (final SmtpTestClient client : greeted)
            {
                client.close();
            }
            final long openMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - openStarted);
            final long recoveryStarted = System.nanoTime();
            // buffers come back with the connections
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                .pollInterval(java.time.Duration.ofMillis(200)).ignoreExceptions()
                .until(() ->
                    SmtpTestClient.sendMessage(daemon.port(), "Subject: after\r\n\r\nbody\r\n").startsWith("250"));
            Reliability.figure(String.format("direct memory: smtpd with MaxDirectMemorySize 4m, %d connections opened: " +
                "%d greeted and served, %d refused with 421 4.3.2 (%d ms); daemon alive, after closing them a message got 250 " +
                "within %d ms", attempts, held, refused, openMs,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - recoveryStarted)));
        }
    }

    private static String send(final int port, final int id, final long bodyBytes) throws IOException
    {
        try (SmtpTestClient client = SmtpTestClient.connect(port, 60_000))
        {
            SmtpTestClient.check(client.readReplyOrNull(), "220");
            SmtpTestClient.check(client.commandOrNull("EHLO big" + id + ".test"), "250");
            SmtpTestClient.check(client.commandOrNull("MAIL FROM:<big" + id + "@example.test>"), "250");
            SmtpTestClient.check(client.commandOrNull("RCPT TO:<sink@example.test>"), "250");
            final String data = client.commandOrNull("DATA");
            if (!data.startsWith("354"))
            {
                return data;
            }
            // 64 KiB writes of 1,000-octet lines, the socket's own back pressure pacing them
            final byte[] line = new byte[1000];
            java.util.Arrays.fill(line, (byte)('a' + id % 26));
            line[998] = '\r';
            line[999] = '\n';
            final byte[] chunk = new byte[64 * 1000];
            for (int i = 0; i < 64; i++)
            {
                System.arraycopy(line, 0, chunk, i * 1000, 1000);
            }
            client.write(("Subject: big " + id + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            for (long sent = 0; sent < bodyBytes; sent += chunk.length)
            {
                client.write(chunk);
            }
            client.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
            return client.readReplyOrNull();
        }
    }

    private static String queueId(final String reply)
    {
        final java.util.regex.Matcher m = java.util.regex.Pattern.compile("queued as ([0-9A-F]{16})").matcher(reply);
        assertTrue(m.find(), "queue id in " + reply);
        return m.group(1);
    }

    private static long rssKib(final long pid)
    {
        try
        {
            for (final String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")))
            {
                if (line.startsWith("VmRSS:"))
                {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        }
        catch (final IOException ex)
        {
            // gone: the caller's liveness check says so
        }
        return 0;
    }

    private static int count(final Path dir) throws IOException
    {
        int n = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir))
        {
            for (final Path ignored : files)
            {
                n++;
            }
        }
        return n;
    }
}
