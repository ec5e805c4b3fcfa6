/*
 * SUMMARY
 * inspect spool: how many messages and bytes sit in each spool directory, how old the oldest queued one is,
 * a postqueue -p style listing, and an integrity check of every queued file.
 *
 * DESCRIPTION
 * tmp/ holds messages being received (their envelopes are not patched yet, so only files and bytes are
 * counted); queue/ holds accepted messages, each file's envelope is read; quarantine/ and failed/ are
 * counted when present (failed/ID.reason files are not messages: their bytes count, they do not). handoff/
 * holds the handoff's retry state, one small file per message it has deferred (docs/handoff.md); --list
 * shows that state under the message, as postqueue -p shows the deferral reason. --verify streams each queued
 * message part and checks it against the envelope's size and CRC32C fields, the same check a filter or the
 * delivery side makes.
 *
 * SECURITY
 * Read-only: opens files for reading, never follows symlinks inside the spool (they are counted as "other"
 * and reported), never writes, renames or locks. Run it as the daemon user (the spool is 0700).
 *
 * LIMITS
 * Opens every file in queue/ (the envelope only, unless verifying): O(queue length). Files that the delivery
 * side removes during the scan are skipped. The age of a message comes from its envelope's arrival field,
 * or the file's modification time when the envelope has none.
 */
package mailgate.tools;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The spool view of the inspection tool.
 */
public final class SpoolInspector
{
    /** Spool root when --spool is not given (the daemon's default). */
    public static final String DEFAULT_SPOOL = "./var/spool";

