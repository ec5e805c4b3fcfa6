/*
 * SUMMARY
 * Opens a message the SMTP side names by reference (queue id, message size, CRC32C), never by path, and
 * refuses anything that is not exactly the file the SMTP side wrote.
 *
 * DESCRIPTION
 * The reference names "<spool>/tmp/<queueId>". The queue id must be 16 upper-case hex digits, so no "/",
 * no "..", no NUL: a path outside tmp/ cannot even be written. Before opening, the spool root and tmp/ must
 * be real directories (not symlinks) owned by our uid, and the file a regular file owned by our uid. It is
 * opened with O_NOFOLLOW, its identity (device, inode) compared before and after the open, its envelope
 * parsed (at most 1 MiB) and checked against the reference: id, size and crc32c fields, and file length
 * = envelope + message size. The message part is then streamed to the scanner while its CRC32C is computed;
 * at its end the CRC must equal the reference's checksum.
 *
 * SECURITY
 * The threat is a local user (or a bug) making the filter judge, or read, a file other than the one the
 * SMTP side finished: a symlink planted in tmp/ (to /etc/shadow, or to another message), a path in the
 * request, a file swapped or truncated between the SMTP side's write and the scan. The owner and identity
 * checks keep other users' files out; size and checksum tie the verdict to the bytes the SMTP side wrote,
 * so a verdict can never be about different content. Java has no fstat(2): owner and type are checked with
 * lstat(2) just before and just after the O_NOFOLLOW open, and the inode compared; the checksum covers the
 * remaining window. Every refusal throws ReferenceRefusedException with a reason that is counted.
 *
 * BUGS
 * A FIFO swapped in between the lstat and the open would block the open (Java cannot pass O_NONBLOCK); only
 * the daemon's own uid can write tmp/ (0700), and the scan deadline still answers the requester.
 */
package mailgate.filter;

import com.sun.security.auth.module.UnixSystem;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The filter's only way into the spool: validates a message reference and opens the message part.
 */
public final class SpoolReference
{
    /** A queue id: 16 upper-case hex digits (docs/spool-format.md). */
    public static final Pattern QUEUE_ID = Pattern.compile("^[0-9A-F]{16}$");
    /** Longest envelope read before giving up on it. */
    public static final int MAX_ENVELOPE = 1 << 20;
    /** First line of every spool file. */
    public static final String MAGIC = "MAILGATE-SPOOL 1";

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    private final Path root;
    private final Path tmp;
    private final long uid;

    /**
     * @param spoolRoot the spool root (spool.directory); it need not exist yet.
     */
    public SpoolReference(final Path spoolRoot)
    {
        this.root = spoolRoot.toAbsolutePath().normalize();
        this.tmp = root.resolve("tmp");
        this.uid = new UnixSystem().getUid();
    }

    public Path root()
    {
        return root;
    }

