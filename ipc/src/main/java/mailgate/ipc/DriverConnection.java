/*
 * SUMMARY
 * A process's Aeron client that outlives the media driver: attaches when a driver runs, notices within a
 * fraction of a second when it dies, lets every user drop what it built on the dead client, and attaches
 * again, with backoff, to the next driver.
 *
 * DESCRIPTION
 * One watcher thread owns the client's life. Users (event loops, agents) read generation() once per duty
 * cycle, a volatile read; when it changes they abandon the publications and subscriptions of the old client
 * and build new ones on aeron() once it is not null. The dead client is closed only after a grace, when the
 * users have long moved on, because closing unmaps its buffers under any thread still touching them.
 *
 * A driver is dead when DriverLiveness says so (pid gone and heartbeat a quarter second old, or heartbeat
 * older than 3 s), when the Aeron client reports a driver or client timeout, or when the client closed.
 * Before attaching, the same check keeps a client off a dead driver's leftover cnc.dat (Aeron alone would
 * attach to it for up to its 10 s driver timeout).
 *
 * Counters made with counter() live in process memory and the watcher copies them into the driver's CnC
 * file every check (where AeronStat and inspect read them): they keep counting across driver restarts and
 * are never written through a dead mapping.
 *
 * LIMITS
 * Checks every 50 ms; reconnect attempts back off from 20 ms to 200 ms (a look at cnc.dat each, cheap).
 * Mirrored counters lag by one check.
 */
package mailgate.ipc;

import io.aeron.Aeron;
import io.aeron.Counter;
import io.aeron.exceptions.AeronException;
import io.aeron.exceptions.ConductorServiceTimeoutException;
import io.aeron.exceptions.DriverTimeoutException;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The reconnecting Aeron client of one process.
 */
public final class DriverConnection implements AutoCloseable
{
    /** Heartbeat age after which a driver whose pid still runs is taken for hung. */
    public static final long STALE_HEARTBEAT_MS = 3_000;
    private static final long CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long MIN_BACKOFF_MS = 20;
    private static final long MAX_BACKOFF_MS = 200;
    private static final long CLOSE_GRACE_NS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long CLOSE_LINGER_NS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long WAITING_LOG_INTERVAL_NS = TimeUnit.SECONDS.toNanos(10);

    /** A counter in process memory and its copy in the current driver's CnC file. */
    private static final class Mirror
    {
        final AtomicCounter local;
        final int typeId;
        final String label;
        Counter remote;

        Mirror(final AtomicCounter local, final int typeId, final String label)
        {
            this.local = local;
            this.typeId = typeId;
            this.label = label;
        }
    }

    /** One attached client and what is known of it. */
    private final class Attachment
    {
        final long driverPid;
        volatile Aeron aeron;
        volatile String failure;

        Attachment(final long driverPid)
        {
            this.driverPid = driverPid;
        }

        void onError(final Throwable error)
        {
            if (error instanceof DriverTimeoutException || error instanceof ConductorServiceTimeoutException ||
                error instanceof io.aeron.exceptions.ClientTimeoutException ||
                (error instanceof AeronException && String.valueOf(error.getMessage()).contains("unexpected close")))
            {
                failure = error.toString();
            }
            log("aeron: " + error);
        }
    }

    /** A dead client waiting out its grace before being closed. */
    private record Retired(Aeron aeron, long closeAtNs)
    {
    }

