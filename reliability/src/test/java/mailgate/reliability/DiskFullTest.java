package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.reactor.spool.SpoolVerifier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The spool on a 2 MB tmpfs: fill it; a message not stored never gets 250, nothing in queue/ is corrupt, and
 * after space is freed mail is accepted again. Needs root (mount); skipped otherwise.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DiskFullTest
{
    @TempDir
    Path logsDir;

    private static Path mountPoint;
    private static boolean mounted;

    @BeforeAll
    static void mount() throws Exception
    {
        mountPoint = Files.createTempDirectory("mailgate-diskfull");
        final Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs",
            mountPoint.toString()).redirectErrorStream(true).start();
        final String output = new String(mount.getInputStream().readAllBytes());
        mounted = mount.waitFor(30, TimeUnit.SECONDS) && 0 == mount.exitValue();
        Assumptions.assumeTrue(mounted, "cannot mount a tmpfs (needs root): " + output);
    }

    @AfterAll
    static void unmount() throws Exception
    {
        if (mounted)
        {
            new ProcessBuilder("umount", mountPoint.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
        }
        Files.deleteIfExists(mountPoint);
    }

    @Test
    void fullDiskGives452AndNothingCorrupt() throws Exception
    {
        final int rounds = Reliability.count(1, 5);
        final Path logs = logsDir;
        // the daemon's logs go beside the spool's parent: keep them off the small disk
        final Path spool = mountPoint.resolve("spool");
        final DaemonProcess daemon = DaemonProcess.start(spool, "--event-loops", "1");
        int acknowledged = 0;
        int refused = 0;
        int attempts = 0;
        final Set<String> refusals = new HashSet<>();
        try
        {
            for (int round = 0; round < rounds; round++)
            {
                final List<String> ids = new ArrayList<>();
                boolean full = false;
                int refusedThisRound = 0;
                for (int i = 0; i < 400 && refusedThisRound < 10; i++)
                {
                    final String id = "r" + round + "m" + i;
                    final String body = "Subject: " + id + "\r\n\r\n" + (id + " " + "z".repeat(70) + "\r\n").repeat(700);
                    final String reply = SmtpTestClient.sendMessage(daemon.port(), body);
                    attempts++;
                    if (reply.startsWith("250 "))
                    {
                        acknowledged++;
                        ids.add(id);
                    }
                    else
                    {
                        assertTrue(reply.startsWith("452 4.3.1") || reply.startsWith("451 4.3.0"), reply);
                        refusals.add(reply);
                        refused++;
                        refusedThisRound++;
                        full = true;
                    }
                }
                assertTrue(full, "the 2 MB disk never filled");
                assertTrue(daemon.process().isAlive(), daemon.stderr());
                // every queue file is complete, and every acknowledged message is there
                final List<Path> files = queueFiles(daemon.queueDir());
                for (final Path file : files)
                {
                    assertTrue(SpoolVerifier.isComplete(file), "corrupt queue file " + file);
                }
                final Set<String> stored = new HashSet<>();
                for (final Path file : files)
                {
                    stored.add(Reliability.subject(file));
                }
                for (final String id : ids)
                {
                    assertTrue(stored.contains(id), "acknowledged message " + id + " is not in queue/");
                }
                assertEquals(ids.size(), files.size(), "a queue file for a message that got no 250");
                // free space: the queue manager would deliver them; we delete them
                for (final Path file : files)
                {
                    Files.delete(file);
                }
                final String again = SmtpTestClient.sendMessage(daemon.port(), "Subject: again\r\n\r\nroom again\r\n");
                assertTrue(again.startsWith("250 2.0.0 Ok: queued"), "after freeing space: " + again);
                acknowledged++;
                attempts++;
                for (final Path file : queueFiles(daemon.queueDir()))
                {
                    Files.delete(file);
                }
            }
            Reliability.figure("disk full (spool on a 2 MB tmpfs, ~50 KB messages, " + rounds + " fill/free rounds): " +
                attempts + " messages tried, " + acknowledged + " x 250 all complete in queue/, " + refused +
                " refused with " + refusals + ", 0 corrupt, 0 stored without 250; accepted again after freeing space");
        }
        finally
        {
            daemon.close();
        }
    }

    private static List<Path> queueFiles(final Path queue) throws IOException
    {
        final List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(queue))
        {
            dir.forEach(files::add);
        }
        return files;
    }
}
