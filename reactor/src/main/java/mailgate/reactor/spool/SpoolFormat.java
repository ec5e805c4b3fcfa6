/*
 * SUMMARY
 * Layout of a spool file, as documented in docs/spool-format.md: envelope lines, a blank line, the message.
 *
 * DESCRIPTION
 * The envelope is "key: value" lines ending in LF, in UTF-8 (addresses may be UTF-8 under SMTPUTF8).
 * Size and checksum are unknown when the envelope is written, so they are fixed-width fields patched
 * in place at end of data; a reader finds them at fixed places relative to their keys.
 */
package mailgate.reactor.spool;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the envelope part of a spool file.
 */
public final class SpoolFormat
{
    /** First line of every spool file; the number is the format version. */
    public static final String MAGIC = "MAILGATE-SPOOL 1";
    /** Digits of the zero-padded decimal size field. */
    public static final int SIZE_DIGITS = 20;
    /** Hex digits of the CRC32C field. */
    public static final int CRC_DIGITS = 8;

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private final MutableDirectBuffer buffer;
    private int position;
    private int sizeFieldOffset;
    private int crcFieldOffset;

    /**
     * @param buffer an expandable buffer to encode into, reused message after message.
     */
    public SpoolFormat(final MutableDirectBuffer buffer)
    {
        this.buffer = buffer;
    }

    /**
     * Start a new envelope.
     *
     * @return this.
     */
    public SpoolFormat begin()
    {
        position = 0;
        line(MAGIC);
        return this;
    }

    /**
     * Add "key: value" with an ASCII value.
     *
     * @param key   field name.
     * @param value ASCII text without line ends.
     * @return this.
     */
    public SpoolFormat field(final String key, final String value)
    {
        position += buffer.putStringWithoutLengthAscii(position, key);
        position += buffer.putStringWithoutLengthAscii(position, ": ");
        position += buffer.putStringWithoutLengthAscii(position, value);
        buffer.putByte(position++, (byte)'\n');
        return this;
    }

    /**
     * Add "key: value" with a decimal value.
     *
     * @param key   field name.
     * @param value number.
     * @return this.
     */
    public SpoolFormat field(final String key, final long value)
    {
        position += buffer.putStringWithoutLengthAscii(position, key);
        position += buffer.putStringWithoutLengthAscii(position, ": ");
        position += buffer.putLongAscii(position, value);
        buffer.putByte(position++, (byte)'\n');
        return this;
    }

    /**
     * Add "key: " followed by raw bytes (UTF-8 allowed, no line ends).
     *
     * @param key    field name.
     * @param src    bytes.
     * @param offset first byte.
     * @param length number of bytes.
     * @return this.
     */
    public SpoolFormat field(final String key, final DirectBuffer src, final int offset, final int length)
    {
        position += buffer.putStringWithoutLengthAscii(position, key);
        position += buffer.putStringWithoutLengthAscii(position, ": ");
        buffer.putBytes(position, src, offset, length);
        position += length;
        buffer.putByte(position++, (byte)'\n');
        return this;
    }

    /**
     * Add lines already in envelope form ("mail: ...\n", "rcpt: ...\n").
     *
     * @param src    bytes.
     * @param offset first byte.
     * @param length number of bytes.
     * @return this.
     */
    public SpoolFormat lines(final DirectBuffer src, final int offset, final int length)
    {
        buffer.putBytes(position, src, offset, length);
        position += length;
        return this;
    }

    /**
     * Close the envelope with the patchable size and checksum fields and the blank line.
     *
     * @return total envelope length in bytes.
     */
    public int end()
    {
        position += buffer.putStringWithoutLengthAscii(position, "size: ");
        sizeFieldOffset = position;
        for (int i = 0; i < SIZE_DIGITS; i++)
        {
            buffer.putByte(position++, (byte)'0');
        }
        buffer.putByte(position++, (byte)'\n');
        position += buffer.putStringWithoutLengthAscii(position, "crc32c: ");
        crcFieldOffset = position;
        for (int i = 0; i < CRC_DIGITS; i++)
        {
            buffer.putByte(position++, (byte)'0');
        }
        buffer.putByte(position++, (byte)'\n');
        buffer.putByte(position++, (byte)'\n');
        return position;
    }

    public int sizeFieldOffset()
    {
        return sizeFieldOffset;
    }

    public int crcFieldOffset()
    {
        return crcFieldOffset;
    }

    public int length()
    {
        return position;
    }

    private void line(final String text)
    {
        position += buffer.putStringWithoutLengthAscii(position, text);
        buffer.putByte(position++, (byte)'\n');
    }

    /**
     * Write a zero-padded decimal.
     *
     * @param dst    buffer to put into at its position.
     * @param value  non-negative number.
     * @param digits field width.
     */
    public static void putDigits(final ByteBuffer dst, final long value, final int digits)
    {
        long v = value;
        final int start = dst.position();
        for (int i = digits - 1; i >= 0; i--)
        {
            dst.put(start + i, (byte)('0' + (v % 10)));
            v /= 10;
        }
        dst.position(start + digits);
    }

    /**
     * Write 8 lower-case hex digits.
     *
     * @param dst   buffer to put into at its position.
     * @param value 32 bits.
     */
    public static void putHex(final ByteBuffer dst, final int value)
    {
        for (int shift = 28; shift >= 0; shift -= 4)
        {
            dst.put(HEX[(value >>> shift) & 0xF]);
        }
    }
}
