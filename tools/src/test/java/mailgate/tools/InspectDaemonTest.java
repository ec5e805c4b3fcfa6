package mailgate.tools;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.reactor.status.SmtpdCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static mailgate.tools.InspectRun.list;
import static mailgate.tools.InspectRun.map;
import static mailgate.tools.InspectRun.summary;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The inspector against a real daemon process fed known SMTP traffic over loopback.
 */
@Timeout(180)
class InspectDaemonTest
{
    private static final String SENDER = "alice@sender.test";
    private static final List<String> RECIPIENTS = List.of("bob@rcpt.test", "carol@rcpt.test");

    @TempDir
    Path dir;

    @Test
    void spoolAndCountersAgreeWithTheTrafficSentAndVerifyFindsTheCorruptFile() throws Exception
    {
        final Path spool = dir.resolve("spool");
        try (DaemonProcess daemon = DaemonProcess.start(spool, "--event-loops", "2"))
        {
            final Map<String, String> bodies = sendMessages(daemon.port(), 3, 2, 2);
            assertEquals(7, bodies.size(), "distinct queue ids");

            long fileBytes = 0;
            long messageBytes = 0;
            for (final Map.Entry<String, String> entry : bodies.entrySet())
            {
                final byte[] content = Files.readAllBytes(daemon.queueDir().resolve(entry.getKey()));
                final String text = new String(content, StandardCharsets.UTF_8);
                final int headerLength = text.indexOf("\n\n") + 2;
                assertTrue(text.startsWith("MAILGATE-SPOOL 1\n"), text);
                assertTrue(text.endsWith(entry.getValue()), "message part ends with the body sent");
                fileBytes += content.length;
                messageBytes += content.length - headerLength;
            }

            final InspectRun spoolRun = InspectRun.of("spool", "--spool", spool.toString(), "--json");
            assertEquals(0, spoolRun.exit, spoolRun.toString());
            final Map<String, Object> directories = map(spoolRun.json().get("directories"));
            final Map<String, Object> queue = map(directories.get("queue"));
            assertEquals(7L, queue.get("messages"), spoolRun.toString());
            assertEquals(fileBytes, queue.get("bytes"), spoolRun.toString());
            assertEquals(messageBytes, queue.get("messageBytes"), spoolRun.toString());
            assertTrue(bodies.containsKey((String)queue.get("oldestId")), spoolRun.toString());
            assertTrue((Long)queue.get("oldestAgeMs") >= 0, spoolRun.toString());
            assertEquals(0L, map(directories.get("tmp")).get("messages"), spoolRun.toString());
            // the spool may create quarantine/ up front (content-filter verdicts): either way nothing is in it
            assertEquals(0L, map(directories.get("quarantine")).getOrDefault("messages", 0L), spoolRun.toString());

            final InspectRun listRun = InspectRun.of("spool", "--spool", spool.toString(), "--list", "--json");
            assertEquals(0, listRun.exit, listRun.toString());
            final Set<String> listed = new HashSet<>();
            for (final Object row : list(listRun.json().get("queue")))
            {
                final Map<String, Object> message = map(row);
                listed.add((String)message.get("id"));
                assertEquals(SENDER, message.get("sender"));
                assertEquals(new ArrayList<Object>(RECIPIENTS), message.get("recipients"));
                assertEquals(null, message.get("problem"));
            }
            assertEquals(bodies.keySet(), listed);

            final InspectRun listText = InspectRun.of("spool", "--spool", spool.toString(), "--list");
            assertEquals(0, listText.exit, listText.toString());
            for (final String id : bodies.keySet())
            {
                assertTrue(listText.out.contains(id + " "), listText.toString());
            }
            assertTrue(listText.out.contains("in 7 Requests."), listText.toString());

            final Map<String, Object> counters = awaitCounters(spool, SmtpdCounter.CONNECTIONS_ACTIVE, 0);
            assertEquals(daemon.pid(), counters.get("pid"));
            assertEquals(Boolean.TRUE, counters.get("alive"));
            assertEquals(7, summary(counters, SmtpdCounter.MESSAGES_QUEUED.typeId()), counters.toString());
            assertEquals(3, summary(counters, SmtpdCounter.CONNECTIONS_ACCEPTED.typeId()), counters.toString());
            assertEquals(7, summary(counters, SmtpdCounter.SPOOL_FILES_SYNCED.typeId()), counters.toString());
            assertEquals(messageBytes, summary(counters, SmtpdCounter.SPOOL_BYTES.typeId()), counters.toString());
            assertEquals(0, summary(counters, SmtpdCounter.MESSAGES_REFUSED.typeId()), counters.toString());

            final InspectRun countersText = InspectRun.of("counters", "--spool", spool.toString());
            assertEquals(0, countersText.exit, countersText.toString());
            assertTrue(countersText.out.contains("pid " + daemon.pid() + " running"), countersText.toString());
            assertTrue(countersText.out.contains("messages queued: loop 1"), countersText.toString());
            assertTrue(countersText.out.matches("(?s).*\\s7 - messages queued \\[2 loops].*"),
                countersText.toString());

            final InspectRun verifyOk = InspectRun.of("spool", "--spool", spool.toString(), "--verify");
            assertEquals(0, verifyOk.exit, verifyOk.toString());
            assertTrue(verifyOk.out.contains("verify: 7 checked, 0 bad"), verifyOk.toString());

            final String victim = bodies.keySet().iterator().next();
            final Path victimFile = daemon.queueDir().resolve(victim);
            final byte[] content = Files.readAllBytes(victimFile);
            final int messageStart = new String(content, StandardCharsets.ISO_8859_1).indexOf("\n\n") + 2;
            content[messageStart + 10] ^= 0x20;
            Files.write(victimFile, content);

            final InspectRun verifyBad = InspectRun.of("spool", "--spool", spool.toString(), "--verify", "--json");
            assertEquals(1, verifyBad.exit, verifyBad.toString());
            final Map<String, Object> verify = map(verifyBad.json().get("verify"));
            assertEquals(7L, verify.get("checked"));
            final List<Object> bad = list(verify.get("bad"));
            assertEquals(1, bad.size(), verifyBad.toString());
            assertEquals("queue/" + victim, map(bad.get(0)).get("file"));
            assertTrue(((String)map(bad.get(0)).get("problem")).startsWith("crc32c mismatch"), verifyBad.toString());

            final InspectRun verifyBadText = InspectRun.of("spool", "--spool", spool.toString(), "--verify");
            assertEquals(1, verifyBadText.exit, verifyBadText.toString());
            assertTrue(verifyBadText.out.contains("verify: 7 checked, 1 bad"), verifyBadText.toString());
            assertTrue(verifyBadText.out.contains("BAD queue/" + victim + ": crc32c mismatch"),
                verifyBadText.toString());
            assertEquals(1, verifyBadText.out.split("BAD ", -1).length - 1, verifyBadText.toString());
        }
    }

