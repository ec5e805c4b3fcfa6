package mailgate.reactor.tls;

import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.nio.ByteBuffer;

/**
 * The TLS and AUTH counters of one event loop (single writer, like LoopCounters). Type ids 2070-2079.
 */
public final class TlsCounters
{
    /** Type id of the first counter; the others follow in field order. */
    public static final int TYPE_ID_BASE = 2070;
    static final String[] LABELS = {
        "tls handshakes completed",
        "tls handshakes failed",
        "tls handshakes timed out",
        "starttls sessions with pipelined input discarded",
        "auth successes",
        "auth failures"};

    public final AtomicCounter handshakes;
    public final AtomicCounter handshakeFailures;
    public final AtomicCounter handshakeTimeouts;
    public final AtomicCounter starttlsInjections;
    public final AtomicCounter authSuccesses;
    public final AtomicCounter authFailures;

    /**
     * @param manager where to allocate.
     * @param loopId  the loop, named in every label.
     */
    public TlsCounters(final CountersManager manager, final int loopId)
    {
        handshakes = allocate(manager, 0, loopId);
        handshakeFailures = allocate(manager, 1, loopId);
        handshakeTimeouts = allocate(manager, 2, loopId);
        starttlsInjections = allocate(manager, 3, loopId);
        authSuccesses = allocate(manager, 4, loopId);
        authFailures = allocate(manager, 5, loopId);
    }

    /**
     * @return counters in a private buffer, for sessions built without a status file (tests, benchmarks).
     */
    public static TlsCounters unattached()
    {
        return new TlsCounters(new CountersManager(new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(2 * 1024))), 0);
    }

    private static AtomicCounter allocate(final CountersManager manager, final int index, final int loopId)
    {
        return manager.newCounter(LABELS[index] + ": loop " + loopId, TYPE_ID_BASE + index);
    }
}
