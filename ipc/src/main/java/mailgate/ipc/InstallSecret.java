/*
 * SUMMARY
 * The install secret: 32 random bytes in a 0600 file, made on first run, that every mailgate process of
 * one install reads to prove itself to the others (challenge/response, see SecretMac).
 *
 * SECURITY
 * Refused when the file is a symlink, not a regular file, owned by another uid, readable or writable by
 * group or other, or not exactly 32 bytes. Created with O_EXCL and mode 0600 so a planted file or a race
 * cannot hand us a secret someone else knows.
 */
package mailgate.ipc;

import com.sun.security.auth.module.UnixSystem;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Set;

/**
 * Loads, or creates on first run, the install secret.
 */
public final class InstallSecret
{
    /** Bytes of secret. */
    public static final int LENGTH = 32;

    private InstallSecret()
    {
    }

    /**
     * @param file the secret file; its directory is created 0700 when missing.
     * @return the secret bytes.
     * @throws InsecureDirectoryException when the file or its directory is not safe to trust.
     */
    public static byte[] loadOrCreate(final Path file)
    {
        final Path absolute = file.toAbsolutePath().normalize();
        RendezvousDirectory.ensure(absolute.getParent(), "secret");
        if (!Files.exists(absolute, LinkOption.NOFOLLOW_LINKS))
        {
            final byte[] secret = new byte[LENGTH];
            new SecureRandom().nextBytes(secret);
            try
            {
                Files.write(absolute, secret, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    StandardOpenOption.SYNC).toArray(new StandardOpenOption[0]));
                Files.setPosixFilePermissions(absolute, PosixFilePermissions.fromString("rw-------"));
            }
            catch (final FileAlreadyExistsException ignore)
            {
                // another role made it first: read theirs below
            }
            catch (final IOException ex)
            {
                throw new InsecureDirectoryException("secret file " + absolute + ": cannot create: " + ex, ex);
            }
        }
        return load(absolute);
    }

    /**
     * @param file an existing secret file.
     * @return the secret bytes.
     * @throws InsecureDirectoryException when it is not safe to trust.
     */
    public static byte[] load(final Path file)
    {
        try
        {
            if (Files.isSymbolicLink(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
            {
                throw new InsecureDirectoryException("secret file " + file + " is not a regular file; refusing it");
            }
            final int ownerUid = (Integer)Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (ownerUid != new UnixSystem().getUid())
            {
                throw new InsecureDirectoryException("secret file " + file + " is owned by uid " + ownerUid +
                    ", not by the uid running mailgate; refusing it");
            }
            final Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
            for (final PosixFilePermission p : perms)
            {
                if (PosixFilePermission.OWNER_READ != p && PosixFilePermission.OWNER_WRITE != p)
                {
                    throw new InsecureDirectoryException("secret file " + file + " has mode " +
                        PosixFilePermissions.toString(perms) + "; it must be rw------- (chmod 600)");
                }
            }
            final byte[] secret = Files.readAllBytes(file);
            if (LENGTH != secret.length)
            {
                throw new InsecureDirectoryException("secret file " + file + " holds " + secret.length +
                    " bytes, not " + LENGTH);
            }
            return secret;
        }
        catch (final IOException ex)
        {
            throw new InsecureDirectoryException("secret file " + file + ": cannot read: " + ex, ex);
        }
    }
}
