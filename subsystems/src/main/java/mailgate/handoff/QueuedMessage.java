/*
 * SUMMARY
 * The envelope of one queue/ file (docs/spool-format.md) and where its message part starts.
 */
package mailgate.handoff;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A parsed spool file envelope.
 *
 * @param id            queue id (the file name).
 * @param file          the file in queue/.
 * @param arrival       epoch milliseconds of acceptance.
 * @param sender        MAIL FROM path without brackets (empty for the null sender).
 * @param mailParams    ESMTP parameters of MAIL FROM, as sent by the client.
 * @param recipients    one per rcpt: line, in order.
 * @param messageOffset where the message part starts in the file.
 * @param size          length of the message part.
 */
record QueuedMessage(
    String id,
    Path file,
    long arrival,
    String sender,
    List<String> mailParams,
    List<Recipient> recipients,
    long messageOffset,
    long size)
{
    /**
     * @param address path without brackets.
     * @param params  ESMTP parameters as sent (NOTIFY, ORCPT).
     */
    record Recipient(String address, List<String> params)
    {
    }

    private static final int MAX_ENVELOPE = 1 << 20;

    /**
     * @param file a complete spool file.
     * @return its envelope.
     * @throws IOException when unreadable or not in the spool format.
     */
    static QueuedMessage read(final Path file) throws IOException
    {
        final byte[] head;
        try (InputStream in = Files.newInputStream(file))
        {
            head = in.readNBytes(MAX_ENVELOPE);
        }
        int end = -1;
        for (int i = 0; i + 1 < head.length; i++)
        {
            if ('\n' == head[i] && '\n' == head[i + 1])
            {
                end = i;
                break;
            }
        }
        if (end < 0)
        {
            throw new IOException(file + ": no end of envelope");
        }
        final String[] lines = new String(head, 0, end, StandardCharsets.UTF_8).split("\n");
        if (!lines[0].startsWith("MAILGATE-SPOOL "))
        {
            throw new IOException(file + ": not a spool file");
        }
        String id = file.getFileName().toString();
        long arrival = -1;
        long size = -1;
        String sender = null;
        List<String> mailParams = List.of();
        final List<Recipient> recipients = new ArrayList<>();
        for (int i = 1; i < lines.length; i++)
        {
            final String line = lines[i];
            final int colon = line.indexOf(": ");
            if (colon <= 0)
            {
                continue;
            }
            final String key = line.substring(0, colon);
            final String value = line.substring(colon + 2);
            switch (key)
            {
                case "id" -> id = value;
                case "arrival" -> arrival = Long.parseLong(value.strip());
                case "size" -> size = Long.parseLong(value.strip());
                case "mail" ->
                {
                    final String[] path = path(value, file);
                    sender = path[0];
                    mailParams = params(path[1]);
                }
                case "rcpt" ->
                {
                    final String[] path = path(value, file);
                    recipients.add(new Recipient(path[0], params(path[1])));
                }
                default ->
                {
                    // later versions add keys: skip
                }
            }
        }
        if (null == sender || recipients.isEmpty() || size < 0)
        {
            throw new IOException(file + ": envelope lacks mail:, rcpt: or size:");
        }
        return new QueuedMessage(id, file, arrival < 0 ? System.currentTimeMillis() : arrival, sender, mailParams,
            List.copyOf(recipients), end + 2L, size);
    }

    private static String[] path(final String value, final Path file) throws IOException
    {
        final int close = value.indexOf('>');
        if (!value.startsWith("<") || close < 0)
        {
            throw new IOException(file + ": bad path " + value);
        }
        return new String[]{value.substring(1, close), value.substring(close + 1).strip()};
    }

    private static List<String> params(final String text)
    {
        return text.isEmpty() ? List.of() : List.of(text.split(" +"));
    }

    /**
     * @return true when the envelope asks for SMTPUTF8.
     */
    boolean utf8()
    {
        return mailParams.stream().anyMatch((p) -> p.equalsIgnoreCase("SMTPUTF8"));
    }
}
