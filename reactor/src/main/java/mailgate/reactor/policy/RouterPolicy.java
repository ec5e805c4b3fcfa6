/*
 * SUMMARY
 * The policy of one event loop when a router process decides MAIL and RCPT: questions go out over Aeron
 * IPC, answers are polled in the loop's duty cycle and handed to the session that asked.
 *
 * DESCRIPTION
 * Each loop has its own request publication and its own reply stream, so nothing is shared between loops.
 * A question is remembered in a ring slot keyed by a per-loop request id, together with the session's own
 * correlation id; an answer whose slot was reused or whose session moved on is dropped.
 *
 * SECURITY / FAILURE
 * Until the router proves it holds the install secret (SubsystemChallenger), and whenever it is gone or an
 * offer fails, the question is answered at once with 451 4.3.0: never a silent accept. A slow router is
 * caught by the session's own deadline (smtpd.policy-timeout).
 */
package mailgate.reactor.policy;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.ipc.SubsystemChallenger;
import mailgate.ipc.codecs.ChallengeResponseDecoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterReplyDecoder;
import mailgate.ipc.codecs.RouterRequestEncoder;
import mailgate.ipc.codecs.Verdict;
import mailgate.reactor.smtp.SmtpReplies;
import mailgate.reactor.status.LoopCounters;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Router-backed policy of one event loop.
 */
public final class RouterPolicy implements SmtpPolicy
{
    /** The reply when the router cannot be asked. */
    public static final byte[] ROUTER_UNAVAILABLE = SmtpReplies.ascii("451 4.3.0 Error: router unavailable, try again later");

    private static final int RING_SIZE = 1 << 14;
    private static final int RING_MASK = RING_SIZE - 1;

    private final ExclusivePublication requests;
    private final Subscription replies;
    private final int replyStreamId;
    private final SubsystemChallenger challenger;
    private final LoopCounters counters;
    private final PolicyQuery[] queries = new PolicyQuery[RING_SIZE];
    private final long[] requestIds = new long[RING_SIZE];
    private final long[] sessionCorrelations = new long[RING_SIZE];
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer replyAddress = new UnsafeBuffer(0, 0);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RouterRequestEncoder requestEncoder = new RouterRequestEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final RouterReplyDecoder replyDecoder = new RouterReplyDecoder();
    private final ChallengeResponseDecoder challengeResponseDecoder = new ChallengeResponseDecoder();
    private final FragmentHandler handler = new FragmentAssembler(this::onFragment);
    private final byte[] clientBytes = new byte[64];
    private long nextRequestId = 1;
    private boolean wasProven;
    private int outstanding;
    private long lastSendNs;

    /**
     * @param aeron    the process's Aeron client.
     * @param mac      MAC under the install secret, to check the router's proof.
     * @param loopId   the loop.
     * @param counters the loop's counters.
     */
    public RouterPolicy(final Aeron aeron, final SecretMac mac, final int loopId, final LoopCounters counters)
    {
        this.counters = counters;
        this.replyStreamId = IpcChannels.replyStream(aeron.clientId(), loopId);
        this.replies = aeron.addSubscription(IpcChannels.CHANNEL, replyStreamId);
        this.requests = aeron.addExclusivePublication(IpcChannels.CHANNEL, IpcChannels.ROUTER_REQUEST_STREAM);
        this.challenger = new SubsystemChallenger(mac, Role.ROUTER, replyStreamId);
    }

    public void onConnect(final PolicyQuery query)
    {
        query.accept();
    }

    public void onMailFrom(final PolicyQuery query)
    {
        ask(RouterQuestion.MAIL_FROM, query);
    }

    public void onRcptTo(final PolicyQuery query)
    {
        ask(RouterQuestion.RCPT_TO, query);
    }

    public void onMessage(final PolicyQuery query)
    {
        query.accept();
    }

    public int doWork(final long nowNs)
    {
        int work = challenger.doWork(nowNs, requests, replies) + replies.poll(handler, 64);
        final boolean proven = challenger.isProven();
        if (wasProven && !proven)
        {
            work += failPending();
        }
        wasProven = proven;
        return work;
    }

    public boolean awaitingAnswers()
    {
        if (outstanding > 0 && System.nanoTime() - lastSendNs > 100_000_000L)
        {
            outstanding = 0;    // answers that never came were timed out by their sessions
        }
        return outstanding > 0;
    }

