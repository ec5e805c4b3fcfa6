package mailgate.filter;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Plays the agent's part for tests: submits a job and polls the pool until its verdict comes, with a deadline.
 */
final class PoolDriver
{
    private PoolDriver()
    {
    }

    record Outcome(FilterVerdict verdict, long elapsedMs)
    {
    }

    static Outcome run(final ScanPool pool, final SpoolFixture.Ref ref, final long maxMs)
    {
        return run(pool, ref.queueId(), ref.size(), ref.checksum(), maxMs);
    }

    static Outcome run(final ScanPool pool, final String id, final long size, final int crc, final long maxMs)
    {
        final ScanJob job = pool.tryAcquire();
        if (null == job)
        {
            throw new AssertionError("pool full");
        }
        final long correlationId = System.nanoTime();
        job.set(correlationId, 100_000, id, size, crc, 1, "192.0.2.7", "a@example.com");
        final long start = System.nanoTime();
        pool.submit(job, start);
        final FilterVerdict[] got = new FilterVerdict[1];
        final long deadline = start + TimeUnit.MILLISECONDS.toNanos(maxMs);
        while (null == got[0])
        {
            final long now = System.nanoTime();
            if (now - deadline > 0)
            {
                throw new AssertionError("no verdict within " + maxMs + " ms for " + id);
            }
            pool.poll(now, (j, v) ->
            {
                if (j.correlationId() == correlationId)
                {
                    got[0] = v;
                }
            });
            LockSupport.parkNanos(200_000);
        }
        // let the pool take the finished job back before the next use
        final long drainUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (pool.inFlight() > 0 && System.nanoTime() - drainUntil < 0)
        {
            pool.poll(System.nanoTime(), (j, v) -> { });
            LockSupport.parkNanos(200_000);
        }
        return new Outcome(got[0], TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }
}
