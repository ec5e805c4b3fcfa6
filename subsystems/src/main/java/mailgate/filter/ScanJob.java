package mailgate.filter;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One message's scan crossing from the polling agent to a worker and back; reused from a fixed pool.
 * <p>
 * The request fields are written by the agent before the hand-off (a blocking queue, so the worker sees them);
 * the verdict by the worker before it posts the job back. {@link #state} settles the race between a worker
 * finishing and the agent's deadline: whoever moves it out of RUNNING first decides what the requester gets.
 */
public final class ScanJob
{
    static final int FREE = 0;
    static final int QUEUED = 1;
    static final int RUNNING = 2;
    static final int DONE = 3;
    static final int TIMED_OUT = 4;

    final AtomicInteger state = new AtomicInteger(FREE);
    long correlationId;
    int replyStreamId;
    String queueId;
    long messageSize;
    int checksum;
    int recipientCount;
    String clientAddress;
    String sender;
    long startNs;
    long deadlineNs;
    long timedOutNs;
    volatile ScanPool.Worker runner;
    volatile FilterVerdict verdict;
    boolean abandoned;

    /**
     * Fill the request part.
     *
     * @param correlationId  requester's id.
     * @param replyStreamId  requester's reply stream.
     * @param queueId        the reference's queue id.
     * @param messageSize    the reference's size.
     * @param checksum       the reference's CRC32C.
     * @param recipientCount recipients.
     * @param clientAddress  client.
     * @param sender         envelope sender.
     * @return this.
     */
    public ScanJob set(
        final long correlationId,
        final int replyStreamId,
        final String queueId,
        final long messageSize,
        final int checksum,
        final int recipientCount,
        final String clientAddress,
        final String sender)
    {
        this.correlationId = correlationId;
        this.replyStreamId = replyStreamId;
        this.queueId = queueId;
        this.messageSize = messageSize;
        this.checksum = checksum;
        this.recipientCount = recipientCount;
        this.clientAddress = clientAddress;
        this.sender = sender;
        return this;
    }

    public long correlationId()
    {
        return correlationId;
    }

    public int replyStreamId()
    {
        return replyStreamId;
    }

    public String queueId()
    {
        return queueId;
    }

    /**
     * @return when the agent took the request.
     */
    public long startNs()
    {
        return startNs;
    }
}
