package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scanning real messages on the worker pool: verdicts per rule kind, MIME limits, deadlines, the SPI.
 */
class FilterScanTest
{
    private static final long TIMEOUT_MS = 1_500;

    @TempDir
    Path dir;

    private SpoolFixture spool;
    private FilterCounters counters;
    private final AtomicReference<FilterRules> rules = new AtomicReference<>(FilterRules.defaults());
    private ScanPool pool;

    @BeforeEach
    void setUp() throws IOException
    {
        spool = new SpoolFixture(dir.resolve("spool"));
        counters = FilterCounters.local();
        pool = pool(List.of());
    }

    private ScanPool pool(final List<FilterStage> stages)
    {
        return new ScanPool(1, 4, TIMEOUT_MS, rules::get, stages, new SpoolReference(spool.root), counters);
    }

    @AfterEach
    void tearDown()
    {
        pool.close();
    }

    private FilterVerdict scan(final String message) throws IOException
    {
        return PoolDriver.run(pool, spool.write(message), 10_000).verdict();
    }

    private FilterVerdict scan(final byte[] message) throws IOException
    {
        return PoolDriver.run(pool, spool.write(message), 10_000).verdict();
    }

    private void rules(final String... lines)
    {
        rules.set(FilterRules.parse("test.rules", List.of(lines)));
    }

    @Test
    void plainMessageIsAcceptedUnchanged() throws IOException
    {
        final FilterVerdict verdict = scan(Messages.plain());
        assertEquals(FilterAction.ACCEPT, verdict.action());
        assertEquals("", verdict.headers());
        assertEquals("", verdict.replyText());
    }

    @Test
    void executableAttachmentIsRejectedByDefault() throws IOException
    {
        final FilterVerdict verdict = scan(Messages.withAttachment("filename=\"invoice.exe\"",
            "application/octet-stream"));
        assertEquals(FilterAction.REJECT, verdict.action(), verdict.toString());
        assertEquals("554 5.7.1 executable attachments are not accepted", verdict.replyText());
        assertTrue(verdict.reason().contains("attachment-name"), verdict.reason());
    }

    @Test
    void executableNameHiddenByEncodingIsStillFound() throws IOException
    {
        // RFC 2231 (charset''percent), RFC 2047 encoded word, and a trailing dot Windows would drop
        assertEquals(FilterAction.REJECT, scan(Messages.withAttachment(
            "filename*=UTF-8''r%C3%A9sum%C3%A9.scr", "application/octet-stream")).action());
        assertEquals(FilterAction.REJECT, scan(Messages.withAttachment(
            "filename=\"=?UTF-8?B?cGF5bWVudC5iYXQ=?=\"", "application/octet-stream")).action());
        assertEquals(FilterAction.REJECT, scan(Messages.withAttachment(
            "filename=\"setup.exe. \"", "application/octet-stream")).action());
        assertEquals(FilterAction.REJECT, scan(Messages.withAttachment(
            "filename*0=\"set\"; filename*1=\"up.js\"", "application/octet-stream")).action());
        assertEquals(FilterAction.REJECT, scan(Messages.withAttachment(
            "filename=\"report.dat\"", "application/x-msdownload")).action());
        assertEquals(FilterAction.ACCEPT, scan(Messages.withAttachment(
            "filename=\"report.pdf\"", "application/pdf")).action());
    }

    @Test
    void eightBitTextIsMatchedAsUtf8() throws IOException
    {
        rules("header /^Subject: Grüße/ ADD-HEADER X-Greeting: yes",
            "body /東京/ ADD-HEADER X-Tokyo: mentioned",
            "body /nothing-like-this/ REJECT");
        final FilterVerdict verdict = scan(Messages.eightBit());
        assertEquals(FilterAction.ADD_HEADERS, verdict.action(), verdict.toString());
        assertEquals("X-Greeting: yes\r\nX-Tokyo: mentioned\r\n", verdict.headers());
    }

    @Test
    void firstTerminalRuleWinsAndHeadersAccumulateOnce() throws IOException
    {
        rules("header /^(To|From):/ ADD-HEADER X-Seen: address",
            "body /noon/ QUARANTINE",
            "body /noon/ REJECT");
        final FilterVerdict q = scan(Messages.plain());
        assertEquals(FilterAction.QUARANTINE, q.action(), q.toString());
        assertTrue(q.reason().startsWith("test.rules:2:"), q.reason());
        rules("header /^(To|From):/ ADD-HEADER X-Seen: address", "body /noon/ ACCEPT", "body /noon/ DISCARD");
        final FilterVerdict a = scan(Messages.plain());
        assertEquals(FilterAction.ADD_HEADERS, a.action(), a.toString());
        assertEquals("X-Seen: address\r\n", a.headers());
        rules("body /noon/ DISCARD");
        assertEquals(FilterAction.DISCARD, scan(Messages.plain()).action());
        rules("header /^Subject: lunch$/ TEMPFAIL 450 4.7.1 greylisted");
        final FilterVerdict t = scan(Messages.plain());
        assertEquals(FilterAction.TEMPFAIL, t.action());
        assertEquals("450 4.7.1 greylisted", t.replyText());
    }

