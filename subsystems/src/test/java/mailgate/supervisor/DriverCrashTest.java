package mailgate.supervisor;

import mailgate.ipc.DriverLiveness;
import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.reactor.spool.SpoolVerifier;
import mailgate.router.SystemTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the media driver under load, several rounds: the supervisor restarts the driver child, smtpd,
 * router and filter stay the same processes and attach to the new driver by themselves. Every 250 is a
 * complete queue file holding exactly what the client sent; no 250 for a recipient the router refuses or
 * content the filter refuses; replies during the outage are 451 and come within the policy deadline;
 * service resumes after each restart (measured). The same again with the roles started one by one and the
 * driver restarted by the test, as an operator's systemd units would.
 * <p>
 * Rounds: 3 (CI), 30 with -Dreliability.long=true, or -Ddriver.crash.rounds=N.
 */
class DriverCrashTest
{
    private static final boolean LONG = Boolean.getBoolean("reliability.long");
    private static final int ROUNDS = Integer.getInteger("driver.crash.rounds", LONG ? 30 : 3);
    private static final int THREADS = 8;
    private static final long POLICY_TIMEOUT_MS = 3_000;
    /** A reply later than this is a hang: the policy deadline plus scheduling slack on 2 busy cores. */
    private static final long REPLY_DEADLINE_MS = POLICY_TIMEOUT_MS + 2_000;
    private static final int READ_TIMEOUT_MS = 15_000;
    private static final long TEMPFAIL_PAUSE_MS = 20;
    /** The supervisor's driver backoff grows for a driver that dies within 2 s of its start. */
    private static final long MIN_SERVED_MS = 2_500;

    /** One message as the client sent it and the queue id it was acknowledged with. */
    private record Acked(String queueId, byte[] content)
    {
    }

    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;
    private final List<Process> processes = new ArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> clients = new ArrayList<>();
    private final ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Acked> acked = new ConcurrentLinkedQueue<>();
    private final LongAdder queued = new LongAdder();
    private final LongAdder refused554 = new LongAdder();
    private final LongAdder nobody550 = new LongAdder();
    private final LongAdder tempfails = new LongAdder();
    private final LongAdder ioErrors = new LongAdder();
    private final AtomicLong first451Ns = new AtomicLong();
    private final AtomicLong last451Ns = new AtomicLong();
    private final AtomicLong lastQueuedNs = new AtomicLong();
    private final AtomicLong slowestReplyMs = new AtomicLong();
    /** 451 is only right while a driver is down or just back; set by the test around each kill. */
    private final AtomicBoolean outage = new AtomicBoolean();

