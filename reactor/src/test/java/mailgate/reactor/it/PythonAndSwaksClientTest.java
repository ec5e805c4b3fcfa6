package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Real clients against real daemons: src/test/clients/smtp_clients_test.py (Python smtplib and raw
 * sockets; its cases are listed there) and swaks. Every message is checked in the spool file its queued
 * reply names.
 */
class PythonAndSwaksClientTest
{
    private static final Path SCRIPT = Path.of("src", "test", "clients", "smtp_clients_test.py");
    private static final int SIZE_LIMIT = 10_000;
    private static final int RECIPIENT_LIMIT = 3;
    private static final int GREET_PAUSE_MS = 500;

    @TempDir
    static Path dir;

    private static DaemonProcess daemon;
    private static DaemonProcess greetPauseDaemon;
    private static DaemonProcess rejectDaemon;

    @BeforeAll
    static void startDaemons() throws IOException
    {
        daemon = ItDaemons.start(dir, "main",
            "smtpd.message-size-limit = " + SIZE_LIMIT,
            "smtpd.recipient-limit = " + RECIPIENT_LIMIT,
            "smtpd.bare-lf = normalize");
        greetPauseDaemon = ItDaemons.start(dir, "greet", "smtpd.greet-pause = " + GREET_PAUSE_MS + "ms");
        rejectDaemon = ItDaemons.start(dir, "reject", "smtpd.bare-lf = reject");
    }

