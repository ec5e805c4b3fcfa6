package mailgate.reactor.smtp;

/**
 * What to do with a line that ends in LF without CR, as Postfix 3.9's {@code smtpd_forbid_bare_newline}.
 * <p>
 * In both modes only CR LF . CR LF ends DATA, and a bare CR is never a line end, which closes every
 * SMTP-smuggling sequence (CVE-2023-51764 family): a message cannot end where a downstream server would
 * see an end that mailgate did not.
 */
public enum BareLfMode
{
    /** Treat a bare LF as CR LF (commands and message content); the stored message has CR LF. */
    NORMALIZE,
    /** Refuse a command (500 5.5.2) or a message (550 5.5.2) that contains a bare LF. */
    REJECT
}
