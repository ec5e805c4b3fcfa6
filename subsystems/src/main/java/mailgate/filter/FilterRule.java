package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;

import java.util.regex.Pattern;

/**
 * One line of the rule file: what it looks at, how it matches, and the verdict it gives.
 */
public final class FilterRule
{
    /** What a rule looks at. */
    public enum Kind
    {
        HEADER("header"),
        BODY("body"),
        ATTACHMENT_NAME("attachment-name"),
        CONTENT_TYPE("content-type"),
        PART_SIZE("part-size"),
        NESTING("nesting");

        private final String keyword;

        Kind(final String keyword)
        {
            this.keyword = keyword;
        }

        public String keyword()
        {
            return keyword;
        }
    }

    private final Kind kind;
    private final Pattern pattern;
    private final long threshold;
    private final FilterVerdict verdict;
    private final String source;
    private final String text;

    FilterRule(
        final Kind kind,
        final Pattern pattern,
        final long threshold,
        final FilterVerdict verdict,
        final String source,
        final String text)
    {
        this.kind = kind;
        this.pattern = pattern;
        this.threshold = threshold;
        this.verdict = verdict;
        this.source = source;
        this.text = text;
    }

    public Kind kind()
    {
        return kind;
    }

    /**
     * @return the regular expression, or null for part-size and nesting.
     */
    public Pattern pattern()
    {
        return pattern;
    }

    /**
     * @return the limit of part-size (octets) and nesting (levels); the rule fires when exceeded.
     */
    public long threshold()
    {
        return threshold;
    }

    public FilterAction action()
    {
        return verdict.action();
    }

    /**
     * @return the verdict this rule gives (its reason names the rule).
     */
    public FilterVerdict verdict()
    {
        return verdict;
    }

    /**
     * @return "file:line".
     */
    public String source()
    {
        return source;
    }

    public String toString()
    {
        return source + ": " + text;
    }
}
