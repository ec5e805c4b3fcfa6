/*
 * SUMMARY
 * inspect ipc: what flows through the media driver, from its CnC file, in the shape of Aeron's AeronStat:
 * the driver (pid, heartbeat age), its clients (heartbeat age, pid and role where they can be told),
 * every publication (position, limit, window, lag of its slowest subscriber) and subscriber position,
 * the driver's error and back-pressure counters, and mailgate's own Aeron counters (router, filter, rate).
 *
 * DESCRIPTION
 * Lag is in bytes: publisher position less subscriber position of the same session and stream. The window
 * is the publisher limit less its position: at 0 the publisher is back-pressured (offer returns
 * BACK_PRESSURED) until the slowest subscriber moves on. --watch prints a frame every --interval ms and adds
 * each publication's throughput in bytes per second. name=REGEX keeps rows whose counter label matches.
 * Works the same on a driver killed with SIGKILL (post-mortem): cnc.dat keeps the last values written.
 *
 * SECURITY
 * Maps cnc.dat read-only (see CncFileReader); reads /proc/<pid>/maps and cmdline of our own processes.
 *
 * LIMITS
 * Counter values are read one by one, not atomically. The pid of a client is a best guess unless the
 * client names it (see IpcSnapshot).
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import io.aeron.AeronCounters;
import mailgate.ipc.IpcChannels;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The ipc view of the inspection tool.
 */
public final class IpcInspector
{
    /** Driver system counters shown in the table (all of them are in --json). */
    static final Set<Integer> KEY_SYSTEM_COUNTERS = Set.of(
        AeronCounters.SYSTEM_COUNTER_ID_ERRORS,
        AeronCounters.SYSTEM_COUNTER_ID_UNBLOCKED_PUBLICATIONS,
        AeronCounters.SYSTEM_COUNTER_ID_UNBLOCKED_COMMANDS,
        AeronCounters.SYSTEM_COUNTER_ID_CLIENT_TIMEOUTS,
        AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_PROXY_FAILS,
        AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_MAX_CYCLE_TIME,
        AeronCounters.SYSTEM_COUNTER_ID_CONDUCTOR_CYCLE_TIME_THRESHOLD_EXCEEDED,
        AeronCounters.SYSTEM_COUNTER_ID_FREE_FAILS,
        AeronCounters.SYSTEM_COUNTER_ID_BYTES_CURRENTLY_MAPPED);

    private final PrintStream out;
    private final ViewOptions view = new ViewOptions("ipc");
    private Path aeronDir = IpcChannels.defaultAeronDir();
    private IpcSnapshot previous;
    private String driverRole;

    private IpcInspector(final PrintStream out)
    {
        this.out = out;
    }

    /**
     * Run the view.
     *
     * @param args options after the view name.
     * @param out  where results go.
     * @return exit status 0.
     * @throws InspectException on bad usage or an unreadable CnC file.
     */
    public static int run(final List<String> args, final PrintStream out) throws InspectException
    {
        final IpcInspector inspector = new IpcInspector(out);
        inspector.parse(args);
        return inspector.inspect();
    }

    private void parse(final List<String> args) throws InspectException
    {
        final Options options = new Options("ipc", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            if (view.accept(arg, options))
            {
                continue;
            }
            switch (Options.flag(arg))
            {
                case "--aeron-dir":
                    aeronDir = Path.of(options.value(arg));
                    break;
                default:
                    throw InspectException.usage("ipc: unknown option '" + arg + "'");
            }
        }
        view.finish();
    }

    private int inspect() throws InspectException
    {
        if (!view.watch)
        {
            frame();
            return InspectMain.EXIT_OK;
        }
        WatchLoop.run(out, view.json, view.intervalMs, view.count, (frame) ->
        {
            try
            {
                frame();
            }
            catch (final InspectException ex)
            {
                if (0 == frame)
                {
                    throw ex;
                }
                previous = null;
                out.println(view.json ? "{\"error\":" + Json.string(new StringBuilder(), ex.getMessage()) + "}" :
                    Instant.now() + " - " + ex.getMessage());
            }
        });
        return InspectMain.EXIT_OK;
    }

