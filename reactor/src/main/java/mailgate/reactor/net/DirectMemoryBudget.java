package mailgate.reactor.net;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.concurrent.ForkJoinPool;

/**
 * How much direct memory is left under -XX:MaxDirectMemorySize, asked before a connection's buffers are allocated.
 * <p>
 * Why ask instead of catching the failure: when a reservation fails the JDK runs a GC and retries with sleeps for
 * about half a second before it throws, and that would stall an event loop and every connection on it once per
 * refused client (MemoryLimitsTest: 174 refusals took 90 s). Reading the pool's counter is one volatile read.
 * One budget per user on a loop (not thread-safe).
 */
public final class DirectMemoryBudget
{
    /** Left for everything else that needs direct memory later (TLS engines, IPC, spool scratch). */
    private static final long HEADROOM = 256 * 1024;

    /** At most one collection asked for per interval: a full GC stops every thread for tens of milliseconds. */
    private static final long RECLAIM_INTERVAL_NS = 1_000_000_000L;

    private final BufferPoolMXBean pool;
    private final long limit;
    private long lastReclaimNs = System.nanoTime() - RECLAIM_INTERVAL_NS;

    public DirectMemoryBudget()
    {
        BufferPoolMXBean direct = null;
        for (final BufferPoolMXBean candidate : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
        {
            if ("direct".equals(candidate.getName()))
            {
                direct = candidate;
            }
        }
        this.pool = direct;
        this.limit = maxDirectMemory();
    }

    /**
     * @param bytes about to be allocated.
     * @return false when the allocation would leave less than the headroom.
     */
    public boolean hasRoomFor(final long bytes)
    {
        return null == pool || pool.getMemoryUsed() + bytes + HEADROOM <= limit;
    }

    /**
     * The buffers of closed connections are freed only when the garbage collector finds them, and with little
     * garbage on the heap that may be never; ask for a collection, off this thread, at most once a second.
     *
     * @param nowNs the loop's clock.
     */
    void reclaim(final long nowNs)
    {
        if (nowNs - lastReclaimNs >= RECLAIM_INTERVAL_NS)
        {
            lastReclaimNs = nowNs;
            ForkJoinPool.commonPool().execute(System::gc);
        }
    }

    private static long maxDirectMemory()
    {
        try
        {
            final String value = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
                .getVMOption("MaxDirectMemorySize").getValue();
            final long configured = Long.parseLong(value);
            // 0 means the default, which is the maximum heap size
            return configured > 0 ? configured : Runtime.getRuntime().maxMemory();
        }
        catch (final RuntimeException ex)
        {
            return Long.MAX_VALUE;
        }
    }
}
