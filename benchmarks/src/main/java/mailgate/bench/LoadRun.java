/*
 * SUMMARY
 * The event loop of one load-generator run: one thread, one Selector, --connections SmtpClientSessions. Decides when a
 * message starts (closed loop: as soon as a session is ready; open loop: at fixed intended times, latency measured
 * from those times so a stalled server cannot hide behind fewer samples), when to stop starting (--messages,
 * --duration, or too many connection failures in a row), records results and prints a progress line per second.
 *
 * LIMITS
 * Open-loop timing has about 1 ms resolution when the loop sleeps; below 1 ms to the next start it polls the
 * selector without sleeping. One thread drives all connections; the client, not the server, may be the bottleneck
 * at very high rates (watch its CPU).
 */
package mailgate.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs the sessions of one load test on the calling thread and collects a {@link LoadResult}.
 */
final class LoadRun
{
    enum ErrorKind
    {
        CONNECTION, TIMEOUT, PROTOCOL
    }

    private static final long TIMER_SCAN_NS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long RECONNECT_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final long PROGRESS_NS = TimeUnit.SECONDS.toNanos(1);
    private static final int MAX_LOGGED_ERRORS = 10;

    private final LoadOptions options;
    private final MessageSource source;
    private final PrintStream log;
    private final LoadStats stats = new LoadStats();
    private final ArrayDeque<SmtpClientSession> idle = new ArrayDeque<>();
    private final ArrayDeque<SmtpClientSession> reconnectNow = new ArrayDeque<>();
    private final Consumer<SelectionKey> keyHandler = LoadRun::onKey;
    private final byte[] mailCommand;
    private final byte[][] rcptCommands;
    private final byte[] ehloCommand;
    private final byte[] heloCommand;
    private final long timeoutNs;
    private final boolean openLoop;
    private final double intervalNs;

    private Selector selector;
    private InetSocketAddress address;
    private SmtpClientSession[] sessions;
    private int active;
    private long startNs;
    private long warmupEndNs;
    private long durationEndNs;
    private long nextIntendedNs;
    private long started;
    private long inFlight;
    private long lastCompletionNs;
    private int consecutiveConnectFailures;
    private String abortReason;
    private boolean usedPipelining;
    private boolean usedChunking;
    private boolean notedNoPipelining;
    private boolean notedNoChunking;
    private int loggedErrors;

    private long liveCompleted;
    private long liveAccepted;
    private long liveErrors;
    private long lastProgressNs;
    private long lastProgressCompleted;

    LoadRun(final LoadOptions options, final MessageSource source, final PrintStream log)
    {
        this.options = options;
        this.source = source;
        this.log = log;
        mailCommand = ascii("MAIL FROM:<" + options.from() + ">\r\n");
        final String[] recipients = options.recipientAddresses();
        rcptCommands = new byte[recipients.length][];
        for (int i = 0; i < recipients.length; i++)
        {
            rcptCommands[i] = ascii("RCPT TO:<" + recipients[i] + ">\r\n");
        }
        ehloCommand = ascii("EHLO " + options.helo() + "\r\n");
        heloCommand = ascii("HELO " + options.helo() + "\r\n");
        timeoutNs = TimeUnit.MILLISECONDS.toNanos(options.timeoutMs());
        openLoop = options.rate() > 0;
        intervalNs = openLoop ? 1e9 / options.rate() : 0;
    }

    LoadResult execute() throws IOException
    {
        address = new InetSocketAddress(options.host(), options.port());
        if (address.isUnresolved())
        {
            throw new IOException("cannot resolve host " + options.host());
        }
        try (Selector sel = Selector.open())
        {
            selector = sel;
            startNs = System.nanoTime();
            // a warm-up counted in messages ends when the first measured one starts (startNext); until then "far ahead"
            warmupEndNs = options.warmupMessages() > 0 ? startNs + Long.MAX_VALUE / 2 :
                startNs + (long)(options.warmupSeconds() * 1e9);
            durationEndNs = options.durationSeconds() > 0 ?
                startNs + (long)(options.durationSeconds() * 1e9) : Long.MAX_VALUE;
            nextIntendedNs = startNs;
            lastProgressNs = startNs;

            final int count = (int)Math.min(options.connections(), options.messages());
            sessions = new SmtpClientSession[count];
            active = count;
            for (int i = 0; i < count; i++)
            {
                sessions[i] = new SmtpClientSession(this);
            }
            for (final SmtpClientSession session : sessions)
            {
                session.connect(System.nanoTime());
            }
            loop();
            final long endNs = System.nanoTime();
            for (final SmtpClientSession session : sessions)
            {
                session.close(endNs, true);
            }
            if (null != abortReason)
            {
                log.println("loadgen: " + abortReason);
            }
            final double wallSeconds = (endNs - startNs) / 1e9;
            final double measuredSeconds = lastCompletionNs > warmupEndNs ? (lastCompletionNs - warmupEndNs) / 1e9 : 0;
            return new LoadResult(options.target(), stats, wallSeconds, measuredSeconds, usedPipelining, usedChunking,
                abortReason);
        }
    }

