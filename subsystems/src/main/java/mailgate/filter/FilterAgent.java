/*
 * SUMMARY
 * The content filter's duty cycle: poll the filter request stream, answer challenges, hand each message
 * reference to a worker, and reply on the stream each requester named, by the verdict or by the deadline.
 *
 * DESCRIPTION
 * The agent never scans and never blocks: a request becomes a job in the bounded ScanPool (or an immediate
 * "451 4.3.0 busy" when it is full), and verdicts come back through ScanPool.poll on a later cycle. Every
 * job yields exactly one reply: its verdict, or TEMPFAIL at its deadline. A reply that cannot be offered
 * after a few tries is dropped and counted; the requester's own deadline then answers its client with 451.
 *
 * SECURITY
 * Requests carry references, never paths; SpoolReference refuses anything but the exact file (see there).
 * The requester trusts replies only from a session that proved the install secret (SubsystemChallenger);
 * this agent answers challenges with Role.FILTER.
 */
package mailgate.filter;

import mailgate.ipc.ChallengeResponder;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SubsystemServer;
import mailgate.ipc.codecs.FilterAction;
import mailgate.ipc.codecs.FilterReplyEncoder;
import mailgate.ipc.codecs.FilterRequestDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

/**
 * The filter's agent.
 */
public final class FilterAgent implements Agent
{
    /** Reply when every worker and queue slot is taken. */
    public static final String BUSY_REPLY = "451 4.3.0 content filter busy, try again later";
    private static final int MAX_REASON = 1000;

    private final ScanPool pool;
    private final SubsystemServer server;
    private final FilterCounters counters;
    private final NanoClock clock;
    private final ScanPool.VerdictListener verdictListener = this::onVerdict;
    private final FilterRequestDecoder requestDecoder = new FilterRequestDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final FilterReplyEncoder replyEncoder = new FilterReplyEncoder();
    private final ExpandableArrayBuffer sendBuffer = new ExpandableArrayBuffer(4096);
    private long nowNs;

    /**
     * @param connection the process's client, reattached after a media driver restart.
     * @param pool      the workers.
     * @param responder answers challenges (Role.FILTER).
     * @param counters  counters.
     * @param clock     nanosecond clock, read once per duty cycle.
     */
    public FilterAgent(
        final DriverConnection connection,
        final ScanPool pool,
        final ChallengeResponder responder,
        final FilterCounters counters,
        final NanoClock clock)
    {
        this.pool = pool;
        this.counters = counters;
        this.clock = clock;
        this.server = new SubsystemServer(connection, IpcChannels.FILTER_REQUEST_STREAM, responder,
            counters.badFrames, counters.offerFailures, this::onRequest);
    }

    public int doWork()
    {
        nowNs = clock.nanoTime();
        return server.poll(nowNs) + pool.poll(nowNs, verdictListener);
    }

    private void onRequest(
        final int templateId, final DirectBuffer buffer, final int offset, final int blockLength, final int version)
    {
        if (FilterRequestDecoder.TEMPLATE_ID != templateId)
        {
            server.badFrame();
            return;
        }
        requestDecoder.wrap(buffer, offset, blockLength, version);
        counters.requests.increment();
        final long correlationId = requestDecoder.correlationId();
        final int replyStreamId = requestDecoder.replyStreamId();
        final long messageSize = requestDecoder.messageSize();
        final int checksum = requestDecoder.checksum();
        final int recipientCount = requestDecoder.recipientCount();
        final String queueId = requestDecoder.queueId();
        final String clientAddress = requestDecoder.clientAddress();
        final String sender = requestDecoder.sender();
        final ScanJob job = pool.tryAcquire();
        if (null == job)
        {
            counters.busy.increment();
            send(correlationId, replyStreamId, FilterVerdict.failure(BUSY_REPLY, "filter busy"));
            return;
        }
        job.set(correlationId, replyStreamId, queueId, messageSize, checksum, recipientCount, clientAddress, sender);
        pool.submit(job, nowNs);
    }

    private void onVerdict(final ScanJob job, final FilterVerdict verdict)
    {
        send(job.correlationId(), job.replyStreamId(), verdict);
    }

    private void send(final long correlationId, final int replyStreamId, final FilterVerdict verdict)
    {
        counters.onVerdict(verdict.action());
        final String reason = verdict.reason().length() > MAX_REASON ?
            verdict.reason().substring(0, MAX_REASON) : verdict.reason();
        replyEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .action(verdict.action())
            .replyText(verdict.replyText())
            .headers(FilterAction.ADD_HEADERS == verdict.action() ? verdict.headers() : "")
            .reason(reason);
        server.reply(replyStreamId, sendBuffer, MessageHeaderEncoder.ENCODED_LENGTH + replyEncoder.encodedLength());
    }

    public void onClose()
    {
        server.close();
        pool.close();
    }

    public String roleName()
    {
        return "filter";
    }
}
