/*
 * SUMMARY
 * The SMTP daemon: listening socket, K event loops, the spool with its group-commit syncer, the maillog
 * and the status (counters) file, wired from an SmtpdConfig.
 *
 * DESCRIPTION
 * With TLS configured (smtpd.starttls or smtps.listen) a TlsContext is loaded before any thread starts
 * (a bad certificate stops start-up), and with auth.password-file a PasswordAuthenticator; reload() (SIGHUP)
 * reads both again. close() is the graceful stop: the listener closes at once, each loop gives idle sessions 421 and lets
 * transactions in flight finish until the grace period is over, then the syncer finishes what was
 * submitted, and only then do the threads stop.
 */
package mailgate.reactor;

import mailgate.reactor.net.ConnectionLimiter;
import mailgate.reactor.net.EventLoop;
import mailgate.reactor.net.SelectorIdleStrategy;
import mailgate.reactor.net.NetworkList;
import mailgate.reactor.policy.PolicyFactory;
import mailgate.reactor.smtp.BareLfMode;
import mailgate.reactor.smtp.SessionServices;
import mailgate.reactor.smtp.SmtpSettings;
import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.status.LoopCounters;
import mailgate.reactor.status.SmtpdCounter;
import mailgate.reactor.status.StatusFile;
import mailgate.reactor.tls.PasswordAuthenticator;
import mailgate.reactor.tls.TlsContext;
import mailgate.reactor.tls.TlsCounters;
import mailgate.ipc.RendezvousDirectory;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.YieldingIdleStrategy;
import org.agrona.concurrent.status.CountersManager;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A running SMTP daemon.
 */
public final class Smtpd implements AutoCloseable
{
    private final SmtpdConfig config;
    private final ServerSocketChannel listener;
    private final Spool spool;
    private final MailLog mailLog;
    private final StatusFile statusFile;
    private final EventLoop[] loops;
    private final AgentRunner[] runners;
    private final InetSocketAddress boundAddress;
    private final ServerSocketChannel tlsListener;
    private final InetSocketAddress tlsBoundAddress;
    private final TlsContext tlsContext;
    private final PasswordAuthenticator authenticator;
    private boolean closed;

