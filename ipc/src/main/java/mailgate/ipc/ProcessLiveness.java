/*
 * SUMMARY
 * Whether the process a file names (a media driver's CnC, smtpd's counters file) still runs, judged by pid
 * and by its start time, so a pid reused by another process does not pass for the writer.
 *
 * LIMITS
 * Meaningful only inside the writer's pid namespace: from another one the pid looks dead. Callers that act
 * on DEAD (take over a driver directory, reconnect) also check the writer's heartbeat for that reason.
 */
package mailgate.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * Liveness of a process named by pid and start time.
 */
public final class ProcessLiveness
{
    /** What became of the process. */
    public enum State
    {
        /** It runs. */
        ALIVE,
        /** It is gone (or a zombie waiting for its parent). */
        DEAD,
        /** Its pid now belongs to a younger process. */
        REUSED
    }

    private static final long START_SLACK_MS = 1000;

    private ProcessLiveness()
    {
    }

    /**
     * @param pid         process id the file names.
     * @param startTimeMs when the writer started (epoch ms), as the file says.
     * @return its state.
     */
    public static State state(final long pid, final long startTimeMs)
    {
        final Optional<ProcessHandle> handle = pid > 0 ? ProcessHandle.of(pid) : Optional.empty();
        if (handle.isEmpty() || !handle.get().isAlive() || isZombie(pid))
        {
            return State.DEAD;
        }
        final Optional<Instant> started = handle.get().info().startInstant();
        if (started.isPresent() && started.get().toEpochMilli() > startTimeMs + START_SLACK_MS)
        {
            return State.REUSED;
        }
        return State.ALIVE;
    }

    /**
     * A killed process stays "alive" to kill(pid, 0) until its parent reaps it; Linux says so in /proc.
     *
     * @param pid process id.
     * @return true when /proc shows the process as a zombie (or dead); false when it cannot tell.
     */
    public static boolean isZombie(final long pid)
    {
        try
        {
            final String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            final int end = stat.lastIndexOf(')');
            final char state = end > 0 && end + 2 < stat.length() ? stat.charAt(end + 2) : '?';
            return 'Z' == state || 'X' == state;
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;
        }
    }
}
