package mailgate.handoff;

import mailgate.reactor.spool.Spool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the handoff role (a child JVM) while a message is on the wire loses nothing: the message whose
 * reply never arrived stays in queue/ and is sent again (a duplicate) by the next handoff. After kill -9 of a
 * handoff that had delivered a message to some recipients only, the next one resumes from handoff/ID.
 */
class HandoffCrashTest
{
    @TempDir
    Path dir;

    @Test
    void killMinus9MidStreamLosesNothing() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final List<String> ids = new ArrayList<>();
        final List<byte[]> messages = new ArrayList<>();
        for (int i = 0; i < 10; i++)
        {
            final String id = HandoffFixture.nextId();
            final byte[] m = HandoffFixture.message(id, HandoffFixture.trickyBody());
            f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
            ids.add(id);
            messages.add(m);
        }
        try (FakeMta mta = new FakeMta(false))
        {
            final CountDownLatch fifthDot = new CountDownLatch(5);
            final CountDownLatch hold = new CountDownLatch(1);
            mta.hold = hold;
            mta.dotSeen = fifthDot;
            final Path conf = f.config(mta.uri(), "handoff.workers = 1");
            final List<String> cmd = new ArrayList<>();
            final Path out = dir.resolve("child.out");
            final Process child = child(f, conf, out);
            try
            {
                assertTrue(fifthDot.await(30, TimeUnit.SECONDS), "fifth message reached the hop");
                // the fifth message is on the hop, its reply is held: kill -9 now
                child.destroyForcibly();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
            }
            finally
            {
                child.destroyForcibly();
            }
            try (var files = Files.list(f.queue))
            {
                assertEquals(6, files.count(), "only the four confirmed messages left queue/");
            }
            assertEquals(4, HandoffDeliveryTestSupport.count(Files.readString(out), "status=sent"),
                Files.readString(out));
            mta.dotSeen = null;
            mta.hold = null;
            hold.countDown();

            try (Handoff h = f.start(mta.uri()))
            {
                await().atMost(Duration.ofSeconds(30)).until(f::queueEmpty);
            }
            assertTrue(f.diagBytes.toString().contains("may be delivered twice"), f.diagBytes.toString());
            for (int i = 0; i < ids.size(); i++)
            {
                final String id = ids.get(i);
                final List<FakeMta.Received> got = mta.received.stream()
                    .filter((x) -> x.text().contains("with ESMTP id " + id)).toList();
                assertTrue(got.size() >= 1, "delivered: " + id);
                assertTrue(got.size() <= (4 == i ? 2 : 1), "at most the in-flight one twice: " + id);
                for (final FakeMta.Received r : got)
                {
                    assertArrayEquals(messages.get(i), r.data());
                }
            }
        }
    }

    @Test
    void restartAfterKillMinus9ResumesRetryStateWithoutResending() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final String id = HandoffFixture.nextId();
        final byte[] m = HandoffFixture.message(id, HandoffFixture.trickyBody());
        f.write(id, m, "s@example.com", List.of("a@example.com", "b@example.com"), System.currentTimeMillis());
        final Path stateFile = f.root.resolve("handoff").resolve(id);
        try (FakeMta mta = new FakeMta(false))
        {
            mta.rcptReply = (r) -> r.startsWith("b@") ? "451 4.2.0 b is busy" : "250 2.1.5 Ok";
            // a 3 s first backoff, so the restarted handoff visibly waits out the saved retry time
            final Path conf = f.config(mta.uri(), "handoff.workers = 1", "handoff.backoff-initial = 3s",
                "handoff.backoff-max = 10s");
            final Process child = child(f, conf, dir.resolve("child.out"));
            final String saved;
            try
            {
                await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(stateFile));
                child.destroyForcibly();
                assertTrue(child.waitFor(10, TimeUnit.SECONDS));
                saved = Files.readString(stateFile);
            }
            finally
            {
                child.destroyForcibly();
            }
            assertTrue(saved.contains("attempts: 1\n") && saved.contains("done: 0 <a@example.com>\n") &&
                saved.contains("last-reply: 451 4.2.0 b is busy\n"), saved);
            assertEquals(1, mta.received.size());
            assertEquals(List.of("a@example.com"), mta.received.get(0).recipients());
            final long nextAttemptMs = Long.parseLong(saved.replaceAll("(?s).*next-attempt: (\\d+)\n.*", "$1"));

            // smtpd's start-up verification leaves handoff/ and the queued message alone
            try (Spool spool = new Spool(f.root, 1))
            {
                assertEquals(List.of(), spool.corruptFiles());
            }
            assertTrue(Files.exists(f.queue.resolve(id)) && Files.exists(stateFile));

            mta.rcptReply = (r) -> "250 2.1.5 Ok";
            try (Handoff h = f.start(mta.uri(), "handoff.backoff-initial = 3s", "handoff.backoff-max = 10s"))
            {
                final long waitMs = nextAttemptMs - System.currentTimeMillis() - 300;
                if (waitMs > 200)
                {
                    // the saved retry time holds across the restart: nothing is sent before it
                    await().during(Duration.ofMillis(waitMs)).atMost(Duration.ofMillis(waitMs + 2_000))
                        .until(() -> 1 == mta.received.size());
                }
                await().atMost(Duration.ofSeconds(30)).until(f::queueEmpty);
            }
            assertTrue(f.diagBytes.toString().contains("resumed the retry state of 1 message(s)"),
                f.diagBytes.toString());
            assertEquals(2, mta.received.size(), "the first delivery and the retry");
            assertEquals(List.of("b@example.com"), mta.received.get(1).recipients(), "a is not sent again");
            assertArrayEquals(m, mta.received.get(1).data());
            final long aTotal = mta.received.stream().filter((r) -> r.recipients().contains("a@example.com")).count();
            assertEquals(1, aTotal, "a got the message exactly once");
            assertTrue(f.maillog().contains(id + ": to=<b@example.com>, relay=127.0.0.1:" + mta.port()) &&
                f.maillog().contains("attempts=2, tls=none, status=sent"), "attempt count goes on: " + f.maillog());
            assertFalse(Files.exists(stateFile), "state removed with the message");
        }
    }

    private Process child(final HandoffFixture f, final Path conf, final Path out) throws java.io.IOException
    {
        final List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HandoffMain.class.getName()));
        cmd.addAll(List.of(f.args(conf)));
        return new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(dir.resolve("child.err").toFile())
            .start();
    }
}
