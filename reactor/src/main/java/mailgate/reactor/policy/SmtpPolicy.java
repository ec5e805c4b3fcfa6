package mailgate.reactor.policy;

/**
 * The seam where the router, the content filter and the rate tracker decide on a connection, a sender,
 * a recipient and a finished message.
 * <p>
 * Each call asks a question and returns at once. The answer comes by {@link PolicyQuery#accept()} or
 * {@link PolicyQuery#reject(byte[])}, on the event loop thread, during the call or in a later duty cycle.
 * A question not answered before its deadline is answered by the reactor with a tempfail. Implementations
 * must not block: the event loop that asks serves thousands of other connections.
 */
public interface SmtpPolicy
{
    /**
     * A client connected; accept to greet it.
     *
     * @param query the question; valid until answered.
     */
    void onConnect(PolicyQuery query);

    /**
     * MAIL FROM passed syntax checks.
     *
     * @param query the question, with the sender address.
     */
    void onMailFrom(PolicyQuery query);

    /**
     * RCPT TO passed syntax checks.
     *
     * @param query the question, with the recipient address.
     */
    void onRcptTo(PolicyQuery query);

    /**
     * The message is complete in the spool's tmp/ directory, not yet queued.
     *
     * @param query the question, with the queue id and message size.
     */
    void onMessage(PolicyQuery query);

    /**
     * Called once per event-loop duty cycle, so an IPC-backed policy can poll for answers on the loop.
     *
     * @param nowNs the loop's clock.
     * @return work done.
     */
    default int doWork(final long nowNs)
    {
        return 0;
    }

    /**
     * An AUTH attempt failed (counted by a rate tracker).
     *
     * @param clientAddress client IP literal.
     * @param user          the user name tried.
     * @param nowMs         wall clock.
     * @return null to answer 535 as usual, or a reply to send instead (the session then closes).
     */
    default byte[] onAuthFailure(final String clientAddress, final String user, final long nowMs)
    {
        return null;
    }

    /**
     * A command got a protocol error reply (5.5.x: syntax, sequence, unknown command).
     *
     * @param clientAddress client IP literal.
     * @param nowMs         wall clock.
     */
    default void onProtocolError(final String clientAddress, final long nowMs)
    {
    }

    /**
     * A recipient was refused by the policy (unknown user, relay denied).
     *
     * @param clientAddress client IP literal.
     * @param nowMs         wall clock.
     */
    default void onRejectedRecipient(final String clientAddress, final long nowMs)
    {
    }

    /**
     * @return true while answers are outstanding that only polling will bring (the loop then idles briefly
     *         instead of blocking in its selector).
     */
    default boolean awaitingAnswers()
    {
        return false;
    }

    /**
     * Release resources (the loop is stopping).
     */
    default void close()
    {
    }
}
