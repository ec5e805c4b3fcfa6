package mailgate.reactor.status;

/**
 * Every counter the SMTP daemon keeps, with a stable type id (the inspection tool keys on it) and label.
 * <p>
 * Type ids 2000-2999 are mailgate's reactor range, clear of Aeron's own (0-1999).
 */
public enum SmtpdCounter
{
    CONNECTIONS_ACCEPTED(2001, "connections accepted"),
    CONNECTIONS_REFUSED(2002, "connections refused by limit"),
    CONNECTIONS_ACTIVE(2003, "connections active"),
    COMMANDS(2004, "commands"),
    REPLIES_2XX(2005, "replies 2xx"),
    REPLIES_3XX(2006, "replies 3xx"),
    REPLIES_4XX(2007, "replies 4xx"),
    REPLIES_5XX(2008, "replies 5xx"),
    MESSAGES_QUEUED(2009, "messages queued"),
    MESSAGES_REFUSED(2010, "messages refused at end of data"),
    BYTES_RECEIVED(2011, "bytes received"),
    SPOOL_BYTES(2012, "spool bytes written"),
    TIMEOUTS(2013, "sessions timed out"),
    EARLY_TALKERS(2014, "early talkers"),
    BARE_LF(2015, "bare LF seen"),
    ERROR_LIMIT(2016, "sessions over the error limit"),
    POLICY_QUERIES(2017, "policy queries"),
    POLICY_TIMEOUTS(2018, "policy timeouts"),
    IPC_REQUESTS(2019, "ipc requests sent"),
    IPC_UNAVAILABLE(2020, "ipc requests refused: subsystem down or unproven"),
    IPC_OFFER_FAILURES(2021, "ipc offers failed (back pressure, not connected)"),
    IPC_REPLIES_DROPPED(2022, "ipc replies dropped (unproven session or stale)"),
    ACCEPT_FAILURES(2023, "accepts failed (out of file descriptors or buffers)"),
    IPC_RECONNECTS(2024, "ipc reconnects after a media driver restart"),
    SPOOL_FILES_SYNCED(2050, "spool files made durable"),
    SPOOL_SYNC_BATCHES(2051, "spool group commits"),
    SPOOL_SYNC_FAILURES(2052, "spool sync failures"),
    MAILLOG_DROPPED(2060, "maillog lines dropped");

    private final int typeId;
    private final String label;

    SmtpdCounter(final int typeId, final String label)
    {
        this.typeId = typeId;
        this.label = label;
    }

    public int typeId()
    {
        return typeId;
    }

    public String label()
    {
        return label;
    }

    /**
     * @param typeId a counter's type id.
     * @return the descriptor, or null when the id is not one of ours.
     */
    public static SmtpdCounter of(final int typeId)
    {
        for (final SmtpdCounter c : values())
        {
            if (c.typeId == typeId)
            {
                return c;
            }
        }
        return null;
    }
}
