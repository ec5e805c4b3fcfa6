package mailgate.tools;

/**
 * A failure the inspection tool reports as one line and an exit status (1: cannot read, 2: bad usage).
 */
final class InspectException extends Exception
{
    private static final long serialVersionUID = 1L;

    private final int exitStatus;

    InspectException(final int exitStatus, final String message)
    {
        super(message);
        this.exitStatus = exitStatus;
    }

    static InspectException usage(final String message)
    {
        return new InspectException(InspectMain.EXIT_USAGE, message);
    }

    static InspectException unreadable(final String message)
    {
        return new InspectException(InspectMain.EXIT_FAILURE, message);
    }

    int exitStatus()
    {
        return exitStatus;
    }
}
