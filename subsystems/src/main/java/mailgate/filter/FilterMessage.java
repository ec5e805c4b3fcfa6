package mailgate.filter;

import java.util.HashMap;
import java.util.Map;

/**
 * What a stage knows of the message being scanned: the reference and the envelope summary from the request.
 */
public final class FilterMessage
{
    private final String queueId;
    private final String clientAddress;
    private final String sender;
    private final int recipientCount;
    private final long messageSize;
    private final Map<String, Object> attributes = new HashMap<>();

    /**
     * @param queueId        queue id.
     * @param clientAddress  SMTP client's address.
     * @param sender         envelope sender (empty for the null sender).
     * @param recipientCount accepted recipients.
     * @param messageSize    octets of the message part.
     */
    public FilterMessage(
        final String queueId,
        final String clientAddress,
        final String sender,
        final int recipientCount,
        final long messageSize)
    {
        this.queueId = queueId;
        this.clientAddress = clientAddress;
        this.sender = sender;
        this.recipientCount = recipientCount;
        this.messageSize = messageSize;
    }

    public String queueId()
    {
        return queueId;
    }

    public String clientAddress()
    {
        return clientAddress;
    }

    public String sender()
    {
        return sender;
    }

    public int recipientCount()
    {
        return recipientCount;
    }

    public long messageSize()
    {
        return messageSize;
    }

    /**
     * @return per-message state for stages (one worker thread uses it at a time).
     */
    public Map<String, Object> attributes()
    {
        return attributes;
    }
}
