package mailgate.router;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static mailgate.router.SystemTestSupport.count;
import static mailgate.router.SystemTestSupport.replaceFile;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The router's decisions seen from an SMTP client: supervisor, router and smtpd as real processes, tables
 * as files, a raw socket session; then a table edit that takes effect without a restart, and a bad edit that
 * leaves the tables in force.
 */
@Timeout(60)
class RouterSystemTest
{
    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    void decidesFromTablesAndReloadsWithoutRestart() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "router.tables=" + tables,
            "--event-loops", "2");
        final int port = daemon.port();
        final long routerPid = daemon.childPid("router");
        assertTrue(routerPid > 0, "router child runs");

        try (SmtpTestClient smtp = SmtpTestClient.open(port, 10_000))
        {
            assertReply("250", smtp.command("MAIL FROM:<sender@good.test>"));
            assertReply("250", smtp.command("RCPT TO:<alice@example.test>"));
            assertReply("550 5.1.1", smtp.command("RCPT TO:<bob@example.test>"));
            assertReply("250", smtp.command("RCPT TO:<anyone@catchall.test>"));
            assertReply("250", smtp.command("RCPT TO:<ANYONE.else@CatchAll.Test>"));
            assertReply("554 5.7.1", smtp.command("RCPT TO:<x@remote.test>"));
            assertReply("250", smtp.command("RSET"));

            // the alias alone in a transaction, so the queued envelope shows exactly its rewriting
            assertReply("250", smtp.command("MAIL FROM:<sender@good.test>"));
            assertReply("250", smtp.command("RCPT TO:<info@example.test>"));
            final String queued = smtp.data("Subject: alias\r\n\r\nhello\r\n");
            assertReply("250 2.0.0", queued);
            final String id = queued.substring(queued.lastIndexOf(' ') + 1);
            final Path file = daemon.queueDir().resolve(id);
            assertTrue(Files.isRegularFile(file), "queued file " + file + " exists (" + queued + ")");
            final String envelope = Files.readString(file).split("\n\n", 2)[0];
            final List<String> rcpts = envelope.lines().filter((l) -> l.startsWith("rcpt: ")).toList();
            assertEquals(List.of("rcpt: <alice@example.test> ORCPT=rfc822;info@example.test"), rcpts, envelope);

            final String spammer = smtp.command("MAIL FROM:<spammer@bad.test>");
            assertReply("550 5.7.1", spammer);
            assertTrue(spammer.contains("<spammer@bad.test>"), spammer);
            final String later = smtp.command("MAIL FROM:<a@bad2.test>");
            assertReply("450 4.7.1", later);
            assertTrue(later.contains("try later"), later);
            // a subdomain of a listed domain is covered too
            assertReply("450 4.7.1", smtp.command("MAIL FROM:<a@mx.bad2.test>"));
            smtp.quit();
        }

        // edit a table: bob appears, without a restart
        final long editedAt = System.nanoTime();
        replaceFile(tables.resolve("recipients"), "alice@example.test\nbob@example.test\n@catchall.test\n");
        await("bob accepted after the recipients edit").atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(100))
            .until(() -> SmtpTestClient.probe(port, "sender@good.test", "bob@example.test").startsWith("250"));
        final long reloadMs = (System.nanoTime() - editedAt) / 1_000_000;
        System.out.println("RouterSystemTest: edit took effect after " + reloadMs + " ms");
        assertEquals(routerPid, daemon.childPid("router"), "same router process: reloaded, not restarted");
        assertTrue(daemon.stderr().contains("tables reloaded"), daemon.stderr());

        // a bad line: refused as a whole, reported as file:line, the tables in force stay
        final Path aliases = tables.resolve("aliases");
        replaceFile(aliases, "info@example.test alice@example.test\nbroken-line-without-target\n" +
            "bob@example.test nobody@example.test\n");
        await("reload refusal logged").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
            .until(() -> daemon.stderr().contains(aliases + ":2:"));
        final String stderr = daemon.stderr();
        final String refusal = stderr.lines().filter((l) -> l.contains(aliases + ":2:")).findFirst().orElseThrow();
        assertTrue(refusal.contains("old tables stay"), refusal);
        assertEquals(1, count(stderr, aliases + ":2:"), "refused once, not retried every second: " + stderr);
        assertReply("250", SmtpTestClient.probe(port, "sender@good.test", "bob@example.test"));
        assertReply("250", SmtpTestClient.probe(port, "sender@good.test", "alice@example.test"));
        assertReply("550 5.1.1", SmtpTestClient.probe(port, "sender@good.test", "carol@example.test"));
        assertReply("550 5.7.1", SmtpTestClient.probe(port, "spammer@bad.test", null));
        try (SmtpTestClient smtp = SmtpTestClient.open(port, 10_000))
        {
            // the alias still rewrites as before (the bad file's third line did not half-apply)
            assertReply("250", smtp.command("MAIL FROM:<sender@good.test>"));
            assertReply("250", smtp.command("RCPT TO:<info@example.test>"));
            final String queued = smtp.data("Subject: alias again\r\n\r\nhello\r\n");
            assertReply("250 2.0.0", queued);
            final String id = queued.substring(queued.lastIndexOf(' ') + 1);
            assertTrue(Files.readString(daemon.queueDir().resolve(id))
                .contains("\nrcpt: <alice@example.test> ORCPT=rfc822;info@example.test\n"));
            smtp.quit();
        }
        assertEquals(routerPid, daemon.childPid("router"), "the router survived the bad table");

        // the operator fixes the file: the next reload applies it whole
        replaceFile(aliases, "info@example.test alice@example.test\nsales@example.test bob@example.test\n");
        await("sales alias after the fix").atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
            .until(() -> SmtpTestClient.probe(port, "sender@good.test", "sales@example.test").startsWith("250"));
        assertReply("250", SmtpTestClient.probe(port, "sender@good.test", "info@example.test"));
        assertEquals(routerPid, daemon.childPid("router"));
    }

    static void assertReply(final String prefix, final String reply)
    {
        assertTrue(reply.startsWith(prefix), "expected " + prefix + "..., got: " + reply);
    }
}
