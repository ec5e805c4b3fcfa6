package mailgate.reactor.policy;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One question from a session to the policy: a reusable flyweight, one per session, valid until answered.
 * <p>
 * The address is a view into the session's own buffer: read it during the call, copy it to keep it.
 */
public final class PolicyQuery
{
    /** What is being asked. */
    public enum Kind
    {
        CONNECT, MAIL_FROM, RCPT_TO, MESSAGE
    }

    private final UnsafeBuffer address = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer sender = new UnsafeBuffer(0, 0);
    private final PolicyAnswerListener listener;
    private Kind kind;
    private long correlationId;
    private String clientAddress;
    private String queueId;
    private long messageSize;
    private int checksum;
    private int recipientCount;

    /**
     * @param listener the session that receives the answer.
     */
    public PolicyQuery(final PolicyAnswerListener listener)
    {
        this.listener = listener;
    }

    /**
     * Set up the next question (called by the session).
     *
     * @param kind          what is asked.
     * @param correlationId unique per session and question, to drop late answers.
     * @param clientAddress the client's IP address as text.
     * @return this.
     */
    public PolicyQuery reset(final Kind kind, final long correlationId, final String clientAddress)
    {
        this.kind = kind;
        this.correlationId = correlationId;
        this.clientAddress = clientAddress;
        this.queueId = null;
        this.messageSize = 0;
        this.checksum = 0;
        this.recipientCount = 0;
        address.wrap(0, 0);
        sender.wrap(0, 0);
        return this;
    }

    /**
     * Point the sender view at the transaction's MAIL FROM address (RCPT and MESSAGE questions).
     *
     * @param buffer holding the address.
     * @param offset of the first byte (inside the angle brackets).
     * @param length in bytes.
     * @return this.
     */
    public PolicyQuery sender(final DirectBuffer buffer, final int offset, final int length)
    {
        sender.wrap(buffer, offset, length);
        return this;
    }

    /**
     * @return the transaction's sender for RCPT and MESSAGE questions (empty for the null sender).
     */
    public DirectBuffer sender()
    {
        return sender;
    }

    /**
     * Point the address view at bytes of the session's buffer.
     *
     * @param buffer holding the address.
     * @param offset of the first byte (inside the angle brackets).
     * @param length in bytes.
     * @return this.
     */
    public PolicyQuery address(final DirectBuffer buffer, final int offset, final int length)
    {
        address.wrap(buffer, offset, length);
        return this;
    }

    /**
     * Describe the finished message.
     *
     * @param queueId     its spool id.
     * @param messageSize bytes in the spool file's message part.
     * @return this.
     */
    public PolicyQuery message(final String queueId, final long messageSize)
    {
        this.queueId = queueId;
        this.messageSize = messageSize;
        return this;
    }

    /**
     * Describe the finished message further, for a content filter's reference check.
     *
     * @param checksum       CRC32C of the message part.
     * @param recipientCount accepted recipients.
     * @return this.
     */
    public PolicyQuery messageDetails(final int checksum, final int recipientCount)
    {
        this.checksum = checksum;
        this.recipientCount = recipientCount;
        return this;
    }

    /**
     * @return CRC32C of the message part (MESSAGE questions).
     */
    public int checksum()
    {
        return checksum;
    }

    public int recipientCount()
    {
        return recipientCount;
    }

    public Kind kind()
    {
        return kind;
    }

    public long correlationId()
    {
        return correlationId;
    }

    public String clientAddress()
    {
        return clientAddress;
    }

    /**
     * @return the address (MAIL FROM / RCPT TO), without angle brackets; empty for the null sender.
     */
    public DirectBuffer address()
    {
        return address;
    }

    public String queueId()
    {
        return queueId;
    }

    public long messageSize()
    {
        return messageSize;
    }

    /**
     * Answer "accept".
     */
    public void accept()
    {
        listener.onPolicyAnswer(correlationId, null);
    }

    /**
     * @param text      a reply line from a subsystem (without CRLF).
     * @param firstDigit the class it must have ('4' or '5').
     * @return true when it is a printable single-line reply of that class with an enhanced status code.
     */
    public static boolean isReplyLine(final String text, final char firstDigit)
    {
        return text.length() > 10 && text.charAt(0) == firstDigit &&
            text.matches("[45][0-9][0-9] [45]\\.[0-9]{1,3}\\.[0-9]{1,3} [\\x20-\\x7e]+");
    }

    /**
     * Copy an ASCII string into bytes without allocating (IP literals for IPC requests).
     *
     * @param text ASCII text.
     * @param dst  destination; the text is cut at its length.
     * @return bytes written.
     */
    public static int ascii(final String text, final byte[] dst)
    {
        final int length = Math.min(text.length(), dst.length);
        for (int i = 0; i < length; i++)
        {
            dst[i] = (byte)text.charAt(i);
        }
        return length;
    }

    /**
     * Answer "accept" with a rewritten recipient address.
     *
     * @param buffer holding the address.
     * @param offset where it starts.
     * @param length its length.
     */
    public void acceptRewritten(final DirectBuffer buffer, final int offset, final int length)
    {
        listener.onPolicyAnswerRewritten(correlationId, buffer, offset, length);
    }

    /**
     * Answer a MESSAGE question with what to do with the message.
     *
     * @param action  accept, add headers, discard or quarantine.
     * @param headers for ADD_HEADERS, header lines each ending CR LF (may be null otherwise).
     * @param offset  where they start.
     * @param length  their length.
     */
    public void acceptMessage(final MessageAction action, final DirectBuffer headers, final int offset, final int length)
    {
        listener.onMessageVerdict(correlationId, action, headers, offset, length);
    }

    /**
     * Answer with a refusal.
     *
     * @param reply the complete SMTP reply to send, CRLF included (4xx or 5xx).
     */
    public void reject(final byte[] reply)
    {
        listener.onPolicyAnswer(correlationId, reply);
    }
}
