package mailgate.bench.jmh;

import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SmtpReplies;
import mailgate.reactor.spool.Spool;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * What does it cost to put one reply into a connection's ReplyBuffer: a pre-encoded one, or the composed
 * "250 2.0.0 Ok: queued as ID" and "250 2.0.0 N octets received"?
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = BenchFixtures.ADD_EXPORTS)
@State(Scope.Thread)
public class ReplyEncodeBenchmark
{
    /** The same bytes SmtpSettings builds for EHLO (its field is package-private). */
    private static final byte[] EHLO = (
        "250-mx.bench.example\r\n" +
        "250-PIPELINING\r\n" +
        "250-SIZE 67108864\r\n" +
        "250-ENHANCEDSTATUSCODES\r\n" +
        "250-8BITMIME\r\n" +
        "250-DSN\r\n" +
        "250-SMTPUTF8\r\n" +
        "250-BINARYMIME\r\n" +
        "250 CHUNKING\r\n").getBytes(StandardCharsets.US_ASCII);

    private final ReplyBuffer out = new ReplyBuffer(64 * 1024);
    private String queueId;
    private long chunkLength;

    @Setup
    public void setup()
    {
        queueId = Spool.queueId(System.currentTimeMillis(), 0, 42);
        chunkLength = 65536 + System.nanoTime() % 7;
    }

    @Benchmark
    public int fixedOk()
    {
        out.put(SmtpReplies.OK);
        return flush();
    }

    @Benchmark
    public int fixedEhlo()
    {
        out.put(EHLO);
        return flush();
    }

    /** As SmtpSession.onSpoolCommitted writes it. */
    @Benchmark
    public int queuedAs()
    {
        out.putAscii("250 2.0.0 Ok: queued as ");
        out.putAscii(queueId);
        out.putAscii("\r\n");
        return flush();
    }

    /** As SmtpSession writes the reply to a BDAT chunk that is not the last. */
    @Benchmark
    public int bdatOctets()
    {
        out.putAscii("250 2.0.0 ");
        out.putNatural(chunkLength);
        out.putAscii(" octets received\r\n");
        return flush();
    }

    /**
     * Stand-in for the socket write that takes everything pending.
     */
    private int flush()
    {
        final int pending = out.pending();
        out.onWritten(pending);
        return pending;
    }

    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(ReplyEncodeBenchmark.class.getSimpleName()).build()).run();
    }
}
