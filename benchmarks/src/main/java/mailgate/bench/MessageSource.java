/*
 * SUMMARY
 * The messages the load generator sends: either generated (headers From/To/Subject/Message-ID/Date and filler lines
 * of printable ASCII up to --size bytes) or the .eml files of a directory, round-robin.
 *
 * Each message exists in two wire forms: raw (CRLF lines, for BDAT) and dot-stuffed with the "." terminator (for
 * DATA). Both are built once; per message only the generated header block (sequence number, date) is written into a
 * per-session scratch buffer, so sending a message allocates nothing for generated content.
 *
 * Size counts the raw message bytes (before dot-stuffing), which is what MB/s reports.
 */
package mailgate.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Message content for the load generator, generated to a size or read from .eml files.
 */
public final class MessageSource
{
    /** Bytes of a filler line before CRLF; well below the 998 limit of RFC 5322. */
    static final int FILLER_LINE_LENGTH = 76;

    private static final int SEQ_DIGITS = 12;
    private static final long SEQ_MODULUS = 1_000_000_000_000L;
    private static final byte[] TERMINATOR = ".\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final DateTimeFormatter DATE_FORMAT =
        DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss Z", Locale.ENGLISH).withZone(ZoneOffset.UTC);
    private static final int DATE_FORMAT_LENGTH = DATE_FORMAT.format(Instant.EPOCH).length();

    private final byte[] headerTemplate;
    private final int subjectSeqOffset;
    private final int messageIdSeqOffset;
    private final int dateOffset;
    private final byte[] fillerRaw;
    private final byte[] fillerStuffed;
    private final byte[][] emlRaw;
    private final byte[][] emlStuffed;
    private long dateSecond = Long.MIN_VALUE;

    private MessageSource(
        final byte[] headerTemplate,
        final int subjectSeqOffset,
        final int messageIdSeqOffset,
        final int dateOffset,
        final byte[] fillerRaw,
        final byte[][] emlRaw)
    {
        this.headerTemplate = headerTemplate;
        this.subjectSeqOffset = subjectSeqOffset;
        this.messageIdSeqOffset = messageIdSeqOffset;
        this.dateOffset = dateOffset;
        this.fillerRaw = fillerRaw;
        this.fillerStuffed = null == fillerRaw ? null : dotStuff(fillerRaw);
        this.emlRaw = emlRaw;
        if (null != emlRaw)
        {
            emlStuffed = new byte[emlRaw.length][];
            for (int i = 0; i < emlRaw.length; i++)
            {
                emlStuffed[i] = dotStuff(emlRaw[i]);
            }
        }
        else
        {
            emlStuffed = null;
        }
    }

    /**
     * Generated messages of a fixed size.
     *
     * @param size       total raw bytes per message (headers included); at least the header block is sent.
     * @param from       From address.
     * @param recipients To addresses.
     * @param domain     right-hand side of Message-ID.
     * @return the source.
     */
    public static MessageSource generated(final int size, final String from, final String[] recipients,
        final String domain)
    {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("From: <").append(from).append(">\r\n");
        sb.append("To: ");
        for (int i = 0; i < recipients.length; i++)
        {
            sb.append(i > 0 ? ",\r\n " : "").append('<').append(recipients[i]).append('>');
        }
        sb.append("\r\n");
        sb.append("Subject: mailgate load test ");
        final int subjectSeqOffset = sb.length();
        sb.append("0".repeat(SEQ_DIGITS)).append("\r\n");
        sb.append("Message-ID: <");
        final int messageIdSeqOffset = sb.length();
        sb.append("0".repeat(SEQ_DIGITS)).append('.')
            .append(String.format("%016x", ThreadLocalRandom.current().nextLong()))
            .append('@').append(domain).append(">\r\n");
        sb.append("Date: ");
        final int dateOffset = sb.length();
        sb.append(DATE_FORMAT.format(Instant.EPOCH)).append("\r\n");
        sb.append("MIME-Version: 1.0\r\n");
        sb.append("Content-Type: text/plain; charset=us-ascii\r\n");
        sb.append("\r\n");
        final byte[] template = sb.toString().getBytes(StandardCharsets.US_ASCII);

        return new MessageSource(
            template, subjectSeqOffset, messageIdSeqOffset, dateOffset, filler(size - template.length), null);
    }

    /**
     * The given .eml files, sent round-robin; line ends are normalised to CRLF.
     *
     * @param files the files.
     * @return the source.
     * @throws IOException when a file cannot be read.
     */
    public static MessageSource eml(final List<Path> files) throws IOException
    {
        final byte[][] raw = new byte[files.size()][];
        for (int i = 0; i < raw.length; i++)
        {
            raw[i] = toCrlf(Files.readAllBytes(files.get(i)));
        }
        return new MessageSource(null, 0, 0, 0, null, raw);
    }

    /**
     * @return capacity a per-session scratch buffer needs for {@link #fill}.
     */
    public int scratchCapacity()
    {
        return null == headerTemplate ? 0 : headerTemplate.length;
    }

    /**
     * @param seq message sequence number.
     * @return raw size of that message in bytes (before dot-stuffing).
     */
    public int size(final long seq)
    {
        if (null != emlRaw)
        {
            return emlRaw[(int)(seq % emlRaw.length)].length;
        }
        return headerTemplate.length + fillerRaw.length;
    }

