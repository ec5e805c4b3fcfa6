/*
 * SUMMARY
 * The retry state of one queued message (attempts, next attempt time, recipients done or rejected, last
 * reply), kept durably in SPOOL/handoff/ID so a restarted handoff resumes where the last one stopped.
 *
 * DESCRIPTION
 * Written after every attempt that leaves recipients pending: handoff/ID.tmp is written and fsync'd, renamed
 * over handoff/ID, and handoff/ is fsync'd; a crash leaves the old state or the new one, never a torn file.
 * Removed after the message left queue/ (delivered or moved to failed/); a state file whose message is gone
 * (a crash between the two) is removed at the next start. Nothing else reads handoff/: smtpd's start-up
 * verification and the filter only look at tmp/, queue/ and quarantine/; inspect spool counts the files.
 *
 * Format (text, one key per line, after a version line):
 *   MAILGATE-HANDOFF 1
 *   attempts: 3
 *   next-attempt: 1795613338686          (epoch ms)
 *   last-reply: 451 4.3.0 try later
 *   done: 0 <a@example.com>              (index into the envelope's rcpt: lines, and the address)
 *   rejected: 2 <c@example.com> 550 5.1.1 no such user
 * A file that does not parse, or whose addresses do not match the envelope, is ignored with a warning: the
 * message is then tried for all recipients, a possible duplicate but never a loss.
 */
package mailgate.handoff;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Retry state of one message, in memory and on disk.
 */
final class RetryState
{
    static final String VERSION_LINE = "MAILGATE-HANDOFF 1";

    int attempts;
    long nextAttemptMs;
    String lastReply = "";
    /** Recipient index to address, for recipients the hop accepted. */
    final Map<Integer, String> done = new TreeMap<>();
    /** Recipient index to "address reply", for recipients the hop refused for good. */
    final Map<Integer, String> rejected = new TreeMap<>();
    /** Addresses by index as read from disk, checked against the envelope before first use. */
    private Map<Integer, String> unchecked;

    /**
     * @param message the message this state belongs to.
     * @return true when it can be used; false when it was read from a file that names other recipients.
     */
    boolean matches(final QueuedMessage message)
    {
        if (null == unchecked)
        {
            return true;
        }
        final List<QueuedMessage.Recipient> recipients = message.recipients();
        for (final Map.Entry<Integer, String> e : unchecked.entrySet())
        {
            if (e.getKey() >= recipients.size() || !recipients.get(e.getKey()).address().equals(e.getValue()))
            {
                return false;
            }
        }
        unchecked = null;
        return true;
    }

    /**
     * Replace the state file durably (tmp, fsync, rename, fsync of the directory).
     *
     * @param dir     SPOOL/handoff.
     * @param id      queue id.
     * @param message the message (for the addresses).
     * @throws IOException when the file cannot be written.
     */
    void write(final Path dir, final String id, final QueuedMessage message) throws IOException
    {
        final StringBuilder b = new StringBuilder(VERSION_LINE).append('\n')
            .append("attempts: ").append(attempts).append('\n')
            .append("next-attempt: ").append(nextAttemptMs).append('\n')
            .append("last-reply: ").append(oneLine(lastReply)).append('\n');
        done.forEach((i, address) -> b.append("done: ").append(i).append(" <").append(address).append(">\n"));
        rejected.forEach((i, reply) -> b.append("rejected: ").append(i).append(" <")
            .append(message.recipients().get(i).address()).append("> ").append(oneLine(reply)).append('\n'));
        final Path tmp = dir.resolve(id + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
        {
            final ByteBuffer bytes = ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining())
            {
                ch.write(bytes);
            }
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(id), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Handoff.fsyncDirectory(dir);
    }

    /**
     * @param file a state file.
     * @return the state it holds.
     * @throws IOException when unreadable or not in the format above.
     */
    static RetryState read(final Path file) throws IOException
    {
        final List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        if (lines.isEmpty() || !VERSION_LINE.equals(lines.get(0)))
        {
            throw new IOException(file + ": not a handoff state file");
        }
        final RetryState st = new RetryState();
        st.unchecked = new TreeMap<>();
        try
        {
            for (int n = 1; n < lines.size(); n++)
            {
                final String line = lines.get(n);
                final int colon = line.indexOf(": ");
                if (colon <= 0)
                {
                    throw new IOException(file + ":" + (n + 1) + ": expected key: value");
                }
                final String value = line.substring(colon + 2);
                switch (line.substring(0, colon))
                {
                    case "attempts" -> st.attempts = Integer.parseInt(value);
                    case "next-attempt" -> st.nextAttemptMs = Long.parseLong(value);
                    case "last-reply" -> st.lastReply = value;
                    case "done", "rejected" ->
                    {
                        final int space = value.indexOf(' ');
                        final int close = value.indexOf('>', space);
                        if (space <= 0 || close < 0 || '<' != value.charAt(space + 1))
                        {
                            throw new IOException(file + ":" + (n + 1) + ": expected INDEX <ADDRESS>");
                        }
                        final int index = Integer.parseInt(value.substring(0, space));
                        final String address = value.substring(space + 2, close);
                        st.unchecked.put(index, address);
                        if (line.startsWith("done"))
                        {
                            st.done.put(index, address);
                        }
                        else
                        {
                            st.rejected.put(index, value.substring(Math.min(value.length(), close + 2)));
                        }
                    }
                    default ->
                    {
                        // a later version's key: skip
                    }
                }
            }
        }
        catch (final NumberFormatException ex)
        {
            throw new IOException(file + ": bad number: " + ex.getMessage());
        }
        return st;
    }

    private static String oneLine(final String text)
    {
        return text.replace('\r', ' ').replace('\n', ' ');
    }
}
