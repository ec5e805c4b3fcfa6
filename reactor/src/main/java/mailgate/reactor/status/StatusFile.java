/*
 * SUMMARY
 * A memory-mapped file holding the daemon's counters, readable by the inspection tool while the daemon
 * runs and after it died (post-mortem).
 *
 * DESCRIPTION
 * Layout (little-endian):
 *   0   int   magic 0x4D47_5354 ("MGST")
 *   4   int   version
 *   8   long  pid of the writer
 *   16  long  start time, epoch ms
 *   24  long  heartbeat, epoch ms (the daemon's housekeeping bumps it)
 *   32  int   metadata length, 36 int values length
 *   40  int   length of the owner path, then from 44 its UTF-8 bytes: the status directory (spool's run/)
 *   4096      Agrona CountersManager metadata, then values
 *
 * WHERE
 * On tmpfs when the machine has /dev/shm: /dev/shm/mailgate-USER/counters/KEY-counters.dat, KEY naming the
 * spool's run/ directory (its real path's SHA-256, 16 hex digits). A counters page of a file on the spool's
 * file system would be written back by every group commit (one syncfs per batch) and write-protected again, so
 * the next counter update after each commit took a page fault: 0.43 faults and one more disk block per batch per
 * message in case b. Without a usable /dev/shm the file is run/counters.dat, as before; readers look for the
 * tmpfs file first ({@link #find(Path)}). A file there outlives its daemon for post-mortem reading until its
 * spool is gone: each start removes the files whose writer is dead and whose owner directory no longer exists.
 *
 * SECURITY
 * Created 0600; both directories are checked like the spool (RendezvousDirectory: not a symlink, our uid, 0700),
 * by the daemon before it writes and by readers before they trust what they read.
 */
package mailgate.reactor.status;

import mailgate.ipc.IpcChannels;
import mailgate.ipc.RendezvousDirectory;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;
import org.agrona.concurrent.status.CountersReader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The daemon's mapped counters file.
 */
public final class StatusFile implements AutoCloseable
{
    public static final int MAGIC = 0x4D47_5354;
    public static final int VERSION = 1;
    public static final int PID_OFFSET = 8;
    public static final int START_OFFSET = 16;
    public static final int HEARTBEAT_OFFSET = 24;
    public static final int METADATA_LENGTH_OFFSET = 32;
    public static final int VALUES_LENGTH_OFFSET = 36;
    public static final int OWNER_LENGTH_OFFSET = 40;
    public static final int OWNER_OFFSET = 44;
    public static final int HEADER_LENGTH = 4096;
    public static final int DEFAULT_VALUES_LENGTH = 128 * 1024;
    /** File name inside the status directory. */
    public static final String FILE_NAME = "counters.dat";

    private final MappedByteBuffer mapped;
    private final UnsafeBuffer header;
    private final UnsafeBuffer metadata;
    private final UnsafeBuffer values;
    private Path path;

    private StatusFile(final MappedByteBuffer mapped, final int metadataLength, final int valuesLength)
    {
        this.mapped = mapped;
        this.header = new UnsafeBuffer(mapped, 0, HEADER_LENGTH);
        this.metadata = new UnsafeBuffer(mapped, HEADER_LENGTH, metadataLength);
        this.values = new UnsafeBuffer(mapped, HEADER_LENGTH + metadataLength, valuesLength);
    }

