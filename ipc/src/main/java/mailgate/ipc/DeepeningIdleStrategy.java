/*
 * SUMMARY
 * An idle strategy that stays quick to wake while traffic is recent and sleeps deeper once it has gone.
 *
 * DESCRIPTION
 * A subsystem agent parks briefly between polls so that a question arriving on an idle stream is answered in
 * about 0.1 ms, not 1 ms (benchmarks/JMH.md). Parked like that around the clock, an idle router woke 10,000
 * times a second and used 6.4% of a core with no mail at all. This strategy uses the short strategy for
 * deepAfterNs of continuous idleness, then parks deepParkNs at a time; any work resets it. Under load it never
 * goes deep; the first question after a quiet second waits at most deepParkNs longer.
 */
package mailgate.ipc;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.locks.LockSupport;

/**
 * Short parks while idleness is recent, long parks after it has lasted.
 */
public final class DeepeningIdleStrategy implements IdleStrategy
{
    private final IdleStrategy shallow;
    private final long deepAfterNs;
    private final long deepParkNs;
    private boolean idling;
    private long idleSinceNs;

    /**
     * @param shallow     used while idleness is younger than deepAfterNs.
     * @param deepAfterNs continuous idleness before parking deep.
     * @param deepParkNs  one deep park.
     */
    public DeepeningIdleStrategy(final IdleStrategy shallow, final long deepAfterNs, final long deepParkNs)
    {
        this.shallow = shallow;
        this.deepAfterNs = deepAfterNs;
        this.deepParkNs = deepParkNs;
    }

    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    public void idle()
    {
        final long nowNs = System.nanoTime();
        if (!idling)
        {
            idling = true;
            idleSinceNs = nowNs;
        }
        if (isDeep(nowNs))
        {
            LockSupport.parkNanos(deepParkNs);
        }
        else
        {
            shallow.idle();
        }
    }

    /**
     * @param nowNs clock.
     * @return true when idleness has lasted long enough to park deep.
     */
    boolean isDeep(final long nowNs)
    {
        return idling && nowNs - idleSinceNs >= deepAfterNs;
    }

    public void reset()
    {
        idling = false;
        shallow.reset();
    }

    public String alias()
    {
        return "deepening";
    }
}
