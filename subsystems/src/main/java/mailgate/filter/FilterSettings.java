/*
 * SUMMARY
 * The filter's settings (filter.rules, filter.mode, filter.fail-mode, filter.scan-timeout, filter.workers)
 * read from the SMTP daemon's configuration when it knows the keys, else from "--set filter.x=y" on the
 * command line, else the defaults documented in docs/filter.md.
 *
 * DESCRIPTION
 * The keys belong in SmtpdConfig's table (so smtpd, which sends requests and applies fail-mode, reads the
 * same file); until they are there, FilterMain takes "--set filter.*" itself, and this class accepts both
 * the parsed values SmtpdConfig will hold (Long milliseconds, Integer) and raw strings.
 */
package mailgate.filter;

import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Resolved filter settings.
 */
public final class FilterSettings
{
    public static final String RULES = "filter.rules";
    public static final String MODE = "filter.mode";
    public static final String FAIL_MODE = "filter.fail-mode";
    public static final String SCAN_TIMEOUT = "filter.scan-timeout";
    public static final String WORKERS = "filter.workers";

    public static final String RULES_DEFAULT = "";
    public static final String MODE_DEFAULT = "off";
    public static final String FAIL_MODE_DEFAULT = "tempfail";
    public static final long SCAN_TIMEOUT_MS_DEFAULT = 8_000;
    public static final int WORKERS_DEFAULT = 2;

    private static final Set<String> KEYS = Set.of(RULES, MODE, FAIL_MODE, SCAN_TIMEOUT, WORKERS);

    private final Path rules;
    private final String mode;
    private final String failMode;
    private final long scanTimeoutMs;
    private final int workers;
    private final Path spoolRoot;

    private FilterSettings(
        final Path rules,
        final String mode,
        final String failMode,
        final long scanTimeoutMs,
        final int workers,
        final Path spoolRoot)
    {
        this.rules = rules;
        this.mode = mode;
        this.failMode = failMode;
        this.scanTimeoutMs = scanTimeoutMs;
        this.workers = workers;
        this.spoolRoot = spoolRoot;
    }

    /**
     * @param config    the daemon's configuration.
     * @param overrides "filter.*" values given on the command line that the config does not know yet.
     * @return the settings.
     * @throws ConfigException on a bad value.
     */
    public static FilterSettings from(final SmtpdConfig config, final Map<String, String> overrides)
    {
        final Object rules = value(config, overrides, RULES, RULES_DEFAULT);
        final String mode = oneOf(MODE, String.valueOf(value(config, overrides, MODE, MODE_DEFAULT)), "off", "aeron");
        final String failMode = oneOf(FAIL_MODE, String.valueOf(value(config, overrides, FAIL_MODE,
            FAIL_MODE_DEFAULT)), "tempfail", "accept");
        final long timeout = durationMs(SCAN_TIMEOUT, value(config, overrides, SCAN_TIMEOUT, SCAN_TIMEOUT_MS_DEFAULT));
        final long workers = number(WORKERS, value(config, overrides, WORKERS, WORKERS_DEFAULT));
        if (timeout < 1 || timeout > 3_600_000)
        {
            throw new ConfigException(SCAN_TIMEOUT + ": " + timeout + "ms is outside 1ms..1h");
        }
        if (workers < 1 || workers > 256)
        {
            throw new ConfigException(WORKERS + ": " + workers + " is outside 1..256");
        }
        final String rulesPath = String.valueOf(rules).strip();
        return new FilterSettings(rulesPath.isEmpty() ? null : Path.of(rulesPath), mode, failMode, timeout,
            (int)workers, Path.of(config.<String>get(SmtpdConfig.SPOOL)));
    }

