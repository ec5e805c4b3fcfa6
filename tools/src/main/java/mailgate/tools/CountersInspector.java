/*
 * SUMMARY
 * inspect counters: the daemon's counters (StatusFile.find: on tmpfs, else <spool>/run/counters.dat), once or
 * every interval, in the shape of Aeron's AeronStat (pid, heartbeat age, "id: value - label", name=REGEX filters,
 * watch with delay).
 *
 * DESCRIPTION
 * Every counter is listed as allocated; then a summary sums counters by type id, which folds the per-loop
 * counters ("<label>: loop N") into one line per kind. With --watch each frame after the first adds a rate
 * per second: the change since the previous frame over the time actually elapsed between the two reads.
 * Gauges (connections active) get no rate. Works the same whether the daemon runs or died (post-mortem):
 * the file keeps the last values written; the header says whether its pid still runs.
 *
 * SECURITY
 * Maps the file read-only (see StatusFileReader); cannot disturb the daemon.
 *
 * LIMITS
 * Values are read one by one, not as an atomic snapshot, so sums can mix instants a few ns apart.
 * Liveness by pid is only meaningful in the daemon's pid namespace. The heartbeat is shown as written;
 * it only moves if the daemon's housekeeping bumps it.
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import mailgate.reactor.status.SmtpdCounter;
import mailgate.reactor.status.StatusFile;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The counters view of the inspection tool.
 */
public final class CountersInspector
{
    /** Delay between frames of --watch when --interval is not given. */
    public static final long DEFAULT_INTERVAL_MS = 1000;

    private static final Pattern LOOP_LABEL = Pattern.compile("^(.*): loop (\\d+)$");

    private final PrintStream out;
    private final ViewOptions view = new ViewOptions("counters");
    private Path spool = Path.of(SpoolInspector.DEFAULT_SPOOL);

    private CountersInspector(final PrintStream out)
    {
        this.out = out;
    }

    /**
     * Run the view.
     *
     * @param args options after the view name.
     * @param out  where results go.
     * @return exit status 0.
     * @throws InspectException on bad usage or an unreadable status file.
     */
    public static int run(final List<String> args, final PrintStream out) throws InspectException
    {
        final CountersInspector inspector = new CountersInspector(out);
        inspector.parse(args);
        return inspector.inspect();
    }

    private void parse(final List<String> args) throws InspectException
    {
        final Options options = new Options("counters", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            if (view.accept(arg, options))
            {
                continue;
            }
            switch (Options.flag(arg))
            {
                case "--spool":
                    spool = Path.of(options.value(arg));
                    break;
                default:
                    throw InspectException.usage("counters: unknown option '" + arg + "'");
            }
        }
        view.finish();
    }

    private int inspect() throws InspectException
    {
        final Path runDir = spool.toAbsolutePath().normalize().resolve("run");
        final StatusFileReader[] reader = {StatusFileReader.open(StatusFile.find(runDir))};
        try
        {
            if (!view.watch)
            {
                print(reader[0], sample(reader[0]), null, null);
                return InspectMain.EXIT_OK;
            }
            final Sample[] previous = {null};
            WatchLoop.run(out, view.json, view.intervalMs, view.count, (frame) ->
            {
                String note = null;
                if (frame > 0 && reader[0].isReplaced())
                {
                    reader[0].close();
                    reader[0] = null;
                    reader[0] = StatusFileReader.open(StatusFile.find(runDir));
                    previous[0] = null;
                    note = "status file replaced (daemon restarted): rates start again";
                }
                final Sample current = sample(reader[0]);
                print(reader[0], current, previous[0], note);
                previous[0] = current;
            });
            return InspectMain.EXIT_OK;
        }
        finally
        {
            if (null != reader[0])
            {
                reader[0].close();
            }
        }
    }

