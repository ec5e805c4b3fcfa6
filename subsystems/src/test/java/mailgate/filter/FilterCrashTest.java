package mailgate.filter;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.router.SystemTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the content filter under load: no message the filter would refuse ever gets a 250 (smtpd answers
 * 451 while the filter is gone), the supervisor restarts it, smtpd re-proves it by itself and verdicts come
 * back; every acknowledged clean message is in queue/.
 */
@Timeout(90)
class FilterCrashTest
{
    private static final int THREADS = 6;

    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> clients = new ArrayList<>();
    private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<String> acknowledged = new ConcurrentLinkedQueue<>();
    private final LongAdder clean250 = new LongAdder();
    private final LongAdder forbidden554 = new LongAdder();
    private final LongAdder tempfails = new LongAdder();
    private final AtomicLong last451Ns = new AtomicLong();
    private final AtomicLong lastClean250Ns = new AtomicLong();

    @AfterEach
    void tearDown() throws InterruptedException
    {
        running.set(false);
        for (final Thread t : clients)
        {
            t.join(20_000);
        }
        if (null != daemon)
        {
            daemon.close();
        }
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    void filterKilledUnderLoadNeverYieldsAnUnfiltered250() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path rules = tmp.resolve("filter.rules");
        Files.writeString(rules, "body /FORBIDDEN/ REJECT forbidden content\n", StandardCharsets.US_ASCII);
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "filter.rules=" + rules,
            "--set", "smtpd.hard-error-limit=10000",
            "--event-loops", "2");
        final int port = daemon.port();
        final long smtpdPid = daemon.childPid("smtpd");
        final long filterPid = daemon.childPid("filter");
        assertTrue(smtpdPid > 0 && filterPid > 0);
        for (int i = 0; i < THREADS; i++)
        {
            final int id = i;
            final Thread t = new Thread(() -> clientLoop(port, id), "load-" + i);
            t.setDaemon(true);
            clients.add(t);
            t.start();
        }
        await("warm-up").atMost(Duration.ofSeconds(20)).until(() -> clean250.sum() >= 50 && forbidden554.sum() >= 50);
        assertEquals(0, tempfails.sum(), "no 451 before the crash");

        final long killNs = System.nanoTime();
        ProcessHandle.of(filterPid).orElseThrow().destroyForcibly();
        await("filter restarted").atMost(Duration.ofSeconds(20))
            .until(() -> daemon.childPid("filter") > 0 && daemon.childPid("filter") != filterPid);
        await("verdicts again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
            .until(() -> last451Ns.get() > killNs && lastClean250Ns.get() > last451Ns.get() &&
                System.nanoTime() - last451Ns.get() > 1_000_000_000L);
        final long forbiddenBefore = forbidden554.sum();
        await("forbidden content refused again").atMost(Duration.ofSeconds(10))
            .until(() -> forbidden554.sum() > forbiddenBefore);
        running.set(false);
        for (final Thread t : clients)
        {
            t.join(20_000);
        }
        assertTrue(violations.isEmpty(), "violations: " + violations);
        assertTrue(tempfails.sum() > 0, "451s while the filter was gone");
        assertEquals(smtpdPid, daemon.childPid("smtpd"), "smtpd was not restarted");
        for (final String id : acknowledged)
        {
            assertTrue(Files.exists(daemon.queueDir().resolve(id)), "acknowledged message " + id + " is queued");
        }
        System.out.printf("filter crash: %d clean 250, %d refused 554, %d tempfail 451, outage %d ms%n",
            clean250.sum(), forbidden554.sum(), tempfails.sum(), (last451Ns.get() - killNs) / 1_000_000);
    }

    private void clientLoop(final int port, final int id)
    {
        long n = 0;
        while (running.get())
        {
            try (SmtpTestClient client = SmtpTestClient.open(port, 15_000))
            {
                for (int i = 0; i < 20 && running.get(); i++, n++)
                {
                    final boolean forbidden = 0 == n % 2;
                    if (!client.command("MAIL FROM:<load" + id + "@sender.test>").startsWith("250") ||
                        !client.command("RCPT TO:<x@remote.test>").startsWith("250"))
                    {
                        client.command("RSET");
                        continue;
                    }
                    final String reply = client.data("Subject: " + id + "-" + n + "\r\n\r\n" +
                        (forbidden ? "this is FORBIDDEN text\r\n" : "all clean\r\n"));
                    if (reply.startsWith("250"))
                    {
                        if (forbidden)
                        {
                            violations.add("forbidden message got " + reply);
                        }
                        else
                        {
                            clean250.increment();
                            lastClean250Ns.set(System.nanoTime());
                            acknowledged.add(reply.substring(reply.lastIndexOf(' ') + 1));
                        }
                    }
                    else if (reply.startsWith("554"))
                    {
                        if (forbidden)
                        {
                            forbidden554.increment();
                        }
                        else
                        {
                            violations.add("clean message got " + reply);
                        }
                    }
                    else if (reply.startsWith("451"))
                    {
                        tempfails.increment();
                        last451Ns.set(System.nanoTime());
                    }
                    else
                    {
                        violations.add("unexpected " + reply);
                    }
                }
                client.quit();
            }
            catch (final java.io.IOException ex)
            {
                if (running.get())
                {
                    violations.add("client " + id + ": " + ex);
                }
            }
        }
    }
}
