package mailgate.rate;

import mailgate.reactor.SmtpdConfig;
import mailgate.reactor.policy.PolicyGate;
import mailgate.reactor.policy.PolicyGateProvider;
import org.agrona.DirectBuffer;
import org.agrona.AsciiSequenceView;

import java.nio.file.Path;

/**
 * The rate tracker in front of smtpd's policy seam: every loop counts and checks on the shared counter file
 * directly (microseconds, no IPC). Loaded by smtpd through {@link PolicyGateProvider} when rate.config is set.
 */
public final class RateGate implements PolicyGate
{
    private static final ThreadLocal<AsciiSequenceView> DOMAIN = ThreadLocal.withInitial(AsciiSequenceView::new);

    private final RateLimiter limiter;

    /**
     * @param limiter the opened limiter (counter file and policy).
     */
    public RateGate(final RateLimiter limiter)
    {
        this.limiter = limiter;
    }

    public byte[] onConnect(final String clientAddress, final long nowMs)
    {
        return limiter.onConnect(clientAddress, nowMs);
    }

    public byte[] onMailFrom(final String clientAddress, final DirectBuffer sender, final long nowMs)
    {
        return limiter.onMailFrom(clientAddress, domainOf(sender), nowMs);
    }

    public byte[] onRcptTo(final String clientAddress, final DirectBuffer sender, final long nowMs)
    {
        return limiter.onRcptTo(clientAddress, domainOf(sender), nowMs);
    }

    public byte[] onMessage(final String clientAddress, final DirectBuffer sender, final long bytes, final long nowMs)
    {
        return limiter.onMessage(clientAddress, domainOf(sender), bytes, nowMs);
    }

    public byte[] onAuthFailure(final String clientAddress, final String user, final long nowMs)
    {
        return limiter.onAuthFailure(clientAddress, user, nowMs);
    }

    public void onProtocolError(final String clientAddress, final long nowMs)
    {
        limiter.onProtocolError(clientAddress, nowMs);
    }

    public void onRejectedRecipient(final String clientAddress, final long nowMs)
    {
        limiter.onRejectedRecipient(clientAddress, nowMs);
    }

    public void close()
    {
        limiter.close();
    }

    /**
     * @return a view of the part after the last '@' (empty for the null sender), reused per thread.
     */
    private static CharSequence domainOf(final DirectBuffer sender)
    {
        final int length = sender.capacity();
        int at = length - 1;
        while (at >= 0 && '@' != sender.getByte(at))
        {
            at--;
        }
        final AsciiSequenceView view = DOMAIN.get();
        return at < 0 ? view.wrap(sender, 0, 0) : view.wrap(sender, at + 1, length - at - 1);
    }

    /**
     * Makes the gate when smtpd's rate.config names a rate configuration file.
     */
    public static final class Provider implements PolicyGateProvider
    {
        public PolicyGate create(final SmtpdConfig config)
        {
            final String file = config.get(SmtpdConfig.RATE_CONFIG);
            if (file.isEmpty())
            {
                return null;
            }
            // a bad rate config throws ConfigException ("file:line: reason"): smtpd stops with exit 78
            return new RateGate(RateLimiter.open(RateConfig.load(Path.of(file))));
        }
    }
}
