/*
 * SUMMARY
 * The spool: tmp/ for messages being received, queue/ for accepted ones, the delivery side's input.
 *
 * DESCRIPTION
 * A message is written to tmp/ID, renamed to queue/ID and made durable with the rest of its batch before
 * its 250 goes out: by one syncfs of the spool's file system, or by an fsync of every file and of queue/
 * (spool.sync; see SpoolSyncer for the group commit). At start, whatever is left in tmp/ belongs to
 * messages whose client never got a 250 and is removed.
 *
 * SECURITY
 * The spool root, tmp/ and queue/ are checked like every rendezvous directory (owner, mode 0700, no symlink);
 * files are created 0600 with O_EXCL so a planted file is never written through.
 */
package mailgate.reactor.spool;

import mailgate.ipc.RendezvousDirectory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The spool directories, queue ids and crash recovery.
 */
public final class Spool implements AutoCloseable
{
    static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path root;
    private final Path tmpDir;
    private final Path queueDir;
    private final Path quarantineDir;
    private final FileChannel quarantineDirChannel;
    private final FileChannel queueDirChannel;
    private final FileChannel lockChannel;
    private final SpoolSyncer syncer;
    private final FileSystemSync fileSystemSync;
    private volatile long syncErrors;
    private final int recoveredTmpFiles;
    private final List<String> corruptFiles = new ArrayList<>();

    /**
     * Open (creating as needed) the spool under root and clean tmp/.
     *
     * @param root        spool root.
     * @param syncThreads threads that issue fsyncs concurrently (their journal commits are shared).
     */
    public Spool(final Path root, final int syncThreads)
    {
        this(root, syncThreads, SyncMode.AUTO);
    }

