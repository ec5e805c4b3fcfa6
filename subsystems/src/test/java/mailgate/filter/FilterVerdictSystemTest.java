package mailgate.filter;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.router.SystemTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every verdict end to end through the real processes (supervisor, media driver, router, filter, smtpd) and real
 * SMTP: the reply the client gets and where the message ends up in the spool.
 */
@Timeout(60)
class FilterVerdictSystemTest
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
    void eachVerdictEndToEnd() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path rules = tmp.resolve("filter.rules");
        Files.writeString(rules, String.join("\n",
            "header /^Subject: reject/ REJECT 554 5.7.1 rejected by test rule",
            "header /^Subject: tempfail/ TEMPFAIL",
            "header /^Subject: discard/ DISCARD",
            "header /^Subject: quarantine/ QUARANTINE",
            "header /^Subject: tag/ ADD-HEADER X-Test-Tag: tagged",
            "attachment-name /\\.exe$/i REJECT executable attachments are not accepted", ""),
            StandardCharsets.US_ASCII);
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "filter.rules=" + rules,
            "--event-loops", "1");
        try (SmtpTestClient client = SmtpTestClient.open(daemon.port(), 15_000))
        {
            assertTrue(send(client, "reject").startsWith("554 5.7.1 rejected by test rule"));
            assertTrue(send(client, "tempfail").startsWith("451 4.7.1"));
            final String discarded = send(client, "discard");
            assertTrue(discarded.startsWith("250 2.0.0 Ok: queued as "), discarded);
            final String quarantined = send(client, "quarantine");
            assertTrue(quarantined.startsWith("250 2.0.0 Ok: queued as "), quarantined);
            final String tagged = send(client, "tag");
            final String accepted = send(client, "plain");
            final String exe = sendMultipart(client);
            assertTrue(exe.startsWith("554 5.7.1 executable attachments are not accepted"), exe);

            final Path queue = daemon.queueDir();
            final Path quarantine = daemon.spool().resolve("quarantine");
            assertTrue(Files.notExists(queue.resolve(id(discarded))) && Files.notExists(quarantine.resolve(id(discarded))),
                "discarded message kept nowhere");
            assertTrue(Files.exists(quarantine.resolve(id(quarantined))), "quarantined message in quarantine/");
            assertTrue(Files.notExists(queue.resolve(id(quarantined))));
            final String taggedFile = Files.readString(queue.resolve(id(tagged)), StandardCharsets.ISO_8859_1);
            final String message = taggedFile.substring(taggedFile.indexOf("\n\n") + 2);
            assertTrue(message.startsWith("Received: "), message);
            assertTrue(message.contains("\r\nX-Test-Tag: tagged\r\nSubject: tag\r\n"),
                "added header after the Received header, before the message: " + message);
            assertTrue(Files.readString(queue.resolve(id(accepted))).contains("Subject: plain\r\n"));
            assertEquals(2, queue.toFile().list().length, "only the tagged and the plain message are queued");
            assertEquals(0, daemon.spool().resolve("tmp").toFile().list().length, "nothing left in tmp/");
        }
    }

    private static String id(final String reply)
    {
        return reply.substring(reply.lastIndexOf(' ') + 1).trim();
    }

    private static String send(final SmtpTestClient client, final String subject) throws Exception
    {
        client.command("MAIL FROM:<a@example.test>");
        client.command("RCPT TO:<x@remote.test>");
        return client.data("Subject: " + subject + "\r\n\r\nbody of " + subject + "\r\n");
    }

    private static String sendMultipart(final SmtpTestClient client) throws Exception
    {
        client.command("MAIL FROM:<a@example.test>");
        client.command("RCPT TO:<x@remote.test>");
        return client.data("Subject: invoice\r\nMIME-Version: 1.0\r\n" +
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
            "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
            "--b1\r\nContent-Type: application/octet-stream\r\n" +
            "Content-Disposition: attachment; filename=\"invoice.exe\"\r\n" +
            "Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b1--\r\n");
    }
}
