package mailgate.rate;

/**
 * The things the rate tracker counts, as small int codes (the first byte of a counter key; stable on disk and wire).
 */
public final class RateDimension
{
    /** Connections opened (counted at connect). */
    public static final int CONNECTIONS = 1;
    /** Messages, i.e. MAIL FROM commands (counted at MAIL). */
    public static final int MESSAGES = 2;
    /** Recipients, i.e. RCPT TO commands (counted at RCPT). */
    public static final int RECIPIENTS = 3;
    /** Message bytes (counted at end of data). */
    public static final int BYTES = 4;
    /** Failed AUTH attempts. */
    public static final int AUTH_FAILURES = 5;
    /** Protocol errors (bad commands, bad sequence, syntax). */
    public static final int PROTOCOL_ERRORS = 6;
    /** Recipients refused (unknown user and the like). */
    public static final int REJECTED_RECIPIENTS = 7;
    /** One above the highest code. */
    public static final int LIMIT = 8;

    private static final String[] NAMES =
    {
        null, "connections", "messages", "recipients", "bytes", "auth-failures", "protocol-errors",
        "rejected-recipients"
    };

    private RateDimension()
    {
    }

    /**
     * @param dimension a code.
     * @return its name in the policy file, e.g. "connections".
     */
    public static String name(final int dimension)
    {
        return dimension > 0 && dimension < LIMIT ? NAMES[dimension] : "dimension-" + dimension;
    }

    /**
     * @param name a policy-file name such as "messages".
     * @return the code, or -1 when unknown.
     */
    public static int parse(final String name)
    {
        for (int i = 1; i < LIMIT; i++)
        {
            if (NAMES[i].equals(name))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * @param dimension a code.
     * @return true when it is a valid code.
     */
    public static boolean isValid(final int dimension)
    {
        return dimension > 0 && dimension < LIMIT;
    }
}
