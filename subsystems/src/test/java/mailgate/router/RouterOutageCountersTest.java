package mailgate.router;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every 451 given because the router is gone shows in smtpd's counters ("ipc requests refused: subsystem down
 * or unproven"), so an operator sees the outage in inspect, not only in client logs. Roles started one by one
 * (driver, router, smtpd) as under systemd.
 */
@Timeout(60)
class RouterOutageCountersTest
{
    @TempDir
    Path tmp;

    private Path shm;
    private Process driver;
    private Process router;
    private DaemonProcess smtpd;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != smtpd)
        {
            smtpd.close();
        }
        SystemTestSupport.stop(router, 10_000);
        SystemTestSupport.stop(driver, 10_000);
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    void everyRouterUnavailableReplyIsCounted() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path aeronDir = shm.resolve("aeron");
        final Path secret = tmp.resolve("secret");
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        driver = SystemTestSupport.startJvm("mailgate.ipc.DriverMain", tmp.resolve("driver"),
            "--aeron-dir", aeronDir.toString());
        SystemTestSupport.awaitStderr(driver, tmp.resolve("driver"), "mailgate driver running", 20_000);
        router = SystemTestSupport.startJvm("mailgate.router.RouterMain", tmp.resolve("router"),
            "--set", "ipc.aeron-dir=" + aeronDir, "--set", "ipc.secret-file=" + secret,
            "--set", "router.tables=" + tables);
        SystemTestSupport.awaitStderr(router, tmp.resolve("router"), "mailgate router ready", 20_000);
        final Path spool = tmp.resolve("spool");
        smtpd = DaemonProcess.start(spool, "--set", "router.mode=aeron", "--set", "ipc.aeron-dir=" + aeronDir,
            "--set", "ipc.secret-file=" + secret, "--set", "smtpd.hard-error-limit=10000", "--event-loops", "1");
        final int port = smtpd.port();
        assertTrue(SmtpTestClient.probe(port, "a@good.test", "alice@example.test").startsWith("250"));

        router.destroyForcibly();
        assertTrue(router.waitFor(10, TimeUnit.SECONDS));
        await("router loss noticed").atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
            .until(() -> SmtpTestClient.probe(port, "a@good.test", null).startsWith("451 4.3.0"));
        final long refusedBefore = SystemTestSupport.smtpdCounter(spool, SystemTestSupport.IPC_UNAVAILABLE);
        try (SmtpTestClient smtp = SmtpTestClient.open(port, 15_000))
        {
            for (int i = 0; i < 20; i++)
            {
                final String reply = smtp.command("MAIL FROM:<a" + i + "@good.test>");
                assertTrue(reply.startsWith("451 4.3.0"), reply);
            }
            smtp.quit();
        }
        final long refused = SystemTestSupport.smtpdCounter(spool, SystemTestSupport.IPC_UNAVAILABLE) - refusedBefore;
        System.out.println("RouterOutageCountersTest: 20 MAIL answered 451 while the router was down; " +
            "'ipc requests refused' grew by " + refused);
        assertTrue(refused >= 20, "each 451 for an unavailable router is counted as 'ipc requests refused', " +
            "counted " + refused + " of 20");
    }
}
