/*
 * SUMMARY
 * Start-up check of queue/ and quarantine/: every file must be a complete spool file (envelope, size and
 * CRC32C matching its message part). A file that is not is moved to corrupt/ and logged.
 *
 * DESCRIPTION
 * The group commit renames a file into queue/ before its data and the directory are fsync'd together (one
 * disk flush instead of two). Nobody gets a 250 before both are durable, but an operating-system crash between
 * the rename and the flush can leave an incomplete file behind; this check keeps it from the delivery side.
 * A process crash (kill -9) cannot cause it: the page cache holds the complete file.
 *
 * LIMITS
 * Reads every queued byte once at start (about disk read speed); the envelope is read up to 1 MiB.
 */
package mailgate.reactor.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Verifies spool files and moves incomplete ones aside.
 */
public final class SpoolVerifier
{
    private static final int MAX_ENVELOPE = 1 << 20;

    private SpoolVerifier()
    {
    }

    /**
     * @param dir       queue/ or quarantine/.
     * @param corrupt   where bad files go (created on demand, mode 0700 via the caller).
     * @return the names of the files moved aside.
     * @throws IOException if the directory cannot be listed or a file not moved.
     */
    static List<String> verifyAll(final Path dir, final Path corrupt) throws IOException
    {
        final List<String> moved = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir))
        {
            for (final Path file : files)
            {
                if (!isComplete(file))
                {
                    Files.move(file, corrupt.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    moved.add(file.getFileName().toString());
                }
            }
        }
        return moved;
    }

    /**
     * @param file a spool file.
     * @return true when it is a regular file whose envelope is complete and whose size and checksum match.
     */
    public static boolean isComplete(final Path file)
    {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
        {
            return false;
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final long length = channel.size();
            final ByteBuffer head = ByteBuffer.allocate((int)Math.min(length, MAX_ENVELOPE));
            while (head.hasRemaining() && channel.read(head) > 0)
            {
                // read the envelope part
            }
            final String text = new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1);
            final int end = text.indexOf("\n\n");
            if (!text.startsWith(SpoolFormat.MAGIC + "\n") || end < 0)
            {
                return false;
            }
            final long size = Long.parseLong(field(text, end, "size: "));
            final int crc = (int)Long.parseLong(field(text, end, "crc32c: "), 16);
            final long start = end + 2;
            if (start + size != length)
            {
                return false;
            }
            final CRC32C actual = new CRC32C();
            final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            long position = start;
            while (position < length)
            {
                buffer.clear();
                final int read = channel.read(buffer, position);
                if (read <= 0)
                {
                    return false;
                }
                buffer.flip();
                actual.update(buffer);
                position += read;
            }
            return (int)actual.getValue() == crc;
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;
        }
    }

    private static String field(final String envelope, final int end, final String key)
    {
        final int at = envelope.indexOf("\n" + key);
        if (at < 0 || at > end)
        {
            throw new IllegalArgumentException("no " + key);
        }
        final int valueStart = at + 1 + key.length();
        return envelope.substring(valueStart, envelope.indexOf('\n', valueStart));
    }
}