    private Sample sample(final StatusFileReader reader)
    {
        final Sample sample = new Sample(System.currentTimeMillis(), System.nanoTime(), reader.heartbeatMs(),
            reader.processState());
        reader.counters().forEach(
            (counterId, typeId, keyBuffer, label) ->
            {
                final long value = reader.counters().getCounterValue(counterId);
                sample.counters.add(new Row(counterId, typeId, label, value, 1, !LOOP_LABEL.matcher(label).matches()));
            });
        final Map<Integer, Row> byType = new TreeMap<>();
        for (final Row row : sample.counters)
        {
            final Row sum = byType.get(row.key);
            if (null == sum)
            {
                final SmtpdCounter descriptor = SmtpdCounter.of(row.key);
                final Matcher matcher = LOOP_LABEL.matcher(row.label);
                final String label = null != descriptor ? descriptor.label() :
                    matcher.matches() ? matcher.group(1) : row.label;
                byType.put(row.key, new Row(row.key, row.key, label, row.value, 1, row.processWide));
            }
            else
            {
                byType.put(row.key, new Row(row.key, row.key, sum.label, sum.value + row.value, sum.instances + 1,
                    sum.processWide && row.processWide));
            }
        }
        sample.summary.addAll(byType.values());
        return sample;
    }

    private boolean selected(final String label)
    {
        return view.selected(label);
    }

    private void print(final StatusFileReader reader, final Sample sample, final Sample previous, final String note)
    {
        final double elapsedS = null == previous ? 0 : (sample.nanoTime - previous.nanoTime) / 1e9;
        final Map<Integer, Long> previousValues = new HashMap<>();
        final Map<Integer, Long> previousSums = new HashMap<>();
        if (null != previous)
        {
            for (final Row row : previous.counters)
            {
                previousValues.put(row.id, row.value);
            }
            for (final Row row : previous.summary)
            {
                previousSums.put(row.id, row.value);
            }
        }
        if (view.json)
        {
            printJson(reader, sample, note, elapsedS, previousValues, previousSums);
        }
        else
        {
            printText(reader, sample, note, elapsedS, previousValues, previousSums);
        }
    }

    private void printText(
        final StatusFileReader reader, final Sample sample, final String note, final double elapsedS,
        final Map<Integer, Long> previousValues, final Map<Integer, Long> previousSums)
    {
        final boolean rates = elapsedS > 0;
        out.println(Instant.ofEpochMilli(sample.timeMs) + " - mailgate counters " + reader.file());
        final String state;
        switch (sample.processState)
        {
            case ALIVE:
                state = "running";
                break;
            case REUSED:
                state = "not running (the pid now belongs to another process; values as last written)";
                break;
            default:
                state = "not running (values as last written)";
                break;
        }
        out.println("pid " + reader.pid() + " " + state + ", started " + Instant.ofEpochMilli(reader.startTimeMs()) +
            " (" + InspectMain.formatDuration(sample.timeMs - reader.startTimeMs()) + " ago), heartbeat " +
            InspectMain.formatDuration(sample.timeMs - sample.heartbeatMs) + " ago");
        if (null != note)
        {
            out.println(note);
        }
        out.println("==========================");
        for (final Row row : sample.counters)
        {
            if (selected(row.label))
            {
                out.println(line(row, rates ? rate(row, previousValues.get(row.id), elapsedS) : null));
            }
        }
        out.println("-------- summary by type id, summed over event loops --------");
        for (final Row row : sample.summary)
        {
            if (selected(row.label))
            {
                final String label = row.processWide ? row.label : row.label + " [" + row.instances + " loops]";
                out.println(line(new Row(row.id, row.key, label, row.value, row.instances, row.processWide),
                    rates ? rate(row, previousSums.get(row.id), elapsedS) : null));
            }
        }
    }

    private static String line(final Row row, final Double rate)
    {
        if (null == rate)
        {
            return String.format("%4d: %,20d - %s", row.id, row.value, row.label);
        }
        return String.format("%4d: %,20d %,14.1f/s - %s", row.id, row.value, rate, row.label);
    }

