/*
 * SUMMARY
 * The router's lookup tables, read from plain text files in one directory (docs/router.md):
 *
 *   local-domains    one domain per line: mail for these is delivered here
 *   recipients       one address per line (user@domain); "@domain" accepts any user of that domain
 *   aliases          "address target": RCPT TO address is rewritten to target
 *   relay-networks   client networks (CIDR) allowed to send to any domain
 *   sender-access    "key action [text]": key is an address, a domain, or a CIDR network;
 *                    action is OK, REJECT, or a reply code with enhanced status ("550 5.7.1")
 *
 * DESCRIPTION
 * '#' starts a comment; blank lines are ignored; a missing file is an empty table. Lookups ignore case.
 * An instance is immutable, so a reload builds a new one and swaps it in without stopping requests.
 *
 * DIAGNOSTICS
 * A bad line is reported as "file:line: reason"; the caller keeps the tables it had.
 */
package mailgate.router;

import mailgate.reactor.ConfigException;
import mailgate.reactor.net.NetworkList;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * An immutable snapshot of the router's tables.
 */
public final class RouterTables
{
    /** What sender-access says about a key. */
    public static final class Access
    {
        final boolean ok;
        final String reply;

        Access(final boolean ok, final String reply)
        {
            this.ok = ok;
            this.reply = reply;
        }
    }

    final Set<String> localDomains;
    final Set<String> recipients;
    final Set<String> catchAllDomains;
    final Map<String, String> aliases;
    final NetworkList relayNetworks;
    final Map<String, Access> senderAccess;
    final List<NetworkList> senderNetworks;
    final List<Access> senderNetworkAccess;
    final String source;

    private RouterTables(
        final Set<String> localDomains,
        final Set<String> recipients,
        final Set<String> catchAllDomains,
        final Map<String, String> aliases,
        final NetworkList relayNetworks,
        final Map<String, Access> senderAccess,
        final List<NetworkList> senderNetworks,
        final List<Access> senderNetworkAccess,
        final String source)
    {
        this.localDomains = localDomains;
        this.recipients = recipients;
        this.catchAllDomains = catchAllDomains;
        this.aliases = aliases;
        this.relayNetworks = relayNetworks;
        this.senderAccess = senderAccess;
        this.senderNetworks = senderNetworks;
        this.senderNetworkAccess = senderNetworkAccess;
        this.source = source;
    }

    /**
     * The embedded default: "localhost" is the local domain with postmaster, root and sink; loopback
     * clients (127.0.0.0/8, ::1, as Postfix's default mynetworks) may relay to any domain.
     *
     * @return the default tables.
     */
    public static RouterTables defaults()
    {
        return new RouterTables(
            Set.of("localhost"),
            Set.of("postmaster@localhost", "root@localhost", "sink@localhost"),
            Set.of(),
            Map.of(),
            NetworkList.parse("127.0.0.0/8 ::1"),
            Map.of(),
            List.of(),
            List.of(),
            "(embedded defaults)");
    }

    /**
     * Read every table in a directory.
     *
     * @param dir the table directory.
     * @return the tables.
     * @throws ConfigException naming file, line and reason for the first bad line.
     */
    public static RouterTables load(final Path dir)
    {
        if (!Files.isDirectory(dir))
        {
            throw new ConfigException(dir + ": router table directory does not exist");
        }
        final Set<String> localDomains = new HashSet<>();
        for (final Line line : lines(dir.resolve("local-domains")))
        {
            line.expectFields(1);
            localDomains.add(domain(line, line.fields[0]));
        }
        final Set<String> recipients = new HashSet<>();
        final Set<String> catchAll = new HashSet<>();
        for (final Line line : lines(dir.resolve("recipients")))
        {
            line.expectFields(1);
            final String entry = line.fields[0].toLowerCase(Locale.ROOT);
            if (entry.startsWith("@"))
            {
                catchAll.add(domain(line, entry.substring(1)));
            }
            else
            {
                recipients.add(address(line, entry));
            }
        }
        final Map<String, String> aliases = new HashMap<>();
        for (final Line line : lines(dir.resolve("aliases")))
        {
            line.expectFields(2);
            aliases.put(address(line, line.fields[0]), address(line, line.fields[1]));
        }
        final StringBuilder relay = new StringBuilder();
        for (final Line line : lines(dir.resolve("relay-networks")))
        {
            for (final String field : line.fields)
            {
                try
                {
                    NetworkList.parse(field);
                }
                catch (final IllegalArgumentException ex)
                {
                    throw line.error(ex.getMessage());
                }
                relay.append(field).append(' ');
            }
        }
        final Map<String, Access> senderAccess = new HashMap<>();
        final List<NetworkList> senderNetworks = new ArrayList<>();
        final List<Access> senderNetworkAccess = new ArrayList<>();
        for (final Line line : lines(dir.resolve("sender-access")))
        {
            if (line.fields.length < 2)
            {
                throw line.error("expected 'key action [text]'");
            }
            final Access access = access(line);
            final String key = line.fields[0].toLowerCase(Locale.ROOT);
            if (Character.isDigit(key.charAt(0)) || key.indexOf(':') >= 0)
            {
                try
                {
                    senderNetworks.add(NetworkList.parse(key));
                }
                catch (final IllegalArgumentException ex)
                {
                    throw line.error(ex.getMessage());
                }
                senderNetworkAccess.add(access);
            }
            else
            {
                senderAccess.put(key.startsWith("@") ? key.substring(1) : key, access);
            }
        }
        return new RouterTables(localDomains, recipients, catchAll, aliases, NetworkList.parse(relay.toString()),
            senderAccess, senderNetworks, senderNetworkAccess, dir.toString());
    }

