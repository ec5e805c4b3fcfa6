/*
 * SUMMARY
 * inspect serve: mailgate's counters as a Prometheus text endpoint (exposition format 0.0.4) on localhost.
 *
 * DESCRIPTION
 * "bin/mailgate inspect serve --listen 127.0.0.1:9465 [--spool DIR] [--aeron-dir DIR] [--allow-remote]"
 * runs a tiny com.sun.net.httpserver.HttpServer; each GET /metrics maps the files afresh, read-only, so
 * a daemon restart (new status file, new CnC) is simply seen on the next scrape:
 *  - every smtpd counter (StatusFile.find(DIR/run)) as mailgate_<label>_total{loop="N"} (gauges such as
 *    "connections active" without _total), plus mailgate_smtpd_up and the heartbeat age;
 *  - when the Aeron directory holds a cnc.dat: the router, filter and rate counters the roles register
 *    there (type ids 2100-2299; summed when several processes of a role run), a few driver system counters
 *    (errors, unblocked publications, client timeouts...), the lag of the slowest subscriber per stream,
 *    and mailgate_aeron_driver_up.
 * Off by default: nothing listens unless an operator runs this command.
 *
 * SECURITY
 * Binds to loopback only unless --allow-remote is given (the counters tell traffic volumes and rejection
 * rates, which are not for everybody). Read-only like every inspect view; answers GET and HEAD only, one
 * request at a time, on a single daemon thread.
 *
 * LIMITS
 * A scrape maps and unmaps the files (well under a millisecond); values are read one by one, not as an
 * atomic snapshot. No TLS, no authentication: put a proxy in front for remote scraping.
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.aeron.AeronCounters;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.ShutdownSignal;
import mailgate.reactor.status.SmtpdCounter;
import mailgate.reactor.status.StatusFile;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Serves mailgate's counters to Prometheus.
 */
public final class MetricsExporter implements AutoCloseable
{
    /** Where it listens when --listen is not given. */
    public static final String DEFAULT_LISTEN = "127.0.0.1:9465";
    /** Content type of the text exposition format. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private static final Pattern LOOP_LABEL = Pattern.compile("^(.*): loop (\\d+)$");

    /** Driver system counters exported: system counter id, metric name, counter or gauge. */
    private static final Object[][] SYSTEM_COUNTERS = {
        { AeronCounters.SYSTEM_COUNTER_ID_ERRORS, "mailgate_aeron_errors_total", "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_UNBLOCKED_PUBLICATIONS, "mailgate_aeron_unblocked_publications_total",
            "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_UNBLOCKED_COMMANDS, "mailgate_aeron_unblocked_commands_total", "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_CLIENT_TIMEOUTS, "mailgate_aeron_client_timeouts_total", "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_PROXY_FAILS, "mailgate_aeron_conductor_proxy_fails_total",
            "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED,
            "mailgate_aeron_conductor_cycle_time_threshold_exceeded_total", "counter" },
        { AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_MAX_CYCLE_TIME, "mailgate_aeron_conductor_max_cycle_time_nanoseconds",
            "gauge" },
        { AeronCounters.SYSTEM_COUNTER_ID_BYTES_CURRENTLY_MAPPED, "mailgate_aeron_bytes_currently_mapped", "gauge" },
    };

    private final HttpServer server;
    private final ExecutorService executor;
    private final Path spool;
    private final Path aeronDir;

    private MetricsExporter(final HttpServer server, final ExecutorService executor, final Path spool,
        final Path aeronDir)
    {
        this.server = server;
        this.executor = executor;
        this.spool = spool;
        this.aeronDir = aeronDir;
    }

    /**
     * Command-line entry ("bin/mailgate inspect serve" also lands here).
     *
     * @param args --listen HOST:PORT, --spool DIR, --aeron-dir DIR, --allow-remote.
     */
    public static void main(final String[] args)
    {
        System.exit(InspectMain.run(concat("serve", args), System.out, System.err));
    }

