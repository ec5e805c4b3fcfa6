package mailgate.reliability;

import mailgate.reactor.MailLog;
import mailgate.reactor.policy.AcceptAllPolicy;
import mailgate.reactor.smtp.BareLfMode;
import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SessionHost;
import mailgate.reactor.smtp.SessionServices;
import mailgate.reactor.smtp.SmtpSession;
import mailgate.reactor.smtp.SmtpSettings;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.status.LoopCounters;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersManager;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The real {@link SmtpSession} driven in-process as its event loop would drive it, over a real spool on disk.
 * One driver (spool, services, counters) is shared by many sessions so queue ids stay unique.
 */
final class SessionDriver implements AutoCloseable
{
    final Spool spool;
    final MailLog mailLog = new MailLog(OutputStream.nullOutputStream(), "smtpd");
    final OneToOneConcurrentArrayQueue<SpoolFile> completions = new OneToOneConcurrentArrayQueue<>(1024);
    final LoopCounters counters = new LoopCounters(
        new CountersManager(new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024 * 4)),
            new UnsafeBuffer(ByteBuffer.allocateDirect(64 * 1024))), 0);
    final SessionServices services;

    SessionDriver(final Path spoolDir, final SmtpSettings settings)
    {
        spool = new Spool(spoolDir, 2);
        spool.syncer().start();
        services = new SessionServices(settings, new AcceptAllPolicy(), spool, completions, counters, mailLog, 0,
            () -> { });
    }

    static SmtpSettings settings(final int hardErrorLimit)
    {
        return new SmtpSettings("mx.test", 20_000_000, 100, hardErrorLimit, 300_000, 300_000, 0, 10_000,
            BareLfMode.NORMALIZE);
    }

    Session open()
    {
        return new Session(new ReplyBuffer(256 * 1024), new UnsafeBuffer(ByteBuffer.allocateDirect(4 << 20)));
    }

    /**
     * A session over buffers the caller reuses: fuzzing opens thousands of sessions a second, one after the other,
     * and fresh direct buffers for each would pile up until a GC.
     *
     * @param out replies (cleared here).
     * @param in  input, large enough for everything the session will be sent.
     */
    Session open(final ReplyBuffer out, final UnsafeBuffer in)
    {
        out.clear();
        return new Session(out, in);
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

    void clearQueue() throws IOException
    {
        for (final Path file : queued())
        {
            Files.delete(file);
        }
    }

    /**
     * @param file     a queue file.
     * @param expected the message the client sent (after un-stuffing).
     * @return true if the file's message part is one Received header (with its continuation lines) then exactly
     * the expected octets.
     */
    static boolean holdsMessage(final Path file, final byte[] expected) throws IOException
    {
        final String all = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
        final String message = all.substring(all.indexOf("\n\n") + 2);
        final String body = new String(expected, StandardCharsets.ISO_8859_1);
        if (!message.endsWith(body))
        {
            return false;
        }
        final String header = message.substring(0, message.length() - body.length());
        return header.startsWith("Received: ") && header.endsWith("\r\n") &&
            header.substring(0, header.length() - 2).replace("\r\n\t", " ").indexOf('\n') < 0;
    }

    public void close()
    {
        spool.close();
        mailLog.close();
    }

    final class Session implements SessionHost
    {
        final ReplyBuffer out;
        final UnsafeBuffer in;
        final SmtpSession session;
        final StringBuilder replies = new StringBuilder();
        int inStart;
        int inEnd;
        long nowNs = 1_000_000_000L;

        Session(final ReplyBuffer out, final UnsafeBuffer in)
        {
            this.out = out;
            this.in = in;
            session = new SmtpSession(services, out, this, "192.0.2.7", 40000);
            session.onConnect(nowNs);
            drainReplies();
        }

        String send(final String text)
        {
            return send(text.getBytes(StandardCharsets.ISO_8859_1));
        }

        /**
         * Feed bytes, run until idle.
         *
         * @return replies produced by these bytes.
         */
        String send(final byte[] bytes)
        {
            final int before = replies.length();
            if (inStart == inEnd)
            {
                inStart = 0;
                inEnd = 0;
            }
            in.putBytes(inEnd, bytes);
            inEnd += bytes.length;
            feed();
            return replies.substring(before);
        }

        /**
         * Feed the bytes in pieces cut at the given offsets.
         */
        String sendSplit(final byte[] bytes, final int[] cuts)
        {
            final int[] sorted = cuts.clone();
            Arrays.sort(sorted);
            final StringBuilder all = new StringBuilder();
            int from = 0;
            for (final int cut : sorted)
            {
                final int at = Math.max(from, Math.min(cut, bytes.length));
                all.append(send(Arrays.copyOfRange(bytes, from, at)));
                from = at;
            }
            all.append(send(Arrays.copyOfRange(bytes, from, bytes.length)));
            return all.toString();
        }

        boolean isClosing()
        {
            return session.isClosing();
        }

        private void feed()
        {
            final long deadline = System.nanoTime() + 10_000_000_000L;
            while (true)
            {
                nowNs += 1_000;
                if (inEnd > inStart && !session.isClosing() && !session.isParked())
                {
                    final int consumed = session.onBytes(in, inStart, inEnd - inStart, nowNs);
                    inStart += consumed;
                    drainReplies();
                    if (consumed > 0)
                    {
                        continue;
                    }
                }
                final SpoolFile done = completions.poll();
                if (null != done)
                {
                    done.onCompletion();
                    drainReplies();
                    continue;
                }
                if (session.isParked() && !session.isClosing())
                {
                    if (System.nanoTime() > deadline)
                    {
                        throw new AssertionError("session parked for 10 s");
                    }
                    Thread.onSpinWait();
                    continue;
                }
                drainReplies();
                return;
            }
        }

        private void drainReplies()
        {
            replies.append(out.pendingAsString());
            out.clear();
        }

        public void onSessionResumed()
        {
        }
    }
}
