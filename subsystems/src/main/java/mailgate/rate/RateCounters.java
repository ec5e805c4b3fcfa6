package mailgate.rate;

/**
 * Type ids of the rate tracker's Aeron counters (mailgate's range 2200-2299), visible to AeronStat and inspect.
 */
public final class RateCounters
{
    /** Replication packets offered to peers (one per peer). */
    public static final int PACKETS_SENT = 2201;
    /** Replication packets accepted. */
    public static final int PACKETS_RECEIVED = 2202;
    /** Peer slots applied (newer than ours). */
    public static final int SLOTS_APPLIED = 2203;
    /** Peer slots ignored as stale (we had that version or newer). */
    public static final int SLOTS_STALE = 2204;
    /** Packets dropped: HMAC did not verify. */
    public static final int DROPPED_BAD_MAC = 2205;
    /** Packets dropped: source node not a configured peer. */
    public static final int DROPPED_UNKNOWN_NODE = 2206;
    /** Packets dropped: too short, or length not matching the entry count, or bad magic/version. */
    public static final int DROPPED_MALFORMED = 2207;
    /** Packets dropped: sequence not above the last accepted from that peer (replay). */
    public static final int DROPPED_REPLAY = 2208;
    /** Offers that failed (back pressure, not connected); a full resync follows. */
    public static final int OFFER_FAILURES = 2209;
    /** Full resyncs started (start-up, a peer (re)connected, after failures or ring overflow). */
    public static final int RESYNCS = 2210;
    /** Peer slots not applied because the counter file was full. */
    public static final int MAP_FULL = 2211;
    /** Keys removed by the expiry sweep. */
    public static final int SWEPT = 2212;
    /** Slots shipped (each to every peer). */
    public static final int SLOTS_SENT = 2213;

    private RateCounters()
    {
    }
}
