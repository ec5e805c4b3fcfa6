package mailgate.handoff;

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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of the handoff role (a child JVM) while a message is on the wire loses nothing: the message whose
 * reply never arrived stays in queue/ and is sent again (a duplicate) by the next handoff.
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
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HandoffMain.class.getName()));
            cmd.addAll(List.of(f.args(conf)));
            final Path out = dir.resolve("child.out");
            final Path err = dir.resolve("child.err");
            final Process child = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
                .start();
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
}
