package mailgate.bench.rate;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.concurrent.TimeUnit;

/**
 * Increment-and-check on the shared Chronicle Map counter file: {@code RateLimiter.onMailFrom} (count the
 * message for every subject a rule names, then compare with the limits and check penalties), on one hot key and
 * cycling over 10,000 client addresses. One thread: a reactor's event loop.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {
    RateBenchFixture.CHRONICLE_FLAGS_1, RateBenchFixture.CHRONICLE_FLAGS_2, RateBenchFixture.CHRONICLE_FLAGS_3,
    RateBenchFixture.CHRONICLE_FLAGS_4, RateBenchFixture.CHRONICLE_FLAGS_5, RateBenchFixture.AGRONA_FLAG,
    RateBenchFixture.NO_ANALYTICS})
@State(Scope.Thread)
public class RateMapBenchmark
{
    /** one: a single rule (messages per client-ip); three: ip + network + domain rules and a penalty check. */
    @Param({"one", "three"})
    public String rules;

    /** on: in-flight budget with two live peers per key (a three-node cluster); off: counts only. */
    @Param({"on", "off"})
    public String budget;

    private RateBenchFixture fixture;
    private int next;

    @Setup
    public void setUp()
    {
        fixture = new RateBenchFixture(rules, "on".equals(budget));
    }

    @TearDown
    public void tearDown()
    {
        fixture.close();
    }

    /**
     * @return the reply (null: accepted).
     */
    @Benchmark
    public byte[] oneKey()
    {
        return fixture.limiter.onMailFrom("192.0.2.1", "example.com", System.currentTimeMillis());
    }

    /**
     * @return the reply (null: accepted).
     */
    @Benchmark
    public byte[] tenThousandKeys()
    {
        final int i = next;
        next = i + 1 == RateBenchFixture.MANY_KEYS ? 0 : i + 1;
        return fixture.limiter.onMailFrom(fixture.ips[i], "example.com", System.currentTimeMillis());
    }

    /**
     * @param args ignored.
     * @throws RunnerException on failure.
     */
    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(RateMapBenchmark.class.getSimpleName()).build()).run();
    }
}
