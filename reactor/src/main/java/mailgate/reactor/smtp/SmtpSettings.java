package mailgate.reactor.smtp;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Set;
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
    /** Every EHLO keyword a listener can offer, in the order the EHLO reply lists them. */
    public static final List<String> EXTENSIONS = List.of("PIPELINING", "SIZE", "STARTTLS", "AUTH",
        "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "BINARYMIME", "CHUNKING");

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
    final Set<String> extensions;
    final boolean startTls;
    final boolean implicitTls;
    final boolean auth;
    final boolean authWithoutTls;
    final boolean requireTls;
    final boolean requireAuth;
    final long handshakeTimeoutNs;
    final byte[] ehloTls;

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
        this.extensions = Set.copyOf(EXTENSIONS);
        this.startTls = false;
        this.implicitTls = false;
        this.auth = false;
        this.authWithoutTls = false;
        this.requireTls = false;
        this.requireAuth = false;
        this.handshakeTimeoutNs = TimeUnit.SECONDS.toNanos(10);
        this.ehloTls = this.ehlo;
    }

    private SmtpSettings(
        final SmtpSettings base,
        final Set<String> extensions,
        final boolean startTls,
        final boolean implicitTls,
        final boolean auth,
        final boolean authWithoutTls,
        final boolean requireTls,
        final boolean requireAuth,
        final long handshakeTimeoutNs)
    {
        this.hostname = base.hostname;
        this.maxMessageSize = base.maxMessageSize;
        this.maxRecipients = base.maxRecipients;
        this.hardErrorLimit = base.hardErrorLimit;
        this.commandTimeoutNs = base.commandTimeoutNs;
        this.dataTimeoutNs = base.dataTimeoutNs;
        this.greetPauseNs = base.greetPauseNs;
        this.policyTimeoutNs = base.policyTimeoutNs;
        this.bareLfMode = base.bareLfMode;
        this.greeting = base.greeting;
        this.helo = base.helo;
        this.tooManyErrors = base.tooManyErrors;
        this.timeout = base.timeout;
        this.shuttingDown = base.shuttingDown;
        this.earlyTalker = base.earlyTalker;
        this.extensions = Set.copyOf(extensions);
        this.startTls = startTls && extensions.contains("STARTTLS") && !implicitTls;
        this.implicitTls = implicitTls;
        this.auth = auth && extensions.contains("AUTH");
        this.authWithoutTls = authWithoutTls;
        this.requireTls = requireTls && !implicitTls;
        this.requireAuth = requireAuth;
        this.handshakeTimeoutNs = handshakeTimeoutNs;
        this.ehlo = buildEhlo(implicitTls);
        this.ehloTls = buildEhlo(true);
    }

    /**
     * The settings of one listener: these limits, with its own extensions and TLS and AUTH rules.
     *
     * @param extensions         EHLO keywords to offer (of {@link #EXTENSIONS}); STARTTLS and AUTH are also
     *                           refused (502) when not offered, the others are only left out of the EHLO reply.
     * @param tlsAvailable       a certificate is loaded, so STARTTLS can be offered.
     * @param implicitTls        the listener is TLS from the first byte (RFC 8314).
     * @param authAvailable      a password file is loaded, so AUTH can be offered.
     * @param authWithoutTls     offer AUTH before TLS too.
     * @param requireTls         MAIL needs TLS first (530 5.7.0).
     * @param requireAuth        MAIL needs AUTH first (530 5.7.0), the submission rule.
     * @param handshakeTimeoutMs longest TLS handshake.
     * @return the listener's settings.
     */
    public SmtpSettings forListener(
        final Set<String> extensions,
        final boolean tlsAvailable,
        final boolean implicitTls,
        final boolean authAvailable,
        final boolean authWithoutTls,
        final boolean requireTls,
        final boolean requireAuth,
        final long handshakeTimeoutMs)
    {
        for (final String extension : extensions)
        {
            if (!EXTENSIONS.contains(extension.toUpperCase(Locale.ROOT)))
            {
                throw new IllegalArgumentException("unknown extension " + extension);
            }
        }
        return new SmtpSettings(this, extensions, tlsAvailable, implicitTls, authAvailable, authWithoutTls, requireTls,
            requireAuth, TimeUnit.MILLISECONDS.toNanos(handshakeTimeoutMs));
    }

    private byte[] buildEhlo(final boolean tlsActive)
    {
        final StringBuilder sb = new StringBuilder(256).append("250-").append(hostname).append("\r\n");
        for (final String extension : EXTENSIONS)
        {
            if (!extensions.contains(extension))
            {
                continue;
            }
            switch (extension)
            {
                case "SIZE":
                    sb.append("250-SIZE ").append(maxMessageSize).append("\r\n");
                    break;
                case "STARTTLS":
                    if (startTls && !tlsActive)
                    {
                        sb.append("250-STARTTLS\r\n");
                    }
                    break;
                case "AUTH":
                    if (auth && (tlsActive || authWithoutTls))
                    {
                        sb.append("250-AUTH PLAIN LOGIN\r\n");
                    }
                    break;
                default:
                    sb.append("250-").append(extension).append("\r\n");
                    break;
            }
        }
        final int previousEnd = sb.lastIndexOf("\r\n", sb.length() - 3);
        final int lastLine = previousEnd < 0 ? 0 : previousEnd + 2;
        sb.setCharAt(lastLine + 3, ' ');
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * @param tlsActive whether the session is encrypted.
     * @return the EHLO reply for that state.
     */
    byte[] ehlo(final boolean tlsActive)
    {
        return tlsActive ? ehloTls : ehlo;
    }

    public boolean isImplicitTls()
    {
        return implicitTls;
    }

    public boolean offersStartTls()
    {
        return startTls;
    }

    public boolean offersAuth()
    {
        return auth;
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
