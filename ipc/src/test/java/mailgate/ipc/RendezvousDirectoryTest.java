package mailgate.ipc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class RendezvousDirectoryTest
{
    @TempDir
    Path tmp;

    @Test
    void createsMissingDirectoryOwnerOnly() throws Exception
    {
        final Path dir = RendezvousDirectory.ensure(tmp.resolve("a/b/spool"), "spool");
        assertTrue(Files.isDirectory(dir));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    }

    @Test
    void refusesSymlink() throws Exception
    {
        final Path real = RendezvousDirectory.ensure(tmp.resolve("real"), "spool");
        final Path link = Files.createSymbolicLink(tmp.resolve("link"), real);
        final InsecureDirectoryException ex =
            assertThrows(InsecureDirectoryException.class, () -> RendezvousDirectory.ensure(link, "spool"));
        assertTrue(ex.getMessage().contains("symbolic link"), ex.getMessage());
    }

    @Test
    void refusesGroupOrOtherAccess() throws Exception
    {
        final Path dir = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-x---"));
        final InsecureDirectoryException ex =
            assertThrows(InsecureDirectoryException.class, () -> RendezvousDirectory.ensure(dir, "aeron"));
        assertTrue(ex.getMessage().contains("chmod 700"), ex.getMessage());
    }

    @Test
    void refusesDirectoryOwnedByAnotherUser() throws Exception
    {
        assumeTrue(0 == new com.sun.security.auth.module.UnixSystem().getUid(), "chown needs root");
        final Path dir = Files.createDirectory(tmp.resolve("theirs"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        final int myUid = (Integer)Files.getAttribute(dir, "unix:uid");
        Files.setAttribute(dir, "unix:uid", myUid == 65534 ? 65533 : 65534);
        final InsecureDirectoryException ex =
            assertThrows(InsecureDirectoryException.class, () -> RendezvousDirectory.verify(dir, "spool"));
        assertTrue(ex.getMessage().contains("owned by"), ex.getMessage());
    }
}
