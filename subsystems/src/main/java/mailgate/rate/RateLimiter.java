/*
 * SUMMARY
 * The rate tracker's face to the SMTP reactor: each onXxx call counts one SMTP event in the shared counters
 * and answers null (go on) or the complete reply line to send when a limit of the policy is exceeded.
 *
 * DESCRIPTION
 * Called on the event loop, so no I/O beyond the memory-mapped counter file, no DNS (addresses are parsed
 * as literals), and no allocation on the way: per-thread scratch subjects, replies prebuilt per rule.
 * What is counted where:
 *   onConnect            connections            client-ip, client-network
 *   onMailFrom           messages               client-ip, client-network, sender-domain, user
 *   onRcptTo             recipients             client-ip, client-network, sender-domain, user
 *   onMessage            bytes (the size)       client-ip, client-network, sender-domain, user
 *   onAuthFailure        auth-failures          client-ip, client-network, user
 *   onProtocolError      protocol-errors        client-ip, client-network
 *   onRejectedRecipient  rejected-recipients    client-ip, client-network
 * A counted event is refused when the new total exceeds the limit, so LIMIT events per window get through and
 * the next is refused; refused attempts count too. In a cluster the total also holds the store's estimate of
 * peers' events still on the wire (RateStore's in-flight budget), so near the limit a node leaves room for them.
 * The three penalty dimensions (auth-failures, protocol-errors, rejected-recipients) are also checked, without
 * counting, at connect, MAIL and RCPT: once a subject has more than LIMIT of them in the window, those commands
 * get that rule's reply. Only pairs of (dimension, subject) that some rule names are counted, so the map holds
 * only what the policy needs.
 * Allow-listed clients are neither counted nor limited.
 *
 * LIMITS
 * When the counter file is full, new keys are not counted and their limits do not bite (fail open; the store
 * counts these). The policy can be swapped at any time (reload); calls in flight finish with the old one.
 */
package mailgate.rate;

import mailgate.reactor.ConfigException;

import java.nio.file.Path;

/**
 * Counts SMTP events against a {@link RatePolicy} and answers with a reply when a limit bites. Thread-safe.
 */
