/*
 * SUMMARY
 * The filter's worker threads, their bounded queue, and the deadline of every scan: the polling agent hands
 * jobs in and gets exactly one verdict per job back, never blocking on a scan.
 *
 * DESCRIPTION
 * The agent calls tryAcquire/submit when a request arrives and poll on every duty cycle. poll delivers
 * finished verdicts and, for any job past its deadline, a TEMPFAIL ("451 4.3.0 ... timed out"); the worker
 * still running it is interrupted (regex matching and file reads notice) and takes the next job when it
 * unwinds. A worker that has not unwound within a grace period after its deadline (a stage ignoring
 * interrupts, say) is abandoned as a daemon thread and replaced, so capacity comes back.
 *
 * LIMITS
 * At most workers + queue jobs in flight; tryAcquire returns null beyond (the agent answers "busy", 451).
 */
package mailgate.filter;

import mailgate.filter.InterruptibleCharSequence.ScanInterruptedException;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Worker threads with per-scan deadlines.
 */
public final class ScanPool implements AutoCloseable
{
    /** Reply when the deadline passes. */
    public static final String TIMEOUT_REPLY = "451 4.3.0 content filter timed out, try again later";
    /** Reply when the reference is refused. */
    public static final String REFUSED_REPLY = "451 4.3.0 message reference refused by the content filter";
    /** Reply when scanning failed (stage exception, read error). */
    public static final String ERROR_REPLY = "451 4.3.0 content filter error, try again later";

    /** Receives one verdict per submitted job, on the agent's thread. */
    @FunctionalInterface
    public interface VerdictListener
    {
        /**
         * @param job     the job (its request fields are valid during the call).
         * @param verdict the verdict to send.
         */
        void onVerdict(ScanJob job, FilterVerdict verdict);
    }

    private final Supplier<FilterRules> rules;
    private final List<FilterStage> stages;
    private final SpoolReference spool;
    private final FilterCounters counters;
    private final long scanTimeoutNs;
    private final long graceNs;
    private final ScanJob[] jobs;
    private final ArrayDeque<ScanJob> free = new ArrayDeque<>();
    private final ArrayBlockingQueue<ScanJob> queue;
    private final ManyToOneConcurrentArrayQueue<ScanJob> completed;
    private final ArrayDeque<Worker> workers = new ArrayDeque<>();
    private volatile boolean running = true;
    private int workerSeq;

    /**
     * @param workers        worker threads.
     * @param queueCapacity  jobs waiting beyond those running.
     * @param scanTimeoutMs  deadline of a scan, from the request's arrival.
     * @param rules          the rules in force (read at the start of each scan).
     * @param stages         SPI stages.
     * @param spool          the spool to open references in.
     * @param counters       counters.
     */
    public ScanPool(
        final int workers,
        final int queueCapacity,
        final long scanTimeoutMs,
        final Supplier<FilterRules> rules,
        final List<FilterStage> stages,
        final SpoolReference spool,
        final FilterCounters counters)
    {
        this.rules = rules;
        this.stages = List.copyOf(stages);
        this.spool = spool;
        this.counters = counters;
        this.scanTimeoutNs = TimeUnit.MILLISECONDS.toNanos(scanTimeoutMs);
        this.graceNs = Math.max(TimeUnit.SECONDS.toNanos(1), scanTimeoutNs);
        final int capacity = workers + queueCapacity;
        this.jobs = new ScanJob[capacity];
        for (int i = 0; i < capacity; i++)
        {
            jobs[i] = new ScanJob();
            free.add(jobs[i]);
        }
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.completed = new ManyToOneConcurrentArrayQueue<>(capacity * 2);
        for (int i = 0; i < workers; i++)
        {
            startWorker();
        }
    }

    /**
     * @return a free job, or null when workers and queue are full (answer "busy").
     */
    public ScanJob tryAcquire()
    {
        return free.poll();
    }

    /**
     * @param job   a job from {@link #tryAcquire()} with its request set.
     * @param nowNs the clock.
     */
    public void submit(final ScanJob job, final long nowNs)
    {
        job.startNs = nowNs;
        job.deadlineNs = nowNs + scanTimeoutNs;
        job.verdict = null;
        job.runner = null;
        job.state.set(ScanJob.QUEUED);
        if (!queue.offer(job))
        {
            // cannot happen: the queue holds every job of the pool
            job.state.set(ScanJob.FREE);
            free.add(job);
            throw new IllegalStateException("scan queue full");
        }
    }