    @Test
    void partSizeLimit() throws IOException
    {
        rules("part-size > 1k REJECT 552 5.3.4 part too big");
        assertEquals(FilterAction.ACCEPT, scan(Messages.body("x".repeat(1000))).action());
        final FilterVerdict verdict = scan(Messages.body("x".repeat(5000)));
        assertEquals(FilterAction.REJECT, verdict.action());
        assertEquals("552 5.3.4 part too big", verdict.replyText());
    }

    @Test
    void nestedMimeBombGetsAVerdictWithinTheDeadline() throws IOException
    {
        final FilterVerdict verdict = PoolDriver.run(pool, spool.write(Messages.nested(1000)), 10_000).verdict();
        assertEquals(FilterAction.REJECT, verdict.action(), verdict.toString());
        assertEquals("554 5.7.1 MIME nesting too deep", verdict.replyText());
        assertEquals(0, counters.scanTimeouts());

        // without a nesting rule the scanner's own limit stops it
        rules("body /x/ ADD-HEADER X-X: x");
        final PoolDriver.Outcome outcome = PoolDriver.run(pool, spool.write(Messages.nested(1000)), 10_000);
        assertEquals(FilterAction.REJECT, outcome.verdict().action(), outcome.verdict().toString());
        assertEquals(MessageScanner.LIMIT_REPLY, outcome.verdict().replyText());
        assertTrue(outcome.elapsedMs() < TIMEOUT_MS, outcome.elapsedMs() + " ms");
        assertEquals(1, counters.limits());
        assertEquals(FilterAction.ACCEPT, scan(Messages.nested(50)).action(), "50 levels are within limits");
    }

    @Test
    void hugeHeaderIsBounded() throws IOException
    {
        final PoolDriver.Outcome outcome = PoolDriver.run(pool, spool.write(Messages.hugeHeader(4 << 20)), 10_000);
        assertEquals(FilterAction.REJECT, outcome.verdict().action(), outcome.verdict().toString());
        assertEquals(MessageScanner.LIMIT_REPLY, outcome.verdict().replyText());
        assertTrue(outcome.verdict().reason().startsWith("limit:"), outcome.verdict().reason());
        final StringBuilder many = new StringBuilder(Messages.RECEIVED);
        for (int i = 0; i < 5000; i++)
        {
            many.append("X-Filler-").append(i).append(": y\n");
        }
        assertEquals(MessageScanner.LIMIT_REPLY, scan(many.append("\nbody\n").toString()).replyText());
        assertEquals(2, counters.limits());
    }

    @Test
    void longBodyLinesAreNotALimit() throws IOException
    {
        // a 300 KB line (HTML one-liners, unwrapped base64) is legal enough: only headers are bounded
        rules("body /needle/ REJECT");
        final String line = "z".repeat(300_000);
        assertEquals(FilterAction.ACCEPT, scan(Messages.body(line)).action());
        assertEquals(FilterAction.REJECT, scan(Messages.body(line + "needle")).action());
        final String multipart = Messages.withAttachment("filename=\"a.txt\"", "text/plain")
            .replace("Please see the attachment.", line + " needle");
        assertEquals(FilterAction.REJECT, scan(multipart).action());
    }

    @Test
    void javaMemoizesTheClassicNestedQuantifier() throws IOException
    {
        // the brief's example: Java 9+ remembers failed loop positions, so this one is not catastrophic here
        rules("body /(a+)+b/ REJECT");
        final PoolDriver.Outcome outcome = PoolDriver.run(pool, spool.write(Messages.body("a".repeat(5000))), 10_000);
        assertEquals(FilterAction.ACCEPT, outcome.verdict().action());
        assertTrue(outcome.elapsedMs() < TIMEOUT_MS, outcome.elapsedMs() + " ms");
    }

    @Test
    void catastrophicRegexTimesOutAndTheWorkerIsReused() throws IOException
    {
        // (.*a){20}b backtracks polynomially (degree 20) on a line of a's: years for 5000 characters
        rules("body /(.*a){20}b/ REJECT");
        final PoolDriver.Outcome outcome = PoolDriver.run(pool, spool.write(Messages.body("a".repeat(5000))), 10_000);
        assertEquals(FilterAction.TEMPFAIL, outcome.verdict().action(), outcome.verdict().toString());
        assertEquals(ScanPool.TIMEOUT_REPLY, outcome.verdict().replyText());
        assertTrue(outcome.elapsedMs() >= TIMEOUT_MS - 50 && outcome.elapsedMs() < TIMEOUT_MS + 1_000,
            outcome.elapsedMs() + " ms");
        assertEquals(1, counters.scanTimeouts());

        rules("body /(.*a){20}c/ REJECT");
        final PoolDriver.Outcome next = PoolDriver.run(pool, spool.write(Messages.body("a".repeat(25) + "c")), 10_000);
        assertEquals(FilterAction.REJECT, next.verdict().action(), "the same single worker answers again");
        assertTrue(next.elapsedMs() < TIMEOUT_MS, next.elapsedMs() + " ms");
        assertEquals(0, counters.workersReplaced(), "the worker unwound; nothing was abandoned");
    }

