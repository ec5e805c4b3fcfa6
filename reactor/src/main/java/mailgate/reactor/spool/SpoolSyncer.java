/*
 * SUMMARY
 * Group commit for the spool: one agent makes finished messages durable in batches.
 *
 * DESCRIPTION
 * Event loops submit finished tmp files. The agent takes all that have arrived as one batch, renames each
 * into queue/, makes the batch durable, and only then hands every file back to its loop, which sends the 250.
 * Durable means one syncfs of the spool's file system (FileSystemSync: one disk flush per batch on any file
 * system), or in fsync mode every file's fsync and one of queue/, issued concurrently on a small pool (a
 * journalled ext4 folds them into one commit; without a journal each flushes on its own). While one batch
 * is on disk the next one gathers, so the batch size grows with the load and the disk's flush rate
 * stops being the message rate.
 *
 * LIMITS
 * The submit queue is bounded; a loop that finds it full spins briefly (the syncer drains it in whole
 * batches, so it empties within one flush).
 */
package mailgate.reactor.spool;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.IOException;
import java.util.ArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The group-commit agent of the spool.
 */
public final class SpoolSyncer implements Agent, AutoCloseable
{
    private static final int MAX_BATCH = 4096;

    private final Spool spool;
    private final ManyToOneConcurrentArrayQueue<SpoolFile> submitted = new ManyToOneConcurrentArrayQueue<>(65536);
    private final ArrayList<SpoolFile> batch = new ArrayList<>();
    private final ArrayList<Future<?>> syncs = new ArrayList<>();
    private final ExecutorService fsyncPool;
    private AtomicCounter filesSynced;
    private AtomicCounter batches;
    private AtomicCounter failures;
    private AgentRunner runner;
    private volatile Thread thread;
    private volatile boolean sleeping;

    SpoolSyncer(final Spool spool, final int syncThreads)
    {
        this.spool = spool;
        this.fsyncPool = syncThreads > 1 ? Executors.newFixedThreadPool(syncThreads, (r) ->
        {
            final Thread t = new Thread(r, "mailgate-fsync");
            t.setDaemon(true);
            return t;
        }) : null;
    }

    /**
     * Attach counters (optional; before start).
     *
     * @param filesSynced files made durable.
     * @param batches     group commits (one queue directory fsync each).
     * @param failures    files that could not be made durable.
     */
    public void counters(final AtomicCounter filesSynced, final AtomicCounter batches, final AtomicCounter failures)
    {
        this.filesSynced = filesSynced;
        this.batches = batches;
        this.failures = failures;
    }

    /**
     * Start the agent on its own thread.
     */
    public void start()
    {
        runner = new AgentRunner(new ParkingIdleStrategy(), Throwable::printStackTrace, null, this);
        AgentRunner.startOnThread(runner);
    }

    /**
     * Queue a finished file for durability (any thread).
     *
     * @param file finished, tmp file still open.
     */
    void submit(final SpoolFile file)
    {
        while (!submitted.offer(file))
        {
            Thread.onSpinWait();
        }
        if (sleeping)
        {
            LockSupport.unpark(thread);
        }
    }

    public void onStart()
    {
        thread = Thread.currentThread();
    }

    /**
     * Spins a little, then parks until a loop submits (it unparks only a sleeping syncer, so a busy one costs
     * the loops nothing) or 10 ms pass.
     */
    private final class ParkingIdleStrategy implements IdleStrategy
    {
        private int idleCount;

        public void idle(final int workCount)
        {
            if (workCount > 0)
            {
                idleCount = 0;
            }
            else
            {
                idle();
            }
        }

        public void idle()
        {
            if (idleCount++ < 100)
            {
                Thread.onSpinWait();
                return;
            }
            sleeping = true;
            if (submitted.isEmpty())
            {
                LockSupport.parkNanos(10_000_000L);
            }
            sleeping = false;
        }

        public void reset()
        {
            idleCount = 0;
        }
    }

