/*
 * SUMMARY
 * Who a counter is about: a client IP, a client network, a sender domain or an authenticated user, held as a
 * fixed 24-byte counter key together with a dimension.
 *
 * DESCRIPTION
 * Key layout (24 bytes, the Chronicle Map key and the key in replication packets):
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------+---------------+---------------+---------------+
 *  |  Dimension    | Subject type  | Prefix bits   |   Reserved 0  |
 *  +---------------+---------------+---------------+---------------+
 *  |                          Reserved 0                           |
 *  +---------------------------------------------------------------+
 *  |                                                               |
 *  +          128-bit subject, big-endian: an address in           +
 *  |          IPv6 form (IPv4 as ::ffff:a.b.c.d), masked to        |
 *  +          the prefix for a network; or the first 16 bytes      +
 *  |          of SHA-256 of a lower-cased domain or user name      |
 *  +---------------------------------------------------------------+
 * </pre>
 * Why a truncated SHA-256 for names: a 64-bit non-cryptographic hash (FNV, xxHash, Murmur) lets a sender pick
 * domain names that collide with a victim's and so use up the victim's limit; 128 bits of SHA-256 make
 * collisions, chosen or accidental, impossible in practice, and cost one SHA-256 block (a few hundred ns) for
 * names under 56 bytes. Addresses are stored whole (no hashing): 16 bytes hold any IPv6 address.
 *
 * LIMITS
 * Not thread-safe: one Subject per thread (they are cheap, and reusable for every call).
 */
package mailgate.rate;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * A reusable, mutable subject of a rate counter (type plus 128 bits).
 */
public final class Subject
{
    /** A client's IP address. */
    public static final int CLIENT_IP = 1;
    /** A client's network (address masked to the configured prefix). */
    public static final int CLIENT_NETWORK = 2;
    /** The domain of the envelope sender. */
    public static final int SENDER_DOMAIN = 3;
    /** An authenticated (SASL) user name. */
    public static final int USER = 4;
    /** One above the highest type. */
    public static final int LIMIT = 5;

    /** Length of a counter key in bytes. */
    public static final int KEY_LENGTH = 24;
    /** Offset of the dimension byte in a key. */
    public static final int DIMENSION_OFFSET = 0;
    /** Offset of the subject type byte in a key. */
    public static final int TYPE_OFFSET = 1;
    /** Offset of the prefix-bits byte in a key. */
    public static final int PREFIX_OFFSET = 2;
    /** Offset of the 128-bit subject in a key. */
    public static final int VALUE_OFFSET = 8;

    private static final String[] NAMES = {null, "client-ip", "client-network", "sender-domain", "user"};

    private final IpLiteral ip = new IpLiteral();
    private final MessageDigest sha256;
    private byte[] nameBytes = new byte[256];
    private int type;
    private int prefixBits;
    private long high;
    private long low;

    /**
     * Create an empty subject (type 0: not set).
     */
    public Subject()
    {
        try
        {
            sha256 = MessageDigest.getInstance("SHA-256");
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException("SHA-256 missing from this JDK", ex);
        }
    }

    /**
     * @param type a subject type code.
     * @return its policy-file name, e.g. "client-ip".
     */
    public static String typeName(final int type)
    {
        return type > 0 && type < LIMIT ? NAMES[type] : "subject-" + type;
    }

    /**
     * @param name a policy-file name.
     * @return the type code, or -1 when unknown.
     */
    public static int parseType(final String name)
    {
        for (int i = 1; i < LIMIT; i++)
        {
            if (NAMES[i].equals(name))
            {
                return i;
            }
        }
        return "authenticated-user".equals(name) ? USER : -1;
    }

    /**
     * Set a client IP from its literal.
     *
     * @param literal e.g. "192.0.2.1" or "2001:db8::1".
     * @return false (and the subject unset) when it is not an address literal.
     */
    public boolean clientIp(final CharSequence literal)
    {
        if (!ip.parse(literal))
        {
            type = 0;
            return false;
        }
        return set(CLIENT_IP, 0, ip.high(), ip.low());
    }

    /**
     * Set a client IP from its 128 bits.
     *
     * @param high high 64 bits (IPv6 form).
     * @param low  low 64 bits.
     * @return this.
     */
    public Subject clientIp(final long high, final long low)
    {
        set(CLIENT_IP, 0, high, low);
        return this;
    }

    /**
     * Set the network of a client address.
     *
     * @param high     high 64 bits of the address (IPv6 form).
     * @param low      low 64 bits.
     * @param v4Prefix prefix length for IPv4 addresses (e.g. 24).
     * @param v6Prefix prefix length for IPv6 addresses (e.g. 64).
     * @return this.
     */
    public Subject clientNetwork(final long high, final long low, final int v4Prefix, final int v6Prefix)
    {
        final int bits = IpLiteral.isV4Mapped(high, low) ? 96 + v4Prefix : v6Prefix;
        set(CLIENT_NETWORK, bits, high & IpLiteral.maskHigh(bits), low & IpLiteral.maskLow(bits));
        return this;
    }

