/*
 * SUMMARY
 * The content filter's rule set and its parser (docs/filter.md): header, body, attachment-name and
 * content-type checks by regular expression, part-size and nesting limits, each with an action.
 *
 * DESCRIPTION
 * One rule per line; '#' at the start of a line (after blanks) is a comment. A bad line fails the whole
 * load with "file:line: reason", so a reload on SIGHUP keeps the old rules in force. Rules are immutable;
 * a reload swaps the whole set by reference, so a scan sees one set from start to end.
 *
 * LIMITS
 * At most 10000 rules; a pattern at most 4096 characters. Regular expressions are java.util.regex
 * (backtracking): a catastrophic pattern is stopped by the scan deadline, not by the parser.
 */
package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;
import mailgate.reactor.ConfigException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * An immutable, parsed rule file.
 */
public final class FilterRules
{
    /** The embedded rules, used when filter.rules is empty. They add nothing to accepted messages. */
    public static final String DEFAULT_RULES = String.join("\n",
        "# mailgate embedded default rules (filter.rules empty)",
        "attachment-name /\\.(exe|scr|bat|cmd|com|pif|js|vbs|jar)$/i " +
            "REJECT 554 5.7.1 executable attachments are not accepted",
        "content-type /^application\\/x-msdownload$/i REJECT 554 5.7.1 executable attachments are not accepted",
        "nesting > 20 REJECT 554 5.7.1 MIME nesting too deep",
        "");

    static final int MAX_RULES = 10_000;
    static final int MAX_PATTERN = 4096;

    private final String origin;
    private final FilterRule[] header;
    private final FilterRule[] body;
    private final FilterRule[] attachmentName;
    private final FilterRule[] contentType;
    private final FilterRule[] partSize;
    private final FilterRule[] nesting;
    private final int count;

    private FilterRules(final String origin, final List<FilterRule> rules)
    {
        this.origin = origin;
        this.header = of(rules, FilterRule.Kind.HEADER);
        this.body = of(rules, FilterRule.Kind.BODY);
        this.attachmentName = of(rules, FilterRule.Kind.ATTACHMENT_NAME);
        this.contentType = of(rules, FilterRule.Kind.CONTENT_TYPE);
        this.partSize = of(rules, FilterRule.Kind.PART_SIZE);
        this.nesting = of(rules, FilterRule.Kind.NESTING);
        this.count = rules.size();
    }

    /**
     * @return the embedded default rules.
     */
    public static FilterRules defaults()
    {
        return parse("(embedded defaults)", List.of(DEFAULT_RULES.split("\n")));
    }

    /**
     * @param file a rule file.
     * @return its rules.
     * @throws ConfigException "file:line: reason" for the first bad line, or when unreadable.
     */
    public static FilterRules load(final Path file)
    {
        try
        {
            if (Files.isSymbolicLink(file) && !Files.isRegularFile(file))
            {
                throw new ConfigException(file + ": dangling symbolic link");
            }
            return parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
        }
        catch (final NoSuchFileException ex)
        {
            throw new ConfigException(file + ": no such file");
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot read: " + ex.getMessage());
        }
    }

    /**
     * @param file a rule file.
     * @return its modification time in ms, or 0 when missing (for the reload watcher).
     */
    public static long lastModified(final Path file)
    {
        try
        {
            return Files.getLastModifiedTime(file).toMillis();
        }
        catch (final IOException ex)
        {
            return 0;
        }
    }