    @Test
    void countersAreReadPostMortemAfterKill9() throws Exception
    {
        final Path spool = dir.resolve("spool");
        final long pid;
        try (DaemonProcess daemon = DaemonProcess.start(spool, "--event-loops", "2"))
        {
            pid = daemon.pid();
            sendMessages(daemon.port(), 7);
            daemon.kill9();
            assertFalse(daemon.process().isAlive());
        }

        final InspectRun json = InspectRun.of("counters", "--spool", spool.toString(), "--json");
        assertEquals(0, json.exit, json.toString());
        final Map<String, Object> counters = json.json();
        assertEquals(pid, counters.get("pid"));
        assertEquals(Boolean.FALSE, counters.get("alive"), json.toString());
        assertEquals("dead", counters.get("process"), json.toString());
        assertEquals(7, summary(counters, SmtpdCounter.MESSAGES_QUEUED.typeId()), json.toString());
        assertEquals(1, summary(counters, SmtpdCounter.CONNECTIONS_ACCEPTED.typeId()), json.toString());

        final InspectRun text = InspectRun.of("counters", "--spool", spool.toString(), "name=^messages queued");
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("pid " + pid + " not running"), text.toString());
        assertTrue(text.out.matches("(?s).*\\s7 - messages queued \\[2 loops].*"), text.toString());
        assertFalse(text.out.contains("connections accepted"), "name= filter: " + text);

        final InspectRun verify = InspectRun.of("spool", "--spool", spool.toString(), "--verify");
        assertEquals(0, verify.exit, "every file the client got a 250 for is complete: " + verify);
        assertTrue(verify.out.contains("verify: 7 checked, 0 bad"), verify.toString());
    }

    private static Map<String, Object> awaitCounters(final Path spool, final SmtpdCounter counter, final long value)
    {
        final List<Map<String, Object>> last = new ArrayList<>(List.of(Map.of()));
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(20)).until(() ->
        {
            final InspectRun run = InspectRun.of("counters", "--spool", spool.toString(), "--json");
            assertEquals(0, run.exit, run.toString());
            last.set(0, run.json());
            return summary(last.get(0), counter.typeId()) == value;
        });
        return last.get(0);
    }

    /**
     * Send messages, a number per connection.
     *
     * @return queue id to body, in sending order.
     */
    private static Map<String, String> sendMessages(final int port, final int... perConnection) throws IOException
    {
        final Map<String, String> bodies = new LinkedHashMap<>();
        int n = 0;
        for (final int messages : perConnection)
        {
            try (SmtpTestClient client = SmtpTestClient.open(port, 15_000))
            {
                for (int i = 0; i < messages; i++)
                {
                    final String body = body(n++);
                    bodies.put(client.sendMail(SENDER, RECIPIENTS, body), body);
                }
                client.expect("QUIT", "221");
            }
        }
        return bodies;
    }

    private static String body(final int n)
    {
        final StringBuilder sb = new StringBuilder();
        sb.append("From: <").append(SENDER).append(">\r\nSubject: inspect test ").append(n).append("\r\n\r\n");
        for (int i = 0; i <= n; i++)
        {
            sb.append("line ").append(i).append(" of message ").append(n).append("\r\n");
        }
        sb.append(".a line that starts with a dot\r\n");
        return sb.toString();
    }
}
