package mailgate.reactor.smtp;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The protocol limits and replies every session of a daemon shares, built once at start.
 */
public final class SmtpSettings
{
    /** RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CR LF. */
    public static final int MAX_COMMAND_LINE = 512;
    /** RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CR LF. */
    public static final int MAX_TEXT_LINE = 1000;

    final String hostname;
    final long maxMessageSize;
    final int maxRecipients;
    final int hardErrorLimit;
    final long commandTimeoutNs;
    final long dataTimeoutNs;
    final long greetPauseNs;
    final long policyTimeoutNs;
    final BareLfMode bareLfMode;
    final byte[] greeting;
    final byte[] ehlo;
    final byte[] helo;
    final byte[] tooManyErrors;
    final byte[] timeout;
    final byte[] shuttingDown;
    final byte[] earlyTalker;

    /**
     * @param hostname        name in greeting, EHLO and Received headers.
     * @param maxMessageSize  SIZE limit in octets.
     * @param maxRecipients   RCPTs per message.
     * @param hardErrorLimit  4xx/5xx replies before 421.
     * @param commandTimeoutMs idle time allowed waiting for a command.
     * @param dataTimeoutMs   idle time allowed inside DATA or BDAT.
     * @param greetPauseMs    wait before the greeting; input in that time marks an early talker.
     * @param policyTimeoutMs deadline for a policy answer before 451.
     * @param bareLfMode      bare LF handling.
     */
    public SmtpSettings(
        final String hostname,
        final long maxMessageSize,
        final int maxRecipients,
        final int hardErrorLimit,
        final long commandTimeoutMs,
        final long dataTimeoutMs,
        final long greetPauseMs,
        final long policyTimeoutMs,
        final BareLfMode bareLfMode)
    {
        this.hostname = hostname;
        this.maxMessageSize = maxMessageSize;
        this.maxRecipients = maxRecipients;
        this.hardErrorLimit = hardErrorLimit;
        this.commandTimeoutNs = TimeUnit.MILLISECONDS.toNanos(commandTimeoutMs);
        this.dataTimeoutNs = TimeUnit.MILLISECONDS.toNanos(dataTimeoutMs);
        this.greetPauseNs = TimeUnit.MILLISECONDS.toNanos(greetPauseMs);
        this.policyTimeoutNs = TimeUnit.MILLISECONDS.toNanos(policyTimeoutMs);
        this.bareLfMode = bareLfMode;
        this.greeting = SmtpReplies.ascii("220 " + hostname + " ESMTP mailgate");
        this.ehlo = ("250-" + hostname + "\r\n" +
            "250-PIPELINING\r\n" +
            "250-SIZE " + maxMessageSize + "\r\n" +
            "250-ENHANCEDSTATUSCODES\r\n" +
            "250-8BITMIME\r\n" +
            "250-DSN\r\n" +
            "250-SMTPUTF8\r\n" +
            "250-BINARYMIME\r\n" +
            "250 CHUNKING\r\n").getBytes(StandardCharsets.US_ASCII);
        this.helo = SmtpReplies.ascii("250 " + hostname);
        this.tooManyErrors = SmtpReplies.ascii("421 4.7.0 " + hostname + " Error: too many errors");
        this.timeout = SmtpReplies.ascii("421 4.4.2 " + hostname + " Error: timeout exceeded");
        this.shuttingDown = SmtpReplies.ascii("421 4.3.2 " + hostname + " Service shutting down");
        this.earlyTalker = SmtpReplies.ascii("554 5.5.1 " + hostname + " Error: protocol error: talking before the greeting");
    }

    public String hostname()
    {
        return hostname;
    }

    public long maxMessageSize()
    {
        return maxMessageSize;
    }

    public BareLfMode bareLfMode()
    {
        return bareLfMode;
    }
}
