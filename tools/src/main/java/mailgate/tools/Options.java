package mailgate.tools;

import java.util.List;

/**
 * Walks a view's command-line options: "--flag", "--flag value" and "--flag=value".
 */
final class Options
{
    private final String view;
    private final List<String> args;
    private int index;

    Options(final String view, final List<String> args)
    {
        this.view = view;
        this.args = args;
    }

    boolean hasNext()
    {
        return index < args.size();
    }

    String next()
    {
        return args.get(index++);
    }

    /**
     * @param arg an argument as given.
     * @return its flag part ("--spool" for "--spool=/x").
     */
    static String flag(final String arg)
    {
        final int equals = arg.indexOf('=');
        return arg.startsWith("--") && equals > 0 ? arg.substring(0, equals) : arg;
    }

    /**
     * @param arg the flag just returned by {@link #next()}.
     * @return its value, after '=' or the next argument.
     * @throws InspectException when there is none.
     */
    String value(final String arg) throws InspectException
    {
        final int equals = arg.indexOf('=');
        if (arg.startsWith("--") && equals > 0)
        {
            return arg.substring(equals + 1);
        }
        if (!hasNext())
        {
            throw InspectException.usage(view + ": " + arg + " needs a value");
        }
        return next();
    }

    /**
     * @param arg the flag just returned by {@link #next()}.
     * @param min smallest value allowed.
     * @return its value as a number.
     * @throws InspectException when missing, not a number or too small.
     */
    long longValue(final String arg, final long min) throws InspectException
    {
        final String value = value(arg);
        final long parsed;
        try
        {
            parsed = Long.parseLong(value);
        }
        catch (final NumberFormatException ex)
        {
            throw InspectException.usage(view + ": " + flag(arg) + " wants a number, not '" + value + "'");
        }
        if (parsed < min)
        {
            throw InspectException.usage(view + ": " + flag(arg) + " must be at least " + min);
        }
        return parsed;
    }
}
