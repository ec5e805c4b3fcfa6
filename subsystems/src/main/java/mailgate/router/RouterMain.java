/*
 * SUMMARY
 * Entry point of the router role ("bin/mailgate router"): attaches to the host's media driver, proves
 * itself with the install secret, and serves MAIL/RCPT questions until SIGTERM.
 *
 * DESCRIPTION
 * Tables are reloaded on SIGHUP and when a table file changes (checked every second). A reload that
 * finds a bad line logs "file:line: reason" and keeps the tables in force; requests are never paused.
 *
 * DIAGNOSTICS
 * Exit 78 on a bad config or table at start, 71 when the secret or the Aeron directory is unsafe or no
 * driver answers.
 */
package mailgate.router;

import io.aeron.Aeron;
import mailgate.ipc.ChallengeResponder;
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
        final Aeron aeron;
        try
        {
            secret = InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE)));
            final Path aeronDir = IpcChannels.secureAeronDir(config.aeronDir());
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(aeronDir.toString())
                .errorHandler((t) -> System.err.println("mailgate router: aeron: " + t)));
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate router: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        final RouterAgent agent = new RouterAgent(
            aeron, new Router(tables), new ChallengeResponder(new SecretMac(secret), Role.ROUTER));
        final AtomicCounter reloads = aeron.addCounter(RouterCounters.RELOADS, "router table reloads");
        final AtomicCounter reloadFailures = aeron.addCounter(RouterCounters.RELOAD_FAILURES, "router reload failures");
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
            // park at most 100 us: an idle router answers a lone RCPT in ~0.1 ms, not ~1 ms (benchmarks/JMH.md)
            new BackoffIdleStrategy(64, 16, TimeUnit.MICROSECONDS.toNanos(50), TimeUnit.MICROSECONDS.toNanos(100)),
            (t) -> System.err.println("mailgate router: " + t), null, agent);
        AgentRunner.startOnThread(runner);
        System.err.println("mailgate router ready (pid " + ProcessHandle.current().pid() + ", tables " +
            tables.get() + ")");
        ShutdownSignal.await();
        reloader.close();
        runner.close();
        aeron.close();
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
