/*
 * SUMMARY
 * The router server's duty cycle: poll the request stream, answer challenges, decide MAIL and RCPT
 * questions from the current tables, and reply on the stream each requester named.
 *
 * DESCRIPTION
 * One agent serves every SMTP event loop of every smtpd process on the host. A table lookup is a few
 * hash probes, so the agent never blocks; a reload swaps the tables by reference between two requests.
 * A reply that cannot be offered after a few tries (back pressure, requester gone) is dropped and counted:
 * the requester's deadline turns it into a 451, never into a silent accept.
 */
package mailgate.router;

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
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterReplyEncoder;
import mailgate.ipc.codecs.RouterRequestDecoder;
import mailgate.ipc.codecs.Verdict;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * The router's agent.
 */
public final class RouterAgent implements Agent
{
    private static final long OFFER_DEADLINE_NS = 5_000_000L;
    private static final long PUBLICATION_SWEEP_NS = 1_000_000_000L;

    private final Aeron aeron;
    private final Subscription requests;
    private final Router router;
    private final ChallengeResponder responder;
    private final Int2ObjectHashMap<ExclusivePublication> replyPublications = new Int2ObjectHashMap<>();
    private final FragmentHandler handler = new FragmentAssembler(this::onFragment);
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ChallengeDecoder challengeDecoder = new ChallengeDecoder();
    private final RouterRequestDecoder requestDecoder = new RouterRequestDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RouterReplyEncoder replyEncoder = new RouterReplyEncoder();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[4096]);
    private final Router.Decision decision = new Router.Decision();
    private final AtomicCounter requestCount;
    private final AtomicCounter rejectCount;
    private final AtomicCounter badFrames;
    private final AtomicCounter offerFailures;
    private long nextSweepNs;

    /**
     * @param aeron     connected client.
     * @param router    decisions.
     * @param responder answers challenges.
     */
    public RouterAgent(final Aeron aeron, final Router router, final ChallengeResponder responder)
    {
        this.aeron = aeron;
        this.router = router;
        this.responder = responder;
        this.requests = aeron.addSubscription(IpcChannels.CHANNEL, IpcChannels.ROUTER_REQUEST_STREAM);
        this.requestCount = aeron.addCounter(RouterCounters.REQUESTS, "router requests");
        this.rejectCount = aeron.addCounter(RouterCounters.REJECTS, "router rejections");
        this.badFrames = aeron.addCounter(RouterCounters.BAD_FRAMES, "router bad frames dropped");
        this.offerFailures = aeron.addCounter(RouterCounters.OFFER_FAILURES, "router replies not sent");
    }

    public int doWork()
    {
        final long nowNs = System.nanoTime();
        if (nowNs - nextSweepNs >= 0)
        {
            nextSweepNs = nowNs + PUBLICATION_SWEEP_NS;
            closeAbandonedPublications();
        }
        return requests.poll(handler, 64);
    }

    /**
     * A requester that went away (smtpd restarted: new client id, new reply streams) leaves its reply
     * publications unconnected; close them so their log buffers leave /dev/shm.
     */
    private void closeAbandonedPublications()
    {
        replyPublications.values().removeIf((publication) ->
        {
            if (!publication.isConnected())
            {
                publication.close();
                return true;
            }
            return false;
        });
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            badFrames.increment();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RouterRequestDecoder.SCHEMA_ID)
        {
            badFrames.increment();
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
                case RouterRequestDecoder.TEMPLATE_ID:
                    requestDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                    onRequest();
                    break;
                default:
                    badFrames.increment();
                    break;
            }
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            // a truncated or garbled frame: never trust it, never die of it
            badFrames.increment();
        }
    }

    private void onRequest()
    {
        requestCount.increment();
        final long correlationId = requestDecoder.correlationId();
        final int replyStreamId = requestDecoder.replyStreamId();
        final RouterQuestion question = requestDecoder.question();
        final String client = requestDecoder.clientAddress();
        final String sender = requestDecoder.sender();
        final String recipient = requestDecoder.recipient();
        if (RouterQuestion.MAIL_FROM == question)
        {
            router.mailFrom(client, sender, decision);
        }
        else if (RouterQuestion.RCPT_TO == question)
        {
            router.rcptTo(client, recipient, decision);
        }
        else
        {
            badFrames.increment();
            return;
        }
        if (Verdict.ACCEPT != decision.verdict())
        {
            rejectCount.increment();
        }
        final ExclusivePublication publication = replyPublication(replyStreamId);
        if (null == publication)
        {
            offerFailures.increment();
            return;
        }
        replyEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .verdict(decision.verdict())
            .replyText(null == decision.reply() ? "" : decision.reply())
            .rewrittenAddress(null == decision.rewritten() ? "" : decision.rewritten());
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + replyEncoder.encodedLength();
        // back pressure means the requester is busy reading: wait for it (bounded) rather than drop the answer
        final long deadlineNs = System.nanoTime() + OFFER_DEADLINE_NS;
        while (true)
        {
            final long result = publication.offer(sendBuffer, 0, length);
            if (result > 0)
            {
                return;
            }
            if (Publication.NOT_CONNECTED == result || Publication.CLOSED == result ||
                Publication.MAX_POSITION_EXCEEDED == result || System.nanoTime() - deadlineNs > 0)
            {
                break;
            }
            Thread.yield();
        }
        offerFailures.increment();
    }

    private ExclusivePublication replyPublication(final int streamId)
    {
        if (streamId < IpcChannels.REPLY_STREAM_BASE)
        {
            badFrames.increment();
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

    public String roleName()
    {
        return "router";
    }
}
