package mailgate.tools;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The options every AeronStat-style view shares: name=REGEX filters, --json, --watch, --interval, --count.
 */
final class ViewOptions
{
    private final String view;
    private final List<Pattern> nameFilters = new ArrayList<>();
    boolean json;
    boolean watch;
    long intervalMs = -1;
    long count = -1;

    ViewOptions(final String view)
    {
        this.view = view;
    }

    /**
     * @param arg     the option just read.
     * @param options the rest, for option values.
     * @return true when the option was one of the shared ones (and is now applied).
     * @throws InspectException on a bad value.
     */
    boolean accept(final String arg, final Options options) throws InspectException
    {
        if (arg.startsWith("name="))
        {
            try
            {
                nameFilters.add(Pattern.compile(arg.substring("name=".length())));
            }
            catch (final PatternSyntaxException ex)
            {
                throw InspectException.usage(view + ": bad regex in '" + arg + "': " + ex.getDescription());
            }
            return true;
        }
        switch (Options.flag(arg))
        {
            case "--json":
                json = true;
                return true;
            case "--watch":
                watch = true;
                return true;
            case "--interval":
                intervalMs = options.longValue(arg, 1);
                return true;
            case "--count":
                count = options.longValue(arg, 1);
                return true;
            default:
                return false;
        }
    }

    /**
     * Check the combination and fill in defaults, after the last option.
     *
     * @throws InspectException when --interval or --count come without --watch.
     */
    void finish() throws InspectException
    {
        if (!watch && (intervalMs > 0 || count > 0))
        {
            throw InspectException.usage(view + ": --interval and --count go with --watch");
        }
        if (intervalMs < 0)
        {
            intervalMs = CountersInspector.DEFAULT_INTERVAL_MS;
        }
    }

    /**
     * @param label a counter or stream label.
     * @return true when no filter is given or one of them finds a match in the label.
     */
    boolean selected(final String label)
    {
        if (nameFilters.isEmpty())
        {
            return true;
        }
        for (final Pattern filter : nameFilters)
        {
            if (filter.matcher(label).find())
            {
                return true;
            }
        }
        return false;
    }
}
