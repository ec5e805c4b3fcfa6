package mailgate.ipc;

import org.agrona.concurrent.IdleStrategy;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Short idling while idleness is recent, deep parks once it has lasted, back to short on work.
 */
class DeepeningIdleStrategyTest
{
    /** Counts the short strategy's idles and resets. */
    private static final class CountingIdle implements IdleStrategy
    {
        int idles;
        int resets;

        public void idle(final int workCount)
        {
            idles++;
        }

        public void idle()
        {
            idles++;
        }

        public void reset()
        {
            resets++;
        }
    }

    @Test
    void goesDeepOnlyAfterLastingIdlenessAndWakesUpOnWork()
    {
        final CountingIdle shallow = new CountingIdle();
        final long deepAfterNs = TimeUnit.MILLISECONDS.toNanos(200);
        final DeepeningIdleStrategy strategy = new DeepeningIdleStrategy(shallow, deepAfterNs, 1_000);
        final long startNs = System.nanoTime();
        strategy.idle(0);
        assertEquals(1, shallow.idles, "fresh idleness uses the short strategy");
        assertFalse(strategy.isDeep(startNs + deepAfterNs / 2));
        assertTrue(strategy.isDeep(System.nanoTime() + deepAfterNs), "deep once idleness has lasted deepAfterNs");

        // really idle past the threshold: idles stop going to the short strategy
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!strategy.isDeep(System.nanoTime()) && System.nanoTime() < deadlineNs)
        {
            strategy.idle(0);
        }
        final int shortIdles = shallow.idles;
        strategy.idle(0);
        strategy.idle(0);
        assertEquals(shortIdles, shallow.idles, "deep parks bypass the short strategy");

        strategy.idle(1);
        assertFalse(strategy.isDeep(System.nanoTime() + deepAfterNs / 2), "work resets the idle clock");
        assertEquals(1, shallow.resets);
        strategy.idle(0);
        assertEquals(shortIdles + 1, shallow.idles, "short again right after work");
    }
}
