/*
 * SUMMARY
 * Checks (and creates) a directory that processes of one mailgate install meet in: the spool, the
 * Aeron directory, the rate-counter file's directory.
 *
 * SECURITY
 * A hostile local user who can pre-create or swap such a directory (squatting in /dev/shm or /tmp)
 * could read mail, inject IPC messages or forge counters. So a directory is refused when it is a
 * symbolic link, is owned by another uid than the one running, or grants any permission to group or
 * other. A missing directory is created with mode 0700 (parents are created as usual, but the leaf
 * is checked after creation, so a race that swaps it is caught).
 *
 * LIMITS
 * Needs a POSIX file system; on others the owner and mode checks are skipped and said so.
 */
package mailgate.ipc;

import com.sun.security.auth.module.UnixSystem;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * A directory shared by the processes of one install, created 0700 and refused when insecure.
 */
public final class RendezvousDirectory
{
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

    private RendezvousDirectory()
    {
    }

    /**
     * Create the directory (mode 0700) when it is missing, then verify it.
     *
     * @param dir  the directory.
     * @param what what it is for, used in error messages (e.g. "spool").
     * @return the directory as an absolute path.
     * @throws InsecureDirectoryException when the directory exists but is not safe to use.
     */
    public static Path ensure(final Path dir, final String what)
    {
        final Path absolute = dir.toAbsolutePath().normalize();
        try
        {
            if (!Files.exists(absolute, LinkOption.NOFOLLOW_LINKS))
            {
                final Path parent = absolute.getParent();
                if (null != parent)
                {
                    Files.createDirectories(parent);
                }
                try
                {
                    if (isPosix(absolute.getParent()))
                    {
                        Files.createDirectory(absolute, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
                    }
                    else
                    {
                        Files.createDirectory(absolute);
                    }
                }
                catch (final FileAlreadyExistsException ignore)
                {
                    // another process made it first: verify below like any existing directory
                }
            }
        }
        catch (final IOException ex)
        {
            throw new InsecureDirectoryException(what + " directory " + absolute + ": cannot create: " + ex, ex);
        }
        verify(absolute, what);
        return absolute;
    }

    /**
     * Verify an existing directory: not a symlink, a directory, owned by this uid, no group/other bits.
     *
     * @param dir  the directory.
     * @param what what it is for, used in error messages.
     * @throws InsecureDirectoryException with the reason when it is not safe.
     */
    public static void verify(final Path dir, final String what)
    {
        if (Files.isSymbolicLink(dir))
        {
            throw new InsecureDirectoryException(what + " directory " + dir + " is a symbolic link; refusing it");
        }
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
        {
            throw new InsecureDirectoryException(what + " directory " + dir + " is not a directory");
        }
        if (!isPosix(dir))
        {
            return;
        }
        try
        {
            final PosixFileAttributes attrs = Files.getFileAttributeView(
                dir, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).readAttributes();
            final int ownerUid = (Integer)Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            final long myUid = new UnixSystem().getUid();
            if (ownerUid != myUid)
            {
                throw new InsecureDirectoryException(
                    what + " directory " + dir + " is owned by " + attrs.owner().getName() + " (uid " + ownerUid +
                    "), not by uid " + myUid + " who runs mailgate; refusing it");
            }
            final Set<PosixFilePermission> perms = attrs.permissions();
            for (final PosixFilePermission p : perms)
            {
                if (!OWNER_ONLY.contains(p))
                {
                    throw new InsecureDirectoryException(
                        what + " directory " + dir + " has mode " + PosixFilePermissions.toString(perms) +
                        " (open to group or other); it must be rwx------ (chmod 700)");
                }
            }
        }
        catch (final IOException ex)
        {
            throw new InsecureDirectoryException(what + " directory " + dir + ": cannot read attributes: " + ex, ex);
        }
    }

    private static boolean isPosix(final Path path)
    {
        return null != path && path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

}