    /**
     * Set up the buffers that carry one message.
     *
     * @param seq        message sequence number.
     * @param dotStuffed true for DATA (dot-stuffed, "." terminator included), false for BDAT (raw).
     * @param scratch    per-session buffer of {@link #scratchCapacity()} bytes, overwritten.
     * @param out        receives the buffers, ready to write; slots are reused when they already wrap the same bytes.
     * @param offset     first slot of out to use.
     * @return number of slots used.
     */
    public int fill(final long seq, final boolean dotStuffed, final ByteBuffer scratch, final ByteBuffer[] out,
        final int offset)
    {
        if (null != emlRaw)
        {
            final int index = (int)(seq % emlRaw.length);
            out[offset] = reuse(out[offset], dotStuffed ? emlStuffed[index] : emlRaw[index]);
            return 1;
        }

        final byte[] header = scratch.array();
        System.arraycopy(headerTemplate, 0, header, 0, headerTemplate.length);
        writeDigits(header, subjectSeqOffset, seq);
        writeDigits(header, messageIdSeqOffset, seq);
        writeDate(header);
        scratch.clear().limit(headerTemplate.length);
        out[offset] = scratch;
        out[offset + 1] = reuse(out[offset + 1], dotStuffed ? fillerStuffed : fillerRaw);
        return 2;
    }

    /**
     * Dot-stuff raw CRLF content and append the end-of-data line (RFC 5321 section 4.5.2).
     *
     * @param raw content whose lines end in CRLF (a missing final CRLF is added).
     * @return the DATA form, ending in CRLF "." CRLF.
     */
    static byte[] dotStuff(final byte[] raw)
    {
        int dots = 0;
        for (int i = 0; i < raw.length; i++)
        {
            if ('.' == raw[i] && (0 == i || '\n' == raw[i - 1]))
            {
                dots++;
            }
        }
        final boolean needsCrlf = raw.length > 0 && !(raw.length >= 2 && '\r' == raw[raw.length - 2] &&
            '\n' == raw[raw.length - 1]);
        final byte[] stuffed = new byte[raw.length + dots + (needsCrlf ? 2 : 0) + TERMINATOR.length];
        int j = 0;
        for (int i = 0; i < raw.length; i++)
        {
            if ('.' == raw[i] && (0 == i || '\n' == raw[i - 1]))
            {
                stuffed[j++] = '.';
            }
            stuffed[j++] = raw[i];
        }
        if (needsCrlf)
        {
            stuffed[j++] = '\r';
            stuffed[j++] = '\n';
        }
        System.arraycopy(TERMINATOR, 0, stuffed, j, TERMINATOR.length);
        return stuffed;
    }

    /**
     * Normalise line ends: bare LF and bare CR become CRLF; a final CRLF is added when missing.
     *
     * @param in file bytes.
     * @return CRLF content.
     */
    static byte[] toCrlf(final byte[] in)
    {
        final ByteBuffer out = ByteBuffer.allocate(in.length * 2 + 2);
        for (int i = 0; i < in.length; i++)
        {
            final byte b = in[i];
            if ('\r' == b)
            {
                out.put((byte)'\r').put((byte)'\n');
                if (i + 1 < in.length && '\n' == in[i + 1])
                {
                    i++;
                }
            }
            else if ('\n' == b)
            {
                out.put((byte)'\r').put((byte)'\n');
            }
            else
            {
                out.put(b);
            }
        }
        final int n = out.position();
        if (n < 2 || '\n' != out.get(n - 1))
        {
            out.put((byte)'\r').put((byte)'\n');
        }
        final byte[] result = new byte[out.position()];
        out.flip().get(result);
        return result;
    }

    /**
     * Filler lines of printable ASCII totalling exactly length bytes (CRLF included) where possible. Every 32nd line
     * starts with '.' so that the server's dot-unstuffing is exercised.
     *
     * @param length bytes wanted; 0 or less gives no filler.
     * @return the filler.
     */
    static byte[] filler(final int length)
    {
        if (length <= 1)
        {
            return new byte[0];
        }
        final byte[] filler = new byte[length];
        int position = 0;
        int lineNo = 0;
        while (position < length)
        {
            final int remaining = length - position;
            int lineBytes = Math.min(FILLER_LINE_LENGTH + 2, remaining);
            if (remaining - lineBytes == 1)
            {
                lineBytes--;
            }
            final int text = lineBytes - 2;
            for (int i = 0; i < text; i++)
            {
                // printable ASCII 0x21..0x7e, shifted per line so that lines differ
                filler[position + i] = (byte)(0x21 + ((lineNo * 7 + i) % 94));
            }
            if (text > 0 && 0 == lineNo % 32)
            {
                filler[position] = '.';
            }
            filler[position + text] = '\r';
            filler[position + text + 1] = '\n';
            position += lineBytes;
            lineNo++;
        }
        return filler;
    }

    private static ByteBuffer reuse(final ByteBuffer slot, final byte[] bytes)
    {
        if (null != slot && slot.hasArray() && slot.array() == bytes && slot.arrayOffset() == 0)
        {
            slot.clear();
            return slot;
        }
        return ByteBuffer.wrap(bytes);
    }

    private static void writeDigits(final byte[] dst, final int offset, final long seq)
    {
        long value = seq % SEQ_MODULUS;
        for (int i = offset + SEQ_DIGITS - 1; i >= offset; i--)
        {
            dst[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }

    private void writeDate(final byte[] header)
    {
        final long second = System.currentTimeMillis() / 1000;
        if (second != dateSecond)
        {
            dateSecond = second;
            final byte[] date = DATE_FORMAT.format(Instant.ofEpochSecond(second)).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(date, 0, headerTemplate, dateOffset, date.length);
        }
        System.arraycopy(headerTemplate, dateOffset, header, dateOffset, DATE_FORMAT_LENGTH);
    }
}
