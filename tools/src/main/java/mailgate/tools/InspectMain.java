/*
 * SUMMARY
 * mailgate inspect: a read-only look at a spool, the daemon's counters and the media driver, once or live.
 *
 * DESCRIPTION
 * One class per view; this one parses the view name and maps failures to exit statuses:
 *   0 all well, 1 something could not be read (the message names the path) or --verify found bad files,
 *   2 bad usage (unknown view or option).
 * Human-readable tables by default; --json prints one JSON object per line for scripts.
 *
 * SECURITY
 * Every view only reads: files are opened read-only and mappings are READ_ONLY, so an inspector can run
 * beside a live daemon and cannot corrupt it. It needs the daemon user's rights to read the 0700 spool.
 */
package mailgate.tools;

import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.List;

/**
 * Entry point of {@code mailgate inspect}: dispatches to {@link SpoolInspector}, {@link CountersInspector},
 * {@link IpcInspector}, {@link ErrorsInspector}, {@link RatesInspector} and {@link MetricsExporter}.
 */
public final class InspectMain
{
    /** Exit status: success. */
    public static final int EXIT_OK = 0;
    /** Exit status: a file could not be read, or verification found bad files. */
    public static final int EXIT_FAILURE = 1;
    /** Exit status: bad usage. */
    public static final int EXIT_USAGE = 2;

    static final String USAGE =
        "usage: mailgate inspect VIEW [options]\n" +
        "\n" +
        "A read-only look at a mailgate spool and the daemon's counters; safe beside a running daemon.\n" +
        "\n" +
        "views:\n" +
        "  spool     [--spool DIR] [--list] [--verify] [--json]\n" +
        "            messages and bytes in tmp/, queue/ (and quarantine/, failed/ if present), oldest queued age\n" +
        "            --list     one entry per queued message: id, size, arrival, sender, recipients\n" +
        "            --verify   check each queued file's envelope, size and CRC32C; exit 1 if any is bad\n" +
        "  counters  [--spool DIR] [--watch [--interval MS] [--count N]] [--json] [name=REGEX ...]\n" +
        "            counters of the smtpd with spool DIR (on tmpfs, else DIR/run/counters.dat): pid, whether it\n" +
        "            runs, heartbeat age, each counter, and sums by type over event loops; works after the daemon\n" +
        "            died (post-mortem, until a reboot empties /dev/shm)\n" +
        "            --watch    print every --interval ms (default 1000) with rates per second,\n" +
        "                       --count N frames (default: until interrupted)\n" +
        "            name=REGEX only counters whose label contains a match (several: any of them)\n" +
        "  ipc       [--aeron-dir DIR] [--watch [--interval MS] [--count N]] [--json] [name=REGEX ...]\n" +
        "            the media driver's CnC file: driver pid and heartbeat, clients (heartbeat age, pid, role),\n" +
        "            publications (position, limit, window, lag of the slowest subscriber in bytes),\n" +
        "            subscriber positions with lag, driver error/back-pressure/timeout counters, and the\n" +
        "            router/filter/rate Aeron counters; works after the driver was killed (post-mortem)\n" +
        "  errors    [--aeron-dir DIR] [--spool DIR] [--json]\n" +
        "            the media driver's distinct error log: count, first and last time, stack trace\n" +
        "            (--spool: also DIR/run/errors.dat when present)\n" +
        "  rates     [--config RATE_CONFIG | --map-file FILE [--max-nodes N]] [--window 1m|1h] [--top N]\n" +
        "            [--dimension NAME] [--subject IP|NET/BITS|NAME] [--peers] [--json]\n" +
        "            the rate tracker's counter file: top N (default 20) keys by total over --window\n" +
        "            (default 1m, at most 1h); domains and users are stored hashed (shown sha256:HEX)\n" +
        "            --subject  that subject's keys (a name is hashed to find it): per node, its total in\n" +
        "                       the window and its non-zero 1 s buckets\n" +
        "            --peers    replication health: lag bound, ring overflows, when each peer was last heard\n" +
        "  serve     [--listen HOST:PORT] [--spool DIR] [--aeron-dir DIR] [--allow-remote]\n" +
        "            Prometheus text endpoint GET /metrics (default 127.0.0.1:9465) with the counters of\n" +
        "            the status file and the CnC file; loopback only unless --allow-remote; runs until\n" +
        "            SIGTERM/SIGINT\n" +
        "\n" +
        "common options:\n" +
        "  --spool DIR      spool root (default ./var/spool)\n" +
        "  --aeron-dir DIR  Aeron directory of the media driver (default /dev/shm/mailgate-$USER/aeron)\n" +
        "  --json           one JSON object per line instead of tables\n" +
        "  -h, --help       this text\n" +
        "\n" +
        "exit status: 0 ok, 1 unreadable file or bad queued files (--verify), 2 bad usage\n";

    private InspectMain()
    {
    }

    /**
     * Command-line entry.
     *
     * @param args view and options.
     */
    public static void main(final String[] args)
    {
        final int status = run(args, System.out, System.err);
        System.out.flush();
        System.exit(status);
    }

    /**
     * Run one view in-process (tests call this directly).
     *
     * @param args view and options.
     * @param out  where results go.
     * @param err  where diagnostics go.
     * @return exit status.
     */
    public static int run(final String[] args, final PrintStream out, final PrintStream err)
    {
        if (0 == args.length)
        {
            err.print(USAGE);
            return EXIT_USAGE;
        }
        final String view = args[0];
        final List<String> options = Arrays.asList(args).subList(1, args.length);
        if (options.contains("-h") || options.contains("--help"))
        {
            out.print(USAGE);
            return EXIT_OK;
        }
        try
        {
            switch (view)
            {
                case "-h":
                case "--help":
                case "help":
                    out.print(USAGE);
                    return EXIT_OK;
                case "spool":
                    return SpoolInspector.run(options, out);
                case "counters":
                    return CountersInspector.run(options, out);
                case "ipc":
                    return IpcInspector.run(options, out);
                case "errors":
                    return ErrorsInspector.run(options, out);
                case "serve":
                    return MetricsExporter.run(options, out);
                case "rates":
                    return RatesInspector.run(options, out);
                default:
                    throw InspectException.usage(
                        "unknown view '" + view + "' (spool, counters, ipc, errors, serve, rates)");
            }
        }
        catch (final InspectException ex)
        {
            err.println("mailgate inspect: " + ex.getMessage());
            if (EXIT_USAGE == ex.exitStatus())
            {
                err.println("try 'mailgate inspect --help'");
            }
            return ex.exitStatus();
        }
        catch (final UncheckedIOException ex)
        {
            err.println("mailgate inspect: " + ex.getMessage());
            return EXIT_FAILURE;
        }
        finally
        {
            out.flush();
        }
    }

    /**
     * @param ms a duration.
     * @return it in the two largest units: "850ms", "12.3s", "5m 2s", "3h 7m", "2d 4h".
     */
    static String formatDuration(final long ms)
    {
        if (ms < 0)
        {
            return "-" + formatDuration(-ms);
        }
        if (ms < 1000)
        {
            return ms + "ms";
        }
        final long s = ms / 1000;
        if (s < 60)
        {
            return String.format(java.util.Locale.ROOT, "%.1fs", ms / 1000.0);
        }
        if (s < 3600)
        {
            return (s / 60) + "m " + (s % 60) + "s";
        }
        if (s < 86400)
        {
            return (s / 3600) + "h " + ((s % 3600) / 60) + "m";
        }
        return (s / 86400) + "d " + ((s % 86400) / 3600) + "h";
    }
}