    /**
     * Deliver finished verdicts and deadline tempfails; agent thread only.
     *
     * @param nowNs    the clock.
     * @param listener gets them.
     * @return work done.
     */
    public int poll(final long nowNs, final VerdictListener listener)
    {
        int work = 0;
        ScanJob job;
        while (null != (job = completed.poll()))
        {
            work++;
            if (job.abandoned)
            {
                continue;
            }
            if (ScanJob.DONE == job.state.get())
            {
                listener.onVerdict(job, job.verdict);
            }
            release(job);
        }
        for (int i = 0; i < jobs.length; i++)
        {
            final ScanJob j = jobs[i];
            final int state = j.state.get();
            if ((ScanJob.QUEUED == state || ScanJob.RUNNING == state) && nowNs - j.deadlineNs >= 0)
            {
                if (j.state.compareAndSet(state, ScanJob.TIMED_OUT))
                {
                    work++;
                    j.timedOutNs = nowNs;
                    counters.scanTimeouts.increment();
                    listener.onVerdict(j, FilterVerdict.failure(TIMEOUT_REPLY, "scan timed out"));
                    final Worker runner = j.runner;
                    if (ScanJob.RUNNING == state && null != runner)
                    {
                        runner.interruptIf(j);
                    }
                }
            }
            else if (ScanJob.TIMED_OUT == state && null != j.runner && nowNs - j.timedOutNs - graceNs >= 0)
            {
                // the worker did not unwind: give up on it, and on this job slot, and start a fresh one
                final Worker stuck = j.runner;
                if (stuck.abandon(j))
                {
                    work++;
                    j.abandoned = true;
                    jobs[i] = new ScanJob();
                    free.add(jobs[i]);
                    workers.remove(stuck);
                    counters.workersReplaced.increment();
                    System.err.println(Instant.now() + " mailgate filter: worker " + stuck.getName() +
                        " stuck past its deadline on " + j.queueId + "; replaced");
                    startWorker();
                }
            }
        }
        return work;
    }

    /**
     * @return jobs in flight.
     */
    public int inFlight()
    {
        return jobs.length - free.size();
    }

    private void release(final ScanJob job)
    {
        job.state.set(ScanJob.FREE);
        job.runner = null;
        job.verdict = null;
        free.add(job);
    }

    private void startWorker()
    {
        final Worker worker = new Worker("mailgate-filter-worker-" + (workerSeq++));
        workers.add(worker);
        worker.start();
    }

    public void close()
    {
        running = false;
        for (final Worker worker : workers)
        {
            worker.interrupt();
        }
        for (final Worker worker : workers)
        {
            try
            {
                worker.join(TimeUnit.SECONDS.toMillis(2));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    FilterVerdict scan(final MessageScanner scanner, final ScanJob job)
    {
        final FilterMessage message = new FilterMessage(
            job.queueId, job.clientAddress, job.sender, job.recipientCount, job.messageSize);
        try (SpoolMessageStream in = spool.open(job.queueId, job.messageSize, job.checksum))
        {
            final FilterVerdict verdict = scanner.scan(rules.get(), stages, message, in);
            in.drainAndVerify();
            if (scanner.limitHit())
            {
                counters.limits.increment();
            }
            return verdict;
        }
        catch (final ReferenceRefusedException ex)
        {
            counters.onRefused(ex.reason());
            System.err.println(Instant.now() + " mailgate filter: refused reference " +
                SpoolReference.printable(job.queueId) + ": " + ex.getMessage());
            return FilterVerdict.failure(REFUSED_REPLY + " (" + ex.reason().label() + ")",
                "reference refused: " + ex.getMessage());
        }
        catch (final ScanInterruptedException | ClosedByInterruptException ex)
        {
            return null;
        }
        catch (final IOException | RuntimeException ex)
        {
            if (Thread.currentThread().isInterrupted())
            {
                return null;
            }
            counters.scanErrors.increment();
            System.err.println(Instant.now() + " mailgate filter: scan of " + job.queueId + " failed: " + ex);
            return FilterVerdict.failure(ERROR_REPLY, "scan failed: " + ex);
        }
    }

    /**
     * One worker thread.
     */
    final class Worker extends Thread
    {
        private final MessageScanner scanner = new MessageScanner();
        private ScanJob current;
        private boolean abandoned;

        Worker(final String name)
        {
            super(name);
            setDaemon(true);
        }

        synchronized void interruptIf(final ScanJob job)
        {
            if (current == job)
            {
                interrupt();
            }
        }

        synchronized boolean abandon(final ScanJob job)
        {
            if (current == job)
            {
                abandoned = true;
                return true;
            }
            return false;
        }

        public void run()
        {
            while (running)
            {
                final ScanJob job;
                try
                {
                    job = queue.take();
                }
                catch (final InterruptedException ex)
                {
                    continue;
                }
                if (!job.state.compareAndSet(ScanJob.QUEUED, ScanJob.RUNNING))
                {
                    completed.offer(job);
                    continue;
                }
                synchronized (this)
                {
                    current = job;
                    job.runner = this;
                    if (ScanJob.TIMED_OUT == job.state.get())
                    {
                        interrupt(); // the deadline passed between take() and here
                    }
                }
                FilterVerdict verdict;
                try
                {
                    verdict = scan(scanner, job);
                }
                catch (final Throwable t)
                {
                    counters.scanErrors.increment();
                    System.err.println(Instant.now() + " mailgate filter: scan of " + job.queueId + " failed: " + t);
                    verdict = FilterVerdict.failure(ERROR_REPLY, "scan failed: " + t);
                }
                final boolean leave;
                synchronized (this)
                {
                    current = null;
                    Thread.interrupted();
                    leave = abandoned;
                }
                job.verdict = null != verdict ? verdict : FilterVerdict.failure(TIMEOUT_REPLY, "scan interrupted");
                job.state.compareAndSet(ScanJob.RUNNING, ScanJob.DONE);
                completed.offer(job);
                if (leave)
                {
                    return;
                }
            }
        }
    }
}
