package mailgate.filter;

import java.io.IOException;

/**
 * A message reference that does not hold up: the filter refuses to scan it and the requester gets a tempfail.
 * <p>
 * An {@link IOException} so it passes unchanged through the MIME parser's input stream.
 */
public final class ReferenceRefusedException extends IOException
{
    private static final long serialVersionUID = 1L;

    private final Refusal reason;

    /**
     * @param reason why.
     * @param detail what was seen, for the log.
     */
    public ReferenceRefusedException(final Refusal reason, final String detail)
    {
        super(reason.label() + ": " + detail);
        this.reason = reason;
    }

    public Refusal reason()
    {
        return reason;
    }
}
