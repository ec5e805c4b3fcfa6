package mailgate.bench.jmh;

import mailgate.reactor.MailLog;
import mailgate.reactor.policy.AcceptAllPolicy;
import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SessionServices;
import mailgate.reactor.smtp.SmtpPathParser;
import mailgate.reactor.smtp.SmtpSession;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * What does the reactor's session cost per pipelined batch of SMTP commands (EHLO, RSET, NOOP, MAIL FROM, RSET),
 * and per MAIL FROM argument parse, and does either allocate?
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = BenchFixtures.ADD_EXPORTS)
@State(Scope.Thread)
public class CommandParseBenchmark
{
    /** One pipelined batch: five commands, five replies, no DATA so nothing touches the disk. */
    static final String BATCH =
        "EHLO client.example.com\r\n" +
        "RSET\r\n" +
        "NOOP\r\n" +
        "MAIL FROM:<user@example.com> SIZE=12345 BODY=8BITMIME\r\n" +
        "RSET\r\n";
    static final String MAIL_ARGUMENT = "FROM:<user@example.com> SIZE=12345 BODY=8BITMIME";

    private final UnsafeBuffer batch = new UnsafeBuffer(ByteBuffer.allocateDirect(4096));
    private final UnsafeBuffer mailArgument = new UnsafeBuffer(ByteBuffer.allocateDirect(512));
    private final SmtpPathParser parser = new SmtpPathParser();
    private final ReplyBuffer out = new ReplyBuffer(64 * 1024);
    private int batchLength;
    private int mailArgumentLength;
    private long nowNs = 1_000_000_000L;
    private Path dir;
    private Spool spool;
    private MailLog mailLog;
    private SmtpSession session;

    @Setup
    public void setup()
    {
        batchLength = batch.putStringWithoutLengthAscii(0, BATCH);
        mailArgumentLength = mailArgument.putStringWithoutLengthAscii(0, MAIL_ARGUMENT);

        // the spool is never written (no DATA) and its syncer is not started
        dir = BenchFixtures.tempDir(BenchFixtures.SHM);
        spool = new Spool(dir.resolve("spool"), 1);
        mailLog = BenchFixtures.nullMailLog();
        final SessionServices services = new SessionServices(
            BenchFixtures.settings(20), new AcceptAllPolicy(), spool, new OneToOneConcurrentArrayQueue<SpoolFile>(64),
            BenchFixtures.counters(), mailLog, 0, () -> { });
        session = new SmtpSession(services, out, () -> {}, "192.0.2.7", 40000);
        session.onConnect(nowNs);
        final String greeting = out.pendingAsString();
        if (!greeting.startsWith("220 "))
        {
            throw new IllegalStateException("no greeting: " + greeting);
        }
        out.clear();

        final int consumed = session.onBytes(batch, 0, batchLength, nowNs);
        final String replies = out.pendingAsString();
        out.clear();
        // EHLO's multi-line reply, then RSET, NOOP, MAIL, RSET
        final String lastFour = "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.0.0 Ok\r\n";
        if (consumed != batchLength || !replies.endsWith(lastFour))
        {
            throw new IllegalStateException("unexpected: consumed " + consumed + " of " + batchLength + ", " + replies);
        }
        if (null != parser.parseMail(mailArgument, 0, mailArgumentLength) || 12345 != parser.size() ||
            SmtpPathParser.BODY_8BITMIME != parser.body())
        {
            throw new IllegalStateException("parseMail failed on " + MAIL_ARGUMENT);
        }
    }

    @TearDown
    public void tearDown()
    {
        session.onDisconnect();
        spool.close();
        mailLog.close();
        BenchFixtures.deleteTree(dir);
    }

    /**
     * @return bytes consumed (always the whole batch).
     */
    @Benchmark
    public int sessionBatch()
    {
        nowNs += 1000;
        final int consumed = session.onBytes(batch, 0, batchLength, nowNs);
        out.onWritten(out.pending());
        return consumed;
    }

    /**
     * @return the SIZE parsed.
     */
    @Benchmark
    public long parseMail()
    {
        final byte[] error = parser.parseMail(mailArgument, 0, mailArgumentLength);
        return null == error ? parser.size() : -1;
    }

    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(CommandParseBenchmark.class.getSimpleName()).build()).run();
    }
}
