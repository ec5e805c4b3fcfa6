/*
 * SUMMARY
 * The load generator's settings and their GNU-style command-line parser ("--name value" or "--name=value").
 * Every value is checked here, so a run never starts with a setting it cannot honour; a bad one throws
 * UsageException naming the flag.
 */
package mailgate.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Immutable settings of one load-generator run, made by {@link #parse(String...)}.
 */
public final class LoadOptions
{
    /** Command-line help, printed by --help and after a usage error. */
    public static final String USAGE =
        "usage: loadgen [options]\n" +
        "  --target HOST:PORT       SMTP server (default 127.0.0.1:2525)\n" +
        "  --connections N          concurrent sessions (default 20)\n" +
        "  --messages N             total messages, warm-up included (default 10000)\n" +
        "  --per-connection N       messages per connection before QUIT and reconnect (default 100)\n" +
        "  --size BYTES             generated message size (default 1024)\n" +
        "  --eml-dir DIR            send the .eml files in DIR round-robin instead of generated messages\n" +
        "  --recipients N           RCPT TO per message (default 1)\n" +
        "  --pipelining on|off      pipeline MAIL/RCPT/DATA when the server advertises PIPELINING (default on)\n" +
        "  --bdat on|off            use BDAT <n> LAST when the server advertises CHUNKING (default off)\n" +
        "  --rate MSGS_PER_S        open loop at a fixed rate, latency from intended start (default 0 = closed)\n" +
        "  --duration SECONDS       stop starting messages after this (default unlimited)\n" +
        "  --warmup SECONDS         do not record messages started in the first SECONDS (default 0)\n" +
        "  --warmup-messages N      do not record the first N messages (of --messages); in one JVM, so the\n" +
        "                           measured part runs with the client already compiled; prints\n" +
        "                           \"loadgen: warm-up over\" on stderr when it ends (also with --quiet)\n" +
        "  --timeout-ms N           per-reply timeout (default 30000)\n" +
        "  --from ADDR              envelope sender (default loadgen@example.test)\n" +
        "  --to ADDR                recipient (default sink@example.test); with --recipients > 1:\n" +
        "                           local+1@domain, local+2@domain, ...\n" +
        "  --helo NAME              EHLO/HELO name (default loadgen.example.test)\n" +
        "  --json                   print the summary as one JSON object\n" +
        "  --report DIR             write DIR/index.html with latency-percentile plots\n" +
        "  --quiet                  no progress lines on stderr\n" +
        "  --help                   this text\n";

    private String host = "127.0.0.1";
    private int port = 2525;
    private int connections = 20;
    private long messages = 10_000;
    private int perConnection = 100;
    private int size = 1024;
    private Path emlDir;
    private List<Path> emlFiles = List.of();
    private int recipients = 1;
    private boolean pipelining = true;
    private boolean bdat;
    private double rate;
    private double durationSeconds;
    private long warmupMessages;
    private double warmupSeconds;
    private boolean json;
    private Path reportDir;
    private long timeoutMs = 30_000;
    private String from = "loadgen@example.test";
    private String to = "sink@example.test";
    private String helo = "loadgen.example.test";
    private boolean quiet;
    private boolean help;

    private LoadOptions()
    {
    }

    /**
     * Parse a command line.
     *
     * @param args flags, GNU style: "--name value" or "--name=value".
     * @return the settings.
     * @throws UsageException naming the flag when a flag is unknown, lacks a value or has a bad one.
     */
    public static LoadOptions parse(final String... args)
    {
        final LoadOptions options = new LoadOptions();
        boolean sizeGiven = false;
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            if ("-h".equals(arg))
            {
                options.help = true;
                continue;
            }
            if (!arg.startsWith("--") || arg.length() == 2)
            {
                throw new UsageException("unexpected argument '" + arg + "' (flags look like --name value)");
            }
            final int eq = arg.indexOf('=');
            final String name = eq > 0 ? arg.substring(0, eq) : arg;
            String inlineValue = eq > 0 ? arg.substring(eq + 1) : null;

            switch (name)
            {
                case "--json":
                    options.json = noValue(name, inlineValue);
                    continue;
                case "--quiet":
                    options.quiet = noValue(name, inlineValue);
                    continue;
                case "--help":
                    options.help = noValue(name, inlineValue);
                    continue;
                default:
                    break;
            }

            if (null == inlineValue)
            {
                if (i + 1 >= args.length)
                {
                    throw new UsageException(name + " needs a value");
                }
                inlineValue = args[++i];
            }
            final String value = inlineValue;

            switch (name)
            {
                case "--target":
                    options.parseTarget(value);
                    break;
                case "--connections":
                    options.connections = (int)parseLong(name, value, 1, 1_000_000);
                    break;
                case "--messages":
                    options.messages = parseLong(name, value, 1, Long.MAX_VALUE / 4);
                    break;
                case "--per-connection":
                    options.perConnection = (int)parseLong(name, value, 1, Integer.MAX_VALUE);
                    break;
                case "--size":
                    options.size = (int)parseLong(name, value, 1, 1L << 30);
                    sizeGiven = true;
                    break;
                case "--eml-dir":
                    options.emlDir = Paths.get(value);
                    break;
                case "--recipients":
                    options.recipients = (int)parseLong(name, value, 1, 10_000);
                    break;
                case "--pipelining":
                    options.pipelining = parseOnOff(name, value);
                    break;
                case "--bdat":
                    options.bdat = parseOnOff(name, value);
                    break;
                case "--rate":
                    options.rate = parseDouble(name, value, 0, 1e9);
                    break;
                case "--duration":
                    options.durationSeconds = parseDouble(name, value, 0, 1e9);
                    break;
                case "--warmup":
                    options.warmupSeconds = parseDouble(name, value, 0, 1e9);
                    break;
                case "--warmup-messages":
                    options.warmupMessages = parseLong(name, value, 0, Long.MAX_VALUE);
                    break;
                case "--report":
                    options.reportDir = Paths.get(value);
                    break;
                case "--timeout-ms":
                    options.timeoutMs = parseLong(name, value, 1, 86_400_000L);
                    break;
                case "--from":
                    options.from = parseAddress(name, value);
                    break;
                case "--to":
                    options.to = parseAddress(name, value);
                    break;
                case "--helo":
                    options.helo = parseHelo(value);
                    break;
                default:
                    throw new UsageException("unknown flag " + name);
            }
        }

        if (null != options.emlDir)
        {
            if (sizeGiven)
            {
                throw new UsageException("--size and --eml-dir cannot be used together");
            }
            options.emlFiles = listEml(options.emlDir);
        }
        if (options.warmupMessages > 0 && options.warmupSeconds > 0)
        {
            throw new UsageException("--warmup and --warmup-messages cannot be used together");
        }
        if (options.warmupMessages >= options.messages)
        {
            throw new UsageException("--warmup-messages (" + options.warmupMessages +
                ") must be fewer than --messages (" +
                options.messages + "), or nothing would be recorded");
        }
        if (options.durationSeconds > 0 && options.warmupSeconds >= options.durationSeconds)
        {
            throw new UsageException("--warmup (" + options.warmupSeconds + " s) must be shorter than --duration (" +
                options.durationSeconds + " s), or nothing would be recorded");
        }
        return options;
    }

    /** @return server host name or address. */
    public String host()
    {
        return host;
    }

    /** @return server port. */
    public int port()
    {
        return port;
    }

    /** @return number of concurrent sessions. */
    public int connections()
    {
        return connections;
    }

    /** @return total messages to start, warm-up included. */
    public long messages()
    {
        return messages;
    }

    /** @return messages per connection before QUIT and reconnect. */
    public int perConnection()
    {
        return perConnection;
    }

    /** @return generated message size in bytes (ignored with --eml-dir). */
    public int size()
    {
        return size;
    }

    /** @return directory of .eml files, or null for generated messages. */
    public Path emlDir()
    {
        return emlDir;
    }

    /** @return the .eml files found in {@link #emlDir()}, sorted by name; empty for generated messages. */
    public List<Path> emlFiles()
    {
        return emlFiles;
    }

    /** @return RCPT TO commands per message. */
    public int recipients()
    {
        return recipients;
    }

    /** @return whether to pipeline when the server advertises PIPELINING. */
    public boolean pipelining()
    {
        return pipelining;
    }

    /** @return whether to use BDAT when the server advertises CHUNKING. */
    public boolean bdat()
    {
        return bdat;
    }

    /** @return open-loop rate in messages per second, 0 for closed loop. */
    public double rate()
    {
        return rate;
    }

    /** @return seconds after which no new message is started, 0 for unlimited. */
    public double durationSeconds()
    {
        return durationSeconds;
    }

    /** @return seconds at the start whose messages are not recorded. */
    public double warmupSeconds()
    {
        return warmupSeconds;
    }

    /** @return messages at the start that are not recorded (0: none, or a time-based warm-up). */
    public long warmupMessages()
    {
        return warmupMessages;
    }

    /** @return whether the summary is printed as JSON. */
    public boolean json()
    {
        return json;
    }

    /** @return directory for index.html, or null for no report. */
    public Path reportDir()
    {
        return reportDir;
    }

    /** @return per-reply timeout in milliseconds (also bounds connect + greeting). */
    public long timeoutMs()
    {
        return timeoutMs;
    }

    /** @return envelope sender. */
    public String from()
    {
        return from;
    }

    /** @return the base recipient address. */
    public String to()
    {
        return to;
    }

    /** @return the name sent with EHLO/HELO. */
    public String helo()
    {
        return helo;
    }

    /** @return whether progress lines are suppressed. */
    public boolean quiet()
    {
        return quiet;
    }

    /** @return whether --help was given. */
    public boolean help()
    {
        return help;
    }

    /**
     * The recipient addresses of each message: {@link #to()} alone, or local+1@domain ... local+N@domain.
     *
     * @return one address per RCPT TO.
     */
    public String[] recipientAddresses()
    {
        final String[] addresses = new String[recipients];
        if (1 == recipients)
        {
            addresses[0] = to;
            return addresses;
        }
        final int at = to.lastIndexOf('@');
        final String local = to.substring(0, at);
        final String domain = to.substring(at);
        for (int i = 0; i < recipients; i++)
        {
            addresses[i] = local + "+" + (i + 1) + domain;
        }
        return addresses;
    }

    /**
     * @return "host:port" as given, with brackets around an IPv6 literal.
     */
    public String target()
    {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    private void parseTarget(final String value)
    {
        final int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1)
        {
            throw new UsageException("--target must be HOST:PORT, got '" + value + "'");
        }
        String h = value.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]"))
        {
            h = h.substring(1, h.length() - 1);
        }
        else if (h.indexOf(':') >= 0)
        {
            throw new UsageException("--target: write an IPv6 address in brackets, e.g. [::1]:2525, got '" +
                value + "'");
        }
        if (h.isEmpty())
        {
            throw new UsageException("--target has an empty host: '" + value + "'");
        }
        host = h;
        port = (int)parseLong("--target port", value.substring(colon + 1), 1, 65535);
    }

    private static boolean noValue(final String name, final String inlineValue)
    {
        if (null != inlineValue)
        {
            throw new UsageException(name + " takes no value");
        }
        return true;
    }

    private static long parseLong(final String name, final String value, final long min, final long max)
    {
        final long parsed;
        try
        {
            parsed = Long.parseLong(value.trim().replace("_", ""));
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException(name + " must be an integer, got '" + value + "'");
        }
        if (parsed < min || parsed > max)
        {
            throw new UsageException(name + " must be between " + min + " and " + max + ", got " + parsed);
        }
        return parsed;
    }

    private static double parseDouble(final String name, final String value, final double min, final double max)
    {
        final double parsed;
        try
        {
            parsed = Double.parseDouble(value.trim());
        }
        catch (final NumberFormatException ex)
        {
            throw new UsageException(name + " must be a number, got '" + value + "'");
        }
        if (!(parsed >= min && parsed <= max))
        {
            throw new UsageException(name + " must be between " + min + " and " + max + ", got " + value);
        }
        return parsed;
    }

    private static boolean parseOnOff(final String name, final String value)
    {
        switch (value.toLowerCase(Locale.ROOT))
        {
            case "on":
            case "true":
            case "yes":
                return true;
            case "off":
            case "false":
            case "no":
                return false;
            default:
                throw new UsageException(name + " must be on or off, got '" + value + "'");
        }
    }

    private static String parseAddress(final String name, final String value)
    {
        final int at = value.lastIndexOf('@');
        if (at <= 0 || at == value.length() - 1)
        {
            throw new UsageException(name + " must be an address like user@example.test, got '" + value + "'");
        }
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            if (c <= ' ' || c >= 0x7f || c == '<' || c == '>')
            {
                throw new UsageException(name + " must be printable ASCII without spaces or <>, got '" + value + "'");
            }
        }
        return value;
    }

    private static String parseHelo(final String value)
    {
        if (value.isEmpty())
        {
            throw new UsageException("--helo must not be empty");
        }
        for (int i = 0; i < value.length(); i++)
        {
            final char c = value.charAt(i);
            if (c <= ' ' || c >= 0x7f)
            {
                throw new UsageException("--helo must be printable ASCII without spaces, got '" + value + "'");
            }
        }
        return value;
    }

    private static List<Path> listEml(final Path dir)
    {
        if (!Files.isDirectory(dir))
        {
            throw new UsageException("--eml-dir " + dir + " is not a directory");
        }
        final List<Path> files;
        try (Stream<Path> stream = Files.list(dir))
        {
            files = stream
                .filter((p) -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".eml"))
                .filter(Files::isRegularFile)
                .sorted()
                .collect(Collectors.toList());
        }
        catch (final IOException ex)
        {
            throw new UsageException("--eml-dir " + dir + " cannot be read: " + ex.getMessage());
        }
        if (files.isEmpty())
        {
            throw new UsageException("--eml-dir " + dir + " has no .eml files");
        }
        return List.copyOf(files);
    }
}
