package mailgate.reactor.crash;

import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The crash tests are only as good as their checker: it must accept a complete queue file and reject
 * partial or inconsistent ones. Also checks the test client's dot-stuffing.
 */
class QueueFileCheckerTest
{
    private static final String ID = "0123456789ABCDEF";
    private static final byte[] CONTENT = "Subject: x\r\nX-Test-Id: t1\r\n\r\n.hidden\r\nbody\r\n"
        .getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RECEIVED = ("Received: from h ([127.0.0.1])\r\n\tby host (mailgate) with ESMTP id " + ID +
        "\r\n\tfor <r@x>;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n").getBytes(StandardCharsets.US_ASCII);

    private static byte[] file(final byte[] messagePart, final long size, final int crc)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("MAILGATE-SPOOL 1\nid: " + ID + "\narrival: 1\nmail: <s@x>\nrcpt: <r@x>\n" +
            "size: " + String.format("%020d", size) + "\ncrc32c: " + String.format("%08x", crc) + "\n\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(messagePart);
        return out.toByteArray();
    }

    private static byte[] messagePart()
    {
        final byte[] part = Arrays.copyOf(RECEIVED, RECEIVED.length + CONTENT.length);
        System.arraycopy(CONTENT, 0, part, RECEIVED.length, CONTENT.length);
        return part;
    }

    private static int crc(final byte[] bytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(bytes);
        return (int)crc.getValue();
    }

    @Test
    void acceptsACompleteFileAndStripsTheReceivedHeader(@TempDir final Path dir) throws Exception
    {
        final byte[] part = messagePart();
        Files.write(dir.resolve(ID), file(part, part.length, crc(part)));
        final QueueFile parsed = QueueFile.parse(dir.resolve(ID));
        assertArrayEquals(CONTENT, parsed.content);
        assertEquals("t1", parsed.contentHeader("X-Test-Id"));
    }

    @Test
    void rejectsPartialAndInconsistentFiles(@TempDir final Path dir) throws Exception
    {
        final byte[] part = messagePart();
        final byte[] good = file(part, part.length, crc(part));
        final Path f = dir.resolve(ID);
        // truncated message part
        Files.write(f, Arrays.copyOf(good, good.length - 3));
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(f));
        // size and checksum never patched
        Files.write(f, file(part, 0, 0));
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(f));
        // wrong checksum
        Files.write(f, file(part, part.length, crc(part) ^ 1));
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(f));
        // envelope cut before its blank line
        Files.write(f, Arrays.copyOf(good, 40));
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(f));
        // empty file
        Files.write(f, new byte[0]);
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(f));
        // a file named differently from its id field
        Files.write(dir.resolve("FFFFFFFFFFFFFFFF"), good);
        assertThrows(QueueFile.MalformedException.class, () -> QueueFile.parse(dir.resolve("FFFFFFFFFFFFFFFF")));
    }

    @Test
    void dotStuffingDoublesLeadingDotsAndAppendsTheEnd()
    {
        final byte[] wire = SmtpTestClient.dotStuff(".\r\n..a\r\nb.\r\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals("..\r\n...a\r\nb.\r\n.\r\n", new String(wire, StandardCharsets.US_ASCII));
    }
}
