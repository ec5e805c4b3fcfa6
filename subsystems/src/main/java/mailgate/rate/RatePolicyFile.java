/*
 * SUMMARY
 * Reads a rate policy file (format in docs/rate-limits.md) into a RatePolicy.
 *
 * DESCRIPTION
 * One directive per line; '#' starts a comment. Limits:
 *   DIMENSION SUBJECT LIMIT/WINDOW CODE X.Y.Z [TEXT]
 * e.g. "messages client-network 100/1m 450 4.7.1 Too many messages from your network". Also
 * "allow CIDR..." (never counted, never limited) and "network-prefix V4BITS V6BITS".
 *
 * DIAGNOSTICS
 * Any bad line stops the parse with ConfigException("file:line: reason"); a reload that fails keeps the old
 * policy.
 */
package mailgate.rate;

import mailgate.reactor.ConfigException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Parser for rate policy files.
 */
public final class RatePolicyFile
{
    private static final int MAX_TEXT = 400;

    private RatePolicyFile()
    {
    }

    /**
     * @param file the policy file.
     * @return the policy.
     * @throws ConfigException "file:line: reason" on a bad line, or when the file cannot be read.
     */
    public static RatePolicy load(final Path file)
    {
        final List<String> lines;
        try
        {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot read: " + ex.getMessage());
        }
        return parse(file.toString(), lines);
    }

    /**
     * @param name  the file name for messages.
     * @param lines its lines.
     * @return the policy.
     * @throws ConfigException "name:line: reason" on a bad line.
     */
    public static RatePolicy parse(final String name, final List<String> lines)
    {
        final RatePolicy.Builder builder = new RatePolicy.Builder();
        final IpLiteral ip = new IpLiteral();
        boolean prefixSeen = false;
        for (int i = 0; i < lines.size(); i++)
        {
            final String where = name + ":" + (i + 1);
            String line = lines.get(i);
            final int hash = line.indexOf('#');
            if (hash >= 0)
            {
                line = line.substring(0, hash);
            }
            line = line.strip();
            if (line.isEmpty())
            {
                continue;
            }
            final String[] words = line.split("\\s+");
            final String first = words[0].toLowerCase();
            if ("allow".equals(first))
            {
                if (words.length < 2)
                {
                    throw bad(where, "allow needs at least one address or network");
                }
                for (int w = 1; w < words.length; w++)
                {
                    parseAllow(builder, ip, words[w], where);
                }
            }
            else if ("network-prefix".equals(first))
            {
                if (prefixSeen)
                {
                    throw bad(where, "network-prefix given twice");
                }
                prefixSeen = true;
                if (words.length != 3)
                {
                    throw bad(where, "network-prefix needs two numbers: IPv4 bits and IPv6 bits, e.g. 24 64");
                }
                final int v4 = parseInt(words[1], 8, 32, "IPv4 prefix", where);
                final int v6 = parseInt(words[2], 16, 128, "IPv6 prefix", where);
                builder.networkPrefix(v4, v6);
            }
            else
            {
                builder.rule(parseRule(words, line, where));
            }
        }
        return builder.build();
    }

    private static RateRule parseRule(final String[] words, final String line, final String where)
    {
        final int dimension = RateDimension.parse(words[0].toLowerCase());
        if (dimension < 0)
        {
            throw bad(where, "unknown dimension or directive '" + words[0] + "' (expected connections, " +
                "messages, recipients, bytes, auth-failures, protocol-errors, rejected-recipients, allow or " +
                "network-prefix)");
        }
        if (words.length < 5)
        {
            throw bad(where, "expected DIMENSION SUBJECT LIMIT/WINDOW CODE X.Y.Z [TEXT]");
        }
        final int subject = Subject.parseType(words[1].toLowerCase());
        if (subject < 0)
        {
            throw bad(where, "unknown subject '" + words[1] + "' (expected client-ip, client-network, " +
                "sender-domain or user)");
        }
        if (!applies(dimension, subject))
        {
            throw bad(where, RateDimension.name(dimension) + " cannot be counted per " + Subject.typeName(subject) +
                " (not known when they happen)");
        }
        final String rate = words[2];
        final int slash = rate.indexOf('/');
        if (slash <= 0 || slash == rate.length() - 1)
        {
            throw bad(where, "bad rate '" + rate + "': expected LIMIT/WINDOW such as 100/1m");
        }
        final long limit = parseCount(rate.substring(0, slash), where);
        final long windowMs = parseWindow(rate.substring(slash + 1), where);
        final String code = words[3];
        if (code.length() != 3 || (code.charAt(0) != '4' && code.charAt(0) != '5') ||
            !Character.isDigit(code.charAt(1)) || !Character.isDigit(code.charAt(2)))
        {
            throw bad(where, "bad reply code '" + code + "': expected 4xx or 5xx");
        }
        final String enhanced = words[4];
        if (!enhanced.matches("[45]\\.\\d{1,3}\\.\\d{1,3}"))
        {
            throw bad(where, "bad enhanced status '" + enhanced + "': expected X.Y.Z such as 4.7.1");
        }
        if (enhanced.charAt(0) != code.charAt(0))
        {
            throw bad(where, "enhanced status " + enhanced + " does not match reply code " + code);
        }
        // the text is the rest of the line after the enhanced code, inner spacing kept
        final String[] six = line.split("\\s+", 6);
        String text = six.length == 6 ? six[5].strip() : "";
        if (text.isEmpty())
        {
            text = "Rate limit exceeded, try again later";
        }
        if (text.length() > MAX_TEXT)
        {
            throw bad(where, "reply text longer than " + MAX_TEXT + " characters");
        }
        for (int c = 0; c < text.length(); c++)
        {
            final char ch = text.charAt(c);
            if (ch < 0x20 || ch > 0x7E)
            {
                throw bad(where, "reply text must be printable ASCII");
            }
        }
        return new RateRule(dimension, subject, limit, windowMs, code + " " + enhanced + " " + text, where);
    }