    /**
     * @param name  for messages ("file").
     * @param lines the lines.
     * @return the rules.
     * @throws ConfigException "name:line: reason".
     */
    public static FilterRules parse(final String name, final List<String> lines)
    {
        final List<FilterRule> rules = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++)
        {
            final String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#"))
            {
                continue;
            }
            final String where = name + ":" + (i + 1);
            try
            {
                rules.add(parseLine(line, where));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException(where + ": " + ex.getMessage());
            }
            if (rules.size() > MAX_RULES)
            {
                throw new ConfigException(where + ": more than " + MAX_RULES + " rules");
            }
        }
        return new FilterRules(name, rules);
    }

    static FilterRule parseLine(final String line, final String where)
    {
        final int space = indexOfBlank(line, 0);
        if (space < 0)
        {
            throw new IllegalArgumentException("expected 'KIND /regex/flags ACTION', found '" + line + "'");
        }
        final String keyword = line.substring(0, space).toLowerCase(Locale.ROOT);
        FilterRule.Kind kind = null;
        for (final FilterRule.Kind k : FilterRule.Kind.values())
        {
            if (k.keyword().equals(keyword))
            {
                kind = k;
            }
        }
        if (null == kind)
        {
            throw new IllegalArgumentException("unknown rule kind '" + keyword +
                "' (header, body, attachment-name, content-type, part-size, nesting)");
        }
        String rest = line.substring(space).strip();
        Pattern pattern = null;
        long threshold = 0;
        if (FilterRule.Kind.PART_SIZE == kind || FilterRule.Kind.NESTING == kind)
        {
            if (!rest.startsWith(">"))
            {
                throw new IllegalArgumentException(keyword + " needs '> LIMIT', found '" + rest + "'");
            }
            rest = rest.substring(1).strip();
            final int end = indexOfBlank(rest, 0);
            if (end < 0)
            {
                throw new IllegalArgumentException("missing action after the limit");
            }
            final String limit = rest.substring(0, end);
            threshold = FilterRule.Kind.PART_SIZE == kind ? size(limit) : levels(limit);
            rest = rest.substring(end).strip();
        }
        else
        {
            if (!rest.startsWith("/"))
            {
                throw new IllegalArgumentException("expected /regex/ after '" + keyword + "'");
            }
            int close = -1;
            for (int i = 1; i < rest.length(); i++)
            {
                final char c = rest.charAt(i);
                if ('\\' == c)
                {
                    i++;
                }
                else if ('/' == c)
                {
                    close = i;
                    break;
                }
            }
            if (close < 0)
            {
                throw new IllegalArgumentException("regular expression has no closing '/'");
            }
            final String regex = rest.substring(1, close);
            if (regex.isEmpty())
            {
                throw new IllegalArgumentException("empty regular expression");
            }
            if (regex.length() > MAX_PATTERN)
            {
                throw new IllegalArgumentException("regular expression longer than " + MAX_PATTERN);
            }
            int flagsEnd = close + 1;
            int flags = 0;
            while (flagsEnd < rest.length() && !Character.isWhitespace(rest.charAt(flagsEnd)))
            {
                final char f = rest.charAt(flagsEnd++);
                switch (f)
                {
                    case 'i':
                        flags |= Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;
                        break;
                    case 'm':
                        flags |= Pattern.MULTILINE;
                        break;
                    case 's':
                        flags |= Pattern.DOTALL;
                        break;
                    case 'x':
                        flags |= Pattern.COMMENTS;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown regex flag '" + f + "' (i, m, s, x)");
                }
            }
            try
            {
                pattern = Pattern.compile(regex, flags);
            }
            catch (final PatternSyntaxException ex)
            {
                throw new IllegalArgumentException("bad regular expression: " +
                    ex.getDescription() + " near index " + ex.getIndex());
            }
            rest = rest.substring(flagsEnd).strip();
        }
        final FilterVerdict verdict = action(rest, where + ": " + line);
        return new FilterRule(kind, pattern, threshold, verdict, where, line);
    }

    private static FilterVerdict action(final String text, final String reason)
    {
        if (text.isEmpty())
        {
            throw new IllegalArgumentException("missing action (REJECT, TEMPFAIL, DISCARD, QUARANTINE, " +
                "ADD-HEADER, ACCEPT)");
        }
        final int space = indexOfBlank(text, 0);
        final String word = (space < 0 ? text : text.substring(0, space)).toUpperCase(Locale.ROOT);
        final String argument = space < 0 ? "" : text.substring(space).strip();
        switch (word)
        {
            case "REJECT":
                return FilterVerdict.reject(argument, reason);
            case "TEMPFAIL":
                return FilterVerdict.tempfail(argument, reason);
            case "DISCARD":
                return FilterVerdict.discard(reason);
            case "QUARANTINE":
                return FilterVerdict.quarantine(reason);
            case "ACCEPT":
                return FilterVerdict.accept(reason);
            case "ADD-HEADER":
                if (argument.isEmpty())
                {
                    throw new IllegalArgumentException("ADD-HEADER needs 'Name: value'");
                }
                return FilterVerdict.addHeader(argument, reason);
            default:
                throw new IllegalArgumentException("unknown action '" + word +
                    "' (REJECT, TEMPFAIL, DISCARD, QUARANTINE, ADD-HEADER, ACCEPT)");
        }
    }

    static long size(final String value)
    {
        final String v = value.toLowerCase(Locale.ROOT);
        long multiplier = 1;
        String digits = v;
        if (v.endsWith("k") || v.endsWith("m") || v.endsWith("g"))
        {
            multiplier = v.endsWith("k") ? 1024L : v.endsWith("m") ? 1024L * 1024 : 1024L * 1024 * 1024;
            digits = v.substring(0, v.length() - 1);
        }
        try
        {
            final long parsed = Long.parseLong(digits);
            if (parsed < 0 || parsed > Long.MAX_VALUE / multiplier)
            {
                throw new IllegalArgumentException("size '" + value + "' out of range");
            }
            return parsed * multiplier;
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + value + "' is not a size (e.g. 500000, 64k, 10m, 1g)");
        }
    }

    static long levels(final String value)
    {
        try
        {
            final long parsed = Long.parseLong(value);
            if (parsed < 0 || parsed > MessageScanner.MAX_NESTING)
            {
                throw new IllegalArgumentException("nesting limit " + value + " is outside 0.." +
                    MessageScanner.MAX_NESTING + " (the scanner's hard limit)");
            }
            return parsed;
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("'" + value + "' is not a whole number");
        }
    }

    private static int indexOfBlank(final String s, final int from)
    {
        for (int i = from; i < s.length(); i++)
        {
            if (Character.isWhitespace(s.charAt(i)))
            {
                return i;
            }
        }
        return -1;
    }

    private static FilterRule[] of(final List<FilterRule> rules, final FilterRule.Kind kind)
    {
        return rules.stream().filter((r) -> r.kind() == kind).toArray(FilterRule[]::new);
    }

    FilterRule[] header()
    {
        return header;
    }

    FilterRule[] body()
    {
        return body;
    }

    FilterRule[] attachmentName()
    {
        return attachmentName;
    }

    FilterRule[] contentType()
    {
        return contentType;
    }

    FilterRule[] partSize()
    {
        return partSize;
    }

    FilterRule[] nesting()
    {
        return nesting;
    }

    /**
     * @return number of rules.
     */
    public int size()
    {
        return count;
    }

    public String origin()
    {
        return origin;
    }

    public String toString()
    {
        return count + " rules from " + origin;
    }
}
