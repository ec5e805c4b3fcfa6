package mailgate.reliability;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import mailgate.reactor.smtp.BareLfMode;
import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SmtpPathParser;
import mailgate.reactor.smtp.SmtpSettings;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Coverage-guided fuzzing (Jazzer) of the MAIL/RCPT parser and of the real {@code SmtpSession} fed arbitrary
 * byte streams cut at arbitrary points, checked by {@link SessionOracle}.
 * <p>
 * {@code mvn test} runs each target over its corpus in {@code src/test/resources/mailgate/reliability/
 * SmtpSessionFuzzTestInputs/<method>/} (regression mode, seconds). Real fuzzing, one target per run:
 * {@code JAZZER_FUZZ=1 mvn -pl reliability test -Dtest=SmtpSessionFuzzTest#sessionStream
 * -Djazzer.max_duration=5m}; findings land in that directory and then replay in CI.
 */
class SmtpSessionFuzzTest
{
    private static final String ENVELOPE = "EHLO client.test\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n";
    private static final int SMALL_MAX_SIZE = 3000;
    private static final int LENIENT_MAX_SIZE = 20_000_000;
    private static final AtomicLong PARSER_INPUTS = new AtomicLong();
    private static final AtomicLong STREAMS = new AtomicLong();
    private static final AtomicLong COMMANDS = new AtomicLong();
    private static final AtomicLong MESSAGES = new AtomicLong();
    private static final ReplyBuffer OUT = new ReplyBuffer(64 * 1024);
    private static final UnsafeBuffer IN = new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 20));
    private static Path dir;
    private static SessionDriver lenient;
    private static SessionDriver strict;

    @BeforeAll
    static void start() throws IOException
    {
        // tmpfs when there is one: the spool fsyncs every message and fuzzing runs thousands of sessions a second
        final Path shm = Path.of("/dev/shm");
        dir = Files.isWritable(shm) ? Files.createTempDirectory(shm, "mailgate-fuzz") :
            Files.createTempDirectory("mailgate-fuzz");
        lenient = new SessionDriver(dir.resolve("lenient"), new SmtpSettings("mx.test", LENIENT_MAX_SIZE, 100, 20,
            300_000, 300_000, 0, 10_000, BareLfMode.NORMALIZE));
        strict = new SessionDriver(dir.resolve("strict"), new SmtpSettings("mx.test", SMALL_MAX_SIZE, 3, 5,
            300_000, 300_000, 0, 10_000, BareLfMode.REJECT));
    }

    @AfterAll
    static void stop() throws IOException
    {
        lenient.close();
        strict.close();
        try (Stream<Path> walk = Files.walk(dir))
        {
            walk.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        Reliability.figure("jazzer: " + PARSER_INPUTS.get() + " MAIL/RCPT parser inputs, " + STREAMS.get() +
            " session streams (" + COMMANDS.get() + " commands, " + MESSAGES.get() +
            " queued messages byte-compared), every invariant held");
    }

    // ------------------------------------------------------------------------------------------ MAIL/RCPT parser

    /**
     * The parser must not throw, must answer a well-formed reply or report a path inside the line, must not read
     * past the line's end (garbage behind it changes nothing), and must not carry state from one line to the next.
     */
    @FuzzTest
    @DictionaryEntries({"FROM:", "TO:", "<", ">", "@", "\"", "\\", "[IPv6:", "]", " SIZE=", " BODY=8BITMIME",
        " BODY=BINARYMIME", " SMTPUTF8", " RET=HDRS", " ENVID=", " NOTIFY=SUCCESS,DELAY", " NOTIFY=NEVER",
        " ORCPT=rfc822;", "+2B", "Postmaster", "\\xc3\\xa9"})
    void pathParser(final FuzzedDataProvider data)
    {
        final boolean mail = data.consumeBoolean();
        final byte[] junk = data.consumeBytes(8);
        final byte[] line = data.consumeRemainingAsBytes();
        PARSER_INPUTS.incrementAndGet();

        final UnsafeBuffer exact = new UnsafeBuffer(line.clone());
        final SmtpPathParser fresh = new SmtpPathParser();
        final byte[] reply = parse(fresh, mail, exact, 0, line.length);
        final Object[] result = result(fresh, reply, 0);
        if (null == reply)
        {
            final int addressEnd = fresh.addressOffset() + fresh.addressLength();
            assertTrue(fresh.addressOffset() >= 0 && fresh.addressLength() >= 0 && addressEnd <= line.length,
                "address outside the line");
            assertTrue(fresh.addressLength() <= 256, "path over 256 octets accepted");
            assertTrue(fresh.paramsOffset() >= 0 && fresh.paramsLength() >= 0 &&
                fresh.paramsOffset() + fresh.paramsLength() <= line.length, "parameters outside the line");
            assertTrue(fresh.size() >= -1, "negative SIZE");
            assertTrue(fresh.body() >= 0 && fresh.body() <= 2, "unknown BODY");
            if (!fresh.nonAscii())
            {
                for (int i = fresh.addressOffset(); i < addressEnd; i++)
                {
                    assertTrue(line[i] >= 0, "8-bit address not flagged nonAscii");
                }
            }
        }
        else
        {
            SessionOracle.units(new String(reply, StandardCharsets.ISO_8859_1));
            assertTrue(reply[0] == '4' || reply[0] == '5', "parser error that is not 4xx/5xx");
        }

        // same line inside a bigger buffer, junk before and after, parser reused after another line
        final byte[] framed = new byte[junk.length + line.length + junk.length];
        System.arraycopy(junk, 0, framed, 0, junk.length);
        System.arraycopy(line, 0, framed, junk.length, line.length);
        System.arraycopy(junk, 0, framed, junk.length + line.length, junk.length);
        final SmtpPathParser reused = new SmtpPathParser();
        final byte[] other = "FROM:<x@y.test> SIZE=77 BODY=8BITMIME SMTPUTF8".getBytes(StandardCharsets.US_ASCII);
        reused.parseMail(new UnsafeBuffer(other), 0, other.length);
        final byte[] reply2 = parse(reused, mail, new UnsafeBuffer(framed), junk.length, junk.length + line.length);
        assertArrayEquals(result, result(reused, reply2, junk.length), "result depends on state or on bytes past the line");
    }

    private static byte[] parse(final SmtpPathParser parser, final boolean mail, final UnsafeBuffer buffer,
        final int offset, final int end)
    {
        return mail ? parser.parseMail(buffer, offset, end) : parser.parseRcpt(buffer, offset, end);
    }

    private static Object[] result(final SmtpPathParser parser, final byte[] reply, final int base)
    {
        if (null != reply)
        {
            return new Object[]{new String(reply, StandardCharsets.ISO_8859_1)};
        }
        return new Object[]{parser.addressOffset() - base, parser.addressLength(), parser.paramsOffset() - base,
            parser.paramsLength(), parser.nonAscii(), parser.size(), parser.body(), parser.smtpUtf8()};
    }

    // ------------------------------------------------------------------------------------------ whole session

    /**
     * Any bytes at all, from the greeting on, cut anywhere: commands, pipelining, DATA and BDAT, error limits.
     */
    // libFuzzer dictionary syntax: Jazzer writes the entries unescaped, so CR/LF are spelled \x0d\x0a
    @FuzzTest
    @DictionaryEntries({"EHLO a\\x0d\\x0a", "HELO a\\x0d\\x0a", "MAIL FROM:<a@b.test>\\x0d\\x0a", "RCPT TO:<c@d.test>\\x0d\\x0a", "DATA\\x0d\\x0a",
        "\\x0d\\x0a.\\x0d\\x0a", "\\x0d\\x0a..", "\\x0a.\\x0a", "\\x0a.\\x0d\\x0a", "BDAT ", " LAST\\x0d\\x0a", "RSET\\x0d\\x0a", "NOOP\\x0d\\x0a", "QUIT\\x0d\\x0a",
        "STARTTLS\\x0d\\x0a", "AUTH PLAIN\\x0d\\x0a", " BODY=BINARYMIME", " SMTPUTF8", " SIZE=", "\\x0d\\x0a"})
    void sessionStream(final FuzzedDataProvider data) throws IOException
    {
        final boolean useStrict = data.consumeBoolean();
        final int[] cuts = data.consumeInts(data.consumeInt(0, 12));
        final byte[] input = data.consumeRemainingAsBytes();
        drive(useStrict, input, cuts);
    }

    /**
     * A good envelope, then DATA with any body or a run of BDAT chunks of any sizes and contents, then any bytes:
     * reaches end-of-data and its limits (line length, size, bare LF) far more often than raw bytes do.
     */
    @FuzzTest
    @DictionaryEntries({"\\x0d\\x0a.\\x0d\\x0a", "\\x0d\\x0a..", "\\x0a.\\x0a", "\\x0a.\\x0d\\x0a", "\\x0d.\\x0d\\x0a", ".\\x0d\\x0a", "\\x0d\\x0a", "\\x0a", "\\x0d",
        "MAIL FROM:<a@b.test>\\x0d\\x0a", "RCPT TO:<c@d.test>\\x0d\\x0a", "DATA\\x0d\\x0a", "RSET\\x0d\\x0a", "BDAT 3 LAST\\x0d\\x0a"})
    void dataAndBdat(final FuzzedDataProvider data) throws IOException
    {
        final boolean useStrict = data.consumeBoolean();
        final boolean bdat = data.consumeBoolean();
        final int[] cuts = data.consumeInts(data.consumeInt(0, 8));
        final ByteArrayOutputStream input = new ByteArrayOutputStream();
        input.writeBytes(ENVELOPE.getBytes(StandardCharsets.US_ASCII));
        if (bdat)
        {
            final int chunks = data.consumeInt(1, 4);
            for (int i = 0; i < chunks; i++)
            {
                final boolean last = i == chunks - 1 && data.consumeBoolean();
                final byte[] chunk = data.consumeBytes(data.consumeInt(0, 4 * SMALL_MAX_SIZE));
                input.writeBytes(("BDAT " + chunk.length + (last ? " LAST" : "") + "\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
                input.writeBytes(chunk);
            }
        }
        else
        {
            input.writeBytes("DATA\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        input.writeBytes(data.consumeRemainingAsBytes());
        drive(useStrict, input.toByteArray(), cuts);
    }

    private static void drive(final boolean useStrict, final byte[] input, final int[] cuts) throws IOException
    {
        final SessionDriver driver = useStrict ? strict : lenient;
        if (input.length > IN.capacity())
        {
            return; // libFuzzer's -max_len is far below; a bigger corpus file is not a session we can hold
        }
        final SessionDriver.Session session = driver.open(OUT, IN);
        final int[] at = Arrays.stream(cuts).map((c) -> Math.floorMod(c, input.length + 1)).toArray();
        session.sendSplit(input, at);
        final String replies = session.replies.toString();
        try
        {
            final SessionOracle oracle = new SessionOracle(input, replies,
                useStrict ? BareLfMode.REJECT : BareLfMode.NORMALIZE, useStrict ? SMALL_MAX_SIZE : LENIENT_MAX_SIZE,
                driver.queued());
            oracle.check(session.isClosing());
            COMMANDS.addAndGet(oracle.commandsChecked);
            MESSAGES.addAndGet(oracle.messagesChecked);
        }
        catch (final AssertionError ex)
        {
            throw new AssertionError(ex.getMessage() + "\nreplies:\n" + SessionOracle.printable(replies), ex);
        }
        if (session.isClosing())
        {
            // a closed session answers nothing more, whatever arrives
            final byte[] more = "NOOP\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII);
            final UnsafeBuffer extra = new UnsafeBuffer(ByteBuffer.allocateDirect(more.length));
            extra.putBytes(0, more);
            session.session.onBytes(extra, 0, more.length, session.nowNs + 1_000);
            assertEquals(0, session.out.pending(), "answered after closing");
        }
        session.session.onDisconnect();
        driver.clearQueue();
        STREAMS.incrementAndGet();
    }
}
