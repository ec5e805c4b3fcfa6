package mailgate.supervisor;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.router.SystemTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static mailgate.router.SystemTestSupport.IPC_REPLIES_DROPPED;
import static mailgate.router.SystemTestSupport.awaitStderr;
import static mailgate.router.SystemTestSupport.err;
import static mailgate.router.SystemTestSupport.read;
import static mailgate.router.SystemTestSupport.smtpdCounter;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rendezvous is refused when another user could have prepared it, and a process without the install
 * secret cannot get its answers honoured by smtpd.
 */
@Timeout(60)
class IpcSecurityTest
{
    @TempDir
    Path tmp;

    private final List<Path> shmPaths = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private DaemonProcess smtpd;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != smtpd)
        {
            smtpd.close();
        }
        // routers before the driver, the driver last (it deletes its directory on a graceful stop)
        for (int i = processes.size() - 1; i >= 0; i--)
        {
            SystemTestSupport.stop(processes.get(i), 10_000);
        }
        for (final Path p : shmPaths)
        {
            SystemTestSupport.deleteTree(p);
        }
    }

    private Path shm()
    {
        final Path p = SystemTestSupport.uniqueShmDir();
        shmPaths.add(p);
        return p;
    }

    /**
     * Run the supervisor on a prepared directory and expect it to refuse: exit 71, message on stderr.
     */
    private String refusedSupervisor(final Path aeronParent, final String name) throws Exception
    {
        final Path log = tmp.resolve(name);
        final Process supervisor = SystemTestSupport.startJvm("mailgate.supervisor.SupervisorMain", log,
            "--listen", "127.0.0.1:" + DaemonProcess.freePort(),
            "--spool", tmp.resolve(name + "-spool").toString(),
            "--set", "ipc.aeron-dir=" + aeronParent.resolve("aeron"),
            "--set", "ipc.secret-file=" + tmp.resolve("secret"),
            "--event-loops", "1");
        processes.add(supervisor);
        assertTrue(supervisor.waitFor(20, TimeUnit.SECONDS), name + ": supervisor should exit at once");
        final String stderr = read(err(log));
        assertEquals(71, supervisor.exitValue(), name + ": exit status 71 (EX_OSERR); stderr: " + stderr);
        assertTrue(stderr.contains(aeronParent.toString()), name + ": the directory is named: " + stderr);
        assertFalse(stderr.contains("listening on") || stderr.contains("router started"),
            name + ": nothing was started: " + stderr);
        return stderr;
    }

    @Test
    void refusesWorldWritableAeronDirectoryParent() throws Exception
    {
        final Path squatted = shm();
        Files.createDirectory(squatted);
        Files.setPosixFilePermissions(squatted, PosixFilePermissions.fromString("rwxrwxrwx"));
        final String stderr = refusedSupervisor(squatted, "mode0777");
        assertTrue(stderr.contains("rwxrwxrwx") && stderr.contains("700"), "mode and the fix are named: " + stderr);
        assertFalse(Files.exists(squatted.resolve("aeron")), "no driver files written into a squatted directory");
        assertEquals("rwxrwxrwx", PosixFilePermissions.toString(Files.getPosixFilePermissions(squatted)),
            "the directory is left as found (not silently chmod-ed)");
    }

    @Test
    void refusesAeronDirectoryParentOwnedByAnotherUid() throws Exception
    {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "chown needs root");
        final Path foreign = shm();
        Files.createDirectory(foreign, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setAttribute(foreign, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
        final String stderr = refusedSupervisor(foreign, "foreign-owner");
        assertTrue(stderr.contains("owned by") && stderr.contains("65534"), "owner named: " + stderr);
        assertFalse(Files.exists(foreign.resolve("aeron")), "no driver files written");
    }

    @Test
    void refusesSymlinkedAeronDirectoryParent() throws Exception
    {
        final Path target = shm();
        Files.createDirectory(target, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path link = shm();
        Files.createSymbolicLink(link, target);
        final String stderr = refusedSupervisor(link, "symlink");
        assertTrue(stderr.contains("symbolic link"), "reason named: " + stderr);
        assertFalse(Files.exists(target.resolve("aeron")), "nothing written through the link");
    }

    @Test
    void refusesSymlinkedAeronDirectory() throws Exception
    {
        final Path parent = shm();
        Files.createDirectory(parent, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path elsewhere = shm();
        Files.createDirectory(elsewhere, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.createSymbolicLink(parent.resolve("aeron"), elsewhere);
        final String stderr = refusedSupervisor(parent, "aeron-symlink");
        assertTrue(stderr.contains("symbolic link"), "reason named: " + stderr);
        try (var entries = Files.list(elsewhere))
        {
            assertEquals(0, entries.count(), "nothing written through the link");
        }
    }

    @Test
    void repliesFromAProcessWithoutTheSecretAreNeverHonoured() throws Exception
    {
        final Path aeronDir = shm().resolve("aeron");
        final Path secret = tmp.resolve("secret");
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        // the rogue: a router built from our own code, but with its own secret and tables that accept anything
        final Path rogueTables = Files.createDirectories(tmp.resolve("rogue-tables"));
        Files.writeString(rogueTables.resolve("relay-networks"), "0.0.0.0/0 ::/0\n");
        final Path rogueSecret = tmp.resolve("rogue").resolve("secret");

        final Path driverLog = tmp.resolve("driver");
        final Process driver = SystemTestSupport.startJvm("mailgate.ipc.DriverMain", driverLog,
            "--aeron-dir", aeronDir.toString());
        processes.add(driver);
        awaitStderr(driver, driverLog, "mailgate driver running", 20_000);
        final Process router1 = startRouter("router1", aeronDir, secret, tables);

        final Path spool = tmp.resolve("spool");
        smtpd = DaemonProcess.start(spool,
            "--set", "router.mode=aeron",
            "--set", "ipc.aeron-dir=" + aeronDir,
            "--set", "ipc.secret-file=" + secret,
            "--set", "smtpd.hard-error-limit=10000",
            "--event-loops", "2");
        final int port = smtpd.port();
        assertFalse(smtpd.stderr().contains("no proven router"), smtpd.stderr());
        assertEquals("554", SmtpTestClient.probe(port, "a@good.test", "x@remote.test").substring(0, 3));

        // the rogue joins beside the real router: it answers every question with ACCEPT, on its own session
        final Process rogue = startRouter("rogue", aeronDir, rogueSecret, rogueTables);
        final long droppedBefore;
        try (SmtpTestClient smtp = SmtpTestClient.open(port, 15_000))
        {
            assertTrue(smtp.command("MAIL FROM:<a@good.test>").startsWith("250"));
            // "router ready" means attached to the driver, not that the rogue's images of this loop's request
            // publication and of its own reply publication are joined yet: until they are, it hears nothing
            // (its wrong challenge responses count as dropped too, so one drop is not proof: five in a row are)
            await("the rogue hears this loop's questions").atMost(Duration.ofSeconds(15))
                .pollInterval(Duration.ofMillis(20)).until(() ->
                {
                    final long before = smtpdCounter(spool, IPC_REPLIES_DROPPED);
                    for (int i = 0; i < 5; i++)
                    {
                        final String reply = smtp.command("RCPT TO:<warmup@remote.test>");
                        assertTrue(reply.startsWith("554 5.7.1"), "the real router's answer, not the rogue's: " + reply);
                    }
                    return smtpdCounter(spool, IPC_REPLIES_DROPPED) - before >= 5;
                });
            droppedBefore = smtpdCounter(spool, IPC_REPLIES_DROPPED);
            for (int i = 0; i < 50; i++)
            {
                final String reply = smtp.command("RCPT TO:<x" + i + "@remote.test>");
                assertTrue(reply.startsWith("554 5.7.1"), "the real router's answer, not the rogue's: " + reply);
            }
            smtp.quit();
        }
        await("rogue replies dropped and counted").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
            .until(() -> smtpdCounter(spool, IPC_REPLIES_DROPPED) >= droppedBefore + 50);
        final long droppedWithBoth = smtpdCounter(spool, IPC_REPLIES_DROPPED) - droppedBefore;

        // the real router dies: only the rogue is left, and it cannot prove itself
        router1.destroyForcibly();
        assertTrue(router1.waitFor(10, TimeUnit.SECONDS));
        final long killedNs = System.nanoTime();
        await("MAIL tempfailed without the real router").atMost(Duration.ofSeconds(15))
            .pollInterval(Duration.ofMillis(50))
            .until(() -> SmtpTestClient.probe(port, "a@good.test", null).startsWith("451 4.3.0"));
        final long tempfailAfterMs = (System.nanoTime() - killedNs) / 1_000_000;
        final long droppedAtOutage = smtpdCounter(spool, IPC_REPLIES_DROPPED);
        try (SmtpTestClient smtp = SmtpTestClient.open(port, 15_000))
        {
            for (int i = 0; i < 30; i++)
            {
                final String mail = smtp.command("MAIL FROM:<a" + i + "@good.test>");
                assertTrue(mail.startsWith("451 4.3.0"), "no answer from the rogue honoured: " + mail);
            }
            smtp.quit();
        }
        // smtpd keeps challenging; the rogue's wrong proofs are dropped and counted
        await("rogue challenge responses dropped").atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
            .until(() -> smtpdCounter(spool, IPC_REPLIES_DROPPED) >= droppedAtOutage + 4);
        assertTrue(rogue.isAlive(), "the rogue ran the whole time: " + read(err(tmp.resolve("rogue"))));

        // a real router with the secret: answers are honoured again, smtpd was never restarted
        final long smtpdPid = smtpd.pid();
        startRouter("router2", aeronDir, secret, tables);
        // each event loop proves the router for itself, and either loop may accept a connection, so a loop that
        // has not proven router2 yet answers 451 for a while: never the rogue's 250. Done when both loops
        // answered every question right several rounds in a row.
        final int[] rightInARow = {0};
        await("every question answered by the proven router").atMost(Duration.ofSeconds(15))
            .pollInterval(Duration.ofMillis(50)).until(() ->
            {
                final boolean right = answered(port, "a@good.test", "x@remote.test", "554") &
                    answered(port, "spammer@bad.test", null, "550") &
                    answered(port, "a@good.test", "alice@example.test", "250");
                rightInARow[0] = right ? rightInARow[0] + 1 : 0;
                return rightInARow[0] >= 6;
            });
        assertTrue(smtpd.process().isAlive() && smtpdPid == smtpd.pid());
        System.out.println("IpcSecurityTest: rogue replies dropped while the real router ran: " + droppedWithBoth +
            "; 451 after killing the real router: " + tempfailAfterMs + " ms; total dropped " +
            smtpdCounter(spool, IPC_REPLIES_DROPPED) + ", refused " +
            smtpdCounter(spool, SystemTestSupport.IPC_UNAVAILABLE));
    }

    /**
     * @return true when the probe got the expected answer; false on 451 4.3.0 (no proven router on its loop).
     */
    private boolean answered(final int port, final String sender, final String recipient, final String expected)
        throws IOException
    {
        final String reply = SmtpTestClient.probe(port, sender, recipient);
        if (reply.startsWith("451 4.3.0"))
        {
            return false;
        }
        assertEquals(expected, reply.substring(0, 3), sender + " to " + recipient + ": " + reply + "; smtpd: " +
            smtpd.stderr());
        return true;
    }

    private Process startRouter(final String name, final Path aeronDir, final Path secret, final Path tables)
        throws IOException, InterruptedException
    {
        final Path log = tmp.resolve(name);
        final Process router = SystemTestSupport.startJvm("mailgate.router.RouterMain", log,
            "--set", "ipc.aeron-dir=" + aeronDir,
            "--set", "ipc.secret-file=" + secret,
            "--set", "router.tables=" + tables);
        processes.add(router);
        awaitStderr(router, log, "mailgate router ready", 20_000);
        return router;
    }
}
