package mailgate.reactor.smtp;

import mailgate.reactor.spool.Spool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What an operating-system crash during a group commit could leave in queue/ (a renamed file whose data never
 * reached the disk) is moved to corrupt/ at start; complete files stay.
 */
class SpoolRecoveryTest
{
    @TempDir
    Path tmp;

    @Test
    void incompleteQueueFilesAreMovedAsideAtStart() throws Exception
    {
        final Path root = tmp.resolve("spool");
        final Path good;
        try (SessionHarness harness = new SessionHarness(root, SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nhello\r\n.\r\n");
            good = harness.queued().get(0);
        }
        final byte[] bytes = Files.readAllBytes(good);
        final Path truncated = root.resolve("queue").resolve("1A0000000000A001");
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 3));
        final Path zeroed = root.resolve("queue").resolve("1A0000000000A002");
        Files.write(zeroed, new byte[bytes.length]);
        final Path flipped = root.resolve("queue").resolve("1A0000000000A003");
        final byte[] changed = bytes.clone();
        changed[changed.length - 2] ^= 1;
        Files.write(flipped, changed);

        final Spool spool = new Spool(root, 1);
        try
        {
            assertEquals(List.of("1A0000000000A001", "1A0000000000A002", "1A0000000000A003"),
                spool.corruptFiles().stream().sorted().toList());
            assertTrue(Files.exists(good), "the complete file stays in queue/");
            assertEquals(1, root.resolve("queue").toFile().list().length);
            assertEquals(3, root.resolve("corrupt").toFile().list().length);
        }
        finally
        {
            spool.close();
        }
    }
}