    private void printJson(
        final StatusFileReader reader, final Sample sample, final String note, final double elapsedS,
        final Map<Integer, Long> previousValues, final Map<Integer, Long> previousSums)
    {
        final StringBuilder sb = new StringBuilder(4096);
        sb.append('{');
        Json.key(sb, "file");
        Json.string(sb, reader.file().toString()).append(',');
        Json.key(sb, "timestampMs").append(sample.timeMs).append(',');
        Json.key(sb, "pid").append(reader.pid()).append(',');
        Json.key(sb, "alive").append(ProcessLiveness.State.ALIVE == sample.processState).append(',');
        Json.key(sb, "process");
        Json.string(sb, sample.processState.name().toLowerCase(java.util.Locale.ROOT)).append(',');
        Json.key(sb, "startTimeMs").append(reader.startTimeMs()).append(',');
        Json.key(sb, "heartbeatMs").append(sample.heartbeatMs).append(',');
        Json.key(sb, "heartbeatAgeMs").append(sample.timeMs - sample.heartbeatMs).append(',');
        if (null != note)
        {
            Json.key(sb, "note");
            Json.string(sb, note).append(',');
        }
        if (elapsedS > 0)
        {
            Json.key(sb, "elapsedMs").append(Math.round(elapsedS * 1000)).append(',');
        }
        Json.key(sb, "counters");
        jsonRows(sb, sample.counters, previousValues, elapsedS, false);
        sb.append(',');
        Json.key(sb, "summary");
        jsonRows(sb, sample.summary, previousSums, elapsedS, true);
        sb.append('}');
        out.println(sb);
    }

    private void jsonRows(
        final StringBuilder sb, final List<Row> rows, final Map<Integer, Long> previous, final double elapsedS,
        final boolean summary)
    {
        sb.append('[');
        boolean first = true;
        for (final Row row : rows)
        {
            if (!selected(row.label))
            {
                continue;
            }
            if (!first)
            {
                sb.append(',');
            }
            first = false;
            sb.append('{');
            if (!summary)
            {
                Json.key(sb, "id").append(row.id).append(',');
            }
            Json.key(sb, "typeId").append(row.key).append(',');
            Json.key(sb, "label");
            Json.string(sb, row.label).append(',');
            Json.key(sb, "value").append(row.value);
            if (summary)
            {
                sb.append(',');
                Json.key(sb, "instances").append(row.instances);
            }
            final Double rate = elapsedS > 0 ? rate(row, previous.get(row.id), elapsedS) : null;
            if (null != rate)
            {
                sb.append(',');
                Json.key(sb, "ratePerSecond");
                Json.decimal(sb, rate);
            }
            sb.append('}');
        }
        sb.append(']');
    }

    private static Double rate(final Row row, final Long previousValue, final double elapsedS)
    {
        if (null == previousValue || SmtpdCounter.CONNECTIONS_ACTIVE.typeId() == row.key)
        {
            return null;
        }
        return (row.value - previousValue) / elapsedS;
    }

    /** One counter, or one sum by type id (then id and key are both the type id). */
    private static final class Row
    {
        final int id;
        final int key;
        final String label;
        final long value;
        final int instances;
        final boolean processWide;

        Row(final int id, final int key, final String label, final long value, final int instances,
            final boolean processWide)
        {
            this.id = id;
            this.key = key;
            this.label = label;
            this.value = value;
            this.instances = instances;
            this.processWide = processWide;
        }
    }

    private static final class Sample
    {
        final long timeMs;
        final long nanoTime;
        final long heartbeatMs;
        final ProcessLiveness.State processState;
        final List<Row> counters = new ArrayList<>();
        final List<Row> summary = new ArrayList<>();

        Sample(final long timeMs, final long nanoTime, final long heartbeatMs,
            final ProcessLiveness.State processState)
        {
            this.timeMs = timeMs;
            this.nanoTime = nanoTime;
            this.heartbeatMs = heartbeatMs;
            this.processState = processState;
        }
    }
}
