package mailgate.rate;

import java.nio.charset.StandardCharsets;

/**
 * One limit from the policy file: at most {@code limit} of a dimension per subject per window, else a reply.
 */
public final class RateRule
{
    private final int dimension;
    private final int subjectType;
    private final long limit;
    private final long windowMs;
    private final byte[] reply;
    private final String where;

    /**
     * @param dimension   a {@link RateDimension} code.
     * @param subjectType a {@link Subject} type.
     * @param limit       events allowed per window (the next one is refused).
     * @param windowMs    the sliding window, 1 s .. 1 h.
     * @param replyLine   the SMTP reply without CRLF, e.g. "450 4.7.1 Too many messages".
     * @param where       "file:line" it came from.
     */
    public RateRule(
        final int dimension,
        final int subjectType,
        final long limit,
        final long windowMs,
        final String replyLine,
        final String where)
    {
        this.dimension = dimension;
        this.subjectType = subjectType;
        this.limit = limit;
        this.windowMs = windowMs;
        this.reply = (replyLine + "\r\n").getBytes(StandardCharsets.US_ASCII);
        this.where = where;
    }

    /**
     * @return the dimension code.
     */
    public int dimension()
    {
        return dimension;
    }

    /**
     * @return the subject type.
     */
    public int subjectType()
    {
        return subjectType;
    }

    /**
     * @return events allowed per window.
     */
    public long limit()
    {
        return limit;
    }

    /**
     * @return the window in milliseconds.
     */
    public long windowMs()
    {
        return windowMs;
    }

    /**
     * @return the complete reply line with CRLF; shared, do not modify.
     */
    public byte[] reply()
    {
        return reply;
    }

    /**
     * @return "file:line" of the rule.
     */
    public String where()
    {
        return where;
    }

    public String toString()
    {
        return RateDimension.name(dimension) + " " + Subject.typeName(subjectType) + " " + limit + "/" +
            (windowMs / 1000) + "s -> " + new String(reply, 0, reply.length - 2, StandardCharsets.US_ASCII) +
            " (" + where + ")";
    }
}
