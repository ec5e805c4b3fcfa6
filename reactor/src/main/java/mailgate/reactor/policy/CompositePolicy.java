package mailgate.reactor.policy;

/**
 * Puts the envelope questions (connect, MAIL, RCPT) to one policy and the finished message to another, e.g.
 * the router and the content filter; both get the loop's duty cycle.
 */
public final class CompositePolicy implements SmtpPolicy
{
    private final SmtpPolicy envelope;
    private final SmtpPolicy message;

    /**
     * @param envelope answers connect, MAIL FROM and RCPT TO.
     * @param message  answers the finished message.
     */
    public CompositePolicy(final SmtpPolicy envelope, final SmtpPolicy message)
    {
        this.envelope = envelope;
        this.message = message;
    }

    public void onConnect(final PolicyQuery query)
    {
        envelope.onConnect(query);
    }

    public void onMailFrom(final PolicyQuery query)
    {
        envelope.onMailFrom(query);
    }

    public void onRcptTo(final PolicyQuery query)
    {
        envelope.onRcptTo(query);
    }

    public void onMessage(final PolicyQuery query)
    {
        message.onMessage(query);
    }

    public byte[] onAuthFailure(final String clientAddress, final String user, final long nowMs)
    {
        return envelope.onAuthFailure(clientAddress, user, nowMs);
    }

    public void onProtocolError(final String clientAddress, final long nowMs)
    {
        envelope.onProtocolError(clientAddress, nowMs);
    }

    public void onRejectedRecipient(final String clientAddress, final long nowMs)
    {
        envelope.onRejectedRecipient(clientAddress, nowMs);
    }

    public int doWork(final long nowNs)
    {
        return envelope.doWork(nowNs) + message.doWork(nowNs);
    }

    public boolean awaitingAnswers()
    {
        return envelope.awaitingAnswers() || message.awaitingAnswers();
    }

    public void close()
    {
        envelope.close();
        message.close();
    }
}
