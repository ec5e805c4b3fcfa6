/*
 * SUMMARY
 * A reply from the server that is not well-formed SMTP (no 3-digit code, line too long, unexpected code).
 */
package mailgate.bench;

import java.io.IOException;

/**
 * The server sent something that is not a well-formed SMTP reply, or a reply out of sequence.
 */
public final class SmtpProtocolException extends IOException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what was wrong.
     */
    public SmtpProtocolException(final String message)
    {
        super(message);
    }
}
