package mailgate.reactor.net;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connection limits in total and per client address (as Postfix's anvil), shared by all event loops.
 * <p>
 * Touched once at connect and once at disconnect, never per command, so a concurrent map is cheap here.
 */
public final class ConnectionLimiter
{
    /** Why a connection was refused. */
    public enum Verdict
    {
        ACCEPT, TOTAL_LIMIT, CLIENT_LIMIT
    }

    private final int maxTotal;
    private final int maxPerClient;
    private final NetworkList exceptions;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> perClient = new ConcurrentHashMap<>();

    /**
     * @param maxTotal     connections in total.
     * @param maxPerClient connections per client address.
     * @param exceptions   clients exempt from the per-client limit.
     */
    public ConnectionLimiter(final int maxTotal, final int maxPerClient, final NetworkList exceptions)
    {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
        this.exceptions = exceptions;
    }

    /**
     * Count a new connection if the limits allow it.
     *
     * @param client the client's address.
     * @return ACCEPT (counted; call {@link #release}) or the limit that refused it (not counted).
     */
    public Verdict tryAcquire(final InetAddress client)
    {
        if (total.incrementAndGet() > maxTotal)
        {
            total.decrementAndGet();
            return Verdict.TOTAL_LIMIT;
        }
        if (perClient.merge(client, 1, Integer::sum) > maxPerClient && !exceptions.contains(client))
        {
            release(client);
            return Verdict.CLIENT_LIMIT;
        }
        return Verdict.ACCEPT;
    }

    /**
     * A counted connection closed.
     *
     * @param client the client's address.
     */
    public void release(final InetAddress client)
    {
        total.decrementAndGet();
        perClient.computeIfPresent(client, (k, count) -> 1 == count ? null : count - 1);
    }

    /**
     * @return connections counted now.
     */
    public int total()
    {
        return total.get();
    }
}
