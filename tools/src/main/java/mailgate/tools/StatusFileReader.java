/*
 * SUMMARY
 * Read-only view of the daemon's status file (StatusFile.find locates it; layout: reactor's StatusFile).
 *
 * DESCRIPTION
 * Maps the whole file READ_ONLY, checks magic, version and that the metadata and values lengths fit the
 * file, then hands out an Agrona CountersReader over the two regions. The mapping stays valid after the
 * daemon died or replaced the file (a restart renames a new file over it), which is what post-mortem
 * reading needs; {@link #isReplaced()} tells a watcher to reopen.
 *
 * LIMITS
 * Liveness is judged by pid (plus /proc's zombie state on Linux and the process start time against the
 * file's), so it is only right inside the daemon's pid namespace.
 *
 * SECURITY
 * Never maps writable, never follows a symlink at the file itself. A file we cannot read is reported with
 * its path; the tool does not try other paths.
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import mailgate.reactor.status.StatusFile;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * A mapped, validated, read-only status file.
 */
final class StatusFileReader implements AutoCloseable
{
    private final Path file;
    private final Object fileKey;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final CountersReader counters;

    private StatusFileReader(
        final Path file, final Object fileKey, final MappedByteBuffer mapped, final int metadataLength,
        final int valuesLength)
    {
        this.file = file;
        this.fileKey = fileKey;
        this.mapped = mapped;
        this.header = new UnsafeBuffer(mapped, 0, StatusFile.HEADER_LENGTH);
        this.counters = new CountersReader(
            new UnsafeBuffer(mapped, StatusFile.HEADER_LENGTH, metadataLength),
            new UnsafeBuffer(mapped, StatusFile.HEADER_LENGTH + metadataLength, valuesLength));
    }

    /**
     * Map and validate.
     *
     * @param file path of counters.dat.
     * @return the reader.
     * @throws InspectException (exit 1) when missing, unreadable, or not a status file of our version.
     */
    static StatusFileReader open(final Path file) throws InspectException
    {
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS))
        {
            throw InspectException.unreadable("no status file at " + file +
                " (has a daemon run with this spool? choose it with --spool DIR)");
        }
        final BasicFileAttributes attributes;
        final MappedByteBuffer mapped;
        try
        {
            attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isRegularFile())
            {
                throw InspectException.unreadable("not a regular file: " + file);
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
            {
                final long size = channel.size();
                if (size < StatusFile.HEADER_LENGTH || size > Integer.MAX_VALUE)
                {
                    throw InspectException.unreadable("not a mailgate status file (" + size + " bytes): " + file);
                }
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
            }
        }
        catch (final AccessDeniedException ex)
        {
            throw InspectException.unreadable("cannot read " + file + ": permission denied (run as the daemon's user)");
        }
        catch (final IOException ex)
        {
            throw InspectException.unreadable("cannot read " + file + ": " + ex);
        }

        try
        {
            final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, StatusFile.HEADER_LENGTH);
            final int magic = header.getInt(0, ByteOrder.LITTLE_ENDIAN);
            if (StatusFile.MAGIC != magic)
            {
                throw InspectException.unreadable(String.format(
                    "not a mailgate status file (magic 0x%08x, expected 0x%08x): %s", magic, StatusFile.MAGIC, file));
            }
            final int version = header.getInt(4, ByteOrder.LITTLE_ENDIAN);
            if (StatusFile.VERSION != version)
            {
                throw InspectException.unreadable("status file version " + version + ", this tool reads version " +
                    StatusFile.VERSION + ": " + file);
            }
            final int metadataLength = header.getInt(StatusFile.METADATA_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final int valuesLength = header.getInt(StatusFile.VALUES_LENGTH_OFFSET, ByteOrder.LITTLE_ENDIAN);
            final int ratio = CountersReader.METADATA_LENGTH / CountersReader.COUNTER_LENGTH;
            if (valuesLength <= 0 || 0 != valuesLength % CountersReader.COUNTER_LENGTH ||
                (long)metadataLength != (long)valuesLength * ratio ||
                (long)StatusFile.HEADER_LENGTH + metadataLength + valuesLength > mapped.capacity())
            {
                throw InspectException.unreadable("corrupt status file header (metadata " + metadataLength +
                    " bytes, values " + valuesLength + " bytes, file " + mapped.capacity() + " bytes): " + file);
            }
            return new StatusFileReader(file, attributes.fileKey(), mapped, metadataLength, valuesLength);
        }
        catch (final InspectException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    Path file()
    {
        return file;
    }

    CountersReader counters()
    {
        return counters;
    }

    long pid()
    {
        return header.getLong(StatusFile.PID_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    long startTimeMs()
    {
        return header.getLong(StatusFile.START_OFFSET, ByteOrder.LITTLE_ENDIAN);
    }

    long heartbeatMs()
    {
        return header.getLongVolatile(StatusFile.HEARTBEAT_OFFSET);
    }

    /**
     * @return whether the writer still runs: judged by pid, and by its start time to catch a reused pid.
     */
    ProcessLiveness.State processState()
    {
        return ProcessLiveness.state(pid(), startTimeMs());
    }

    /**
     * @return true when another file now sits at the path (a daemon restart); false when it is unchanged or gone.
     */
    boolean isReplaced()
    {
        try
        {
            final Object key = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .fileKey();
            return null != key && null != fileKey && !Objects.equals(key, fileKey);
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    public void close()
    {
        IoUtil.unmap(mapped);
    }
}
