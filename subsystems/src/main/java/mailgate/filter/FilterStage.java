package mailgate.filter;

/**
 * A user-supplied scanning stage, found with {@link java.util.ServiceLoader} (a jar on the filter's class path
 * with META-INF/services/mailgate.filter.FilterStage naming the class).
 * <p>
 * One instance serves every worker thread at once: keep per-message state in
 * {@link FilterMessage#attributes()}, not in fields. Each callback may return null (no opinion), an
 * ADD_HEADERS verdict (collected, scanning goes on) or a terminal verdict (scanning stops; the first one
 * wins). Stages run after the rule file's rules for the same event. An exception from a stage makes the
 * message TEMPFAIL (counted); a stage that runs past the scan deadline is interrupted like any scan.
 */
public interface FilterStage
{
    /**
     * @return name for logs and reasons.
     */
    default String name()
    {
        return getClass().getName();
    }

    /**
     * A header field of the message, of a MIME part, or of an attached message.
     *
     * @param message the message being scanned.
     * @param depth   0 for the message's own headers, more inside multiparts and attached messages.
     * @param name    field name as written.
     * @param value   unfolded field body (not RFC 2047-decoded).
     * @return null or a verdict.
     */
    default FilterVerdict onHeader(final FilterMessage message, final int depth, final String name, final String value)
    {
        return null;
    }

    /**
     * The headers of an entity (the message, a multipart, a leaf part or an attached message) are complete.
     *
     * @param message the message being scanned.
     * @param part    what is known of the entity.
     * @return null or a verdict.
     */
    default FilterVerdict onPart(final FilterMessage message, final FilterPart part)
    {
        return null;
    }

    /**
     * The whole message has been parsed without a terminal verdict.
     *
     * @param message the message.
     * @return null or a verdict.
     */
    default FilterVerdict onEnd(final FilterMessage message)
    {
        return null;
    }
}
