package mailgate.reactor.policy;

import org.agrona.DirectBuffer;

/**
 * A check answered at once, on the event loop, before any asynchronous policy is asked: rate limits over
 * shared memory take microseconds, so they need no IPC. Each method counts the event and returns null to let
 * it through or the complete SMTP reply (CR LF included) to refuse it. Implementations are thread-safe (one
 * instance serves every loop) and must not block.
 */
public interface PolicyGate extends AutoCloseable
{
    /**
     * @param clientAddress client IP literal.
     * @param nowMs         wall clock.
     * @return null or the refusal.
     */
    byte[] onConnect(String clientAddress, long nowMs);

    /**
     * @param clientAddress client IP literal.
     * @param sender        MAIL FROM address (empty for the null sender).
     * @param nowMs         wall clock.
     * @return null or the refusal.
     */
    byte[] onMailFrom(String clientAddress, DirectBuffer sender, long nowMs);

    /**
     * @param clientAddress client IP literal.
     * @param sender        the transaction's MAIL FROM address.
     * @param nowMs         wall clock.
     * @return null or the refusal.
     */
    byte[] onRcptTo(String clientAddress, DirectBuffer sender, long nowMs);

    /**
     * @param clientAddress client IP literal.
     * @param sender        the transaction's MAIL FROM address.
     * @param bytes         message size.
     * @param nowMs         wall clock.
     * @return null or the refusal.
     */
    byte[] onMessage(String clientAddress, DirectBuffer sender, long bytes, long nowMs);

    /**
     * @param clientAddress client IP literal.
     * @param user          the user name tried.
     * @param nowMs         wall clock.
     * @return null, or a reply to send instead of 535 (then the session closes).
     */
    default byte[] onAuthFailure(final String clientAddress, final String user, final long nowMs)
    {
        return null;
    }

    /**
     * @param clientAddress client IP literal.
     * @param nowMs         wall clock.
     */
    default void onProtocolError(final String clientAddress, final long nowMs)
    {
    }

    /**
     * @param clientAddress client IP literal.
     * @param nowMs         wall clock.
     */
    default void onRejectedRecipient(final String clientAddress, final long nowMs)
    {
    }

    /**
     * Release the gate's resources.
     */
    void close();
}
