/*
 * SUMMARY
 * The router's decisions: which senders and recipients mailgate takes, with alias rewriting.
 *
 * DESCRIPTION
 * MAIL FROM: sender-access by address, then by domain and its parent domains, then by client network;
 * no match accepts. RCPT TO: aliases rewrite first; a recipient in a local domain must be in the
 * recipient table (or the domain has a catch-all), else 550 5.1.1; a recipient elsewhere is relayed only
 * for clients in the relay networks, else 554 5.7.1 - as Postfix's permit_mynetworks,
 * reject_unauth_destination and local_recipient_maps together.
 */
package mailgate.router;

import mailgate.ipc.codecs.Verdict;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Answers MAIL and RCPT questions from the current tables.
 */
public final class Router
{
    /** One answer, reused by the caller. */
    public static final class Decision
    {
        Verdict verdict;
        String reply;
        String rewritten;

        public Verdict verdict()
        {
            return verdict;
        }

        public String reply()
        {
            return reply;
        }

        public String rewritten()
        {
            return rewritten;
        }

        Decision set(final Verdict verdict, final String reply, final String rewritten)
        {
            this.verdict = verdict;
            this.reply = reply;
            this.rewritten = rewritten;
            return this;
        }
    }

    private final AtomicReference<RouterTables> tables;

    /**
     * @param tables the current tables, swapped by reloads.
     */
    public Router(final AtomicReference<RouterTables> tables)
    {
        this.tables = tables;
    }

    /**
     * @param clientAddress client IP as text.
     * @param sender        MAIL FROM address, empty for the null sender.
     * @param decision      filled in.
     * @return the decision.
     */
    public Decision mailFrom(final String clientAddress, final String sender, final Decision decision)
    {
        final RouterTables t = tables.get();
        final String address = sender.toLowerCase(Locale.ROOT);
        RouterTables.Access access = address.isEmpty() ? null : t.senderAccess.get(address);
        final int at = address.lastIndexOf('@');
        String domain = at >= 0 ? address.substring(at + 1) : "";
        while (null == access && !domain.isEmpty())
        {
            access = t.senderAccess.get(domain);
            final int dot = domain.indexOf('.');
            domain = dot < 0 ? "" : domain.substring(dot + 1);
        }
        if (null == access && !t.senderNetworks.isEmpty())
        {
            final InetAddress client = parse(clientAddress);
            for (int i = 0; null != client && i < t.senderNetworks.size() && null == access; i++)
            {
                if (t.senderNetworks.get(i).contains(client))
                {
                    access = t.senderNetworkAccess.get(i);
                }
            }
        }
        if (null == access || access.ok)
        {
            return decision.set(Verdict.ACCEPT, null, null);
        }
        final Verdict verdict = access.reply.charAt(0) == '4' ? Verdict.TEMPFAIL : Verdict.REJECT;
        return decision.set(verdict, insertAddress(access.reply, sender), null);
    }

    /**
     * @param clientAddress client IP as text.
     * @param recipient     RCPT TO address.
     * @param decision      filled in.
     * @return the decision.
     */
    public Decision rcptTo(final String clientAddress, final String recipient, final Decision decision)
    {
        final RouterTables t = tables.get();
        final String original = recipient.toLowerCase(Locale.ROOT);
        String address = original;
        String rewritten = null;
        for (int hops = 0; hops < 10; hops++)
        {
            final String target = t.aliases.get(address);
            if (null == target)
            {
                break;
            }
            address = target;
            rewritten = target;
        }
        final int at = address.lastIndexOf('@');
        final String domain = at < 0 ? "" : address.substring(at + 1);
        if (at < 0 && "postmaster".equals(address))
        {
            return decision.set(Verdict.ACCEPT, null, rewritten);
        }
        if (t.localDomains.contains(domain))
        {
            if (t.recipients.contains(address) || t.catchAllDomains.contains(domain))
            {
                return decision.set(Verdict.ACCEPT, null, rewritten);
            }
            return decision.set(Verdict.REJECT, "550 5.1.1 <" + recipient +
                ">: Recipient address rejected: User unknown in local recipient table", null);
        }
        final InetAddress client = parse(clientAddress);
        if (null != client && t.relayNetworks.contains(client))
        {
            return decision.set(Verdict.ACCEPT, null, rewritten);
        }
        return decision.set(Verdict.REJECT, "554 5.7.1 <" + recipient + ">: Relay access denied", null);
    }

    private static String insertAddress(final String reply, final String sender)
    {
        // "550 5.7.1 text" -> "550 5.7.1 <sender>: text", as Postfix names the address it refused
        final int second = reply.indexOf(' ', 4);
        return reply.substring(0, second + 1) + "<" + sender + ">: " + reply.substring(second + 1);
    }

    private static InetAddress parse(final String literal)
    {
        try
        {
            // only IP literals reach here (the reactor sends getHostAddress()), so no DNS lookup happens
            return InetAddress.getByName(literal);
        }
        catch (final UnknownHostException ex)
        {
            return null;
        }
    }
}
