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
}
