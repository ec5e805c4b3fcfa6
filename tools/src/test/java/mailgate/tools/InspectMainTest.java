package mailgate.tools;

import mailgate.reactor.status.LoopCounters;
import mailgate.reactor.status.SmtpdCounter;
import mailgate.reactor.status.StatusFile;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.CRC32C;

import static mailgate.tools.InspectRun.list;
import static mailgate.tools.InspectRun.map;
import static mailgate.tools.InspectRun.summary;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Usage, error paths, and both views over files made here (hand-written spool files, an in-process status file).
 */
@Timeout(60)
class InspectMainTest
{
    @TempDir
    Path dir;

    @Test
    void helpAndUsageErrors()
    {
        final InspectRun help = InspectRun.of("--help");
        assertEquals(0, help.exit);
        assertTrue(help.out.startsWith("usage: mailgate inspect"), help.toString());
        assertEquals(0, InspectRun.of("counters", "--help").exit);

        assertUsage(InspectRun.of(), "usage: mailgate inspect");
        assertUsage(InspectRun.of("bogus"), "unknown view 'bogus'");
        assertUsage(InspectRun.of("spool", "--bogus"), "unknown option '--bogus'");
        assertUsage(InspectRun.of("spool", "--spool"), "--spool needs a value");
        assertUsage(InspectRun.of("counters", "--count", "3"), "go with --watch");
        assertUsage(InspectRun.of("counters", "--watch", "--interval", "soon"), "wants a number");
        assertUsage(InspectRun.of("counters", "--watch", "--count", "0"), "at least 1");
        assertUsage(InspectRun.of("counters", "name=(unclosed"), "bad regex");
    }

    @Test
    void missingAndBadFilesNameThePath() throws Exception
    {
        final Path missing = dir.resolve("no-such-spool");
        final InspectRun noSpool = InspectRun.of("spool", "--spool", missing.toString());
        assertEquals(1, noSpool.exit, noSpool.toString());
        assertTrue(noSpool.err.contains(missing.toString()), noSpool.toString());

        final Path notSpool = Files.createDirectories(dir.resolve("empty"));
        final InspectRun noQueue = InspectRun.of("spool", "--spool=" + notSpool);
        assertEquals(1, noQueue.exit, noQueue.toString());
        assertTrue(noQueue.err.contains(notSpool.resolve("queue").toString()), noQueue.toString());

        final Path statusPath = notSpool.resolve("run").resolve(StatusFile.FILE_NAME);
        final InspectRun noStatus = InspectRun.of("counters", "--spool", notSpool.toString());
        assertEquals(1, noStatus.exit, noStatus.toString());
        assertTrue(noStatus.err.contains("no status file at " + statusPath), noStatus.toString());

        Files.createDirectories(statusPath.getParent());
        Files.write(statusPath, new byte[100]);
        final InspectRun tooShort = InspectRun.of("counters", "--spool", notSpool.toString());
        assertEquals(1, tooShort.exit, tooShort.toString());
        assertTrue(tooShort.err.contains("not a mailgate status file (100 bytes): " + statusPath), tooShort.toString());

        final byte[] junk = new byte[8192];
        junk[0] = 'J';
        Files.write(statusPath, junk);
        final InspectRun badMagic = InspectRun.of("counters", "--spool", notSpool.toString());
        assertEquals(1, badMagic.exit, badMagic.toString());
        assertTrue(badMagic.err.contains("not a mailgate status file (magic 0x0000004a"), badMagic.toString());

        final byte[] wrongVersion = junk.clone();
        putIntLe(wrongVersion, 0, StatusFile.MAGIC);
        putIntLe(wrongVersion, 4, 99);
        Files.write(statusPath, wrongVersion);
        final InspectRun badVersion = InspectRun.of("counters", "--spool", notSpool.toString());
        assertEquals(1, badVersion.exit, badVersion.toString());
        assertTrue(badVersion.err.contains("status file version 99"), badVersion.toString());

        putIntLe(wrongVersion, 4, StatusFile.VERSION);
        putIntLe(wrongVersion, StatusFile.METADATA_LENGTH_OFFSET, 4096 * 4);
        putIntLe(wrongVersion, StatusFile.VALUES_LENGTH_OFFSET, 4096);
        Files.write(statusPath, wrongVersion);
        final InspectRun truncated = InspectRun.of("counters", "--spool", notSpool.toString());
        assertEquals(1, truncated.exit, truncated.toString());
        assertTrue(truncated.err.contains("corrupt status file header"), truncated.toString());
    }

