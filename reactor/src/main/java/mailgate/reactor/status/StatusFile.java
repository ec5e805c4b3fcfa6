/*
 * SUMMARY
 * A memory-mapped file holding the daemon's counters, readable by the inspection tool while the daemon
 * runs and after it died (post-mortem).
 *
 * DESCRIPTION
 * Layout (little-endian):
 *   0   int   magic 0x4D47_5354 ("MGST")
 *   4   int   version
 *   8   long  pid of the writer
 *   16  long  start time, epoch ms
 *   24  long  heartbeat, epoch ms (the daemon's housekeeping bumps it)
 *   32  int   metadata length, 36 int values length
 *   4096      Agrona CountersManager metadata, then values
 *
 * SECURITY
 * Created 0600 inside the spool's run/ directory, which is checked like the spool.
 */
package mailgate.reactor.status;

import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The daemon's mapped counters file.
 */
public final class StatusFile implements AutoCloseable
{
    public static final int MAGIC = 0x4D47_5354;
    public static final int VERSION = 1;
    public static final int PID_OFFSET = 8;
    public static final int START_OFFSET = 16;
    public static final int HEARTBEAT_OFFSET = 24;
    public static final int METADATA_LENGTH_OFFSET = 32;
    public static final int VALUES_LENGTH_OFFSET = 36;
    public static final int HEADER_LENGTH = 4096;
    public static final int DEFAULT_VALUES_LENGTH = 128 * 1024;
    /** File name inside the status directory. */
    public static final String FILE_NAME = "counters.dat";

    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final UnsafeBuffer metadata;
    private final UnsafeBuffer values;

    private StatusFile(final MappedByteBuffer mapped, final int metadataLength, final int valuesLength)
    {
        this.mapped = mapped;
        this.header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
        this.metadata = new UnsafeBuffer(mapped, HEADER_LENGTH, metadataLength);
        this.values = new UnsafeBuffer(mapped, HEADER_LENGTH + metadataLength, valuesLength);
    }

    /**
     * Create (replacing an old one) and map the file.
     *
     * @param file         path of the file.
     * @param valuesLength bytes for values; metadata gets 4 times as much, as Agrona requires.
     * @return the mapped file, header written.
     */
    public static StatusFile create(final Path file, final int valuesLength)
    {
        final int metadataLength = valuesLength * (CountersReader.METADATA_LENGTH / CountersReader.COUNTER_LENGTH);
        final long length = (long)HEADER_LENGTH + metadataLength + valuesLength;
        try
        {
            final Path tmp = file.resolveSibling(file.getFileName() + ".new");
            Files.deleteIfExists(tmp);
            try (FileChannel channel = FileChannel.open(tmp,
                java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
            {
                channel.truncate(length);
                final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, length);
                final StatusFile status = new StatusFile(mapped, metadataLength, valuesLength);
                status.header.putInt(METADATA_LENGTH_OFFSET, metadataLength);
                status.header.putInt(VALUES_LENGTH_OFFSET, valuesLength);
                status.header.putLong(PID_OFFSET, ProcessHandle.current().pid());
                status.header.putLong(START_OFFSET, System.currentTimeMillis());
                status.heartbeat(System.currentTimeMillis());
                status.header.putInt(4, VERSION);
                status.header.putIntVolatile(0, MAGIC);
                Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                return status;
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("status file " + file + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * @return a manager to allocate counters in this file (single allocating thread).
     */
    public CountersManager newCountersManager()
    {
        return new CountersManager(metadata, values);
    }

    /**
     * @param epochMs now.
     */
    public void heartbeat(final long epochMs)
    {
        header.putLongRelease(HEARTBEAT_OFFSET, epochMs);
    }

    public void close()
    {
        IoUtil.unmap(mapped);
    }
}