    /**
     * Set a sender domain (lower-cased, a trailing dot dropped).
     *
     * @param domain the domain; null or empty (the null sender) leaves the subject unset.
     * @return false when there is no domain.
     */
    public boolean senderDomain(final CharSequence domain)
    {
        return name(SENDER_DOMAIN, domain, true);
    }

    /**
     * Set an authenticated user name (lower-cased, so case games do not dodge a limit).
     *
     * @param user the name; null or empty leaves the subject unset.
     * @return false when there is no name.
     */
    public boolean user(final CharSequence user)
    {
        return name(USER, user, false);
    }

    /**
     * @return the subject type, 0 when unset.
     */
    public int type()
    {
        return type;
    }

    /**
     * @return high 64 bits of the subject value.
     */
    public long high()
    {
        return high;
    }

    /**
     * @return low 64 bits of the subject value.
     */
    public long low()
    {
        return low;
    }

    /**
     * @return prefix bits for a network, else 0.
     */
    public int prefixBits()
    {
        return prefixBits;
    }

    /**
     * Write the counter key of (dimension, this subject).
     *
     * @param dimension a {@link RateDimension} code.
     * @param key       at least {@link #KEY_LENGTH} bytes.
     */
    public void writeKey(final int dimension, final byte[] key)
    {
        key[DIMENSION_OFFSET] = (byte)dimension;
        key[TYPE_OFFSET] = (byte)type;
        key[PREFIX_OFFSET] = (byte)prefixBits;
        for (int i = 3; i < VALUE_OFFSET; i++)
        {
            key[i] = 0;
        }
        putLongBigEndian(key, VALUE_OFFSET, high);
        putLongBigEndian(key, VALUE_OFFSET + 8, low);
    }

    /**
     * Describe a key (for logs and tests; allocates).
     *
     * @param key a counter key.
     * @return e.g. "messages client-ip 192.0.2.1".
     */
    public static String describeKey(final byte[] key)
    {
        final int type = key[TYPE_OFFSET];
        final long h = getLongBigEndian(key, VALUE_OFFSET);
        final long l = getLongBigEndian(key, VALUE_OFFSET + 8);
        final String value;
        if (type == CLIENT_IP)
        {
            value = IpLiteral.toString(h, l);
        }
        else if (type == CLIENT_NETWORK)
        {
            final int bits = key[PREFIX_OFFSET] & 0xFF;
            value = IpLiteral.isV4Mapped(h, l) ? IpLiteral.toString(h, l) + "/" + (bits - 96) :
                IpLiteral.toString(h, l) + "/" + bits;
        }
        else
        {
            value = "#" + Long.toHexString(h) + Long.toHexString(l);
        }
        return RateDimension.name(key[DIMENSION_OFFSET]) + " " + typeName(type) + " " + value;
    }

    public String toString()
    {
        return typeName(type) + (type == CLIENT_IP || type == CLIENT_NETWORK ?
            " " + IpLiteral.toString(high, low) + (type == CLIENT_NETWORK ? "/" + prefixBits : "") :
            " #" + Long.toHexString(high) + Long.toHexString(low));
    }

    private boolean set(final int type, final int prefixBits, final long high, final long low)
    {
        this.type = type;
        this.prefixBits = prefixBits;
        this.high = high;
        this.low = low;
        return true;
    }

    private boolean name(final int type, final CharSequence name, final boolean dropTrailingDot)
    {
        int length = null == name ? 0 : name.length();
        if (dropTrailingDot && length > 0 && name.charAt(length - 1) == '.')
        {
            length--;
        }
        if (length == 0)
        {
            this.type = 0;
            return false;
        }
        if (nameBytes.length < length * 3)
        {
            nameBytes = new byte[length * 3];
        }
        final byte[] bytes = nameBytes;
        int n = 0;
        for (int i = 0; i < length; i++)
        {
            char c = name.charAt(i);
            if (c < 0x80)
            {
                if (c >= 'A' && c <= 'Z')
                {
                    c = (char)(c + ('a' - 'A'));
                }
                bytes[n++] = (byte)c;
            }
            else
            {
                // unambiguous: ASCII bytes are below 0x80
                c = Character.toLowerCase(c);
                bytes[n++] = (byte)0xFF;
                bytes[n++] = (byte)(c >>> 8);
                bytes[n++] = (byte)c;
            }
        }
        sha256.reset();
        sha256.update(bytes, 0, n);
        try
        {
            if (bytes.length < 32)
            {
                nameBytes = new byte[256];
                return name(type, name, dropTrailingDot);
            }
            sha256.digest(bytes, 0, 32);
        }
        catch (final java.security.DigestException ex)
        {
            throw new IllegalStateException(ex);
        }
        return set(type, 0, getLongBigEndian(bytes, 0), getLongBigEndian(bytes, 8));
    }

    static void putLongBigEndian(final byte[] b, final int offset, final long v)
    {
        for (int i = 0; i < 8; i++)
        {
            b[offset + i] = (byte)(v >>> (56 - 8 * i));
        }
    }

    static long getLongBigEndian(final byte[] b, final int offset)
    {
        long v = 0;
        for (int i = 0; i < 8; i++)
        {
            v = (v << 8) | (b[offset + i] & 0xFF);
        }
        return v;
    }
}
