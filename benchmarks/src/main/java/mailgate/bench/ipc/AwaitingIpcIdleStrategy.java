package mailgate.bench.ipc;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.locks.LockSupport;

/**
 * The event loop's idle policy while IPC answers are outstanding, copied from SelectorIdleStrategy: spin 64,
 * yield 16, then park 1 us doubling to 50 us (the selector branch is never reached while answers are due).
 */
final class AwaitingIpcIdleStrategy implements IdleStrategy
{
    private static final int SPINS = 64;
    private static final int YIELDS = 16;
    private static final long MIN_IPC_PARK_NS = 1_000;
    private static final long MAX_IPC_PARK_NS = 50_000;

    private int idleCount;
    private long ipcParkNs = MIN_IPC_PARK_NS;

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
        else
        {
            LockSupport.parkNanos(ipcParkNs);
            ipcParkNs = Math.min(ipcParkNs << 1, MAX_IPC_PARK_NS);
        }
    }

    public void reset()
    {
        idleCount = 0;
        ipcParkNs = MIN_IPC_PARK_NS;
    }

    public String alias()
    {
        return "daemon";
    }
}
