package mailgate.bench.jmh;

import mailgate.reactor.MailLog;
import mailgate.reactor.policy.PolicyQuery;
import mailgate.reactor.policy.SmtpPolicy;
import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SessionServices;
import mailgate.reactor.smtp.SmtpReplies;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * How many bytes per second does the session's DATA phase (dot-unstuffing, CR LF . CR LF search, copy to the
 * spool file on tmpfs) take, for 1 KiB and 64 KiB messages fed in 8 KiB slices?
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = BenchFixtures.ADD_EXPORTS)
@State(Scope.Thread)
public class DotUnstuffBenchmark
{
    /** Bytes per onBytes call, as a socket read of the event loop might deliver them. */
    static final int SLICE = 8 * 1024;
    static final String ENVELOPE =
        "MAIL FROM:<sender@example.com> BODY=8BITMIME\r\n" +
        "RCPT TO:<rcpt@example.net>\r\n" +
        "DATA\r\n";
    static final byte[] REFUSED = SmtpReplies.ascii("550 5.7.1 Refused by the benchmark after DATA");

    /** Message bytes on the wire, dot-stuffed, without the final ".\r\n". */
    @Param({ "1024", "65536" })
    int messageBytes;

    /**
     * discard: the policy refuses the message at end of data, so the tmp file is deleted (no fsync, no syncer
     * hand-off); queue: accepted, committed through the SpoolSyncer (fsync on tmpfs, rename) and the queued
     * file then deleted by the benchmark.
     */
    @Param({ "discard", "queue" })
    String end;

    private final UnsafeBuffer in = new UnsafeBuffer(ByteBuffer.allocateDirect(256 * 1024));
    private final ReplyBuffer out = new ReplyBuffer(64 * 1024);
    private final OneToOneConcurrentArrayQueue<SpoolFile> completions = new OneToOneConcurrentArrayQueue<>(64);
    private int envelopeLength;
    private int messageEnd;
    private long nowNs = 1_000_000_000L;
    private boolean queue;
    private Path dir;
    private Spool spool;
    private MailLog mailLog;
    private SmtpSession session;

    @Setup
    public void setup()
    {
        queue = "queue".equals(end);
        envelopeLength = in.putStringWithoutLengthAscii(0, ENVELOPE);
        messageEnd = envelopeLength + putMessage(in, envelopeLength, messageBytes);
        messageEnd += in.putStringWithoutLengthAscii(messageEnd, ".\r\n");

        dir = BenchFixtures.tempDir(BenchFixtures.SHM);
        spool = new Spool(dir.resolve("spool"), 8);
        if (queue)
        {
            spool.syncer().start();
        }
        mailLog = BenchFixtures.nullMailLog();
        final SmtpPolicy policy = new SmtpPolicy()
        {
            public void onConnect(final PolicyQuery query)
            {
                query.accept();
            }

            public void onMailFrom(final PolicyQuery query)
            {
                query.accept();
            }

            public void onRcptTo(final PolicyQuery query)
            {
                query.accept();
            }

            public void onMessage(final PolicyQuery query)
            {
                if (queue)
                {
                    query.accept();
                }
                else
                {
                    query.reject(REFUSED);
                }
            }
        };
        // refusals count as errors: lift the hard error limit so the session never closes
        final SessionServices services = new SessionServices(
            BenchFixtures.settings(Integer.MAX_VALUE), policy, spool, completions, BenchFixtures.counters(), mailLog,
            0, () -> { });
        session = new SmtpSession(services, out, () -> {}, "192.0.2.7", 40000);
        session.onConnect(nowNs);
        feed("EHLO client.example.com\r\n");
        out.clear();

        transaction();
        final String replies = out.pendingAsString();
        out.clear();
        final String expected = queue ? "250 2.0.0 Ok: queued as " : "550 5.7.1 Refused";
        // MAIL, RCPT, DATA, end of data: any other reply means the body was misread as commands
        if (4 != replies.split("\r\n").length || !replies.contains("354 ") || !replies.contains(expected))
        {
            throw new IllegalStateException("unexpected replies: " + replies);
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
     * One transaction: MAIL, RCPT and DATA in one read, the message in 8 KiB slices, end of data, and for
     * "queue" the wait for the group commit (fsync on tmpfs) and the unlink of the queued file.
     *
     * @return bytes fed.
     */
    @Benchmark
    public int message()
    {
        final int fed = transaction();
        out.onWritten(out.pending());
        return fed;
    }

    private int transaction()
    {
        nowNs += 1000;
        final int consumed = session.onBytes(in, 0, envelopeLength, nowNs);
        if (consumed != envelopeLength)
        {
            throw new IllegalStateException("envelope not consumed: " + consumed);
        }
        int position = envelopeLength;
        while (position < messageEnd)
        {
            final int fed = session.onBytes(in, position, Math.min(SLICE, messageEnd - position), nowNs);
            if (0 == fed)
            {
                throw new IllegalStateException("session stalled at " + position);
            }
            position += fed;
        }
        if (queue)
        {
            SpoolFile file;
            while (null == (file = completions.poll()))
            {
                Thread.onSpinWait();
            }
            file.onCompletion();
            try
            {
                Files.delete(spool.queueDir().resolve(file.id()));
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException(ex);
            }
        }
        return position;
    }

    private void feed(final String text)
    {
        final int length = in.putStringWithoutLengthAscii(messageEnd, text);
        session.onBytes(in, messageEnd, length, nowNs);
    }

    /**
     * Write a plausible message: headers, then 72-column text where every eighth line starts with a dot
     * (stuffed on the wire as ".."), exactly length bytes ending in CR LF.
     */
    static int putMessage(final UnsafeBuffer buffer, final int offset, final int length)
    {
        final StringBuilder sb = new StringBuilder(length + 128);
        sb.append("From: Sender <sender@example.com>\r\n")
            .append("To: Recipient <rcpt@example.net>\r\n")
            .append("Subject: benchmark message\r\n")
            .append("Message-ID: <bench.1@example.com>\r\n")
            .append("MIME-Version: 1.0\r\n")
            .append("Content-Type: text/plain; charset=utf-8\r\n")
            .append("\r\n");
        final String text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor";
        int line = 0;
        while (sb.length() < length)
        {
            if (7 == line % 8)
            {
                sb.append("..");
            }
            sb.append(text, 0, 70).append("\r\n");
            line++;
        }
        sb.setLength(length - 2);
        if ('.' == sb.charAt(sb.length() - 1) || '\r' == sb.charAt(sb.length() - 1))
        {
            sb.setCharAt(sb.length() - 1, 'x');
        }
        sb.append("\r\n");
        return buffer.putStringWithoutLengthAscii(offset, sb.toString());
    }

    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(DotUnstuffBenchmark.class.getSimpleName()).build()).run();
    }
}
