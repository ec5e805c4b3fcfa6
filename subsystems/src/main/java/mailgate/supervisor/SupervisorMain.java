/*
 * SUMMARY
 * "bin/mailgate run": the supervisor. Starts the media driver as a child process (the driver role) and waits
 * until it serves, then the router, the content filter and the SMTP daemon as child processes, restarts a
 * child that dies (with backoff), and stops all on SIGTERM (the driver last).
 *
 * DESCRIPTION
 * Children run the same JVM with the same flags and class path except the heap (RoleMemory: smtpd gets the
 * pre-touched heap bin/mailgate chose, the other roles small ones), stay in the supervisor's process group,
 * and carry their role on the command line (-Dmailgate.role=router, as ps shows Postfix's roles). Their
 * output is the supervisor's output. Options are passed through to every child unchanged; smtpd gets
 * router.mode=aeron and filter.mode=aeron added. A child that ran longer than a minute restarts after the
 * first delay again; one that keeps dying waits 1, 2, 4 ... up to 30 seconds. The driver restarts after
 * 0.1 s (then 0.2, 0.4 ... while it dies within 2 s of its start): every IPC question is answered 451 while
 * it is gone. The other roles stay up
 * across a driver restart and attach to the new driver by themselves (DriverConnection); the rate role
 * exits and is restarted.
 *
 * DIAGNOSTICS
 * Exit 78 on a bad config, 71 when the Aeron directory is unsafe or the driver cannot start (e.g. another
 * is active on the directory).
 */
package mailgate.supervisor;

import mailgate.ipc.DriverConnection;
import mailgate.ipc.DriverLiveness;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdConfig;
import mailgate.reactor.SmtpdMain;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs and watches mailgate's processes.
 */
public final class SupervisorMain
{
    private static final long FIRST_BACKOFF_MS = 1000;
    private static final long HEALTHY_AFTER_MS = 60_000;
    private static final long DRIVER_FIRST_BACKOFF_MS = 100;
    // a driver that served a few seconds is not crash-looping: a kill -9 an hour later must not wait 30 s
    private static final long DRIVER_HEALTHY_AFTER_MS = 2_000;
    private static final long DRIVER_START_TIMEOUT_MS = 30_000;
    private static volatile boolean stopping;

    private SupervisorMain()
    {
    }

