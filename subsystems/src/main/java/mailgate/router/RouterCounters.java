package mailgate.router;

/**
 * Type ids of the router's Aeron counters (mailgate's range 2100-2199), visible to AeronStat and inspect;
 * kept by DriverConnection, so they count on across media driver restarts.
 */
public final class RouterCounters
{
    public static final int REQUESTS = 2101;
    public static final int REJECTS = 2102;
    public static final int BAD_FRAMES = 2103;
    public static final int OFFER_FAILURES = 2104;
    public static final int RELOADS = 2105;
    public static final int RELOAD_FAILURES = 2106;
    public static final int DRIVER_RECONNECTS = 2107;

    private RouterCounters()
    {
    }
}
