package mailgate.reactor.smtp;

import mailgate.reactor.spool.FileSystemSync;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolVerifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each group-commit method (spool.sync) acknowledges a message only once it is complete in queue/, and syncfs
 * is used only where one call covers every spool directory.
 */
class SpoolSyncModeTest
{
    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(Spool.SyncMode.class)
    void everyModeAcknowledgesCompleteQueueFiles(final Spool.SyncMode mode) throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE), new mailgate.reactor.policy.AcceptAllPolicy(), mode))
        {
            // this machine runs Linux 5.8+ with the spool on one file system: auto means syncfs here
            assertEquals(Spool.SyncMode.FSYNC == mode ? "fsync" : "syncfs", harness.spool.syncMethod());
            harness.takeReplies();
            final String replies = harness.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
                "one\r\n.\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\ntwo\r\n.\r\n");
            assertEquals(2, replies.split("250 2.0.0 Ok: queued as ", -1).length - 1, replies);
            final List<Path> queued = harness.queued();
            assertEquals(2, queued.size());
            for (final Path file : queued)
            {
                assertTrue(SpoolVerifier.isComplete(file), file.toString());
            }
            try (var left = Files.list(tmp.resolve("spool").resolve("tmp")))
            {
                assertEquals(0, left.count(), "nothing left in tmp/");
            }
        }
    }

    @Test
    void syncfsIsRefusedAcrossFileSystems() throws Exception
    {
        final Path onDisk = Files.createDirectory(tmp.resolve("disk"));
        final Path inMemory = Files.createTempDirectory(Path.of("/dev/shm"), "mg-syncfs-");
        try
        {
            assertNull(FileSystemSync.openIfUsable(onDisk, inMemory), "one syncfs cannot cover two file systems");
            try (FileSystemSync sync = FileSystemSync.openIfUsable(onDisk, Files.createDirectory(onDisk.resolve("q"))))
            {
                assertNotNull(sync);
                sync.sync();
            }
        }
        finally
        {
            Files.delete(inMemory);
        }
    }

    @Test
    void syncfsModeRefusesAMissingDirectoryWithItsName() throws Exception
    {
        final Path missing = tmp.resolve("gone");
        assertThrows(java.nio.file.NoSuchFileException.class, () -> FileSystemSync.openIfUsable(missing));
    }
}