    /**
     * Bind, open the spool and start the threads.
     *
     * @param config settings.
     * @param policies makes each loop's policy (the policy seam).
     */
    public Smtpd(final SmtpdConfig config, final PolicyFactory policies)
    {
        this.config = config;
        final SmtpSettings settings = new SmtpSettings(
            config.hostname(),
            config.getLong(SmtpdConfig.MESSAGE_SIZE_LIMIT),
            config.getInt(SmtpdConfig.RECIPIENT_LIMIT),
            config.getInt(SmtpdConfig.HARD_ERROR_LIMIT),
            config.getLong(SmtpdConfig.COMMAND_TIMEOUT),
            config.getLong(SmtpdConfig.DATA_TIMEOUT),
            config.getLong(SmtpdConfig.GREET_PAUSE),
            config.getLong(SmtpdConfig.POLICY_TIMEOUT),
            config.<BareLfMode>get(SmtpdConfig.BARE_LF));
        this.spool = new Spool(Path.of(config.<String>get(SmtpdConfig.SPOOL)), config.getInt(SmtpdConfig.SYNC_THREADS),
            config.<Spool.SyncMode>get(SmtpdConfig.SYNC));
        final Path statusDir = RendezvousDirectory.ensure(spool.root().resolve("run"), "status");
        this.statusFile = StatusFile.createFor(statusDir, StatusFile.DEFAULT_VALUES_LENGTH);
        final CountersManager countersManager = statusFile.newCountersManager();
        this.mailLog = new MailLog(openMailLog(config.get(SmtpdConfig.MAILLOG)), "smtpd");
        mailLog.droppedCounter(LoopCounters.allocate(countersManager, SmtpdCounter.MAILLOG_DROPPED, -1));
        spool.syncer().counters(
            LoopCounters.allocate(countersManager, SmtpdCounter.SPOOL_FILES_SYNCED, -1),
            LoopCounters.allocate(countersManager, SmtpdCounter.SPOOL_SYNC_BATCHES, -1),
            LoopCounters.allocate(countersManager, SmtpdCounter.SPOOL_SYNC_FAILURES, -1));
        if (!spool.corruptFiles().isEmpty())
        {
            mailLog.log("spool: moved " + spool.corruptFiles().size() + " incomplete file(s) to corrupt/ " +
                spool.corruptFiles() + " (an operating-system crash during a group commit; no 250 was given)");
        }
        if (spool.recoveredTmpFiles() > 0)
        {
            mailLog.log("spool: removed " + spool.recoveredTmpFiles() +
                " partial file(s) from tmp/ (clients were never given a 250 for them)");
        }
        final Object smtpsListen = config.get(SmtpdConfig.SMTPS_LISTEN);
        final boolean startTls = config.getBoolean(SmtpdConfig.STARTTLS);
        final boolean implicitTls = smtpsListen instanceof InetSocketAddress;
        try
        {
            tlsContext = startTls || implicitTls ? loadTls(config, spool.root().resolve("run")) : null;
            final String passwordFile = config.get(SmtpdConfig.AUTH_PASSWORD_FILE);
            authenticator = passwordFile.isEmpty() ? null :
                new PasswordAuthenticator(Path.of(passwordFile), config.getInt(SmtpdConfig.AUTH_THREADS));
        }
        catch (final IOException | ConfigException ex)
        {
            spool.close();
            throw ex instanceof ConfigException ? (ConfigException)ex : new ConfigException(ex.getMessage());
        }
        try
        {
            listener = bind(config.get(SmtpdConfig.LISTEN));
            boundAddress = (InetSocketAddress)listener.getLocalAddress();
        }
        catch (final IOException ex)
        {
            spool.close();
            throw new UncheckedIOException("cannot listen on " + config.get(SmtpdConfig.LISTEN) + ": " +
                ex.getMessage(), ex);
        }
        try
        {
            tlsListener = implicitTls ? bind((InetSocketAddress)smtpsListen) : null;
            tlsBoundAddress = implicitTls ? (InetSocketAddress)tlsListener.getLocalAddress() : null;
        }
        catch (final IOException ex)
        {
            closeQuietly(listener);
            spool.close();
            throw new UncheckedIOException("cannot listen on " + smtpsListen + ": " + ex.getMessage(), ex);
        }
        final long handshakeTimeoutMs = config.getLong(SmtpdConfig.TLS_HANDSHAKE_TIMEOUT);
        final boolean authWithoutTls = config.getBoolean(SmtpdConfig.AUTH_WITHOUT_TLS);
        final SmtpSettings plainSettings = settings.forListener(config.get(SmtpdConfig.EXTENSIONS), startTls, false,
            null != authenticator, authWithoutTls, config.getBoolean(SmtpdConfig.REQUIRE_TLS),
            config.getBoolean(SmtpdConfig.REQUIRE_AUTH), handshakeTimeoutMs);
        final SmtpSettings implicitSettings = settings.forListener(config.get(SmtpdConfig.SMTPS_EXTENSIONS), true,
            true, null != authenticator, authWithoutTls, false, config.getBoolean(SmtpdConfig.SMTPS_REQUIRE_AUTH),
            handshakeTimeoutMs);
        if (config.getBoolean(SmtpdConfig.REQUIRE_TLS) && !startTls)
        {
            closeQuietly(listener);
            closeQuietly(tlsListener);
            spool.close();
            throw new ConfigException(SmtpdConfig.REQUIRE_TLS + " = on needs " + SmtpdConfig.STARTTLS + " = on");
        }
        final ConnectionLimiter limiter = new ConnectionLimiter(
            config.getInt(SmtpdConfig.MAX_CONNECTIONS),
            config.getInt(SmtpdConfig.MAX_CONNECTIONS_PER_CLIENT),
            config.<NetworkList>get(SmtpdConfig.LIMIT_EXCEPTIONS));
        final int loopCount = config.eventLoops();
        loops = new EventLoop[loopCount];
        runners = new AgentRunner[loopCount];
        try
        {
            for (int i = 0; i < loopCount; i++)
            {
                final OneToOneConcurrentArrayQueue<SpoolFile> completions = new OneToOneConcurrentArrayQueue<>(65536);
                final LoopCounters counters = new LoopCounters(countersManager, i);
                final EventLoop[] self = new EventLoop[1];
                final SessionServices services = new SessionServices(
                    plainSettings, policies.newPolicy(i, counters), spool, completions, counters, mailLog, i,
                    () -> self[0].idleStrategy().wake())
                    .tls(authenticator, new TlsCounters(countersManager, i));
                loops[i] = new EventLoop(i, listener, services, completions, limiter,
                    config.getInt(SmtpdConfig.RECEIVE_BUFFER), config.getInt(SmtpdConfig.SEND_BUFFER));
                loops[i].tls(tlsContext, tlsListener, implicitSettings);
                self[0] = loops[i];
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        for (final EventLoop loop : loops)
        {
            loop.peers(loops);
        }
        loops[0].housekeeping(() -> statusFile.heartbeat(System.currentTimeMillis()));
        mailLog.start();
        spool.syncer().start();
        for (int i = 0; i < loopCount; i++)
        {
            runners[i] = new AgentRunner(idleStrategy(config.get(SmtpdConfig.IDLE_STRATEGY), loops[i]),
                (t) -> t.printStackTrace(), null, loops[i]);
            AgentRunner.startOnThread(runners[i]);
        }
        mailLog.log("daemon started: listening on " + describe(boundAddress) +
            (startTls ? " (STARTTLS)" : "") +
            (null != tlsBoundAddress ? ", implicit TLS on " + describe(tlsBoundAddress) : "") + ", " + loopCount +
            " event loop(s), spool " + spool.root() + ", hostname " + settings.hostname() + ", counters " +
            statusFile.path());
        if (null != tlsContext)
        {
            mailLog.log("tls: " + String.join("/", tlsContext.protocols()) + ", certificate " + tlsContext.description());
        }
        if (null != authenticator)
        {
            mailLog.log("auth: PLAIN LOGIN against " + authenticator.description() +
                (authWithoutTls ? ", also without TLS" : ", after TLS only"));
        }
    }

    private static TlsContext loadTls(final SmtpdConfig config, final Path runDir) throws IOException
    {
        final String certFile = config.get(SmtpdConfig.TLS_CERT_FILE);
        final String keyFile = config.get(SmtpdConfig.TLS_KEY_FILE);
        if (certFile.isEmpty() && !keyFile.isEmpty())
        {
            throw new ConfigException(SmtpdConfig.TLS_KEY_FILE + " is set but " + SmtpdConfig.TLS_CERT_FILE + " is not");
        }
        return TlsContext.create(certFile.isEmpty() ? null : Path.of(certFile),
            keyFile.isEmpty() ? null : Path.of(keyFile), runDir, config.hostname(), config.get(SmtpdConfig.TLS_PROTOCOLS));
    }

    private static ServerSocketChannel bind(final InetSocketAddress address) throws IOException
    {
        final ServerSocketChannel channel = ServerSocketChannel.open();
        try
        {
            channel.setOption(StandardSocketOptions.SO_REUSEADDR, Boolean.TRUE);
            channel.bind(address, 4096);
            channel.configureBlocking(false);
            return channel;
        }
        catch (final IOException ex)
        {
            channel.close();
            throw ex;
        }
    }

    private static void closeQuietly(final ServerSocketChannel channel)
    {
        if (null == channel)
        {
            return;
        }
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // closing is all we wanted
        }
    }

    /**
     * Read the TLS certificate and key and the password file again (SIGHUP); what fails to load keeps the old.
     */
    public void reload()
    {
        if (null != tlsContext)
        {
            try
            {
                mailLog.log("reload: tls certificate " + tlsContext.reload());
            }
            catch (final IOException | RuntimeException ex)
            {
                mailLog.log("warning: reload: tls certificate kept: " + ex.getMessage());
            }
        }
        if (null != authenticator)
        {
            try
            {
                mailLog.log("reload: auth passwords " + authenticator.reload());
            }
            catch (final IOException | RuntimeException ex)
            {
                mailLog.log("warning: reload: auth passwords kept: " + ex.getMessage());
            }
        }
    }

    /**
     * @return the implicit-TLS address bound, or null.
     */
    public InetSocketAddress tlsBoundAddress()
    {
        return tlsBoundAddress;
    }

    /**
     * @return the address actually bound (port resolved when 0 was asked).
     */
    public InetSocketAddress boundAddress()
    {
        return boundAddress;
    }

    public Spool spool()
    {
        return spool;
    }

    /**
     * @return the event loops (tests look at how connections spread).
     */
    public EventLoop[] loops()
    {
        return loops;
    }

    /**
     * Graceful stop; returns when every thread has ended.
     */
    public synchronized void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        closeQuietly(listener);
        closeQuietly(tlsListener);
        final long graceNs = TimeUnit.MILLISECONDS.toNanos(config.getLong(SmtpdConfig.SHUTDOWN_GRACE));
        for (final EventLoop loop : loops)
        {
            loop.requestShutdown(graceNs);
        }
        final long deadlineNs = System.nanoTime() + graceNs + TimeUnit.SECONDS.toNanos(5);
        for (final EventLoop loop : loops)
        {
            while (!loop.isDrained() && System.nanoTime() - deadlineNs < 0)
            {
                try
                {
                    Thread.sleep(10);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        for (final AgentRunner runner : runners)
        {
            runner.close();
        }
        spool.close();
        if (null != authenticator)
        {
            authenticator.close();
        }
        mailLog.log("daemon stopped");
        mailLog.close();
        statusFile.close();
    }

    private static IdleStrategy idleStrategy(final String name, final EventLoop loop)
    {
        switch (name)
        {
            case "busy-spin":
                return new BusySpinIdleStrategy();
            case "yielding":
                return new YieldingIdleStrategy();
            case "sleeping":
                return new SleepingMillisIdleStrategy(1);
            default:
                // spins briefly, yields, then blocks in the selector up to 1 ms: a socket wakes it at once, IPC
                // answers are polled, and an idle loop costs ~1,000 wake-ups/s instead of a busy core
                return loop.idleStrategy();
        }
    }

    private static OutputStream openMailLog(final String destination)
    {
        if ("-".equals(destination))
        {
            return System.out;
        }
        try
        {
            return new FileOutputStream(destination, true);
        }
        catch (final IOException ex)
        {
            throw new ConfigException(SmtpdConfig.MAILLOG + ": cannot open " + destination + ": " + ex.getMessage());
        }
    }

    static String describe(final InetSocketAddress address)
    {
        final String host = address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }
}
