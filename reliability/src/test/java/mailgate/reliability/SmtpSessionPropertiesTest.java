package mailgate.reliability;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Property tests on the real SMTP session state machine (in-process, real spool): dot-stuffing round trips,
 * pipelined batches cut anywhere, line limits, garbage commands. Tries: jqwik.tries.default (set by the pom:
 * 200 short, 2000 long).
 */
class SmtpSessionPropertiesTest
{
    private static final int HARD_ERROR_LIMIT = 20;
    private static final String ENVELOPE = "EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n";
    private static final Set<String> VERBS = Set.of("HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP",
        "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "ETRN", "TURN", "SEND", "SOML", "SAML");
    private static final AtomicLong ROUND_TRIPS = new AtomicLong();
    private static final AtomicLong SPLITS = new AtomicLong();
    private static final AtomicLong LIMIT_LINES = new AtomicLong();
    private static final AtomicLong GARBAGE_LINES = new AtomicLong();
    private static final AtomicLong GARBAGE_SESSIONS = new AtomicLong();
    private static Path dir;
    private static SessionDriver driver;

    @BeforeContainer
    static void start() throws IOException
    {
        dir = Files.createTempDirectory("mailgate-props");
        driver = new SessionDriver(dir.resolve("spool"), SessionDriver.settings(HARD_ERROR_LIMIT));
    }

    @AfterContainer
    static void stop() throws IOException
    {
        driver.close();
        Reliability.figure("dot-stuffing round trips through DATA: " + ROUND_TRIPS.get() + " messages, all identical");
        Reliability.figure("pipelined batches fed in random/every-boundary pieces: " + SPLITS.get() +
            " splittings, replies identical to one write");
        Reliability.figure("command/text lines around 512/1000 octets: " + LIMIT_LINES.get() + " lines, right reply each");
        Reliability.figure("garbage command lines: " + GARBAGE_LINES.get() + " lines in " + GARBAGE_SESSIONS.get() +
            " sessions, every one 5xx (421 4.7.0 + close at the error limit), no exception");
        try (Stream<Path> walk = Files.walk(dir))
        {
            walk.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
    }

    // ------------------------------------------------------------------------------------------ dot-stuffing

    @Provide
    Arbitrary<List<byte[]>> messageLines()
    {
        // any octet but CR and LF, dots and NULs and 8-bit octets included; lines up to 998 octets
        final Arbitrary<Byte> octet = Arbitraries.oneOf(
            Arbitraries.bytes().filter((b) -> '\r' != b && '\n' != b),
            Arbitraries.of((byte) '.', (byte) '.', (byte) ' ', (byte) 0));
        final Arbitrary<byte[]> line = Arbitraries.oneOf(
            octet.array(byte[].class).ofMaxSize(998),
            octet.array(byte[].class).ofMaxSize(4),
            Arbitraries.of(new byte[0], ".".getBytes(), "..".getBytes(), ". ".getBytes(), ".\t.".getBytes()));
        return line.list().ofMaxSize(40);
    }

    static byte[] join(final List<byte[]> lines)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final byte[] line : lines)
        {
            out.writeBytes(line);
            out.writeBytes(new byte[]{'\r', '\n'});
        }
        return out.toByteArray();
    }

