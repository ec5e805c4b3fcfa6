package mailgate.filter;

import mailgate.ipc.DriverConnection;
import mailgate.ipc.codecs.FilterAction;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.Map;

/**
 * The filter's counters, type ids 2150-2199 (the filter's part of mailgate's 2100-2199 range): in the
 * media driver's CnC file when the filter runs (AeronStat and inspect see them), or local for tests.
 */
public final class FilterCounters
{
    public static final int REQUESTS = 2150;
    public static final int ACCEPTED = 2151;
    public static final int ADD_HEADERS = 2152;
    public static final int REJECTED = 2153;
    public static final int TEMPFAILED = 2154;
    public static final int DISCARDED = 2155;
    public static final int QUARANTINED = 2156;
    public static final int SCAN_TIMEOUTS = 2157;
    public static final int BUSY = 2158;
    public static final int BAD_FRAMES = 2159;
    public static final int OFFER_FAILURES = 2160;
    public static final int RELOADS = 2161;
    public static final int RELOAD_FAILURES = 2162;
    public static final int LIMITS = 2163;
    public static final int SCAN_ERRORS = 2164;
    public static final int WORKERS_REPLACED = 2165;
    public static final int DRIVER_RECONNECTS = 2166;
    /** Refusals by reason: 2170 + {@link Refusal#ordinal()}. */
    public static final int REFUSED_BASE = 2170;

    final AtomicCounter requests;
    final AtomicCounter busy;
    final AtomicCounter scanTimeouts;
    final AtomicCounter badFrames;
    final AtomicCounter offerFailures;
    final AtomicCounter reloads;
    final AtomicCounter reloadFailures;
    final AtomicCounter limits;
    final AtomicCounter scanErrors;
    final AtomicCounter workersReplaced;
    private final Map<FilterAction, AtomicCounter> byAction = new EnumMap<>(FilterAction.class);
    private final Map<Refusal, AtomicCounter> byRefusal = new EnumMap<>(Refusal.class);

    private interface Factory
    {
        AtomicCounter add(int typeId, String label);
    }

    private FilterCounters(final Factory factory)
    {
        requests = factory.add(REQUESTS, "filter requests");
        byAction.put(FilterAction.ACCEPT, factory.add(ACCEPTED, "filter verdicts: accept"));
        byAction.put(FilterAction.ADD_HEADERS, factory.add(ADD_HEADERS, "filter verdicts: add headers"));
        byAction.put(FilterAction.REJECT, factory.add(REJECTED, "filter verdicts: reject"));
        byAction.put(FilterAction.TEMPFAIL, factory.add(TEMPFAILED, "filter verdicts: tempfail"));
        byAction.put(FilterAction.DISCARD, factory.add(DISCARDED, "filter verdicts: discard"));
        byAction.put(FilterAction.QUARANTINE, factory.add(QUARANTINED, "filter verdicts: quarantine"));
        scanTimeouts = factory.add(SCAN_TIMEOUTS, "filter scans past their deadline");
        busy = factory.add(BUSY, "filter requests refused: queue full");
        badFrames = factory.add(BAD_FRAMES, "filter bad frames dropped");
        offerFailures = factory.add(OFFER_FAILURES, "filter replies not sent");
        reloads = factory.add(RELOADS, "filter rule reloads");
        reloadFailures = factory.add(RELOAD_FAILURES, "filter rule reload failures");
        limits = factory.add(LIMITS, "filter messages beyond MIME limits");
        scanErrors = factory.add(SCAN_ERRORS, "filter scan errors (stage exception, I/O)");
        workersReplaced = factory.add(WORKERS_REPLACED, "filter workers replaced (stuck past deadline)");
        for (final Refusal refusal : Refusal.values())
        {
            byRefusal.put(refusal, factory.add(REFUSED_BASE + refusal.ordinal(),
                "filter references refused: " + refusal.label()));
        }
    }

    /**
     * @param connection the process's driver connection.
     * @return counters kept in process memory and copied into the driver's CnC file (they survive restarts,
     *         and the scan workers never write through a dead driver's mapping).
     */
    public static FilterCounters of(final DriverConnection connection)
    {
        return new FilterCounters(connection::counter);
    }

    /**
     * @return counters in a private buffer (tests, tools).
     */
    public static FilterCounters local()
    {
        final CountersManager manager = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024 * 4)), new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)));
        return new FilterCounters((typeId, label) -> manager.newCounter(label, typeId));
    }

    /**
     * @param action a verdict's action.
     * @return verdicts sent with it.
     */
    public long verdicts(final FilterAction action)
    {
        return byAction.get(action).get();
    }

    /**
     * @param reason a refusal reason.
     * @return references refused for it.
     */
    public long refused(final Refusal reason)
    {
        return byRefusal.get(reason).get();
    }

    public long scanTimeouts()
    {
        return scanTimeouts.get();
    }

    public long busy()
    {
        return busy.get();
    }

    public long limits()
    {
        return limits.get();
    }

    public long scanErrors()
    {
        return scanErrors.get();
    }

    public long workersReplaced()
    {
        return workersReplaced.get();
    }

    public long reloads()
    {
        return reloads.get();
    }

    public long reloadFailures()
    {
        return reloadFailures.get();
    }

    public long requests()
    {
        return requests.get();
    }

    void onVerdict(final FilterAction action)
    {
        byAction.get(action).increment();
    }

    void onRefused(final Refusal reason)
    {
        byRefusal.get(reason).increment();
    }
}