    /**
     * The router went away: questions it will never answer get 451 now instead of at their deadline.
     */
    private int failPending()
    {
        int failed = 0;
        outstanding = 0;
        for (int i = 0; i < RING_SIZE; i++)
        {
            final PolicyQuery query = queries[i];
            if (null != query)
            {
                queries[i] = null;
                if (query.correlationId() == sessionCorrelations[i])
                {
                    counters.ipcUnavailable.incrementRelease();
                    query.reject(ROUTER_UNAVAILABLE);
                    failed++;
                }
            }
        }
        return failed;
    }

    /**
     * @return true once the router has proved itself on this loop's reply stream.
     */
    public boolean isRouterProven()
    {
        return challenger.isProven();
    }

    private void ask(final RouterQuestion question, final PolicyQuery query)
    {
        if (!challenger.isProven())
        {
            counters.ipcUnavailable.incrementRelease();
            query.reject(ROUTER_UNAVAILABLE);
            return;
        }
        final long requestId = nextRequestId++;
        final String client = query.clientAddress();
        final int clientLength = Math.min(client.length(), clientBytes.length);
        for (int i = 0; i < clientLength; i++)
        {
            clientBytes[i] = (byte)client.charAt(i);
        }
        final DirectBuffer address = query.address();
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(requestId)
            .replyStreamId(replyStreamId)
            .question(question)
            .putClientAddress(clientBytes, 0, clientLength);
        if (RouterQuestion.MAIL_FROM == question)
        {
            requestEncoder.putSender(address, 0, address.capacity()).putRecipient(address, 0, 0);
        }
        else
        {
            requestEncoder.putSender(address, 0, 0).putRecipient(address, 0, address.capacity());
        }
        final long result = requests.offer(
            sendBuffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength());
        if (result < 0)
        {
            counters.ipcOfferFailures.incrementRelease();
            query.reject(ROUTER_UNAVAILABLE);
            return;
        }
        counters.ipcRequests.incrementRelease();
        outstanding++;
        lastSendNs = System.nanoTime();
        final int slot = (int)(requestId & RING_MASK);
        queries[slot] = query;
        requestIds[slot] = requestId;
        sessionCorrelations[slot] = query.correlationId();
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            counters.ipcRepliesDropped.incrementRelease();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RouterReplyDecoder.SCHEMA_ID)
        {
            counters.ipcRepliesDropped.incrementRelease();
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        try
        {
            if (ChallengeResponseDecoder.TEMPLATE_ID == headerDecoder.templateId())
            {
                challengeResponseDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                if (!challenger.onChallengeResponse(challengeResponseDecoder, header.sessionId()))
                {
                    counters.ipcRepliesDropped.incrementRelease();
                }
                return;
            }
            if (RouterReplyDecoder.TEMPLATE_ID != headerDecoder.templateId() ||
                !challenger.isProven(header.sessionId()))
            {
                counters.ipcRepliesDropped.incrementRelease();
                return;
            }
            replyDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
            onReply();
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            counters.ipcRepliesDropped.incrementRelease();
        }
    }

    private void onReply()
    {
        final long requestId = replyDecoder.correlationId();
        final int slot = (int)(requestId & RING_MASK);
        final PolicyQuery query = queries[slot];
        if (requestIds[slot] != requestId || null == query || query.correlationId() != sessionCorrelations[slot])
        {
            counters.ipcRepliesDropped.incrementRelease();
            return;
        }
        queries[slot] = null;
        outstanding = Math.max(0, outstanding - 1);
        final Verdict verdict = replyDecoder.verdict();
        if (Verdict.ACCEPT == verdict)
        {
            replyDecoder.skipReplyText();
            final int length = replyDecoder.rewrittenAddressLength();
            if (length > 0)
            {
                replyDecoder.wrapRewrittenAddress(replyAddress);
                query.acceptRewritten(replyAddress, 0, length);
            }
            else
            {
                replyDecoder.skipRewrittenAddress();
                query.accept();
            }
            return;
        }
        final String text = replyDecoder.replyText();
        replyDecoder.skipRewrittenAddress();
        // a refusal is the cold path: the router's text becomes the reply (allocates)
        query.reject(isReply(text, verdict) ? (text + "\r\n").getBytes(StandardCharsets.US_ASCII) :
            Verdict.TEMPFAIL == verdict ? SmtpReplies.TEMPFAIL : ROUTER_UNAVAILABLE);
    }

    private static boolean isReply(final String text, final Verdict verdict)
    {
        final char expected = Verdict.TEMPFAIL == verdict ? '4' : '5';
        return text.length() > 10 && text.charAt(0) == expected && text.indexOf('\r') < 0 && text.indexOf('\n') < 0 &&
            text.chars().allMatch((c) -> c >= 32 && c < 127);
    }

    public void close()
    {
        requests.close();
        replies.close();
    }
}
