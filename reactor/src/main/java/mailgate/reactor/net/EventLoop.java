/*
 * SUMMARY
 * An SMTP event loop: an Agrona agent whose duty cycle polls its own NIO selector, drains the spool's
 * completions and runs the timers of its connections.
 *
 * DESCRIPTION
 * All loops register the one listening socket; whichever accepts a connection owns it for its life, so a
 * connection never changes thread and its session needs no lock. A loop that holds clearly more
 * connections than the least loaded one leaves accepting to the others, which spreads connections evenly
 * without a hand-off queue. The clock is read once per duty cycle.
 *
 * A second listener may serve implicit TLS (RFC 8314); its connections start with the handshake and its
 * sessions use that listener's settings. Answers computed on other threads (AUTH password checks) come
 * back through the services' inbox, drained every cycle.
 *
 * LIMITS
 * Spool file writes happen on the loop (page cache, no fsync); fsyncs happen on the SpoolSyncer.
 */
package mailgate.reactor.net;

import mailgate.reactor.smtp.SessionServices;
import mailgate.reactor.smtp.SmtpSession;
import mailgate.reactor.smtp.SmtpSettings;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.status.LoopCounters;
import mailgate.reactor.tls.TlsContext;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One event-loop agent.
 */
public final class EventLoop implements Agent
{
    private static final long SWEEP_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
    private static final int ACCEPTS_PER_CYCLE = 64;
    /** After accept() failed (EMFILE, ENFILE, ENOBUFS): the backlog waits this long before the next try. */
    private static final byte[] NO_MEMORY_REPLY =
        "421 4.3.2 Service not available: no buffer memory for new connections, try again later\r\n"
            .getBytes(StandardCharsets.US_ASCII);
    private static final long ACCEPT_FAILED_PAUSE_NS = TimeUnit.MILLISECONDS.toNanos(100);
    /** A loop leaving accepts to a less loaded peer looks again after this long. */
    private static final long ACCEPT_BALANCE_PAUSE_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final int BALANCE_SLACK = 4;

    private final int id;
    private final Selector selector;
    private final ServerSocketChannel listener;
    private final SessionServices services;
    private final ConnectionLimiter limiter;
    private final LoopCounters counters;
    private final OneToOneConcurrentArrayQueue<SpoolFile> spoolCompletions;
    private final ArrayList<Connection> connections = new ArrayList<>();
    private final Consumer<SelectionKey> onSelected = this::onSelected;
    private final Consumer<SpoolFile> onSpoolCompletion = SpoolFile::onCompletion;
    private final Consumer<Runnable> onInboxTask = Runnable::run;
    private final int receiveBufferLength;
    private final DirectMemoryBudget directMemory = new DirectMemoryBudget();
    private final long connectionBufferBytes;
    private final int sendBufferLength;
    private final byte[] totalLimitReply;
    private final SelectorIdleStrategy idleStrategy;
    private EventLoop[] peers = new EventLoop[0];
    private Runnable housekeeping;
    private SelectionKey acceptKey;
    private SelectionKey tlsAcceptKey;
    private ServerSocketChannel tlsListener;
    private SmtpSettings tlsSettings;
    private TlsContext tlsContext;
    private long nowNs;
    private long nextSweepNs;
    private long acceptResumeNs;
    private boolean acceptPaused;
    private volatile int activeConnections;
    private volatile long shutdownForceAtNs;
    private volatile boolean shutdownRequested;
    private volatile boolean drained;