    /**
     * @return whether a subject is known when a dimension's events happen.
     */
    static boolean applies(final int dimension, final int subject)
    {
        if (subject == Subject.CLIENT_IP || subject == Subject.CLIENT_NETWORK)
        {
            return true;
        }
        switch (dimension)
        {
            case RateDimension.MESSAGES:
            case RateDimension.RECIPIENTS:
            case RateDimension.BYTES:
                return true;
            case RateDimension.AUTH_FAILURES:
                return subject == Subject.USER;
            default:
                return false;
        }
    }

    private static void parseAllow(
        final RatePolicy.Builder builder, final IpLiteral ip, final String word, final String where)
    {
        final int slash = word.indexOf('/');
        final String address = slash < 0 ? word : word.substring(0, slash);
        if (!ip.parse(address))
        {
            throw bad(where, "bad address '" + address + "' in allow (literal IPv4 or IPv6 only)");
        }
        final int max = ip.isV4() ? 32 : 128;
        final int bits = slash < 0 ? max : parseInt(word.substring(slash + 1), 0, max, "prefix length", where);
        builder.allow(ip.high(), ip.low(), ip.isV4() ? 96 + bits : bits, word);
    }

    private static long parseCount(final String text, final String where)
    {
        long multiplier = 1;
        String digits = text;
        final char last = Character.toLowerCase(text.charAt(text.length() - 1));
        if (last == 'k' || last == 'm' || last == 'g')
        {
            multiplier = last == 'k' ? 1024L : last == 'm' ? 1024L * 1024 : 1024L * 1024 * 1024;
            digits = text.substring(0, text.length() - 1);
        }
        if (digits.isEmpty() || !digits.chars().allMatch(Character::isDigit) || digits.length() > 12)
        {
            throw bad(where, "bad limit '" + text + "': expected a whole number, optionally with K, M or G");
        }
        final long value = Long.parseLong(digits) * multiplier;
        if (value < 1)
        {
            throw bad(where, "limit must be at least 1 (to refuse everything, use the access tables)");
        }
        return value;
    }

    private static long parseWindow(final String text, final String where)
    {
        final char unit = Character.toLowerCase(text.charAt(text.length() - 1));
        final String digits = text.substring(0, text.length() - 1);
        final long unitMs = unit == 's' ? 1000L : unit == 'm' ? 60_000L : unit == 'h' ? 3_600_000L : -1;
        if (unitMs < 0 || digits.isEmpty() || !digits.chars().allMatch(Character::isDigit) || digits.length() > 5)
        {
            throw bad(where, "bad window '" + text + "': expected a number and s, m or h, such as 1m");
        }
        final long windowMs = Long.parseLong(digits) * unitMs;
        if (windowMs < 1000 || windowMs > SlotDescriptor.MAX_WINDOW_MS)
        {
            throw bad(where, "window " + text + " out of range: 1s .. 1h");
        }
        if (windowMs > 60_000 && windowMs % 60_000 != 0)
        {
            throw bad(where, "window " + text + ": windows above 60s are counted in whole minutes");
        }
        return windowMs;
    }

    private static int parseInt(final String text, final int min, final int max, final String what, final String where)
    {
        if (text.isEmpty() || text.length() > 3 || !text.chars().allMatch(Character::isDigit))
        {
            throw bad(where, "bad " + what + " '" + text + "'");
        }
        final int value = Integer.parseInt(text);
        if (value < min || value > max)
        {
            throw bad(where, what + " " + value + " out of range " + min + ".." + max);
        }
        return value;
    }

    private static ConfigException bad(final String where, final String reason)
    {
        return new ConfigException(where + ": " + reason);
    }
}
