/*
 * SUMMARY
 * Parses IPv4 and IPv6 address literals into 128 bits (two longs), without DNS and without allocating.
 *
 * DESCRIPTION
 * IPv4 "a.b.c.d" becomes the IPv4-mapped IPv6 address ::ffff:a.b.c.d, so that one 16-byte form serves both
 * families and "::ffff:1.2.3.4" counts as the same client as "1.2.3.4". IPv6 accepts "::" compression, an
 * embedded dotted quad in the last 32 bits, Java's uncompressed getHostAddress() form, optional brackets and
 * an "IPv6:" prefix (as in SMTP address literals), and drops a "%scope" suffix.
 *
 * LIMITS
 * Only literals: a host name is simply not an address (parse returns false). IPv4 parts must be decimal
 * 0..255 (no octal or short forms such as "127.1").
 */
package mailgate.rate;

/**
 * A parsed IP address literal held as two longs (high and low 64 bits of the IPv6 form).
 */
public final class IpLiteral
{
    /** The high 64 bits of an IPv4-mapped address (::ffff:0:0/96 has high = 0). */
    public static final long V4_MAPPED_HIGH = 0L;
    /** The fixed part of the low 64 bits of an IPv4-mapped address. */
    public static final long V4_MAPPED_LOW_PREFIX = 0x0000_FFFF_0000_0000L;

    private final int[] groups = new int[8];
    private long high;
    private long low;
    private boolean v4;

    /**
     * @return the high 64 bits of the last address parsed.
     */
    public long high()
    {
        return high;
    }

    /**
     * @return the low 64 bits of the last address parsed.
     */
    public long low()
    {
        return low;
    }

    /**
     * @return true when the last address parsed was IPv4 (or IPv4-mapped IPv6).
     */
    public boolean isV4()
    {
        return v4;
    }

    /**
     * Parse a literal.
     *
     * @param s the text; may be null.
     * @return true when it is an IPv4 or IPv6 literal (then high/low/isV4 are set).
     */
    public boolean parse(final CharSequence s)
    {
        if (null == s)
        {
            return false;
        }
        int start = 0;
        int end = s.length();
        if (end > 0 && s.charAt(0) == '[')
        {
            if (s.charAt(end - 1) != ']')
            {
                return false;
            }
            start++;
            end--;
        }
        if (end - start > 5 && regionMatchesIgnoreCase(s, start, "IPv6:"))
        {
            start += 5;
        }
        for (int i = start; i < end; i++)
        {
            if (s.charAt(i) == '%')
            {
                end = i;
                break;
            }
        }
        if (start >= end)
        {
            return false;
        }
        boolean colon = false;
        for (int i = start; i < end; i++)
        {
            if (s.charAt(i) == ':')
            {
                colon = true;
                break;
            }
        }
        if (!colon)
        {
            final long v4Bits = parseV4(s, start, end);
            if (v4Bits < 0)
            {
                return false;
            }
            high = V4_MAPPED_HIGH;
            low = V4_MAPPED_LOW_PREFIX | v4Bits;
            v4 = true;
            return true;
        }
        return parseV6(s, start, end);
    }

    /**
     * @param high high bits.
     * @param low  low bits.
     * @return true when the address is IPv4-mapped.
     */
    public static boolean isV4Mapped(final long high, final long low)
    {
        return high == V4_MAPPED_HIGH && (low & 0xFFFF_FFFF_0000_0000L) == V4_MAPPED_LOW_PREFIX;
    }

    /**
     * @param bits 0..128 leading bits to keep.
     * @return the mask for the high 64 bits.
     */
    public static long maskHigh(final int bits)
    {
        return bits <= 0 ? 0L : bits >= 64 ? -1L : -1L << (64 - bits);
    }

    /**
     * @param bits 0..128 leading bits to keep.
     * @return the mask for the low 64 bits.
     */
    public static long maskLow(final int bits)
    {
        return bits <= 64 ? 0L : bits >= 128 ? -1L : -1L << (128 - bits);
    }

