package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A squatted spool (symlink, or a directory anyone can write) stops start-up with exit status 71.
 */
class LocalSecurityTest
{
    @TempDir
    Path tmp;

    @Test
    void symlinkedSpoolStopsStartUp() throws Exception
    {
        final Path dir = tmp;
        final Path real = Files.createDirectory(dir.resolve("elsewhere"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path spool = Files.createSymbolicLink(dir.resolve("spool"), real);
        expectExit71(spool, "symlinked spool");
    }

    @Test
    void worldWritableSpoolStopsStartUp() throws Exception
    {
        final Path dir = tmp;
        final Path spool = Files.createDirectory(dir.resolve("spool"));
        Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwxrwxrwx"));
        expectExit71(spool, "spool mode 0777");
    }

    @Test
    void symlinkedQueueDirectoryStopsStartUp() throws Exception
    {
        final Path dir = tmp;
        final Path spool = Files.createDirectory(dir.resolve("spool"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path real = Files.createDirectory(dir.resolve("attacker-queue"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.createSymbolicLink(spool.resolve("queue"), real);
        expectExit71(spool, "symlinked spool/queue");
    }

    private static void expectExit71(final Path spool, final String what)
    {
        final IOException failure = assertThrows(IOException.class, () -> DaemonProcess.start(spool).close(), what);
        assertTrue(failure.getMessage().startsWith("daemon exited with 71"), what + ": " + failure.getMessage());
        Reliability.figure("local security: " + what + " -> start-up refused, exit 71: " +
            failure.getMessage().lines().filter((l) -> l.contains("spool")).findFirst().orElse("").trim());
    }
}