    private void loop() throws IOException
    {
        long nextTimerScanNs = startNs + TIMER_SCAN_NS;
        while (active > 0)
        {
            long nowNs = System.nanoTime();
            while (!reconnectNow.isEmpty())
            {
                final SmtpClientSession session = reconnectNow.pollFirst();
                if (0 != session.wakeNs())
                {
                    reconnect(session, nowNs);
                }
            }
            if (openLoop)
            {
                startDue(nowNs);
            }
            if (!idle.isEmpty() && stopStarting(nowNs))
            {
                quitIdle(nowNs);
            }
            if (nowNs - nextTimerScanNs >= 0)
            {
                scanTimers(nowNs);
                nextTimerScanNs = nowNs + TIMER_SCAN_NS;
            }
            if (nowNs - lastProgressNs >= PROGRESS_NS)
            {
                progress(nowNs);
            }

            nowNs = System.nanoTime();
            long waitNs = nextTimerScanNs - nowNs;
            if (openLoop && !idle.isEmpty() && !stopStarting(nowNs))
            {
                waitNs = Math.min(waitNs, nextIntendedNs - nowNs);
            }
            if (!reconnectNow.isEmpty() || waitNs < 1_000_000)
            {
                selector.selectNow(keyHandler);
            }
            else
            {
                selector.select(keyHandler, waitNs / 1_000_000);
            }
        }
    }

    private static void onKey(final SelectionKey key)
    {
        ((SmtpClientSession)key.attachment()).onSelected(key);
    }

    private void startDue(final long nowNs)
    {
        while (!idle.isEmpty() && nextIntendedNs - nowNs <= 0 && !stopStarting(nowNs))
        {
            final SmtpClientSession session = idle.pollFirst();
            if (SmtpClientSession.State.READY == session.state())
            {
                startNext(session, nextIntendedNs, nowNs);
            }
        }
    }

    private void quitIdle(final long nowNs)
    {
        while (!idle.isEmpty())
        {
            final SmtpClientSession session = idle.pollFirst();
            if (SmtpClientSession.State.READY == session.state())
            {
                session.quit(nowNs);
            }
        }
    }

    private void startNext(final SmtpClientSession session, final long messageStartNs, final long nowNs)
    {
        final long seq = started++;
        inFlight++;
        if (seq == options.warmupMessages() && seq > 0)
        {
            warmupEndNs = messageStartNs;
            log.println("loadgen: warm-up over (" + seq + " messages)");
            log.flush();
        }
        if (openLoop)
        {
            nextIntendedNs = startNs + (long)(started * intervalNs);
        }
        session.startMessage(seq, messageStartNs, messageStartNs - warmupEndNs >= 0, nowNs);
    }

    private boolean stopStarting(final long nowNs)
    {
        if (null != abortReason || started >= options.messages())
        {
            return true;
        }
        return openLoop ? nextIntendedNs - durationEndNs >= 0 : nowNs - durationEndNs >= 0;
    }

    private void scanTimers(final long nowNs)
    {
        for (final SmtpClientSession session : sessions)
        {
            final long deadline = session.replyDeadlineNs();
            if (0 != deadline && nowNs - deadline >= 0)
            {
                session.onTimeout(nowNs);
            }
            final long wake = session.wakeNs();
            if (0 != wake && SmtpClientSession.State.DISCONNECTED == session.state() && nowNs - wake >= 0)
            {
                reconnect(session, nowNs);
            }
        }
    }

    private void reconnect(final SmtpClientSession session, final long nowNs)
    {
        session.wakeAt(0);
        if (stopStarting(nowNs))
        {
            active--;
        }
        else
        {
            session.connect(nowNs);
        }
    }

    private void progress(final long nowNs)
    {
        final double seconds = (nowNs - lastProgressNs) / 1e9;
        final double rate = (liveCompleted - lastProgressCompleted) / seconds;
        lastProgressNs = nowNs;
        lastProgressCompleted = liveCompleted;
        if (!options.quiet())
        {
            log.printf(Locale.ROOT, "[%6.1fs] %9.1f msg/s  accepted %d  errors %d  in flight %d%n",
                (nowNs - startNs) / 1e9, rate, liveAccepted, liveErrors, inFlight);
        }
    }