    /**
     * Format an address (for logs and tests; allocates).
     *
     * @param high high bits.
     * @param low  low bits.
     * @return dotted quad for IPv4-mapped, else eight hex groups.
     */
    public static String toString(final long high, final long low)
    {
        if (isV4Mapped(high, low))
        {
            return ((low >>> 24) & 0xFF) + "." + ((low >>> 16) & 0xFF) + "." + ((low >>> 8) & 0xFF) + "." + (low & 0xFF);
        }
        final StringBuilder sb = new StringBuilder(39);
        for (int i = 0; i < 8; i++)
        {
            final long word = i < 4 ? high : low;
            final int shift = 48 - 16 * (i & 3);
            if (i > 0)
            {
                sb.append(':');
            }
            sb.append(Integer.toHexString((int)((word >>> shift) & 0xFFFF)));
        }
        return sb.toString();
    }

    private static boolean regionMatchesIgnoreCase(final CharSequence s, final int start, final String what)
    {
        for (int i = 0; i < what.length(); i++)
        {
            if (Character.toLowerCase(s.charAt(start + i)) != Character.toLowerCase(what.charAt(i)))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * @return the 32 address bits, or -1 when not a dotted quad.
     */
    private static long parseV4(final CharSequence s, final int start, final int end)
    {
        long result = 0;
        int parts = 0;
        int value = -1;
        int digits = 0;
        for (int i = start; i <= end; i++)
        {
            final char c = i < end ? s.charAt(i) : '.';
            if (c >= '0' && c <= '9')
            {
                if (digits > 0 && value == 0)
                {
                    return -1; // leading zero: refuse rather than guess octal
                }
                value = (value < 0 ? 0 : value * 10) + (c - '0');
                if (++digits > 3 || value > 255)
                {
                    return -1;
                }
            }
            else if (c == '.')
            {
                if (digits == 0 || ++parts > 4)
                {
                    return -1;
                }
                result = (result << 8) | value;
                value = -1;
                digits = 0;
            }
            else
            {
                return -1;
            }
        }
        return parts == 4 ? result : -1;
    }

    private boolean parseV6(final CharSequence s, final int start, final int end)
    {
        final int[] g = groups;
        int count = 0;
        int gapAt = -1;
        int i = start;
        if (s.charAt(i) == ':')
        {
            if (end - i < 2 || s.charAt(i + 1) != ':')
            {
                return false;
            }
            gapAt = 0;
            i += 2;
        }
        while (i < end)
        {
            final int groupStart = i;
            int value = 0;
            int digits = 0;
            while (i < end && hexValue(s.charAt(i)) >= 0)
            {
                value = (value << 4) | hexValue(s.charAt(i));
                i++;
                if (++digits > 4)
                {
                    return false;
                }
            }
            if (i < end && s.charAt(i) == '.')
            {
                // embedded dotted quad: the last 32 bits
                final long v4Bits = parseV4(s, groupStart, end);
                if (v4Bits < 0 || count > 6)
                {
                    return false;
                }
                g[count++] = (int)(v4Bits >>> 16);
                g[count++] = (int)(v4Bits & 0xFFFF);
                i = end;
                break;
            }
            if (digits == 0 || count >= 8)
            {
                return false;
            }
            g[count++] = value;
            if (i == end)
            {
                break;
            }
            if (s.charAt(i) != ':')
            {
                return false;
            }
            i++;
            if (i == end)
            {
                return false; // trailing single ':'
            }
            if (s.charAt(i) == ':')
            {
                if (gapAt >= 0)
                {
                    return false;
                }
                gapAt = count;
                i++;
            }
        }
        if (gapAt < 0 ? count != 8 : count > 7)
        {
            return false;
        }
        long h = 0;
        long l = 0;
        final int fill = 8 - count;
        for (int k = 0, src = 0; k < 8; k++)
        {
            final int v;
            if (gapAt >= 0 && k >= gapAt && k < gapAt + fill)
            {
                v = 0;
            }
            else
            {
                v = g[src++];
            }
            if (k < 4)
            {
                h = (h << 16) | v;
            }
            else
            {
                l = (l << 16) | v;
            }
        }
        high = h;
        low = l;
        v4 = isV4Mapped(h, l);
        return true;
    }

    private static int hexValue(final char c)
    {
        if (c >= '0' && c <= '9')
        {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f')
        {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F')
        {
            return c - 'A' + 10;
        }
        return -1;
    }
}