    /**
     * @return the newest modification time of the table files (0 when none), to notice edits.
     */
    static long lastModified(final Path dir)
    {
        long newest = 0;
        for (final String name : new String[]{"local-domains", "recipients", "aliases", "relay-networks", "sender-access"})
        {
            try
            {
                newest = Math.max(newest, Files.getLastModifiedTime(dir.resolve(name)).toMillis());
            }
            catch (final IOException ignore)
            {
                // a missing table is an empty table
            }
        }
        return newest;
    }

    private static Access access(final Line line)
    {
        final String action = line.fields[1];
        if ("OK".equalsIgnoreCase(action))
        {
            return new Access(true, null);
        }
        if ("REJECT".equalsIgnoreCase(action))
        {
            final String text = line.rest(2);
            return new Access(false, "550 5.7.1 " + (text.isEmpty() ? "Sender address rejected: Access denied" : text));
        }
        if (action.matches("[45][0-9][0-9]") && line.fields.length >= 3 && line.fields[2].matches("[45]\\.[0-9]{1,3}\\.[0-9]{1,3}"))
        {
            if (action.charAt(0) != line.fields[2].charAt(0))
            {
                throw line.error("reply code " + action + " and enhanced status " + line.fields[2] + " disagree");
            }
            final String text = line.rest(3);
            return new Access(false, action + " " + line.fields[2] + " " +
                (text.isEmpty() ? "Sender address rejected" : text));
        }
        throw line.error("action must be OK, REJECT, or a 4xx/5xx code with an enhanced status code, not '" +
            action + "'");
    }

    private static String domain(final Line line, final String value)
    {
        final String domain = value.toLowerCase(Locale.ROOT);
        if (domain.isEmpty() || domain.startsWith(".") || domain.endsWith(".") || domain.contains("..") ||
            domain.contains("@") || !domain.codePoints().allMatch((c) -> c > 127 || Character.isLetterOrDigit(c) ||
            '-' == c || '.' == c))
        {
            throw line.error("'" + value + "' is not a domain name");
        }
        return domain;
    }

    private static String address(final Line line, final String value)
    {
        final String address = value.toLowerCase(Locale.ROOT);
        final int at = address.lastIndexOf('@');
        if (at <= 0 || at == address.length() - 1)
        {
            throw line.error("'" + value + "' is not an address (user@domain)");
        }
        domain(line, address.substring(at + 1));
        return address;
    }

    private static List<Line> lines(final Path file)
    {
        final List<Line> lines = new ArrayList<>();
        if (!Files.exists(file))
        {
            return lines;
        }
        final List<String> raw;
        try
        {
            raw = Files.readAllLines(file, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot read: " + ex.getMessage());
        }
        for (int i = 0; i < raw.size(); i++)
        {
            String text = raw.get(i);
            final int hash = text.indexOf('#');
            if (hash >= 0)
            {
                text = text.substring(0, hash);
            }
            text = text.strip();
            if (!text.isEmpty())
            {
                lines.add(new Line(file, i + 1, text.split("\\s+")));
            }
        }
        return lines;
    }

    private static final class Line
    {
        final Path file;
        final int number;
        final String[] fields;

        Line(final Path file, final int number, final String[] fields)
        {
            this.file = file;
            this.number = number;
            this.fields = fields;
        }

        void expectFields(final int count)
        {
            if (fields.length != count)
            {
                throw error("expected " + count + " field" + (1 == count ? "" : "s") + ", found " + fields.length);
            }
        }

        String rest(final int from)
        {
            return from >= fields.length ? "" : String.join(" ", java.util.Arrays.copyOfRange(fields, from, fields.length));
        }

        ConfigException error(final String reason)
        {
            return new ConfigException(file + ":" + number + ": " + reason);
        }
    }

    public String toString()
    {
        return "RouterTables{" + source + ", " + localDomains.size() + " local domains, " + recipients.size() +
            " recipients, " + aliases.size() + " aliases}";
    }
}
