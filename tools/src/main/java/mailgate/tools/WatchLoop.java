package mailgate.tools;

import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The --watch loop shared by views: a frame every interval after the previous one, until a count or interrupt.
 */
final class WatchLoop
{
    /** What a view prints in one frame. */
    @FunctionalInterface
    interface Frame
    {
        /**
         * @param frame 0 for the first frame.
         * @throws InspectException when the files can no longer be read.
         */
        void print(long frame) throws InspectException;
    }

    private static final String CLEAR_SCREEN = "\u001b[H\u001b[2J";

    private WatchLoop()
    {
    }

    /**
     * @param out        where frames go.
     * @param json       one JSON line per frame (no screen clearing, no blank lines).
     * @param intervalMs delay between frames.
     * @param count      frames to print, or -1 for until interrupted.
     * @param frame      prints one frame.
     * @throws InspectException from a frame.
     */
    static void run(final PrintStream out, final boolean json, final long intervalMs, final long count,
        final Frame frame) throws InspectException
    {
        final long intervalNs = TimeUnit.MILLISECONDS.toNanos(intervalMs);
        final boolean clear = !json && out == System.out && null != System.console();
        long deadlineNs = System.nanoTime();
        for (long n = 0; count < 0 || n < count; n++)
        {
            if (n > 0)
            {
                deadlineNs += intervalNs;
                if (!parkUntil(deadlineNs))
                {
                    break;
                }
                // counted from when the last frame was actually taken: on a busy machine frames drift, but they
                // are never closer than the interval, so per-second rates never come from a sliver of time
                deadlineNs = System.nanoTime();
            }
            if (clear)
            {
                out.print(CLEAR_SCREEN);
            }
            else if (n > 0 && !json)
            {
                out.println();
            }
            frame.print(n);
            out.flush();
        }
    }

    private static boolean parkUntil(final long deadlineNs)
    {
        long remainingNs;
        while ((remainingNs = deadlineNs - System.nanoTime()) > 0)
        {
            LockSupport.parkNanos(remainingNs);
            if (Thread.currentThread().isInterrupted())
            {
                return false;
            }
        }
        return true;
    }
}