    // ---- called by sessions ------------------------------------------------------------------------------------

    MessageSource source()
    {
        return source;
    }

    LoadStats stats()
    {
        return stats;
    }

    Selector selector()
    {
        return selector;
    }

    InetSocketAddress address()
    {
        return address;
    }

    String target()
    {
        return options.target();
    }

    long timeoutNs()
    {
        return timeoutNs;
    }

    int perConnection()
    {
        return options.perConnection();
    }

    boolean isOpenLoop()
    {
        return openLoop;
    }

    byte[] mailCommand()
    {
        return mailCommand;
    }

    byte[][] rcptCommands()
    {
        return rcptCommands;
    }

    byte[] ehloCommand()
    {
        return ehloCommand;
    }

    byte[] heloCommand()
    {
        return heloCommand;
    }

    boolean isRecording(final long nowNs)
    {
        return nowNs - warmupEndNs >= 0;
    }

    void countReply(final int code, final boolean recorded)
    {
        if (recorded)
        {
            stats.countReply(code);
        }
    }

    void onGreeted(final long nowNs)
    {
        if (isRecording(nowNs))
        {
            stats.sessions++;
        }
    }

    boolean usePipelining(final boolean advertised)
    {
        if (!options.pipelining())
        {
            return false;
        }
        if (advertised)
        {
            usedPipelining = true;
            return true;
        }
        if (!notedNoPipelining)
        {
            notedNoPipelining = true;
            log.println("loadgen: " + target() + " does not advertise PIPELINING; sending one command at a time");
        }
        return false;
    }

    boolean useChunking(final boolean advertised)
    {
        if (!options.bdat())
        {
            return false;
        }
        if (advertised)
        {
            usedChunking = true;
            return true;
        }
        if (!notedNoChunking)
        {
            notedNoChunking = true;
            log.println("loadgen: " + target() + " does not advertise CHUNKING; falling back to DATA");
        }
        return false;
    }

    void onSessionReady(final SmtpClientSession session, final long nowNs)
    {
        if (stopStarting(nowNs))
        {
            session.quit(nowNs);
        }
        else if (openLoop)
        {
            idle.addLast(session);
        }
        else
        {
            startNext(session, nowNs, nowNs);
        }
    }

    void onSessionClosed(final SmtpClientSession session, final boolean error, final long nowNs)
    {
        if (stopStarting(nowNs))
        {
            active--;
        }
        else if (error)
        {
            session.wakeAt(nowNs + RECONNECT_DELAY_NS);
        }
        else
        {
            session.wakeAt(nowNs);
            reconnectNow.addLast(session);
        }
    }

    void onMessageDone(final int code, final int size, final boolean recorded, final long messageStartNs,
        final long nowNs)
    {
        inFlight--;
        liveCompleted++;
        consecutiveConnectFailures = 0;
        final boolean accepted = 2 == code / 100;
        if (accepted)
        {
            liveAccepted++;
        }
        if (!recorded)
        {
            stats.warmupMessages++;
            return;
        }
        lastCompletionNs = nowNs;
        stats.record(Phase.MESSAGE, nowNs - messageStartNs);
        if (accepted)
        {
            stats.accepted++;
            stats.acceptedBytes += size;
        }
        else if (4 == code / 100)
        {
            stats.rejected4xx++;
        }
        else
        {
            stats.rejected5xx++;
        }
    }

    void onMessageFailed(final int size, final boolean recorded, final long nowNs)
    {
        inFlight--;
        liveCompleted++;
        consecutiveConnectFailures = 0;
        if (recorded)
        {
            lastCompletionNs = nowNs;
            stats.failed++;
        }
        else
        {
            stats.warmupMessages++;
        }
    }

    void onError(final ErrorKind kind, final String message, final boolean recorded)
    {
        liveErrors++;
        if (recorded)
        {
            switch (kind)
            {
                case CONNECTION:
                    stats.connectionErrors++;
                    break;
                case TIMEOUT:
                    stats.timeouts++;
                    break;
                default:
                    stats.protocolErrors++;
                    break;
            }
        }
        if (loggedErrors < MAX_LOGGED_ERRORS)
        {
            loggedErrors++;
            log.println("loadgen: " + message +
                (MAX_LOGGED_ERRORS == loggedErrors ? " (further errors are counted, not shown)" : ""));
        }
    }

    void onConnectFailed()
    {
        consecutiveConnectFailures++;
        final int limit = Math.max(10, 2 * sessions.length);
        if (consecutiveConnectFailures >= limit && null == abortReason)
        {
            abortReason = "giving up after " + consecutiveConnectFailures +
                " connections in a row failed before any message went through";
        }
    }

    private static byte[] ascii(final String s)
    {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
