/*
 * SUMMARY
 * Every setting of the SMTP daemon: its key, default, meaning and parser, in one table.
 *
 * DESCRIPTION
 * The config file is "key = value" lines; '#' starts a comment; blank lines are ignored. Durations take
 * a unit (ms, s, m, h), sizes may take k/m/g (powers of 1024). An unknown key, a key given twice or a
 * bad value stops start-up with "file:line: reason". docs/configuration.md documents the same table
 * (a test checks that each key is there).
 */
package mailgate.reactor;

import mailgate.reactor.net.NetworkList;
import mailgate.reactor.smtp.BareLfMode;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The SMTP daemon's settings with their embedded defaults.
 */
public final class SmtpdConfig
{
    /** One documented setting. */
    public static final class Key
    {
        final String name;
        final String defaultValue;
        final String meaning;
        final Function<String, Object> parser;

        Key(final String name, final String defaultValue, final String meaning, final Function<String, Object> parser)
        {
            this.name = name;
            this.defaultValue = defaultValue;
            this.meaning = meaning;
            this.parser = parser;
        }

        public String name()
        {
            return name;
        }

        public String defaultValue()
        {
            return defaultValue;
        }

        public String meaning()
        {
            return meaning;
        }
    }

    public static final String LISTEN = "smtpd.listen";
    public static final String SPOOL = "spool.directory";
    public static final String EVENT_LOOPS = "smtpd.event-loops";
    public static final String HOSTNAME = "smtpd.hostname";
    public static final String MAX_CONNECTIONS = "smtpd.max-connections";
    public static final String MAX_CONNECTIONS_PER_CLIENT = "smtpd.max-connections-per-client";
    public static final String LIMIT_EXCEPTIONS = "smtpd.connection-limit-exceptions";
    public static final String MESSAGE_SIZE_LIMIT = "smtpd.message-size-limit";
    public static final String RECIPIENT_LIMIT = "smtpd.recipient-limit";
    public static final String HARD_ERROR_LIMIT = "smtpd.hard-error-limit";
    public static final String COMMAND_TIMEOUT = "smtpd.command-timeout";
    public static final String DATA_TIMEOUT = "smtpd.data-timeout";
    public static final String GREET_PAUSE = "smtpd.greet-pause";
    public static final String POLICY_TIMEOUT = "smtpd.policy-timeout";
    public static final String BARE_LF = "smtpd.bare-lf";
    public static final String SHUTDOWN_GRACE = "smtpd.shutdown-grace";
    public static final String IDLE_STRATEGY = "smtpd.idle-strategy";
    public static final String RECEIVE_BUFFER = "smtpd.receive-buffer";
    public static final String SEND_BUFFER = "smtpd.send-buffer";
    public static final String SYNC_THREADS = "spool.sync-threads";
    public static final String SYNC = "spool.sync";
    public static final String MAILLOG = "maillog.file";
    public static final String ROUTER_MODE = "router.mode";
    public static final String ROUTER_TABLES = "router.tables";
    public static final String AERON_DIR = "ipc.aeron-dir";
    public static final String SECRET_FILE = "ipc.secret-file";
    public static final String FILTER_MODE = "filter.mode";
    public static final String FILTER_FAIL_MODE = "filter.fail-mode";
    public static final String FILTER_RULES = "filter.rules";
    public static final String FILTER_SCAN_TIMEOUT = "filter.scan-timeout";
    public static final String FILTER_WORKERS = "filter.workers";
    public static final String RATE_CONFIG = "rate.config";
    public static final String HANDOFF_CONFIG = "handoff.config";
    public static final String STARTTLS = "smtpd.starttls";
    public static final String REQUIRE_TLS = "smtpd.require-tls";
    public static final String REQUIRE_AUTH = "smtpd.require-auth";
    public static final String EXTENSIONS = "smtpd.extensions";
    public static final String SMTPS_LISTEN = "smtps.listen";
    public static final String SMTPS_REQUIRE_AUTH = "smtps.require-auth";
    public static final String SMTPS_EXTENSIONS = "smtps.extensions";
    public static final String TLS_CERT_FILE = "tls.cert-file";
    public static final String TLS_KEY_FILE = "tls.key-file";
    public static final String TLS_PROTOCOLS = "tls.protocols";
    public static final String TLS_HANDSHAKE_TIMEOUT = "tls.handshake-timeout";
    public static final String AUTH_PASSWORD_FILE = "auth.password-file";
    public static final String AUTH_WITHOUT_TLS = "auth.allow-without-tls";
    public static final String AUTH_THREADS = "auth.threads";

