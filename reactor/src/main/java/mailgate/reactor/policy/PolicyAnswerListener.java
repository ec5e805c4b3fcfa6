package mailgate.reactor.policy;

/**
 * Receives the answer to a {@link PolicyQuery}.
 */
public interface PolicyAnswerListener
{
    /**
     * @param correlationId the question's id; an answer to a question no longer pending is ignored.
     * @param rejectReply   null to accept, else the complete SMTP reply to send.
     */
    void onPolicyAnswer(long correlationId, byte[] rejectReply);

    /**
     * Accept a recipient under another address (alias rewriting); the original becomes its ORCPT.
     *
     * @param correlationId the question's id.
     * @param address       buffer holding the new address (no angle brackets).
     * @param offset        where it starts.
     * @param length        its length in bytes.
     */
    void onPolicyAnswerRewritten(long correlationId, org.agrona.DirectBuffer address, int offset, int length);

    /**
     * A content filter's acceptance of a finished message.
     *
     * @param correlationId the question's id.
     * @param action        what to do with the message.
     * @param headers       for ADD_HEADERS: header lines, each ending CR LF; else ignored.
     * @param offset        where they start.
     * @param length        their length in bytes.
     */
    void onMessageVerdict(long correlationId, MessageAction action, org.agrona.DirectBuffer headers, int offset,
        int length);
}
