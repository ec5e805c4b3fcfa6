/*
 * SUMMARY
 * Starts the one Aeron media driver of a host, embedded (in the supervisor) or standalone (bin/mailgate
 * driver), with settings fit for a small machine: shared threading, a backoff idle strategy, 1 MiB IPC terms.
 *
 * SECURITY
 * The Aeron directory's parent is checked (owner, 0700, no symlink) before anything is written. A driver
 * already active on the directory is never deleted under it: start-up stops with a clear error instead.
 *
 * DESCRIPTION
 * The files of a driver that was killed (kill -9 leaves cnc.dat behind) are taken over at once when its pid
 * is gone (DriverLiveness), not only after Aeron's heartbeat timeout, so a restarted driver is serving
 * within its own start-up time.
 */
package mailgate.ipc;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.BackoffIdleStrategy;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Launches mailgate's media driver.
 */
public final class MediaDriverLauncher
{
    /** Longer than DriverLiveness's grace for a driver whose pid is gone. */
    private static final long TAKEOVER_WAIT_MS = 1_000;

    private MediaDriverLauncher()
    {
    }

    /**
     * @param aeronDir the Aeron directory (its parent must be, or is made, 0700).
     * @return the running driver; close it to stop.
     * @throws IllegalStateException when a driver is already active there.
     */
    public static MediaDriver launch(final Path aeronDir)
    {
        final Path dir = IpcChannels.secureAeronDir(aeronDir);
        DriverLiveness previous = DriverLiveness.of(dir, TimeUnit.SECONDS.toMillis(2));
        // a driver killed a moment ago still looks alive until its heartbeat is a grace period old (its pid may
        // be one we cannot see); a restart that fast (systemd, the supervisor, DriverCrashTest) waits that out
        // instead of refusing, while a live driver keeps its heartbeat fresh and is still refused
        final long deadlineMs = System.currentTimeMillis() + TAKEOVER_WAIT_MS;
        while (previous.isRunning() && System.currentTimeMillis() < deadlineMs)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            previous = DriverLiveness.of(dir, TimeUnit.SECONDS.toMillis(2));
        }
        if (previous.isRunning())
        {
            throw new IllegalStateException("a media driver is already active in " + dir + " (" + previous +
                "); stop it first or choose another ipc.aeron-dir");
        }
        final MediaDriver.Context context = new MediaDriver.Context()
            .aeronDirectoryName(dir.toString())
            .threadingMode(ThreadingMode.SHARED)
            // the driver is not in the data path of IPC: park up to 1 ms, leave the cores to the event loops
            .sharedIdleStrategy(new BackoffIdleStrategy(10, 10, 1_000, TimeUnit.MILLISECONDS.toNanos(1)))
            // a killed role is noticed in 2 s, not the default 10 s: its requests fail fast (451), not late
            .clientLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(2))
            .imageLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(2))
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .ipcTermBufferLength(1 << 20)
            .publicationTermBufferLength(1 << 20)
            .termBufferSparseFile(false);
        return MediaDriver.launch(context);
    }
}
