package mailgate.filter;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.logbuffer.Header;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.MediaDriverLauncher;
import mailgate.ipc.SecretMac;
import mailgate.ipc.SubsystemChallenger;
import mailgate.ipc.codecs.ChallengeResponseDecoder;
import mailgate.ipc.codecs.FilterAction;
import mailgate.ipc.codecs.FilterReplyDecoder;
import mailgate.ipc.codecs.FilterRequestEncoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The filter as its own JVM behind a real media driver: a requester proves it with the install secret, sends
 * FilterRequests for spool files it wrote, and checks each verdict; then SIGHUP reloads and SIGTERM exits 0.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class FilterEndToEndTest
{
    private static final String RULES = String.join("\n",
        "attachment-name /\\.exe$/i REJECT 554 5.7.1 executable attachments are not accepted",
        "nesting > 20 REJECT 554 5.7.1 MIME nesting too deep",
        "header /^Subject: quarantine me/ QUARANTINE",
        "header /^Subject: discard me/ DISCARD",
        "header /^Subject: later/ TEMPFAIL",
        "header /^Subject: tag me/ ADD-HEADER X-Mailgate-Tag: tagged",
        "body /(.*a){20}b/ REJECT",
        "");

    @TempDir
    Path dir;

    private Path shm;
    private MediaDriver driver;
    private Process filter;
    private Path filterLog;
    private Aeron aeron;
    private Publication requests;
    private Subscription replies;
    private SubsystemChallenger challenger;
    private final Map<Long, Reply> received = new HashMap<>();
    private final AtomicInteger unproven = new AtomicInteger();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[1024]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final FilterRequestEncoder requestEncoder = new FilterRequestEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ChallengeResponseDecoder challengeResponseDecoder = new ChallengeResponseDecoder();
    private final FilterReplyDecoder replyDecoder = new FilterReplyDecoder();
    private final FragmentAssembler handler = new FragmentAssembler(this::onReply);
    private SpoolFixture spool;
    private long nextCorrelationId = 1;

    record Reply(FilterAction action, String replyText, String headers, String reason)
    {
    }

    @BeforeEach
    void setUp() throws IOException
    {
        shm = Path.of("/dev/shm", "mailgate-filter-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        final Path aeronDir = shm.resolve("aeron");
        driver = MediaDriverLauncher.launch(aeronDir);
        final Path secretFile = dir.resolve("var/mailgate.secret");
        final byte[] secret = InstallSecret.loadOrCreate(secretFile);
        spool = new SpoolFixture(dir.resolve("spool"));
        final Path rules = dir.resolve("filter.rules");
        Files.writeString(rules, RULES);
        filterLog = dir.resolve("filter.log");
        final List<String> command = new ArrayList<>(List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"),
            FilterMain.class.getName(),
            "--set", "ipc.aeron-dir=" + aeronDir,
            "--set", "ipc.secret-file=" + secretFile,
            "--set", "spool.directory=" + spool.root,
            "--set", "filter.rules=" + rules,
            "--set", "filter.scan-timeout=2s",
            "--set", "filter.workers=2"));
        filter = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(filterLog.toFile()).start();
        awaitLog("mailgate filter ready", 30);

        aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString()));
        final int replyStream = IpcChannels.replyStream(aeron.clientId(), 0);
        replies = aeron.addSubscription(IpcChannels.CHANNEL, replyStream);
        requests = aeron.addPublication(IpcChannels.CHANNEL, IpcChannels.FILTER_REQUEST_STREAM);
        challenger = new SubsystemChallenger(new SecretMac(secret), Role.FILTER, replyStream);
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!challenger.isProven())
        {
            assertTrue(System.nanoTime() - until < 0, "filter never proved itself; log:\n" + log());
            challenger.doWork(System.nanoTime(), requests, replies);
            replies.poll(handler, 10);
            LockSupport.parkNanos(1_000_000);
        }
    }

    @AfterEach
    void tearDown() throws IOException
    {
        if (null != filter && filter.isAlive())
        {
            filter.destroyForcibly();
        }
        if (null != aeron)
        {
            aeron.close();
        }
        if (null != driver)
        {
            driver.close();
        }
        if (Files.exists(shm))
        {
            try (Stream<Path> paths = Files.walk(shm))
            {
                paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
            }
        }
    }

    private void onReply(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        headerDecoder.wrap(buffer, offset);
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        switch (headerDecoder.templateId())
        {
            case ChallengeResponseDecoder.TEMPLATE_ID:
                challengeResponseDecoder.wrap(buffer, body, headerDecoder.blockLength(), headerDecoder.version());
                challenger.onChallengeResponse(challengeResponseDecoder, header.sessionId());
                break;
            case FilterReplyDecoder.TEMPLATE_ID:
                if (!challenger.isProven(header.sessionId()))
                {
                    unproven.incrementAndGet();
                    return;
                }
                replyDecoder.wrap(buffer, body, headerDecoder.blockLength(), headerDecoder.version());
                final long correlationId = replyDecoder.correlationId();
                final FilterAction action = replyDecoder.action();
                received.put(correlationId, new Reply(action, replyDecoder.replyText(), replyDecoder.headers(),
                    replyDecoder.reason()));
                break;
            default:
                break;
        }
    }

    private long send(final String queueId, final long size, final int checksum)
    {
        final long correlationId = nextCorrelationId++;
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(correlationId)
            .replyStreamId(replies.streamId())
            .messageSize(size)
            .checksum(checksum)
            .recipientCount(1)
            .queueId(queueId)
            .clientAddress("192.0.2.7")
            .sender("a@example.com");
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength();
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (requests.offer(sendBuffer, 0, length) < 0)
        {
            assertTrue(System.nanoTime() - until < 0, "request not accepted by the publication");
            LockSupport.parkNanos(100_000);
        }
        return correlationId;
    }

    private long send(final SpoolFixture.Ref ref)
    {
        return send(ref.queueId(), ref.size(), ref.checksum());
    }

    private Reply await(final long correlationId, final long maxMs)
    {
        final long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMs);
        while (!received.containsKey(correlationId))
        {
            assertTrue(System.nanoTime() - until < 0, "no reply to " + correlationId + "; log:\n" + log());
            if (0 == replies.poll(handler, 10))
            {
                LockSupport.parkNanos(200_000);
            }
        }
        return received.get(correlationId);
    }

    private Reply ask(final String message) throws IOException
    {
        return await(send(spool.write(message)), 10_000);
    }

    @Test
    void everyVerdictOverAeron() throws Exception
    {
        final Reply plain = ask(Messages.plain());
        assertEquals(FilterAction.ACCEPT, plain.action());
        assertEquals("", plain.headers());

        final Reply exe = ask(Messages.withAttachment("filename=\"invoice.exe\"", "application/octet-stream"));
        assertEquals(FilterAction.REJECT, exe.action());
        assertEquals("554 5.7.1 executable attachments are not accepted", exe.replyText());

        final Reply tagged = ask(Messages.plain().replace("Subject: lunch", "Subject: tag me"));
        assertEquals(FilterAction.ADD_HEADERS, tagged.action());
        assertEquals("X-Mailgate-Tag: tagged\r\n", tagged.headers());

        assertEquals(FilterAction.QUARANTINE,
            ask(Messages.plain().replace("Subject: lunch", "Subject: quarantine me")).action());
        assertEquals(FilterAction.DISCARD,
            ask(Messages.plain().replace("Subject: lunch", "Subject: discard me")).action());
        final Reply later = ask(Messages.plain().replace("Subject: lunch", "Subject: later"));
        assertEquals(FilterAction.TEMPFAIL, later.action());
        assertEquals(FilterVerdict.TEMPFAIL_DEFAULT, later.replyText());

        final Reply eightBit = await(send(spool.write(Messages.eightBit())), 10_000);
        assertEquals(FilterAction.ACCEPT, eightBit.action());

        final Reply bomb = ask(Messages.nested(1000));
        assertEquals(FilterAction.REJECT, bomb.action());
        assertEquals("554 5.7.1 MIME nesting too deep", bomb.replyText());

        // forged references: a symlink to another message, a traversal attempt, a wrong checksum
        final SpoolFixture.Ref target = spool.write(Messages.plain());
        final String linkId = SpoolFixture.nextId();
        Files.createSymbolicLink(spool.tmp.resolve(linkId), spool.file(target));
        final Reply symlink = await(send(linkId, target.size(), target.checksum()), 10_000);
        assertEquals(FilterAction.TEMPFAIL, symlink.action());
        assertEquals(ScanPool.REFUSED_REPLY + " (symlink)", symlink.replyText());
        final Reply traversal = await(send("../../etc/passwd", 100, 0), 10_000);
        assertEquals(ScanPool.REFUSED_REPLY + " (bad-id)", traversal.replyText());
        final Reply checksum = await(send(target.queueId(), target.size(), target.checksum() + 1), 10_000);
        assertEquals(ScanPool.REFUSED_REPLY + " (checksum)", checksum.replyText());

        // a catastrophic regex: TEMPFAIL at the 2 s deadline, while other messages are still served
        final long start = System.nanoTime();
        final long slow = send(spool.write(Messages.body("a".repeat(5000))));
        final long quick = send(spool.write(Messages.plain()));
        assertEquals(FilterAction.ACCEPT, await(quick, 10_000).action(), "the second worker is free");
        final Reply timedOut = await(slow, 10_000);
        final long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals(FilterAction.TEMPFAIL, timedOut.action());
        assertEquals(ScanPool.TIMEOUT_REPLY, timedOut.replyText());
        assertTrue(elapsedMs >= 1_900 && elapsedMs < 5_000, elapsedMs + " ms");
        assertEquals(FilterAction.ACCEPT, ask(Messages.plain()).action(), "served after the timeout");

        assertEquals(1, mirrored(FilterCounters.REFUSED_BASE + Refusal.SYMLINK.ordinal(), 1));
        assertEquals(1, mirrored(FilterCounters.REFUSED_BASE + Refusal.BAD_ID.ordinal(), 1));
        assertEquals(1, mirrored(FilterCounters.REFUSED_BASE + Refusal.CHECKSUM.ordinal(), 1));
        assertEquals(1, mirrored(FilterCounters.SCAN_TIMEOUTS, 1));
        assertEquals(0, unproven.get());
    }

    @Test
    void sighupReloadsRulesAndKeepsThemOnABadLine() throws Exception
    {
        final Path rules = dir.resolve("filter.rules");
        assertEquals(FilterAction.ACCEPT, ask(Messages.plain()).action());
        Files.writeString(rules, RULES + "header /^Subject: lunch/ REJECT\nheader /broken(/ REJECT\n");
        hangUp();
        awaitLog("reload refused, old rules stay: " + rules + ":9: bad regular expression", 10);
        assertEquals(FilterAction.ACCEPT, ask(Messages.plain()).action(), "old rules in force");
        Files.writeString(rules, RULES + "header /^Subject: lunch/ REJECT 550 5.7.1 no lunch\n");
        hangUp();
        awaitLog("rules reloaded: 8 rules", 10);
        final Reply reply = ask(Messages.plain());
        assertEquals(FilterAction.REJECT, reply.action());
        assertEquals("550 5.7.1 no lunch", reply.replyText());
        assertTrue(mirrored(FilterCounters.RELOAD_FAILURES, 1) >= 1);

        filter.destroy(); // SIGTERM
        assertTrue(filter.waitFor(20, TimeUnit.SECONDS), "filter did not stop on SIGTERM");
        assertEquals(0, filter.exitValue());
    }

    private void hangUp() throws Exception
    {
        final Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(filter.pid())).start();
        assertTrue(kill.waitFor(10, TimeUnit.SECONDS));
        assertEquals(0, kill.exitValue());
    }

    /**
     * The filter's counters reach the CnC file on its DriverConnection's next check (every 50 ms).
     *
     * @return the counter once it reached the expected value, or its value after a second.
     */
    private long mirrored(final int typeId, final long expected)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        long value = counter(typeId);
        while (value < expected && System.nanoTime() - until < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
            value = counter(typeId);
        }
        return value;
    }

    private long counter(final int typeId)
    {
        final long[] value = {-1};
        aeron.countersReader().forEach((counterId, type, key, label) ->
        {
            if (type == typeId)
            {
                value[0] = aeron.countersReader().getCounterValue(counterId);
            }
        });
        return value[0];
    }

    private void awaitLog(final String text, final int seconds)
    {
        final long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!log().contains(text))
        {
            assertTrue(System.nanoTime() - until < 0, "no '" + text + "' in the filter's log:\n" + log());
            assertTrue(filter.isAlive() || log().contains(text), "filter exited; log:\n" + log());
            LockSupport.parkNanos(20_000_000);
        }
    }

    private String log()
    {
        try
        {
            return Files.readString(filterLog, StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(no log: " + ex + ")";
        }
    }
}
