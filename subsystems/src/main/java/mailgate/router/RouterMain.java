/*
 * SUMMARY
 * Entry point of the router role ("bin/mailgate router"): attaches to the host's media driver, proves
 * itself with the install secret, and serves MAIL/RCPT questions until SIGTERM.
 *
 * DESCRIPTION
 * Tables are reloaded on SIGHUP and when a table file changes (checked every second). A reload that
 * finds a bad line logs "file:line: reason" and keeps the tables in force; requests are never paused.
 *
 * The media driver may come and go: the router waits for one at start, and after a driver restart
 * attaches to the new one and serves again by itself (DriverConnection).
 *
 * DIAGNOSTICS
 * Exit 78 on a bad config or table at start, 71 when the secret or the Aeron directory is unsafe.
 */
package mailgate.router;

import mailgate.ipc.ChallengeResponder;
import mailgate.ipc.DeepeningIdleStrategy;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.FileReloader;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.ipc.codecs.Role;
import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdConfig;
import mailgate.reactor.SmtpdMain;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import mailgate.ipc.ShutdownSignal;
import org.agrona.concurrent.status.AtomicCounter;

import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs the router server.
 */
public final class RouterMain
{
    /** How long start-up waits for a media driver before saying ready anyway (and serving when one comes). */
    static final long READY_WAIT_MS = 15_000;

    private RouterMain()
    {
    }

    /**
     * @param args --config FILE, --aeron-dir DIR, --tables DIR.
     */
    public static void main(final String[] args)
    {
        final SmtpdConfig config;
        final AtomicReference<RouterTables> tables = new AtomicReference<>();
        final Path tableDir;
        try
        {
            config = SmtpdMain.parse(args);
            final String dir = config.get(SmtpdConfig.ROUTER_TABLES);
            tableDir = dir.isEmpty() ? null : Path.of(dir);
            tables.set(null == tableDir ? RouterTables.defaults() : RouterTables.load(tableDir));
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate router: " + ex.getMessage());
            System.exit(SmtpdMain.EX_CONFIG);
            return;
        }
        final byte[] secret;
        final DriverConnection connection;
        try
        {
            secret = InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE)));
            connection = new DriverConnection(IpcChannels.secureAeronDir(config.aeronDir()), "mailgate router")
                .start(RouterCounters.DRIVER_RECONNECTS, "router media driver reconnects");
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate router: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        final RouterAgent agent = new RouterAgent(
            connection, new Router(tables), new ChallengeResponder(new SecretMac(secret), Role.ROUTER));
        final AtomicCounter reloads = connection.counter(RouterCounters.RELOADS, "router table reloads");
        final AtomicCounter reloadFailures = connection.counter(RouterCounters.RELOAD_FAILURES, "router reload failures");
        final FileReloader reloader = new FileReloader("mailgate-router-reload",
            () -> null == tableDir ? 0 : RouterTables.lastModified(tableDir),
            () ->
            {
                if (null != tableDir)
                {
                    reload(tableDir, tables, reloads, reloadFailures);
                }
            }).startWithSighup();
        final AgentRunner runner = new AgentRunner(
            // park at most 100 us: an idle router answers a lone RCPT in ~0.1 ms, not ~1 ms (benchmarks/JMH.md);
            // after a second without questions, 1 ms parks (6.4% of a core idle otherwise)
            new DeepeningIdleStrategy(
                new BackoffIdleStrategy(64, 16, TimeUnit.MICROSECONDS.toNanos(50), TimeUnit.MICROSECONDS.toNanos(100)),
                TimeUnit.SECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)),
            (t) -> System.err.println("mailgate router: " + t), null, agent);
        AgentRunner.startOnThread(runner);
        final boolean attached = connection.awaitAttached(READY_WAIT_MS);
        System.err.println("mailgate router ready (pid " + ProcessHandle.current().pid() + ", tables " +
            tables.get() + (attached ? "" : "; no media driver yet, serving once one runs") + ")");
        ShutdownSignal.await();
        reloader.close();
        runner.close();
        connection.close();
        System.exit(0);
    }

    private static void reload(
        final Path dir,
        final AtomicReference<RouterTables> tables,
        final AtomicCounter reloads,
        final AtomicCounter failures)
    {
        try
        {
            final RouterTables fresh = RouterTables.load(dir);
            tables.set(fresh);
            reloads.increment();
            System.err.println(Instant.now() + " mailgate router: tables reloaded: " + fresh);
        }
        catch (final ConfigException ex)
        {
            failures.increment();
            System.err.println(Instant.now() + " mailgate router: reload refused, old tables stay: " +
                ex.getMessage());
        }
    }
}
