/*
 * SUMMARY
 * Thrown by LoadOptions.parse for a bad command line; its message says which flag and why, and the load generator
 * turns it into exit code 2.
 */
package mailgate.bench;

/**
 * A bad command-line flag or value for the load generator (exit code 2).
 */
public final class UsageException extends IllegalArgumentException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the flag.
     */
    public UsageException(final String message)
    {
        super(message);
    }
}
