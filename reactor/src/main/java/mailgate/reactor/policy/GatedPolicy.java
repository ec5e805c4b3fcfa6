package mailgate.reactor.policy;

/**
 * Asks a synchronous {@link PolicyGate} first and the wrapped policy only for what the gate lets through.
 */
public final class GatedPolicy implements SmtpPolicy
{
    private final PolicyGate gate;
    private final SmtpPolicy inner;

    /**
     * @param gate  answered at once (rate limits).
     * @param inner asked afterwards (router, filter).
     */
    public GatedPolicy(final PolicyGate gate, final SmtpPolicy inner)
    {
        this.gate = gate;
        this.inner = inner;
    }

    public void onConnect(final PolicyQuery query)
    {
        final byte[] refusal = gate.onConnect(query.clientAddress(), System.currentTimeMillis());
        if (null != refusal)
        {
            query.reject(refusal);
        }
        else
        {
            inner.onConnect(query);
        }
    }

    public void onMailFrom(final PolicyQuery query)
    {
        final byte[] refusal = gate.onMailFrom(query.clientAddress(), query.address(), System.currentTimeMillis());
        if (null != refusal)
        {
            query.reject(refusal);
        }
        else
        {
            inner.onMailFrom(query);
        }
    }

    public void onRcptTo(final PolicyQuery query)
    {
        final byte[] refusal = gate.onRcptTo(query.clientAddress(), query.sender(), System.currentTimeMillis());
        if (null != refusal)
        {
            query.reject(refusal);
        }
        else
        {
            inner.onRcptTo(query);
        }
    }

    public void onMessage(final PolicyQuery query)
    {
        final byte[] refusal = gate.onMessage(
            query.clientAddress(), query.sender(), query.messageSize(), System.currentTimeMillis());
        if (null != refusal)
        {
            query.reject(refusal);
        }
        else
        {
            inner.onMessage(query);
        }
    }

    public byte[] onAuthFailure(final String clientAddress, final String user, final long nowMs)
    {
        final byte[] refusal = gate.onAuthFailure(clientAddress, user, nowMs);
        return null != refusal ? refusal : inner.onAuthFailure(clientAddress, user, nowMs);
    }

    public void onProtocolError(final String clientAddress, final long nowMs)
    {
        gate.onProtocolError(clientAddress, nowMs);
        inner.onProtocolError(clientAddress, nowMs);
    }

    public void onRejectedRecipient(final String clientAddress, final long nowMs)
    {
        gate.onRejectedRecipient(clientAddress, nowMs);
        inner.onRejectedRecipient(clientAddress, nowMs);
    }

    public int doWork(final long nowNs)
    {
        return inner.doWork(nowNs);
    }

    public boolean awaitingAnswers()
    {
        return inner.awaitingAnswers();
    }

    public void close()
    {
        inner.close();
    }
}
