package mailgate.reactor.smtp;

import mailgate.reactor.MailLog;
import mailgate.reactor.policy.SmtpPolicy;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.spool.SpoolFormat;
import mailgate.reactor.spool.SpoolWriteBuffers;
import mailgate.reactor.status.LoopCounters;
import mailgate.reactor.tls.TlsCounters;
import org.agrona.BufferUtil;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.util.Queue;

/**
 * What the sessions of one event loop share: settings, policy, spool, counters, log, and scratch buffers
 * that are safe to share because a loop runs one session at a time.
 */
public final class SessionServices
{
    /** Bytes of message data gathered before a spool write. */
    public static final int SCRATCH_LENGTH = 64 * 1024;
    /** Messages of one loop gathered in a write buffer at once (2 MiB); more than that write through. */
    public static final int SPOOL_WRITE_BUFFERS = 32;

    final SmtpSettings settings;
    final SmtpPolicy policy;
    final Spool spool;
    final Queue<SpoolFile> spoolCompletions;
    final LoopCounters counters;
    final MailLog mailLog;
    final int loopId;
    final Runnable completionSignal;
    final ByteBuffer scratch = BufferUtil.allocateDirectAligned(SCRATCH_LENGTH, 64);
    final UnsafeBuffer scratchView = new UnsafeBuffer(scratch);
    final ExpandableDirectByteBuffer envelopeBuffer = new ExpandableDirectByteBuffer(4096);
    final SpoolFormat spoolFormat = new SpoolFormat(envelopeBuffer);
    final SpoolWriteBuffers spoolWriteBuffers = new SpoolWriteBuffers(SPOOL_WRITE_BUFFERS);
    final ManyToOneConcurrentArrayQueue<Runnable> inbox = new ManyToOneConcurrentArrayQueue<>(1024);
    Authenticator authenticator;
    TlsCounters tlsCounters = TlsCounters.unattached();
    private long sequence;

    /**
     * @param settings         protocol settings.
     * @param policy           the policy seam.
     * @param spool            where messages go.
     * @param spoolCompletions the loop's queue for durable files coming back.
     * @param counters         the loop's counters.
     * @param mailLog          the maillog.
     * @param loopId           the loop's number.
     * @param completionSignal wakes the loop when the syncer hands back a durable file (any thread).
     */
    public SessionServices(
        final SmtpSettings settings,
        final SmtpPolicy policy,
        final Spool spool,
        final Queue<SpoolFile> spoolCompletions,
        final LoopCounters counters,
        final MailLog mailLog,
        final int loopId,
        final Runnable completionSignal)
    {
        this.completionSignal = completionSignal;
        this.settings = settings;
        this.policy = policy;
        this.spool = spool;
        this.spoolCompletions = spoolCompletions;
        this.counters = counters;
        this.mailLog = mailLog;
        this.loopId = loopId;
    }

    /**
     * @return a new queue id.
     */
    String nextQueueId()
    {
        return Spool.queueId(System.currentTimeMillis(), loopId, sequence++);
    }

    public LoopCounters counters()
    {
        return counters;
    }

    public SmtpPolicy policy()
    {
        return policy;
    }

    public SmtpSettings settings()
    {
        return settings;
    }

    /**
     * @param authenticator checks AUTH credentials, or null when AUTH is not configured.
     * @param tlsCounters   the loop's TLS and AUTH counters.
     * @return this.
     */
    public SessionServices tls(final Authenticator authenticator, final TlsCounters tlsCounters)
    {
        this.authenticator = authenticator;
        this.tlsCounters = tlsCounters;
        return this;
    }

    public TlsCounters tlsCounters()
    {
        return tlsCounters;
    }

    /**
     * @return answers from other threads (AUTH checks) waiting to run on the loop.
     */
    public ManyToOneConcurrentArrayQueue<Runnable> inbox()
    {
        return inbox;
    }

    /**
     * Hand a task to the loop (any thread) and wake it.
     *
     * @param task runs on the loop thread.
     */
    void post(final Runnable task)
    {
        while (!inbox.offer(task))
        {
            Thread.yield();
        }
        completionSignal.run();
    }
}
