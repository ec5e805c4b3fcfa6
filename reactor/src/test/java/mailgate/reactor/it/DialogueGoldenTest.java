package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Golden dialogues in the style of Postfix's smtpd_check.in/.ref: src/test/clients/dialogues/NAME.in is
 * replayed over a raw socket to a real daemon, and every reply line must equal NAME.ref (format in the
 * README there).
 */
class DialogueGoldenTest
{
    private static final Path DIALOGUES = Path.of("src", "test", "clients", "dialogues");
    private static final String QUEUE_ID = "<queue-id>";

    @TempDir
    static Path dir;

    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws IOException
    {
        daemon = ItDaemons.start(dir, "golden");
    }

    @AfterAll
    static void stopDaemon() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> dialogues() throws IOException
    {
        final List<Path> inputs;
        try (Stream<Path> files = Files.list(DIALOGUES))
        {
            inputs = files.filter((p) -> p.getFileName().toString().endsWith(".in")).sorted()
                .collect(Collectors.toList());
        }
        assertFalse(inputs.isEmpty(), "no dialogues in " + DIALOGUES.toAbsolutePath());
        return inputs.stream().map((in) -> DynamicTest.dynamicTest(in.getFileName().toString(), () -> replay(in)));
    }

    private static void replay(final Path input) throws IOException
    {
        final String name = input.getFileName().toString();
        final Path refFile = input.resolveSibling(name.substring(0, name.length() - 3) + ".ref");
        final List<String> expected = new ArrayList<>();
        for (final String line : Files.readAllLines(refFile, StandardCharsets.UTF_8))
        {
            if (!line.startsWith("#"))
            {
                expected.add(line);
            }
        }
        final List<String> transcript = new ArrayList<>();
        final List<String> actual = new ArrayList<>();
        try (SmtpTestClient wire = SmtpTestClient.connect(daemon.port(), 10_000))
        {
            record(wire.readReplyLines(), actual, transcript);
            for (final String line : Files.readAllLines(input, StandardCharsets.UTF_8))
            {
                if (line.isBlank() || line.startsWith("#"))
                {
                    continue;
                }
                if ("!eof".equals(line))
                {
                    transcript.add("(waiting for the close)");
                    record(wire.readUntilClosed(), actual, transcript);
                    transcript.add("(closed)");
                }
                else if (line.startsWith("!raw "))
                {
                    final byte[] bytes = unescape(line.substring(5));
                    transcript.add("C: " + printable(bytes));
                    wire.write(bytes);
                    record(wire.readReplyLines(), actual, transcript);
                }
                else if (line.startsWith(">"))
                {
                    final byte[] bytes = withCrLf(unescape(line.substring(1)));
                    transcript.add("C: " + printable(bytes));
                    wire.write(bytes);
                }
                else
                {
                    final byte[] bytes = withCrLf(unescape(line));
                    transcript.add("C: " + printable(bytes));
                    wire.write(bytes);
                    record(wire.readReplyLines(), actual, transcript);
                }
            }
        }
        catch (final IOException ex)
        {
            fail(name + ": " + ex + "\ntranscript so far:\n" + String.join("\n", transcript) +
                ItDaemons.logs(daemon), ex);
        }
        final List<String> comparable = new ArrayList<>();
        for (int i = 0; i < actual.size(); i++)
        {
            final String got = actual.get(i);
            final String want = i < expected.size() ? expected.get(i) : null;
            comparable.add(null != want && want.contains(QUEUE_ID) && matchesWithQueueId(want, got) ? want : got);
        }
        assertEquals(String.join("\n", expected), String.join("\n", comparable),
            name + " replies differ from " + refFile.getFileName() + "; transcript:\n" +
            String.join("\n", transcript));
    }

    private static boolean matchesWithQueueId(final String want, final String got)
    {
        final int at = want.indexOf(QUEUE_ID);
        final String prefix = want.substring(0, at);
        final String suffix = want.substring(at + QUEUE_ID.length());
        return got.startsWith(prefix) && got.endsWith(suffix) && got.length() > prefix.length() + suffix.length() &&
            got.substring(prefix.length(), got.length() - suffix.length()).matches("[A-Za-z0-9]+");
    }

    private static void record(final List<String> lines, final List<String> actual, final List<String> transcript)
    {
        for (final String line : lines)
        {
            actual.add(line);
            transcript.add("S: " + line);
        }
    }

    private static byte[] withCrLf(final byte[] bytes)
    {
        final byte[] result = new byte[bytes.length + 2];
        System.arraycopy(bytes, 0, result, 0, bytes.length);
        result[bytes.length] = '\r';
        result[bytes.length + 1] = '\n';
        return result;
    }

    /**
     * Escapes: \r \n \t \\ \xHH, and {C*N} for the character C repeated N times.
     */
    static byte[] unescape(final String text)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < text.length())
        {
            final char c = text.charAt(i);
            if ('\\' == c && i + 1 < text.length())
            {
                final char e = text.charAt(i + 1);
                switch (e)
                {
                    case 'r':
                        out.write('\r');
                        i += 2;
                        break;
                    case 'n':
                        out.write('\n');
                        i += 2;
                        break;
                    case 't':
                        out.write('\t');
                        i += 2;
                        break;
                    case '\\':
                        out.write('\\');
                        i += 2;
                        break;
                    case 'x':
                        out.write(Integer.parseInt(text.substring(i + 2, i + 4), 16));
                        i += 4;
                        break;
                    default:
                        throw new IllegalArgumentException("bad escape \\" + e + " in '" + text + "'");
                }
            }
            else if ('{' == c && i + 3 < text.length() && '*' == text.charAt(i + 2) && text.indexOf('}', i) > 0)
            {
                final int close = text.indexOf('}', i);
                final int count = Integer.parseInt(text.substring(i + 3, close));
                final byte[] one = String.valueOf(text.charAt(i + 1)).getBytes(StandardCharsets.UTF_8);
                for (int n = 0; n < count; n++)
                {
                    out.writeBytes(one);
                }
                i = close + 1;
            }
            else
            {
                final int cp = text.codePointAt(i);
                out.writeBytes(new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8));
                i += Character.charCount(cp);
            }
        }
        return out.toByteArray();
    }

    private static String printable(final byte[] bytes)
    {
        final String s = new String(bytes, StandardCharsets.UTF_8)
            .replace("\r", "\\r").replace("\n", "\\n").replace("\u0001", "\\x01");
        return s.length() > 120 ? s.substring(0, 100) + "...(" + bytes.length + " bytes)" : s;
    }
}
