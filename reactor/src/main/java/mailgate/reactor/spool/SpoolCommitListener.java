package mailgate.reactor.spool;

/**
 * Hears, on its event loop, that a message is durable in queue/ (or that making it so failed).
 */
@FunctionalInterface
public interface SpoolCommitListener
{
    /**
     * @param file the file; {@link SpoolFile#failure()} is null when it is queued and durable.
     */
    void onSpoolCommitted(SpoolFile file);
}
