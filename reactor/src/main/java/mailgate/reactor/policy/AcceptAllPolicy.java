package mailgate.reactor.policy;

/**
 * The policy of a plain mail sink: every question is answered "accept" at once.
 */
public final class AcceptAllPolicy implements SmtpPolicy
{
    public void onConnect(final PolicyQuery query)
    {
        query.accept();
    }

    public void onMailFrom(final PolicyQuery query)
    {
        query.accept();
    }

    public void onRcptTo(final PolicyQuery query)
    {
        query.accept();
    }

    public void onMessage(final PolicyQuery query)
    {
        query.accept();
    }
}
