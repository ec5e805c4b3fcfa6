package mailgate.reactor;

/**
 * A configuration error, naming the file, the line and the reason, so start-up can stop with it.
 */
public final class ConfigException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message "file:line: reason", or a reason about a command-line option.
     */
    public ConfigException(final String message)
    {
        super(message);
    }
}
