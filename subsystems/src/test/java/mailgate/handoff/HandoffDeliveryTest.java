package mailgate.handoff;

import mailgate.reactor.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Handoff to a real-socket SMTP/LMTP stand-in and to a Maildir.
 */
class HandoffDeliveryTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void smtpDeliversIdenticalBytesAndReusesOneConnection() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final List<String> ids = new ArrayList<>();
        final List<byte[]> messages = new ArrayList<>();
        // some queued before start, some after
        for (int i = 0; i < 3; i++)
        {
            final String id = HandoffFixture.nextId();
            final byte[] m = HandoffFixture.message(id, HandoffFixture.trickyBody());
            f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
            ids.add(id);
            messages.add(m);
        }
        try (FakeMta mta = new FakeMta(false);
             Handoff h = f.start(mta.uri(), "handoff.workers = 1"))
        {
            for (int i = 0; i < 3; i++)
            {
                final String id = HandoffFixture.nextId();
                final byte[] m = HandoffFixture.message(id, "body " + i + "\r\n.\r\n");
                f.write(id, m, "", List.of("c@example.com", "d@example.com"), System.currentTimeMillis());
                ids.add(id);
                messages.add(m);
            }
            await().atMost(DEADLINE).until(() -> mta.received.size() == 6 && f.queueEmpty());
            for (int i = 0; i < ids.size(); i++)
            {
                final String id = ids.get(i);
                final FakeMta.Received r = mta.received.stream()
                    .filter((x) -> x.text().contains("with ESMTP id " + id)).findFirst().orElseThrow();
                assertArrayEquals(messages.get(i), r.data(), "bytes of " + id);
                assertEquals(i < 3 ? "a@example.com" : "", r.sender());
                assertEquals(i < 3 ? List.of("b@example.com") : List.of("c@example.com", "d@example.com"),
                    r.recipients());
                assertTrue(f.maillog().contains(id + ": to=<b@example.com>, relay=127.0.0.1:" + mta.port()) || i >= 3);
            }
            assertTrue(mta.received.get(0).mailLine().contains("BODY=8BITMIME"), mta.received.get(0).mailLine());
            assertTrue(mta.received.get(0).mailLine().contains("SIZE="), mta.received.get(0).mailLine());
            assertEquals(1, mta.connections.get(), "one connection reused for all messages");
            assertEquals(3 + 3 * 2, count(f.maillog(), "status=sent (250 2.0.0 Ok: queued)"), f.maillog());
            assertFalse(Files.exists(f.failed) && Files.list(f.failed).findAny().isPresent());
        }
    }

    @Test
    void deferredWhile451ThenDeliveredOn250() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        try (FakeMta mta = new FakeMta(false))
        {
            mta.dataReply = (r) -> "451 4.3.0 try later";
            final String id = HandoffFixture.nextId();
            final byte[] m = HandoffFixture.message(id, HandoffFixture.trickyBody());
            f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
            try (Handoff h = f.start(mta.uri()))
            {
                await().atMost(DEADLINE).until(() -> count(f.maillog(), "status=deferred") >= 3);
                assertTrue(Files.exists(f.queue.resolve(id)), "stays queued while deferred");
                assertTrue(f.maillog().contains(id + ": to=<b@example.com>, relay=127.0.0.1:" + mta.port() +
                    ", delay="), f.maillog());
                assertTrue(f.maillog().contains("status=deferred (451 4.3.0 try later)"), f.maillog());
                mta.dataReply = (r) -> "250 2.0.0 Ok";
                await().atMost(DEADLINE).until(() -> !Files.exists(f.queue.resolve(id)));
                assertTrue(f.maillog().contains("status=sent (250 2.0.0 Ok)"), f.maillog());
                final FakeMta.Received last = mta.received.get(mta.received.size() - 1);
                assertArrayEquals(m, last.data());
            }
        }
    }

    @Test
    void hopDownIsDeferredAndDeliveredWhenItComesBack() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final int port = FakeMta.freePort();
        final String id = HandoffFixture.nextId();
        final byte[] m = HandoffFixture.message(id, "x\r\n");
        f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
        try (Handoff h = f.start("smtp://127.0.0.1:" + port))
        {
            await().atMost(DEADLINE).until(() -> count(f.maillog(), "status=deferred (421 4.4.2") >= 2);
            assertTrue(Files.exists(f.queue.resolve(id)));
            try (FakeMta mta = new FakeMta(false, port))
            {
                await().atMost(DEADLINE).until(() -> !Files.exists(f.queue.resolve(id)));
                assertArrayEquals(m, mta.received.get(0).data());
            }
        }
    }

    @Test
    void rejected550GoesToFailedWithReason() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        try (FakeMta mta = new FakeMta(false); Handoff h = f.start(mta.uri()))
        {
            mta.rcptReply = (r) -> r.startsWith("bad") ? "550 5.1.1 no such user" : "250 2.1.5 Ok";
            final String id = f.write(HandoffFixture.message("X", "y\r\n"), "a@example.com",
                List.of("bad@example.com"));
            await().atMost(DEADLINE).until(() -> Files.exists(f.failed.resolve(id)) &&
                Files.exists(f.failed.resolve(id + ".reason")));
            assertFalse(Files.exists(f.queue.resolve(id)));
            final String reason = Files.readString(f.failed.resolve(id + ".reason"));
            assertTrue(reason.contains("<bad@example.com>: 550 5.1.1 no such user"), reason);
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f.failed)));
            assertTrue(f.maillog().contains(id + ": to=<bad@example.com>") &&
                f.maillog().contains("status=bounced (550 5.1.1 no such user)"), f.maillog());
            assertTrue(mta.received.isEmpty(), "no DATA without an accepted recipient");

            // mixed: one accepted, one rejected -> delivered to the good one, then failed/ for the bad one
            final String id2 = f.write(HandoffFixture.message("Y", "z\r\n"), "a@example.com",
                List.of("good@example.com", "bad2@example.com"));
            await().atMost(DEADLINE).until(() -> Files.exists(f.failed.resolve(id2 + ".reason")));
            assertEquals(List.of("good@example.com"), mta.received.get(0).recipients());
            final String reason2 = Files.readString(f.failed.resolve(id2 + ".reason"));
            assertTrue(reason2.contains("<bad2@example.com>: 550") && reason2.contains("<good@example.com>: delivered"),
                reason2);
        }
    }

    @Test
    void lmtpPerRecipientRepliesRetryOnlyTheDeferredRecipient() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        try (FakeMta mta = new FakeMta(true); Handoff h = f.start(mta.uri()))
        {
            mta.dataReply = (r) -> r.startsWith("full") ? "452 4.2.2 mailbox full" : "250 2.0.0 saved";
            final byte[] m = HandoffFixture.message("L", HandoffFixture.trickyBody());
            final String id = f.write(m, "a@example.com", List.of("one@example.com", "full@example.com"));
            await().atMost(DEADLINE).until(() -> count(f.maillog(), id + ": to=<full@example.com>") >= 2);
            assertTrue(Files.exists(f.queue.resolve(id)));
            mta.dataReply = (r) -> "250 2.0.0 saved";
            await().atMost(DEADLINE).until(() -> !Files.exists(f.queue.resolve(id)));
            assertEquals(List.of("one@example.com", "full@example.com"), mta.received.get(0).recipients());
            for (int i = 1; i < mta.received.size(); i++)
            {
                assertEquals(List.of("full@example.com"), mta.received.get(i).recipients(), "retry only the deferred");
                assertArrayEquals(m, mta.received.get(i).data());
            }
            assertEquals(1, count(f.maillog(), id + ": to=<one@example.com>"), f.maillog());
            assertTrue(mta.commands.stream().anyMatch((c) -> c.startsWith("LHLO ")));
        }
    }

    @Test
    void expiredMessageGoesToFailed() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        try (FakeMta mta = new FakeMta(false); Handoff h = f.start(mta.uri(), "handoff.max-age = 1h"))
        {
            mta.dataReply = (r) -> "451 4.3.0 try later";
            final String id = HandoffFixture.nextId();
            f.write(id, HandoffFixture.message(id, "old\r\n"), "a@example.com", List.of("b@example.com"),
                System.currentTimeMillis() - Duration.ofHours(2).toMillis());
            await().atMost(DEADLINE).until(() -> Files.exists(f.failed.resolve(id + ".reason")));
            assertTrue(Files.readString(f.failed.resolve(id + ".reason")).contains("expired"));
            assertTrue(f.maillog().contains("status=bounced (message expired"), f.maillog());
        }
    }

    @Test
    void maildirGetsOneFileWithIdenticalBytes() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final Path maildir = dir.resolve("Maildir");
        final byte[] m = HandoffFixture.message("M", HandoffFixture.trickyBody());
        final String id = f.write(m, "a@example.com", List.of("b@example.com", "c@example.com"));
        try (Handoff h = f.start("maildir:" + maildir))
        {
            await().atMost(DEADLINE).until(() -> !Files.exists(f.queue.resolve(id)));
        }
        final List<Path> fresh;
        try (Stream<Path> s = Files.list(maildir.resolve("new")))
        {
            fresh = s.toList();
        }
        assertEquals(1, fresh.size());
        assertArrayEquals(m, Files.readAllBytes(fresh.get(0)));
        assertTrue(fresh.get(0).getFileName().toString().matches("\\d+\\.P\\d+_Q\\d+\\.handoff\\.test"),
            fresh.get(0).toString());
        try (Stream<Path> s = Files.list(maildir.resolve("tmp")))
        {
            assertEquals(0, s.count());
        }
        assertTrue(Files.isDirectory(maildir.resolve("cur")));
        assertEquals(2, count(f.maillog(), "relay=maildir:" + maildir), f.maillog());
    }

    @Test
    void badConfigSaysFileAndLine() throws Exception
    {
        final Path conf = dir.resolve("bad.conf");
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\n\nhandoff.retry = 3\n");
        final ConfigException ex = assertThrows(ConfigException.class, () -> HandoffConfig.load(conf));
        assertTrue(ex.getMessage().startsWith(conf + ":3: "), ex.getMessage());
        Files.writeString(conf, "handoff.next-hop = ftp://x:1\n");
        assertTrue(assertThrows(ConfigException.class, () -> HandoffConfig.load(conf)).getMessage()
            .startsWith(conf + ":1: "));
        Files.writeString(conf, "handoff.workers = 2\n");
        assertTrue(assertThrows(ConfigException.class, () -> HandoffConfig.load(conf)).getMessage()
            .contains("handoff.next-hop is required"));
        Files.writeString(conf, "handoff.next-hop = lmtp://127.0.0.1:24\nhandoff.max-age = 5d\n" +
            "handoff.backoff-initial = 1s\n");
        final HandoffConfig c = HandoffConfig.load(conf);
        assertEquals(HandoffConfig.Kind.LMTP, c.nextHop().kind());
        assertEquals(Duration.ofDays(5), c.maxAge());
        assertEquals(Duration.ofMinutes(5), c.backoffMax());
    }

    private static int count(final String text, final String needle)
    {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1))
        {
            n++;
        }
        return n;
    }

    static String utf8(final byte[] b)
    {
        return new String(b, StandardCharsets.UTF_8);
    }
}
