package mailgate.router;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

import static mailgate.router.RouterSystemTest.assertReply;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the router under load: smtpd answers 451 while it is gone (never 250 for a recipient the router
 * would refuse), the supervisor restarts it, smtpd re-proves the new one by itself. Then table reloads under
 * load: not one request lost or delayed into a timeout.
 */
@Timeout(90)
class RouterCrashTest
{
    private static final int THREADS = 8;
    private static final int READ_TIMEOUT_MS = 15_000;

    enum Phase
    {
        WARMUP, OUTAGE, AFTER, RELOAD, DONE
    }

    /** What the clients saw in one phase. */
    static final class Stats
    {
        final LongAdder mail250 = new LongAdder();
        final LongAdder mail451 = new LongAdder();
        final LongAdder nobody550 = new LongAdder();
        final LongAdder nobody451 = new LongAdder();
        final LongAdder alice250 = new LongAdder();
        final LongAdder alice451 = new LongAdder();
        final LongAdder queued = new LongAdder();
        final LongAdder timeouts = new LongAdder();
        final LongAdder ioErrors = new LongAdder();
        final AtomicLong maxRcptMs = new AtomicLong();

        long replies451()
        {
            return mail451.sum() + nobody451.sum() + alice451.sum();
        }

        public String toString()
        {
            return "MAIL 250/451=" + mail250 + "/" + mail451 + ", nobody 550/451=" + nobody550 + "/" + nobody451 +
                ", alice 250/451=" + alice250 + "/" + alice451 + ", queued=" + queued + ", timeouts=" + timeouts +
                ", io errors=" + ioErrors + ", slowest RCPT=" + maxRcptMs + " ms";
        }
    }

    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;
    private final AtomicReference<Phase> phase = new AtomicReference<>(Phase.WARMUP);
    private final Map<Phase, Stats> stats = new EnumMap<>(Phase.class);
    private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    private final AtomicLong first451Ns = new AtomicLong();
    private final AtomicLong last451Ns = new AtomicLong();
    private final AtomicLong lastAlice250Ns = new AtomicLong();
    private final List<Thread> clients = new ArrayList<>();

