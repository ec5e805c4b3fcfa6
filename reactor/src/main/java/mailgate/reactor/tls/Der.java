package mailgate.reactor.tls;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * The few ASN.1 DER encodings a self-signed certificate and a PKCS#1 key wrapper need (X.690).
 */
final class Der
{
    private Der()
    {
    }

    static byte[] tlv(final int tag, final byte[]... parts)
    {
        int length = 0;
        for (final byte[] part : parts)
        {
            length += part.length;
        }
        final ByteArrayOutputStream out = new ByteArrayOutputStream(length + 6);
        out.write(tag);
        if (length < 0x80)
        {
            out.write(length);
        }
        else if (length < 0x100)
        {
            out.write(0x81);
            out.write(length);
        }
        else if (length < 0x10000)
        {
            out.write(0x82);
            out.write(length >>> 8);
            out.write(length);
        }
        else
        {
            out.write(0x83);
            out.write(length >>> 16);
            out.write(length >>> 8);
            out.write(length);
        }
        for (final byte[] part : parts)
        {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    static byte[] sequence(final byte[]... parts)
    {
        return tlv(0x30, parts);
    }

    static byte[] set(final byte[]... parts)
    {
        return tlv(0x31, parts);
    }

    static byte[] integer(final BigInteger value)
    {
        return tlv(0x02, value.toByteArray());
    }

    static byte[] integer(final long value)
    {
        return integer(BigInteger.valueOf(value));
    }

    static byte[] nul()
    {
        return new byte[]{0x05, 0x00};
    }

    static byte[] bool(final boolean value)
    {
        return new byte[]{0x01, 0x01, (byte)(value ? 0xFF : 0x00)};
    }

    static byte[] octetString(final byte[] content)
    {
        return tlv(0x04, content);
    }

    static byte[] bitString(final byte[] content)
    {
        final byte[] withPad = new byte[content.length + 1];
        System.arraycopy(content, 0, withPad, 1, content.length);
        return tlv(0x03, withPad);
    }

    static byte[] utf8(final String text)
    {
        return tlv(0x0C, text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * @param tagNumber context-specific tag number.
     * @param content   the encoding wrapped.
     * @return [n] EXPLICIT content.
     */
    static byte[] explicit(final int tagNumber, final byte[] content)
    {
        return tlv(0xA0 | tagNumber, content);
    }

    /**
     * @param epochSeconds a time.
     * @return UTCTime before 2050, GeneralizedTime from then on (RFC 5280 4.1.2.5).
     */
    static byte[] time(final long epochSeconds)
    {
        final java.time.ZonedDateTime t = java.time.Instant.ofEpochSecond(epochSeconds).atZone(java.time.ZoneOffset.UTC);
        if (t.getYear() < 2050)
        {
            return tlv(0x17, java.time.format.DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").format(t)
                .getBytes(StandardCharsets.US_ASCII));
        }
        return tlv(0x18, java.time.format.DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").format(t)
            .getBytes(StandardCharsets.US_ASCII));
    }

    static byte[] oid(final String dotted)
    {
        final String[] arcs = dotted.split("\\.");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
        for (int i = 2; i < arcs.length; i++)
        {
            long arc = Long.parseLong(arcs[i]);
            final byte[] tmp = new byte[10];
            int n = 0;
            do
            {
                tmp[n++] = (byte)(arc & 0x7F);
                arc >>>= 7;
            }
            while (arc != 0);
            for (int j = n - 1; j >= 0; j--)
            {
                out.write(tmp[j] | (j > 0 ? 0x80 : 0));
            }
        }
        return tlv(0x06, out.toByteArray());
    }
}
