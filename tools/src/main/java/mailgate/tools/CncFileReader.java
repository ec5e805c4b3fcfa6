/*
 * SUMMARY
 * Read-only view of an Aeron media driver's command-and-control file, <aeronDir>/cnc.dat.
 *
 * DESCRIPTION
 * Maps the whole file READ_ONLY (as AeronStat and ErrorStat read it, but never writable), checks the CnC
 * version's major number against the Aeron this tool was built with and that the lengths in the header fit
 * the file, then hands out the counters (an Agrona CountersReader) and the driver's distinct error log.
 * The driver's pid, start time and the heartbeat it writes into the to-driver ring buffer (the consumer
 * heartbeat every client checks) come from the same mapping.
 *
 * A driver killed with SIGKILL leaves cnc.dat behind with the last values written, so every view works
 * post-mortem; a clean shutdown of mailgate's driver deletes the directory (dirDeleteOnShutdown), and then
 * there is nothing to read.
 *
 * SECURITY
 * Never maps writable and never follows a symlink at cnc.dat itself, so an inspector cannot disturb the
 * driver or its clients. Needs the driver user's rights to read the 0700 directory.
 *
 * LIMITS
 * Liveness is judged by pid (and the process start time against the driver's), so only within the
 * driver's pid namespace. A driver still starting (version field 0) is reported as not ready.
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import io.aeron.CncFileDescriptor;
import org.agrona.IoUtil;
import org.agrona.SemanticVersion;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A mapped, validated, read-only Aeron CnC file.
 */
final class CncFileReader implements AutoCloseable
{
    private final Path file;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer metaData;
    private final UnsafeBuffer toDriver;
    private final CountersReader counters;
    private final AtomicBuffer errorLog;
    private final int version;

    private CncFileReader(final Path file, final MappedByteBuffer mapped, final UnsafeBuffer metaData, final int version)
    {
        this.file = file;
        this.mapped = mapped;
        this.metaData = metaData;
        this.version = version;
        this.toDriver = CncFileDescriptor.createToDriverBuffer(mapped, metaData);
        this.counters = new CountersReader(
            CncFileDescriptor.createCountersMetaDataBuffer(mapped, metaData),
            CncFileDescriptor.createCountersValuesBuffer(mapped, metaData));
        this.errorLog = CncFileDescriptor.createErrorLogBuffer(mapped, metaData);
    }

    /**
     * @param aeronDir the Aeron directory.
     * @return path of its cnc.dat.
     */
    static Path cncFile(final Path aeronDir)
    {
        return aeronDir.toAbsolutePath().normalize().resolve(CncFileDescriptor.CNC_FILE);
    }

    /**
     * Map and validate.
     *
     * @param aeronDir the Aeron directory.
     * @return the reader.
     * @throws InspectException (exit 1) when missing, unreadable, not ready, or of another CnC major version.
     */
    static CncFileReader open(final Path aeronDir) throws InspectException
    {
        final Path file = cncFile(aeronDir);
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS))
        {
            throw InspectException.unreadable("no media driver file at " + file + " (no driver has run there, or it" +
                " shut down cleanly and deleted its directory; choose the directory with --aeron-dir DIR)");
        }
        final MappedByteBuffer mapped;
        try
        {
            final BasicFileAttributes attributes =
                Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!attributes.isRegularFile())
            {
                throw InspectException.unreadable("not a regular file: " + file);
            }
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
            {
                final long size = channel.size();
                if (size < CncFileDescriptor.END_OF_METADATA_OFFSET || size > Integer.MAX_VALUE)
                {
                    throw InspectException.unreadable("not an Aeron CnC file (" + size + " bytes): " + file);
                }
                mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
            }
        }
        catch (final AccessDeniedException ex)
        {
            throw InspectException.unreadable("cannot read " + file + ": permission denied (run as the driver's user)");
        }
        catch (final IOException ex)
        {
            throw InspectException.unreadable("cannot read " + file + ": " + ex);
        }

        try
        {
            final UnsafeBuffer metaData = CncFileDescriptor.createMetaDataBuffer(mapped);
            final int version = metaData.getIntVolatile(CncFileDescriptor.cncVersionOffset(0));
            if (0 == version)
            {
                throw InspectException.unreadable("media driver not ready (CnC version not yet written): " + file);
            }
            if (SemanticVersion.major(version) != SemanticVersion.major(CncFileDescriptor.CNC_VERSION))
            {
                throw InspectException.unreadable("CnC version " + SemanticVersion.toString(version) +
                    ", this tool reads " + SemanticVersion.major(CncFileDescriptor.CNC_VERSION) + ".x: " + file);
            }
            if (!CncFileDescriptor.isCncFileLengthSufficient(metaData, mapped.capacity()))
            {
                throw InspectException.unreadable("truncated CnC file (" + mapped.capacity() + " bytes): " + file);
            }
            return new CncFileReader(file, mapped, metaData, version);
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

    String version()
    {
        return SemanticVersion.toString(version);
    }

    CountersReader counters()
    {
        return counters;
    }

    AtomicBuffer errorLog()
    {
        return errorLog;
    }

    long pid()
    {
        return CncFileDescriptor.pid(metaData);
    }

    long startTimeMs()
    {
        return CncFileDescriptor.startTimestampMs(metaData);
    }

    long clientLivenessTimeoutNs()
    {
        return CncFileDescriptor.clientLivenessTimeoutNs(metaData);
    }

    /**
     * @return epoch ms at which the driver's conductor last marked itself alive (what clients check).
     */
    long driverHeartbeatMs()
    {
        final int capacity = toDriver.capacity() - RingBufferDescriptor.TRAILER_LENGTH;
        return toDriver.getLongVolatile(capacity + RingBufferDescriptor.CONSUMER_HEARTBEAT_OFFSET);
    }

    /**
     * @return whether the driver still runs: by pid, and by its start time to catch a reused pid.
     */
    ProcessLiveness.State processState()
    {
        return ProcessLiveness.state(pid(), startTimeMs());
    }

    public void close()
    {
        IoUtil.unmap(mapped);
    }
}
