package mailgate.ipc;

/**
 * Thrown when a rendezvous directory is a symlink, owned by another user, or open to group or other.
 */
public final class InsecureDirectoryException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message the reason, naming the directory.
     */
    public InsecureDirectoryException(final String message)
    {
        super(message);
    }

    /**
     * @param message the reason, naming the directory.
     * @param cause   the I/O error behind it.
     */
    public InsecureDirectoryException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
