package mailgate.rate;

/**
 * Layout of one node's slot inside a counter value (all fields little-endian, 8-byte aligned).
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                    Version (per node, per key)                |
 *  |       monotonic: max(old + 1, nowUs &lt;&lt; 3): also the write time  |
 *  +---------------------------------------------------------------+
 *  |           Last second written (epoch seconds): the            |
 *  |           epoch of the newest second and minute bucket        |
 *  +---------------------------------------------------------------+
 *  |        Dirty flag (local slot: queued for shipping)           |
 *  +---------------------------------------------------------------+
 *  |  Owner's recent rate, units/s (float32, decayed with tau 20 ms) |
 *  +---------------------------------------------------------------+
 *  |   60 x int32: counts per second, index = epochSecond % 60   ...
 *  +---------------------------------------------------------------+
 *  |   60 x int32: counts per minute, index = epochMinute % 60   ...
 *  +---------------------------------------------------------------+
 * </pre>
 * A value is {@code maxNodes} slots back to back; slot i belongs to node i. A bucket is live while it lies
 * within 60 buckets of "last second written"; older ones are zeroed lazily when the slot's owner next writes,
 * and skipped by readers meanwhile. Counts saturate at 2^31-1 per bucket (2 GiB per second per node for bytes).
 * The version's time and the rate let a reader estimate how many of a peer's events are still on the wire
 * (see RateStore: in-flight budget); files written before the rate field existed hold 0 there (no estimate).
 */
public final class SlotDescriptor
{
    /** Offset of the version. */
    public static final int VERSION_OFFSET = 0;
    /** Offset of the last second written. */
    public static final int LAST_SECOND_OFFSET = 8;
    /** Offset of the dirty flag. */
    public static final int DIRTY_OFFSET = 16;
    /**
     * Offset of the owner's recent rate in units per second (float32): every write decays it by
     * exp(-dt / tau) and adds n / tau, so a steady rate R reads R whatever the burstiness.
     */
    public static final int RATE_OFFSET = 20;
    /** Time constant of the rate: long enough to smooth bursts, short enough to follow a new stream. */
    public static final double RATE_TAU_US = 20_000;
    /** The version is the write time in microseconds shifted left by this (room for 8 writes per microsecond). */
    public static final int VERSION_TIME_SHIFT = 3;
    /** Offset of the per-second buckets. */
    public static final int SECONDS_OFFSET = 24;
    /** Number of buckets in each ring. */
    public static final int BUCKETS = 60;
    /** Offset of the per-minute buckets. */
    public static final int MINUTES_OFFSET = SECONDS_OFFSET + 4 * BUCKETS;
    /** Length of one slot. */
    public static final int SLOT_LENGTH = MINUTES_OFFSET + 4 * BUCKETS;
    /** Largest window in milliseconds (one hour). */
    public static final long MAX_WINDOW_MS = 3_600_000L;
    /** Seconds a peer's clock may run ahead and still have its newest buckets counted. */
    public static final int SKEW_SECONDS = 2;

    /**
     * @param version a slot's version.
     * @return when its owner last wrote it, epoch microseconds (owner's clock).
     */
    public static long writeTimeUs(final long version)
    {
        return version >>> VERSION_TIME_SHIFT;
    }

    private SlotDescriptor()
    {
    }
}
