package mailgate.reactor.spool;

import mailgate.reactor.net.DirectMemoryBudget;
import org.agrona.BufferUtil;

import java.nio.ByteBuffer;

/**
 * One event loop's pool of write buffers for spool files in progress: a message is gathered in one and written in
 * page-aligned 64 KiB pieces (a small message, envelope and all, in one write) instead of one unaligned write per
 * socket read, each of which makes the page cache zero the page it ends in (ext4 {@code zero_user_segments}).
 * <p>
 * Allocated as needed up to a bound, and only while direct memory has room (the connections' budget); loop thread
 * only. When none can be had a file writes through unbuffered, as correct and only slower.
 */
public final class SpoolWriteBuffers
{
    /** Bytes per buffer: a multiple of the page size, so every full write starts and ends on a page boundary. */
    public static final int BUFFER_LENGTH = 64 * 1024;

    private static final int PAGE = 4096;

    private final DirectMemoryBudget directMemory = new DirectMemoryBudget();
    private final ByteBuffer[] free;
    private int available;
    private int allocated;

    /**
     * @param buffers how many files of this loop can be buffered at once.
     */
    public SpoolWriteBuffers(final int buffers)
    {
        free = new ByteBuffer[buffers];
    }

    /**
     * @return a cleared buffer, or null when all are in use or direct memory is short.
     */
    ByteBuffer take()
    {
        if (available > 0)
        {
            final ByteBuffer buffer = free[--available];
            free[available] = null;
            return buffer.clear();
        }
        if (allocated < free.length && directMemory.hasRoomFor(BUFFER_LENGTH + PAGE))
        {
            allocated++;
            return BufferUtil.allocateDirectAligned(BUFFER_LENGTH, PAGE);
        }
        return null;
    }

    /**
     * @param buffer one that {@link #take()} gave out.
     */
    void release(final ByteBuffer buffer)
    {
        free[available++] = buffer;
    }
}