public final class RateLimiter implements AutoCloseable
{
    private final RateStore store;
    private final boolean ownsStore;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);
    private volatile RatePolicy policy;

    private static final class Scratch
    {
        final Subject[] subjects = new Subject[Subject.LIMIT];
        final boolean[] valid = new boolean[Subject.LIMIT];
        final boolean[] prepared = new boolean[Subject.LIMIT];
        CharSequence domain;
        CharSequence user;

        Scratch()
        {
            for (int i = 1; i < Subject.LIMIT; i++)
            {
                subjects[i] = new Subject();
            }
        }
    }

    /**
     * @param store  the shared counters (not closed by this limiter).
     * @param policy the limits.
     */
    public RateLimiter(final RateStore store, final RatePolicy policy)
    {
        this(store, policy, false);
    }

    private RateLimiter(final RateStore store, final RatePolicy policy, final boolean ownsStore)
    {
        this.store = store;
        this.policy = policy;
        this.ownsStore = ownsStore;
    }

    /**
     * Open the counter file and load the policy named by a rate config (what smtpd does at start).
     *
     * @param config the rate config (rate.node-id, rate.map-file, rate.max-entries, rate.max-nodes,
     *               rate.policy-file).
     * @return a limiter owning its store.
     * @throws ConfigException on a bad policy line ("file:line: reason").
     */
    public static RateLimiter open(final RateConfig config)
    {
        final RatePolicy policy = null == config.policyFile() ? RatePolicy.empty() :
            RatePolicyFile.load(config.policyFile());
        return new RateLimiter(RateStore.open(config.storeContext()), policy, true);
    }

    /**
     * Open a counter file and a policy file directly.
     *
     * @param policyFile the policy file.
     * @param mapFile    the counter file.
     * @param nodeId     this host's node id.
     * @param maxEntries keys the file holds (used when creating it).
     * @return a limiter owning its store (no dirty tracking: use {@link #open(RateConfig)} in a cluster).
     */
    public static RateLimiter open(final Path policyFile, final Path mapFile, final int nodeId, final long maxEntries)
    {
        final RatePolicy policy = RatePolicyFile.load(policyFile);
        return new RateLimiter(RateStore.open(new RateStore.Context()
            .mapFile(mapFile).nodeId(nodeId).maxEntries(maxEntries)), policy, true);
    }

    /**
     * @return the store.
     */
    public RateStore store()
    {
        return store;
    }

    /**
     * @return the policy in force.
     */
    public RatePolicy policy()
    {
        return policy;
    }

    /**
     * Put a new policy in force (after a reload).
     *
     * @param policy the new policy.
     */
    public void policy(final RatePolicy policy)
    {
        this.policy = policy;
    }

    /**
     * A client connected.
     *
     * @param clientIp its address literal.
     * @param nowMs    epoch milliseconds.
     * @return null to go on, else the reply line to send (then close).
     */
    public byte[] onConnect(final String clientIp, final long nowMs)
    {
        return countThenPenalties(RateDimension.CONNECTIONS, clientIp, null, null, nowMs);
    }

    /**
     * MAIL FROM was given.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain; null or empty for the null sender.
     * @param nowMs        epoch milliseconds.
     * @return null to go on, else the reply line.
     */
    public byte[] onMailFrom(final String clientIp, final CharSequence senderDomain, final long nowMs)
    {
        return onMailFrom(clientIp, senderDomain, null, nowMs);
    }

    /**
     * MAIL FROM was given in an authenticated session.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain; null or empty for the null sender.
     * @param user         the authenticated user, or null.
     * @param nowMs        epoch milliseconds.
     * @return null to go on, else the reply line.
     */
    public byte[] onMailFrom(
        final String clientIp, final CharSequence senderDomain, final CharSequence user, final long nowMs)
    {
        return countThenPenalties(RateDimension.MESSAGES, clientIp, senderDomain, user, nowMs);
    }

    /**
     * RCPT TO was given.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain, or null.
     * @param nowMs        epoch milliseconds.
     * @return null to go on, else the reply line.
     */
    public byte[] onRcptTo(final String clientIp, final CharSequence senderDomain, final long nowMs)
    {
        return onRcptTo(clientIp, senderDomain, null, nowMs);
    }

    /**
     * RCPT TO was given in an authenticated session.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain, or null.
     * @param user         the authenticated user, or null.
     * @param nowMs        epoch milliseconds.
     * @return null to go on, else the reply line.
     */
    public byte[] onRcptTo(
        final String clientIp, final CharSequence senderDomain, final CharSequence user, final long nowMs)
    {
        return countThenPenalties(RateDimension.RECIPIENTS, clientIp, senderDomain, user, nowMs);
    }

    /**
     * One event that can be refused at once: count it, then the penalty limits (protocol errors, rejected
     * recipients) that bite at connect, MAIL and RCPT.
     */
    private byte[] countThenPenalties(
        final int dimension, final String clientIp, final CharSequence senderDomain, final CharSequence user,
        final long nowMs)
    {
        final RatePolicy p = policy;
        final Scratch s = prepare(p, clientIp, senderDomain, user);
        if (null == s)
        {
            return null;
        }
        final byte[] reply = count(p, s, dimension, 1, nowMs);
        return null != reply ? reply : checkPenalties(p, s, nowMs);
    }

    /**
     * The end of DATA was reached.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain, or null.
     * @param bytes        the message size.
     * @param nowMs        epoch milliseconds.
     * @return null to accept, else the reply line to give instead of 250.
     */
    public byte[] onMessage(final String clientIp, final CharSequence senderDomain, final long bytes, final long nowMs)
    {
        return onMessage(clientIp, senderDomain, null, bytes, nowMs);
    }

    /**
     * The end of DATA was reached in an authenticated session.
     *
     * @param clientIp     the client's address literal.
     * @param senderDomain the envelope sender's domain, or null.
     * @param user         the authenticated user, or null.
     * @param bytes        the message size.
     * @param nowMs        epoch milliseconds.
     * @return null to accept, else the reply line to give instead of 250.
     */
    public byte[] onMessage(
        final String clientIp,
        final CharSequence senderDomain,
        final CharSequence user,
        final long bytes,
        final long nowMs)
    {
        final RatePolicy p = policy;
        final Scratch s = prepare(p, clientIp, senderDomain, user);
        if (null == s)
        {
            return null;
        }
        return count(p, s, RateDimension.BYTES, bytes, nowMs);
    }

    /**
     * An AUTH attempt failed.
     *
     * @param clientIp the client's address literal.
     * @param user     the user name tried, or null.
     * @param nowMs    epoch milliseconds.
     * @return null, or a reply when the client or user is now over an auth-failures limit (the reactor may
     *     send it instead of 535 and close).
     */
    public byte[] onAuthFailure(final String clientIp, final CharSequence user, final long nowMs)
    {
        final RatePolicy p = policy;
        final Scratch s = prepare(p, clientIp, null, user);
        if (null == s)
        {
            return null;
        }
        return count(p, s, RateDimension.AUTH_FAILURES, 1, nowMs);
    }

    /**
     * The client made a protocol error (counted; limits bite at the next connect, MAIL or RCPT).
     *
     * @param clientIp the client's address literal.
     * @param nowMs    epoch milliseconds.
     */
    public void onProtocolError(final String clientIp, final long nowMs)
    {
        final RatePolicy p = policy;
        final Scratch s = prepare(p, clientIp, null, null);
        if (null != s)
        {
            count(p, s, RateDimension.PROTOCOL_ERRORS, 1, nowMs);
        }
    }

    /**
     * A recipient was refused (counted; limits bite at the next connect, MAIL or RCPT).
     *
     * @param clientIp the client's address literal.
     * @param nowMs    epoch milliseconds.
     */
    public void onRejectedRecipient(final String clientIp, final long nowMs)
    {
        final RatePolicy p = policy;
        final Scratch s = prepare(p, clientIp, null, null);
        if (null != s)
        {
            count(p, s, RateDimension.REJECTED_RECIPIENTS, 1, nowMs);
        }
    }

    /**
     * Close the store when this limiter opened it.
     */
    public void close()
    {
        if (ownsStore)
        {
            store.close();
        }
    }

    /**
     * @return the thread's scratch with the IP parsed, or null when the client is allow-listed.
     */
    private Scratch prepare(
        final RatePolicy p, final String clientIp, final CharSequence domain, final CharSequence user)
    {
        final Scratch s = scratch.get();
        final Subject ip = s.subjects[Subject.CLIENT_IP];
        final boolean ipValid = ip.clientIp(clientIp);
        if (ipValid && p.isAllowed(ip.high(), ip.low()))
        {
            return null;
        }
        s.valid[Subject.CLIENT_IP] = ipValid;
        s.prepared[Subject.CLIENT_IP] = true;
        s.prepared[Subject.CLIENT_NETWORK] = false;
        s.prepared[Subject.SENDER_DOMAIN] = false;
        s.prepared[Subject.USER] = false;
        s.domain = domain;
        s.user = user;
        return s;
    }

    /**
     * @return the subject of a type, computed on first use in this call (hashing names costs), or null.
     */
    private static Subject subject(final RatePolicy p, final Scratch s, final int type)
    {
        if (!s.prepared[type])
        {
            s.prepared[type] = true;
            final Subject subject = s.subjects[type];
            switch (type)
            {
                case Subject.CLIENT_NETWORK:
                    s.valid[type] = s.valid[Subject.CLIENT_IP];
                    if (s.valid[type])
                    {
                        final Subject ip = s.subjects[Subject.CLIENT_IP];
                        subject.clientNetwork(ip.high(), ip.low(), p.v4Prefix(), p.v6Prefix());
                    }
                    break;
                case Subject.SENDER_DOMAIN:
                    s.valid[type] = subject.senderDomain(s.domain);
                    break;
                case Subject.USER:
                    s.valid[type] = subject.user(s.user);
                    break;
                default:
                    s.valid[type] = false;
            }
        }
        return s.valid[type] ? s.subjects[type] : null;
    }

    private byte[] count(final RatePolicy p, final Scratch s, final int dimension, final long n, final long nowMs)
    {
        byte[] reply = null;
        for (int type = 1; type < Subject.LIMIT; type++)
        {
            final RateRule[] rules = p.rules(dimension, type);
            if (rules.length == 0)
            {
                continue;
            }
            final Subject subject = subject(p, s, type);
            if (null == subject)
            {
                continue;
            }
            final long firstWindowMs = rules[0].windowMs();
            final long total = store.add(dimension, subject, n, firstWindowMs, nowMs);
            if (total < 0 || null != reply)
            {
                continue; // map full (fail open), or already refused: counted, nothing more to learn
            }
            // in a cluster, peers' events still on the wire count against the limit too (in-flight budget)
            final long unseen = store.lastUnseen();
            for (final RateRule rule : rules)
            {
                final long t = rule.windowMs() == firstWindowMs ? total :
                    store.total(dimension, subject, rule.windowMs(), nowMs);
                if (t + unseen > rule.limit())
                {
                    reply = rule.reply();
                    break;
                }
            }
        }
        return reply;
    }

    private byte[] checkPenalties(final RatePolicy p, final Scratch s, final long nowMs)
    {
        for (int dimension = RateDimension.AUTH_FAILURES; dimension <= RateDimension.REJECTED_RECIPIENTS; dimension++)
        {
            for (int type = 1; type < Subject.LIMIT; type++)
            {
                final RateRule[] rules = p.rules(dimension, type);
                if (rules.length == 0)
                {
                    continue;
                }
                final Subject subject = subject(p, s, type);
                if (null == subject)
                {
                    continue;
                }
                for (final RateRule rule : rules)
                {
                    if (store.total(dimension, subject, rule.windowMs(), nowMs) > rule.limit())
                    {
                        return rule.reply();
                    }
                }
            }
        }
        return null;
    }
}
