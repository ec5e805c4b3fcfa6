package mailgate.reactor.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One queued spool file, parsed and checked independently of the daemon's own code: the envelope
 * ("key: value" lines, LF), a blank line, then the message = a prepended Received header + the message as
 * received. The size and crc32c fields are verified against the message bytes on reading.
 */
final class SpoolMessage
{
    static final String MAGIC = "MAILGATE-SPOOL 1";

    final Path file;
    final List<String> envelopeLines;
    final Map<String, List<String>> fields;
    final byte[] envelopeBytes;
    final byte[] messageBytes;
    final byte[] receivedHeader;
    final byte[] content;

    private SpoolMessage(final Path file, final byte[] all)
    {
        this.file = file;
        int blank = -1;
        for (int i = 0; i + 1 < all.length; i++)
        {
            if ('\n' == all[i] && '\n' == all[i + 1])
            {
                blank = i;
                break;
            }
        }
        if (blank < 0)
        {
            throw new AssertionError(file + ": no blank line after the envelope");
        }
        envelopeBytes = Arrays.copyOfRange(all, 0, blank + 1);
        messageBytes = Arrays.copyOfRange(all, blank + 2, all.length);
        final String envelope = new String(envelopeBytes, StandardCharsets.UTF_8);
        envelopeLines = List.of(envelope.substring(0, envelope.length() - 1).split("\n", -1));
        if (!MAGIC.equals(envelopeLines.get(0)))
        {
            throw new AssertionError(file + ": first line is not '" + MAGIC + "' but '" + envelopeLines.get(0) + "'");
        }
        final Map<String, List<String>> map = new HashMap<>();
        for (final String line : envelopeLines.subList(1, envelopeLines.size()))
        {
            final int colon = line.indexOf(": ");
            if (colon <= 0)
            {
                throw new AssertionError(file + ": envelope line is not 'key: value': '" + line + "'");
            }
            map.computeIfAbsent(line.substring(0, colon), (k) -> new ArrayList<>()).add(line.substring(colon + 2));
        }
        fields = Collections.unmodifiableMap(map);

        final String size = one("size");
        if (!size.matches("[0-9]{20}"))
        {
            throw new AssertionError(file + ": size field is not 20 digits: '" + size + "'");
        }
        if (Long.parseLong(size) != messageBytes.length)
        {
            throw new AssertionError(file + ": size field " + Long.parseLong(size) + " but the message has " +
                messageBytes.length + " bytes");
        }
        final String crc = one("crc32c");
        if (!crc.matches("[0-9a-f]{8}"))
        {
            throw new AssertionError(file + ": crc32c field is not 8 lower-case hex digits: '" + crc + "'");
        }
        final CRC32C crc32c = new CRC32C();
        crc32c.update(messageBytes);
        final String actualCrc = String.format(Locale.ROOT, "%08x", crc32c.getValue());
        if (!actualCrc.equals(crc))
        {
            throw new AssertionError(file + ": crc32c field " + crc + " but the message's CRC32C is " + actualCrc);
        }

        final int receivedEnd = receivedHeaderEnd(messageBytes);
        receivedHeader = Arrays.copyOfRange(messageBytes, 0, receivedEnd);
        content = Arrays.copyOfRange(messageBytes, receivedEnd, messageBytes.length);
    }

    /**
     * @param file a file in queue/.
     * @return it parsed, with size and checksum verified.
     * @throws IOException if it cannot be read.
     */
    static SpoolMessage read(final Path file) throws IOException
    {
        return new SpoolMessage(file, Files.readAllBytes(file));
    }

    /**
     * @param queueDir the queue directory.
     * @param reply    the final "250 2.0.0 Ok: queued as ID" reply (anything after "queued as ").
     * @return the message that reply names.
     * @throws IOException if it cannot be read.
     */
    static SpoolMessage forReply(final Path queueDir, final String reply) throws IOException
    {
        return read(queueDir.resolve(queueId(reply)));
    }

    static String queueId(final String reply)
    {
        final java.util.regex.Matcher m =
            java.util.regex.Pattern.compile("250 2\\.0\\.0 Ok: queued as ([A-Za-z0-9]+)").matcher(reply);
        if (!m.find())
        {
            throw new AssertionError("not a queued reply: '" + reply + "'");
        }
        return m.group(1);
    }

    /**
     * @return the number of files in queue/ (0 when it does not exist yet).
     */
    static int count(final Path queueDir) throws IOException
    {
        if (!Files.isDirectory(queueDir))
        {
            return 0;
        }
        try (var files = Files.list(queueDir))
        {
            return (int)files.count();
        }
    }

    String one(final String key)
    {
        final List<String> values = fields.get(key);
        if (null == values || 1 != values.size())
        {
            throw new AssertionError(file + ": expected exactly one '" + key + "' field, got " + values +
                "\n" + String.join("\n", envelopeLines));
        }
        return values.get(0);
    }

    List<String> all(final String key)
    {
        return fields.getOrDefault(key, List.of());
    }

    String contentText()
    {
        return new String(content, StandardCharsets.UTF_8);
    }

    String receivedText()
    {
        return new String(receivedHeader, StandardCharsets.UTF_8);
    }

    /**
     * The Received header: a first line "Received: from ", continuation lines starting with white space,
     * each ending in CRLF.
     */
    private int receivedHeaderEnd(final byte[] message)
    {
        final byte[] prefix = "Received: from ".getBytes(StandardCharsets.US_ASCII);
        if (message.length < prefix.length ||
            !Arrays.equals(Arrays.copyOfRange(message, 0, prefix.length), prefix))
        {
            throw new AssertionError(file + ": message does not start with 'Received: from '");
        }
        int lineStart = 0;
        while (true)
        {
            int crlf = -1;
            for (int i = lineStart; i + 1 < message.length; i++)
            {
                if ('\r' == message[i] && '\n' == message[i + 1])
                {
                    crlf = i;
                    break;
                }
                if ('\n' == message[i] || '\n' == message[i + 1])
                {
                    throw new AssertionError(file + ": Received header has a bare LF");
                }
            }
            if (crlf < 0)
            {
                throw new AssertionError(file + ": unterminated Received header");
            }
            lineStart = crlf + 2;
            if (lineStart >= message.length || (' ' != message[lineStart] && '\t' != message[lineStart]))
            {
                return lineStart;
            }
        }
    }

    public String toString()
    {
        return file + "\n" + String.join("\n", envelopeLines) + "\n\n" + new String(messageBytes, StandardCharsets.UTF_8);
    }
}
