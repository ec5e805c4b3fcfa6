package mailgate.reactor.smtp;

import org.agrona.DirectBuffer;

/**
 * UTF-8 well-formedness check (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
 */
public final class Utf8
{
    private Utf8()
    {
    }

    /**
     * @param buffer bytes.
     * @param start  first byte.
     * @param end    after the last byte.
     * @return true when the bytes are well-formed UTF-8.
     */
    public static boolean isValid(final DirectBuffer buffer, final int start, final int end)
    {
        int i = start;
        while (i < end)
        {
            final int b = buffer.getByte(i) & 0xFF;
            if (b < 0x80)
            {
                i++;
                continue;
            }
            final int extra;
            int min;
            int cp;
            if (b >= 0xC2 && b <= 0xDF)
            {
                extra = 1;
                cp = b & 0x1F;
                min = 0x80;
            }
            else if (b >= 0xE0 && b <= 0xEF)
            {
                extra = 2;
                cp = b & 0x0F;
                min = 0x800;
            }
            else if (b >= 0xF0 && b <= 0xF4)
            {
                extra = 3;
                cp = b & 0x07;
                min = 0x10000;
            }
            else
            {
                return false;
            }
            if (i + extra >= end)
            {
                return false;
            }
            for (int k = 1; k <= extra; k++)
            {
                final int c = buffer.getByte(i + k) & 0xFF;
                if ((c & 0xC0) != 0x80)
                {
                    return false;
                }
                cp = (cp << 6) | (c & 0x3F);
            }
            if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            {
                return false;
            }
            i += extra + 1;
        }
        return true;
    }
}
