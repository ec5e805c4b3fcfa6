package mailgate.reactor.crash;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * An independent reader of spool queue files (docs/spool-format.md): "MAILGATE-SPOOL 1", "key: value"
 * lines, a 20-digit size and an 8-hex-digit CRC32C of the message part, a blank line, then the message part:
 * the prepended Received header followed by the message as received.
 */
final class QueueFile
{
    static final String MAGIC = "MAILGATE-SPOOL 1";

    final String name;
    final Map<String, List<String>> fields;
    final byte[] messagePart;
    final String receivedHeader;
    final byte[] content;

    private QueueFile(
        final String name, final Map<String, List<String>> fields, final byte[] messagePart,
        final String receivedHeader, final byte[] content)
    {
        this.name = name;
        this.fields = fields;
        this.messagePart = messagePart;
        this.receivedHeader = receivedHeader;
        this.content = content;
    }

    String field(final String key)
    {
        final List<String> values = fields.get(key);
        return null == values ? null : values.get(0);
    }

    /**
     * The value of the first header of the content with this name (unfolded lines only).
     *
     * @param header header name without colon.
     * @return the value or null.
     */
    String contentHeader(final String header)
    {
        return header(content, header);
    }

    static String header(final byte[] content, final String header)
    {
        final String text = new String(content, 0, Math.min(content.length, 4096), StandardCharsets.ISO_8859_1);
        final String prefix = header + ": ";
        for (final String line : text.split("\r\n"))
        {
            if (line.isEmpty())
            {
                return null;
            }
            if (line.startsWith(prefix))
            {
                return line.substring(prefix.length());
            }
        }
        return null;
    }

    /**
     * Parse and verify a queue file.
     *
     * @param file queue/ID.
     * @return the parsed file.
     * @throws IOException if it cannot be read.
     * @throws MalformedException if it is not a complete, consistent queue file.
     */
    static QueueFile parse(final Path file) throws IOException, MalformedException
    {
        final String name = file.getFileName().toString();
        final byte[] bytes = Files.readAllBytes(file);
        int position = 0;
        final Map<String, List<String>> fields = new LinkedHashMap<>();
        boolean first = true;
        while (true)
        {
            final int lineEnd = indexOf(bytes, (byte)'\n', position);
            if (lineEnd < 0)
            {
                throw new MalformedException(name + ": envelope not terminated (" + bytes.length + " bytes)");
            }
            final String line = new String(bytes, position, lineEnd - position, StandardCharsets.UTF_8);
            position = lineEnd + 1;
            if (first)
            {
                if (!MAGIC.equals(line))
                {
                    throw new MalformedException(name + ": first line is '" + line + "', not " + MAGIC);
                }
                first = false;
                continue;
            }
            if (line.isEmpty())
            {
                break;
            }
            final int colon = line.indexOf(": ");
            if (colon <= 0)
            {
                throw new MalformedException(name + ": envelope line without 'key: ': '" + line + "'");
            }
            fields.computeIfAbsent(line.substring(0, colon), (k) -> new ArrayList<>()).add(line.substring(colon + 2));
        }
        final List<String> sizes = fields.get("size");
        final List<String> crcs = fields.get("crc32c");
        if (null == sizes || 1 != sizes.size() || !sizes.get(0).matches("[0-9]{20}"))
        {
            throw new MalformedException(name + ": bad size field " + sizes);
        }
        if (null == crcs || 1 != crcs.size() || !crcs.get(0).matches("[0-9a-f]{8}"))
        {
            throw new MalformedException(name + ": bad crc32c field " + crcs);
        }
        final byte[] messagePart = Arrays.copyOfRange(bytes, position, bytes.length);
        final long size = Long.parseLong(sizes.get(0));
        if (size != messagePart.length)
        {
            throw new MalformedException(name + ": size field " + size + " but message part has " +
                messagePart.length + " bytes");
        }
        final CRC32C crc = new CRC32C();
        crc.update(messagePart);
        final String actualCrc = String.format("%08x", crc.getValue());
        if (!actualCrc.equals(crcs.get(0)))
        {
            throw new MalformedException(name + ": crc32c field " + crcs.get(0) + " but message part has " + actualCrc);
        }
        if (!name.equals(fieldOrNull(fields, "id")))
        {
            throw new MalformedException(name + ": id field is " + fields.get("id"));
        }
        // Received header: "Received: ..." CRLF, then continuation lines beginning with TAB
        final byte[] receivedPrefix = "Received: ".getBytes(StandardCharsets.US_ASCII);
        if (messagePart.length < receivedPrefix.length ||
            !Arrays.equals(messagePart, 0, receivedPrefix.length, receivedPrefix, 0, receivedPrefix.length))
        {
            throw new MalformedException(name + ": message part does not start with a Received header");
        }
        int end = 0;
        do
        {
            final int lf = indexOf(messagePart, (byte)'\n', end);
            if (lf < 1 || '\r' != messagePart[lf - 1])
            {
                throw new MalformedException(name + ": Received header line not ended by CRLF");
            }
            end = lf + 1;
        }
        while (end < messagePart.length && '\t' == messagePart[end]);
        final String received = new String(messagePart, 0, end, StandardCharsets.UTF_8);
        return new QueueFile(name, fields, messagePart, received,
            Arrays.copyOfRange(messagePart, end, messagePart.length));
    }

    private static String fieldOrNull(final Map<String, List<String>> fields, final String key)
    {
        final List<String> values = fields.get(key);
        return null == values ? null : values.get(0);
    }

    private static int indexOf(final byte[] bytes, final byte b, final int from)
    {
        for (int i = from; i < bytes.length; i++)
        {
            if (b == bytes[i])
            {
                return i;
            }
        }
        return -1;
    }

    /** A queue file that is partial or inconsistent. */
    static final class MalformedException extends Exception
    {
        private static final long serialVersionUID = 1L;

        MalformedException(final String message)
        {
            super(message);
        }
    }
}
