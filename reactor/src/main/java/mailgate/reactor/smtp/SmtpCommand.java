package mailgate.reactor.smtp;

/**
 * The command table: each verb, and the name used in the disconnect statistics (as Postfix's
 * {@code smtpd_cmd_table}).
 */
public enum SmtpCommand
{
    HELO("helo"),
    EHLO("ehlo"),
    MAIL("mail"),
    RCPT("rcpt"),
    DATA("data"),
    BDAT("bdat"),
    RSET("rset"),
    NOOP("noop"),
    QUIT("quit"),
    VRFY("vrfy"),
    HELP("help"),
    EXPN("expn"),
    ETRN("etrn"),
    TURN("turn"),
    STARTTLS("starttls"),
    AUTH("auth"),
    UNKNOWN("unknown");

    static final SmtpCommand[] VALUES = values();

    private final String statName;

    SmtpCommand(final String statName)
    {
        this.statName = statName;
    }

    public String statName()
    {
        return statName;
    }

    /**
     * Find the command from the verb at the start of a line, ignoring case.
     *
     * @param buffer the line.
     * @param offset first byte.
     * @param end    end of the line.
     * @return the command, {@link #UNKNOWN} when none matches.
     */
    static SmtpCommand parse(final org.agrona.DirectBuffer buffer, final int offset, final int end)
    {
        int verbEnd = offset;
        while (verbEnd < end && ' ' != buffer.getByte(verbEnd))
        {
            verbEnd++;
        }
        final int length = verbEnd - offset;
        if (4 == length)
        {
            final int key = (Ascii.upper(buffer.getByte(offset)) << 24) | (Ascii.upper(buffer.getByte(offset + 1)) << 16) |
                (Ascii.upper(buffer.getByte(offset + 2)) << 8) | Ascii.upper(buffer.getByte(offset + 3));
            switch (key)
            {
                case 0x48454C4F: return HELO;
                case 0x45484C4F: return EHLO;
                case 0x4D41494C: return MAIL;
                case 0x52435054: return RCPT;
                case 0x44415441: return DATA;
                case 0x42444154: return BDAT;
                case 0x52534554: return RSET;
                case 0x4E4F4F50: return NOOP;
                case 0x51554954: return QUIT;
                case 0x56524659: return VRFY;
                case 0x48454C50: return HELP;
                case 0x4558504E: return EXPN;
                case 0x4554524E: return ETRN;
                case 0x5455524E: return TURN;
                case 0x41555448: return AUTH;
                default: return UNKNOWN;
            }
        }
        if (8 == length && 0 == Ascii.indexOfIgnoreCase(STARTTLS_NAME, buffer, offset, verbEnd))
        {
            return STARTTLS;
        }
        return UNKNOWN;
    }

    private static final String[] STARTTLS_NAME = {"STARTTLS"};
}