    /** Reference dot-stuffing (RFC 5321 4.5.2) plus the terminator. */
    static byte[] stuff(final List<byte[]> lines)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (final byte[] line : lines)
        {
            if (line.length > 0 && '.' == line[0])
            {
                out.write('.');
            }
            out.writeBytes(line);
            out.writeBytes(new byte[]{'\r', '\n'});
        }
        out.writeBytes(".\r\n".getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    @Property
    void dotStuffedMessageComesOutIdentical(@ForAll("messageLines") final List<byte[]> lines) throws IOException
    {
        driver.clearQueue();
        final SessionDriver.Session session = driver.open();
        assertEquals("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n",
            stripEhlo(session.send(ENVELOPE + "DATA\r\n")));
        final String reply = session.send(stuff(lines));
        assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), reply);
        final List<Path> files = driver.queued();
        assertEquals(1, files.size());
        assertTrue(SessionDriver.holdsMessage(files.get(0), join(lines)), "message changed in the spool");
        ROUND_TRIPS.incrementAndGet();
    }

    @Provide
    Arbitrary<List<byte[]>> messageLinesWithBareCr()
    {
        // as messageLines, plus bare CRs (data, never a line end), also right before the line's CR LF
        final Arbitrary<Byte> octet = Arbitraries.oneOf(
            Arbitraries.bytes().filter((b) -> '\r' != b && '\n' != b),
            Arbitraries.of((byte) '.', (byte) '.', (byte) '\r', (byte) ' '));
        final Arbitrary<byte[]> line = Arbitraries.oneOf(
            octet.array(byte[].class).ofMaxSize(300),
            octet.array(byte[].class).ofMaxSize(3),
            Arbitraries.of(new byte[0], ".".getBytes(), "..".getBytes(), ".\r".getBytes(), "\r".getBytes()));
        return line.list().ofMaxSize(60);
    }

    @Property
    void dotStuffedMessageCutAnywhereComesOutIdentical(
        @ForAll("messageLinesWithBareCr") final List<byte[]> lines,
        @ForAll @Size(max = 12) final List<@IntRange(min = 0, max = 20000) Integer> cuts) throws IOException
    {
        driver.clearQueue();
        final SessionDriver.Session session = driver.open();
        session.send(ENVELOPE + "DATA\r\n");
        final byte[] stuffed = stuff(lines);
        final int[] at = cuts.stream().mapToInt((c) -> c % (stuffed.length + 1)).toArray();
        final String reply = session.sendSplit(stuffed, at);
        assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), reply);
        final List<Path> files = driver.queued();
        assertEquals(1, files.size());
        assertTrue(SessionDriver.holdsMessage(files.get(0), join(lines)), "message changed in the spool");
        ROUND_TRIPS.incrementAndGet();
        SPLITS.incrementAndGet();
    }

    private static String stripEhlo(final String replies)
    {
        return replies.replaceAll("(?m)^250[- ](mx\\.test|[A-Z0-9 ]+)\\r\\n", "").replaceFirst("^220 [^\\r]*\\r\\n", "");
    }

    // ------------------------------------------------------------------------------------------ pipelining

    private static final String BATCH = ENVELOPE +
        "RCPT TO:<c@example.test>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\n" +
        "NOOP\r\nMAIL FROM:<bad\r\nRSET\r\nMAIL FROM:<d@example.test> SIZE=100\r\nRCPT TO:<e@example.test>\r\n" +
        "BDAT 5\r\nhelloBDAT 3 LAST\r\nabcVRFY x\r\nBOGUS\r\nQUIT\r\n";

    private static String normalize(final String replies)
    {
        return replies.replaceAll("queued as [A-Za-z0-9]+", "queued as ID");
    }

    private String oneWrite(final byte[] batch)
    {
        return normalize(driver.open().send(batch));
    }

    @Example
    void pipelinedBatchCutAtEveryByteBoundaryGivesTheSameReplies() throws IOException
    {
        final byte[] batch = BATCH.getBytes(StandardCharsets.US_ASCII);
        final String expected = oneWrite(batch);
        assertTrue(expected.contains("queued as ID") && expected.endsWith("221 2.0.0 Bye\r\n"), expected);
        for (int cut = 0; cut <= batch.length; cut++)
        {
            assertEquals(expected, normalize(driver.open().sendSplit(batch, new int[]{cut})), "cut at " + cut);
            SPLITS.incrementAndGet();
            if (0 == cut % 64)
            {
                driver.clearQueue();
            }
        }
        driver.clearQueue();
    }

    @Property
    void pipelinedBatchCutAnywhereGivesTheSameReplies(
        @ForAll @Size(max = 30) final List<@IntRange(min = 0, max = 400) Integer> cuts) throws IOException
    {
        final byte[] batch = BATCH.getBytes(StandardCharsets.US_ASCII);
        final String expected = oneWrite(batch);
        final int[] at = cuts.stream().mapToInt(Integer::intValue).toArray();
        assertEquals(expected, normalize(driver.open().sendSplit(batch, at)));
        SPLITS.incrementAndGet();
        driver.clearQueue();
    }

    // ------------------------------------------------------------------------------------------ line limits

    @Property
    void commandLineLimitIs512Octets(@ForAll @IntRange(min = 7, max = 1100) final int length,
        @ForAll @IntRange(min = 0, max = 1100) final int cut)
    {
        final String line = "NOOP " + "x".repeat(length - 7) + "\r\n";
        final SessionDriver.Session session = driver.open();
        final String replies = session.sendSplit(line.getBytes(StandardCharsets.US_ASCII), new int[]{cut}) +
            session.send("NOOP\r\n");
        final String expected = (length <= 512 ? "250 2.0.0 Ok\r\n" : "500 5.5.2 Error: command line too long\r\n") +
            "250 2.0.0 Ok\r\n";
        assertEquals(expected, replies, "line of " + length + " octets");
        LIMIT_LINES.incrementAndGet();
    }

    @Example
    void commandLinesOf512And513Octets()
    {
        assertEquals("250 2.0.0 Ok\r\n", driver.open().send("NOOP " + "x".repeat(505) + "\r\n"));
        assertEquals("500 5.5.2 Error: command line too long\r\n", driver.open().send("NOOP " + "x".repeat(506) + "\r\n"));
        LIMIT_LINES.addAndGet(2);
    }

    @Property(tries = 60)
    void textLineLimitIs1000Octets(@ForAll @IntRange(min = 2, max = 1100) final int length,
        @ForAll @IntRange(min = 0, max = 1200) final int cut) throws IOException
    {
        final SessionDriver.Session session = driver.open();
        session.send(ENVELOPE + "DATA\r\n");
        final String body = "Subject: t\r\n\r\n" + "y".repeat(length - 2) + "\r\n.\r\n";
        final String reply = session.sendSplit(body.getBytes(StandardCharsets.US_ASCII), new int[]{cut});
        if (length <= 1000)
        {
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), length + ": " + reply);
        }
        else
        {
            assertEquals("554 5.6.0 Error: text line longer than 1000 octets\r\n", reply, "line of " + length);
        }
        assertEquals("250 2.0.0 Ok\r\n", session.send("NOOP\r\n"));
        LIMIT_LINES.incrementAndGet();
        driver.clearQueue();
    }

    @Example
    void textLinesOf1000And1001Octets() throws IOException
    {
        SessionDriver.Session session = driver.open();
        session.send(ENVELOPE + "DATA\r\n");
        assertTrue(session.send("y".repeat(998) + "\r\n.\r\n").startsWith("250 2.0.0 Ok: queued"));
        session = driver.open();
        session.send(ENVELOPE + "DATA\r\n");
        assertEquals("554 5.6.0 Error: text line longer than 1000 octets\r\n", session.send("y".repeat(999) + "\r\n.\r\n"));
        LIMIT_LINES.addAndGet(2);
        driver.clearQueue();
    }

    // ------------------------------------------------------------------------------------------ garbage

    @Provide
    Arbitrary<byte[]> garbageLine()
    {
        final Arbitrary<Byte> octet = Arbitraries.oneOf(
            Arbitraries.bytes().filter((b) -> '\r' != b && '\n' != b),
            Arbitraries.bytes().between((byte) 32, (byte) 126),
            Arbitraries.of((byte) 0, (byte) ':', (byte) '<', (byte) '>', (byte) ' ', (byte) 0x7f, (byte) 0xc3,
                (byte) 0xff));
        final Arbitrary<byte[]> random = octet.array(byte[].class).ofMaxSize(700);
        final Arbitrary<byte[]> wordy = Arbitraries.of("MAIL", "RCPT", "EHLO", "DATA", "AUTH", "BDAT", "XX", "")
            .flatMap((verb) -> octet.array(byte[].class).ofMaxSize(60).map((tail) ->
            {
                final byte[] v = ("Z" + verb).getBytes(StandardCharsets.US_ASCII);
                final byte[] all = new byte[v.length + tail.length];
                System.arraycopy(v, 0, all, 0, v.length);
                System.arraycopy(tail, 0, all, v.length, tail.length);
                return all;
            }));
        return Arbitraries.oneOf(random, wordy).filter((line) -> !startsWithVerb(line));
    }

    private static boolean startsWithVerb(final byte[] line)
    {
        final String text = new String(line, StandardCharsets.ISO_8859_1);
        final String word = text.split("[ \t:]", 2)[0].toUpperCase(Locale.ROOT);
        return VERBS.contains(word);
    }

    @Property
    void garbageCommandLinesAlwaysGet5xxThenCloseAtTheErrorLimit(
        @ForAll @Size(min = 1, max = 30) final List<@net.jqwik.api.From("garbageLine") byte[]> lines,
        @ForAll final boolean crlf)
    {
        final SessionDriver.Session session = driver.open();
        int errors = 0;
        for (final byte[] line : lines)
        {
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            bytes.writeBytes(line);
            bytes.writeBytes(crlf ? new byte[]{'\r', '\n'} : new byte[]{'\n'});
            final String reply = session.send(bytes.toByteArray());
            GARBAGE_LINES.incrementAndGet();
            errors++;
            final String[] replyLines = reply.split("\r\n");
            assertEquals(errors >= HARD_ERROR_LIMIT ? 2 : 1, replyLines.length, reply);
            assertTrue(replyLines[0].matches("5[0-5][0-9] 5\\.[0-9]\\.[0-9]+ .*"), "not a 5xx: " + reply);
            if (errors >= HARD_ERROR_LIMIT)
            {
                assertTrue(replyLines[1].startsWith("421 4.7.0 "), reply);
                assertTrue(session.isClosing());
                break;
            }
            assertTrue(!session.isClosing());
        }
        if (!session.isClosing())
        {
            assertEquals("250 2.0.0 Ok\r\n", session.send("NOOP\r\n"), "still serving after garbage");
        }
        GARBAGE_SESSIONS.incrementAndGet();
    }
}
