/*
 * SUMMARY
 * The router server's duty cycle: poll the request stream, answer challenges, decide MAIL and RCPT
 * questions from the current tables, and reply on the stream each requester named.
 *
 * DESCRIPTION
 * One agent serves every SMTP event loop of every smtpd process on the host. A table lookup is a few
 * hash probes, so the agent never blocks; a reload swaps the tables by reference between two requests.
 * Frame checks, challenges and reply publications are the shared SubsystemServer's; a reply that cannot be
 * sent is counted and the requester's deadline turns it into a 451, never into a silent accept.
 */
package mailgate.router;

import mailgate.ipc.ChallengeResponder;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SubsystemServer;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterReplyEncoder;
import mailgate.ipc.codecs.RouterRequestDecoder;
import mailgate.ipc.codecs.Verdict;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * The router's agent.
 */
public final class RouterAgent implements Agent
{
    private final Router router;
    private final SubsystemServer server;
    private final RouterRequestDecoder requestDecoder = new RouterRequestDecoder();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RouterReplyEncoder replyEncoder = new RouterReplyEncoder();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[4096]);
    private final Router.Decision decision = new Router.Decision();
    private final AtomicCounter requestCount;
    private final AtomicCounter rejectCount;

    /**
     * @param connection the process's client (reattached after a driver restart); its counters.
     * @param router     decisions.
     * @param responder  answers challenges.
     */
    public RouterAgent(final DriverConnection connection, final Router router, final ChallengeResponder responder)
    {
        this.router = router;
        this.requestCount = connection.counter(RouterCounters.REQUESTS, "router requests");
        this.rejectCount = connection.counter(RouterCounters.REJECTS, "router rejections");
        this.server = new SubsystemServer(connection, IpcChannels.ROUTER_REQUEST_STREAM, responder,
            connection.counter(RouterCounters.BAD_FRAMES, "router bad frames dropped"),
            connection.counter(RouterCounters.OFFER_FAILURES, "router replies not sent"),
            this::onRequest);
    }

    public int doWork()
    {
        return server.poll(System.nanoTime());
    }

    private void onRequest(
        final int templateId, final DirectBuffer buffer, final int offset, final int blockLength, final int version)
    {
        if (RouterRequestDecoder.TEMPLATE_ID != templateId)
        {
            server.badFrame();
            return;
        }
        requestDecoder.wrap(buffer, offset, blockLength, version);
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
            server.badFrame();
            return;
        }
        if (Verdict.ACCEPT != decision.verdict())
        {
            rejectCount.increment();
        }
        replyEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .verdict(decision.verdict())
            .replyText(null == decision.reply() ? "" : decision.reply())
            .rewrittenAddress(null == decision.rewritten() ? "" : decision.rewritten());
        server.reply(replyStreamId, sendBuffer, MessageHeaderEncoder.ENCODED_LENGTH + replyEncoder.encodedLength());
    }

    public void onClose()
    {
        server.close();
    }

    public String roleName()
    {
        return "router";
    }
}