    private final Path aeronDir;
    private final String name;
    private final CountersManager localCounters = new CountersManager(
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024)));
    private final List<Mirror> mirrors = new ArrayList<>();
    private final List<Retired> retired = new ArrayList<>();
    private final Thread watcher;
    private final Object lock = new Object();
    private volatile Aeron current;
    private volatile int generation;
    private volatile boolean running = true;
    private Attachment attachment;
    private long attaches;
    private long reconnectCount;
    private AtomicCounter reconnects;

    /**
     * @param aeronDir the Aeron directory (already checked with IpcChannels.secureAeronDir).
     * @param name     for log lines, e.g. "mailgate router".
     */
    public DriverConnection(final Path aeronDir, final String name)
    {
        this.aeronDir = aeronDir;
        this.name = name;
        this.watcher = new Thread(this::watch, "mailgate-driver-watch");
        watcher.setDaemon(true);
    }

    /**
     * Start watching and attaching.
     *
     * @param reconnectsTypeId type id of the "driver reconnects" counter (0 for none in the CnC file).
     * @param reconnectsLabel  its label.
     * @return this.
     */
    public DriverConnection start(final int reconnectsTypeId, final String reconnectsLabel)
    {
        reconnects = 0 == reconnectsTypeId ? null : counter(reconnectsTypeId, reconnectsLabel);
        watcher.start();
        return this;
    }

    /**
     * @return changes each time the client is lost or attached; users rebuild when it changes.
     */
    public int generation()
    {
        return generation;
    }

    /**
     * @return the attached client, or null while no driver runs.
     */
    public Aeron aeron()
    {
        return current;
    }

    /**
     * @return how many times a client was attached after a loss.
     */
    public long reconnects()
    {
        synchronized (lock)
        {
            return reconnectCount;
        }
    }

    /**
     * Wait (bounded) for the first attachment, e.g. before saying "ready".
     *
     * @param timeoutMs how long.
     * @return true when attached.
     */
    public boolean awaitAttached(final long timeoutMs)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (null == current && System.nanoTime() - deadlineNs < 0 && running)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        return null != current;
    }

    /**
     * A counter that survives driver restarts: kept in process memory, copied into the driver's CnC file.
     *
     * @param typeId type id (mailgate's ranges, see the *Counters classes).
     * @param label  label.
     * @return the counter to increment (any thread).
     */
    public AtomicCounter counter(final int typeId, final String label)
    {
        synchronized (lock)
        {
            final AtomicCounter local = localCounters.newCounter(label, typeId);
            mirrors.add(new Mirror(local, typeId, label));
            return local;
        }
    }

    private void watch()
    {
        long backoffMs = MIN_BACKOFF_MS;
        long nextWaitingLogNs = System.nanoTime();
        while (running)
        {
            final long nowNs = System.nanoTime();
            closeRetired(nowNs, false);
            if (null == attachment)
            {
                final DriverLiveness liveness = DriverLiveness.of(aeronDir, STALE_HEARTBEAT_MS);
                if (liveness.isRunning() && attach(liveness))
                {
                    backoffMs = MIN_BACKOFF_MS;
                    continue;
                }
                if (nowNs - nextWaitingLogNs >= 0)
                {
                    log("waiting for a media driver in " + aeronDir + " (" + liveness + ")");
                    nextWaitingLogNs = nowNs + WAITING_LOG_INTERVAL_NS;
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMs));
                backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
                continue;
            }
            final String lost = lossReason();
            if (null != lost)
            {
                detach(nowNs, lost);
                nextWaitingLogNs = nowNs + WAITING_LOG_INTERVAL_NS;
                continue;
            }
            mirrorCounters();
            LockSupport.parkNanos(CHECK_INTERVAL_NS);
        }
        synchronized (lock)
        {
            if (null != attachment)
            {
                current = null;
                generation++;
                retired.add(new Retired(attachment.aeron, System.nanoTime()));
                attachment = null;
            }
        }
        closeRetired(System.nanoTime(), true);
    }

    private boolean attach(final DriverLiveness liveness)
    {
        final Attachment candidate = new Attachment(liveness.pid());
        final Aeron aeron;
        try
        {
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(aeronDir.toString())
                .clientName(name)
                .closeLingerDurationNs(CLOSE_LINGER_NS)
                .errorHandler(candidate::onError));
        }
        catch (final RuntimeException ex)
        {
            log("cannot attach to the media driver in " + aeronDir + ": " + ex.getMessage());
            return false;
        }
        candidate.aeron = aeron;
        synchronized (lock)
        {
            attachment = candidate;
            for (final Mirror mirror : mirrors)
            {
                mirror.remote = null;
            }
            if (attaches++ > 0)
            {
                reconnectCount++;
                if (null != reconnects)
                {
                    reconnects.increment();
                }
            }
            mirrorCounters();
            current = aeron;
            generation++;
        }
        log((attaches > 1 ? "reattached" : "attached") + " to the media driver in " + aeronDir + " (pid " +
            liveness.pid() + ", client " + aeron.clientId() + (attaches > 1 ? ", reconnect " + reconnectCount : "") +
            ")");
        return true;
    }

    private String lossReason()
    {
        final Attachment a = attachment;
        if (null != a.failure)
        {
            return a.failure;
        }
        if (a.aeron.isClosed())
        {
            return "client closed";
        }
        final DriverLiveness liveness = DriverLiveness.of(aeronDir, STALE_HEARTBEAT_MS);
        if (DriverLiveness.State.STARTING == liveness.state() || DriverLiveness.State.ABSENT == liveness.state())
        {
            // a new driver took over (or is taking over) the directory: ours is gone
            return "driver files replaced (" + liveness + ")";
        }
        if (!liveness.isRunning())
        {
            return "driver " + liveness;
        }
        if (liveness.pid() != a.driverPid)
        {
            return "another driver (pid " + liveness.pid() + ") runs in the directory";
        }
        return null;
    }

    private void detach(final long nowNs, final String reason)
    {
        synchronized (lock)
        {
            current = null;
            generation++;
            retired.add(new Retired(attachment.aeron, nowNs + CLOSE_GRACE_NS));
            attachment = null;
            for (final Mirror mirror : mirrors)
            {
                mirror.remote = null;
            }
        }
        log("lost the media driver in " + aeronDir + ": " + reason + "; reconnecting");
    }

    private void mirrorCounters()
    {
        synchronized (lock)
        {
            final Attachment a = attachment;
            if (null == a)
            {
                return;
            }
            for (final Mirror mirror : mirrors)
            {
                try
                {
                    if (null == mirror.remote)
                    {
                        mirror.remote = a.aeron.addCounter(mirror.typeId, mirror.label);
                    }
                    mirror.remote.setRelease(mirror.local.get());
                }
                catch (final RuntimeException ex)
                {
                    // the client is failing; lossReason() will say so on the next check
                    return;
                }
            }
        }
    }

    private void closeRetired(final long nowNs, final boolean all)
    {
        for (int i = retired.size() - 1; i >= 0; i--)
        {
            final Retired r;
            synchronized (lock)
            {
                r = retired.get(i);
                if (!all && r.closeAtNs() - nowNs > 0)
                {
                    continue;
                }
                retired.remove(i);
            }
            CloseHelper.quietClose(r.aeron());
        }
    }

    private void log(final String text)
    {
        System.err.println(Instant.now() + " " + name + ": " + text);
    }

    /**
     * Stop watching and close the client (users must have stopped using it).
     */
    public void close()
    {
        running = false;
        LockSupport.unpark(watcher);
        try
        {
            watcher.join(10_000);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
