package mailgate.filter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * Writes spool files in the format of docs/spool-format.md, as smtpd leaves them in tmp/ when it asks the filter.
 */
final class SpoolFixture
{
    private static final AtomicLong SEQ = new AtomicLong(0x1A212E5246E00000L);

    final Path root;
    final Path tmp;

    /** A message reference as smtpd would send it. */
    record Ref(String queueId, long size, int checksum)
    {
    }

    SpoolFixture(final Path root) throws IOException
    {
        this.root = root;
        this.tmp = root.resolve("tmp");
        Files.createDirectories(tmp);
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
    }

    static String nextId()
    {
        return String.format("%016X", SEQ.incrementAndGet());
    }

    static int crc(final byte[] message)
    {
        final CRC32C crc = new CRC32C();
        crc.update(message);
        return (int)crc.getValue();
    }

    static byte[] envelope(final String id, final long size, final int crc)
    {
        final String text = SpoolReference.MAGIC + "\n" +
            "id: " + id + "\n" +
            "arrival: 1795613336686\n" +
            "client-address: 192.0.2.7\n" +
            "client-port: 48868\n" +
            "helo: client.example\n" +
            "protocol: ESMTP\n" +
            "mail: <a@example.com> BODY=8BITMIME\n" +
            "rcpt: <b@example.com>\n" +
            "size: " + String.format("%020d", size) + "\n" +
            "crc32c: " + String.format("%08x", crc) + "\n" +
            "\n";
        return text.getBytes(StandardCharsets.UTF_8);
    }

    Ref write(final byte[] message) throws IOException
    {
        return write(nextId(), message);
    }

    Ref write(final String id, final byte[] message) throws IOException
    {
        final int crc = crc(message);
        final byte[] env = envelope(id, message.length, crc);
        final byte[] all = new byte[env.length + message.length];
        System.arraycopy(env, 0, all, 0, env.length);
        System.arraycopy(message, 0, all, env.length, message.length);
        final Path file = tmp.resolve(id);
        Files.write(file, all);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return new Ref(id, message.length, crc);
    }

    Ref write(final String message) throws IOException
    {
        return write(message.replace("\r\n", "\n").replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    Path file(final Ref ref)
    {
        return tmp.resolve(ref.queueId());
    }
}
