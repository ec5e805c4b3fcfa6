package mailgate.reactor.smtp;

/**
 * The event loop's side of a session: it owns the socket and is told when a parked session can go on.
 */
public interface SessionHost
{
    /**
     * A pending answer arrived outside {@link SmtpSession#onBytes}: flush replies and feed buffered input.
     */
    void onSessionResumed();
}
