package mailgate.reactor.policy;

/**
 * Receives the answer to a {@link PolicyQuery}.
 */
@FunctionalInterface
public interface PolicyAnswerListener
{
    /**
     * @param correlationId the question's id; an answer to a question no longer pending is ignored.
     * @param rejectReply   null to accept, else the complete SMTP reply to send.
     */
    void onPolicyAnswer(long correlationId, byte[] rejectReply);
}
