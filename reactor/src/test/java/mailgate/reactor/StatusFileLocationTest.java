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

    @Test
    void aStartRemovesTheCountersOfDeadDaemonsWhoseSpoolIsGoneAndKeepsTheRest() throws Exception
    {
        assumeTrue(Files.isDirectory(Path.of("/dev/shm")), "no /dev/shm on this machine");
        final Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        final long deadPid = exited.pid();
        final Path gone = Files.createDirectories(tmp.resolve("gone").resolve("run"));
        final Path kept = Files.createDirectories(tmp.resolve("kept").resolve("run"));
        final Path live = Files.createDirectories(tmp.resolve("live").resolve("run"));
        final Path goneFile = writtenBy(gone, deadPid);
        final Path keptFile = writtenBy(kept, deadPid);
        final Path liveFile = writtenBy(live, ProcessHandle.current().pid());
        Files.delete(gone);
        Files.delete(live);

        final StatusFile next = StatusFile.createFor(
            Files.createDirectories(tmp.resolve("next").resolve("run")), StatusFile.DEFAULT_VALUES_LENGTH);
        try
        {
            assertFalse(Files.exists(goneFile), "dead writer, spool gone: removed");
            assertTrue(Files.exists(keptFile), "dead writer, spool still there: kept for post-mortem reading");
            assertTrue(Files.exists(liveFile), "running writer: kept even though its spool directory is gone");
        }
        finally
        {
            next.close();
            Files.deleteIfExists(next.path());
            Files.deleteIfExists(keptFile);
            Files.deleteIfExists(liveFile);
        }
    }

    private static Path writtenBy(final Path runDir, final long pid) throws Exception
    {
        final StatusFile status = StatusFile.createFor(runDir, StatusFile.DEFAULT_VALUES_LENGTH);
        final Path file = status.path();
        status.close();
        try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file,
            java.nio.file.StandardOpenOption.WRITE))
        {
            final java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            bytes.putLong(0, pid);
            channel.write(bytes, StatusFile.PID_OFFSET);
        }
        return file;
    }
}