    private static final String ALL_EXTENSIONS =
        "PIPELINING SIZE STARTTLS AUTH ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 BINARYMIME CHUNKING";

    /** Every key, in documentation order. */
    public static final List<Key> KEYS = List.of(
        new Key(LISTEN, "127.0.0.1:2525", "address and TCP port to accept SMTP on (HOST:PORT, [IPv6]:PORT)",
            SmtpdConfig::listenAddress),
        new Key(SPOOL, "./var/spool", "spool root; tmp/ and queue/ are made under it (mode 0700)", (v) -> v),
        new Key(EVENT_LOOPS, "0", "event-loop threads; 0 means one per available core (max 16)",
            (v) -> intIn(v, 0, 16)),
        new Key(HOSTNAME, "", "name in the greeting, EHLO reply and Received headers; empty means the system's",
            (v) -> v),
        new Key(MAX_CONNECTIONS, "10000", "connections in total; more get 421 4.7.0", (v) -> intIn(v, 1, 1_000_000)),
        new Key(MAX_CONNECTIONS_PER_CLIENT, "50", "connections from one client address; more get 421 4.7.0",
            (v) -> intIn(v, 1, 1_000_000)),
        new Key(LIMIT_EXCEPTIONS, "127.0.0.0/8 ::1", "client networks exempt from the per-client limit",
            NetworkList::parse),
        new Key(MESSAGE_SIZE_LIMIT, "10240000", "largest message in octets (SIZE, 552 5.3.4)",
            (v) -> sizeIn(v, 1024, Long.MAX_VALUE / 2)),
        new Key(RECIPIENT_LIMIT, "1000", "recipients per message; more get 452 4.5.3", (v) -> intIn(v, 1, 100_000)),
        new Key(HARD_ERROR_LIMIT, "20", "error replies in one session before 421 4.7.0 and disconnect",
            (v) -> intIn(v, 1, 10_000)),
        new Key(COMMAND_TIMEOUT, "5m", "idle time waiting for a command (RFC 5321 4.5.3.2.7), then 421 4.4.2",
            SmtpdConfig::durationMs),
        new Key(DATA_TIMEOUT, "5m", "idle time inside DATA or BDAT, then 421 4.4.2", SmtpdConfig::durationMs),
        new Key(GREET_PAUSE, "0ms", "wait before the 220 greeting; a client that talks first is refused (554 5.5.1)",
            SmtpdConfig::durationMs),
        new Key(POLICY_TIMEOUT, "10s", "deadline for a policy/subsystem answer, then 451 4.3.0", SmtpdConfig::durationMs),
        new Key(BARE_LF, "normalize", "bare LF line ends: normalize (treat as CRLF) or reject (500/550 5.5.2)",
            SmtpdConfig::bareLf),
        new Key(SHUTDOWN_GRACE, "10s", "on SIGTERM, time transactions in flight get before 421 4.3.2",
            SmtpdConfig::durationMs),
        new Key(IDLE_STRATEGY, "backoff", "event-loop idle strategy: backoff, sleeping, yielding or busy-spin",
            SmtpdConfig::idleStrategy),
        new Key(RECEIVE_BUFFER, "8k", "input buffer per connection (at least 1k)", (v) -> (int)sizeIn(v, 1024, 1 << 24)),
        new Key(SEND_BUFFER, "4k", "reply buffer per connection (at least 2k)", (v) -> (int)sizeIn(v, 2048, 1 << 24)),
        new Key(SYNC, "auto", "how a group commit is made durable: syncfs (one syncfs(2) of the spool's file " +
            "system per batch; Linux 5.8+), fsync (every file and queue/), or auto (syncfs where usable)",
            SmtpdConfig::syncMode),
        new Key(SYNC_THREADS, "8", "threads issuing fsyncs of one group commit concurrently (spool.sync = fsync)",
            (v) -> intIn(v, 1, 256)),
        new Key(MAILLOG, "-", "maillog destination: - for standard output, else a file appended to", (v) -> v),
        new Key(ROUTER_MODE, "off", "off: accept every sender and recipient; aeron: ask the router process over " +
            "Aeron IPC (bin/mailgate run sets this)", (v) -> oneOf(v, "off", "aeron")),
        new Key(ROUTER_TABLES, "", "directory of router tables (docs/router.md); empty means the embedded defaults",
            (v) -> v),
        new Key(AERON_DIR, "", "Aeron directory shared by all roles; empty means /dev/shm/mailgate-USER/aeron",
            (v) -> v),
        new Key(SECRET_FILE, "./var/mailgate.secret", "install secret (0600, made on first run) that proves " +
            "subsystems to smtpd", (v) -> v),
        new Key(FILTER_MODE, "off", "off: no content filter; aeron: ask the filter process over Aeron IPC at end of " +
            "data (bin/mailgate run sets this)", (v) -> oneOf(v, "off", "aeron")),
        new Key(FILTER_FAIL_MODE, "tempfail", "when the filter is down: tempfail (451 4.3.0) or accept",
            (v) -> oneOf(v, "tempfail", "accept")),
        new Key(FILTER_RULES, "", "content filter rules file (docs/filter.md); empty means the embedded defaults",
            (v) -> v),
        new Key(FILTER_SCAN_TIMEOUT, "8s", "longest scan of one message, then 451 and the worker is reclaimed; " +
            "keep it below smtpd.policy-timeout",
            SmtpdConfig::durationMs),
        new Key(FILTER_WORKERS, "2", "filter threads scanning messages", (v) -> intIn(v, 1, 256)),
        new Key(RATE_CONFIG, "", "rate tracker configuration file (docs/rate-limits.md): counter file, policy, " +
            "cluster peers; empty means no rate limits", (v) -> v),
        new Key(HANDOFF_CONFIG, "", "handoff configuration file (docs/handoff.md): the supervisor then runs the " +
            "handoff role delivering queue/ to the next hop; empty means no handoff", (v) -> v),
        new Key(STARTTLS, "off", "on: offer STARTTLS (RFC 3207) on smtpd.listen; with no tls.cert-file a self-signed " +
            "certificate is made at start (docs/tls.md)", SmtpdConfig::yesNo),
        new Key(REQUIRE_TLS, "off", "on: MAIL on smtpd.listen needs STARTTLS first (530 5.7.0)", SmtpdConfig::yesNo),
        new Key(REQUIRE_AUTH, "off", "on: MAIL on smtpd.listen needs AUTH first (530 5.7.0), for a submission port",
            SmtpdConfig::yesNo),
        new Key(EXTENSIONS, ALL_EXTENSIONS, "EHLO keywords offered on smtpd.listen; STARTTLS and AUTH left out " +
            "are refused (502), the others are only not advertised", SmtpdConfig::extensions),
        new Key(SMTPS_LISTEN, "", "address for implicit TLS (RFC 8314, port 465 style), HOST:PORT; empty means none",
            (v) -> v.isBlank() ? "" : listenAddress(v)),
        new Key(SMTPS_REQUIRE_AUTH, "off", "on: MAIL on smtps.listen needs AUTH first (530 5.7.0)", SmtpdConfig::yesNo),
        new Key(SMTPS_EXTENSIONS, ALL_EXTENSIONS, "EHLO keywords offered on smtps.listen (STARTTLS is never offered " +
            "there)", SmtpdConfig::extensions),
        new Key(TLS_CERT_FILE, "", "PEM certificate chain, leaf first; empty means a self-signed certificate in " +
            "SPOOL/run/selfsigned.p12; reloaded on SIGHUP", (v) -> v),
        new Key(TLS_KEY_FILE, "", "PEM private key (PKCS#8 or PKCS#1 RSA, unencrypted); empty means in " +
            "tls.cert-file; reloaded on SIGHUP", (v) -> v),
        new Key(TLS_PROTOCOLS, "TLSv1.3 TLSv1.2", "TLS versions accepted: TLSv1.3, TLSv1.2 or both",
            SmtpdConfig::tlsProtocols),
        new Key(TLS_HANDSHAKE_TIMEOUT, "10s", "longest TLS handshake (and wait for it after STARTTLS); then the " +
            "connection is closed", SmtpdConfig::durationMs),
        new Key(AUTH_PASSWORD_FILE, "", "AUTH PLAIN/LOGIN (RFC 4954) users, lines made by PasswordHash " +
            "(docs/tls.md); empty means no AUTH; reloaded on SIGHUP", (v) -> v),
        new Key(AUTH_WITHOUT_TLS, "off", "on: offer AUTH before TLS too (passwords in clear text)", SmtpdConfig::yesNo),
        new Key(AUTH_THREADS, "2", "threads checking AUTH passwords (PBKDF2), off the event loops",
            (v) -> intIn(v, 1, 64)));

