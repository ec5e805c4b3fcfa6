package mailgate.reactor.net;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/**
 * A list of networks in CIDR notation ("127.0.0.0/8", "::1", "2001:db8::/32") to match client addresses.
 */
public final class NetworkList
{
    private final byte[][] prefixes;
    private final int[] bits;
    private final String text;

    private NetworkList(final byte[][] prefixes, final int[] bits, final String text)
    {
        this.prefixes = prefixes;
        this.bits = bits;
        this.text = text;
    }

    /**
     * @param text networks separated by commas or spaces; empty for none.
     * @return the list.
     * @throws IllegalArgumentException naming the entry that is not a network.
     */
    public static NetworkList parse(final String text)
    {
        final List<byte[]> prefixes = new ArrayList<>();
        final List<Integer> bits = new ArrayList<>();
        for (final String raw : text.split("[,\\s]+"))
        {
            final String entry = raw.trim();
            if (entry.isEmpty())
            {
                continue;
            }
            final int slash = entry.indexOf('/');
            final String host = slash < 0 ? entry : entry.substring(0, slash);
            if (!host.matches("[0-9a-fA-F:.]+"))
            {
                throw new IllegalArgumentException("'" + entry + "' is not an IP network");
            }
            final byte[] address;
            try
            {
                address = InetAddress.getByName(host).getAddress();
            }
            catch (final UnknownHostException ex)
            {
                throw new IllegalArgumentException("'" + entry + "' is not an IP network");
            }
            final int max = address.length * 8;
            final int prefix;
            try
            {
                prefix = slash < 0 ? max : Integer.parseInt(entry.substring(slash + 1));
            }
            catch (final NumberFormatException ex)
            {
                throw new IllegalArgumentException("'" + entry + "' has a bad prefix length");
            }
            if (prefix < 0 || prefix > max)
            {
                throw new IllegalArgumentException("'" + entry + "' has a prefix length outside 0.." + max);
            }
            prefixes.add(address);
            bits.add(prefix);
        }
        final int[] b = new int[bits.size()];
        for (int i = 0; i < b.length; i++)
        {
            b[i] = bits.get(i);
        }
        return new NetworkList(prefixes.toArray(new byte[0][]), b, text.trim());
    }

    /**
     * @param address a client address.
     * @return true when it lies in one of the networks.
     */
    public boolean contains(final InetAddress address)
    {
        final byte[] a = address.getAddress();
        for (int n = 0; n < prefixes.length; n++)
        {
            final byte[] p = prefixes[n];
            if (p.length != a.length)
            {
                continue;
            }
            final int full = bits[n] / 8;
            final int rest = bits[n] % 8;
            boolean match = true;
            for (int i = 0; i < full && match; i++)
            {
                match = p[i] == a[i];
            }
            if (match && rest > 0)
            {
                final int mask = (0xFF << (8 - rest)) & 0xFF;
                match = (p[full] & mask) == (a[full] & mask);
            }
            if (match)
            {
                return true;
            }
        }
        return false;
    }

    public String toString()
    {
        return text;
    }
}