    private void frame() throws InspectException
    {
        try (CncFileReader reader = CncFileReader.open(aeronDir))
        {
            final List<AttachedProcesses.Attached> attached = AttachedProcesses.scan(reader.file(), reader.pid());
            final IpcSnapshot snapshot = IpcSnapshot.read(reader, attached);
            driverRole = null;
            for (final AttachedProcesses.Attached process : attached)
            {
                if (process.pid == reader.pid())
                {
                    driverRole = null != process.role ? "mailgate " + process.role : process.command;
                }
            }
            final ProcessLiveness.State state = reader.processState();
            if (view.json)
            {
                printJson(reader, state, snapshot);
            }
            else
            {
                printText(reader, state, snapshot);
            }
            previous = snapshot;
        }
    }

    private boolean selected(final String label)
    {
        return view.selected(label);
    }

    private Double rate(final IpcSnapshot.Publication publication, final IpcSnapshot snapshot)
    {
        if (null == previous)
        {
            return null;
        }
        final double elapsedS = (snapshot.nanoTime - previous.nanoTime) / 1e9;
        for (final IpcSnapshot.Publication before : previous.publications)
        {
            if (before.registrationId == publication.registrationId && elapsedS > 0)
            {
                return (publication.position - before.position) / elapsedS;
            }
        }
        return null;
    }

    private static String state(final ProcessLiveness.State state)
    {
        switch (state)
        {
            case ALIVE:
                return "running";
            case REUSED:
                return "not running (the pid now belongs to another process; values as last written)";
            default:
                return "not running (values as last written)";
        }
    }

    private String processOf(final IpcSnapshot snapshot, final long clientId)
    {
        final IpcSnapshot.Client client = snapshot.client(clientId);
        if (null == client)
        {
            return Long.toString(clientId);
        }
        final StringBuilder sb = new StringBuilder().append(clientId);
        if (null != client.role || client.pid >= 0)
        {
            sb.append(" (");
            if (null != client.role)
            {
                sb.append(client.role);
            }
            if (client.pid >= 0)
            {
                sb.append(null != client.role ? " " : "").append("pid ").append(client.pid);
            }
            sb.append(')');
        }
        return sb.toString();
    }

    private void printText(
        final CncFileReader reader, final ProcessLiveness.State state, final IpcSnapshot snapshot)
    {
        final long nowMs = snapshot.timeMs;
        out.println(Instant.ofEpochMilli(nowMs) + " - mailgate ipc " + reader.file() + " (CnC " + reader.version() + ")");
        out.println("media driver pid " + reader.pid() + (null == driverRole ? "" : " (" + driverRole + ")") + " " +
            state(state) + ", started " +
            Instant.ofEpochMilli(reader.startTimeMs()) + " (" +
            InspectMain.formatDuration(nowMs - reader.startTimeMs()) + " ago), heartbeat " +
            InspectMain.formatDuration(nowMs - reader.driverHeartbeatMs()) + " ago, client timeout " +
            InspectMain.formatDuration(TimeUnit.NANOSECONDS.toMillis(reader.clientLivenessTimeoutNs())));

        out.println("======== clients (client-heartbeat counters)");
        out.println(String.format("%10s %14s %8s %-10s %-24s %s", "client id", "heartbeat age", "pid", "role",
            "pid from", "command"));
        for (final IpcSnapshot.Client client : snapshot.clients)
        {
            if (selected(client.label))
            {
                out.println(String.format("%10d %14s %8s %-10s %-24s %s", client.clientId,
                    InspectMain.formatDuration(nowMs - client.heartbeatMs), client.pid < 0 ? "?" : client.pid,
                    null == client.role ? "?" : client.role, null == client.pidSource ? "-" : client.pidSource,
                    null == client.command ? "" : client.command));
            }
        }

        out.println("======== publications (pub-pos, pub-lmt)");
        out.println(String.format("%6s %11s %6s %14s %14s %12s %4s %12s%s  %s  %s", "reg id", "session", "stream",
            "position", "limit", "window", "subs", "lag (bytes)", null == previous ? "" : "          B/s", "client",
            "channel"));
        for (final IpcSnapshot.Publication publication : snapshot.publications)
        {
            if (selected(publication.label))
            {
                final Double rate = rate(publication, snapshot);
                final long lag = publication.lag();
                out.println(String.format("%6d %11d %6d %,14d %,14d %,12d %4d %12s%s  %s  %s",
                    publication.registrationId, publication.sessionId, publication.streamId, publication.position,
                    publication.limit, publication.window(), publication.subscribers,
                    lag < 0 ? "-" : String.format("%,d", lag),
                    null == previous ? "" : String.format("%,13.0f", null == rate ? 0.0 : rate),
                    processOf(snapshot, publication.clientId), publication.channel) +
                    (publication.window() <= 0 && publication.position >= 0 ? "  BACK-PRESSURED" : ""));
            }
        }

        out.println("======== subscriptions (sub-pos, one per image)");
        out.println(String.format("%6s %11s %6s %14s %12s  %s  %s", "reg id", "session", "stream", "position",
            "lag (bytes)", "client", "channel"));
        for (final IpcSnapshot.Subscription subscription : snapshot.subscriptions)
        {
            if (selected(subscription.label))
            {
                out.println(String.format("%6d %11d %6d %,14d %12s  %s  %s", subscription.registrationId,
                    subscription.sessionId, subscription.streamId, subscription.position,
                    subscription.lag < 0 ? "-" : String.format("%,d", subscription.lag),
                    processOf(snapshot, subscription.clientId), subscription.channel));
            }
        }

        out.println("======== driver counters (all in --json)");
        for (final IpcSnapshot.Counter counter : snapshot.system)
        {
            if (KEY_SYSTEM_COUNTERS.contains(counter.key) && selected(counter.label))
            {
                out.println(String.format("%4d: %,20d - %s", counter.counterId, counter.value, counter.label));
            }
        }

        out.println("======== mailgate Aeron counters (router 2100-2149, filter 2150-2199, rate 2200-2299)");
        if (snapshot.mailgate.isEmpty())
        {
            out.println("(none registered)");
        }
        for (final IpcSnapshot.Counter counter : snapshot.mailgate)
        {
            if (selected(counter.label))
            {
                out.println(String.format("%4d: %,20d - %s [%s, client %s]", counter.counterId, counter.value,
                    counter.label, IpcSnapshot.roleOfTypeId(counter.typeId), processOf(snapshot, counter.ownerId)));
            }
        }
    }

