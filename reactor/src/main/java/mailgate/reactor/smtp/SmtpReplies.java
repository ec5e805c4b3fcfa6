/*
 * SUMMARY
 * Every fixed SMTP reply mailgate sends, with its RFC 3463 enhanced status code.
 *
 * DESCRIPTION
 * Replies are encoded once into byte arrays so the event loop copies them without allocating.
 * The wording follows Postfix's smtpd where an operator would look for it in logs.
 */
package mailgate.reactor.smtp;

import java.nio.charset.StandardCharsets;

/**
 * Pre-encoded fixed replies.
 */
public final class SmtpReplies
{
    public static final byte[] OK = ascii("250 2.0.0 Ok");
    public static final byte[] MAIL_OK = ascii("250 2.1.0 Ok");
    public static final byte[] RCPT_OK = ascii("250 2.1.5 Ok");
    public static final byte[] START_DATA = ascii("354 End data with <CR><LF>.<CR><LF>");
    public static final byte[] BYE = ascii("221 2.0.0 Bye");
    public static final byte[] VRFY = ascii("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
    public static final byte[] HELP = ascii(
        "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n" +
        "214 2.0.0 See RFC 5321, RFC 3030 and RFC 6531");

    public static final byte[] UNKNOWN_COMMAND = ascii("500 5.5.1 Error: command not recognized");
    public static final byte[] LINE_TOO_LONG = ascii("500 5.5.2 Error: command line too long");
    public static final byte[] BAD_CHARACTER = ascii("500 5.5.2 Error: bad character in command");
    public static final byte[] BARE_LF_COMMAND = ascii("500 5.5.2 Error: bare <LF> received");
    public static final byte[] NOT_IMPLEMENTED = ascii("502 5.5.1 Error: command not implemented");
    public static final byte[] HELO_SYNTAX = ascii("501 5.5.4 Syntax: HELO hostname");
    public static final byte[] EHLO_SYNTAX = ascii("501 5.5.4 Syntax: EHLO hostname");
    public static final byte[] MAIL_SYNTAX = ascii("501 5.5.4 Syntax: MAIL FROM:<address>");
    public static final byte[] RCPT_SYNTAX = ascii("501 5.5.4 Syntax: RCPT TO:<address>");
    public static final byte[] DATA_SYNTAX = ascii("501 5.5.4 Syntax: DATA");
    public static final byte[] BDAT_SYNTAX = ascii("501 5.5.4 Syntax: BDAT chunk-size [LAST]");
    public static final byte[] NOARG_SYNTAX = ascii("501 5.5.4 Syntax: command takes no argument");
    public static final byte[] VRFY_SYNTAX = ascii("501 5.5.4 Syntax: VRFY address");
    public static final byte[] BAD_SENDER = ascii("501 5.1.7 Bad sender address syntax");
    public static final byte[] BAD_RECIPIENT = ascii("501 5.1.3 Bad recipient address syntax");
    public static final byte[] BAD_PARAMETER = ascii("501 5.5.4 Bad parameter syntax");
    public static final byte[] UNKNOWN_PARAMETER = ascii("555 5.5.4 Unsupported option");
    public static final byte[] NON_ASCII_ADDRESS = ascii("553 5.6.7 Non-ASCII address requires SMTPUTF8");
    public static final byte[] NEED_HELO = ascii("503 5.5.1 Error: send HELO/EHLO first");
    public static final byte[] NESTED_MAIL = ascii("503 5.5.1 Error: nested MAIL command");
    public static final byte[] NEED_MAIL = ascii("503 5.5.1 Error: need MAIL command");
    public static final byte[] NEED_RCPT = ascii("503 5.5.1 Error: need RCPT command");
    public static final byte[] NO_VALID_RECIPIENTS = ascii("554 5.5.1 Error: no valid recipients");
    public static final byte[] BINARYMIME_NEEDS_BDAT = ascii("503 5.5.1 Error: BODY=BINARYMIME requires BDAT");
    public static final byte[] DATA_AFTER_BDAT = ascii("503 5.5.1 Error: DATA not allowed during a BDAT transfer");
    public static final byte[] TOO_MANY_RECIPIENTS = ascii("452 4.5.3 Error: too many recipients");
    public static final byte[] SIZE_AT_MAIL = ascii("552 5.3.4 Message size exceeds fixed limit");
    public static final byte[] SIZE_IN_DATA = ascii("552 5.3.4 Error: message file too big");
    public static final byte[] TEXT_LINE_TOO_LONG = ascii("554 5.6.0 Error: text line longer than 1000 octets");
    public static final byte[] BARE_LF_DATA = ascii("550 5.5.2 Error: bare <LF> received");
    public static final byte[] TEMPFAIL = ascii("451 4.3.0 Error: temporary failure, try again later");
    public static final byte[] SPOOL_WRITE_ERROR = ascii("451 4.3.0 Error: queue file write error");
    public static final byte[] DISK_FULL = ascii("452 4.3.1 Insufficient system storage");

    // RFC 3207 STARTTLS and RFC 4954 AUTH (codes as RFC 3207 5, RFC 4954 4 and 6, and Postfix)
    public static final byte[] READY_TO_START_TLS = ascii("220 2.0.0 Ready to start TLS");
    public static final byte[] STARTTLS_SYNTAX = ascii("501 5.5.4 Syntax: STARTTLS");
    public static final byte[] TLS_ALREADY_ACTIVE = ascii("503 5.5.1 Error: TLS already active");
    public static final byte[] TLS_REQUIRED = ascii("530 5.7.0 Must issue a STARTTLS command first");
    public static final byte[] AUTH_REQUIRED = ascii("530 5.7.0 Authentication required");
    public static final byte[] AUTH_NEEDS_TLS = ascii("538 5.7.11 Encryption required for requested authentication mechanism");
    public static final byte[] AUTH_SYNTAX = ascii("501 5.5.4 Syntax: AUTH mechanism");
    public static final byte[] AUTH_NEED_EHLO = ascii("503 5.5.1 Error: send EHLO first");
    public static final byte[] AUTH_ALREADY = ascii("503 5.5.1 Error: already authenticated");
    public static final byte[] AUTH_IN_TRANSACTION = ascii("503 5.5.1 Error: MAIL transaction in progress");
    public static final byte[] AUTH_UNKNOWN_MECHANISM = ascii("504 5.5.4 Unrecognized authentication type");
    public static final byte[] AUTH_PLAIN_CHALLENGE = ascii("334 ");
    public static final byte[] AUTH_LOGIN_USERNAME = ascii("334 VXNlcm5hbWU6");
    public static final byte[] AUTH_LOGIN_PASSWORD = ascii("334 UGFzc3dvcmQ6");
    public static final byte[] AUTH_ABORTED = ascii("501 5.7.0 Authentication aborted");
    public static final byte[] AUTH_BAD_RESPONSE = ascii("501 5.5.2 Cannot decode response");
    public static final byte[] AUTH_LINE_TOO_LONG = ascii("500 5.5.6 Authentication exchange line is too long");
    public static final byte[] AUTH_OK = ascii("235 2.7.0 Authentication successful");
    public static final byte[] AUTH_FAILED = ascii("535 5.7.8 Authentication credentials invalid");
    public static final byte[] AUTH_TEMPFAIL = ascii("454 4.7.0 Temporary authentication failure");

    private SmtpReplies()
    {
    }

    /**
     * Encode one reply line (CRLF appended).
     *
     * @param line reply text without the line end.
     * @return the bytes on the wire.
     */
    public static byte[] ascii(final String line)
    {
        return (line + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }
}
