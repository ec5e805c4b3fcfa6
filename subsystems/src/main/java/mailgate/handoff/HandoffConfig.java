/*
 * SUMMARY
 * Settings of the handoff role, read from its own "key = value" file (--handoff-config FILE), because the
 * shared SmtpdConfig refuses keys it does not know.
 *
 * DESCRIPTION
 * Lines are "key = value"; '#' starts a comment line; blank lines are skipped. Durations take a unit
 * suffix: ms, s, m, h, d (a bare number is seconds). An unknown key, a bad value or a missing
 * handoff.next-hop is a ConfigException whose message starts with "file:line: ".
 */
package mailgate.handoff;

import mailgate.reactor.ConfigException;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Immutable handoff settings.
 *
 * @param nextHop        where messages go.
 * @param workers        delivery threads (one hop connection each at most).
 * @param heloName       name for EHLO/LHLO; empty means the smtpd hostname.
 * @param pollInterval   how often queue/ is listed.
 * @param backoffInitial first retry delay after a deferral.
 * @param backoffMax     retry delay ceiling.
 * @param maxAge         a message older than this (since arrival) is not retried but moved to failed/.
 * @param timeout        connect and per-reply timeout towards the hop.
 * @param idleTimeout    a hop connection idle this long is closed with QUIT.
 * @param tls            STARTTLS towards an SMTP/LMTP hop.
 * @param tlsVerify      verify the hop's certificate chain and host name.
 * @param tlsTrust       PEM trust anchors for tlsVerify; null means the JDK's default trust store.
 */
