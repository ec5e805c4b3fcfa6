/*
 * SUMMARY
 * Reader for the envelope at the head of a spool file (format: reactor's SpoolFormat and SpoolFile).
 *
 * DESCRIPTION
 *   MAILGATE-SPOOL 1\n
 *   id: <queue id>\n  arrival: <epoch ms>\n  client-address: ..\n  helo: ..\n  protocol: ..\n
 *   mail: <sender> [params]\n  rcpt: <recipient> [params]\n (one per recipient)
 *   size: <20 decimal digits>\n  crc32c: <8 hex digits>\n
 *   \n
 *   message bytes, exactly "size" of them, whose CRC32C is "crc32c".
 * Unknown keys are skipped, so a newer writer with more fields is still readable.
 *
 * SECURITY
 * Opens without following symlinks; the envelope is capped at MAX_ENVELOPE_LENGTH so a junk file
 * cannot make the tool read it whole into memory. Values are kept as text, never interpreted as paths.
 *
 * LIMITS
 * The message part is only read (streamed) when verifying.
 */
package mailgate.tools;

import mailgate.reactor.spool.SpoolFormat;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The parsed envelope of one spool file, with what is wrong with it if anything.
 */
final class SpoolEnvelope
{
    /** Longest envelope accepted (a thousand recipients of 512 bytes fit with room to spare). */
    static final int MAX_ENVELOPE_LENGTH = 1024 * 1024;

    private static final byte[] MAGIC = SpoolFormat.MAGIC.getBytes(StandardCharsets.US_ASCII);

    String id;
    long arrivalMs = -1;
    String sender;
    final List<String> recipients = new ArrayList<>();
    long declaredSize = -1;
    long declaredCrc = -1;
    /** Bytes of envelope including the blank line, or -1 when no complete envelope was found. */
    int headerLength = -1;
    /** Bytes after the envelope, when the file was read to its end (verify), else -1. */
    long actualSize = -1;
    long actualCrc = -1;
    /** Null when the envelope is complete (and, if verified, the message matches it). */
    String problem;