    @Test
    void spoolViewCountsListsAndVerifiesHandMadeFiles() throws Exception
    {
        final Path spool = dir.resolve("spool");
        final Path queue = Files.createDirectories(spool.resolve("queue"));
        Files.createDirectories(spool.resolve("tmp"));
        Files.createDirectories(spool.resolve("quarantine"));
        Files.write(spool.resolve("tmp").resolve("0000000000010000"), new byte[123]);
        Files.write(spool.resolve("quarantine").resolve("0000000000020000"), new byte[45]);

        final long now = System.currentTimeMillis();
        final byte[] good = spoolFile("00000000000A0000", now - 90_000, "<a@x.test> SIZE=10",
            List.of("<b@y.test>", "<\"odd>name\"@y.test> NOTIFY=NEVER"), "Subject: hi\r\n\r\nbody\r\n");
        final byte[] bounce = spoolFile("00000000000B0000", now - 5_000, "<>", List.of("<c@y.test>"), "bounce\r\n");
        final byte[] corrupt = spoolFile("00000000000C0000", now - 1_000, "<a@x.test>", List.of("<b@y.test>"),
            "this will be changed\r\n");
        corrupt[corrupt.length - 5] ^= 1;
        final byte[] unpatched = spoolFile("00000000000D0000", now, "<a@x.test>", List.of("<b@y.test>"), "x\r\n");
        final String unpatchedText = new String(unpatched, StandardCharsets.ISO_8859_1)
            .replaceFirst("size: \\d{20}", "size: " + "0".repeat(20));
        final byte[] truncated = new String(good, StandardCharsets.ISO_8859_1).substring(0, 60)
            .getBytes(StandardCharsets.ISO_8859_1);
        Files.write(queue.resolve("00000000000A0000"), good);
        Files.write(queue.resolve("00000000000B0000"), bounce);
        Files.write(queue.resolve("00000000000C0000"), corrupt);
        Files.write(queue.resolve("00000000000D0000"), unpatchedText.getBytes(StandardCharsets.ISO_8859_1));
        Files.write(queue.resolve("00000000000E0000"), truncated);
        Files.write(queue.resolve("00000000000F0000"), "not a spool file\n".getBytes(StandardCharsets.US_ASCII));

        final InspectRun counts = InspectRun.of("spool", "--spool", spool.toString(), "--json");
        assertEquals(0, counts.exit, "without --verify bad files do not fail the run: " + counts);
        final Map<String, Object> directories = map(counts.json().get("directories"));
        assertEquals(1L, map(directories.get("tmp")).get("messages"));
        assertEquals(123L, map(directories.get("tmp")).get("bytes"));
        assertEquals(1L, map(directories.get("quarantine")).get("messages"));
        assertEquals(Boolean.FALSE, map(directories.get("failed")).get("present"));
        final Map<String, Object> queueStats = map(directories.get("queue"));
        assertEquals(6L, queueStats.get("messages"));
        assertEquals("00000000000A0000", queueStats.get("oldestId"));
        assertTrue((Long)queueStats.get("oldestAgeMs") >= 90_000, counts.toString());

        final InspectRun listed = InspectRun.of("spool", "--spool", spool.toString(), "--list", "--json");
        final Map<String, Map<String, Object>> byId = new HashMap<>();
        for (final Object row : list(listed.json().get("queue")))
        {
            byId.put((String)map(row).get("id"), map(row));
        }
        final Map<String, Object> first = byId.get("00000000000A0000");
        assertEquals("a@x.test", first.get("sender"));
        assertEquals(List.of("b@y.test", "\"odd>name\"@y.test"), first.get("recipients"));
        assertEquals((long)"Subject: hi\r\n\r\nbody\r\n".length(), first.get("size"));
        assertEquals("", byId.get("00000000000B0000").get("sender"));
        assertNull(byId.get("00000000000E0000").get("size"), listed.toString());

        final InspectRun text = InspectRun.of("spool", "--spool", spool.toString(), "--list");
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("MAILER-DAEMON"), text.toString());
        assertTrue(text.out.contains("\"odd>name\"@y.test"), text.toString());
        assertTrue(text.out.contains("in 6 Requests."), text.toString());