    /**
     * @param args the options of "bin/mailgate run" (see SmtpdMain), passed to the children.
     */
    public static void main(final String[] args)
    {
        final SmtpdConfig config;
        try
        {
            config = SmtpdMain.parse(args);
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(SmtpdMain.EX_CONFIG);
            return;
        }
        final Path aeronDir;
        try
        {
            InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE)));
            aeronDir = IpcChannels.secureAeronDir(config.aeronDir());
            final DriverLiveness previous = DriverLiveness.of(aeronDir, TimeUnit.SECONDS.toMillis(2));
            if (previous.isRunning())
            {
                throw new IllegalStateException("a media driver is already active in " + aeronDir + " (" +
                    previous + "); stop it first or choose another ipc.aeron-dir");
            }
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        final Child driver = new Child("driver", "mailgate.ipc.DriverMain", List.of("--aeron-dir", aeronDir.toString()),
            DRIVER_FIRST_BACKOFF_MS, DRIVER_HEALTHY_AFTER_MS);
        final List<String> passThrough = new ArrayList<>(Arrays.asList(args));
        if (!passThrough.isEmpty() && "run".equals(passThrough.get(0)))
        {
            passThrough.remove(0);
        }
        final Child router = new Child("router", "mailgate.router.RouterMain", passThrough,
            FIRST_BACKOFF_MS, HEALTHY_AFTER_MS);
        final Child filter = new Child("filter", "mailgate.filter.FilterMain", passThrough,
            FIRST_BACKOFF_MS, HEALTHY_AFTER_MS);
        final String handoffConfig = config.get(SmtpdConfig.HANDOFF_CONFIG);
        final List<String> handoffArgs = new ArrayList<>(passThrough);
        handoffArgs.add("--handoff-config");
        handoffArgs.add(handoffConfig);
        final Child handoff = handoffConfig.isEmpty() ? null :
            new Child("handoff", "mailgate.handoff.HandoffMain", handoffArgs,
            FIRST_BACKOFF_MS, HEALTHY_AFTER_MS);
        final String rateConfig = config.get(SmtpdConfig.RATE_CONFIG);
        // the rate role replicates this host's counters to the cluster; smtpd counts in the shared file itself
        final Child rate = rateConfig.isEmpty() ? null :
            new Child("rate", "mailgate.rate.RateMain", List.of("--config", rateConfig),
            FIRST_BACKOFF_MS, HEALTHY_AFTER_MS);
        final List<String> smtpdArgs = new ArrayList<>(passThrough);
        smtpdArgs.add("--set");
        smtpdArgs.add(SmtpdConfig.ROUTER_MODE + "=aeron");
        smtpdArgs.add("--set");
        smtpdArgs.add(SmtpdConfig.FILTER_MODE + "=aeron");
        if (!mentions(passThrough, SmtpdConfig.STARTTLS))
        {
            // TLS out of the box: STARTTLS with a self-signed certificate unless the command line says otherwise
            smtpdArgs.add("--set");
            smtpdArgs.add(SmtpdConfig.STARTTLS + "=on");
        }
        final Child smtpd = new Child("smtpd", "mailgate.reactor.SmtpdMain", smtpdArgs,
            FIRST_BACKOFF_MS, HEALTHY_AFTER_MS);
        final CountDownLatch stopped = new CountDownLatch(1);
        final sun.misc.SignalHandler stop = (signal) -> new Thread(() ->
        {
            stopping = true;
            smtpd.stop(TimeUnit.MILLISECONDS.toMillis(config.getLong(SmtpdConfig.SHUTDOWN_GRACE)) + 10_000);
            router.stop(10_000);
            filter.stop(10_000);
            if (null != rate)
            {
                rate.stop(10_000);
            }
            if (null != handoff)
            {
                handoff.stop(30_000);
            }
            driver.stop(10_000);
            stopped.countDown();
        }, "mailgate-supervisor-stop").start();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        log("supervisor started (pid " + ProcessHandle.current().pid() + ", media driver in " + aeronDir + ")");
        driver.start();
        final String driverProblem = awaitDriver(driver, aeronDir);
        if (null != driverProblem)
        {
            log(driverProblem);
            stopping = true;
            driver.stop(10_000);
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        router.start();
        filter.start();
        if (null != rate)
        {
            rate.start();
        }
        if (null != handoff)
        {
            handoff.start();
        }
        smtpd.start();
        try
        {
            stopped.await();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        log("supervisor stopped");
        System.exit(0);
    }

    /**
     * Wait until the driver child serves (its cnc.dat is ready with its pid and a fresh heartbeat).
     *
     * @return null when it does, else why not.
     */
    private static String awaitDriver(final Child driver, final Path aeronDir)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DRIVER_START_TIMEOUT_MS);
        while (System.nanoTime() - deadlineNs < 0)
        {
            final Process process = driver.process;
            if (null != process)
            {
                final DriverLiveness liveness = DriverLiveness.of(aeronDir, DriverConnection.STALE_HEARTBEAT_MS);
                if (liveness.isRunning() && liveness.pid() == process.pid())
                {
                    log("media driver ready (pid " + process.pid() + ")");
                    return null;
                }
                if (!process.isAlive())
                {
                    return "the media driver exited with status " + process.exitValue() + " at start; stopping";
                }
            }
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
        return "the media driver did not start within " + DRIVER_START_TIMEOUT_MS + " ms; stopping";
    }

    /**
     * @return true when the command line or the config file it names sets the key (the operator decided).
     */
    private static boolean mentions(final List<String> args, final String key)
    {
        for (int i = 0; i < args.size(); i++)
        {
            if (args.get(i).startsWith(key + "="))
            {
                return true;
            }
            if ("--config".equals(args.get(i)) && i + 1 < args.size())
            {
                try
                {
                    for (final String line : java.nio.file.Files.readAllLines(Path.of(args.get(i + 1))))
                    {
                        if (line.strip().startsWith(key))
                        {
                            return true;
                        }
                    }
                }
                catch (final java.io.IOException ignore)
                {
                    // the children report an unreadable config file with its name
                }
            }
        }
        return false;
    }

    static void log(final String text)
    {
        System.err.println(Instant.now() + " mailgate/supervisor: " + text);
    }

    /**
     * One child role: started, watched, restarted with backoff.
     */
    static final class Child
    {
        private final String role;
        private final List<String> command = new ArrayList<>();
        private final long firstBackoffMs;
        private final long healthyAfterMs;
        private volatile Process process;
        private Thread watcher;

        Child(
            final String role,
            final String mainClass,
            final List<String> args,
            final long firstBackoffMs,
            final long healthyAfterMs)
        {
            this.role = role;
            this.firstBackoffMs = firstBackoffMs;
            this.healthyAfterMs = healthyAfterMs;
            command.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            final List<String> inherited = ManagementFactory.getRuntimeMXBean().getInputArguments();
            final List<String> memory = RoleMemory.flags(role, System.getProperties());
            for (final String jvmArg : inherited)
            {
                if (!jvmArg.startsWith("-Dmailgate.role=") && (null == memory || !RoleMemory.isMemoryFlag(jvmArg)))
                {
                    command.add(jvmArg);
                }
            }
            if (null != memory)
            {
                command.addAll(memory);
            }
            if (!command.contains("-XX:+ExitOnOutOfMemoryError"))
            {
                // a thread that dies of OutOfMemoryError would leave a live process serving nothing; exiting lets
                // this supervisor restart it
                command.add("-XX:+ExitOnOutOfMemoryError");
            }
            command.add("-Dmailgate.role=" + role);
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(mainClass);
            command.addAll(args);
        }

        void start()
        {
            watcher = new Thread(this::watch, "mailgate-watch-" + role);
            watcher.setDaemon(true);
            watcher.start();
        }

        private void watch()
        {
            long backoffMs = firstBackoffMs;
            while (!stopping)
            {
                final long startedMs = System.currentTimeMillis();
                try
                {
                    process = new ProcessBuilder(command).inheritIO().start();
                    log(role + " started (pid " + process.pid() + ")");
                    final int status = process.waitFor();
                    if (stopping)
                    {
                        return;
                    }
                    if (System.currentTimeMillis() - startedMs > healthyAfterMs)
                    {
                        backoffMs = firstBackoffMs;
                    }
                    log(role + " (pid " + process.pid() + ") exited with status " + status + "; restarting in " +
                        backoffMs + " ms");
                    if (SmtpdMain.EX_CONFIG == status)
                    {
                        log(role + " refuses its configuration; fix it and send SIGHUP or restart mailgate");
                    }
                }
                catch (final Exception ex)
                {
                    log(role + ": cannot start: " + ex);
                }
                try
                {
                    Thread.sleep(backoffMs);
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
                backoffMs = Math.min(backoffMs * 2, 30_000);
            }
        }

        void stop(final long timeoutMs)
        {
            final Process p = process;
            if (null == p)
            {
                return;
            }
            p.destroy();
            try
            {
                if (!p.waitFor(timeoutMs, TimeUnit.MILLISECONDS))
                {
                    log(role + " did not stop in " + timeoutMs + " ms; killing it");
                    p.destroyForcibly();
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }
}
