/*
 * SUMMARY
 * Delivers into one Maildir: write tmp/NAME, fsync it, rename to new/NAME, fsync new/ (the Maildir spec's
 * tmp -> new protocol; a reader never sees a partial file).
 *
 * DESCRIPTION
 * Names are "epochseconds.Ppid_Qseq.hostname" (unique per the spec: pid and a per-process sequence within
 * one second on one host; '/' and ':' in the host name are written \057 and \072). The message part of the
 * spool file is copied byte for byte (it already starts with our Received header); recipients do not
 * change the file, so one copy serves all of them.
 */
package mailgate.handoff;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Maildir delivery.
 */
final class MaildirHop implements Hop
{
    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();

    private final Path root;
    private final String host;

    MaildirHop(final Path root, final String host)
    {
        this.root = root;
        this.host = host.replace("/", "\\057").replace(":", "\\072");
    }

    @Override
    public List<Reply> deliver(final QueuedMessage message, final List<QueuedMessage.Recipient> recipients)
    {
        Reply reply;
        try
        {
            final String name = deliverFile(message);
            reply = new Reply(250, "2.0.0 delivered to maildir as " + name);
        }
        catch (final IOException | RuntimeException ex)
        {
            reply = new Reply(451, "4.3.0 maildir " + root + ": " + ex);
        }
        final List<Reply> replies = new ArrayList<>();
        for (int i = 0; i < recipients.size(); i++)
        {
            replies.add(reply);
        }
        return replies;
    }

    private String deliverFile(final QueuedMessage message) throws IOException
    {
        final Path tmp = ensure(root.resolve("tmp"));
        final Path fresh = ensure(root.resolve("new"));
        ensure(root.resolve("cur"));
        final String name = System.currentTimeMillis() / 1000 + ".P" + PID + "_Q" + SEQUENCE.incrementAndGet() +
            "." + host;
        final Path tmpFile = tmp.resolve(name);
        try
        {
            try (FileChannel source = FileChannel.open(message.file(), StandardOpenOption.READ);
                 FileChannel target = FileChannel.open(tmpFile,
                     EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                     PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
            {
                long position = message.messageOffset();
                final long end = position + message.size();
                while (position < end)
                {
                    final long n = source.transferTo(position, end - position, target);
                    if (n <= 0)
                    {
                        throw new IOException(message.file() + ": short read");
                    }
                    position += n;
                }
                target.force(true);
            }
            Files.move(tmpFile, fresh.resolve(name), StandardCopyOption.ATOMIC_MOVE);
        }
        catch (final IOException ex)
        {
            Files.deleteIfExists(tmpFile);
            throw ex;
        }
        Handoff.fsyncDirectory(fresh);
        return name;
    }

    private static Path ensure(final Path dir) throws IOException
    {
        if (!Files.isDirectory(dir))
        {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        return dir;
    }

    @Override
    public void idle()
    {
    }

    @Override
    public void close()
    {
    }
}