    /**
     * Open (creating as needed) the spool under root and clean tmp/.
     *
     * @param root        spool root.
     * @param syncThreads threads that issue fsyncs concurrently in fsync mode.
     * @param syncMode    how a group commit is made durable.
     */
    public Spool(final Path root, final int syncThreads, final SyncMode syncMode)
    {
        this.root = RendezvousDirectory.ensure(root, "spool");
        this.tmpDir = RendezvousDirectory.ensure(this.root.resolve("tmp"), "spool tmp");
        this.queueDir = RendezvousDirectory.ensure(this.root.resolve("queue"), "spool queue");
        this.quarantineDir = RendezvousDirectory.ensure(this.root.resolve("quarantine"), "spool quarantine");
        try
        {
            final Path lockFile = this.root.resolve("lock");
            this.lockChannel = FileChannel.open(lockFile, java.util.Set.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, java.nio.file.LinkOption.NOFOLLOW_LINKS), FILE_MODE);
            if (null == tryLock(lockChannel))
            {
                lockChannel.close();
                throw new IllegalStateException("spool " + this.root + " is in use by another mailgate process");
            }
            this.queueDirChannel = FileChannel.open(queueDir, StandardOpenOption.READ);
            this.quarantineDirChannel = FileChannel.open(quarantineDir, StandardOpenOption.READ);
            this.recoveredTmpFiles = removeTmpFiles();
            final Path corrupt = RendezvousDirectory.ensure(this.root.resolve("corrupt"), "spool corrupt");
            corruptFiles.addAll(SpoolVerifier.verifyAll(queueDir, corrupt));
            corruptFiles.addAll(SpoolVerifier.verifyAll(quarantineDir, corrupt));
            this.fileSystemSync = SyncMode.FSYNC == syncMode ? null :
                FileSystemSync.openIfUsable(this.root, tmpDir, queueDir, quarantineDir);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("spool " + this.root + ": " + ex.getMessage(), ex);
        }
        if (SyncMode.SYNCFS == syncMode && null == fileSystemSync)
        {
            throw new IllegalStateException("spool " + this.root + ": spool.sync = syncfs needs Linux 5.8 or later " +
                "and tmp/, queue/ and quarantine/ on one file system; use auto or fsync");
        }
        this.syncer = new SpoolSyncer(this, null == fileSystemSync ? syncThreads : 1);
    }

    /**
     * How a group commit is made durable (spool.sync).
     */
    public enum SyncMode
    {
        /** syncfs where usable, else fsync. */
        AUTO,
        /** One syncfs of the spool's file system per batch; refuse to start where it is not usable. */
        SYNCFS,
        /** An fsync of every file and of queue/ per batch, issued concurrently. */
        FSYNC
    }

    /**
     * @return "syncfs" or "fsync": what a group commit does here.
     */
    public String syncMethod()
    {
        return null == fileSystemSync ? "fsync" : "syncfs";
    }

    /**
     * @return the file-system sync, or null in fsync mode.
     */
    FileSystemSync fileSystemSync()
    {
        return fileSystemSync;
    }

    public Path root()
    {
        return root;
    }

    public Path tmpDir()
    {
        return tmpDir;
    }

    public Path queueDir()
    {
        return queueDir;
    }

    /**
     * @return where the content filter's QUARANTINE verdict puts messages (same format as queue/).
     */
    public Path quarantineDir()
    {
        return quarantineDir;
    }

    public SpoolSyncer syncer()
    {
        return syncer;
    }

    /**
     * @return how many partial files the start-up found in tmp/ and removed.
     */
    public int recoveredTmpFiles()
    {
        return recoveredTmpFiles;
    }

    /**
     * @return queue ids of incomplete files found in queue/ or quarantine/ at start and moved to corrupt/
     *         (left by an operating-system crash during a group commit; their clients got no 250).
     */
    public List<String> corruptFiles()
    {
        return corruptFiles;
    }

    /**
     * @return how many group commits have failed so far (files remember it when opened).
     */
    long syncErrors()
    {
        return syncErrors;
    }

    /** Syncer thread: a group commit failed. */
    void onSyncError()
    {
        syncErrors++;
    }

    /**
     * @param quarantine also check quarantine/.
     * @return false when the directories can no longer be written (the file system went read-only).
     */
    boolean stillWritable(final boolean quarantine)
    {
        return Files.isWritable(queueDir) && (!quarantine || Files.isWritable(quarantineDir));
    }

    /**
     * Make renames in queue/ durable.
     *
     * @throws IOException if the directory cannot be synced.
     */
    void syncQueueDir() throws IOException
    {
        queueDirChannel.force(true);
    }

    /**
     * Make renames in quarantine/ durable.
     *
     * @throws IOException if the directory cannot be synced.
     */
    void syncQuarantineDir() throws IOException
    {
        quarantineDirChannel.force(true);
    }

    /**
     * Make a queue id: 11 hex digits of epoch milliseconds, 1 of event loop, 4 of a per-loop sequence.
     * Unique within a host as long as one loop queues fewer than 65,536 messages in one millisecond; the
     * O_EXCL create catches the impossible rest.
     *
     * @param epochMs  wall clock.
     * @param loopId   0..15.
     * @param sequence per loop.
     * @return 16 upper-case hex digits.
     */
    public static String queueId(final long epochMs, final int loopId, final long sequence)
    {
        final char[] id = new char[16];
        long v = (epochMs << 20) | ((long)(loopId & 0xF) << 16) | (sequence & 0xFFFF);
        for (int i = 15; i >= 0; i--)
        {
            id[i] = Character.toUpperCase(Character.forDigit((int)(v & 0xF), 16));
            v >>>= 4;
        }
        return new String(id);
    }

    private static java.nio.channels.FileLock tryLock(final FileChannel channel) throws IOException
    {
        try
        {
            return channel.tryLock();
        }
        catch (final java.nio.channels.OverlappingFileLockException ex)
        {
            return null;
        }
    }

    private int removeTmpFiles() throws IOException
    {
        int removed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(tmpDir))
        {
            for (final Path file : files)
            {
                Files.delete(file);
                removed++;
            }
        }
        return removed;
    }

    public void close()
    {
        syncer.close();
        if (null != fileSystemSync)
        {
            fileSystemSync.close();
        }
        try
        {
            queueDirChannel.close();
            quarantineDirChannel.close();
            lockChannel.close();
        }
        catch (final IOException ignore)
        {
            // closing a read-only directory handle loses nothing
        }
    }
}