    private void printJson(
        final CncFileReader reader, final ProcessLiveness.State state, final IpcSnapshot snapshot)
    {
        final long nowMs = snapshot.timeMs;
        final StringBuilder sb = new StringBuilder(8192);
        sb.append('{');
        Json.key(sb, "file");
        Json.string(sb, reader.file().toString()).append(',');
        Json.key(sb, "cncVersion");
        Json.string(sb, reader.version()).append(',');
        Json.key(sb, "timestampMs").append(nowMs).append(',');
        if (null != previous)
        {
            Json.key(sb, "elapsedMs").append(TimeUnit.NANOSECONDS.toMillis(snapshot.nanoTime - previous.nanoTime))
                .append(',');
        }
        Json.key(sb, "driver").append('{');
        Json.key(sb, "pid").append(reader.pid()).append(',');
        Json.key(sb, "command");
        Json.string(sb, driverRole).append(',');
        Json.key(sb, "alive").append(ProcessLiveness.State.ALIVE == state).append(',');
        Json.key(sb, "process");
        Json.string(sb, state.name().toLowerCase(Locale.ROOT)).append(',');
        Json.key(sb, "startTimeMs").append(reader.startTimeMs()).append(',');
        Json.key(sb, "heartbeatMs").append(reader.driverHeartbeatMs()).append(',');
        Json.key(sb, "heartbeatAgeMs").append(nowMs - reader.driverHeartbeatMs()).append(',');
        Json.key(sb, "clientLivenessTimeoutMs")
            .append(TimeUnit.NANOSECONDS.toMillis(reader.clientLivenessTimeoutNs()));
        sb.append("},");

        Json.key(sb, "clients").append('[');
        boolean first = true;
        for (final IpcSnapshot.Client client : snapshot.clients)
        {
            if (!selected(client.label))
            {
                continue;
            }
            first = comma(sb, first);
            sb.append('{');
            Json.key(sb, "clientId").append(client.clientId).append(',');
            Json.key(sb, "counterId").append(client.counterId).append(',');
            Json.key(sb, "heartbeatMs").append(client.heartbeatMs).append(',');
            Json.key(sb, "heartbeatAgeMs").append(nowMs - client.heartbeatMs).append(',');
            Json.key(sb, "name");
            Json.string(sb, client.name).append(',');
            Json.key(sb, "role");
            Json.string(sb, client.role).append(',');
            Json.key(sb, "pid").append(client.pid < 0 ? "null" : Long.toString(client.pid)).append(',');
            Json.key(sb, "pidSource");
            Json.string(sb, client.pidSource).append(',');
            Json.key(sb, "command");
            Json.string(sb, client.command).append(',');
            Json.key(sb, "label");
            Json.string(sb, client.label);
            sb.append('}');
        }
        sb.append("],");

        Json.key(sb, "publications").append('[');
        first = true;
        for (final IpcSnapshot.Publication publication : snapshot.publications)
        {
            if (!selected(publication.label))
            {
                continue;
            }
            first = comma(sb, first);
            sb.append('{');
            Json.key(sb, "registrationId").append(publication.registrationId).append(',');
            Json.key(sb, "sessionId").append(publication.sessionId).append(',');
            Json.key(sb, "streamId").append(publication.streamId).append(',');
            Json.key(sb, "channel");
            Json.string(sb, publication.channel).append(',');
            Json.key(sb, "position").append(publication.position).append(',');
            Json.key(sb, "limit").append(publication.limit).append(',');
            Json.key(sb, "window").append(publication.window()).append(',');
            Json.key(sb, "backPressured").append(publication.position >= 0 && publication.window() <= 0).append(',');
            Json.key(sb, "subscribers").append(publication.subscribers).append(',');
            Json.key(sb, "lag").append(publication.lag() < 0 ? "null" : Long.toString(publication.lag())).append(',');
            final Double rate = rate(publication, snapshot);
            if (null != rate)
            {
                Json.key(sb, "bytesPerSecond");
                Json.decimal(sb, rate).append(',');
            }
            client(sb, snapshot, publication.clientId);
            sb.append(',');
            Json.key(sb, "label");
            Json.string(sb, publication.label);
            sb.append('}');
        }
        sb.append("],");

        Json.key(sb, "subscriptions").append('[');
        first = true;
        for (final IpcSnapshot.Subscription subscription : snapshot.subscriptions)
        {
            if (!selected(subscription.label))
            {
                continue;
            }
            first = comma(sb, first);
            sb.append('{');
            Json.key(sb, "registrationId").append(subscription.registrationId).append(',');
            Json.key(sb, "counterId").append(subscription.counterId).append(',');
            Json.key(sb, "sessionId").append(subscription.sessionId).append(',');
            Json.key(sb, "streamId").append(subscription.streamId).append(',');
            Json.key(sb, "channel");
            Json.string(sb, subscription.channel).append(',');
            Json.key(sb, "position").append(subscription.position).append(',');
            Json.key(sb, "lag").append(subscription.lag < 0 ? "null" : Long.toString(subscription.lag)).append(',');
            client(sb, snapshot, subscription.clientId);
            sb.append(',');
            Json.key(sb, "label");
            Json.string(sb, subscription.label);
            sb.append('}');
        }
        sb.append("],");

        Json.key(sb, "system");
        counters(sb, snapshot, snapshot.system, false);
        sb.append(',');
        Json.key(sb, "mailgate");
        counters(sb, snapshot, snapshot.mailgate, true);
        sb.append('}');
        out.println(sb);
    }