    /**
     * @param id                  loop number (0..15).
     * @param listener            the shared listening socket, non-blocking.
     * @param services            what this loop's sessions share.
     * @param spoolCompletions    the queue the services were given for durable files coming back.
     * @param limiter             connection limits shared by all loops.
     * @param receiveBufferLength per-connection input buffer.
     * @param sendBufferLength    per-connection reply buffer.
     * @throws IOException if the selector cannot be opened.
     */
    public EventLoop(
        final int id,
        final ServerSocketChannel listener,
        final SessionServices services,
        final OneToOneConcurrentArrayQueue<SpoolFile> spoolCompletions,
        final ConnectionLimiter limiter,
        final int receiveBufferLength,
        final int sendBufferLength) throws IOException
    {
        this.id = id;
        this.listener = listener;
        this.services = services;
        this.spoolCompletions = spoolCompletions;
        this.limiter = limiter;
        this.counters = services.counters();
        this.receiveBufferLength = receiveBufferLength;
        this.sendBufferLength = sendBufferLength;
        // both buffers are 64-byte aligned; the reply buffer holds at least two longest replies
        this.connectionBufferBytes = receiveBufferLength + Math.max(sendBufferLength, 2048) + 2 * 64;
        this.selector = Selector.open();
        this.idleStrategy = new SelectorIdleStrategy(
            selector, TimeUnit.MILLISECONDS.toNanos(1), () -> services.policy().awaitingAnswers());
        this.acceptKey = listener.register(selector, SelectionKey.OP_ACCEPT);
        this.totalLimitReply = ("421 4.7.0 " + services.settings().hostname() +
            " Error: too many connections\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * @param peers all loops of the daemon (for balancing accepts).
     */
    public void peers(final EventLoop[] peers)
    {
        this.peers = peers;
    }

    /**
     * @param housekeeping run on this loop every sweep (50 ms), e.g. the status file heartbeat.
     */
    public void housekeeping(final Runnable housekeeping)
    {
        this.housekeeping = housekeeping;
    }

    /**
     * Enable TLS on this loop (before it starts).
     *
     * @param context          certificate and engines; STARTTLS needs it.
     * @param implicitListener the implicit-TLS listening socket, or null.
     * @param implicitSettings that listener's settings.
     * @throws IOException if the listener cannot be registered.
     */
    public void tls(
        final TlsContext context, final ServerSocketChannel implicitListener, final SmtpSettings implicitSettings)
        throws IOException
    {
        this.tlsContext = context;
        this.tlsListener = implicitListener;
        this.tlsSettings = implicitSettings;
        if (null != implicitListener)
        {
            tlsAcceptKey = implicitListener.register(selector, SelectionKey.OP_ACCEPT);
        }
    }

    TlsContext tlsContext()
    {
        return tlsContext;
    }

    public void onStart()
    {
        nowNs = System.nanoTime();
        nextSweepNs = nowNs + SWEEP_INTERVAL_NS;
    }

    public int doWork() throws IOException
    {
        nowNs = System.nanoTime();
        if (acceptPaused && nowNs - acceptResumeNs >= 0)
        {
            resumeAccepting();
        }
        int work = selector.selectNow(onSelected);
        work += spoolCompletions.drain(onSpoolCompletion);
        work += services.inbox().drain(onInboxTask);
        work += services.policy().doWork(nowNs);
        if (nowNs - nextSweepNs >= 0)
        {
            nextSweepNs = nowNs + SWEEP_INTERVAL_NS;
            work += sweep();
            if (null != housekeeping)
            {
                housekeeping.run();
            }
        }
        return work;
    }

    private void onSelected(final SelectionKey key)
    {
        if (!key.isValid())
        {
            return;
        }
        if (key == acceptKey)
        {
            onAcceptable(key, listener, false);
            return;
        }
        if (key == tlsAcceptKey)
        {
            onAcceptable(key, tlsListener, true);
            return;
        }
        final Connection connection = (Connection)key.attachment();
        final int ready = key.readyOps();
        if ((ready & SelectionKey.OP_WRITE) != 0)
        {
            connection.onWritable(nowNs);
        }
        if ((ready & SelectionKey.OP_READ) != 0 && !connection.isClosed())
        {
            connection.onReadable(nowNs);
        }
    }

    private void onAcceptable(final SelectionKey key, final ServerSocketChannel listener, final boolean implicitTls)
    {
        if (shutdownRequested)
        {
            return;
        }
        if (!isLeastLoaded())
        {
            // the listener stays readable until a peer accepts: without a pause this loop would spin meanwhile
            pauseAccepting(ACCEPT_BALANCE_PAUSE_NS);
            return;
        }
        for (int i = 0; i < ACCEPTS_PER_CYCLE; i++)
        {
            final SocketChannel channel;
            try
            {
                channel = listener.accept();
            }
            catch (final IOException ex)
            {
                // EMFILE and friends: leave the connection in the backlog. The listener stays readable, so
                // retrying every cycle spun the loop at 100% CPU (ResourceLimitsTest); pause, then try again.
                counters.acceptFailures.incrementRelease();
                pauseAccepting(ACCEPT_FAILED_PAUSE_NS);
                return;
            }
            if (null == channel)
            {
                return;
            }
            onAccepted(channel, implicitTls);
        }
    }

    private void pauseAccepting(final long pauseNs)
    {
        acceptPaused = true;
        acceptResumeNs = nowNs + pauseNs;
        setAcceptInterest(acceptKey, 0);
        setAcceptInterest(tlsAcceptKey, 0);
    }

    private void resumeAccepting()
    {
        acceptPaused = false;
        setAcceptInterest(acceptKey, SelectionKey.OP_ACCEPT);
        setAcceptInterest(tlsAcceptKey, SelectionKey.OP_ACCEPT);
    }

    private static void setAcceptInterest(final SelectionKey key, final int ops)
    {
        if (null != key && key.isValid())
        {
            key.interestOps(ops);
        }
    }

    private boolean isLeastLoaded()
    {
        int min = Integer.MAX_VALUE;
        for (final EventLoop peer : peers)
        {
            min = Math.min(min, peer.activeConnections);
        }
        return peers.length < 2 || activeConnections <= min + BALANCE_SLACK;
    }

    private void onAccepted(final SocketChannel channel, final boolean implicitTls)
    {
        final InetSocketAddress remote;
        try
        {
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, Boolean.TRUE);
            remote = (InetSocketAddress)channel.getRemoteAddress();
        }
        catch (final IOException ex)
        {
            closeQuietly(channel);
            return;
        }
        final InetAddress address = remote.getAddress();
        final ConnectionLimiter.Verdict verdict = limiter.tryAcquire(address);
        if (ConnectionLimiter.Verdict.ACCEPT != verdict)
        {
            counters.connectionsRefused.incrementRelease();
            counters.onReply((byte)'4');
            final byte[] reply = ConnectionLimiter.Verdict.TOTAL_LIMIT == verdict ? totalLimitReply :
                ("421 4.7.0 " + services.settings().hostname() + " Error: too many connections from " +
                address.getHostAddress() + "\r\n").getBytes(StandardCharsets.US_ASCII);
            try
            {
                if (!implicitTls)
                {
                    channel.write(ByteBuffer.wrap(reply));
                }
            }
            catch (final IOException ignore)
            {
                // refused either way
            }
            closeQuietly(channel);
            return;
        }
        Connection connection = null;
        SmtpSession session = null;
        if (directMemory.hasRoomFor(connectionBufferBytes))
        {
            try
            {
                connection = new Connection(this, channel, address, receiveBufferLength, sendBufferLength);
                session = new SmtpSession(services, implicitTls ? tlsSettings : services.settings(),
                    connection.out(), connection, address.getHostAddress(), remote.getPort());
            }
            catch (final OutOfMemoryError ex)
            {
                // the budget is a check, this is the backstop. Thrown by the JDK's Bits, not the VM, so
                // -XX:+ExitOnOutOfMemoryError does not apply: uncaught it killed this loop's thread and left a daemon
                // that accepted nothing (MemoryLimitsTest)
                connection = null;
            }
        }
        if (null == connection)
        {
            // direct memory (-XX:MaxDirectMemorySize) for the buffers is used up: refuse this client, keep the rest
            // going; buffers of closed connections come back with a GC
            directMemory.reclaim(nowNs);
            limiter.release(address);
            counters.acceptFailures.incrementRelease();
            counters.connectionsRefused.incrementRelease();
            counters.onReply((byte)'4');
            if (!implicitTls)
            {
                try
                {
                    channel.write(ByteBuffer.wrap(NO_MEMORY_REPLY));
                }
                catch (final IOException ignore)
                {
                    // refused either way
                }
            }
            closeQuietly(channel);
            return;
        }
        counters.connectionsAccepted.incrementRelease();
        connection.session(session);
        try
        {
            connection.register(channel.register(selector, SelectionKey.OP_READ, connection));
        }
        catch (final IOException ex)
        {
            limiter.release(address);
            closeQuietly(channel);
            return;
        }
        connection.index(connections.size());
        connections.add(connection);
        activeConnections = connections.size();
        counters.connectionsActive.setRelease(connections.size());
        if (implicitTls)
        {
            try
            {
                connection.startTls(tlsContext.newEngine());
            }
            catch (final IOException | RuntimeException ex)
            {
                session.onTlsFailed(String.valueOf(ex.getMessage()));
                close(connection);
                return;
            }
            session.onTlsConnect(nowNs);
            connection.process(nowNs);
            return;
        }
        try
        {
            if (connection.readAvailable() > 0)
            {
                session.onEarlyInput();
                connection.process(nowNs);
                return;
            }
        }
        catch (final IOException ex)
        {
            close(connection);
            return;
        }
        session.onConnect(nowNs);
        connection.process(nowNs);
    }

    private int sweep()
    {
        final boolean shuttingDown = shutdownRequested;
        final boolean force = shuttingDown && nowNs - shutdownForceAtNs >= 0;
        int work = 0;
        for (int i = connections.size() - 1; i >= 0; i--)
        {
            if (i >= connections.size())
            {
                continue;
            }
            final SmtpSession session = connections.get(i).session();
            if (shuttingDown)
            {
                session.onShutdown(force);
            }
            session.onTimer(nowNs);
            work++;
        }
        if (shuttingDown && connections.isEmpty() && !drained)
        {
            drained = true;
        }
        return work > 0 ? 1 : 0;
    }

    /**
     * Close a connection and forget it.
     *
     * @param connection on this loop.
     */
    void close(final Connection connection)
    {
        if (connection.isClosed())
        {
            return;
        }
        connection.close();
        final int index = connection.index();
        final int last = connections.size() - 1;
        final Connection moved = connections.get(last);
        connections.set(index, moved);
        moved.index(index);
        connections.remove(last);
        activeConnections = connections.size();
        counters.connectionsActive.setRelease(connections.size());
        limiter.release(connection.clientAddress());
    }

    /**
     * Start the graceful stop (any thread): no new connections; sessions in a transaction may finish it
     * until the grace period ends, then every session gets 421.
     *
     * @param graceNs how long transactions in flight may take.
     */
    public void requestShutdown(final long graceNs)
    {
        shutdownForceAtNs = System.nanoTime() + graceNs;
        shutdownRequested = true;
    }

    /**
     * @return true once a requested shutdown has closed every connection.
     */
    public boolean isDrained()
    {
        return drained;
    }

    /**
     * @return the loop's default idle strategy, which blocks in its selector.
     */
    public SelectorIdleStrategy idleStrategy()
    {
        return idleStrategy;
    }

    long nowNs()
    {
        return nowNs;
    }

    LoopCounters counters()
    {
        return counters;
    }

    /**
     * @return connections this loop serves now.
     */
    public int activeConnections()
    {
        return activeConnections;
    }

    public void onClose()
    {
        services.policy().close();
        for (int i = connections.size() - 1; i >= 0; i--)
        {
            connections.get(i).close();
        }
        connections.clear();
        try
        {
            selector.close();
        }
        catch (final IOException ignore)
        {
            // nothing left to serve
        }
    }

    public String roleName()
    {
        return "smtpd-loop-" + id;
    }

    private static void closeQuietly(final SocketChannel channel)
    {
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // nothing to tell a client that is gone
        }
    }

    /**
     * @return settings in force (for diagnostics).
     */
    public SmtpSettings settings()
    {
        return services.settings();
    }
}
