package mailgate.handoff;

import mailgate.reactor.spool.Spool;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * A spool made by mailgate.reactor.spool.Spool, with queue/ files written in the documented format.
 */
final class HandoffFixture
{
    private static final AtomicLong SEQ = new AtomicLong(0x1A212E5246E00000L);

    final Path root;
    final Path queue;
    final Path failed;
    final ByteArrayOutputStream maillogBytes = new ByteArrayOutputStream();
    final PrintStream maillog = new PrintStream(maillogBytes, true, StandardCharsets.UTF_8);
    final ByteArrayOutputStream diagBytes = new ByteArrayOutputStream();
    final PrintStream diag = new PrintStream(diagBytes, true, StandardCharsets.UTF_8);

    final Path dir;

    HandoffFixture(final Path dir)
    {
        this.dir = dir;
        this.root = dir.resolve("spool");
        new Spool(root, 1).close();
        this.queue = root.resolve("queue");
        this.failed = root.resolve("failed");
    }

    static String nextId()
    {
        return String.format("%016X", SEQ.incrementAndGet());
    }

    /** A message part as smtpd stores it: our Received header, then the client's message. */
    static byte[] message(final String id, final String body)
    {
        final String text = "Received: from client.example ([192.0.2.7])\r\n" +
            "\tby mx.example (mailgate) with ESMTP id " + id + "\r\n" +
            "\tWed, 25 Nov 2026 13:28:56 GMT\r\n" +
            "Subject: test " + id + "\r\n" +
            "From: a@example.com\r\n" +
            "\r\n" + body;
        return text.getBytes(StandardCharsets.UTF_8);
    }

    /** Body with lines that need dot-stuffing and 8-bit bytes. */
    static String trickyBody()
    {
        return "hello\r\n.leading dot\r\n..two dots\r\n.\r\nnot the end\r\n caf\u00e9 \u2713\r\n.\r\nlast line\r\n";
    }

    String write(final byte[] message, final String sender, final List<String> recipients) throws IOException
    {
        // arrival now: a fixed date would expire under handoff.max-age (5d) a few days after it was written
        return write(nextId(), message, sender, recipients, System.currentTimeMillis());
    }

    String write(final String id, final byte[] message, final String sender, final List<String> recipients,
        final long arrival) throws IOException
    {
        final CRC32C crc = new CRC32C();
        crc.update(message);
        final StringBuilder env = new StringBuilder("MAILGATE-SPOOL 1\n")
            .append("id: ").append(id).append('\n')
            .append("arrival: ").append(arrival).append('\n')
            .append("client-address: 192.0.2.7\nclient-port: 48868\nhelo: client.example\nprotocol: ESMTP\n")
            .append("mail: <").append(sender).append("> BODY=8BITMIME\n");
        for (final String r : recipients)
        {
            env.append("rcpt: <").append(r).append(">\n");
        }
        env.append("future-key: ignored\n");
        env.append("size: ").append(String.format("%020d", message.length)).append('\n')
            .append("crc32c: ").append(String.format("%08x", (int)crc.getValue())).append("\n\n");
        final byte[] head = env.toString().getBytes(StandardCharsets.UTF_8);
        final byte[] all = new byte[head.length + message.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(message, 0, all, head.length, message.length);
        final Path tmp = root.resolve("tmp").resolve(id);
        Files.write(tmp, all);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        Files.move(tmp, queue.resolve(id), StandardCopyOption.ATOMIC_MOVE);
        return id;
    }

    Path config(final String nextHop, final String... extra) throws IOException
    {
        final StringBuilder b = new StringBuilder("# test handoff config\n")
            .append("handoff.next-hop = ").append(nextHop).append('\n')
            .append("handoff.poll-interval = 50ms\n")
            .append("handoff.backoff-initial = 100ms\n")
            .append("handoff.backoff-max = 400ms\n")
            .append("handoff.timeout = 5s\n");
        for (final String e : extra)
        {
            b.append(e).append('\n');
        }
        final Path file = dir.resolve("handoff.conf");
        Files.writeString(file, b.toString());
        return file;
    }

    String[] args(final Path config)
    {
        return new String[]{"--spool", root.toString(), "--set", "smtpd.hostname=handoff.test",
            "--handoff-config", config.toString()};
    }

    Handoff start(final String nextHop, final String... extra) throws IOException
    {
        return HandoffMain.run(args(config(nextHop, extra)), maillog, diag);
    }

    String maillog()
    {
        return maillogBytes.toString(StandardCharsets.UTF_8);
    }

    boolean queueEmpty() throws IOException
    {
        try (var files = Files.list(queue))
        {
            return files.findAny().isEmpty();
        }
    }
}