    /**
     * Read the envelope and optionally verify the message part.
     *
     * @param file   spool file (not followed if a symlink).
     * @param verify stream the message part, check size and CRC32C.
     * @return the envelope; {@link #problem} says what is wrong.
     * @throws IOException when the file cannot be opened or read (e.g. it vanished).
     */
    static SpoolEnvelope read(final Path file, final boolean verify) throws IOException
    {
        final SpoolEnvelope envelope = new SpoolEnvelope();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS), 16384))
        {
            envelope.parse(in);
            if (verify && null == envelope.problem)
            {
                envelope.verify(in);
            }
        }
        return envelope;
    }

    private void parse(final InputStream in) throws IOException
    {
        byte[] line = new byte[512];
        int consumed = 0;
        int lineNumber = 0;
        while (true)
        {
            int length = 0;
            int b;
            while ((b = in.read()) >= 0 && '\n' != b)
            {
                if (consumed + length + 1 >= MAX_ENVELOPE_LENGTH)
                {
                    problem = "envelope longer than " + MAX_ENVELOPE_LENGTH + " bytes";
                    return;
                }
                if (length == line.length)
                {
                    line = Arrays.copyOf(line, Math.min(line.length * 2, MAX_ENVELOPE_LENGTH));
                }
                line[length++] = (byte)b;
            }
            if (b < 0)
            {
                problem = 0 == consumed + length ? "empty file" :
                    "incomplete envelope (end of file after " + (consumed + length) + " bytes, no blank line)";
                return;
            }
            consumed += length + 1;
            lineNumber++;
            if (1 == lineNumber)
            {
                if (!startsWith(line, length, MAGIC) || length != MAGIC.length)
                {
                    problem = "not a spool file (first line is not \"" + SpoolFormat.MAGIC + "\")";
                    return;
                }
                continue;
            }
            if (0 == length)
            {
                headerLength = consumed;
                break;
            }
            if (!field(line, length))
            {
                problem = "malformed envelope line " + lineNumber;
                return;
            }
        }
        if (declaredSize < 0)
        {
            problem = "incomplete envelope (no valid size field)";
            headerLength = -1;
        }
        else if (declaredCrc < 0)
        {
            problem = "incomplete envelope (no valid crc32c field)";
            headerLength = -1;
        }
    }

    private boolean field(final byte[] line, final int length)
    {
        int colon = 0;
        while (colon < length && ':' != line[colon])
        {
            colon++;
        }
        if (colon == length || colon + 1 == length || ' ' != line[colon + 1])
        {
            return false;
        }
        final String key = new String(line, 0, colon, StandardCharsets.US_ASCII);
        final int valueStart = colon + 2;
        final int valueLength = length - valueStart;
        switch (key)
        {
            case "id":
                id = new String(line, valueStart, valueLength, StandardCharsets.UTF_8);
                break;
            case "arrival":
                arrivalMs = parseDecimal(line, valueStart, valueLength, 19);
                break;
            case "mail":
                sender = address(new String(line, valueStart, valueLength, StandardCharsets.UTF_8));
                break;
            case "rcpt":
                recipients.add(address(new String(line, valueStart, valueLength, StandardCharsets.UTF_8)));
                break;
            case "size":
                declaredSize = SpoolFormat.SIZE_DIGITS == valueLength ?
                    parseDecimal(line, valueStart, valueLength, SpoolFormat.SIZE_DIGITS) : -1;
                break;
            case "crc32c":
                declaredCrc = SpoolFormat.CRC_DIGITS == valueLength ? parseHex(line, valueStart, valueLength) : -1;
                break;
            default:
                break;
        }
        return true;
    }

    private void verify(final InputStream in) throws IOException
    {
        final CRC32C crc = new CRC32C();
        final byte[] chunk = new byte[65536];
        long size = 0;
        int read;
        while ((read = in.read(chunk)) > 0)
        {
            crc.update(chunk, 0, read);
            size += read;
        }
        actualSize = size;
        actualCrc = crc.getValue();
        if (size != declaredSize)
        {
            problem = "size mismatch: envelope says " + declaredSize + ", message part has " + size + " bytes";
        }
        else if (actualCrc != declaredCrc)
        {
            problem = "crc32c mismatch: envelope says " + String.format("%08x", declaredCrc) +
                ", message part has " + String.format("%08x", actualCrc);
        }
    }

    /**
     * The address from "&lt;address&gt; params", honouring quoted local parts that may hold '&gt;'.
     *
     * @param value envelope value.
     * @return the address without angle brackets ("" for the null sender).
     */
    static String address(final String value)
    {
        if (value.isEmpty() || '<' != value.charAt(0))
        {
            return value;
        }
        boolean quoted = false;
        for (int i = 1, length = value.length(); i < length; i++)
        {
            final char c = value.charAt(i);
            if ('\\' == c && quoted)
            {
                i++;
            }
            else if ('"' == c)
            {
                quoted = !quoted;
            }
            else if ('>' == c && !quoted)
            {
                return value.substring(1, i);
            }
        }
        return value.substring(1);
    }

    private static boolean startsWith(final byte[] line, final int length, final byte[] prefix)
    {
        if (length < prefix.length)
        {
            return false;
        }
        for (int i = 0; i < prefix.length; i++)
        {
            if (line[i] != prefix[i])
            {
                return false;
            }
        }
        return true;
    }

    private static long parseDecimal(final byte[] src, final int offset, final int length, final int maxDigits)
    {
        if (0 == length || length > maxDigits)
        {
            return -1;
        }
        long value = 0;
        for (int i = offset, end = offset + length; i < end; i++)
        {
            final int digit = src[i] - '0';
            if (digit < 0 || digit > 9 || value > (Long.MAX_VALUE - digit) / 10)
            {
                return -1;
            }
            value = value * 10 + digit;
        }
        return value;
    }

    private static long parseHex(final byte[] src, final int offset, final int length)
    {
        long value = 0;
        for (int i = offset, end = offset + length; i < end; i++)
        {
            final int digit = Character.digit(src[i], 16);
            if (digit < 0)
            {
                return -1;
            }
            value = (value << 4) | digit;
        }
        return value;
    }
}
