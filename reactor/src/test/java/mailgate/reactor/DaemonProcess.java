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
        final Path logDir = spool.toAbsolutePath().getParent();
        Files.createDirectories(logDir);
        final Path stdout = Files.createTempFile(logDir, "maillog", ".log");
        final Path stderr = Files.createTempFile(logDir, "stderr", ".log");
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("-Xmx512m");
        command.add("-Dmailgate.role=smtpd");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("mailgate.reactor.SmtpdMain");
        command.add("--listen");
        command.add("127.0.0.1:" + port);
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

    public void close() throws InterruptedException
    {
        if (process.isAlive())
        {
            if (terminate(20_000) < 0)
            {
                kill9();
            }
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
