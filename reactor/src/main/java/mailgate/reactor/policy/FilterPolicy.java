/*
 * SUMMARY
 * The policy of one event loop when a content-filter process judges finished messages: the message goes by
 * reference (queue id, size, CRC32C, envelope summary) over Aeron IPC, never by path or by content.
 *
 * FAILURE
 * Filter unproven, gone, or unable to take the request: per filter.fail-mode, 451 4.3.0 (tempfail, the
 * default: never a 250 for an unfiltered message) or accept. A scan slower than smtpd.policy-timeout is
 * answered 451 by the session's own deadline.
 *
 * SECURITY
 * Header lines a filter asks to add are checked (name: value, printable, CR LF endings, no blank line) so a
 * filter cannot end the header section or smuggle line ends into the spool file.
 */
package mailgate.reactor.policy;

import mailgate.ipc.DriverConnection;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.ipc.codecs.FilterAction;
import mailgate.ipc.codecs.FilterReplyDecoder;
import mailgate.ipc.codecs.FilterRequestEncoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import mailgate.reactor.smtp.SmtpReplies;
import mailgate.reactor.status.LoopCounters;
import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Content-filter-backed policy of one event loop (answers only the MESSAGE question).
 */
public final class FilterPolicy implements SmtpPolicy
{
    /** The reply when the filter cannot be asked and fail mode is tempfail. */
    public static final byte[] FILTER_UNAVAILABLE =
        SmtpReplies.ascii("451 4.3.0 Error: content filter unavailable, try again later");
    private static final byte[] FILTER_REJECT = SmtpReplies.ascii("554 5.7.1 Error: message content rejected");
    private static final byte[] FILTER_TEMPFAIL = SmtpReplies.ascii("451 4.7.1 Error: message content deferred");
    private static final int MAX_HEADERS = 8 * 1024;

    private final SubsystemClient client;
    private final boolean failOpen;
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer headers = new UnsafeBuffer(0, 0);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final FilterRequestEncoder requestEncoder = new FilterRequestEncoder();
    private final FilterReplyDecoder replyDecoder = new FilterReplyDecoder();
    private final byte[] asciiBytes = new byte[64];

    /**
     * @param connection the process's Aeron client, reattached after a media driver restart.
     * @param mac      MAC under the install secret, to check the filter's proof.
     * @param loopId   the loop.
     * @param counters the loop's counters.
     * @param failOpen true to accept messages while the filter is unavailable (filter.fail-mode = accept).
     */
    public FilterPolicy(
        final DriverConnection connection, final SecretMac mac, final int loopId, final LoopCounters counters,
        final boolean failOpen)
    {
        this.failOpen = failOpen;
        this.client = new SubsystemClient(connection, mac, Role.FILTER, IpcChannels.FILTER_REQUEST_STREAM, loopId,
            counters, this::onReply, this::unavailable);
    }

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
        if (!client.isProven())
        {
            client.countUnavailable();
            unavailable(query);
            return;
        }
        final long requestId = client.nextRequestId();
        final DirectBuffer sender = query.address();
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(requestId)
            .replyStreamId(client.replyStreamId())
            .messageSize(query.messageSize())
            .checksum(query.checksum())
            .recipientCount(query.recipientCount())
            .putQueueId(asciiBytes, 0, PolicyQuery.ascii(query.queueId(), asciiBytes));
        requestEncoder.putClientAddress(asciiBytes, 0, PolicyQuery.ascii(query.clientAddress(), asciiBytes))
            .putSender(sender, 0, sender.capacity());
        if (!client.send(sendBuffer, MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength(),
            requestId, query))
        {
            unavailable(query);
        }
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
     * @return true once the filter has proved itself on this loop's reply stream.
     */
    public boolean isProven()
    {
        return client.isProven();
    }

    private void unavailable(final PolicyQuery query)
    {
        if (failOpen)
        {
            query.acceptMessage(MessageAction.ACCEPT, null, 0, 0);
        }
        else
        {
            query.reject(FILTER_UNAVAILABLE);
        }
    }

    private void onReply(
        final int templateId, final DirectBuffer buffer, final int offset, final int blockLength, final int version)
    {
        if (FilterReplyDecoder.TEMPLATE_ID != templateId)
        {
            return;
        }
        replyDecoder.wrap(buffer, offset, blockLength, version);
        final PolicyQuery query = client.take(replyDecoder.correlationId());
        if (null == query)
        {
            return;
        }
        final FilterAction action = replyDecoder.action();
        final String text = replyDecoder.replyText();
        final int headersLength = replyDecoder.headersLength();
        replyDecoder.wrapHeaders(headers);
        switch (action)
        {
            case ACCEPT:
                query.acceptMessage(MessageAction.ACCEPT, null, 0, 0);
                break;
            case ADD_HEADERS:
                if (isHeaderBlock(headers, headersLength))
                {
                    query.acceptMessage(MessageAction.ADD_HEADERS, headers, 0, headersLength);
                }
                else
                {
                    query.reject(FILTER_TEMPFAIL);
                }
                break;
            case DISCARD:
                query.acceptMessage(MessageAction.DISCARD, null, 0, 0);
                break;
            case QUARANTINE:
                query.acceptMessage(MessageAction.QUARANTINE, null, 0, 0);
                break;
            case REJECT:
                query.reject(PolicyQuery.isReplyLine(text, '5') ?
                    (text + "\r\n").getBytes(StandardCharsets.US_ASCII) : FILTER_REJECT);
                break;
            default:
                query.reject(PolicyQuery.isReplyLine(text, '4') ?
                    (text + "\r\n").getBytes(StandardCharsets.US_ASCII) : FILTER_TEMPFAIL);
                break;
        }
    }

    /**
     * @return true for one or more "Name: value" lines, printable (UTF-8 allowed), each ending CR LF.
     */
    static boolean isHeaderBlock(final DirectBuffer buffer, final int length)
    {
        if (length < 4 || length > MAX_HEADERS)
        {
            return false;
        }
        int lineStart = 0;
        boolean colonSeen = false;
        for (int i = 0; i < length; i++)
        {
            final byte b = buffer.getByte(i);
            if ('\r' == b)
            {
                if (i + 1 >= length || '\n' != buffer.getByte(i + 1) || !colonSeen || i == lineStart)
                {
                    return false;
                }
                i++;
                lineStart = i + 1;
                colonSeen = false;
            }
            else if ('\n' == b || (b >= 0 && b < 32 && '\t' != b) || 127 == b)
            {
                return false;
            }
            else if (':' == b && !colonSeen)
            {
                colonSeen = i > lineStart;
                if (!colonSeen)
                {
                    return false;
                }
            }
            else if ((' ' == b || '\t' == b) && !colonSeen && i == lineStart)
            {
                // a continuation line needs a header before it
                if (0 == lineStart)
                {
                    return false;
                }
                colonSeen = true;
            }
        }
        return lineStart == length;
    }

    public void close()
    {
        client.close();
    }
}
