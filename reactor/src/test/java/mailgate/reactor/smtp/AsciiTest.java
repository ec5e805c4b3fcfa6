package mailgate.reactor.smtp;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The eight-bytes-at-a-time line-end scan finds exactly what a byte-by-byte scan finds.
 */
class AsciiTest
{
    private static int naive(final UnsafeBuffer buffer, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            final byte b = buffer.getByte(i);
            if ('\r' == b || '\n' == b)
            {
                return i;
            }
        }
        return to;
    }

    @Test
    void everyWindowOfSmallBuffersAgreesWithAByteScan()
    {
        // bytes next to CR and LF in value (0x0B, 0x0C, 0x0E, 0x09), high-bit bytes and 0x8D/0x8A (CR/LF | 0x80),
        // which a careless zero-byte trick reports as matches
        final byte[] alphabet = {'a', '.', ' ', 0x09, 0x0B, 0x0C, 0x0E, (byte)0x8D, (byte)0x8A, (byte)0xFF, 0x00,
            (byte)0x80, 0x01, '\r', '\n'};
        final Random random = new Random(20261205);
        final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(40));
        for (int round = 0; round < 3_000; round++)
        {
            final int cuts = random.nextInt(4);
            for (int i = 0; i < buffer.capacity(); i++)
            {
                // mostly plain bytes, a line end now and then: long runs exercise the eight-byte steps
                final int pick = random.nextInt(alphabet.length - 2 + cuts);
                buffer.putByte(i, alphabet[Math.min(pick, alphabet.length - 1)]);
            }
            for (int from = 0; from < buffer.capacity(); from++)
            {
                for (int to = from; to <= buffer.capacity(); to++)
                {
                    assertEquals(naive(buffer, from, to), Ascii.indexOfLineEnd(buffer, from, to),
                        "from " + from + " to " + to + " in round " + round);
                }
            }
        }
    }

    @Test
    void findsTheLineEndInEachPositionOfAWord()
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
        for (final byte end : new byte[]{'\r', '\n'})
        {
            for (int at = 0; at < 64; at++)
            {
                buffer.setMemory(0, 64, (byte)'x');
                buffer.putByte(at, end);
                assertEquals(at, Ascii.indexOfLineEnd(buffer, 0, 64));
                assertEquals(at, Ascii.indexOfLineEnd(buffer, at, 64));
                assertEquals(at, Ascii.indexOfLineEnd(buffer, 0, at), "not before " + at + " in [0, " + at + ")");
            }
        }
    }
}
