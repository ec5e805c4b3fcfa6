/*
 * SUMMARY
 * The policy of one event loop when a router process decides MAIL and RCPT: questions go out over Aeron
 * IPC, answers are polled in the loop's duty cycle and handed to the session that asked.
 *
 * SECURITY / FAILURE
 * Until the router proves it holds the install secret, and whenever it is gone or an offer fails, the
 * question is answered at once with 451 4.3.0: never a silent accept. A slow router is caught by the
 * session's own deadline (smtpd.policy-timeout).
 */
package mailgate.reactor.policy;

import mailgate.ipc.DriverConnection;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
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
    public static final byte[] ROUTER_UNAVAILABLE =
        SmtpReplies.ascii("451 4.3.0 Error: router unavailable, try again later");

    private final SubsystemClient client;
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer replyAddress = new UnsafeBuffer(0, 0);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RouterRequestEncoder requestEncoder = new RouterRequestEncoder();
    private final RouterReplyDecoder replyDecoder = new RouterReplyDecoder();
    private final byte[] clientBytes = new byte[64];

    /**
     * @param connection the process's Aeron client, reattached after a media driver restart.
     * @param mac      MAC under the install secret, to check the router's proof.
     * @param loopId   the loop.
     * @param counters the loop's counters.
     */
    public RouterPolicy(final DriverConnection connection, final SecretMac mac, final int loopId, final LoopCounters counters)
    {
        this.client = new SubsystemClient(connection, mac, Role.ROUTER, IpcChannels.ROUTER_REQUEST_STREAM, loopId,
            counters, this::onReply, (query) -> query.reject(ROUTER_UNAVAILABLE));
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
        return client.doWork(nowNs);
    }

    public boolean awaitingAnswers()
    {
        return client.awaitingAnswers();
    }

    /**
     * @return true once the router has proved itself on this loop's reply stream.
     */
    public boolean isProven()
    {
        return client.isProven();
    }

    private void ask(final RouterQuestion question, final PolicyQuery query)
    {
        if (!client.isProven())
        {
            client.countUnavailable();
            query.reject(ROUTER_UNAVAILABLE);
            return;
        }
        final long requestId = client.nextRequestId();
        final int clientLength = PolicyQuery.ascii(query.clientAddress(), clientBytes);
        final DirectBuffer address = query.address();
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(requestId)
            .replyStreamId(client.replyStreamId())
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
        if (!client.send(sendBuffer, MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength(),
            requestId, query))
        {
            query.reject(ROUTER_UNAVAILABLE);
        }
    }

    private void onReply(
        final int templateId, final DirectBuffer buffer, final int offset, final int blockLength, final int version)
    {
        if (RouterReplyDecoder.TEMPLATE_ID != templateId)
        {
            return;
        }
        replyDecoder.wrap(buffer, offset, blockLength, version);
        final PolicyQuery query = client.take(replyDecoder.correlationId());
        if (null == query)
        {
            return;
        }
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
        query.reject(PolicyQuery.isReplyLine(text, Verdict.TEMPFAIL == verdict ? '4' : '5') ?
            (text + "\r\n").getBytes(StandardCharsets.US_ASCII) :
            Verdict.TEMPFAIL == verdict ? SmtpReplies.TEMPFAIL : ROUTER_UNAVAILABLE);
    }

    public void close()
    {
        client.close();
    }
}
