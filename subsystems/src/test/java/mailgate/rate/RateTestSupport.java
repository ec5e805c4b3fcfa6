package mailgate.rate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Helpers for rate tests: unique 0700 directories under /dev/shm and free loopback UDP ports.
 */
final class RateTestSupport
{
    /** Flags every JVM that opens a counter file needs, plus Agrona's. */
    static final String[] JVM_FLAGS =
    {
        "--add-opens=java.base/java.lang=ALL-UNNAMED",
        "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
        "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
        "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
        "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
        "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
        "-Dchronicle.analytics.disable=true", // RateStore sets it too; no Chronicle usage pings from tests
    };

    private RateTestSupport()
    {
    }

    static Path newShmDir(final String what)
    {
        final Path shm = Path.of("/dev/shm");
        final Path base = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        final Path dir = base.resolve("mailgate-rate-test-" + what + "-" + UUID.randomUUID());
        try
        {
            return Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }

    static void delete(final Path dir)
    {
        if (null == dir || !Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        catch (final IOException ex)
        {
            System.err.println("cannot clean " + dir + ": " + ex);
        }
    }

    /**
     * A loopback UDP port that is free now, taken below Linux's ephemeral range (32768+): a port the kernel
     * handed out once can be handed out again as the source port of some other socket (an Aeron publication's
     * send channel), which would then steal the datagrams meant for the node that binds it later.
     */
    static int freeUdpPort()
    {
        final java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 200; attempt++)
        {
            final int port = random.nextInt(20_000, 32_000);
            try (DatagramSocket socket = new DatagramSocket(port, InetAddress.getLoopbackAddress()))
            {
                return socket.getLocalPort();
            }
            catch (final IOException ignore)
            {
                // taken: try another
            }
        }
        throw new IllegalStateException("no free UDP port in 20000..32000");
    }
}
