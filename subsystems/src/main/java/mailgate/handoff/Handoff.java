/*
 * SUMMARY
 * The handoff engine: watches queue/ and hands every complete message to the next hop on a small pool of
 * worker threads; deletes a message only after the hop accepted it for every recipient.
 *
 * DESCRIPTION
 * A scanner lists queue/ at start and every handoff.poll-interval. A file that is not being delivered and is
 * due (new, or its retry time has come) is checked with SpoolVerifier.isComplete, parsed, and queued for a
 * worker. Each worker owns one Hop (one SMTP/LMTP connection, reused across messages).
 *
 * Outcome per recipient: 2xx done; 5xx rejected; 4xx (or a connection failure) pending. A retry sends only
 * to the pending recipients. When none is pending: all done -> delete queue/ID and fsync queue/; some
 * rejected -> move to failed/ID with failed/ID.reason. Still pending -> retry after handoff.backoff-initial,
 * doubling per attempt up to handoff.backoff-max; once the message is older than handoff.max-age (from its
 * arrival: field) it goes to failed/ instead.
 *
 * Retry state (attempts, next retry time, recipients already done or rejected) is kept in memory and, after
 * every attempt that leaves recipients pending, durably in SPOOL/handoff/ID (RetryState), so a restart
 * resumes: no recipient the hop accepted gets the message again, the attempt count and the backoff go on.
 * The state file goes after the message left queue/. The maximum age comes from the envelope's arrival.
 *
 * Maillog: one line per recipient per attempt on the maillog stream (stdout for the role):
 *   ID: to=<addr>, relay=host:port, delay=1.2s, attempts=N, status=sent|deferred|bounced (reply)
 */
package mailgate.handoff;

import mailgate.ipc.RendezvousDirectory;
import mailgate.reactor.spool.SpoolVerifier;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A running handoff; close() stops it (in-flight deliveries finish first).
 */
public final class Handoff implements AutoCloseable
{
    private final HandoffConfig config;
    private final Path queueDir;
    private final Path failedDir;
    private final Path stateDir;
    private final String helo;
    private final PrintStream maillog;
    private final PrintStream diag;
    private final HopTls hopTls;
    private final Map<String, RetryState> states = new ConcurrentHashMap<>();
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final Set<String> warnedIncomplete = ConcurrentHashMap.newKeySet();
    private final BlockingQueue<QueuedMessage> work = new LinkedBlockingQueue<>();
    private final Thread scanner;
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean running = true;
    private final Object scanLock = new Object();

    /** Counters, for tests and (later) inspect. */
    final AtomicLong sent = new AtomicLong();
    final AtomicLong deferred = new AtomicLong();
    final AtomicLong bounced = new AtomicLong();

    private Handoff(
        final HandoffConfig config, final Path spoolRoot, final String helo, final PrintStream maillog,
        final PrintStream diag)
    {
        this.config = config;
        this.queueDir = spoolRoot.resolve("queue");
        this.helo = helo;
        this.maillog = maillog;
        this.diag = diag;
        this.hopTls = HandoffConfig.Kind.MAILDIR == config.nextHop().kind() ? null : HopTls.create(config);
        RendezvousDirectory.verify(spoolRoot, "spool");
        RendezvousDirectory.verify(queueDir, "spool queue");
        this.failedDir = RendezvousDirectory.ensure(spoolRoot.resolve("failed"), "spool failed");
        this.stateDir = RendezvousDirectory.ensure(spoolRoot.resolve("handoff"), "spool handoff");
        this.scanner = new Thread(this::scanLoop, "mailgate-handoff-scan");
        this.scanner.setDaemon(true);
        for (int i = 0; i < config.workers(); i++)
        {
            final Thread t = new Thread(this::workLoop, "mailgate-handoff-" + i);
            t.setDaemon(true);
            workers.add(t);
        }
    }