public record HandoffConfig(
    NextHop nextHop,
    int workers,
    String heloName,
    Duration pollInterval,
    Duration backoffInitial,
    Duration backoffMax,
    Duration maxAge,
    Duration timeout,
    Duration idleTimeout,
    TlsMode tls,
    boolean tlsVerify,
    Path tlsTrust)
{
    /** Config keys, all in the handoff config file. */
    public static final String NEXT_HOP = "handoff.next-hop";
    public static final String WORKERS = "handoff.workers";
    public static final String HELO_NAME = "handoff.helo-name";
    public static final String POLL_INTERVAL = "handoff.poll-interval";
    public static final String BACKOFF_INITIAL = "handoff.backoff-initial";
    public static final String BACKOFF_MAX = "handoff.backoff-max";
    public static final String MAX_AGE = "handoff.max-age";
    public static final String TIMEOUT = "handoff.timeout";
    public static final String IDLE_TIMEOUT = "handoff.idle-timeout";
    public static final String TLS = "handoff.tls";
    public static final String TLS_VERIFY = "handoff.tls-verify";
    public static final String TLS_TRUST = "handoff.tls-trust";
    public static final List<String> KEYS = List.of(
        NEXT_HOP, WORKERS, HELO_NAME, POLL_INTERVAL, BACKOFF_INITIAL, BACKOFF_MAX, MAX_AGE, TIMEOUT, IDLE_TIMEOUT,
        TLS, TLS_VERIFY, TLS_TRUST);

    /**
     * STARTTLS policy towards the hop: never; when offered (a failed handshake defers, never downgrades);
     * always (not offered or failed defers).
     */
    public enum TlsMode
    {
        NONE, OPPORTUNISTIC, REQUIRED
    }

    /** The next hop: SMTP or LMTP to host:port, or a Maildir. */
    public enum Kind
    {
        SMTP, LMTP, MAILDIR
    }

    /**
     * @param kind protocol.
     * @param host host for SMTP/LMTP.
     * @param port port for SMTP/LMTP.
     * @param path Maildir root for MAILDIR.
     */
    public record NextHop(Kind kind, String host, int port, Path path)
    {
        /**
         * @param text smtp://host:port, lmtp://host:port or maildir:/path.
         * @return the hop.
         * @throws IllegalArgumentException when malformed.
         */
        public static NextHop parse(final String text)
        {
            if (text.startsWith("maildir:"))
            {
                final String path = text.substring("maildir:".length());
                if (path.isEmpty())
                {
                    throw new IllegalArgumentException("maildir: needs a path");
                }
                return new NextHop(Kind.MAILDIR, null, 0, Path.of(path));
            }
            final URI uri;
            try
            {
                uri = new URI(text);
            }
            catch (final java.net.URISyntaxException ex)
            {
                throw new IllegalArgumentException("not smtp://host:port, lmtp://host:port or maildir:/path: " + text);
            }
            final String scheme = null == uri.getScheme() ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
            final Kind kind = switch (scheme)
            {
                case "smtp" -> Kind.SMTP;
                case "lmtp" -> Kind.LMTP;
                default -> throw new IllegalArgumentException(
                    "not smtp://host:port, lmtp://host:port or maildir:/path: " + text);
            };
            if (null == uri.getHost() || uri.getPort() <= 0)
            {
                throw new IllegalArgumentException("needs host and port: " + text);
            }
            return new NextHop(kind, uri.getHost(), uri.getPort(), null);
        }

        /**
         * @return host:port or the Maildir path, for the maillog's relay=.
         */
        public String relay()
        {
            return Kind.MAILDIR == kind ? "maildir:" + path : host + ":" + port;
        }
    }

    /**
     * @param nextHop the hop.
     * @return defaults around that hop.
     */
    public static HandoffConfig defaults(final NextHop nextHop)
    {
        return new HandoffConfig(nextHop, 2, "", Duration.ofMillis(200), Duration.ofSeconds(1),
            Duration.ofMinutes(5), Duration.ofDays(5), Duration.ofSeconds(60), Duration.ofSeconds(10),
            TlsMode.OPPORTUNISTIC, false, null);
    }

    /**
     * @param file the handoff config file.
     * @return the settings.
     * @throws ConfigException "file:line: reason" on a bad line, or when handoff.next-hop is missing.
     */
    public static HandoffConfig load(final Path file)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot read: " + ex.getMessage());
        }
        final HandoffConfig d = defaults(null);
        NextHop hop = null;
        int workers = d.workers;
        String heloName = d.heloName;
        Duration pollInterval = d.pollInterval;
        Duration backoffInitial = d.backoffInitial;
        Duration backoffMax = d.backoffMax;
        Duration maxAge = d.maxAge;
        Duration timeout = d.timeout;
        Duration idleTimeout = d.idleTimeout;
        TlsMode tls = d.tls;
        boolean tlsVerify = d.tlsVerify;
        Path tlsTrust = d.tlsTrust;
        for (int i = 0; i < lines.size(); i++)
        {
            final String line = lines.get(i).strip();
            final String where = file + ":" + (i + 1) + ": ";
            if (line.isEmpty() || line.startsWith("#"))
            {
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq <= 0)
            {
                throw new ConfigException(where + "expected key = value");
            }
            final String key = line.substring(0, eq).strip();
            final String value = line.substring(eq + 1).strip();
            try
            {
                switch (key)
                {
                    case NEXT_HOP -> hop = NextHop.parse(value);
                    case WORKERS ->
                    {
                        workers = Integer.parseInt(value);
                        if (workers < 1 || workers > 64)
                        {
                            throw new IllegalArgumentException("must be 1..64");
                        }
                    }
                    case HELO_NAME ->
                    {
                        if (value.isEmpty() || value.chars().anyMatch((ch) -> ch <= ' ' || ch > '~'))
                        {
                            throw new IllegalArgumentException("must be a printable ASCII name");
                        }
                        heloName = value;
                    }
                    case POLL_INTERVAL -> pollInterval = positive(value);
                    case BACKOFF_INITIAL -> backoffInitial = positive(value);
                    case BACKOFF_MAX -> backoffMax = positive(value);
                    case MAX_AGE -> maxAge = positive(value);
                    case TIMEOUT -> timeout = positive(value);
                    case IDLE_TIMEOUT -> idleTimeout = positive(value);
                    case TLS -> tls = switch (value.toLowerCase(java.util.Locale.ROOT))
                    {
                        case "none" -> TlsMode.NONE;
                        case "opportunistic" -> TlsMode.OPPORTUNISTIC;
                        case "required" -> TlsMode.REQUIRED;
                        default -> throw new IllegalArgumentException("must be none, opportunistic or required");
                    };
                    case TLS_VERIFY -> tlsVerify = bool(value);
                    case TLS_TRUST ->
                    {
                        tlsTrust = Path.of(value);
                        // read now: a bad trust file is a config error at start, not a deferral per message
                        HopTls.trustAnchors(tlsTrust);
                    }
                    default -> throw new IllegalArgumentException("unknown key " + key + " (known: " + KEYS + ")");
                }
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException(where + key + ": " + ex.getMessage());
            }
        }
        if (null == hop)
        {
            throw new ConfigException(file + ":" + lines.size() + ": " + NEXT_HOP + " is required");
        }
        return new HandoffConfig(hop, workers, heloName, pollInterval, backoffInitial, backoffMax, maxAge, timeout,
            idleTimeout, tls, tlsVerify, tlsTrust);
    }

    /**
     * @param hop the hop.
     * @return a copy with that hop.
     */
    public HandoffConfig withNextHop(final NextHop hop)
    {
        return new HandoffConfig(hop, workers, heloName, pollInterval, backoffInitial, backoffMax, maxAge, timeout,
            idleTimeout, tls, tlsVerify, tlsTrust);
    }

    /**
     * @param initial first retry delay.
     * @param max     ceiling.
     * @param age     maximum age.
     * @return a copy with those retry settings (tests use short ones).
     */
    public HandoffConfig withRetry(final Duration initial, final Duration max, final Duration age)
    {
        return new HandoffConfig(nextHop, workers, heloName, pollInterval, initial, max, age, timeout, idleTimeout,
            tls, tlsVerify, tlsTrust);
    }

    /**
     * @param text "200ms", "1s", "5m", "2h", "5d" or a bare number of seconds.
     * @return the duration.
     */
    static Duration duration(final String text)
    {
        final String t = text.strip().toLowerCase(java.util.Locale.ROOT);
        try
        {
            if (t.endsWith("ms"))
            {
                return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            }
            final char unit = t.isEmpty() ? ' ' : t.charAt(t.length() - 1);
            final String digits = Character.isDigit(unit) ? t : t.substring(0, t.length() - 1);
            final long n = Long.parseLong(digits);
            return switch (unit)
            {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                case 'd' -> Duration.ofDays(n);
                default ->
                {
                    if (!Character.isDigit(unit))
                    {
                        throw new NumberFormatException();
                    }
                    yield Duration.ofSeconds(n);
                }
            };
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("not a duration (e.g. 200ms, 1s, 5m, 5d): " + text);
        }
    }

    private static boolean bool(final String text)
    {
        return switch (text.toLowerCase(java.util.Locale.ROOT))
        {
            case "true", "yes" -> true;
            case "false", "no" -> false;
            default -> throw new IllegalArgumentException("must be true or false: " + text);
        };
    }

    private static Duration positive(final String text)
    {
        final Duration d = duration(text);
        if (d.isZero() || d.isNegative())
        {
            throw new IllegalArgumentException("must be positive: " + text);
        }
        return d;
    }
}