    /**
     * Create the daemon's counters file for a status directory: on tmpfs when it can be had safely, else in the
     * status directory. The file in the other place, left by an earlier run, is removed so readers never find it.
     *
     * @param statusDir    the spool's run/ directory (exists).
     * @param valuesLength bytes for values.
     * @return the mapped file.
     */
    public static StatusFile createFor(final Path statusDir, final int valuesLength)
    {
        final Path onDisk = statusDir.resolve(FILE_NAME);
        Path onTmpfs = null;
        try
        {
            final String runDir = statusDir.toRealPath().toString();
            onTmpfs = tmpfsFile(runDir);
            if (null != onTmpfs)
            {
                RendezvousDirectory.ensure(onTmpfs.getParent().getParent(), "shared memory");
                RendezvousDirectory.ensure(onTmpfs.getParent(), "counters");
                removeOrphans(onTmpfs.getParent());
                final StatusFile status = create(onTmpfs, valuesLength);
                status.owner(runDir);
                Files.deleteIfExists(onDisk);
                return status;
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // a squatted or unusable /dev/shm: the spool's own directory is always there
            deleteQuietly(onTmpfs);
        }
        return create(onDisk, valuesLength);
    }

    /**
     * Where a reader finds the counters of the smtpd that uses a status directory.
     *
     * @param statusDir the spool's run/ directory.
     * @return the tmpfs file when it exists in safe directories, else run/counters.dat (which may not exist).
     */
    public static Path find(final Path statusDir)
    {
        try
        {
            final Path onTmpfs = tmpfsFile(statusDir.toRealPath().toString());
            if (null != onTmpfs && Files.isRegularFile(onTmpfs, LinkOption.NOFOLLOW_LINKS))
            {
                RendezvousDirectory.verify(onTmpfs.getParent().getParent(), "shared memory");
                RendezvousDirectory.verify(onTmpfs.getParent(), "counters");
                return onTmpfs;
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // not usable: fall through to the spool's own directory
        }
        return statusDir.resolve(FILE_NAME);
    }

    /**
     * @return where this file is.
     */
    public Path path()
    {
        return path;
    }

    /**
     * @param runDir the status directory's real path.
     * @return its counters file on tmpfs, or null when there is no /dev/shm.
     */
    private static Path tmpfsFile(final String runDir)
    {
        final Path shm = IpcChannels.userSharedMemoryDir();
        if (null == shm)
        {
            return null;
        }
        final byte[] digest;
        try
        {
            digest = MessageDigest.getInstance("SHA-256").digest(runDir.getBytes(StandardCharsets.UTF_8));
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
        return shm.resolve("counters").resolve(HexFormat.of().formatHex(digest, 0, 8) + "-" + FILE_NAME);
    }

    /**
     * Remove the counters files of spools that no longer exist (temporary spools, a moved installation) whose
     * writer is not running; a file that cannot be read is left alone.
     */
    private static void removeOrphans(final Path dir)
    {
        try (java.util.stream.Stream<Path> files = Files.list(dir))
        {
            files.filter((f) -> f.getFileName().toString().endsWith("-" + FILE_NAME))
                .filter(StatusFile::isOrphan)
                .forEach(StatusFile::deleteQuietly);
        }
        catch (final IOException | RuntimeException ignore)
        {
            // tidying only
        }
    }

    private static boolean isOrphan(final Path file)
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(HEADER_LENGTH)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
            while (header.hasRemaining() && channel.read(header) > 0)
            {
                // read the whole header
            }
            if (header.position() < HEADER_LENGTH || MAGIC != header.getInt(0))
            {
                return false;
            }
            final int ownerLength = header.getInt(OWNER_LENGTH_OFFSET);
            if (ownerLength <= 0 || ownerLength > HEADER_LENGTH - OWNER_OFFSET)
            {
                return false;
            }
            final byte[] owner = new byte[ownerLength];
            header.get(OWNER_OFFSET, owner);
            final boolean writerAlive = ProcessHandle.of(header.getLong(PID_OFFSET)).map(ProcessHandle::isAlive)
                .orElse(false);
            return !writerAlive && !Files.isDirectory(Path.of(new String(owner, StandardCharsets.UTF_8)));
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;
        }
    }

    private void owner(final String runDir)
    {
        final byte[] bytes = runDir.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= HEADER_LENGTH - OWNER_OFFSET)
        {
            header.putBytes(OWNER_OFFSET, bytes);
            header.putIntVolatile(OWNER_LENGTH_OFFSET, bytes.length);
        }
    }

    private static void deleteQuietly(final Path file)
    {
        if (null != file)
        {
            try
            {
                Files.deleteIfExists(file);
            }
            catch (final IOException | RuntimeException ignore)
            {
                // a reader checks the directories before it trusts a file there
            }
        }
    }

    /**
     * Create (replacing an old one) and map the file.
     *
     * @param file         path of the file.
     * @param valuesLength bytes for values; metadata gets 4 times as much, as Agrona requires.
     * @return the mapped file, header written.
     */
    public static StatusFile create(final Path file, final int valuesLength)
    {
        final int metadataLength = valuesLength * (CountersReader.METADATA_LENGTH / CountersReader.COUNTER_LENGTH);
        final long length = (long)HEADER_LENGTH + metadataLength + valuesLength;
        try
        {
            final Path tmp = file.resolveSibling(file.getFileName() + ".new");
            Files.deleteIfExists(tmp);
            try (FileChannel channel = FileChannel.open(tmp,
                java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
            {
                channel.truncate(length);
                final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, length);
                final StatusFile status = new StatusFile(mapped, metadataLength, valuesLength);
                status.path = file;
                status.header.putInt(METADATA_LENGTH_OFFSET, metadataLength);
                status.header.putInt(VALUES_LENGTH_OFFSET, valuesLength);
                status.header.putLong(PID_OFFSET, ProcessHandle.current().pid());
                status.header.putLong(START_OFFSET, System.currentTimeMillis());
                status.heartbeat(System.currentTimeMillis());
                status.header.putInt(4, VERSION);
                status.header.putIntVolatile(0, MAGIC);
                Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                return status;
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("status file " + file + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * @return a manager to allocate counters in this file (single allocating thread).
     */
    public CountersManager newCountersManager()
    {
        return new CountersManager(metadata, values);
    }

    /**
     * @param epochMs now.
     */
    public void heartbeat(final long epochMs)
    {
        header.putLongRelease(HEARTBEAT_OFFSET, epochMs);
    }

    public void close()
    {
        IoUtil.unmap(mapped);
    }
}
