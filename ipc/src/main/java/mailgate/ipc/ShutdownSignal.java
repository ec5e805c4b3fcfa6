package mailgate.ipc;

import java.util.concurrent.CountDownLatch;

/**
 * Waits for SIGTERM or SIGINT without a shutdown hook, so the caller can stop cleanly and exit with 0
 * (the JVM's own handler would exit 143 and run hooks concurrently with the caller).
 */
public final class ShutdownSignal
{
    private ShutdownSignal()
    {
    }

    /**
     * Block until SIGTERM or SIGINT.
     */
    public static void await()
    {
        final CountDownLatch latch = new CountDownLatch(1);
        final sun.misc.SignalHandler handler = (signal) -> latch.countDown();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), handler);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), handler);
        try
        {
            latch.await();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