    /**
     * Start delivering.
     *
     * @param config    settings.
     * @param spoolRoot the spool root (holding queue/); failed/ is created beside queue/.
     * @param helo      name for EHLO/LHLO and Maildir file names.
     * @param maillog   one line per attempt and recipient.
     * @param diag      diagnostics.
     * @return the running handoff.
     */
    public static Handoff start(
        final HandoffConfig config, final Path spoolRoot, final String helo, final PrintStream maillog,
        final PrintStream diag)
    {
        final Handoff h = new Handoff(config, spoolRoot, helo, maillog, diag);
        h.loadStates();
        final int queued = h.queuedCount();
        if (queued > 0)
        {
            diag.println(Instant.now() + " mailgate handoff: " + queued + " message(s) in queue/ at start; a " +
                "message that was being handed off when a previous handoff stopped may be delivered twice");
        }
        h.scanner.start();
        h.workers.forEach(Thread::start);
        return h;
    }

    /**
     * Reads SPOOL/handoff/: the state of every message still in queue/ is resumed; state files whose message
     * has gone (a crash after the message left queue/) and unfinished .tmp files are removed.
     */
    private void loadStates()
    {
        int resumed = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(stateDir))
        {
            for (final Path file : files)
            {
                final String name = file.getFileName().toString();
                if (name.endsWith(".tmp") || !Files.exists(queueDir.resolve(name)))
                {
                    Files.deleteIfExists(file);
                    continue;
                }
                try
                {
                    states.put(name, RetryState.read(file));
                    resumed++;
                }
                catch (final IOException ex)
                {
                    diag.println(Instant.now() + " mailgate handoff: " + name + ": retry state ignored (" +
                        ex.getMessage() + "); the message is tried for all its recipients");
                    Files.deleteIfExists(file);
                }
            }
        }
        catch (final IOException ex)
        {
            diag.println(Instant.now() + " mailgate handoff: reading " + stateDir + ": " + ex);
        }
        if (resumed > 0)
        {
            diag.println(Instant.now() + " mailgate handoff: resumed the retry state of " + resumed + " message(s)");
        }
    }

    private int queuedCount()
    {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(queueDir))
        {
            int n = 0;
            for (final Path ignored : files)
            {
                n++;
            }
            return n;
        }
        catch (final IOException ex)
        {
            return 0;
        }
    }

    private void scanLoop()
    {
        while (running)
        {
            try
            {
                scan();
            }
            catch (final RuntimeException | IOException ex)
            {
                diag.println(Instant.now() + " mailgate handoff: scanning " + queueDir + ": " + ex);
            }
            synchronized (scanLock)
            {
                if (!running)
                {
                    return;
                }
                try
                {
                    scanLock.wait(config.pollInterval().toMillis());
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        }
    }

    private void scan() throws IOException
    {
        final long now = System.currentTimeMillis();
        final List<Path> due = new ArrayList<>();
        final Set<String> listed = new java.util.HashSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(queueDir))
        {
            for (final Path file : files)
            {
                final String id = file.getFileName().toString();
                listed.add(id);
                if (inFlight.contains(id))
                {
                    continue;
                }
                final RetryState st = states.get(id);
                if (null == st || st.nextAttemptMs <= now)
                {
                    due.add(file);
                }
            }
        }
        // forget retry state of files that left queue/ by other means
        states.keySet().removeIf((id) ->
        {
            if (listed.contains(id) || inFlight.contains(id))
            {
                return false;
            }
            dropState(id);
            return true;
        });
        warnedIncomplete.removeIf((id) -> !listed.contains(id));
        due.sort(null); // ids sort by arrival
        for (final Path file : due)
        {
            final String id = file.getFileName().toString();
            if (!SpoolVerifier.isComplete(file))
            {
                if (Files.exists(file) && warnedIncomplete.add(id))
                {
                    diag.println(Instant.now() + " mailgate handoff: " + id + ": incomplete spool file in queue/, " +
                        "skipped (smtpd moves it to corrupt/ at its next start)");
                }
                continue;
            }
            final QueuedMessage message;
            try
            {
                message = QueuedMessage.read(file);
            }
            catch (final NoSuchFileException ex)
            {
                continue;
            }
            catch (final IOException | RuntimeException ex)
            {
                fail(id, file, "unreadable envelope: " + ex.getMessage());
                continue;
            }
            inFlight.add(id);
            work.add(message);
        }
    }

    private void workLoop()
    {
        final Hop hop = HandoffConfig.Kind.MAILDIR == config.nextHop().kind() ?
            new MaildirHop(config.nextHop().path(), helo) : new SmtpHop(config, hopTls, helo, diag);
        try
        {
            while (running)
            {
                final QueuedMessage message;
                try
                {
                    message = work.poll(100, TimeUnit.MILLISECONDS);
                }
                catch (final InterruptedException ex)
                {
                    break;
                }
                if (null == message)
                {
                    hop.idle();
                    continue;
                }
                try
                {
                    process(hop, message);
                }
                catch (final RuntimeException ex)
                {
                    diag.println(Instant.now() + " mailgate handoff: " + message.id() + ": " + ex);
                    final RetryState st = states.computeIfAbsent(message.id(), (k) -> new RetryState());
                    st.nextAttemptMs = System.currentTimeMillis() + backoff(Math.max(1, st.attempts));
                }
                finally
                {
                    inFlight.remove(message.id());
                }
            }
        }
        finally
        {
            hop.close();
        }
    }

    private void process(final Hop hop, final QueuedMessage message)
    {
        final String id = message.id();
        RetryState st = states.computeIfAbsent(id, (k) -> new RetryState());
        if (!st.matches(message))
        {
            diag.println(Instant.now() + " mailgate handoff: " + id + ": retry state in " + stateDir +
                " names other recipients than the envelope; ignored, all recipients are tried");
            st = new RetryState();
            states.put(id, st);
        }
        final List<Integer> pendingIndex = new ArrayList<>();
        final List<QueuedMessage.Recipient> pending = new ArrayList<>();
        for (int i = 0; i < message.recipients().size(); i++)
        {
            if (!st.done.containsKey(i) && !st.rejected.containsKey(i))
            {
                pendingIndex.add(i);
                pending.add(message.recipients().get(i));
            }
        }
        List<Hop.Reply> replies = List.of();
        if (!pending.isEmpty())
        {
            st.attempts++;
            replies = hop.deliver(message, pending);
        }
        final long now = System.currentTimeMillis();
        final String delay = String.format(Locale.ROOT, "%.1f", Math.max(0, now - message.arrival()) / 1000.0);
        boolean stillPending = false;
        for (int k = 0; k < pending.size(); k++)
        {
            final Hop.Reply reply = replies.get(k);
            final int index = pendingIndex.get(k);
            final String status;
            if (reply.ok())
            {
                st.done.put(index, pending.get(k).address());
                status = "sent";
                sent.incrementAndGet();
            }
            else if (reply.permanent())
            {
                st.rejected.put(index, reply.toString());
                status = "bounced";
                bounced.incrementAndGet();
            }
            else
            {
                stillPending = true;
                st.lastReply = reply.toString();
                status = "deferred";
                deferred.incrementAndGet();
            }
            log(id, pending.get(k).address(), delay, st.attempts, hop.tls(), status, reply.toString());
        }
        if (!stillPending)
        {
            final boolean gone;
            if (st.rejected.isEmpty())
            {
                gone = remove(message);
            }
            else
            {
                final StringBuilder reason = new StringBuilder("rejected by " + config.nextHop().relay() + ":\n");
                st.rejected.forEach((i, r) -> reason.append("  <").append(message.recipients().get(i).address())
                    .append(">: ").append(r).append('\n'));
                appendDone(reason, st);
                gone = fail(id, message.file(), reason.toString());
            }
            finish(id, st, message, gone, now);
            return;
        }
        if (now - message.arrival() > config.maxAge().toMillis())
        {
            states.remove(id);
            final StringBuilder reason = new StringBuilder("expired: not delivered within " + config.maxAge() +
                " after " + st.attempts + " attempt(s) to " + config.nextHop().relay() + "; last reply: " +
                st.lastReply + "\n");
            for (final int i : pendingIndex)
            {
                if (!st.done.containsKey(i) && !st.rejected.containsKey(i))
                {
                    reason.append("  <").append(message.recipients().get(i).address()).append(">: expired\n");
                    log(id, message.recipients().get(i).address(), delay, st.attempts, hop.tls(), "bounced",
                        "message expired after " + st.attempts + " attempt(s)");
                    bounced.incrementAndGet();
                }
            }
            st.rejected.forEach((i, r) -> reason.append("  <").append(message.recipients().get(i).address())
                .append(">: ").append(r).append('\n'));
            appendDone(reason, st);
            finish(id, st, message, fail(id, message.file(), reason.toString()), now);
            return;
        }
        st.nextAttemptMs = now + backoff(st.attempts);
        save(id, st, message);
    }

    /**
     * @param gone true when the message left queue/: its state goes too. Otherwise (queue/ or failed/ not
     *             writable) the state is kept, so the next attempt only retries the removal, sending nothing.
     */
    private void finish(final String id, final RetryState st, final QueuedMessage message, final boolean gone,
        final long now)
    {
        if (gone)
        {
            states.remove(id);
            dropState(id);
        }
        else
        {
            st.nextAttemptMs = now + backoff(Math.max(1, st.attempts));
            save(id, st, message);
        }
    }

    private void save(final String id, final RetryState st, final QueuedMessage message)
    {
        try
        {
            st.write(stateDir, id, message);
        }
        catch (final IOException ex)
        {
            diag.println(Instant.now() + " mailgate handoff: " + id + ": cannot save the retry state in " +
                stateDir + " (" + ex + "); after a restart the message goes to all its recipients again");
        }
    }

    private static void appendDone(final StringBuilder reason, final RetryState st)
    {
        st.done.forEach((i, address) -> reason.append("  <").append(address).append(">: delivered\n"));
    }

    /** Removes the state file of a message that left queue/ (its absence needs no fsync: see loadStates). */
    private void dropState(final String id)
    {
        try
        {
            Files.deleteIfExists(stateDir.resolve(id));
        }
        catch (final IOException ex)
        {
            diag.println(Instant.now() + " mailgate handoff: " + id + ": cannot remove " + stateDir.resolve(id) +
                " (" + ex + "); removed at the next start");
        }
    }

    /**
     * @param attempts attempts made so far (>= 1).
     * @return delay before the next one: initial * 2^(attempts-1), at most the maximum.
     */
    long backoff(final int attempts)
    {
        final long initial = config.backoffInitial().toMillis();
        final long max = config.backoffMax().toMillis();
        final int shift = Math.min(30, Math.max(0, attempts - 1));
        final long d = initial << shift;
        return d <= 0 || d > max ? max : d;
    }

    private void log(
        final String id, final String rcpt, final String delay, final int attempts, final String tls,
        final String status, final String reply)
    {
        maillog.println(id + ": to=<" + rcpt + ">, relay=" + config.nextHop().relay() + ", delay=" + delay +
            "s, attempts=" + attempts + (null == tls ? "" : ", tls=" + tls) + ", status=" + status + " (" +
            reply.replace('\n', ' ') + ")");
    }

    private boolean remove(final QueuedMessage message)
    {
        try
        {
            Files.deleteIfExists(message.file());
            fsyncDirectory(queueDir);
            return true;
        }
        catch (final IOException ex)
        {
            diag.println(Instant.now() + " mailgate handoff: " + message.id() + ": delivered but cannot remove " +
                message.file() + " (" + ex + "); removal retried later");
            return false;
        }
    }

    private boolean fail(final String id, final Path file, final String reason)
    {
        try
        {
            final Path reasonFile = failedDir.resolve(id + ".reason");
            try (FileChannel ch = FileChannel.open(reasonFile, EnumSet.of(StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))))
            {
                ch.write(java.nio.ByteBuffer.wrap((Instant.now() + " " + reason).getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            Files.move(file, failedDir.resolve(id), StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(failedDir);
            fsyncDirectory(queueDir);
            diag.println(Instant.now() + " mailgate handoff: " + id + ": moved to " + failedDir + ": " +
                reason.strip().replace('\n', ' '));
            return true;
        }
        catch (final IOException ex)
        {
            diag.println(Instant.now() + " mailgate handoff: " + id + ": cannot move to " + failedDir + ": " + ex);
            return false;
        }
    }

    /**
     * @param dir a directory whose entries must be durable.
     * @throws IOException when the fsync fails.
     */
    static void fsyncDirectory(final Path dir) throws IOException
    {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ))
        {
            ch.force(true);
        }
    }

    /**
     * @return messages currently delivered or waiting for a worker.
     */
    int inFlight()
    {
        return inFlight.size();
    }

    @Override
    public void close()
    {
        running = false;
        synchronized (scanLock)
        {
            scanLock.notifyAll();
        }
        try
        {
            scanner.join(10_000);
            for (final Thread t : workers)
            {
                t.join(config.timeout().toMillis() + 5_000);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        work.clear();
    }
}
