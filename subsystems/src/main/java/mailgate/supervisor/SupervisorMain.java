/*
 * SUMMARY
 * "bin/mailgate run": the supervisor. Starts the media driver (embedded), then the router, the content
 * filter and the SMTP daemon as child processes, restarts a child that dies (with backoff), and stops all on SIGTERM.
 *
 * DESCRIPTION
 * Children run the same JVM with the same flags and class path, stay in the supervisor's process group,
 * and carry their role on the command line (-Dmailgate.role=router, as ps shows Postfix's roles). Their
 * output is the supervisor's output. Options are passed through to every child unchanged; smtpd gets
 * router.mode=aeron and filter.mode=aeron added. A child that ran longer than a minute restarts at once; one that keeps dying
 * waits 1, 2, 4 ... up to 30 seconds.
 *
 * DIAGNOSTICS
 * Exit 78 on a bad config, 71 when the driver cannot start (e.g. another is active on the directory).
 */
package mailgate.supervisor;

import io.aeron.driver.MediaDriver;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.MediaDriverLauncher;
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
        final MediaDriver driver;
        try
        {
            InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE)));
            driver = MediaDriverLauncher.launch(config.aeronDir());
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        final List<String> passThrough = new ArrayList<>(Arrays.asList(args));
        if (!passThrough.isEmpty() && "run".equals(passThrough.get(0)))
        {
            passThrough.remove(0);
        }
        final Child router = new Child("router", "mailgate.router.RouterMain", passThrough);
        final Child filter = new Child("filter", "mailgate.filter.FilterMain", passThrough);
        final String handoffConfig = config.get(SmtpdConfig.HANDOFF_CONFIG);
        final List<String> handoffArgs = new ArrayList<>(passThrough);
        handoffArgs.add("--handoff-config");
        handoffArgs.add(handoffConfig);
        final Child handoff = handoffConfig.isEmpty() ? null :
            new Child("handoff", "mailgate.handoff.HandoffMain", handoffArgs);
        final String rateConfig = config.get(SmtpdConfig.RATE_CONFIG);
        // the rate role replicates this host's counters to the cluster; smtpd counts in the shared file itself
        final Child rate = rateConfig.isEmpty() ? null :
            new Child("rate", "mailgate.rate.RateMain", List.of("--config", rateConfig));
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
        final Child smtpd = new Child("smtpd", "mailgate.reactor.SmtpdMain", smtpdArgs);
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
            driver.close();
            stopped.countDown();
        }, "mailgate-supervisor-stop").start();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        log("supervisor started (pid " + ProcessHandle.current().pid() + ", media driver in " +
            driver.aeronDirectoryName() + ")");
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
        private volatile Process process;
        private Thread watcher;

        Child(final String role, final String mainClass, final List<String> args)
        {
            this.role = role;
            command.add(ProcessHandle.current().info().command().orElse(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            for (final String jvmArg : ManagementFactory.getRuntimeMXBean().getInputArguments())
            {
                if (!jvmArg.startsWith("-Dmailgate.role="))
                {
                    command.add(jvmArg);
                }
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
            long backoffMs = 1000;
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
                    if (System.currentTimeMillis() - startedMs > 60_000)
                    {
                        backoffMs = 1000;
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
