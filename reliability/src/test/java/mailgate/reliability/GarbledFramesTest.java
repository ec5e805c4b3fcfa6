package mailgate.reliability;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.codecs.ChallengeEncoder;
import mailgate.ipc.codecs.FilterRequestEncoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterRequestEncoder;
import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Garbled, truncated, oversized and unknown SBE frames published onto the request streams of the real router
 * and filter processes (supervisor, embedded media driver, smtpd): both keep answering smtpd's real requests,
 * count what they drop, and are not restarted.
 */
@Timeout(180)
class GarbledFramesTest
{
    /** Counter type ids: RouterCounters.BAD_FRAMES, FilterCounters.BAD_FRAMES. */
    private static final int ROUTER_BAD_FRAMES = 2103;
    private static final int FILTER_BAD_FRAMES = 2159;
    private static final int ROUNDS = Reliability.count(10, 100);
    private static final int FRAMES_PER_ROUND = 200;

    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;

    @AfterEach
    void tearDown() throws Exception
    {
        if (null != daemon)
        {
            daemon.close();
        }
        if (null != shm && Files.exists(shm))
        {
            try (Stream<Path> walk = Files.walk(shm))
            {
                walk.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
            }
        }
    }

    @Test
    void routerAndFilterSurviveGarbledFramesAndKeepAnswering() throws Exception
    {
        shm = Path.of("/dev/shm", "mg-fuzz-" + UUID.randomUUID().toString().substring(0, 8));
        final Path tables = Files.createDirectories(tmp.resolve("tables"));
        Files.writeString(tables.resolve("local-domains"), "example.test\n");
        Files.writeString(tables.resolve("recipients"), "alice@example.test\n");
        final Path aeronDir = shm.resolve("aeron");
        daemon = DaemonProcess.startSupervisor(tmp.resolve("spool"),
            "--set", "ipc.aeron-dir=" + aeronDir,
            "--set", "ipc.secret-file=" + tmp.resolve("secret"),
            "--set", "router.tables=" + tables,
            "--set", "smtpd.hard-error-limit=10000");
        final long routerPid = daemon.childPid("router");
        final long filterPid = daemon.childPid("filter");
        assertTrue(routerPid > 0 && filterPid > 0, daemon.stderr());
        transactionsStillWork();

        final Random random = new Random(42);
        final UnsafeBuffer frame = new UnsafeBuffer(new byte[120_000]);
        long sent = 0;
        long certainlyBadRouter = 0;
        long certainlyBadFilter = 0;
        long slowestMs = 0;
        try (Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString()));
            ExclusivePublication router = aeron.addExclusivePublication(IpcChannels.CHANNEL,
                IpcChannels.ROUTER_REQUEST_STREAM);
            ExclusivePublication filter = aeron.addExclusivePublication(IpcChannels.CHANNEL,
                IpcChannels.FILTER_REQUEST_STREAM))
        {
            await().atMost(Duration.ofSeconds(10)).until(() -> router.isConnected() && filter.isConnected());
            for (int round = 0; round < ROUNDS; round++)
            {
                for (int i = 0; i < FRAMES_PER_ROUND; i++)
                {
                    final boolean toRouter = random.nextBoolean();
                    final int kind = random.nextInt(7);
                    final int length = garble(kind, toRouter, random, frame);
                    try
                    {
                        offer(toRouter ? router : filter, frame, length);
                    }
                    catch (final RuntimeException ex)
                    {
                        throw new AssertionError("frame " + sent + " kind " + kind + " to " +
                            (toRouter ? "router" : "filter") + ": router alive " +
                            ProcessHandle.of(routerPid).map(ProcessHandle::isAlive).orElse(false) + ", filter alive " +
                            ProcessHandle.of(filterPid).map(ProcessHandle::isAlive).orElse(false) + "\n" +
                            daemon.stderr(), ex);
                    }
                    sent++;
                    if (kind <= 2)
                    {
                        if (toRouter)
                        {
                            certainlyBadRouter++;
                        }
                        else
                        {
                            certainlyBadFilter++;
                        }
                    }
                }
                final long startNs = System.nanoTime();
                transactionsStillWork();
                slowestMs = Math.max(slowestMs, (System.nanoTime() - startNs) / 1_000_000);
            }
            final long wantRouter = certainlyBadRouter;
            final long wantFilter = certainlyBadFilter;
            await("bad frames counted").atMost(Duration.ofSeconds(10)).until(() ->
                counter(aeron, ROUTER_BAD_FRAMES) >= wantRouter && counter(aeron, FILTER_BAD_FRAMES) >= wantFilter);
            final long routerBad = counter(aeron, ROUTER_BAD_FRAMES);
            final long filterBad = counter(aeron, FILTER_BAD_FRAMES);
            assertEquals(routerPid, daemon.childPid("router"), "router was restarted");
            assertEquals(filterPid, daemon.childPid("filter"), "filter was restarted");
            final long shmBytes = du(shm);
            Reliability.figure("garbled SBE frames: " + sent + " frames onto the router/filter request streams (" +
                ROUNDS + " rounds), router counted " + routerBad + " bad (>= " + certainlyBadRouter +
                " certainly bad), filter " + filterBad + " (>= " + certainlyBadFilter + "); " + (ROUNDS + 1) +
                " x (alice 250, nobody 550, message 250) after each round, slowest round " + slowestMs +
                " ms; no restart; aeron dir " + shmBytes / (1024 * 1024) + " MB");
            assertTrue(shmBytes < 128L * 1024 * 1024, "aeron dir grew to " + shmBytes + " bytes");
        }
    }

    /**
     * One garbled frame.
     *
     * @return its length.
     */
    private static int garble(final int kind, final boolean toRouter, final Random random, final UnsafeBuffer frame)
    {
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        switch (kind)
        {
            case 0: // shorter than a header
            {
                final int length = random.nextInt(MessageHeaderEncoder.ENCODED_LENGTH);
                randomBytes(random, frame, 0, length);
                return Math.max(1, length);
            }
            case 1: // another schema
            {
                final int length = MessageHeaderEncoder.ENCODED_LENGTH + random.nextInt(200);
                randomBytes(random, frame, 0, length);
                header.wrap(frame, 0).schemaId(MessageHeaderEncoder.SCHEMA_ID + 1 + random.nextInt(100));
                return length;
            }
            case 2: // our schema, a template nobody serves
            {
                final int length = MessageHeaderEncoder.ENCODED_LENGTH + random.nextInt(200);
                randomBytes(random, frame, 0, length);
                header.wrap(frame, 0).schemaId(MessageHeaderEncoder.SCHEMA_ID).templateId(30 + random.nextInt(1000));
                return length;
            }
            case 3: // a real request cut short
            {
                final int full = request(toRouter, random, frame);
                return MessageHeaderEncoder.ENCODED_LENGTH + random.nextInt(full - MessageHeaderEncoder.ENCODED_LENGTH);
            }
            case 4: // a real request with random octets flipped
            {
                final int full = request(toRouter, random, frame);
                for (int i = 0, n = 1 + random.nextInt(8); i < n; i++)
                {
                    frame.putByte(random.nextInt(full), (byte)random.nextInt());
                }
                return full;
            }
            case 5: // oversized: the request header, then ~100 KB of noise
            {
                request(toRouter, random, frame);
                final int length = 60_000 + random.nextInt(50_000);
                randomBytes(random, frame, MessageHeaderEncoder.ENCODED_LENGTH + 12, length);
                return length;
            }
            default: // a challenge naming a random reply stream
            {
                new ChallengeEncoder().wrapAndApplyHeader(frame, 0, header).replyStreamId(random.nextInt());
                return MessageHeaderEncoder.ENCODED_LENGTH + ChallengeEncoder.BLOCK_LENGTH;
            }
        }
    }

    /** A well-formed request whose reply goes to a stream nobody reads. */
    private static int request(final boolean toRouter, final Random random, final UnsafeBuffer frame)
    {
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final int replyStream = IpcChannels.REPLY_STREAM_BASE - 1 - random.nextInt(1000);
        if (toRouter)
        {
            return MessageHeaderEncoder.ENCODED_LENGTH + new RouterRequestEncoder().wrapAndApplyHeader(frame, 0, header)
                .correlationId(random.nextLong())
                .replyStreamId(replyStream)
                .question(random.nextBoolean() ? RouterQuestion.MAIL_FROM : RouterQuestion.RCPT_TO)
                .clientAddress("192.0.2." + random.nextInt(256))
                .sender("s" + random.nextInt() + "@example.test")
                .recipient("alice@example.test")
                .encodedLength();
        }
        return MessageHeaderEncoder.ENCODED_LENGTH + new FilterRequestEncoder().wrapAndApplyHeader(frame, 0, header)
            .correlationId(random.nextLong())
            .replyStreamId(replyStream)
            .messageSize(random.nextInt(1 << 20))
            .checksum(random.nextInt())
            .recipientCount(1)
            .queueId(Long.toHexString(random.nextLong() | Long.MIN_VALUE).toUpperCase())
            .clientAddress("192.0.2.1")
            .sender("s@example.test")
            .encodedLength();
    }

    private static void randomBytes(final Random random, final UnsafeBuffer frame, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            frame.putByte(i, (byte)random.nextInt());
        }
    }

    private static void offer(final ExclusivePublication publication, final UnsafeBuffer frame, final int length)
    {
        final long[] last = {0};
        await("offer of " + length + " octets (last result " + last[0] + ")").atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(1))
            .until(() -> (last[0] = publication.offer(frame, 0, length)) > 0);
    }

    private void transactionsStillWork() throws IOException
    {
        try (SmtpTestClient client = SmtpTestClient.connect(daemon.port(), 15_000))
        {
            SmtpTestClient.check(client.readReplyOrNull(), "220");
            SmtpTestClient.check(client.commandOrNull("EHLO client.test"), "250");
            SmtpTestClient.check(client.commandOrNull("MAIL FROM:<a@example.test>"), "250");
            // the router answers both: a known recipient and an unknown one in our domain
            SmtpTestClient.check(client.commandOrNull("RCPT TO:<nobody@example.test>"), "550");
            SmtpTestClient.check(client.commandOrNull("RCPT TO:<alice@example.test>"), "250");
            SmtpTestClient.check(client.commandOrNull("DATA"), "354");
            client.write("Subject: still here\r\n\r\nhello\r\n.\r\n");
            // the filter's verdict decides this reply
            SmtpTestClient.check(client.readReplyOrNull(), "250");
            client.commandOrNull("QUIT");
        }
    }

    private static long counter(final Aeron aeron, final int typeId)
    {
        final long[] sum = {0};
        aeron.countersReader().forEach((id, type, key, label) ->
        {
            if (type == typeId)
            {
                sum[0] += aeron.countersReader().getCounterValue(id);
            }
        });
        return sum[0];
    }

    private static long du(final Path dir) throws IOException
    {
        try (Stream<Path> walk = Files.walk(dir))
        {
            return walk.filter(Files::isRegularFile).mapToLong((p) -> p.toFile().length()).sum();
        }
    }
}
