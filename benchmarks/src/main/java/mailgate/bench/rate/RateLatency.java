package mailgate.bench.rate;

import org.HdrHistogram.Histogram;

/**
 * Latency of one increment-and-check ({@code RateLimiter.onMailFrom}) on the shared counter file: p50/p99/p99.9
 * /max with HdrHistogram, one thread, one key and 10,000 keys, "one" and "three" rule sets.
 * <p>
 * Run: {@code java <Chronicle flags> -cp benchmarks/target/benchmarks.jar mailgate.bench.rate.RateLatency
 * [iterations]} (default 2,000,000 measured after 500,000 warm-up calls per case).
 */
public final class RateLatency
{
    private RateLatency()
    {
    }

    /**
     * @param args [iterations].
     */
    public static void main(final String[] args)
    {
        final int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        System.out.printf("%-6s %-6s %10s %8s %8s %8s %8s %10s%n", "rules", "keys", "calls", "p50 us", "p99 us",
            "p99.9 us", "max us", "ops/s");
        for (final String rules : new String[]{"one", "three"})
        {
            for (final int keys : new int[]{1, RateBenchFixture.MANY_KEYS})
            {
                try (RateBenchFixture fixture = new RateBenchFixture(rules))
                {
                    run(fixture, keys, iterations / 4, null);
                    final Histogram histogram = new Histogram(3_600_000_000_000L, 3);
                    final long start = System.nanoTime();
                    run(fixture, keys, iterations, histogram);
                    final double seconds = (System.nanoTime() - start) / 1e9;
                    System.out.printf("%-6s %-6d %10d %8.2f %8.2f %8.2f %8.1f %10.0f%n", rules, keys, iterations,
                        histogram.getValueAtPercentile(50) / 1e3, histogram.getValueAtPercentile(99) / 1e3,
                        histogram.getValueAtPercentile(99.9) / 1e3, histogram.getMaxValue() / 1e3,
                        iterations / seconds);
                }
            }
        }
    }

    private static void run(final RateBenchFixture fixture, final int keys, final int iterations,
        final Histogram histogram)
    {
        int next = 0;
        long refused = 0;
        for (int i = 0; i < iterations; i++)
        {
            final String ip = keys == 1 ? "192.0.2.1" : fixture.ips[next];
            next = next + 1 == keys ? 0 : next + 1;
            final long t0 = System.nanoTime();
            final byte[] reply = fixture.limiter.onMailFrom(ip, "example.com", System.currentTimeMillis());
            final long t1 = System.nanoTime();
            if (null != histogram)
            {
                histogram.recordValue(t1 - t0);
            }
            if (null != reply)
            {
                refused++;
            }
        }
        if (refused != 0)
        {
            throw new IllegalStateException(refused + " calls refused: the limits are meant never to bite");
        }
    }
}