    static final String[] DIRECTORIES = { "tmp", "queue", "quarantine", "failed", "handoff" };
    private static final DateTimeFormatter ARRIVAL_FORMAT =
        DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault());
    private static final String LIST_INDENT = " ".repeat(16 + 1 + 8 + 1 + 20 + 1);

    private final PrintStream out;
    private Path spool = Path.of(DEFAULT_SPOOL);
    private boolean json;
    private boolean list;
    private boolean verify;
    private Path handoffDir;

    private SpoolInspector(final PrintStream out)
    {
        this.out = out;
    }

    /**
     * Run the view.
     *
     * @param args options after the view name.
     * @param out  where results go.
     * @return exit status: 0, or 1 when --verify found bad files.
     * @throws InspectException on bad usage or an unreadable spool.
     */
    public static int run(final List<String> args, final PrintStream out) throws InspectException
    {
        final SpoolInspector inspector = new SpoolInspector(out);
        inspector.parse(args);
        return inspector.inspect();
    }

    private void parse(final List<String> args) throws InspectException
    {
        final Options options = new Options("spool", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            switch (Options.flag(arg))
            {
                case "--spool":
                    spool = Path.of(options.value(arg));
                    break;
                case "--json":
                    json = true;
                    break;
                case "--list":
                    list = true;
                    break;
                case "--verify":
                    verify = true;
                    break;
                default:
                    throw InspectException.usage("spool: unknown option '" + arg + "'");
            }
        }
    }

    private int inspect() throws InspectException
    {
        final Path root = spool.toAbsolutePath().normalize();
        if (!Files.isDirectory(root))
        {
            throw InspectException.unreadable(
                (Files.exists(root) ? "not a directory: " : "no spool directory at ") + root);
        }
        final Path queueDir = root.resolve("queue");
        if (!Files.isDirectory(queueDir, LinkOption.NOFOLLOW_LINKS))
        {
            throw InspectException.unreadable("not a spool (no queue/ directory): " + queueDir);
        }
        final long nowMs = System.currentTimeMillis();
        handoffDir = root.resolve("handoff");
        final List<DirectoryStats> directories = new ArrayList<>();
        final List<QueuedFile> queued = new ArrayList<>();
        for (final String name : DIRECTORIES)
        {
            directories.add(scan(root.resolve(name), name, "queue".equals(name) ? queued : null));
        }
        queued.sort(Comparator.comparingLong(QueuedFile::arrivalMs).thenComparing(QueuedFile::name));
        final DirectoryStats queue = directories.get(1);
        int bad = 0;
        for (final QueuedFile file : queued)
        {
            queue.messageBytes += Math.max(0, file.messageSize());
            if (file.arrivalMs() < queue.oldestArrivalMs)
            {
                queue.oldestArrivalMs = file.arrivalMs();
                queue.oldestName = file.name;
            }
            if (null != file.envelope.problem)
            {
                bad++;
            }
        }
        if (json)
        {
            printJson(root, nowMs, directories, queued, bad);
        }
        else
        {
            printText(root, nowMs, directories, queued, bad);
        }
        return verify && bad > 0 ? InspectMain.EXIT_FAILURE : InspectMain.EXIT_OK;
    }

    private DirectoryStats scan(final Path dir, final String name, final List<QueuedFile> queued)
        throws InspectException
    {
        final DirectoryStats stats = new DirectoryStats(name);
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
        {
            return stats;
        }
        stats.present = true;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir))
        {
            for (final Path file : files)
            {
                final BasicFileAttributes attributes;
                try
                {
                    attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                }
                catch (final NoSuchFileException ignore)
                {
                    continue;
                }
                if (!attributes.isRegularFile())
                {
                    stats.other++;
                    continue;
                }
                if (null != queued)
                {
                    final SpoolEnvelope envelope;
                    try
                    {
                        envelope = SpoolEnvelope.read(file, verify);
                    }
                    catch (final NoSuchFileException ignore)
                    {
                        continue;
                    }
                    final String fileName = file.getFileName().toString();
                    if (verify && null == envelope.problem && null != envelope.id && !envelope.id.equals(fileName))
                    {
                        envelope.problem = "envelope id " + envelope.id + " differs from the file name";
                    }
                    queued.add(new QueuedFile(
                        fileName, attributes.size(), attributes.lastModifiedTime().toMillis(), envelope));
                }
                stats.bytes += attributes.size();
                final String entry = file.getFileName().toString();
                if (!("failed".equals(name) && entry.endsWith(".reason")) &&
                    !("handoff".equals(name) && entry.endsWith(".tmp")))
                {
                    stats.messages++;
                }
            }
        }
        catch (final IOException ex)
        {
            throw InspectException.unreadable("cannot read " + dir + ": " + ex);
        }
        return stats;
    }

    private void printText(
        final Path root, final long nowMs, final List<DirectoryStats> directories, final List<QueuedFile> queued,
        final int bad)
    {
        out.println("spool " + root);
        out.printf("  %-12s %10s %16s  %s%n", "directory", "messages", "bytes", "oldest");
        for (final DirectoryStats dir : directories)
        {
            if (!dir.present)
            {
                out.printf("  %-12s %10s %16s  %s%n", dir.name, "-", "-", "(absent)");
                continue;
            }
            final String oldest = null == dir.oldestName ? "" :
                InspectMain.formatDuration(nowMs - dir.oldestArrivalMs) + " (" + dir.oldestName + ")";
            out.printf("  %-12s %,10d %,16d  %s%n", dir.name, dir.messages, dir.bytes, oldest);
            if (dir.other > 0)
            {
                out.printf("  warning: %d entr%s in %s/ not regular files (symlinks, directories)%n",
                    dir.other, 1 == dir.other ? "y" : "ies", dir.name);
            }
        }
        if (list)
        {
            out.println();
            printList(queued);
        }
        if (verify)
        {
            out.println();
            out.println("verify: " + queued.size() + " checked, " + bad + " bad");
            for (final QueuedFile file : queued)
            {
                if (null != file.envelope.problem)
                {
                    out.println("BAD queue/" + file.name + ": " + file.envelope.problem);
                }
            }
        }
    }

    private void printList(final List<QueuedFile> queued)
    {
        if (queued.isEmpty())
        {
            out.println("Mail queue is empty");
            return;
        }
        out.printf("%-16s %8s %-20s %s%n", "----Queue ID----", "--Size--", "----Arrival Time----",
            "-Sender/Recipient-------");
        long totalBytes = 0;
        for (final QueuedFile file : queued)
        {
            final SpoolEnvelope envelope = file.envelope;
            final long size = file.messageSize();
            totalBytes += Math.max(0, size);
            final String sender = null == envelope.sender ? "?" :
                envelope.sender.isEmpty() ? "MAILER-DAEMON" : envelope.sender;
            out.printf("%-16s %8s %-20s %s%n", file.id(), size < 0 ? "?" : Long.toString(size),
                ARRIVAL_FORMAT.format(Instant.ofEpochMilli(file.arrivalMs())), sender);
            final String retry = retryState(file.name);
            if (null != retry)
            {
                out.println(LIST_INDENT + "(" + retry + ")");
            }
            for (final String recipient : envelope.recipients)
            {
                out.println(LIST_INDENT + recipient);
            }
            if (null != envelope.problem && null == envelope.sender)
            {
                out.println(LIST_INDENT + "(" + envelope.problem + ")");
            }
            out.println();
        }
        out.println("-- " + (totalBytes + 1023) / 1024 + " Kbytes in " + queued.size() + " Request" +
            (1 == queued.size() ? "." : "s."));
    }

    /**
     * @param id a queue id.
     * @return "handoff: attempt N, next retry at T, last reply: R" from handoff/ID, or null when there is none.
     */
    private String retryState(final String id)
    {
        final Path file = handoffDir.resolve(id);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        try
        {
            String attempts = "?";
            String next = "?";
            String reply = "";
            for (final String line : Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8))
            {
                if (line.startsWith("attempts: "))
                {
                    attempts = line.substring("attempts: ".length());
                }
                else if (line.startsWith("next-attempt: "))
                {
                    next = ARRIVAL_FORMAT.format(Instant.ofEpochMilli(
                        Long.parseLong(line.substring("next-attempt: ".length()).strip())));
                }
                else if (line.startsWith("last-reply: "))
                {
                    reply = line.substring("last-reply: ".length());
                }
            }
            return "handoff: attempt " + attempts + ", next " + next + (reply.isEmpty() ? "" : ", last reply: " + reply);
        }
        catch (final IOException | RuntimeException ex)
        {
            return "handoff: unreadable retry state: " + ex.getMessage();
        }
    }

    private void printJson(
        final Path root, final long nowMs, final List<DirectoryStats> directories, final List<QueuedFile> queued,
        final int bad)
    {
        final StringBuilder sb = new StringBuilder(1024);
        sb.append('{');
        Json.key(sb, "spool");
        Json.string(sb, root.toString()).append(',');
        Json.key(sb, "timestampMs").append(nowMs).append(',');
        Json.key(sb, "directories").append('{');
        for (int i = 0; i < directories.size(); i++)
        {
            final DirectoryStats dir = directories.get(i);
            if (i > 0)
            {
                sb.append(',');
            }
            Json.key(sb, dir.name).append('{');
            Json.key(sb, "present").append(dir.present).append(',');
            Json.key(sb, "messages").append(dir.messages).append(',');
            Json.key(sb, "bytes").append(dir.bytes).append(',');
            Json.key(sb, "other").append(dir.other);
            if ("queue".equals(dir.name))
            {
                sb.append(',');
                Json.key(sb, "messageBytes").append(dir.messageBytes).append(',');
                Json.key(sb, "oldestId");
                Json.string(sb, dir.oldestName).append(',');
                Json.key(sb, "oldestAgeMs").append(null == dir.oldestName ? "null" : nowMs - dir.oldestArrivalMs);
            }
            sb.append('}');
        }
        sb.append('}');
        if (list)
        {
            sb.append(',');
            Json.key(sb, "queue").append('[');
            for (int i = 0; i < queued.size(); i++)
            {
                final QueuedFile file = queued.get(i);
                final SpoolEnvelope envelope = file.envelope;
                if (i > 0)
                {
                    sb.append(',');
                }
                sb.append('{');
                Json.key(sb, "id");
                Json.string(sb, file.id()).append(',');
                Json.key(sb, "file");
                Json.string(sb, "queue/" + file.name).append(',');
                Json.key(sb, "size").append(file.messageSize() < 0 ? "null" : file.messageSize()).append(',');
                Json.key(sb, "fileBytes").append(file.fileBytes).append(',');
                Json.key(sb, "arrivalMs").append(file.arrivalMs()).append(',');
                Json.key(sb, "sender");
                Json.string(sb, envelope.sender).append(',');
                Json.key(sb, "recipients").append('[');
                for (int r = 0; r < envelope.recipients.size(); r++)
                {
                    if (r > 0)
                    {
                        sb.append(',');
                    }
                    Json.string(sb, envelope.recipients.get(r));
                }
                sb.append("],");
                Json.key(sb, "problem");
                Json.string(sb, envelope.problem).append('}');
            }
            sb.append(']');
        }
        if (verify)
        {
            sb.append(',');
            Json.key(sb, "verify").append('{');
            Json.key(sb, "checked").append(queued.size()).append(',');
            Json.key(sb, "bad").append('[');
            boolean first = true;
            for (final QueuedFile file : queued)
            {
                if (null != file.envelope.problem)
                {
                    if (!first)
                    {
                        sb.append(',');
                    }
                    first = false;
                    sb.append('{');
                    Json.key(sb, "file");
                    Json.string(sb, "queue/" + file.name).append(',');
                    Json.key(sb, "problem");
                    Json.string(sb, file.envelope.problem).append('}');
                }
            }
            sb.append("]}");
        }
        sb.append('}');
        out.println(sb);
    }

    private static final class DirectoryStats
    {
        final String name;
        boolean present;
        long messages;
        long bytes;
        long other;
        long messageBytes;
        long oldestArrivalMs = Long.MAX_VALUE;
        String oldestName;

        DirectoryStats(final String name)
        {
            this.name = name;
        }
    }

    private static final class QueuedFile
    {
        final String name;
        final long fileBytes;
        final long modifiedMs;
        final SpoolEnvelope envelope;

        QueuedFile(final String name, final long fileBytes, final long modifiedMs, final SpoolEnvelope envelope)
        {
            this.name = name;
            this.fileBytes = fileBytes;
            this.modifiedMs = modifiedMs;
            this.envelope = envelope;
        }

        String name()
        {
            return name;
        }

        /**
         * @return the queue id: the file name, as the spool contract makes it (the envelope's copy may lie).
         */
        String id()
        {
            return name;
        }

        long arrivalMs()
        {
            return envelope.arrivalMs >= 0 ? envelope.arrivalMs : modifiedMs;
        }

        /**
         * @return bytes after the envelope, or -1 when the envelope is incomplete.
         */
        long messageSize()
        {
            return envelope.headerLength < 0 ? -1 : fileBytes - envelope.headerLength;
        }
    }
}
