package mailgate.bench.jmh;

import mailgate.reactor.MailLog;
import mailgate.reactor.smtp.BareLfMode;
import mailgate.reactor.smtp.SmtpSettings;
import mailgate.reactor.status.LoopCounters;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Shared set-up for the JMH benchmarks: counters, a maillog that goes nowhere, and scratch directories.
 */
final class BenchFixtures
{
    /** Agrona's UnsafeApi needs jdk.internal.misc in every forked JVM. */
    static final String ADD_EXPORTS = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    /** tmpfs: spool writes there are memory copies. */
    static final Path SHM = Path.of("/dev/shm");

    private BenchFixtures()
    {
    }

    /**
     * @param hardErrorLimit 4xx/5xx replies before the session closes with 421.
     * @return settings as the daemon would build them, without greet pause.
     */
    static SmtpSettings settings(final int hardErrorLimit)
    {
        return new SmtpSettings(
            "mx.bench.example", 64L * 1024 * 1024, 100, hardErrorLimit, 300_000, 300_000, 0, 10_000,
            BareLfMode.NORMALIZE);
    }

    static LoopCounters counters()
    {
        return new LoopCounters(new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024 * 4)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024))), 0);
    }

    /**
     * @return a maillog whose writer is never started: lines are built and queued, then dropped when full.
     */
    static MailLog nullMailLog()
    {
        return new MailLog(OutputStream.nullOutputStream(), "smtpd");
    }

    /**
     * @param base existing directory to create it in.
     * @return a new empty directory, to hold a spool root.
     */
    static Path tempDir(final Path base)
    {
        try
        {
            return Files.createTempDirectory(base, "mailgate-jmh-");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * @return a directory on the real disk: benchmarks/target when run from the project root, else target,
     * else java.io.tmpdir; -Dmailgate.bench.disk=DIR overrides.
     */
    static Path diskBase()
    {
        final String configured = System.getProperty("mailgate.bench.disk");
        if (null != configured)
        {
            return Path.of(configured);
        }
        for (final String candidate : new String[]{ "benchmarks/target", "target" })
        {
            final Path path = Path.of(candidate);
            if (Files.isDirectory(path))
            {
                return path;
            }
        }
        return Path.of(System.getProperty("java.io.tmpdir"));
    }

    /**
     * Remove every regular file directly in dir (queued messages the benchmark made).
     *
     * @param dir the directory.
     */
    static void deleteFiles(final Path dir)
    {
        final List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir))
        {
            stream.forEach(files::add);
            for (final Path file : files)
            {
                Files.deleteIfExists(file);
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    /**
     * Remove a directory tree.
     *
     * @param root the tree.
     */
    static void deleteTree(final Path root)
    {
        if (null == root || !Files.exists(root))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(root))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((path) ->
            {
                try
                {
                    Files.deleteIfExists(path);
                }
                catch (final IOException ex)
                {
                    throw new UncheckedIOException(ex);
                }
            });
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
