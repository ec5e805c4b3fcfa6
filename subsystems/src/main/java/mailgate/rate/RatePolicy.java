package mailgate.rate;

import java.util.ArrayList;
import java.util.List;

/**
 * An immutable rate policy: the limits (in file order), the allow-list and the client-network prefixes.
 */
public final class RatePolicy
{
    /** IPv4 client-network prefix when the file does not say. */
    public static final int V4_PREFIX_DEFAULT = 24;
    /** IPv6 client-network prefix when the file does not say. */
    public static final int V6_PREFIX_DEFAULT = 64;

    private final List<RateRule> rules;
    private final int v4Prefix;
    private final int v6Prefix;
    private final long[] allowHigh;
    private final long[] allowLow;
    private final long[] allowMaskHigh;
    private final long[] allowMaskLow;
    private final String[] allowText;
    private final RateRule[][] rulesBySlot;
    private final long[] firstWindowBySlot;
    private final boolean[] penaltyDimension = new boolean[RateDimension.LIMIT];

    /**
     * Builds a policy.
     */
    public static final class Builder
    {
        private final List<RateRule> rules = new ArrayList<>();
        private final List<long[]> allow = new ArrayList<>();
        private final List<String> allowText = new ArrayList<>();
        private int v4Prefix = V4_PREFIX_DEFAULT;
        private int v6Prefix = V6_PREFIX_DEFAULT;

        /**
         * @param rule a limit, appended in order.
         * @return this.
         */
        public Builder rule(final RateRule rule)
        {
            rules.add(rule);
            return this;
        }

        /**
         * @param high address high bits (IPv6 form).
         * @param low  address low bits.
         * @param bits prefix length in the IPv6 form (IPv4 /8 is 104).
         * @param text how it was written.
         * @return this.
         */
        public Builder allow(final long high, final long low, final int bits, final String text)
        {
            final long mh = IpLiteral.maskHigh(bits);
            final long ml = IpLiteral.maskLow(bits);
            allow.add(new long[]{high & mh, low & ml, mh, ml});
            allowText.add(text);
            return this;
        }

        /**
         * @param v4 IPv4 client-network prefix, 0..32.
         * @param v6 IPv6 client-network prefix, 0..128.
         * @return this.
         */
        public Builder networkPrefix(final int v4, final int v6)
        {
            v4Prefix = v4;
            v6Prefix = v6;
            return this;
        }

        /**
         * @return the policy.
         */
        public RatePolicy build()
        {
            return new RatePolicy(this);
        }
    }

    private RatePolicy(final Builder b)
    {
        rules = List.copyOf(b.rules);
        v4Prefix = b.v4Prefix;
        v6Prefix = b.v6Prefix;
        final int n = b.allow.size();
        allowHigh = new long[n];
        allowLow = new long[n];
        allowMaskHigh = new long[n];
        allowMaskLow = new long[n];
        allowText = b.allowText.toArray(new String[0]);
        for (int i = 0; i < n; i++)
        {
            final long[] a = b.allow.get(i);
            allowHigh[i] = a[0];
            allowLow[i] = a[1];
            allowMaskHigh[i] = a[2];
            allowMaskLow[i] = a[3];
        }
        rulesBySlot = new RateRule[RateDimension.LIMIT * Subject.LIMIT][];
        firstWindowBySlot = new long[RateDimension.LIMIT * Subject.LIMIT];
        for (int d = 0; d < RateDimension.LIMIT; d++)
        {
            for (int t = 0; t < Subject.LIMIT; t++)
            {
                final List<RateRule> list = new ArrayList<>();
                for (final RateRule r : rules)
                {
                    if (r.dimension() == d && r.subjectType() == t)
                    {
                        list.add(r);
                    }
                }
                rulesBySlot[slot(d, t)] = list.toArray(new RateRule[0]);
                firstWindowBySlot[slot(d, t)] = list.isEmpty() ? 60_000L : list.get(0).windowMs();
            }
        }
        penaltyDimension[RateDimension.AUTH_FAILURES] = true;
        penaltyDimension[RateDimension.PROTOCOL_ERRORS] = true;
        penaltyDimension[RateDimension.REJECTED_RECIPIENTS] = true;
    }

    static int slot(final int dimension, final int subjectType)
    {
        return dimension * Subject.LIMIT + subjectType;
    }

    /**
     * @return an empty policy: nothing limited.
     */
    public static RatePolicy empty()
    {
        return new Builder().build();
    }

    /**
     * @return all rules in file order.
     */
    public List<RateRule> rules()
    {
        return rules;
    }

    /**
     * @param dimension   a dimension.
     * @param subjectType a subject type.
     * @return the rules for that pair, in file order (shared array: do not modify).
     */
    public RateRule[] rules(final int dimension, final int subjectType)
    {
        return rulesBySlot[slot(dimension, subjectType)];
    }

    /**
     * @param dimension   a dimension.
     * @param subjectType a subject type.
     * @return the window of the first rule for the pair (the one add() reports on).
     */
    public long firstWindowMs(final int dimension, final int subjectType)
    {
        return firstWindowBySlot[slot(dimension, subjectType)];
    }

    /**
     * @param dimension a dimension.
     * @return true for auth-failures, protocol-errors and rejected-recipients: counted on their own events,
     *     checked (without counting) at connect, MAIL and RCPT.
     */
    public boolean isPenalty(final int dimension)
    {
        return penaltyDimension[dimension];
    }

    /**
     * @return IPv4 client-network prefix.
     */
    public int v4Prefix()
    {
        return v4Prefix;
    }

    /**
     * @return IPv6 client-network prefix.
     */
    public int v6Prefix()
    {
        return v6Prefix;
    }

    /**
     * @param high address high bits.
     * @param low  address low bits.
     * @return true when the address is on the allow-list (never limited, never counted).
     */
    public boolean isAllowed(final long high, final long low)
    {
        for (int i = 0; i < allowHigh.length; i++)
        {
            if ((high & allowMaskHigh[i]) == allowHigh[i] && (low & allowMaskLow[i]) == allowLow[i])
            {
                return true;
            }
        }
        return false;
    }

    public String toString()
    {
        return rules.size() + " rules, " + allowText.length + " allowed networks, client-network /" + v4Prefix +
            " /" + v6Prefix;
    }
}