        final InspectRun verify = InspectRun.of("spool", "--spool", spool.toString(), "--verify", "--json");
        assertEquals(1, verify.exit, verify.toString());
        final Map<String, String> bad = new HashMap<>();
        for (final Object row : list(map(verify.json().get("verify")).get("bad")))
        {
            bad.put((String)map(row).get("file"), (String)map(row).get("problem"));
        }
        assertEquals(4, bad.size(), verify.toString());
        assertTrue(bad.get("queue/00000000000C0000").startsWith("crc32c mismatch"), verify.toString());
        assertTrue(bad.get("queue/00000000000D0000").startsWith("size mismatch: envelope says 0"), verify.toString());
        assertTrue(bad.get("queue/00000000000E0000").startsWith("incomplete envelope"), verify.toString());
        assertTrue(bad.get("queue/00000000000F0000").startsWith("not a spool file"), verify.toString());
    }

    @Test
    void spoolViewCountsFailedMessagesAndShowsTheHandoffRetryState() throws Exception
    {
        final Path spool = dir.resolve("spool");
        new mailgate.reactor.spool.Spool(spool, 1).close();
        final long now = System.currentTimeMillis();
        final String id = "00000000000A0000";
        Files.write(spool.resolve("queue").resolve(id), spoolFile(id, now - 60_000, "<a@x.test>",
            List.of("<b@y.test>"), "Subject: deferred\r\n\r\nbody\r\n"));
        // a real handoff towards a port where nothing listens: deferred, its retry state in handoff/
        final int closedPort;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0))
        {
            closedPort = probe.getLocalPort();
        }
        final java.io.ByteArrayOutputStream sink = new java.io.ByteArrayOutputStream();
        final java.io.PrintStream log = new java.io.PrintStream(sink, true, StandardCharsets.UTF_8);
        final mailgate.handoff.HandoffConfig config = mailgate.handoff.HandoffConfig.defaults(
            mailgate.handoff.HandoffConfig.NextHop.parse("smtp://127.0.0.1:" + closedPort))
            .withRetry(java.time.Duration.ofHours(1), java.time.Duration.ofHours(1), java.time.Duration.ofDays(1));
        try (mailgate.handoff.Handoff ignored = mailgate.handoff.Handoff.start(config, spool, "inspect.test", log, log))
        {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20))
                .until(() -> Files.exists(spool.resolve("handoff").resolve(id)));
        }
        final Path failed = spool.resolve("failed");
        Files.write(failed.resolve("00000000000B0000"), spoolFile("00000000000B0000", now, "<a@x.test>",
            List.of("<c@y.test>"), "x\r\n"));
        Files.writeString(failed.resolve("00000000000B0000.reason"), "rejected: <c@y.test>: 550 5.1.1 no\n");

        final InspectRun counts = InspectRun.of("spool", "--spool", spool.toString(), "--json");
        assertEquals(0, counts.exit, counts.toString());
        final Map<String, Object> directories = map(counts.json().get("directories"));
        assertEquals(1L, map(directories.get("queue")).get("messages"));
        assertEquals(1L, map(directories.get("failed")).get("messages"), "the .reason file is not a message");
        assertEquals(1L, map(directories.get("handoff")).get("messages"));
        final InspectRun verify = InspectRun.of("spool", "--spool", spool.toString(), "--verify");
        assertEquals(0, verify.exit, "handoff/ does not make queue/ look bad: " + verify);
        final InspectRun listed = InspectRun.of("spool", "--spool", spool.toString(), "--list");
        assertTrue(listed.out.contains("(handoff: attempt 1, next ") &&
            listed.out.contains(", last reply: 421 4.4.2 127.0.0.1:" + closedPort), listed.toString());
        assertTrue(listed.out.contains("in 1 Request."), listed.toString());
    }

    @Test
    void countersViewSumsLoopsFiltersAndWatchesRates() throws Exception
    {
        final Path spool = dir.resolve("spool");
        final Path statusPath = Files.createDirectories(spool.resolve("run")).resolve(StatusFile.FILE_NAME);
        final StatusFile status = StatusFile.create(statusPath, StatusFile.DEFAULT_VALUES_LENGTH);
        try
        {
            final CountersManager manager = status.newCountersManager();
            final AtomicCounter dropped = LoopCounters.allocate(manager, SmtpdCounter.MAILLOG_DROPPED, -1);
            final LoopCounters loop0 = new LoopCounters(manager, 0);
            final LoopCounters loop1 = new LoopCounters(manager, 1);
            dropped.set(4);
            loop0.messagesQueued.set(5);
            loop1.messagesQueued.set(6);
            loop0.connectionsAccepted.set(2);
            loop1.connectionsAccepted.set(1);
            loop1.connectionsActive.set(1);

            final InspectRun once = InspectRun.of("counters", "--spool", spool.toString(), "--json");
            assertEquals(0, once.exit, once.toString());
            final Map<String, Object> json = once.json();
            assertEquals(ProcessHandle.current().pid(), json.get("pid"));
            assertEquals(Boolean.TRUE, json.get("alive"));
            assertEquals(11, summary(json, SmtpdCounter.MESSAGES_QUEUED.typeId()));
            assertEquals(3, summary(json, SmtpdCounter.CONNECTIONS_ACCEPTED.typeId()));
            assertEquals(4, summary(json, SmtpdCounter.MAILLOG_DROPPED.typeId()));
            assertEquals(1 + 2 * (SmtpdCounter.values().length - 4), list(json.get("counters")).size(), once.toString());

            final InspectRun filtered = InspectRun.of("counters", "--spool", spool.toString(), "name=queued",
                "name=^maillog");
            assertEquals(0, filtered.exit, filtered.toString());
            assertTrue(filtered.out.contains("4 - maillog lines dropped"), filtered.toString());
            assertTrue(filtered.out.contains("5 - messages queued: loop 0"), filtered.toString());
            assertTrue(filtered.out.contains("11 - messages queued [2 loops]"), filtered.toString());
            assertFalse(filtered.out.contains("connections"), filtered.toString());

            final AtomicBoolean running = new AtomicBoolean(true);
            final Thread writer = new Thread(() ->
            {
                while (running.get())
                {
                    loop0.messagesQueued.incrementRelease();
                    Thread.onSpinWait();
                }
            });
            writer.start();
            final InspectRun watch;
            try
            {
                watch = InspectRun.of("counters", "--spool", spool.toString(), "--watch", "--interval", "50",
                    "--count", "3", "--json", "name=^messages queued", "name=^connections active");
            }
            finally
            {
                running.set(false);
                writer.join();
            }
            assertEquals(0, watch.exit, watch.toString());
            final List<Map<String, Object>> frames = watch.jsonLines();
            assertEquals(3, frames.size(), watch.toString());
            assertFalse(frames.get(0).containsKey("elapsedMs"), watch.toString());
            for (final Map<String, Object> frame : frames.subList(1, 3))
            {
                assertTrue(((Long)frame.get("elapsedMs")) >= 45, watch.toString());
                for (final Object row : list(frame.get("summary")))
                {
                    final Map<String, Object> sum = map(row);
                    if (SmtpdCounter.MESSAGES_QUEUED.typeId() == ((Long)sum.get("typeId")).intValue())
                    {
                        assertTrue(((Number)sum.get("ratePerSecond")).doubleValue() > 0, watch.toString());
                    }
                    else
                    {
                        assertFalse(sum.containsKey("ratePerSecond"), "a gauge has no rate: " + watch);
                    }
                }
            }

            final InspectRun watchText = InspectRun.of("counters", "--spool", spool.toString(), "--watch",
                "--interval", "10", "--count", "2", "name=dropped");
            assertEquals(0, watchText.exit, watchText.toString());
            assertTrue(watchText.out.contains("0.0/s - maillog lines dropped"), watchText.toString());
        }
        finally
        {
            status.close();
        }
    }

    @Test
    void watchFollowsAStatusFileReplacedByARestartedDaemon() throws Exception
    {
        final Path spool = dir.resolve("spool");
        final Path statusPath = Files.createDirectories(spool.resolve("run")).resolve(StatusFile.FILE_NAME);
        final StatusFile before = StatusFile.create(statusPath, StatusFile.DEFAULT_VALUES_LENGTH);
        StatusFile after = null;
        try
        {
            new LoopCounters(before.newCountersManager(), 0).messagesQueued.set(100);
            final CountDownLatch firstFrame = new CountDownLatch(1);
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            final PrintStream out = new PrintStream(new OutputStream()
            {
                public synchronized void write(final int b)
                {
                    bytes.write(b);
                    if ('\n' == b)
                    {
                        firstFrame.countDown();
                    }
                }
            }, true, StandardCharsets.UTF_8);
            final int[] exit = { -1 };
            final Thread watcher = new Thread(() -> exit[0] = InspectMain.run(new String[]{ "counters", "--spool",
                spool.toString(), "--watch", "--interval", "200", "--count", "4", "--json", "name=^messages queued" },
                out, System.err));
            watcher.start();
            assertTrue(firstFrame.await(10, TimeUnit.SECONDS), "first frame");
            after = StatusFile.create(statusPath, StatusFile.DEFAULT_VALUES_LENGTH);
            new LoopCounters(after.newCountersManager(), 0).messagesQueued.set(7);
            watcher.join(10_000);
            assertFalse(watcher.isAlive());
            assertEquals(0, exit[0]);

            final String text;
            synchronized (out)
            {
                text = bytes.toString(StandardCharsets.UTF_8);
            }
            final List<String> lines = List.of(text.split("\n"));
            assertEquals(4, lines.size(), text);
            assertEquals(100, summary(MiniJson.object(lines.get(0)), SmtpdCounter.MESSAGES_QUEUED.typeId()), text);
            int replacedAt = -1;
            for (int i = 1; i < lines.size(); i++)
            {
                final Map<String, Object> frame = MiniJson.object(lines.get(i));
                if (frame.containsKey("note"))
                {
                    assertEquals(-1, replacedAt, "one restart, one note: " + text);
                    replacedAt = i;
                    assertFalse(frame.containsKey("elapsedMs"), "no rate across a restart: " + text);
                }
                assertEquals(replacedAt < 0 ? 100 : 7, summary(frame, SmtpdCounter.MESSAGES_QUEUED.typeId()), text);
            }
            assertTrue(replacedAt > 0, text);
        }
        finally
        {
            before.close();
            if (null != after)
            {
                after.close();
            }
        }
    }

    private static void assertUsage(final InspectRun run, final String message)
    {
        assertEquals(2, run.exit, run.toString());
        assertTrue(run.err.contains(message), run.toString());
    }

    private static void putIntLe(final byte[] bytes, final int offset, final int value)
    {
        for (int i = 0; i < 4; i++)
        {
            bytes[offset + i] = (byte)(value >>> (8 * i));
        }
    }

    /**
     * A spool file as the reactor writes it (see SpoolFormat), built independently of its code.
     */
    private static byte[] spoolFile(
        final String id, final long arrivalMs, final String mail, final List<String> rcpts, final String message)
    {
        final byte[] body = message.getBytes(StandardCharsets.UTF_8);
        final CRC32C crc = new CRC32C();
        crc.update(body);
        final StringBuilder sb = new StringBuilder();
        sb.append("MAILGATE-SPOOL 1\n").append("id: ").append(id).append('\n')
            .append("arrival: ").append(arrivalMs).append('\n')
            .append("client-address: 127.0.0.1\nclient-port: 40000\nhelo: client.test\nprotocol: ESMTP\n")
            .append("mail: ").append(mail).append('\n');
        for (final String rcpt : rcpts)
        {
            sb.append("rcpt: ").append(rcpt).append('\n');
        }
        sb.append("size: ").append(String.format("%020d", body.length)).append('\n')
            .append("crc32c: ").append(String.format("%08x", crc.getValue())).append("\n\n");
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(sb.toString().getBytes(StandardCharsets.UTF_8));
        out.writeBytes(body);
        return out.toByteArray();
    }
}
