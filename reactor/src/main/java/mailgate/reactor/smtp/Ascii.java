package mailgate.reactor.smtp;

import org.agrona.DirectBuffer;

import java.nio.ByteOrder;

/**
 * Allocation-free ASCII helpers for parsing in place.
 */
public final class Ascii
{
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGHS = 0x8080808080808080L;
    private static final long CRS = 0x0D0D0D0D0D0D0D0DL;
    private static final long LFS = 0x0A0A0A0A0A0A0A0AL;

    private Ascii()
    {
    }

    /**
     * Find the first CR or LF, eight bytes per step: the DATA phase spends most of its time looking for line ends.
     *
     * @param buffer holds the bytes.
     * @param from   first index to look at.
     * @param to     index after the last one.
     * @return index of the first CR or LF in [from, to), or to when there is none.
     */
    public static int indexOfLineEnd(final DirectBuffer buffer, final int from, final int to)
    {
        int i = from;
        while (i <= to - Long.BYTES)
        {
            final long word = buffer.getLong(i, ByteOrder.LITTLE_ENDIAN);
            final long cr = word ^ CRS;
            final long lf = word ^ LFS;
            // a byte of cr or lf is zero where the input has CR or LF; (v - 1) & ~v & 0x80 flags the lowest such
            // byte exactly (a borrow can only flag bytes above it), and little-endian puts the lowest index lowest
            final long found = ((cr - ONES) & ~cr | (lf - ONES) & ~lf) & HIGHS;
            if (0 != found)
            {
                return i + (Long.numberOfTrailingZeros(found) >>> 3);
            }
            i += Long.BYTES;
        }
        while (i < to)
        {
            final byte b = buffer.getByte(i);
            if ('\r' == b || '\n' == b)
            {
                return i;
            }
            i++;
        }
        return to;
    }

    /**
     * @param b a byte.
     * @return the byte upper-cased if it is an ASCII letter, as a char.
     */
    public static char upper(final byte b)
    {
        return (char)(b >= 'a' && b <= 'z' ? b - 32 : b & 0xFF);
    }

    public static boolean isAlphaNumeric(final byte b)
    {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
    }

    public static boolean isUpperHex(final byte b)
    {
        return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');
    }

    /**
     * @param candidates upper-case ASCII words.
     * @param buffer     holding the word.
     * @param start      first byte.
     * @param end        after the last byte.
     * @return index of the candidate equal to the bytes ignoring case, or -1.
     */
    public static int indexOfIgnoreCase(
        final String[] candidates, final DirectBuffer buffer, final int start, final int end)
    {
        final int length = end - start;
        for (int c = 0; c < candidates.length; c++)
        {
            final String candidate = candidates[c];
            if (candidate.length() != length)
            {
                continue;
            }
            int i = 0;
            while (i < length && upper(buffer.getByte(start + i)) == candidate.charAt(i))
            {
                i++;
            }
            if (i == length)
            {
                return c;
            }
        }
        return -1;
    }
}
