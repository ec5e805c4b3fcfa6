/*
 * SUMMARY
 * Entry point of the content-filter role ("bin/mailgate filter"): attaches to the host's media driver,
 * proves itself with the install secret, and scans message references until SIGTERM.
 *
 * DESCRIPTION
 * Options as the router's: --config FILE, --set key=value (filter.* keys too). Rules come from filter.rules
 * (empty: the embedded defaults, docs/filter.md) and are reloaded on SIGHUP and when the file changes
 * (checked every second); a bad line logs "file:line: reason" and the rules in force stay. Filter stages
 * are loaded once with ServiceLoader (mailgate.filter.FilterStage).
 *
 * The media driver may come and go: after a driver restart the filter attaches to the new one and serves
 * again by itself (DriverConnection); verdicts finished meanwhile are dropped and counted, and smtpd has
 * already answered their clients 451.
 *
 * DIAGNOSTICS
 * "mailgate filter ready" on stderr once serving. Exit 78 on a bad config or rule file at start, 71 when
 * the secret or the Aeron directory is unsafe, 0 after SIGTERM.
 */
package mailgate.filter;

import mailgate.ipc.ChallengeResponder;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.ipc.FileReloader;
import mailgate.ipc.ShutdownSignal;
import mailgate.ipc.codecs.Role;
import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdConfig;
import mailgate.reactor.SmtpdMain;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.SystemNanoClock;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs the content filter server.
 */
public final class FilterMain
{
    /** How long start-up waits for a media driver before saying ready anyway (and serving when one comes). */
    static final long READY_WAIT_MS = 15_000;

    private FilterMain()
    {
    }

    /**
     * @param args --config FILE, --set key=value.
     */
    public static void main(final String[] args)
    {
        final SmtpdConfig config;
        final FilterSettings settings;
        final AtomicReference<FilterRules> rules = new AtomicReference<>();
        final List<FilterStage> stages;
        try
        {
            final Map<String, String> overrides = new HashMap<>();
            config = SmtpdMain.parse(FilterSettings.extractOverrides(args, overrides));
            settings = FilterSettings.from(config, overrides);
            rules.set(null == settings.rules() ? FilterRules.defaults() : FilterRules.load(settings.rules()));
            stages = loadStages(Thread.currentThread().getContextClassLoader());
        }
        catch (final ConfigException | java.util.ServiceConfigurationError ex)
        {
            System.err.println("mailgate filter: " + ex.getMessage());
            System.exit(SmtpdMain.EX_CONFIG);
            return;
        }
        final byte[] secret;
        final DriverConnection connection;
        try
        {
            secret = InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE)));
            connection = new DriverConnection(IpcChannels.secureAeronDir(config.aeronDir()), "mailgate filter")
                .start(FilterCounters.DRIVER_RECONNECTS, "filter media driver reconnects");
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate filter: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        final FilterCounters counters = FilterCounters.of(connection);
        final ScanPool pool = new ScanPool(settings.workers(), settings.queueCapacity(), settings.scanTimeoutMs(),
            rules::get, stages, new SpoolReference(settings.spoolRoot()), counters);
        final FilterAgent agent = new FilterAgent(connection, pool, new ChallengeResponder(new SecretMac(secret),
            Role.FILTER), counters, new SystemNanoClock());
        final Path rulesFile = settings.rules();
        final FileReloader reloader = new FileReloader("mailgate-filter-reload",
            () -> null == rulesFile ? 0 : FilterRules.lastModified(rulesFile),
            () ->
            {
                if (null != rulesFile)
                {
                    reload(rulesFile, rules, counters);
                }
            }).startWithSighup();
        final AgentRunner runner = new AgentRunner(
            new BackoffIdleStrategy(64, 16, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MILLISECONDS.toNanos(1)),
            (t) -> System.err.println("mailgate filter: " + t), null, agent);
        AgentRunner.startOnThread(runner);
        final boolean attached = connection.awaitAttached(READY_WAIT_MS);
        System.err.println("mailgate filter ready (pid " + ProcessHandle.current().pid() + ", " + rules.get() +
            ", " + settings + ", stages " + stages.stream().map(FilterStage::name).toList() +
            (attached ? "" : "; no media driver yet, serving once one runs") + ")");
        ShutdownSignal.await();
        reloader.close();
        runner.close();
        connection.close();
        System.exit(0);
    }

    /**
     * @param loader where to look.
     * @return every FilterStage registered with ServiceLoader.
     */
    public static List<FilterStage> loadStages(final ClassLoader loader)
    {
        final List<FilterStage> stages = new ArrayList<>();
        for (final FilterStage stage : ServiceLoader.load(FilterStage.class, loader))
        {
            stages.add(stage);
        }
        return stages;
    }

    private static void reload(
        final Path file, final AtomicReference<FilterRules> rules, final FilterCounters counters)
    {
        try
        {
            final FilterRules fresh = FilterRules.load(file);
            rules.set(fresh);
            counters.reloads.increment();
            System.err.println(Instant.now() + " mailgate filter: rules reloaded: " + fresh);
        }
        catch (final ConfigException ex)
        {
            counters.reloadFailures.increment();
            System.err.println(Instant.now() + " mailgate filter: reload refused, old rules stay: " +
                ex.getMessage());
        }
    }
}