    @AfterEach
    void tearDown() throws InterruptedException
    {
        phase.set(Phase.DONE);
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
    void routerKilledUnderLoadIsRestartedAndReloadsLoseNothing() throws Exception
    {
        for (final Phase p : Phase.values())
        {
            stats.put(p, new Stats());
        }
        shm = SystemTestSupport.uniqueShmDir();
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "router.tables=" + tables,
            "--set", "smtpd.hard-error-limit=10000",
            "--event-loops", "2");
        final int port = daemon.port();
        final long smtpdPid = daemon.childPid("smtpd");
        final long routerPid = daemon.childPid("router");
        assertTrue(smtpdPid > 0 && routerPid > 0);

        for (int i = 0; i < THREADS; i++)
        {
            final int id = i;
            final Thread t = new Thread(() -> clientLoop(port, id), "load-" + i);
            t.setDaemon(true);
            clients.add(t);
            t.start();
        }
        await("warm-up traffic").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
            .until(() -> stats.get(Phase.WARMUP).queued.sum() >= 100);
        assertEquals(0, stats.get(Phase.WARMUP).replies451(), "no 451 before the crash: " + stats.get(Phase.WARMUP));

        // kill -9 the router under load
        phase.set(Phase.OUTAGE);
        final long killNs = System.nanoTime();
        ProcessHandle.of(routerPid).orElseThrow().destroyForcibly();
        await("router restarted by the supervisor").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
            .until(() -> daemon.childPid("router") > 0 && daemon.childPid("router") != routerPid);
        final long restartedMs = (System.nanoTime() - killNs) / 1_000_000;
        final long newRouterPid = daemon.childPid("router");
        // recovered: 451s were seen, and the load has gone a second without one while alice gets 250 again
        await("load answered correctly again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
            .until(() -> last451Ns.get() > killNs && lastAlice250Ns.get() > last451Ns.get() &&
                System.nanoTime() - last451Ns.get() > TimeUnit.SECONDS.toNanos(1));
        final long outageMs = (last451Ns.get() - killNs) / 1_000_000;
        final long first451Ms = (first451Ns.get() - killNs) / 1_000_000;
        phase.set(Phase.AFTER);
        final Stats outage = stats.get(Phase.OUTAGE);
        assertTrue(outage.replies451() > 0, "451s during the outage: " + outage);
        assertReply("250", SmtpTestClient.probe(port, "probe@sender.test", "alice@example.test"));
        assertReply("550 5.1.1", SmtpTestClient.probe(port, "probe@sender.test", "nobody@example.test"));
        assertEquals(smtpdPid, daemon.childPid("smtpd"), "smtpd was not restarted");
        await("traffic after recovery").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
            .until(() -> stats.get(Phase.AFTER).queued.sum() >= 50);

        // table reloads under load: no 451, no timeout
        phase.set(Phase.RELOAD);
        final long reloadStartNs = System.nanoTime();
        final int reloadsBefore = SystemTestSupport.count(daemon.stderr(), "tables reloaded");
        for (int i = 1; i <= 3; i++)
        {
            final int expected = reloadsBefore + i;
            // same recipients plus a harmless extra one, so answers must not change
            SystemTestSupport.replaceFile(tables.resolve("recipients"),
                "alice@example.test\n@catchall.test\nextra" + i + "@example.test\n");
            await("reload " + i).atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(() -> SystemTestSupport.count(daemon.stderr(), "tables reloaded") >= expected);
        }
        // SIGHUP too, the operator's way
        final long hupBefore = SystemTestSupport.count(daemon.stderr(), "tables reloaded");
        new ProcessBuilder("kill", "-HUP", Long.toString(newRouterPid)).inheritIO().start().waitFor();
        await("reload on SIGHUP").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
            .until(() -> SystemTestSupport.count(daemon.stderr(), "tables reloaded") > hupBefore);
        final long queuedAtLastReload = stats.get(Phase.RELOAD).queued.sum();
        await("traffic after the last reload").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
            .until(() -> stats.get(Phase.RELOAD).queued.sum() >= queuedAtLastReload + 50);
        final long reloadWindowMs = (System.nanoTime() - reloadStartNs) / 1_000_000;
        phase.set(Phase.DONE);
        for (final Thread t : clients)
        {
            t.join(20_000);
        }

        final Stats reload = stats.get(Phase.RELOAD);
        System.out.println("RouterCrashTest: router " + routerPid + " killed; new router " + newRouterPid +
            " seen after " + restartedMs + " ms; first 451 after " + first451Ms + " ms, last 451 after " + outageMs +
            " ms");
        for (final Phase p : Phase.values())
        {
            System.out.println("RouterCrashTest: " + p + ": " + stats.get(p));
        }
        System.out.println("RouterCrashTest: reload window " + reloadWindowMs + " ms");
        System.out.println("RouterCrashTest: smtpd counters: ipc requests " +
            SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_REQUESTS) + ", refused " +
            SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_UNAVAILABLE) + ", offer failures " +
            SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_OFFER_FAILURES) + ", replies dropped " +
            SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_REPLIES_DROPPED));
        System.out.println("RouterCrashTest: violations " + violations);

        assertTrue(violations.isEmpty(), "wrong answers: " + violations);
        assertEquals(newRouterPid, daemon.childPid("router"), "the router was reloaded, not restarted");
        assertEquals(smtpdPid, daemon.childPid("smtpd"), "smtpd was never restarted");
        for (final Phase p : Phase.values())
        {
            assertEquals(0, stats.get(p).timeouts.sum(), p + ": no client timed out: " + stats.get(p));
            assertEquals(0, stats.get(p).ioErrors.sum(), p + ": no connection broke: " + stats.get(p));
        }
        assertEquals(0, reload.replies451(), "no 451 during reloads: " + reload);
        assertTrue(reload.nobody550.sum() > 0 && reload.alice250.sum() > 0, "traffic during reloads: " + reload);
    }

    private Stats now()
    {
        return stats.get(phase.get());
    }

    private void saw451()
    {
        final long t = System.nanoTime();
        first451Ns.compareAndSet(0, t);
        last451Ns.accumulateAndGet(t, Math::max);
    }

    private void clientLoop(final int port, final int id)
    {
        final String sender = "load" + id + "@sender.test";
        final String body = "Subject: load " + id + "\r\n\r\nrouter crash test\r\n";
        SmtpTestClient smtp = null;
        int transactions = 0;
        while (Phase.DONE != phase.get())
        {
            try
            {
                if (null == smtp || transactions++ % 10 == 0)
                {
                    if (null != smtp)
                    {
                        smtp.quit();
                    }
                    smtp = SmtpTestClient.open(port, READ_TIMEOUT_MS);
                }
                final String mail = smtp.command("MAIL FROM:<" + sender + ">");
                Stats s = now();
                if (mail.startsWith("451 4.3.0"))
                {
                    saw451();
                    s.mail451.increment();
                    smtp.command("RSET");
                    continue;
                }
                if (!mail.startsWith("250"))
                {
                    violations.add("MAIL -> " + mail);
                    smtp.command("RSET");
                    continue;
                }
                s.mail250.increment();
                long started = System.nanoTime();
                final String nobody = smtp.command("RCPT TO:<nobody@example.test>");
                s = now();
                s.maxRcptMs.accumulateAndGet((System.nanoTime() - started) / 1_000_000, Math::max);
                if (nobody.startsWith("550 5.1.1"))
                {
                    s.nobody550.increment();
                }
                else if (nobody.startsWith("451 4.3.0"))
                {
                    saw451();
                    s.nobody451.increment();
                    if (Phase.OUTAGE != phase.get())
                    {
                        violations.add(phase.get() + ": RCPT nobody -> " + nobody + " at " + java.time.Instant.now());
                    }
                }
                else
                {
                    violations.add(phase.get() + ": RCPT nobody -> " + nobody);
                }
                started = System.nanoTime();
                final String alice = smtp.command("RCPT TO:<alice@example.test>");
                s = now();
                s.maxRcptMs.accumulateAndGet((System.nanoTime() - started) / 1_000_000, Math::max);
                if (alice.startsWith("250"))
                {
                    s.alice250.increment();
                    lastAlice250Ns.accumulateAndGet(System.nanoTime(), Math::max);
                    final String queued = smtp.data(body);
                    if (queued.startsWith("250 2.0.0"))
                    {
                        now().queued.increment();
                    }
                    else
                    {
                        violations.add(phase.get() + ": end of data -> " + queued);
                    }
                }
                else
                {
                    if (alice.startsWith("451 4.3.0"))
                    {
                        saw451();
                        s.alice451.increment();
                    }
                    else
                    {
                        violations.add(phase.get() + ": RCPT alice -> " + alice);
                    }
                    smtp.command("RSET");
                }
            }
            catch (final SocketTimeoutException ex)
            {
                now().timeouts.increment();
                violations.add(phase.get() + ": client " + id + " timed out: " + ex);
                smtp.close();
                smtp = null;
            }
            catch (final IOException ex)
            {
                now().ioErrors.increment();
                violations.add(phase.get() + ": client " + id + ": " + ex);
                if (null != smtp)
                {
                    smtp.close();
                }
                smtp = null;
            }
        }
        if (null != smtp)
        {
            smtp.quit();
        }
    }
}