    @AfterEach
    void tearDown() throws InterruptedException
    {
        stopClients();
        if (null != daemon)
        {
            daemon.close();
        }
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            SystemTestSupport.stop(processes.get(i), 10_000);
        }
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    @Timeout(value = 600, unit = TimeUnit.SECONDS)
    void supervisedDriverKilledUnderLoadIsRestartedAndEveryRoleReattaches() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path aeronDir = shm.resolve("aeron");
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "router.tables=" + SystemTestSupport.standardTables(tmp.resolve("tables")),
            "--set", "filter.rules=" + rules(),
            "--set", "smtpd.hard-error-limit=10000",
            "--set", "smtpd.policy-timeout=" + POLICY_TIMEOUT_MS + "ms",
            "--event-loops", "2");
        final long supervisorPid = daemon.pid();
        final long smtpdPid = daemon.childPid("smtpd");
        final long routerPid = daemon.childPid("router");
        final long filterPid = daemon.childPid("filter");
        assertTrue(smtpdPid > 0 && routerPid > 0 && filterPid > 0 && daemon.childPid("driver") > 0,
            daemon.stderr());

        final Result result = killRounds("supervised", daemon.port(), daemon.queueDir(), aeronDir,
            (round, oldDriver) ->
            {
                // the supervisor restarts it; nothing to do but wait
            },
            () ->
            {
                assertTrue(daemon.process().isAlive(), "supervisor alive");
                assertEquals(smtpdPid, daemon.childPid("smtpd"), "smtpd is the same process");
                assertEquals(routerPid, daemon.childPid("router"), "router is the same process");
                assertEquals(filterPid, daemon.childPid("filter"), "filter is the same process");
            });
        assertEquals(supervisorPid, daemon.pid());
        final long reconnects = SystemTestSupport.smtpdCounter(daemon.spool(), mailgate.reactor.status.SmtpdCounter.IPC_RECONNECTS.typeId());
        System.out.println("DriverCrashTest supervised: smtpd 'ipc reconnects' counter " + reconnects);
        // 2 loops x (router + filter) clients each reattach once per restart
        assertTrue(reconnects >= 4L * ROUNDS, "smtpd counted its reconnects: " + reconnects);
        result.print("supervised");
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void standaloneDriverKilledAndRestartedByTheOperatorEveryRoleReattaches() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path aeronDir = shm.resolve("aeron");
        final Path secret = tmp.resolve("secret");
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        final Path spoolDir = tmp.resolve("spool");
        startDriver(aeronDir, 0);
        final String[] common = {"--set", "ipc.aeron-dir=" + aeronDir, "--set", "ipc.secret-file=" + secret,
            "--set", "spool.directory=" + spoolDir};
        final Process router = start("mailgate.router.RouterMain", "router", "mailgate router ready",
            concat(common, "--set", "router.tables=" + tables));
        final Process filter = start("mailgate.filter.FilterMain", "filter", "mailgate filter ready",
            concat(common, "--set", "filter.rules=" + rules()));
        daemon = DaemonProcess.start(spoolDir, "--set", "router.mode=aeron", "--set", "filter.mode=aeron",
            "--set", "ipc.aeron-dir=" + aeronDir, "--set", "ipc.secret-file=" + secret,
            "--set", "smtpd.hard-error-limit=10000", "--set", "smtpd.policy-timeout=" + POLICY_TIMEOUT_MS + "ms",
            "--event-loops", "2");
        final long smtpdPid = daemon.pid();
        final int[] restarts = {0};
        final Result result = killRounds("standalone", daemon.port(), daemon.queueDir(), aeronDir,
            (round, oldDriver) ->
            {
                // systemd's Restart=always: start the driver again once the old one is reaped
                assertTrue(oldDriver.waitFor(10, TimeUnit.SECONDS));
                startDriver(aeronDir, ++restarts[0]);
            },
            () ->
            {
                assertTrue(daemon.process().isAlive() && smtpdPid == daemon.pid(), "smtpd is the same process");
                assertTrue(router.isAlive(), "router is the same process");
                assertTrue(filter.isAlive(), "filter is the same process");
            });
        result.print("standalone");
    }

    /** Kill the current driver; for the standalone case, start the next one. */
    @FunctionalInterface
    private interface Restarter
    {
        void afterKill(int round, Process killed) throws Exception;
    }

    @FunctionalInterface
    private interface Check
    {
        void run() throws Exception;
    }

    private final class Result
    {
        final List<Long> outagesMs = new ArrayList<>();
        final List<Long> resumeAfterRestartMs = new ArrayList<>();
        final List<Long> restartMs = new ArrayList<>();
        long checkedFiles;

        void print(final String name)
        {
            final List<Long> sorted = new ArrayList<>(outagesMs);
            Collections.sort(sorted);
            final List<Long> resume = new ArrayList<>(resumeAfterRestartMs);
            Collections.sort(resume);
            System.out.printf("FIGURE DriverCrashTest %s: %d rounds; outage (first 451 -> first 250) p50 %d ms, " +
                    "max %d ms; driver serving again %s ms after kill; 250 again p50 %d ms / max %d ms after the " +
                    "new driver served; %d messages acked (250), %d checked in queue/, 0 lost; %d refused 554 by " +
                    "the filter, %d RCPT 550 by the router, %d x 451, slowest reply %d ms, %d connection errors%n",
                name, ROUNDS, sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1), restartMs,
                resume.get(resume.size() / 2), resume.get(resume.size() - 1), queued.sum(), checkedFiles,
                refused554.sum(), nobody550.sum(), tempfails.sum(), slowestReplyMs.get(), ioErrors.sum());
        }
    }

    private Result killRounds(
        final String name, final int port, final Path queueDir, final Path aeronDir, final Restarter restarter,
        final Check samePids) throws Exception
    {
        final Random random = new Random(Long.getLong("driver.crash.seed", System.nanoTime()));
        for (int i = 0; i < THREADS; i++)
        {
            final int id = i;
            final Thread t = new Thread(() -> clientLoop(port, id), "load-" + i);
            t.setDaemon(true);
            clients.add(t);
            t.start();
        }
        await("warm-up").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
            .until(() -> queued.sum() >= 50 && refused554.sum() >= 10);
        assertEquals(0, tempfails.sum(), "no 451 before the first kill");
        final Result result = new Result();
        long servedSinceNs = System.nanoTime();
        for (int round = 1; round <= ROUNDS; round++)
        {
            // a random moment of steady load
            final long queuedBefore = queued.sum();
            Thread.sleep(300 + random.nextInt(1500));
            await("load before round " + round).atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20))
                .until(() -> queued.sum() >= queuedBefore + 20);
            // kill a driver that has served a while, not one the supervisor would take for crash-looping
            final long servedMs = (System.nanoTime() - servedSinceNs) / 1_000_000;
            if (servedMs < MIN_SERVED_MS)
            {
                Thread.sleep(MIN_SERVED_MS - servedMs);
            }
            final DriverLiveness before = DriverLiveness.of(aeronDir, 3_000);
            assertTrue(before.isRunning(), "driver up before round " + round + ": " + before);
            final ProcessHandle driver = ProcessHandle.of(before.pid()).orElseThrow();
            first451Ns.set(0);
            last451Ns.set(0);
            outage.set(true);
            final long killNs = System.nanoTime();
            driver.destroyForcibly();
            restarter.afterKill(round, findProcess(before.pid()));
            await("new driver serving, round " + round).atMost(Duration.ofSeconds(30))
                .pollInterval(Duration.ofMillis(5))
                .until(() ->
                {
                    final DriverLiveness now = DriverLiveness.of(aeronDir, 3_000);
                    return now.isRunning() && now.pid() != before.pid();
                });
            final long servingNs = System.nanoTime();
            servedSinceNs = servingNs;
            result.restartMs.add((servingNs - killNs) / 1_000_000);
            // recovered: 451s were seen, a message was queued after the last one, and a second passed without one
            await("250 again after round " + round).atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(20))
                .until(() -> last451Ns.get() != 0 && lastQueuedNs.get() - last451Ns.get() > 0 &&
                    System.nanoTime() - last451Ns.get() > TimeUnit.SECONDS.toNanos(1));
            outage.set(false);
            final long first250Ns = firstQueuedAfter(last451Ns.get());
            result.outagesMs.add((first250Ns - first451Ns.get()) / 1_000_000);
            result.resumeAfterRestartMs.add(Math.max(0, first250Ns - servingNs) / 1_000_000);
            samePids.run();
            result.checkedFiles = checkQueue(queueDir);
            assertTrue(violations.isEmpty(), name + " round " + round + ": " + violations);
            System.out.println("DriverCrashTest " + name + " round " + round + ": driver " + before.pid() +
                " killed, new one serving after " + result.restartMs.get(round - 1) + " ms; outage " +
                result.outagesMs.get(round - 1) + " ms; " + queued.sum() + " queued, " + tempfails.sum() + " x 451");
        }
        stopClients();
        result.checkedFiles = checkQueue(queueDir);
        assertTrue(violations.isEmpty(), name + ": " + violations);
        assertEquals(0, ioErrors.sum(), "no connection broke");
        assertTrue(slowestReplyMs.get() < REPLY_DEADLINE_MS, "slowest reply " + slowestReplyMs + " ms");
        assertTrue(tempfails.sum() > 0, "451s during the outages");
        return result;
    }

    private final ConcurrentLinkedQueue<Long> queuedTimes = new ConcurrentLinkedQueue<>();

    private long firstQueuedAfter(final long ns)
    {
        long first = Long.MAX_VALUE;
        for (final long t : queuedTimes)
        {
            if (t - ns > 0 && t < first)
            {
                first = t;
            }
        }
        return first;
    }

    /**
     * @return how many acknowledged messages were checked: each a complete queue file ending in exactly the
     *         bytes the client sent.
     */
    private long checkQueue(final Path queueDir) throws IOException
    {
        long checked = 0;
        for (final Acked a : acked)
        {
            final Path file = queueDir.resolve(a.queueId());
            assertTrue(Files.exists(file), "acknowledged message " + a.queueId() + " is in queue/");
            assertTrue(SpoolVerifier.isComplete(file), "complete (size and CRC32C): " + a.queueId());
            final byte[] stored = Files.readAllBytes(file);
            assertTrue(stored.length >= a.content().length && Arrays.equals(stored,
                stored.length - a.content().length, stored.length, a.content(), 0, a.content().length),
                "queue file " + a.queueId() + " holds what the client sent");
            checked++;
        }
        return checked;
    }

    private void clientLoop(final int port, final int id)
    {
        final Random random = new Random(id);
        long n = 0;
        SmtpTestClient smtp = null;
        while (running.get())
        {
            try
            {
                if (null == smtp || 0 == n % 10)
                {
                    if (null != smtp)
                    {
                        smtp.quit();
                    }
                    smtp = SmtpTestClient.open(port, READ_TIMEOUT_MS);
                }
                n++;
                final boolean forbidden = 0 == n % 3;
                if (!expect250(smtp, "MAIL FROM:<load" + id + "@sender.test>", "MAIL"))
                {
                    smtp.command("RSET");
                    continue;
                }
                final String nobody = timed(smtp, "RCPT TO:<nobody@example.test>");
                if (nobody.startsWith("550 5.1.1"))
                {
                    nobody550.increment();
                }
                else if (!tempfail(nobody))
                {
                    violations.add("RCPT nobody (refused by the router) -> " + nobody);
                }
                if (!expect250(smtp, "RCPT TO:<alice@example.test>", "RCPT alice"))
                {
                    smtp.command("RSET");
                    continue;
                }
                final byte[] content = message(id, n, forbidden, random);
                final long started = System.nanoTime();
                final String reply = smtp.data(new String(content, StandardCharsets.ISO_8859_1));
                reply(started);
                if (reply.startsWith("250"))
                {
                    if (forbidden)
                    {
                        violations.add("forbidden content got " + reply);
                    }
                    final long now = System.nanoTime();
                    acked.add(new Acked(reply.substring(reply.lastIndexOf(' ') + 1), content));
                    queuedTimes.add(now);
                    lastQueuedNs.accumulateAndGet(now, Math::max);
                    queued.increment();
                }
                else if (reply.startsWith("554"))
                {
                    if (!forbidden)
                    {
                        violations.add("clean content got " + reply);
                    }
                    refused554.increment();
                }
                else if (!tempfail(reply))
                {
                    violations.add("end of data -> " + reply);
                }
            }
            catch (final SocketTimeoutException ex)
            {
                violations.add("client " + id + " timed out (a hang): " + ex);
                smtp.close();
                smtp = null;
            }
            catch (final IOException ex)
            {
                ioErrors.increment();
                violations.add("client " + id + ": " + ex);
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

    private boolean expect250(final SmtpTestClient smtp, final String command, final String what) throws IOException
    {
        final String reply = timed(smtp, command);
        if (reply.startsWith("250"))
        {
            return true;
        }
        if (!tempfail(reply))
        {
            violations.add(what + " -> " + reply);
        }
        return false;
    }

    private String timed(final SmtpTestClient smtp, final String command) throws IOException
    {
        final long started = System.nanoTime();
        final String reply = smtp.command(command);
        reply(started);
        return reply;
    }

    private void reply(final long startedNs)
    {
        slowestReplyMs.accumulateAndGet((System.nanoTime() - startedNs) / 1_000_000, Math::max);
    }

    /**
     * @return true for a 451 (counted; a violation outside an outage).
     */
    private boolean tempfail(final String reply)
    {
        if (!reply.startsWith("451 4."))
        {
            return false;
        }
        final long now = System.nanoTime();
        first451Ns.compareAndSet(0, now);
        last451Ns.accumulateAndGet(now, (a, b) -> 0 == a ? b : Math.max(a, b));
        tempfails.increment();
        if (!outage.get())
        {
            violations.add("451 with the driver up: " + reply);
        }
        // as a real client would, try again a little later instead of spinning the 2 cores the restart needs
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(TEMPFAIL_PAUSE_MS));
        return true;
    }

    private static byte[] message(final int id, final long n, final boolean forbidden, final Random random)
    {
        final StringBuilder sb = new StringBuilder(256)
            .append("Subject: driver crash ").append(id).append('-').append(n).append("\r\n")
            .append("X-Test-Id: ").append(id).append('-').append(n).append("\r\n\r\n");
        final int lines = 1 + random.nextInt(60);
        for (int i = 0; i < lines; i++)
        {
            sb.append("line ").append(i).append(' ').append(Long.toHexString(random.nextLong())).append("\r\n");
        }
        sb.append(forbidden ? "this is FORBIDDEN text\r\n" : "all clean\r\n");
        return sb.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private Path rules() throws IOException
    {
        final Path rules = tmp.resolve("filter.rules");
        if (!Files.exists(rules))
        {
            Files.writeString(rules, "body /FORBIDDEN/ REJECT forbidden content\n", StandardCharsets.US_ASCII);
        }
        return rules;
    }

    private Process startDriver(final Path aeronDir, final int n) throws IOException, InterruptedException
    {
        return start("mailgate.ipc.DriverMain", "driver-" + n, "mailgate driver running",
            "--aeron-dir", aeronDir.toString());
    }

    private Process start(final String mainClass, final String name, final String ready, final String... args)
        throws IOException, InterruptedException
    {
        final Path log = tmp.resolve(name);
        final Process process = SystemTestSupport.startJvm(mainClass, log, args);
        processes.add(process);
        SystemTestSupport.awaitStderr(process, log, ready, 30_000);
        return process;
    }

    private Process findProcess(final long pid)
    {
        for (final Process p : processes)
        {
            if (p.pid() == pid)
            {
                return p;
            }
        }
        return null;
    }

    private void stopClients() throws InterruptedException
    {
        running.set(false);
        for (final Thread t : clients)
        {
            t.join(20_000);
        }
    }

    private static String[] concat(final String[] head, final String... tail)
    {
        final String[] all = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }
}
