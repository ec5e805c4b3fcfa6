package mailgate.reactor;

import mailgate.reactor.status.StatusFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * smtpd's counters live on tmpfs, off the spool's file system (whose every group commit would otherwise write
 * them back and make the next update fault), one file per spool; readers find them there, and only in directories
 * that pass the spool's checks; a stale file on the disk is removed.
 */
class StatusFileLocationTest
{
    @TempDir
    Path tmp;

    @Test
    void countersGoToTmpfsOnePerSpoolAndReadersFindThem() throws Exception
    {
        assumeTrue(Files.isDirectory(Path.of("/dev/shm")), "no /dev/shm on this machine");
        final Path runA = Files.createDirectories(tmp.resolve("a").resolve("run"));
        final Path runB = Files.createDirectories(tmp.resolve("b").resolve("run"));
        final Path stale = Files.writeString(runA.resolve(StatusFile.FILE_NAME), "from an older version");
        final StatusFile a = StatusFile.createFor(runA, StatusFile.DEFAULT_VALUES_LENGTH);
        final StatusFile b = StatusFile.createFor(runB, StatusFile.DEFAULT_VALUES_LENGTH);
        try
        {
            final Path counters = Path.of("/dev/shm", "mailgate-" + System.getProperty("user.name"), "counters");
            assertEquals(counters, a.path().getParent());
            assertEquals("tmpfs", Files.getFileStore(a.path()).type());
            assertNotEquals(a.path(), b.path(), "one file per spool");
            assertFalse(Files.exists(stale), "the stale on-disk file is gone");
            assertEquals(a.path(), StatusFile.find(runA));
            assertEquals(b.path(), StatusFile.find(runB));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(a.path())));

            // a reader trusts the tmpfs file only in a directory closed to others
            Files.setPosixFilePermissions(counters, PosixFilePermissions.fromString("rwxr-xr-x"));
            try
            {
                assertEquals(runA.resolve(StatusFile.FILE_NAME), StatusFile.find(runA));
            }
            finally
            {
                Files.setPosixFilePermissions(counters, PosixFilePermissions.fromString("rwx------"));
            }
            assertEquals(a.path(), StatusFile.find(runA));
        }
        finally
        {
            a.close();
            b.close();
            Files.deleteIfExists(a.path());
            Files.deleteIfExists(b.path());
        }
        assertEquals(runA.resolve(StatusFile.FILE_NAME), StatusFile.find(runA), "nothing on tmpfs: the disk path");
        assertTrue(Files.isDirectory(runA));
    }
}