    private static final Map<String, Key> BY_NAME = new HashMap<>();

    static
    {
        for (final Key key : KEYS)
        {
            BY_NAME.put(key.name, key);
        }
    }

    private final Map<String, Object> values = new LinkedHashMap<>();

    /**
     * The embedded default configuration.
     */
    public SmtpdConfig()
    {
        for (final Key key : KEYS)
        {
            values.put(key.name, key.parser.apply(key.defaultValue));
        }
    }

    /**
     * Read a config file over the defaults.
     *
     * @param file the file.
     * @return this.
     * @throws ConfigException naming file, line and reason.
     */
    public SmtpdConfig load(final Path file)
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
        final Map<String, Integer> seenAt = new HashMap<>();
        for (int i = 0; i < lines.size(); i++)
        {
            final String where = file + ":" + (i + 1) + ": ";
            String line = lines.get(i);
            final int hash = line.indexOf('#');
            if (hash >= 0)
            {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty())
            {
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq < 0)
            {
                throw new ConfigException(where + "expected 'key = value', found '" + line + "'");
            }
            final String name = line.substring(0, eq).strip();
            final String value = line.substring(eq + 1).strip();
            if (!BY_NAME.containsKey(name))
            {
                throw new ConfigException(where + "unknown key '" + name + "'");
            }
            final Integer previous = seenAt.put(name, i + 1);
            if (null != previous)
            {
                throw new ConfigException(where + "'" + name + "' is already set on line " + previous);
            }
            set(name, value, where);
        }
        return this;
    }

    /**
     * Set one value (command-line overrides use this too).
     *
     * @param name  key.
     * @param value text.
     * @param where prefix for errors.
     * @return this.
     */
    public SmtpdConfig set(final String name, final String value, final String where)
    {
        final Key key = BY_NAME.get(name);
        if (null == key)
        {
            throw new ConfigException(where + "unknown key '" + name + "'");
        }
        try
        {
            values.put(name, key.parser.apply(value));
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ConfigException(where + name + ": " + ex.getMessage());
        }
        return this;
    }

    /**
     * @param name key.
     * @param <T>  its parsed type.
     * @return the parsed value.
     */
    @SuppressWarnings("unchecked")
    public <T> T get(final String name)
    {
        return (T)values.get(name);
    }

    public int getInt(final String name)
    {
        return ((Number)values.get(name)).intValue();
    }

    public long getLong(final String name)
    {
        return ((Number)values.get(name)).longValue();
    }

    /**
     * @return the host name to announce.
     */
    public String hostname()
    {
        final String configured = get(HOSTNAME);
        if (!configured.isEmpty())
        {
            return configured;
        }
        try
        {
            return InetAddress.getLocalHost().getCanonicalHostName();
        }
        catch (final UnknownHostException ex)
        {
            return "localhost";
        }
    }

    /**
     * @return event loops to run, resolving 0 to the core count.
     */
    public int eventLoops()
    {
        final int configured = getInt(EVENT_LOOPS);
        return 0 == configured ? Math.min(16, Runtime.getRuntime().availableProcessors()) : configured;
    }

    static Object listenAddress(final String value)
    {
        final int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1)
        {
            throw new IllegalArgumentException("'" + value + "' is not HOST:PORT");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        final int port = intIn(value.substring(colon + 1), 0, 65535);
        return new java.net.InetSocketAddress(host, port);
    }

    static int intIn(final String value, final int min, final int max)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value.strip());
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + value + "' is not a whole number");
        }
        if (parsed < min || parsed > max)
        {
            throw new IllegalArgumentException(value + " is outside " + min + ".." + max);
        }
        return (int)parsed;
    }

    static long sizeIn(final String value, final long min, final long max)
    {
        final String v = value.strip().toLowerCase(Locale.ROOT);
        long multiplier = 1;
        String digits = v;
        if (v.endsWith("k") || v.endsWith("m") || v.endsWith("g"))
        {
            multiplier = v.endsWith("k") ? 1024L : v.endsWith("m") ? 1024L * 1024 : 1024L * 1024 * 1024;
            digits = v.substring(0, v.length() - 1);
        }
        final long parsed;
        try
        {
            parsed = Long.parseLong(digits) * multiplier;
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + value + "' is not a size (e.g. 10240000, 64k, 10m)");
        }
        if (parsed < min || parsed > max)
        {
            throw new IllegalArgumentException(value + " is outside " + min + ".." + max);
        }
        return parsed;
    }

    static Object durationMs(final String value)
    {
        final String v = value.strip().toLowerCase(Locale.ROOT);
        final long multiplier;
        final String digits;
        if (v.endsWith("ms"))
        {
            multiplier = 1;
            digits = v.substring(0, v.length() - 2);
        }
        else if (v.endsWith("s"))
        {
            multiplier = 1000;
            digits = v.substring(0, v.length() - 1);
        }
        else if (v.endsWith("m"))
        {
            multiplier = 60_000;
            digits = v.substring(0, v.length() - 1);
        }
        else if (v.endsWith("h"))
        {
            multiplier = 3_600_000;
            digits = v.substring(0, v.length() - 1);
        }
        else
        {
            throw new IllegalArgumentException("'" + value + "' needs a unit: ms, s, m or h");
        }
        try
        {
            final long parsed = Long.parseLong(digits.strip());
            if (parsed < 0)
            {
                throw new IllegalArgumentException("'" + value + "' is negative");
            }
            return parsed * multiplier;
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + value + "' is not a duration (e.g. 300s, 5m, 250ms)");
        }
    }

    static Object bareLf(final String value)
    {
        switch (value.strip().toLowerCase(Locale.ROOT))
        {
            case "normalize":
                return BareLfMode.NORMALIZE;
            case "reject":
                return BareLfMode.REJECT;
            default:
                throw new IllegalArgumentException("'" + value + "' is not normalize or reject");
        }
    }

    static Object syncMode(final String value)
    {
        return mailgate.reactor.spool.Spool.SyncMode.valueOf(
            ((String)oneOf(value, "auto", "syncfs", "fsync")).toUpperCase(Locale.ROOT));
    }

    static Object yesNo(final String value)
    {
        switch (value.strip().toLowerCase(Locale.ROOT))
        {
            case "on":
            case "yes":
            case "true":
                return Boolean.TRUE;
            case "off":
            case "no":
            case "false":
                return Boolean.FALSE;
            default:
                throw new IllegalArgumentException("'" + value + "' is not on or off");
        }
    }

    static Object extensions(final String value)
    {
        final java.util.Set<String> set = new java.util.LinkedHashSet<>();
        for (final String word : value.strip().split("[\\s,]+"))
        {
            if (word.isEmpty())
            {
                continue;
            }
            final String upper = word.toUpperCase(Locale.ROOT);
            if (!mailgate.reactor.smtp.SmtpSettings.EXTENSIONS.contains(upper))
            {
                throw new IllegalArgumentException("unknown extension '" + word + "' (known: " + ALL_EXTENSIONS + ")");
            }
            set.add(upper);
        }
        return java.util.Collections.unmodifiableSet(set);
    }

    static Object tlsProtocols(final String value)
    {
        final java.util.List<String> protocols = new java.util.ArrayList<>();
        for (final String word : value.strip().split("[\\s,]+"))
        {
            if (word.isEmpty())
            {
                continue;
            }
            if (!"TLSv1.3".equals(word) && !"TLSv1.2".equals(word))
            {
                throw new IllegalArgumentException("'" + word + "' is not TLSv1.3 or TLSv1.2");
            }
            if (!protocols.contains(word))
            {
                protocols.add(word);
            }
        }
        if (protocols.isEmpty())
        {
            throw new IllegalArgumentException("no protocol");
        }
        return protocols.toArray(new String[0]);
    }

    /**
     * @param name a key parsed by yesNo.
     * @return its value.
     */
    public boolean getBoolean(final String name)
    {
        return (Boolean)values.get(name);
    }

    static Object oneOf(final String value, final String... allowed)
    {
        final String v = value.strip().toLowerCase(Locale.ROOT);
        for (final String a : allowed)
        {
            if (a.equals(v))
            {
                return v;
            }
        }
        throw new IllegalArgumentException("'" + value + "' is not one of " + String.join(", ", allowed));
    }

    /**
     * @return the Aeron directory to use.
     */
    public java.nio.file.Path aeronDir()
    {
        final String configured = get(AERON_DIR);
        return configured.isEmpty() ? mailgate.ipc.IpcChannels.defaultAeronDir() : java.nio.file.Path.of(configured);
    }

    static Object idleStrategy(final String value)
    {
        final String v = value.strip().toLowerCase(Locale.ROOT);
        switch (v)
        {
            case "backoff":
            case "sleeping":
            case "yielding":
            case "busy-spin":
                return v;
            default:
                throw new IllegalArgumentException("'" + value + "' is not backoff, sleeping, yielding or busy-spin");
        }
    }
}