    private void counters(
        final StringBuilder sb, final IpcSnapshot snapshot, final List<IpcSnapshot.Counter> counters,
        final boolean withOwner)
    {
        sb.append('[');
        boolean first = true;
        for (final IpcSnapshot.Counter counter : counters)
        {
            if (!selected(counter.label))
            {
                continue;
            }
            first = comma(sb, first);
            sb.append('{');
            Json.key(sb, "id").append(counter.counterId).append(',');
            Json.key(sb, "typeId").append(counter.typeId).append(',');
            if (withOwner)
            {
                Json.key(sb, "role");
                Json.string(sb, IpcSnapshot.roleOfTypeId(counter.typeId)).append(',');
                client(sb, snapshot, counter.ownerId);
                sb.append(',');
            }
            else
            {
                Json.key(sb, "systemId").append(counter.key).append(',');
            }
            Json.key(sb, "label");
            Json.string(sb, counter.label).append(',');
            Json.key(sb, "value").append(counter.value);
            sb.append('}');
        }
        sb.append(']');
    }

    private static void client(final StringBuilder sb, final IpcSnapshot snapshot, final long clientId)
    {
        Json.key(sb, "clientId").append(clientId).append(',');
        final IpcSnapshot.Client client = snapshot.client(clientId);
        Json.key(sb, "pid").append(null == client || client.pid < 0 ? "null" : Long.toString(client.pid));
    }

    private static boolean comma(final StringBuilder sb, final boolean first)
    {
        if (!first)
        {
            sb.append(',');
        }
        return false;
    }
}
