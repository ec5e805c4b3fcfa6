/*
 * SUMMARY
 * inspect errors: the media driver's distinct error log from its CnC file, as Aeron's ErrorStat prints it:
 * each distinct error once, with how often it was seen, first and last time, and its stack trace.
 *
 * DESCRIPTION
 * The driver records every error it handles (a client's bad channel URI, a log buffer it could not map, a
 * client that timed out) into an Agrona DistinctErrorLog inside cnc.dat; ErrorLogReader walks it.
 * With --spool DIR it also reads DIR/run/errors.dat when that file exists: a bare DistinctErrorLog buffer
 * for mailgate's own processes (none writes one yet; the section says so).
 * Works post-mortem: a driver killed with SIGKILL leaves cnc.dat and its error log behind.
 *
 * SECURITY
 * Maps the files read-only.
 *
 * LIMITS
 * The log has a fixed size; when it is full the driver stops recording new distinct errors (counts of
 * known ones still rise). The "Errors" system counter (inspect ipc) counts them all.
 */
package mailgate.tools;

import mailgate.ipc.ProcessLiveness;

import mailgate.ipc.IpcChannels;
import org.agrona.IoUtil;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.errors.ErrorLogReader;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The errors view of the inspection tool.
 */
public final class ErrorsInspector
{
    /** Name of mailgate's own error log under the spool's run directory, read when present. */
    static final String SPOOL_ERROR_FILE = "errors.dat";

    private final PrintStream out;
    private Path aeronDir = IpcChannels.defaultAeronDir();
    private Path spool;
    private boolean json;

    /** One distinct error. */
    static final class Observation
    {
        final int count;
        final long firstMs;
        final long lastMs;
        final String text;

        Observation(final int count, final long firstMs, final long lastMs, final String text)
        {
            this.count = count;
            this.firstMs = firstMs;
            this.lastMs = lastMs;
            this.text = text;
        }
    }

    private ErrorsInspector(final PrintStream out)
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
        final ErrorsInspector inspector = new ErrorsInspector(out);
        inspector.parse(args);
        return inspector.inspect();
    }

    private void parse(final List<String> args) throws InspectException
    {
        final Options options = new Options("errors", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            switch (Options.flag(arg))
            {
                case "--aeron-dir":
                    aeronDir = Path.of(options.value(arg));
                    break;
                case "--spool":
                    spool = Path.of(options.value(arg));
                    break;
                case "--json":
                    json = true;
                    break;
                default:
                    throw InspectException.usage("errors: unknown option '" + arg + "'");
            }
        }
    }

    /**
     * @param buffer a DistinctErrorLog buffer.
     * @return its distinct errors, in the order first seen.
     */
    static List<Observation> read(final AtomicBuffer buffer)
    {
        final List<Observation> observations = new ArrayList<>();
        ErrorLogReader.read(buffer, (count, firstMs, lastMs, text) ->
            observations.add(new Observation(count, firstMs, lastMs, text)));
        return observations;
    }

    private int inspect() throws InspectException
    {
        final long nowMs = System.currentTimeMillis();
        final StringBuilder sb = new StringBuilder(4096);
        try (CncFileReader reader = CncFileReader.open(aeronDir))
        {
            final List<Observation> driverErrors = read(reader.errorLog());
            final ProcessLiveness.State state = reader.processState();
            if (json)
            {
                sb.append('{');
                Json.key(sb, "file");
                Json.string(sb, reader.file().toString()).append(',');
                Json.key(sb, "timestampMs").append(nowMs).append(',');
                Json.key(sb, "driverPid").append(reader.pid()).append(',');
                Json.key(sb, "driverAlive").append(ProcessLiveness.State.ALIVE == state).append(',');
                Json.key(sb, "errorLogBytes").append(reader.errorLog().capacity()).append(',');
                Json.key(sb, "errors");
                jsonErrors(sb, driverErrors);
            }
            else
            {
                out.println(Instant.ofEpochMilli(nowMs) + " - media driver error log " + reader.file() + " (" +
                    reader.errorLog().capacity() + " bytes)");
                out.println("media driver pid " + reader.pid() + " " +
                    (ProcessLiveness.State.ALIVE == state ? "running" : "not running (log as last written)"));
                printErrors(driverErrors, nowMs);
            }
        }
        if (null != spool)
        {
            final Path file = spool.toAbsolutePath().normalize().resolve("run").resolve(SPOOL_ERROR_FILE);
            final List<Observation> spoolErrors = Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) ?
                readFile(file) : null;
            if (json)
            {
                sb.append(',');
                Json.key(sb, "spoolErrorFile");
                Json.string(sb, file.toString()).append(',');
                Json.key(sb, "spoolErrors");
                if (null == spoolErrors)
                {
                    sb.append("null");
                }
                else
                {
                    jsonErrors(sb, spoolErrors);
                }
            }
            else
            {
                out.println();
                if (null == spoolErrors)
                {
                    out.println("mailgate error log: none at " + file + " (mailgate's roles keep no distinct error" +
                        " log yet; their errors go to stderr and the maillog)");
                }
                else
                {
                    out.println("mailgate error log " + file);
                    printErrors(spoolErrors, nowMs);
                }
            }
        }
        if (json)
        {
            sb.append('}');
            out.println(sb);
        }
        return InspectMain.EXIT_OK;
    }

    private static List<Observation> readFile(final Path file) throws InspectException
    {
        final MappedByteBuffer mapped;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            if (channel.size() > Integer.MAX_VALUE)
            {
                throw InspectException.unreadable("error log too large: " + file);
            }
            mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
        }
        catch (final IOException ex)
        {
            throw InspectException.unreadable("cannot read " + file + ": " + ex);
        }
        try
        {
            return read(new UnsafeBuffer(mapped));
        }
        finally
        {
            IoUtil.unmap(mapped);
        }
    }

    private void printErrors(final List<Observation> observations, final long nowMs)
    {
        for (final Observation observation : observations)
        {
            out.println();
            out.println("***");
            out.println(String.format(Locale.ROOT, "%d observations from %s to %s (last %s ago) for:",
                observation.count, Instant.ofEpochMilli(observation.firstMs), Instant.ofEpochMilli(observation.lastMs),
                InspectMain.formatDuration(nowMs - observation.lastMs)));
            out.println(" " + observation.text.stripTrailing());
        }
        out.println();
        out.println(observations.size() + " distinct errors observed.");
    }

    private static void jsonErrors(final StringBuilder sb, final List<Observation> observations)
    {
        sb.append('[');
        for (int i = 0; i < observations.size(); i++)
        {
            final Observation observation = observations.get(i);
            if (i > 0)
            {
                sb.append(',');
            }
            sb.append('{');
            Json.key(sb, "count").append(observation.count).append(',');
            Json.key(sb, "firstMs").append(observation.firstMs).append(',');
            Json.key(sb, "lastMs").append(observation.lastMs).append(',');
            Json.key(sb, "text");
            Json.string(sb, observation.text);
            sb.append('}');
        }
        sb.append(']');
    }
}
