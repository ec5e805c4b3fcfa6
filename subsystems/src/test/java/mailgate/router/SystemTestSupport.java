package mailgate.router;

import mailgate.reactor.DaemonProcess;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Shared pieces of the subsystems' system tests: per-test /dev/shm rendezvous directories, router tables,
 * child JVMs started like DaemonProcess starts them, and smtpd's counters file.
 */
public final class SystemTestSupport
{
    /** Counter type ids of smtpd (reactor's SmtpdCounter). */
    public static final int IPC_REQUESTS = 2019;
    public static final int IPC_UNAVAILABLE = 2020;
    public static final int IPC_OFFER_FAILURES = 2021;
    public static final int IPC_REPLIES_DROPPED = 2022;

    private SystemTestSupport()
    {
    }

    /**
     * Start the supervisor ("bin/mailgate run") for a test: spool and install secret under tmp, the Aeron directory
     * under shm (from {@link #uniqueShmDir()}), so tests never share one.
     *
     * @param tmp  the test's temporary directory.
     * @param shm  the test's /dev/shm directory.
     * @param args further arguments ("--set", "router.tables=...", "--event-loops", "2", ...).
     * @return the running supervisor.
     * @throws IOException if it could not start.
     */
    public static DaemonProcess startSupervisor(final Path tmp, final Path shm, final String... args)
        throws IOException
    {
        final List<String> all = new ArrayList<>(List.of(
            "--set", "ipc.aeron-dir=" + shm.resolve("aeron"),
            "--set", "ipc.secret-file=" + tmp.resolve("secret")));
        all.addAll(List.of(args));
        return DaemonProcess.startSupervisor(tmp.resolve("spool"), all.toArray(new String[0]));
    }

    /**
     * @return a fresh, not yet existing /dev/shm/mg-test-XXXX path (the parent of a test's Aeron directory).
     */
    public static Path uniqueShmDir()
    {
        return Path.of("/dev/shm", "mg-test-" + UUID.randomUUID().toString().substring(0, 12));
    }

    /**
     * Delete a tree without following symbolic links (a link itself is removed, not its target).
     *
     * @param root the tree.
     */
    public static void deleteTree(final Path root)
    {
        if (null == root || !Files.exists(root, LinkOption.NOFOLLOW_LINKS))
        {
            return;
        }
        if (Files.isSymbolicLink(root))
        {
            try
            {
                Files.deleteIfExists(root);
            }
            catch (final IOException ignore)
            {
                // best effort
            }
            return;
        }
        try (Stream<Path> walk = Files.walk(root))
        {
            walk.sorted(Comparator.reverseOrder()).forEach((p) ->
            {
                try
                {
                    Files.deleteIfExists(p);
                }
                catch (final IOException ignore)
                {
                    // best effort
                }
            });
        }
        catch (final IOException ignore)
        {
            // best effort
        }
    }

