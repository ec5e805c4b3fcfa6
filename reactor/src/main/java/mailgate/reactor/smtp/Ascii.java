package mailgate.reactor.smtp;

import org.agrona.DirectBuffer;

/**
 * Allocation-free ASCII helpers for parsing in place.
 */
public final class Ascii
{
    private Ascii()
    {
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