    @AfterAll
    static void stopDaemons() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
        if (null != greetPauseDaemon)
        {
            greetPauseDaemon.close();
        }
        if (null != rejectDaemon)
        {
            rejectDaemon.close();
        }
    }

    @Test
    void pythonSmtplibAndRawSocketCases() throws Exception
    {
        runScript("--skip", "long_text_line");
    }

    /**
     * RFC 5321 4.5.3.1.6: a 1000-octet text line, "not counting the leading dot duplicated for transparency",
     * must be accepted: "." + 997 characters goes out as ".." + 997 + CR LF.
     */
    @Test
    void pythonLongTextLines() throws Exception
    {
        runScript("--only", "long_text_line");
    }

    private static void runScript(final String... selection) throws Exception
    {
        assertTrue(Files.isRegularFile(SCRIPT), SCRIPT.toAbsolutePath() + " is missing");
        final List<String> command = new ArrayList<>(List.of("python3", SCRIPT.toString(),
            "--host", "127.0.0.1",
            "--port", String.valueOf(daemon.port()),
            "--spool", daemon.spool().toString(),
            "--size-limit", String.valueOf(SIZE_LIMIT),
            "--rcpt-limit", String.valueOf(RECIPIENT_LIMIT),
            "--greet-port", String.valueOf(greetPauseDaemon.port()),
            "--greet-pause-ms", String.valueOf(GREET_PAUSE_MS),
            "--reject-port", String.valueOf(rejectDaemon.port()),
            "--reject-spool", rejectDaemon.spool().toString()));
        command.addAll(List.of(selection));
        final Result result = run(60, command.toArray(new String[0]));
        System.out.println(result.text());
        assertEquals(0, result.exitCode, "smtp_clients_test.py failed:\n" + result.text() +
            ItDaemons.logs(daemon) + ItDaemons.logs(greetPauseDaemon) + ItDaemons.logs(rejectDaemon));
        assertTrue(result.text().contains("all passed") && result.text().contains("ok   "), result.text());
    }

    @Test
    void swaksPipelinedBody() throws Exception
    {
        final Result result = swaks("--pipeline", "--body", "Hello from swaks, pipelined.");
        assertTrue(result.text().contains(" -> MAIL FROM:<b@example.test>\n -> RCPT TO:<a@example.test>\n" +
            " -> DATA\n"), "swaks did not pipeline:\n" + result.text());
        final SpoolMessage message = checkQueued(result);
        assertTrue(message.contentText().contains("\r\n\r\nHello from swaks, pipelined.\r\n"), message.toString());
    }

    @Test
    void swaksDataFromFile() throws Exception
    {
        final String data = "From: b@example.test\nTo: a@example.test\nSubject: swaks --data\n\n" +
            "line one\n.a line with a leading dot\n..and two dots\n.\nlast line\n";
        final Path file = dir.resolve("swaks-data.eml");
        Files.writeString(file, data, StandardCharsets.US_ASCII);
        final Result result = swaks("--data", file.toString());
        final SpoolMessage message = checkQueued(result);
        // swaks sends the file's lines with CR LF and dot-stuffs them; the server must undo only the stuffing
        final byte[] fileAsSent = data.replace("\n", "\r\n").getBytes(StandardCharsets.US_ASCII);
        final byte[] prefix = java.util.Arrays.copyOf(message.content, Math.min(fileAsSent.length,
            message.content.length));
        assertArrayEquals(fileAsSent, prefix, message.toString());
    }

    @Test
    void swaksAttachmentWithEightBitBody() throws Exception
    {
        final Path attachment = dir.resolve("8bit.txt");
        Files.writeString(attachment, "café € ½ – 8-bit attachment\nzweite Zeile: Grüße\n", StandardCharsets.UTF_8);
        final Result result = swaks("--attach", attachment.toString(),
            "--attach-type", "text/plain; charset=utf-8",
            "--body", "8-bit body: Grüße aus Köln, ½ €");
        final SpoolMessage message = checkQueued(result);
        final String content = message.contentText();
        assertTrue(content.contains("multipart/mixed"), content);
        assertTrue(content.contains("\r\n8-bit body: Grüße aus Köln, ½ €\r\n"), content);
    }

    private static Result swaks(final String... extra) throws Exception
    {
        final List<String> command = new ArrayList<>(List.of("swaks",
            "--server", "127.0.0.1:" + daemon.port(),
            "--helo", "client.example.test",
            "--to", "a@example.test",
            "--from", "b@example.test",
            "--timeout", "20"));
        command.addAll(List.of(extra));
        final Result result;
        try
        {
            result = run(30, command.toArray(new String[0]));
        }
        catch (final IOException ex)
        {
            fail("cannot run swaks (bin/test installs it: apt-get install swaks): " + ex);
            throw ex;
        }
        assertEquals(0, result.exitCode, "swaks failed:\n" + result.text() + ItDaemons.logs(daemon));
        return result;
    }

    /**
     * The message swaks reports queued must be in the spool, and hold exactly the data lines of swaks'
     * transcript (" -> " lines after the 354 up to the lone "."), dot-unstuffed, with CR LF.
     */
    private static SpoolMessage checkQueued(final Result result) throws IOException
    {
        final String text = result.latin1();
        final String[] lines = text.split("\r?\n", -1);
        final ByteArrayOutputStream sent = new ByteArrayOutputStream();
        boolean inData = false;
        boolean ended = false;
        String queued = null;
        for (final String line : lines)
        {
            if (!inData && line.startsWith("<-  354 "))
            {
                inData = true;
            }
            else if (inData && " -> .".equals(line))
            {
                inData = false;
                ended = true;
            }
            else if (inData && line.startsWith(" -> "))
            {
                final String dataLine = line.substring(4);
                sent.writeBytes((dataLine.startsWith(".") ? dataLine.substring(1) : dataLine)
                    .getBytes(StandardCharsets.ISO_8859_1));
                sent.write('\r');
                sent.write('\n');
            }
            else if (ended && line.startsWith("<-  250 2.0.0 Ok: queued as "))
            {
                queued = line.substring(4);
            }
        }
        assertTrue(ended && null != queued, "no DATA transaction with a queued reply in swaks' output:\n" +
            result.text());
        final SpoolMessage message = SpoolMessage.forReply(daemon.queueDir(), queued);
        assertEquals(List.of("<b@example.test>"), message.all("mail"), message.toString());
        assertEquals(List.of("<a@example.test>"), message.all("rcpt"), message.toString());
        assertEquals("client.example.test", message.one("helo"));
        assertEquals(new String(sent.toByteArray(), StandardCharsets.UTF_8), message.contentText(),
            "spool content differs from what swaks sent");
        assertArrayEquals(sent.toByteArray(), message.content, "spool content differs from what swaks sent");
        return message;
    }

    private static Result run(final int timeoutSeconds, final String... command) throws Exception
    {
        final Path output = Files.createTempFile(dir, "client", ".out");
        final Process process = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
            fail(String.join(" ", command) + " did not finish within " + timeoutSeconds + " s:\n" +
                Files.readString(output, StandardCharsets.UTF_8));
        }
        return new Result(process.exitValue(), Files.readAllBytes(output));
    }

    private static final class Result
    {
        final int exitCode;
        final byte[] output;

        Result(final int exitCode, final byte[] output)
        {
            this.exitCode = exitCode;
            this.output = output;
        }

        String text()
        {
            return new String(output, StandardCharsets.UTF_8);
        }

        String latin1()
        {
            return new String(output, StandardCharsets.ISO_8859_1);
        }
    }
}
