/*
 * SUMMARY
 * syncfs(2) on the spool's file system: one call makes every file and directory entry of a batch durable.
 *
 * DESCRIPTION
 * A group commit of N files by fsync costs N inode writes and, on a file system without a journal, N cache
 * flushes (each fsync flushes on its own; measured on the benchmark machine: 2x the CPU per file and a third
 * of the rate of no sync at all). syncfs writes back all dirty data and metadata of the file system and
 * flushes the disk cache once, so the batch costs one flush whatever its size.
 *
 * LIMITS
 * It also writes back what other programs left dirty on the same file system, so a busy neighbour lengthens
 * the batch: give the spool its own file system, or set spool.sync = fsync (docs/tuning.md). Since Linux 5.8
 * syncfs reports write-back errors of the file system since the descriptor was opened; before that it could
 * not, which is why auto picks it only on 5.8 and later. Linux only (JNA calls libc); elsewhere auto is fsync.
 */
package mailgate.reactor.spool;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * A descriptor on the spool's file system and the syncfs call that flushes all of it.
 */
public final class FileSystemSync implements AutoCloseable
{
    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0x10000;
    private static final int O_NOFOLLOW = 0x20000;
    private static final int O_CLOEXEC = 0x80000;

    /** The libc calls used, mapped once. */
    interface LibC extends Library
    {
        int open(String path, int flags) throws LastErrorException;

        int syncfs(int fd) throws LastErrorException;

        int close(int fd) throws LastErrorException;
    }

    private final Path directory;
    private final LibC libc;
    private int fd;

    private FileSystemSync(final Path directory, final LibC libc, final int fd)
    {
        this.directory = directory;
        this.libc = libc;
        this.fd = fd;
    }

    /**
     * Open a descriptor on the file system that holds every one of the directories.
     *
     * @param directories spool directories whose renames and files a commit must make durable.
     * @return the sync, or null when this platform has no syncfs or the directories span file systems.
     * @throws IOException when the directories cannot be examined.
     */
    public static FileSystemSync openIfUsable(final Path... directories) throws IOException
    {
        if (!isLinuxWithErrorReporting())
        {
            return null;
        }
        final Object device = Files.getAttribute(directories[0], "unix:dev", LinkOption.NOFOLLOW_LINKS);
        for (final Path d : directories)
        {
            if (!device.equals(Files.getAttribute(d, "unix:dev", LinkOption.NOFOLLOW_LINKS)))
            {
                return null;
            }
        }
        final LibC libc;
        try
        {
            libc = Native.load("c", LibC.class);
        }
        catch (final UnsatisfiedLinkError | RuntimeException ex)
        {
            return null;
        }
        try
        {
            final int fd = libc.open(directories[0].toString(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            return new FileSystemSync(directories[0], libc, fd);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("open " + directories[0] + ": errno " + ex.getErrorCode(), ex);
        }
    }

    /**
     * Write back and flush everything dirty on the file system.
     *
     * @throws IOException when the kernel reports a write-back error: nothing of the batch may be acknowledged.
     */
    public void sync() throws IOException
    {
        try
        {
            libc.syncfs(fd);
        }
        catch (final LastErrorException ex)
        {
            throw new IOException("syncfs " + directory + ": errno " + ex.getErrorCode(), ex);
        }
    }

    public void close()
    {
        if (fd >= 0)
        {
            try
            {
                libc.close(fd);
            }
            catch (final LastErrorException ignore)
            {
                // a read-only directory descriptor: closing it loses nothing
            }
            fd = -1;
        }
    }

    /**
     * @return true on Linux 5.8 or later, where syncfs returns write-back errors.
     */
    static boolean isLinuxWithErrorReporting()
    {
        if (!"Linux".equals(System.getProperty("os.name")))
        {
            return false;
        }
        final String[] parts = System.getProperty("os.version", "0.0").split("[.\\-]");
        try
        {
            final int major = Integer.parseInt(parts[0]);
            final int minor = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            return major > 5 || (5 == major && minor >= 8);
        }
        catch (final NumberFormatException ex)
        {
            return false;
        }
    }
}
