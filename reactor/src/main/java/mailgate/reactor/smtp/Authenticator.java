package mailgate.reactor.smtp;

import java.util.function.Consumer;

/**
 * Checks AUTH credentials away from the event loop (a password hash takes far longer than a loop may stall).
 */
public interface Authenticator
{
    /** Result meaning the check could not be made now (overload): the client gets 454 4.7.0. */
    String BUSY = "\0busy";

    /**
     * Check a user's password on another thread.
     *
     * @param user     authentication identity as the client sent it.
     * @param password the password; the authenticator clears it when done.
     * @param onResult called once, on the checking thread, with the user name from the password file when the
     *                 password matches, null when it does not, or {@link #BUSY}.
     */
    void verify(String user, char[] password, Consumer<String> onResult);
}
