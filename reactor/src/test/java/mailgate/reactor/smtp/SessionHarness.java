package mailgate.reactor.smtp;

import mailgate.reactor.MailLog;
import mailgate.reactor.policy.AcceptAllPolicy;
import mailgate.reactor.policy.SmtpPolicy;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.status.LoopCounters;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One session driven directly, as its event loop would: bytes in, replies out, with a real spool on disk.
 */
final class SessionHarness implements SessionHost, AutoCloseable
{
    final Spool spool;
    final ByteArrayOutputStream log = new ByteArrayOutputStream();
    final MailLog mailLog = new MailLog(log, "smtpd");
    final OneToOneConcurrentArrayQueue<SpoolFile> completions = new OneToOneConcurrentArrayQueue<>(1024);
    final LoopCounters counters = new LoopCounters(
        new CountersManager(new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024 * 4)),
        new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024))), 0);
    final ReplyBuffer out = new ReplyBuffer(64 * 1024);
    final UnsafeBuffer in = new UnsafeBuffer(ByteBuffer.allocateDirect(1 << 20));
    final SmtpSession session;
    int inStart;
    int inEnd;
    long nowNs = 1_000_000_000L;

    SessionHarness(final Path spoolDir, final SmtpSettings settings) throws IOException
    {
        this(spoolDir, settings, new AcceptAllPolicy());
    }

    SessionHarness(final Path spoolDir, final SmtpSettings settings, final SmtpPolicy policy)
    {
        this(spoolDir, settings, policy, Spool.SyncMode.AUTO);
    }

    SessionHarness(final Path spoolDir, final SmtpSettings settings, final SmtpPolicy policy,
        final Spool.SyncMode syncMode)
    {
        spool = new Spool(spoolDir, 2, syncMode);
        spool.syncer().start();
        final SessionServices services = new SessionServices(settings, policy, spool, completions, counters, mailLog, 0, () -> { });
        session = new SmtpSession(services, out, this, "192.0.2.7", 40000);
        session.onConnect(nowNs);
    }

    static SmtpSettings settings(final BareLfMode mode)
    {
        return new SmtpSettings("mx.test", 10_000, 3, 20, 300_000, 300_000, 0, 10_000, mode);
    }

    /**
     * Feed bytes and run until the session neither makes progress nor waits for the spool.
     *
     * @param text bytes as ISO-8859-1 (so tests can write any octet).
     * @return replies produced.
     */
    String send(final String text)
    {
        return send(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    String send(final byte[] bytes)
    {
        if (inStart == inEnd)
        {
            inStart = 0;
            inEnd = 0;
        }
        in.putBytes(inEnd, bytes);
        inEnd += bytes.length;
        feed();
        return takeReplies();
    }

    void feed()
    {
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (true)
        {
            if (inEnd > inStart && !session.isClosing() && !session.isParked())
            {
                final int consumed = session.onBytes(in, inStart, inEnd - inStart, nowNs);
                inStart += consumed;
                if (consumed > 0)
                {
                    continue;
                }
            }
            if (session.isWaitingForSpool())
            {
                final SpoolFile done = completions.poll();
                if (null != done)
                {
                    done.onCompletion();
                    continue;
                }
                if (System.nanoTime() > deadline)
                {
                    throw new AssertionError("session parked for 10 s");
                }
                Thread.onSpinWait();
                continue;
            }
            return;
        }
    }

    String takeReplies()
    {
        final String replies = out.pendingAsString();
        out.clear();
        return replies;
    }

    public void onSessionResumed()
    {
        // feed() loops until the session is idle; nothing to do here
    }

    List<Path> queued() throws IOException
    {
        final List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(spool.queueDir()))
        {
            dir.forEach(files::add);
        }
        return files;
    }

    /**
     * @return the message part of the only queued file, without the Received header.
     */
    String onlyMessage() throws IOException
    {
        final List<Path> files = queued();
        if (1 != files.size())
        {
            throw new AssertionError("expected one queued file, found " + files);
        }
        return messageOf(files.get(0));
    }

    void clearQueue() throws IOException
    {
        for (final Path file : queued())
        {
            Files.delete(file);
        }
    }

    static String envelopeOf(final Path file) throws IOException
    {
        final String all = Files.readString(file, StandardCharsets.ISO_8859_1);
        return all.substring(0, all.indexOf("\n\n") + 1);
    }

    static String messageOf(final Path file) throws IOException
    {
        final String all = Files.readString(file, StandardCharsets.ISO_8859_1);
        String message = all.substring(all.indexOf("\n\n") + 2);
        if (!message.startsWith("Received: "))
        {
            throw new AssertionError("no Received header first: " + message);
        }
        int end = message.indexOf("\r\n");
        while (end + 2 < message.length() && '\t' == message.charAt(end + 2))
        {
            end = message.indexOf("\r\n", end + 2);
        }
        return message.substring(end + 2);
    }

    public void close()
    {
        spool.close();
        mailLog.close();
    }
}