    public int doWork()
    {
        final int count = submitted.drainTo(batch, MAX_BATCH);
        if (0 == count)
        {
            return 0;
        }
        // rename first, then every data fsync and the directory fsync at once: ext4 folds them into one journal
        // commit, so a batch waits for one disk flush, not two in a row. Until they all return nobody gets a 250;
        // an OS crash in between can leave an incomplete file in queue/, which start-up verification removes.
        boolean quarantined = false;
        for (int i = 0; i < count; i++)
        {
            batch.get(i).moveToQueue();
            quarantined |= batch.get(i).isQuarantined();
        }
        IOException dirFailure = syncAll(quarantined);
        if (null == dirFailure && !spool.stillWritable(quarantined))
        {
            // an I/O error made the file system read-only (ext4's errors=remount-ro) during the commit: syncfs then
            // returns 0 without writing anything and an fsync's journal commit was abandoned, so a clean return
            // proves nothing (WritebackErrorTest caught a 250 for a message that never reached the device)
            dirFailure = new IOException("spool file system went read-only during the group commit");
        }
        if (null != dirFailure)
        {
            spool.onSyncError();
        }
        final long syncErrors = spool.syncErrors();
        for (int i = 0; i < count; i++)
        {
            final SpoolFile file = batch.get(i);
            if (null == file.failure())
            {
                if (null != dirFailure)
                {
                    file.failAfterMove(dirFailure);
                }
                else if (null != spool.fileSystemSync() && file.openedBeforeSyncError(syncErrors))
                {
                    // syncfs reports a write-back error once, to the batch that asked first; this file was open
                    // then, so its own pages may be the ones that failed: never acknowledge it
                    file.failAfterMove(new IOException("a write-back error was reported while it was being written"));
                }
            }
            file.closeAfterSync();
        }
        final long nowNs = System.nanoTime();
        int failed = 0;
        for (int i = 0; i < count; i++)
        {
            final SpoolFile file = batch.get(i);
            failed += null == file.failure() ? 0 : 1;
            file.complete(nowNs);
        }
        batch.clear();
        if (null != filesSynced)
        {
            filesSynced.getAndAddRelease(count - failed);
            batches.incrementRelease();
            failures.getAndAddRelease(failed);
        }
        return count;
    }

    private IOException syncAll(final boolean quarantined)
    {
        final int count = batch.size();
        IOException dirFailure = null;
        final FileSystemSync fileSystemSync = spool.fileSystemSync();
        if (null != fileSystemSync)
        {
            try
            {
                // tmp/ and queue/ are on this file system (checked at open): files, renames and directories at once
                fileSystemSync.sync();
            }
            catch (final IOException ex)
            {
                dirFailure = ex;
            }
            return dirFailure;
        }
        if (null == fsyncPool)
        {
            for (int i = 0; i < count; i++)
            {
                batch.get(i).syncData();
            }
            try
            {
                spool.syncQueueDir();
                if (quarantined)
                {
                    spool.syncQuarantineDir();
                }
            }
            catch (final IOException ex)
            {
                dirFailure = ex;
            }
            return dirFailure;
        }
        final Future<IOException> queueDir = fsyncPool.submit(() -> syncDir(false));
        final Future<IOException> quarantineDir = quarantined ? fsyncPool.submit(() -> syncDir(true)) : null;
        for (int i = 0; i < count; i++)
        {
            syncs.add(fsyncPool.submit(batch.get(i)::syncData));
        }
        awaitSyncs();
        try
        {
            dirFailure = queueDir.get();
            if (null == dirFailure && null != quarantineDir)
            {
                dirFailure = quarantineDir.get();
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            dirFailure = new IOException("interrupted while syncing the queue directory");
        }
        catch (final ExecutionException ex)
        {
            dirFailure = new IOException(ex.getCause());
        }
        return dirFailure;
    }

    private IOException syncDir(final boolean quarantine)
    {
        try
        {
            if (quarantine)
            {
                spool.syncQuarantineDir();
            }
            else
            {
                spool.syncQueueDir();
            }
            return null;
        }
        catch (final IOException ex)
        {
            return ex;
        }
    }

    private void awaitSyncs()
    {
        final int count = syncs.size();
        for (int i = 0; i < count; i++)
        {
            try
            {
                syncs.get(i).get();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            catch (final ExecutionException ex)
            {
                // syncData records its own I/O failure; anything else is a bug worth seeing
                ex.getCause().printStackTrace();
            }
        }
        syncs.clear();
    }

    /**
     * @return files submitted and not yet taken into a batch.
     */
    public int backlog()
    {
        return submitted.size();
    }

    public String roleName()
    {
        return "spool-syncer";
    }

    /**
     * Stop after the files already submitted are done.
     */
    public void close()
    {
        if (null != runner)
        {
            runner.close();
            runner = null;
        }
        while (0 != doWork())
        {
            Thread.onSpinWait();
        }
        if (null != fsyncPool)
        {
            fsyncPool.shutdown();
            try
            {
                fsyncPool.awaitTermination(10, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }
    }
}
