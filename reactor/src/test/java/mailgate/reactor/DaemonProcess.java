package mailgate.reactor;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real mailgate SMTP daemon in its own JVM process, for tests that talk to it over TCP and kill it.
 * <p>
 * Its maillog (stdout) and diagnostics (stderr) go to files beside the spool, so a failing test can show them.
 */
public final class DaemonProcess implements AutoCloseable
{
    private static final long START_TIMEOUT_MS = 30_000;

    private final Process process;
    private final int port;
    private final Path spool;
    private final Path stdout;
    private final Path stderr;

    private DaemonProcess(final Process process, final int port, final Path spool, final Path stdout, final Path stderr)
    {
        this.process = process;
        this.port = port;
        this.spool = spool;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /**
     * Start a daemon on a free loopback port and wait until it listens.
     *
     * @param spool spool root (created by the daemon).
     * @param args  extra command-line arguments (e.g. "--config", file, "--event-loops", "2").
     * @return the running daemon.
     * @throws IOException if it could not start; the message holds its stderr.
     */
    public static DaemonProcess start(final Path spool, final String... args) throws IOException
    {
        return startOnPort(freePort(), spool, args);
    }

    /** Host name the daemons of {@link #startWithConfig} announce, so replies and Received headers are predictable. */
    public static final String TEST_HOSTNAME = "mx.example.test";

    /**
     * Start smtpd with a config file written from "key = value" lines, after smtpd.hostname = TEST_HOSTNAME and
     * two event loops.
     *
     * @param dir         a fresh directory; the spool is dir/NAME/spool, the config dir/NAME/NAME.cf.
     * @param name        a name for the config file and log files.
     * @param configLines further "key = value" lines.
     * @return the running daemon.
     * @throws IOException if it did not start.
     */
    public static DaemonProcess startWithConfig(final Path dir, final String name, final String... configLines)
        throws IOException
    {
        final Path base = dir.resolve(name);
        Files.createDirectories(base);
        final Path config = base.resolve(name + ".cf");
        final StringBuilder sb = new StringBuilder();
        sb.append("smtpd.hostname = ").append(TEST_HOSTNAME).append('\n');
        sb.append("smtpd.event-loops = 2\n");
        for (final String line : configLines)
        {
            sb.append(line).append('\n');
        }
        Files.writeString(config, sb.toString(), java.nio.charset.StandardCharsets.UTF_8);
        return start(base.resolve("spool"), "--config", config.toString());
    }

    /**
     * Start a daemon on a given port (a restart after kill -9 reuses the port).
     *
     * @param port  loopback port.
     * @param spool spool root.
     * @param args  extra arguments.
     * @return the running daemon.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startOnPort(final int port, final Path spool, final String... args) throws IOException
    {
        return launch(List.of(), List.of(), "mailgate.reactor.SmtpdMain", "127.0.0.1", port, spool, args);
    }

    /**
     * Start smtpd with extra JVM flags after the defaults (a later -Xmx or -XX flag overrides an earlier one),
     * e.g. to run it in a small heap.
     *
     * @param jvmFlags flags for the daemon's JVM.
     * @param spool    spool root.
     * @param args     extra arguments.
     * @return the running daemon.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startWithJvmFlags(final List<String> jvmFlags, final Path spool, final String... args)
        throws IOException
    {
        return launch(List.of(), jvmFlags, "mailgate.reactor.SmtpdMain", "127.0.0.1", freePort(), spool, args);
    }

    /**
     * Start "bin/mailgate run" as the operator would: the supervisor with an embedded media driver, the router
     * and smtpd as separate JVMs. Pass "--set ipc.aeron-dir=..." and "--set ipc.secret-file=..." to keep
     * tests apart. Ready when smtpd prints its listening line (which waits for a proven router).
     *
     * @param spool spool root.
     * @param args  extra arguments.
     * @return the running supervisor.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startSupervisor(final Path spool, final String... args) throws IOException
    {
        return launch(
            List.of(), List.of(), "mailgate.supervisor.SupervisorMain", "127.0.0.1", freePort(), spool, args);
    }

    /**
     * Start the supervisor with extra JVM flags after the defaults (a later -Xmx or -D overrides an earlier one).
     *
     * @param spool    spool root.
     * @param jvmFlags flags for the supervisor's JVM, which its children inherit.
     * @param args     extra arguments.
     * @return the running supervisor.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startSupervisorWithJvmFlags(final Path spool, final List<String> jvmFlags,
        final String... args) throws IOException
    {
        return launch(List.of(), jvmFlags, "mailgate.supervisor.SupervisorMain", "127.0.0.1", freePort(), spool, args);
    }

    /**
     * Start the supervisor under a launcher, e.g. {@code ip netns exec NS} to run a whole node in a network
     * namespace (the launcher must exec the JVM, so this process is the supervisor), listening on host:port.
     *
     * @param launcher command words put before the java command.
     * @param host     address to listen on (inside the launcher's namespace).
     * @param port     port.
     * @param spool    spool root.
     * @param args     extra arguments.
     * @return the running supervisor.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startSupervisor(
        final List<String> launcher, final String host, final int port, final Path spool, final String... args)
        throws IOException
    {
        return launch(launcher, List.of(), "mailgate.supervisor.SupervisorMain", host, port, spool, args);
    }

    private static DaemonProcess launch(
        final List<String> launcher,
        final List<String> jvmFlags,
        final String mainClass,
        final String host,
        final int port,
        final Path spool,
        final String... args)
        throws IOException
    {
        final Path logDir = spool.toAbsolutePath().getParent();
        Files.createDirectories(logDir);
        final Path stdout = Files.createTempFile(logDir, "maillog", ".log");
        final Path stderr = Files.createTempFile(logDir, "stderr", ".log");
        final List<String> command = new ArrayList<>(launcher);
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("-Xmx512m");
        command.add("-XX:+ExitOnOutOfMemoryError"); // as bin/mailgate runs it

        // Chronicle Map (the rate tracker's counter file, when rate.config is set) needs these (docs/rate-limits.md)
        command.addAll(List.of("--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
            "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
            "-Dchronicle.analytics.disable=true"));
        command.addAll(jvmFlags);
        command.add("-Dmailgate.role=" + ("mailgate.reactor.SmtpdMain".equals(mainClass) ? "smtpd" : "supervisor"));
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.add("--listen");
        command.add(host + ":" + port);
        command.add("--spool");
        command.add(spool.toString());
        command.addAll(List.of(args));
        final Process process = new ProcessBuilder(command)
            .redirectOutput(stdout.toFile())
            .redirectError(stderr.toFile())
            .start();
        final DaemonProcess daemon = new DaemonProcess(process, port, spool, stdout, stderr);
        final long deadline = System.currentTimeMillis() + START_TIMEOUT_MS;
        while (!daemon.stderr().contains("listening on"))
        {
            if (!process.isAlive())
            {
                throw new IOException("daemon exited with " + process.exitValue() + ": " + daemon.stderr());
            }
            if (System.currentTimeMillis() > deadline)
            {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new IOException("daemon did not listen within " + START_TIMEOUT_MS + " ms: " + daemon.stderr());
            }
            try
            {
                Thread.sleep(20);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IOException(ex);
            }
        }
        return daemon;
    }

    /**
     * @return a loopback port that was free a moment ago.
     * @throws IOException if none could be found.
     */
    public static int freePort() throws IOException
    {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()))
        {
            return socket.getLocalPort();
        }
    }

    public int port()
    {
        return port;
    }

    public long pid()
    {
        return process.pid();
    }

    public Path spool()
    {
        return spool;
    }

    public Path queueDir()
    {
        return spool.resolve("queue");
    }

    public Process process()
    {
        return process;
    }

    /**
     * @return the maillog written so far.
     */
    public String maillog()
    {
        return read(stdout);
    }

    /**
     * @return stderr written so far.
     */
    public String stderr()
    {
        return read(stderr);
    }

    /**
     * SIGKILL, then wait for the process to be gone.
     *
     * @throws InterruptedException if interrupted while waiting.
     */
    public void kill9() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /**
     * SIGTERM (graceful stop) and wait.
     *
     * @param timeoutMs how long to wait.
     * @return the exit status, or -1 if it did not exit in time.
     * @throws InterruptedException if interrupted while waiting.
     */
    public int terminate(final long timeoutMs) throws InterruptedException
    {
        process.destroy();
        return process.waitFor(timeoutMs, TimeUnit.MILLISECONDS) ? process.exitValue() : -1;
    }

    /**
     * @param role a child role of a supervisor ("router", "smtpd").
     * @return the pid of that child now, or -1.
     */
    public long childPid(final String role)
    {
        // /proc/PID/cmdline, not ProcessHandle.Info: the JDK gives up on long command lines (~4 KiB)
        final String marker = "-Dmailgate.role=" + role;
        return process.descendants()
            .filter((p) -> read(Path.of("/proc", Long.toString(p.pid()), "cmdline")).contains(marker + '\0'))
            .mapToLong(ProcessHandle::pid).findFirst().orElse(-1);
    }

    public void close() throws InterruptedException
    {
        final List<ProcessHandle> children = process.descendants().collect(java.util.stream.Collectors.toList());
        if (process.isAlive())
        {
            if (terminate(30_000) < 0)
            {
                kill9();
            }
        }
        for (final ProcessHandle child : children)
        {
            child.destroyForcibly();
        }
    }

    private static String read(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(cannot read " + file + ": " + ex + ")";
        }
    }
}
