package mailgate.reactor.net;

import org.agrona.concurrent.IdleStrategy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Backoff for an event loop: spin, then yield, then block in the loop's own selector for up to the max
 * park time, so that an idle loop sleeps without a timer tick and wakes the moment a socket is ready.
 * <p>
 * IPC answers arrive by polling, not by the selector: they are picked up during the spin and yield phases
 * (an answer takes tens of microseconds), or at the latest after the max park time.
 */
public final class SelectorIdleStrategy implements IdleStrategy
{
    private static final int SPINS = 64;
    private static final int YIELDS = 16;

    private static final long MAX_IPC_PARK_NS = 50_000;

    private final Selector selector;
    private final long maxParkMs;
    private final java.util.function.BooleanSupplier awaitingIpc;
    private volatile boolean blocked;
    private int idleCount;
    private long ipcParkNs = 1_000;

    /**
     * @param selector  the loop's selector.
     * @param maxParkNs   longest block when idle (rounded to milliseconds, at least 1).
     * @param awaitingIpc true while IPC answers are outstanding: then park briefly (up to 50 us), since no
     *                    socket event would wake the loop for them.
     */
    public SelectorIdleStrategy(
        final Selector selector, final long maxParkNs, final java.util.function.BooleanSupplier awaitingIpc)
    {
        this.selector = selector;
        this.awaitingIpc = awaitingIpc;
        this.maxParkMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(maxParkNs));
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
        final int count = idleCount++;
        if (count < SPINS)
        {
            Thread.onSpinWait();
        }
        else if (count < SPINS + YIELDS)
        {
            Thread.yield();
        }
        else if (awaitingIpc.getAsBoolean())
        {
            LockSupport.parkNanos(ipcParkNs);
            ipcParkNs = Math.min(ipcParkNs << 1, MAX_IPC_PARK_NS);
        }
        else
        {
            blocked = true;
            try
            {
                // ready keys are left for the next selectNow (epoll is level-triggered), so nothing is lost here
                selector.select(NO_OP, maxParkMs);
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
            catch (final java.nio.channels.ClosedSelectorException ex)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(maxParkMs));
            }
            finally
            {
                blocked = false;
            }
        }
    }

    public void reset()
    {
        idleCount = 0;
        ipcParkNs = 1_000;
    }

    /**
     * Wake the loop if it is blocked in its selector (another thread handed it work, e.g. a durable spool
     * file); costs nothing when the loop is awake.
     */
    public void wake()
    {
        if (blocked)
        {
            selector.wakeup();
        }
    }

    public String alias()
    {
        return "selector-backoff";
    }

    private static final java.util.function.Consumer<java.nio.channels.SelectionKey> NO_OP = (key) -> { };
}