    /**
     * Take the "--set filter.*=value" options SmtpdConfig does not know (yet) out of a command line.
     *
     * @param args      the command line.
     * @param overrides receives them.
     * @return the rest, for SmtpdMain.parse.
     */
    public static String[] extractOverrides(final String[] args, final Map<String, String> overrides)
    {
        final Set<String> known = new HashSet<>();
        for (final SmtpdConfig.Key key : SmtpdConfig.KEYS)
        {
            known.add(key.name());
        }
        final List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            if ("--set".equals(args[i]) && i + 1 < args.length)
            {
                final String kv = args[i + 1];
                final int eq = kv.indexOf('=');
                final String key = eq > 0 ? kv.substring(0, eq).strip() : "";
                if (KEYS.contains(key) && !known.contains(key))
                {
                    overrides.put(key, kv.substring(eq + 1).strip());
                    i++;
                    continue;
                }
            }
            rest.add(args[i]);
        }
        return rest.toArray(new String[0]);
    }

    private static Object value(
        final SmtpdConfig config, final Map<String, String> overrides, final String key, final Object fallback)
    {
        if (overrides.containsKey(key))
        {
            return overrides.get(key);
        }
        final Object configured = config.get(key);
        return null == configured ? fallback : configured;
    }

    private static String oneOf(final String key, final String value, final String... allowed)
    {
        final String v = value.strip().toLowerCase(Locale.ROOT);
        for (final String a : allowed)
        {
            if (a.equals(v))
            {
                return v;
            }
        }
        throw new ConfigException(key + ": '" + value + "' is not one of " + String.join(", ", allowed));
    }

    private static long number(final String key, final Object value)
    {
        if (value instanceof Number)
        {
            return ((Number)value).longValue();
        }
        try
        {
            return Long.parseLong(String.valueOf(value).strip());
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException(key + ": '" + value + "' is not a whole number");
        }
    }

    static long durationMs(final String key, final Object value)
    {
        if (value instanceof Number)
        {
            return ((Number)value).longValue();
        }
        final String v = String.valueOf(value).strip().toLowerCase(Locale.ROOT);
        final Map<String, Long> units = new HashMap<>();
        units.put("ms", 1L);
        units.put("s", 1000L);
        units.put("m", 60_000L);
        units.put("h", 3_600_000L);
        final String unit = v.endsWith("ms") ? "ms" : v.isEmpty() ? "" : v.substring(v.length() - 1);
        if (!units.containsKey(unit))
        {
            throw new ConfigException(key + ": '" + value + "' needs a unit: ms, s, m or h");
        }
        try
        {
            final long n = Long.parseLong(v.substring(0, v.length() - unit.length()).strip());
            if (n < 0)
            {
                throw new ConfigException(key + ": '" + value + "' is negative");
            }
            return n * units.get(unit);
        }
        catch (final NumberFormatException ex)
        {
            throw new ConfigException(key + ": '" + value + "' is not a duration (e.g. 10s, 500ms)");
        }
    }

    /**
     * @return the rule file, or null for the embedded defaults.
     */
    public Path rules()
    {
        return rules;
    }

    /**
     * @return off or aeron (smtpd's side: whether to ask the filter at all).
     */
    public String mode()
    {
        return mode;
    }

    /**
     * @return tempfail or accept (smtpd's side: what to do when no verdict arrives in time).
     */
    public String failMode()
    {
        return failMode;
    }

    public long scanTimeoutMs()
    {
        return scanTimeoutMs;
    }

    public int workers()
    {
        return workers;
    }

    /**
     * @return jobs that may wait beyond those running: enough for every SMTP session of a busy host to have
     *         a message in the queue (a burst waits, bounded by the scan deadline, instead of getting 451 busy).
     */
    public int queueCapacity()
    {
        return Math.max(4096, workers * 256);
    }

    public Path spoolRoot()
    {
        return spoolRoot;
    }

    public String toString()
    {
        return "rules " + (null == rules ? "(embedded defaults)" : rules) + ", workers " + workers +
            ", scan-timeout " + scanTimeoutMs + "ms, spool " + spoolRoot;
    }
}