    /**
     * Write the standard test tables.
     *
     * @param dir directory (created).
     * @return the directory.
     * @throws IOException on write errors.
     */
    public static Path standardTables(final Path dir) throws IOException
    {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("local-domains"), "# mail for these is ours\nexample.test\ncatchall.test\n");
        Files.writeString(dir.resolve("recipients"), "alice@example.test\n@catchall.test\n");
        Files.writeString(dir.resolve("aliases"), "info@example.test alice@example.test\n");
        Files.writeString(dir.resolve("relay-networks"), "# nobody may relay, loopback included\n");
        Files.writeString(dir.resolve("sender-access"), "spammer@bad.test REJECT\nbad2.test 450 4.7.1 try later\n");
        return dir;
    }

    /**
     * Replace a table file atomically (write a temporary beside it, rename over it), as a careful operator does.
     *
     * @param file    the table.
     * @param content new content.
     * @throws IOException on write errors.
     */
    public static void replaceFile(final Path file, final String content) throws IOException
    {
        final Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.writeString(tmp, content);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /**
     * Start a child JVM the way DaemonProcess does (same java, flags, class path), output to files.
     *
     * @param mainClass main class.
     * @param logPrefix stdout/stderr go to logPrefix.out / logPrefix.err.
     * @param args      arguments.
     * @return the process.
     * @throws IOException if it cannot start.
     */
    public static Process startJvm(final String mainClass, final Path logPrefix, final String... args)
        throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("-Xmx256m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(mainClass);
        command.addAll(List.of(args));
        return new ProcessBuilder(command)
            .redirectOutput(out(logPrefix).toFile())
            .redirectError(err(logPrefix).toFile())
            .start();
    }

    public static Path out(final Path logPrefix)
    {
        return logPrefix.resolveSibling(logPrefix.getFileName() + ".out");
    }

    public static Path err(final Path logPrefix)
    {
        return logPrefix.resolveSibling(logPrefix.getFileName() + ".err");
    }

    /**
     * @param file a log file.
     * @return its text so far, or "" when missing.
     */
    public static String read(final Path file)
    {
        try
        {
            return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
        }
        catch (final IOException ex)
        {
            return "(cannot read " + file + ": " + ex + ")";
        }
    }

    /**
     * Wait until a process writes a line to its stderr log, or fail.
     *
     * @param process   the process.
     * @param logPrefix its log prefix.
     * @param text      text to wait for.
     * @param timeoutMs deadline.
     * @throws IOException when it died or the deadline passed.
     * @throws InterruptedException if interrupted.
     */
    public static void awaitStderr(final Process process, final Path logPrefix, final String text, final long timeoutMs)
        throws IOException, InterruptedException
    {
        final long deadline = System.currentTimeMillis() + timeoutMs;
        while (!read(err(logPrefix)).contains(text))
        {
            if (!process.isAlive())
            {
                throw new IOException(logPrefix.getFileName() + " exited with " + process.exitValue() + ": " +
                    read(err(logPrefix)));
            }
            if (System.currentTimeMillis() > deadline)
            {
                throw new IOException(logPrefix.getFileName() + " did not print '" + text + "' within " + timeoutMs +
                    " ms: " + read(err(logPrefix)));
            }
            process.waitFor(20, TimeUnit.MILLISECONDS);
        }
    }

    /**
     * SIGTERM, then SIGKILL if it does not go within the grace; only for processes the test started.
     *
     * @param process the process (may be null).
     * @param graceMs time for a graceful stop.
     */
    public static void stop(final Process process, final long graceMs)
    {
        if (null == process)
        {
            return;
        }
        final List<ProcessHandle> descendants = process.descendants().toList();
        process.destroy();
        try
        {
            if (!process.waitFor(graceMs, TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        descendants.forEach(ProcessHandle::destroyForcibly);
    }

    /**
     * Sum smtpd's counters of one type over all loops, read from {@code <spool>/run/counters.dat} the way the
     * inspection tool does (read-only mapping, Agrona CountersReader).
     *
     * @param spool  smtpd's spool root.
     * @param typeId counter type id.
     * @return the sum, or -1 when the file is not there (yet).
     */
    public static long smtpdCounter(final Path spool, final int typeId)
    {
        final Path file = mailgate.reactor.status.StatusFile.find(spool.resolve("run"));
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
        {
            return -1;
        }
        MappedByteBuffer mapped = null;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, 4096);
            if (0x4D47_5354 != header.getInt(0, ByteOrder.LITTLE_ENDIAN))
            {
                return -1;
            }
            final int metadataLength = header.getInt(32, ByteOrder.LITTLE_ENDIAN);
            final int valuesLength = header.getInt(36, ByteOrder.LITTLE_ENDIAN);
            final CountersReader reader = new CountersReader(
                new UnsafeBuffer(mapped, 4096, metadataLength),
                new UnsafeBuffer(mapped, 4096 + metadataLength, valuesLength));
            final long[] sum = {0};
            reader.forEach((counterId, type, key, label) ->
            {
                if (type == typeId)
                {
                    sum[0] += reader.getCounterValue(counterId);
                }
            });
            return sum[0];
        }
        catch (final IOException ex)
        {
            return -1;
        }
        finally
        {
            if (null != mapped)
            {
                IoUtil.unmap(mapped);
            }
        }
    }

    /**
     * @param haystack text.
     * @param needle   text to count.
     * @return occurrences.
     */
    public static int count(final String haystack, final String needle)
    {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length()))
        {
            n++;
        }
        return n;
    }
}