    /**
     * Validate the reference and open its message part.
     *
     * @param queueId     the queue id from the request.
     * @param messageSize octets of the message part, from the request.
     * @param checksum    CRC32C of the message part, from the request.
     * @return the message part as a stream that verifies size and checksum at its end.
     * @throws ReferenceRefusedException when anything does not match.
     */
    public SpoolMessageStream open(final String queueId, final long messageSize, final int checksum)
        throws ReferenceRefusedException
    {
        if (null == queueId || !QUEUE_ID.matcher(queueId).matches())
        {
            throw new ReferenceRefusedException(Refusal.BAD_ID, "queue id '" + printable(queueId) +
                "' is not 16 upper-case hex digits");
        }
        if (messageSize < 0)
        {
            throw new ReferenceRefusedException(Refusal.SIZE, "negative message size " + messageSize);
        }
        checkDirectory(root, "spool root");
        checkDirectory(tmp, "spool tmp/");
        final Path file = tmp.resolve(queueId);
        final BasicFileAttributes before = checkFile(file);
        final SeekableByteChannel channel;
        try
        {
            channel = Files.newByteChannel(file, Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS));
        }
        catch (final NoSuchFileException ex)
        {
            throw new ReferenceRefusedException(Refusal.NOT_FOUND, file + " vanished while being opened");
        }
        catch (final FileSystemException ex)
        {
            // O_NOFOLLOW on a symlink fails with ELOOP: the file was swapped for a link after the lstat
            final String message = String.valueOf(ex.getReason());
            throw new ReferenceRefusedException(message.contains("symbolic link") ? Refusal.SYMLINK : Refusal.IO,
                file + ": " + message);
        }
        catch (final IOException ex)
        {
            throw new ReferenceRefusedException(Refusal.IO, file + ": " + ex);
        }
        boolean ok = false;
        try
        {
            final BasicFileAttributes after = checkFile(file);
            if (!Objects.equals(before.fileKey(), after.fileKey()))
            {
                throw new ReferenceRefusedException(Refusal.SWAPPED, file + " changed identity while being opened");
            }
            final long fileLength = channel.size();
            final Envelope envelope = readEnvelope(channel, fileLength, file);
            if (!queueId.equals(envelope.id))
            {
                throw new ReferenceRefusedException(Refusal.ENVELOPE, file + " holds message '" +
                    printable(envelope.id) + "', not " + queueId);
            }
            if (envelope.size != messageSize)
            {
                throw new ReferenceRefusedException(Refusal.SIZE, file + ": envelope says " + envelope.size +
                    " octets, reference says " + messageSize);
            }
            if (envelope.length + messageSize != fileLength)
            {
                throw new ReferenceRefusedException(Refusal.SIZE, file + ": " + (fileLength - envelope.length) +
                    " octets follow the envelope, expected " + messageSize + " (truncated or appended)");
            }
            if (envelope.crc32c != checksum)
            {
                throw new ReferenceRefusedException(Refusal.CHECKSUM, file + ": envelope crc32c " +
                    hex(envelope.crc32c) + ", reference " + hex(checksum));
            }
            channel.position(envelope.length);
            final SpoolMessageStream stream = new SpoolMessageStream(
                channel, file, messageSize, checksum, envelope.recipients);
            ok = true;
            return stream;
        }
        catch (final ReferenceRefusedException ex)
        {
            throw ex;
        }
        catch (final IOException ex)
        {
            throw new ReferenceRefusedException(Refusal.IO, file + ": " + ex);
        }
        finally
        {
            if (!ok)
            {
                closeQuietly(channel);
            }
        }
    }

    private void checkDirectory(final Path dir, final String what) throws ReferenceRefusedException
    {
        final BasicFileAttributes attributes;
        try
        {
            attributes = Files.readAttributes(dir, BasicFileAttributes.class, NOFOLLOW);
        }
        catch (final NoSuchFileException ex)
        {
            throw new ReferenceRefusedException(Refusal.NOT_FOUND, what + " " + dir + " does not exist");
        }
        catch (final IOException ex)
        {
            throw new ReferenceRefusedException(Refusal.IO, what + " " + dir + ": " + ex);
        }
        if (attributes.isSymbolicLink())
        {
            throw new ReferenceRefusedException(Refusal.SYMLINK, what + " " + dir + " is a symbolic link");
        }
        if (!attributes.isDirectory())
        {
            throw new ReferenceRefusedException(Refusal.NOT_REGULAR, what + " " + dir + " is not a directory");
        }
        checkOwner(dir, what);
    }

    private BasicFileAttributes checkFile(final Path file) throws ReferenceRefusedException
    {
        final BasicFileAttributes attributes;
        try
        {
            attributes = Files.readAttributes(file, BasicFileAttributes.class, NOFOLLOW);
        }
        catch (final NoSuchFileException ex)
        {
            throw new ReferenceRefusedException(Refusal.NOT_FOUND, file + " does not exist");
        }
        catch (final IOException ex)
        {
            throw new ReferenceRefusedException(Refusal.IO, file + ": " + ex);
        }
        if (attributes.isSymbolicLink())
        {
            throw new ReferenceRefusedException(Refusal.SYMLINK, file + " is a symbolic link");
        }
        if (!attributes.isRegularFile())
        {
            throw new ReferenceRefusedException(Refusal.NOT_REGULAR, file + " is not a regular file");
        }
        checkOwner(file, "message file");
        return attributes;
    }

    private void checkOwner(final Path path, final String what) throws ReferenceRefusedException
    {
        final int owner;
        try
        {
            owner = (Integer)Files.getAttribute(path, "unix:uid", NOFOLLOW);
        }
        catch (final IOException ex)
        {
            throw new ReferenceRefusedException(Refusal.IO, what + " " + path + ": " + ex);
        }
        if (owner != uid)
        {
            throw new ReferenceRefusedException(Refusal.OWNER, what + " " + path + " is owned by uid " + owner +
                ", not by uid " + uid + " (the filter's)");
        }
    }

    private static Envelope readEnvelope(final SeekableByteChannel channel, final long fileLength, final Path file)
        throws IOException
    {
        final int limit = (int)Math.min(MAX_ENVELOPE, fileLength);
        final ByteBuffer buffer = ByteBuffer.allocate(Math.min(limit, 8192));
        byte[] bytes = new byte[Math.min(limit, 8192)];
        int filled = 0;
        int end = -1;
        int scanned = 0;
        while (end < 0)
        {
            buffer.clear();
            buffer.limit(Math.min(buffer.capacity(), limit - filled));
            if (0 == buffer.limit())
            {
                break;
            }
            final int read = channel.read(buffer);
            if (read <= 0)
            {
                break;
            }
            if (filled + read > bytes.length)
            {
                bytes = java.util.Arrays.copyOf(bytes, Math.min(limit, Math.max(bytes.length * 2, filled + read)));
            }
            buffer.flip();
            buffer.get(bytes, filled, read);
            filled += read;
            for (int i = Math.max(1, scanned); i < filled; i++)
            {
                if ('\n' == bytes[i] && '\n' == bytes[i - 1])
                {
                    end = i + 1;
                    break;
                }
            }
            scanned = filled;
        }
        if (end < 0)
        {
            throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": no end of envelope within " +
                limit + " octets");
        }
        final String text = new String(bytes, 0, end - 2, StandardCharsets.UTF_8);
        final String[] lines = text.split("\n", -1);
        if (!MAGIC.equals(lines[0]))
        {
            throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": first line is not '" + MAGIC + "'");
        }
        final Envelope envelope = new Envelope();
        envelope.length = end;
        boolean haveSize = false;
        boolean haveCrc = false;
        for (int i = 1; i < lines.length; i++)
        {
            final String line = lines[i];
            final int colon = line.indexOf(": ");
            if (colon <= 0)
            {
                throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": envelope line " + (i + 1) +
                    " is not 'key: value'");
            }
            final String key = line.substring(0, colon);
            final String value = line.substring(colon + 2);
            switch (key)
            {
                case "id":
                    envelope.id = value;
                    break;
                case "size":
                    if (20 != value.length() || !value.chars().allMatch((c) -> c >= '0' && c <= '9'))
                    {
                        throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": size field '" +
                            printable(value) + "' is not 20 digits");
                    }
                    try
                    {
                        envelope.size = Long.parseLong(value);
                    }
                    catch (final NumberFormatException ex)
                    {
                        throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": size field out of range");
                    }
                    haveSize = true;
                    break;
                case "crc32c":
                    if (8 != value.length() || !value.chars().allMatch((c) -> (c >= '0' && c <= '9') ||
                        (c >= 'a' && c <= 'f')))
                    {
                        throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": crc32c field '" +
                            printable(value) + "' is not 8 lower-case hex digits");
                    }
                    envelope.crc32c = Integer.parseUnsignedInt(value, 16);
                    haveCrc = true;
                    break;
                case "rcpt":
                    envelope.recipients++;
                    break;
                default:
                    // later format versions add keys: skip what we do not know
                    break;
            }
        }
        if (null == envelope.id || !haveSize || !haveCrc)
        {
            throw new ReferenceRefusedException(Refusal.ENVELOPE, file + ": envelope lacks id, size or crc32c");
        }
        return envelope;
    }

    static String hex(final int crc)
    {
        return String.format("%08x", crc);
    }

    static String printable(final String s)
    {
        if (null == s)
        {
            return "(none)";
        }
        final StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && i < 80; i++)
        {
            final char c = s.charAt(i);
            sb.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return s.length() > 80 ? sb.append("...").toString() : sb.toString();
    }

    private static void closeQuietly(final SeekableByteChannel channel)
    {
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // nothing to do
        }
    }

    private static final class Envelope
    {
        String id;
        long size;
        int crc32c;
        int length;
        int recipients;
    }
}