    @Test
    void stageIgnoringInterruptsIsReplaced() throws IOException
    {
        pool.close();
        final FilterStage stubborn = new FilterStage()
        {
            public FilterVerdict onEnd(final FilterMessage message)
            {
                final long until = System.nanoTime() + 4_000_000_000L;
                while (System.nanoTime() - until < 0)
                {
                    Thread.interrupted(); // swallow the interrupt on purpose
                }
                return null;
            }
        };
        pool = pool(List.of(stubborn));
        final PoolDriver.Outcome outcome = PoolDriver.run(pool, spool.write(Messages.plain()), 10_000);
        assertEquals(FilterAction.TEMPFAIL, outcome.verdict().action());
        // drive the pool past the grace period: the stuck worker is replaced and the next message is served
        final long until = System.nanoTime() + 10_000_000_000L;
        while (0 == counters.workersReplaced() && System.nanoTime() - until < 0)
        {
            pool.poll(System.nanoTime(), (j, v) -> { });
            Thread.onSpinWait();
        }
        assertEquals(1, counters.workersReplaced());
    }

    @Test
    void stageExceptionIsATempfailAndCounted() throws IOException
    {
        pool.close();
        pool = pool(List.of(new FilterStage()
        {
            public FilterVerdict onPart(final FilterMessage message, final FilterPart part)
            {
                throw new IllegalStateException("bug in a user stage");
            }
        }));
        final FilterVerdict verdict = scan(Messages.plain());
        assertEquals(FilterAction.TEMPFAIL, verdict.action());
        assertEquals(ScanPool.ERROR_REPLY, verdict.replyText());
        assertEquals(1, counters.scanErrors());
    }

    /** A stage found through ServiceLoader: tags messages whose sender is from example.com. */
    public static final class TaggingStage implements FilterStage
    {
        public FilterVerdict onHeader(final FilterMessage message, final int depth, final String name,
            final String value)
        {
            return "Subject".equalsIgnoreCase(name) && value.contains("lunch") ?
                FilterVerdict.addHeader("X-Lunch: " + message.queueId(), "tagging stage") : null;
        }

        public FilterVerdict onPart(final FilterMessage message, final FilterPart part)
        {
            return null != part.fileName() && part.fileName().endsWith(".docm") ?
                FilterVerdict.quarantine("macro document " + part.fileName() + " at depth " + part.depth()) : null;
        }
    }

    @Test
    void stagesAreFoundWithServiceLoader() throws IOException
    {
        final Path services = dir.resolve("spi/META-INF/services");
        Files.createDirectories(services);
        Files.writeString(services.resolve(FilterStage.class.getName()), TaggingStage.class.getName() + "\n");
        final List<FilterStage> stages;
        try (URLClassLoader loader = new URLClassLoader(new URL[]{dir.resolve("spi").toUri().toURL()},
            getClass().getClassLoader()))
        {
            stages = FilterMain.loadStages(loader);
        }
        assertEquals(1, stages.size());
        pool.close();
        pool = pool(stages);
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        final FilterVerdict verdict = PoolDriver.run(pool, ref, 10_000).verdict();
        assertEquals(FilterAction.ADD_HEADERS, verdict.action());
        assertEquals("X-Lunch: " + ref.queueId() + "\r\n", verdict.headers());
        final FilterVerdict quarantined = scan(Messages.withAttachment("filename=\"plan.docm\"",
            "application/octet-stream"));
        assertEquals(FilterAction.QUARANTINE, quarantined.action());
        assertTrue(quarantined.reason().contains("depth 1"), quarantined.reason());
    }

    @Test
    void busyPoolSaysSoWithoutBlocking() throws IOException
    {
        rules("body /(.*a){20}b/ REJECT");
        final SpoolFixture.Ref slow = spool.write(Messages.body("a".repeat(5000)));
        int taken = 0;
        ScanJob job;
        while (null != (job = pool.tryAcquire()))
        {
            job.set(taken, 100_000, slow.queueId(), slow.size(), slow.checksum(), 1, "192.0.2.7", "");
            pool.submit(job, System.nanoTime());
            taken++;
        }
        assertEquals(5, taken, "1 worker + 4 queued");
        final int[] answered = new int[1];
        final long until = System.nanoTime() + 30_000_000_000L;
        while (answered[0] < taken && System.nanoTime() - until < 0)
        {
            pool.poll(System.nanoTime(), (j, v) ->
            {
                assertEquals(FilterAction.TEMPFAIL, v.action());
                answered[0]++;
            });
            Thread.onSpinWait();
        }
        assertEquals(taken, answered[0], "each job answered once, queued ones at their deadline too");
    }
}
