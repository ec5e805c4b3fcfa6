/*
 * SUMMARY
 * End-to-end SMTP load generator: drives any SMTP server at --target with --connections concurrent sessions from
 * one NIO thread, closed loop (as fast as replies allow) or open loop (--rate, latency from the intended start so
 * that coordinated omission does not hide stalls). Prints a progress line per second to stderr and a summary (table
 * or --json) to stdout; --report DIR writes DIR/index.html with latency-percentile plots. See LoadOptions.USAGE.
 *
 * EXIT CODES
 * 0 the run happened and at least one message was accepted; 1 no message was accepted (or the run could not start);
 * 2 bad flags.
 *
 * In-process use (tests): LoadGenerator.run(LoadOptions.parse(...)) returns a LoadResult.
 */
package mailgate.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Command-line entry point and in-process API of the SMTP load generator.
 */
public final class LoadGenerator
{
    /** Exit code of a run that accepted at least one message. */
    public static final int EXIT_OK = 0;
    /** Exit code when no message was accepted or the run could not start. */
    public static final int EXIT_NOTHING_ACCEPTED = 1;
    /** Exit code for bad flags. */
    public static final int EXIT_USAGE = 2;

    private LoadGenerator()
    {
    }

    /**
     * Command-line entry point; exits with {@link #execute(String[], PrintStream, PrintStream)}'s code.
     *
     * @param args flags, see {@link LoadOptions#USAGE}.
     */
    public static void main(final String[] args)
    {
        System.exit(execute(args, System.out, System.err));
    }

    /**
     * Parse flags, run, print the summary and write the report, without exiting the JVM.
     *
     * @param args flags.
     * @param out  receives the summary.
     * @param err  receives progress, notes, errors and usage messages.
     * @return the exit code: 0, 1 or 2.
     */
    public static int execute(final String[] args, final PrintStream out, final PrintStream err)
    {
        final LoadOptions options;
        try
        {
            options = LoadOptions.parse(args);
        }
        catch (final UsageException ex)
        {
            err.println("loadgen: " + ex.getMessage());
            err.println("loadgen: try --help");
            return EXIT_USAGE;
        }
        if (options.help())
        {
            out.print(LoadOptions.USAGE);
            return EXIT_OK;
        }

        final LoadResult result;
        try
        {
            result = run(options, err);
        }
        catch (final IOException ex)
        {
            err.println("loadgen: " + ex.getMessage());
            return EXIT_NOTHING_ACCEPTED;
        }

        out.println(options.json() ? result.toJson() : result.toTable());
        out.flush();
        if (null != options.reportDir())
        {
            try
            {
                final Path file = HtmlReport.write(options.reportDir(), result,
                    "loadgen " + String.join(" ", args));
                err.println("loadgen: report written to " + file);
            }
            catch (final IOException ex)
            {
                err.println("loadgen: cannot write report to " + options.reportDir() + ": " + ex.getMessage());
                return EXIT_NOTHING_ACCEPTED;
            }
        }
        return result.accepted() > 0 ? EXIT_OK : EXIT_NOTHING_ACCEPTED;
    }

    /**
     * Run a load test on the calling thread; progress lines go to stderr unless --quiet.
     *
     * @param options settings, from {@link LoadOptions#parse(String...)}.
     * @return what was measured.
     * @throws IOException when the run cannot start (unknown host, no selector, unreadable .eml file).
     */
    public static LoadResult run(final LoadOptions options) throws IOException
    {
        return run(options, System.err);
    }

    /**
     * Run a load test on the calling thread.
     *
     * @param options settings, from {@link LoadOptions#parse(String...)}.
     * @param log     receives progress lines (unless --quiet), notes and the first errors.
     * @return what was measured.
     * @throws IOException when the run cannot start (unknown host, no selector, unreadable .eml file).
     */
    public static LoadResult run(final LoadOptions options, final PrintStream log) throws IOException
    {
        final MessageSource source = options.emlFiles().isEmpty() ?
            MessageSource.generated(options.size(), options.from(), options.recipientAddresses(), options.helo()) :
            MessageSource.eml(options.emlFiles());
        return new LoadRun(options, source, log).execute();
    }
}
