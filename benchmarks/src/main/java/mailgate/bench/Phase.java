/*
 * SUMMARY
 * The latency phases the load generator records, one HdrHistogram (microseconds) each.
 */
package mailgate.bench;

/**
 * A measured step of an SMTP session; each has its own latency histogram in microseconds.
 */
public enum Phase
{
    /** TCP connect started until the 220 greeting arrived. */
    CONNECT("connect", "connect -> 220 greeting"),
    /** MAIL FROM sent (open loop: the message's intended start) until its reply. */
    MAIL("mail", "MAIL FROM -> reply"),
    /** RCPT TO sent until its reply, one sample per recipient. */
    RCPT("rcpt", "RCPT TO -> reply (each)"),
    /** Last byte of message data written (after "." or the BDAT chunk) until the final reply. */
    DATA("data", "end of data -> final reply"),
    /** Message start (open loop: intended start) until the final reply: what a sender waits in total. */
    MESSAGE("message", "message start -> final reply");

    private final String label;
    private final String description;

    Phase(final String label, final String description)
    {
        this.label = label;
        this.description = description;
    }

    /**
     * @return short lower-case name used in tables and JSON keys.
     */
    public String label()
    {
        return label;
    }

    /**
     * @return what is measured, in words.
     */
    public String description()
    {
        return description;
    }
}