    private static String[] concat(final String first, final String[] rest)
    {
        final String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    /**
     * Serve until SIGTERM or SIGINT.
     *
     * @param args options after "serve".
     * @param out  where the listening address is announced.
     * @return exit status 0.
     * @throws InspectException on bad usage or when the address cannot be bound.
     */
    static int run(final List<String> args, final PrintStream out) throws InspectException
    {
        try (MetricsExporter exporter = start(args))
        {
            out.println("mailgate inspect serve: http://" + hostForUrl(exporter.address()) + "/metrics" +
                " (spool " + exporter.spool + ", aeron dir " + exporter.aeronDir + ")");
            out.flush();
            ShutdownSignal.await();
        }
        return InspectMain.EXIT_OK;
    }

    private static String hostForUrl(final InetSocketAddress address)
    {
        final String host = address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    /**
     * Parse the options and start listening (tests use this with port 0).
     *
     * @param args options after "serve".
     * @return the running exporter; close it to stop.
     * @throws InspectException on bad usage or when the address cannot be bound.
     */
    public static MetricsExporter start(final List<String> args) throws InspectException
    {
        String listen = DEFAULT_LISTEN;
        Path spool = Path.of(SpoolInspector.DEFAULT_SPOOL);
        Path aeronDir = IpcChannels.defaultAeronDir();
        boolean allowRemote = false;
        final Options options = new Options("serve", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            switch (Options.flag(arg))
            {
                case "--listen":
                    listen = options.value(arg);
                    break;
                case "--spool":
                    spool = Path.of(options.value(arg));
                    break;
                case "--aeron-dir":
                    aeronDir = Path.of(options.value(arg));
                    break;
                case "--allow-remote":
                    allowRemote = true;
                    break;
                default:
                    throw InspectException.usage("serve: unknown option '" + arg + "'");
            }
        }
        final InetSocketAddress address = parseListen(listen);
        if (!address.getAddress().isLoopbackAddress() && !allowRemote)
        {
            throw InspectException.usage("serve: refusing to listen on " + listen + ", which is not a loopback" +
                " address; add --allow-remote to expose the counters beyond this host");
        }
        final HttpServer server;
        try
        {
            server = HttpServer.create(address, 16);
        }
        catch (final IOException ex)
        {
            throw InspectException.unreadable("serve: cannot listen on " + listen + ": " + ex.getMessage());
        }
        final ExecutorService executor = Executors.newSingleThreadExecutor((runnable) ->
        {
            final Thread thread = new Thread(runnable, "mailgate-metrics");
            thread.setDaemon(true);
            return thread;
        });
        final MetricsExporter exporter = new MetricsExporter(
            server, executor, spool.toAbsolutePath().normalize(), aeronDir.toAbsolutePath().normalize());
        server.createContext("/", exporter::handle);
        server.setExecutor(executor);
        server.start();
        return exporter;
    }

    static InetSocketAddress parseListen(final String listen) throws InspectException
    {
        final int colon = listen.lastIndexOf(':');
        if (colon <= 0 || colon == listen.length() - 1)
        {
            throw InspectException.usage("serve: --listen wants HOST:PORT, not '" + listen + "'");
        }
        String host = listen.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        final int port;
        try
        {
            port = Integer.parseInt(listen.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw InspectException.usage("serve: bad port in --listen '" + listen + "'");
        }
        if (port < 0 || port > 65535)
        {
            throw InspectException.usage("serve: bad port in --listen '" + listen + "'");
        }
        try
        {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        }
        catch (final UnknownHostException ex)
        {
            throw InspectException.usage("serve: unknown host in --listen '" + listen + "'");
        }
    }

    /**
     * @return the bound address (its port when 0 was asked for).
     */
    public InetSocketAddress address()
    {
        return server.getAddress();
    }

    /**
     * Stop listening.
     */
    public void close()
    {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(final HttpExchange exchange) throws IOException
    {
        try (exchange)
        {
            final String method = exchange.getRequestMethod();
            final String path = exchange.getRequestURI().getPath();
            final byte[] body;
            final int status;
            if (!"GET".equals(method) && !"HEAD".equals(method))
            {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                status = 405;
                body = "method not allowed\n".getBytes(StandardCharsets.UTF_8);
            }
            else if ("/metrics".equals(path))
            {
                status = 200;
                body = scrape().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            }
            else if ("/".equals(path))
            {
                status = 200;
                body = "mailgate metrics exporter: GET /metrics\n".getBytes(StandardCharsets.UTF_8);
            }
            else
            {
                status = 404;
                body = "not found: try /metrics\n".getBytes(StandardCharsets.UTF_8);
            }
            if ("HEAD".equals(method))
            {
                exchange.sendResponseHeaders(status, -1);
            }
            else
            {
                exchange.sendResponseHeaders(status, body.length);
                try (OutputStream os = exchange.getResponseBody())
                {
                    os.write(body);
                }
            }
        }
    }

    /**
     * @return the current metrics in the text exposition format.
     */
    public String scrape()
    {
        final Families families = new Families();
        final List<String> notes = new ArrayList<>();
        scrapeStatusFile(families, notes);
        scrapeCnc(families, notes);
        final StringBuilder sb = new StringBuilder(8192);
        for (final String note : notes)
        {
            sb.append("# ").append(note.replace('\n', ' ')).append('\n');
        }
        families.appendTo(sb);
        return sb.toString();
    }

    private void scrapeStatusFile(final Families families, final List<String> notes)
    {
        final Path file = StatusFile.find(spool.resolve("run"));
        families.family("mailgate_smtpd_up", "gauge", "1 when the smtpd that writes " + file + " runs");
        if (!Files.exists(file))
        {
            families.sample("mailgate_smtpd_up", "", 0);
            notes.add("no status file at " + file);
            return;
        }
        try (StatusFileReader reader = StatusFileReader.open(file))
        {
            final long nowMs = System.currentTimeMillis();
            families.sample("mailgate_smtpd_up", "",
                ProcessLiveness.State.ALIVE == reader.processState() ? 1 : 0);
            families.family("mailgate_smtpd_heartbeat_age_seconds", "gauge",
                "seconds since the smtpd last bumped its status file heartbeat");
            families.sample("mailgate_smtpd_heartbeat_age_seconds", "", (nowMs - reader.heartbeatMs()) / 1000.0);
            reader.counters().forEach(
                (counterId, typeId, keyBuffer, label) ->
                {
                    final long value = reader.counters().getCounterValue(counterId);
                    final Matcher loop = LOOP_LABEL.matcher(label);
                    final SmtpdCounter descriptor = SmtpdCounter.of(typeId);
                    final String base = null != descriptor ? descriptor.label() :
                        loop.matches() ? loop.group(1) : label;
                    final boolean gauge = SmtpdCounter.CONNECTIONS_ACTIVE == descriptor;
                    final String name = "mailgate_" + snakeCase(base) + (gauge ? "" : "_total");
                    families.family(name, gauge ? "gauge" : "counter", base + " (smtpd counter " + typeId + ")");
                    families.sample(name, loop.matches() ? "loop=\"" + loop.group(2) + "\"" : "", value);
                });
        }
        catch (final InspectException | RuntimeException ex)
        {
            notes.add("status file: " + ex.getMessage());
        }
    }

    private void scrapeCnc(final Families families, final List<String> notes)
    {
        final Path cnc = CncFileReader.cncFile(aeronDir);
        families.family("mailgate_aeron_driver_up", "gauge", "1 when the media driver of " + cnc + " runs");
        if (!Files.exists(cnc))
        {
            families.sample("mailgate_aeron_driver_up", "", 0);
            notes.add("no media driver file at " + cnc);
            return;
        }
        try (CncFileReader reader = CncFileReader.open(aeronDir))
        {
            final long nowMs = System.currentTimeMillis();
            final IpcSnapshot snapshot = IpcSnapshot.read(reader, null);
            families.sample("mailgate_aeron_driver_up", "",
                ProcessLiveness.State.ALIVE == reader.processState() ? 1 : 0);
            families.family("mailgate_aeron_driver_heartbeat_age_seconds", "gauge",
                "seconds since the media driver's conductor last marked itself alive");
            families.sample("mailgate_aeron_driver_heartbeat_age_seconds", "",
                (nowMs - reader.driverHeartbeatMs()) / 1000.0);
            families.family("mailgate_aeron_clients", "gauge", "Aeron clients with a heartbeat counter");
            families.sample("mailgate_aeron_clients", "", snapshot.clients.size());
            for (final IpcSnapshot.Counter counter : snapshot.system)
            {
                for (final Object[] exported : SYSTEM_COUNTERS)
                {
                    if ((Integer)exported[0] == counter.key)
                    {
                        final String name = (String)exported[1];
                        families.family(name, (String)exported[2], "media driver: " + counter.label);
                        families.sample(name, "", counter.value);
                    }
                }
            }
            final Map<Integer, Long> lagByStream = new TreeMap<>();
            for (final IpcSnapshot.Publication publication : snapshot.publications)
            {
                if (publication.lag() >= 0)
                {
                    lagByStream.merge(publication.streamId, publication.lag(), Math::max);
                }
            }
            families.family("mailgate_ipc_lag_bytes", "gauge",
                "bytes the slowest subscriber is behind the publisher, worst publication per stream");
            for (final Map.Entry<Integer, Long> entry : lagByStream.entrySet())
            {
                families.sample("mailgate_ipc_lag_bytes", "stream=\"" + entry.getKey() + "\"", entry.getValue());
            }
            for (final IpcSnapshot.Counter counter : snapshot.mailgate)
            {
                final String role = IpcSnapshot.roleOfTypeId(counter.typeId);
                final String base = snakeCase(counter.label);
                final String name = "mailgate_" + (base.startsWith(role) ? base : role + "_" + base) + "_total";
                families.family(name, "counter", counter.label + " (" + role + " Aeron counter " + counter.typeId + ")");
                families.add(name, "", counter.value);
            }
        }
        catch (final InspectException | RuntimeException ex)
        {
            notes.add("media driver: " + ex.getMessage());
        }
    }

    /**
     * @param label a counter label.
     * @return it as a metric name part: lower case, runs of other characters as one '_', none at the ends.
     */
    static String snakeCase(final String label)
    {
        final StringBuilder sb = new StringBuilder(label.length());
        boolean underscore = false;
        for (int i = 0; i < label.length(); i++)
        {
            final char c = Character.toLowerCase(label.charAt(i));
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            {
                if (underscore && sb.length() > 0)
                {
                    sb.append('_');
                }
                underscore = false;
                sb.append(c);
            }
            else
            {
                underscore = true;
            }
        }
        return sb.toString();
    }

    /** Metric families in first-seen order, each with its HELP, TYPE and samples together. */
    private static final class Families
    {
        private final Map<String, String[]> headers = new LinkedHashMap<>();
        private final Map<String, Map<String, Double>> samples = new LinkedHashMap<>();

        void family(final String name, final String type, final String help)
        {
            if (!headers.containsKey(name))
            {
                headers.put(name, new String[]{ type, help });
                samples.put(name, new LinkedHashMap<>());
            }
        }

        void sample(final String name, final String labels, final double value)
        {
            samples.get(name).put(labels, value);
        }

        void add(final String name, final String labels, final double value)
        {
            samples.get(name).merge(labels, value, Double::sum);
        }

        void appendTo(final StringBuilder sb)
        {
            for (final Map.Entry<String, String[]> family : headers.entrySet())
            {
                final String name = family.getKey();
                sb.append("# HELP ").append(name).append(' ')
                    .append(family.getValue()[1].replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
                sb.append("# TYPE ").append(name).append(' ').append(family.getValue()[0]).append('\n');
                for (final Map.Entry<String, Double> sample : samples.get(name).entrySet())
                {
                    sb.append(name);
                    if (!sample.getKey().isEmpty())
                    {
                        sb.append('{').append(sample.getKey()).append('}');
                    }
                    sb.append(' ').append(format(sample.getValue())).append('\n');
                }
            }
        }

        private static String format(final double value)
        {
            if (value == Math.rint(value) && Math.abs(value) < 1e15)
            {
                return Long.toString((long)value);
            }
            return String.format(Locale.ROOT, "%.3f", value);
        }
    }
}
