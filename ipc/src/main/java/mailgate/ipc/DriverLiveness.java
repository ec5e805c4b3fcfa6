/*
 * SUMMARY
 * Is a media driver running in an Aeron directory? Read from its cnc.dat: the driver's pid and start time,
 * and the heartbeat its conductor writes into the to-driver ring buffer (the one every client checks).
 *
 * DESCRIPTION
 * A driver killed with SIGKILL leaves cnc.dat behind with a heartbeat that only ages. Aeron's own check
 * (heartbeat younger than the client's driver timeout, 10 s by default) would let a client attach to the
 * dead driver for seconds and a new driver refuse the directory; here a driver whose pid is gone counts as
 * dead once its heartbeat is a quarter second old, and one whose pid runs but whose heartbeat stopped
 * (hung, or in another pid namespace) once the heartbeat is older than the caller's limit.
 *
 * SECURITY
 * Reads a few header bytes with positional reads; never maps or writes the file, never follows a symlink
 * at cnc.dat.
 */
package mailgate.ipc;

import io.aeron.CncFileDescriptor;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One reading of a media driver's liveness.
 *
 * @param state          what the directory holds.
 * @param pid            the driver's pid (0 when unknown).
 * @param heartbeatAgeMs age of its heartbeat (-1 when unknown).
 */
public record DriverLiveness(DriverLiveness.State state, long pid, long heartbeatAgeMs)
{
    /** What an Aeron directory holds. */
    public enum State
    {
        /** No cnc.dat. */
        ABSENT,
        /** cnc.dat not ready yet (a driver is starting, or died while starting). */
        STARTING,
        /** A live driver. */
        RUNNING,
        /** A dead or hung driver's files. */
        DEAD
    }

    /** Heartbeat age after which a driver whose pid is gone is dead (the conductor beats every ms or so). */
    public static final long DEAD_PID_GRACE_MS = 250;

    /**
     * @param aeronDir       the Aeron directory.
     * @param staleHeartbeatMs heartbeat age after which even a driver whose pid runs counts as dead.
     * @return the reading.
     */
    public static DriverLiveness of(final Path aeronDir, final long staleHeartbeatMs)
    {
        final Path cnc = aeronDir.resolve(CncFileDescriptor.CNC_FILE);
        try (FileChannel channel = FileChannel.open(cnc, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final ByteBuffer header =
                ByteBuffer.allocate(CncFileDescriptor.META_DATA_LENGTH).order(ByteOrder.nativeOrder());
            if (channel.read(header, 0) < CncFileDescriptor.META_DATA_LENGTH)
            {
                return new DriverLiveness(State.STARTING, 0, -1);
            }
            final UnsafeBuffer metaData = new UnsafeBuffer(header);
            if (0 == metaData.getInt(CncFileDescriptor.cncVersionOffset(0)))
            {
                return new DriverLiveness(State.STARTING, 0, -1);
            }
            final long pid = CncFileDescriptor.pid(metaData);
            final int toDriverLength = metaData.getInt(CncFileDescriptor.toDriverBufferLengthOffset(0));
            final ByteBuffer heartbeat = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.nativeOrder());
            final long heartbeatOffset = CncFileDescriptor.END_OF_METADATA_OFFSET + toDriverLength -
                RingBufferDescriptor.TRAILER_LENGTH + RingBufferDescriptor.CONSUMER_HEARTBEAT_OFFSET;
            if (channel.read(heartbeat, heartbeatOffset) < Long.BYTES || 0 == heartbeat.getLong(0))
            {
                return new DriverLiveness(State.STARTING, pid, -1);
            }
            final long ageMs = System.currentTimeMillis() - heartbeat.getLong(0);
            final boolean pidRuns =
                ProcessLiveness.State.ALIVE == ProcessLiveness.state(pid, CncFileDescriptor.startTimestampMs(metaData));
            final boolean dead = ageMs > staleHeartbeatMs || (!pidRuns && ageMs > DEAD_PID_GRACE_MS);
            return new DriverLiveness(dead ? State.DEAD : State.RUNNING, pid, ageMs);
        }
        catch (final NoSuchFileException ex)
        {
            return new DriverLiveness(State.ABSENT, 0, -1);
        }
        catch (final IOException ex)
        {
            // unreadable (being replaced, permissions): not something a client can attach to
            return new DriverLiveness(State.STARTING, 0, -1);
        }
    }

    /**
     * @return true when a client may attach.
     */
    public boolean isRunning()
    {
        return State.RUNNING == state;
    }

    public String toString()
    {
        return state.name().toLowerCase(java.util.Locale.ROOT) + (pid > 0 ? " (pid " + pid + ")" : "") +
            (heartbeatAgeMs >= 0 ? ", heartbeat " + heartbeatAgeMs + " ms ago" : "");
    }
}
