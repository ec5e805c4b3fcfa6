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

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import mailgate.ipc.ChallengeResponder;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.codecs.ChallengeDecoder;
import mailgate.ipc.codecs.FilterAction;
import mailgate.ipc.codecs.FilterReplyEncoder;
import mailgate.ipc.codecs.FilterRequestDecoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

/**
 * The filter's agent.
 */
public final class FilterAgent implements Agent
{
    /** Reply when every worker and queue slot is taken. */
    public static final String BUSY_REPLY = "451 4.3.0 content filter busy, try again later";
    private static final int OFFER_ATTEMPTS = 3;
    private static final int MAX_REASON = 1000;

    private final Aeron aeron;
    private final Subscription requests;
    private final ScanPool pool;
    private final ChallengeResponder responder;
    private final FilterCounters counters;
    private final NanoClock clock;
    private final Int2ObjectHashMap<ExclusivePublication> replyPublications = new Int2ObjectHashMap<>();
    private final FragmentHandler handler = new FragmentAssembler(this::onFragment);
    private final ScanPool.VerdictListener verdictListener = this::onVerdict;
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ChallengeDecoder challengeDecoder = new ChallengeDecoder();
    private final FilterRequestDecoder requestDecoder = new FilterRequestDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final FilterReplyEncoder replyEncoder = new FilterReplyEncoder();
    private final ExpandableArrayBuffer sendBuffer = new ExpandableArrayBuffer(4096);
    private long nowNs;

    /**
     * @param aeron     connected client.
     * @param pool      the workers.
     * @param responder answers challenges (Role.FILTER).
     * @param counters  counters.
     * @param clock     nanosecond clock, read once per duty cycle.
     */
    public FilterAgent(
        final Aeron aeron,
        final ScanPool pool,
        final ChallengeResponder responder,
        final FilterCounters counters,
        final NanoClock clock)
    {
        this.aeron = aeron;
        this.pool = pool;
        this.responder = responder;
        this.counters = counters;
        this.clock = clock;
        this.requests = aeron.addSubscription(IpcChannels.CHANNEL, IpcChannels.FILTER_REQUEST_STREAM);
    }

    public int doWork()
    {
        nowNs = clock.nanoTime();
        return requests.poll(handler, 64) + pool.poll(nowNs, verdictListener);
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            counters.badFrames.increment();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != FilterRequestDecoder.SCHEMA_ID)
        {
            counters.badFrames.increment();
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        try
        {
            switch (headerDecoder.templateId())
            {
                case ChallengeDecoder.TEMPLATE_ID:
                    challengeDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                    final ExclusivePublication publication = replyPublication(challengeDecoder.replyStreamId());
                    if (null != publication)
                    {
                        responder.respond(challengeDecoder, publication);
                    }
                    break;
                case FilterRequestDecoder.TEMPLATE_ID:
                    requestDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                    onRequest();
                    break;
                default:
                    counters.badFrames.increment();
                    break;
            }
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            // a truncated or garbled frame: never trust it, never die of it
            counters.badFrames.increment();
        }
    }

    private void onRequest()
    {
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
        final ExclusivePublication publication = replyPublication(replyStreamId);
        if (null == publication)
        {
            counters.offerFailures.increment();
            return;
        }
        final String reason = verdict.reason().length() > MAX_REASON ?
            verdict.reason().substring(0, MAX_REASON) : verdict.reason();
        replyEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .action(verdict.action())
            .replyText(verdict.replyText())
            .headers(FilterAction.ADD_HEADERS == verdict.action() ? verdict.headers() : "")
            .reason(reason);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + replyEncoder.encodedLength();
        for (int attempt = 0; attempt < OFFER_ATTEMPTS; attempt++)
        {
            final long result = publication.offer(sendBuffer, 0, length);
            if (result > 0)
            {
                return;
            }
            if (Publication.NOT_CONNECTED == result || Publication.CLOSED == result ||
                Publication.MAX_POSITION_EXCEEDED == result)
            {
                break;
            }
        }
        counters.offerFailures.increment();
    }

    private ExclusivePublication replyPublication(final int streamId)
    {
        if (streamId < IpcChannels.REPLY_STREAM_BASE)
        {
            counters.badFrames.increment();
            return null;
        }
        ExclusivePublication publication = replyPublications.get(streamId);
        if (null == publication || publication.isClosed())
        {
            publication = aeron.addExclusivePublication(IpcChannels.CHANNEL, streamId);
            replyPublications.put(streamId, publication);
        }
        return publication;
    }

    public void onClose()
    {
        pool.close();
    }

    public String roleName()
    {
        return "filter";
    }
}
