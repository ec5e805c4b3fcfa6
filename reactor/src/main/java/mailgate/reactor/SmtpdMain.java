/*
 * SUMMARY
 * Entry point of the SMTP daemon role: "mailgate run" with no argument listens on 127.0.0.1:2525 and
 * spools under ./var/spool, from the embedded defaults.
 *
 * DIAGNOSTICS
 * A bad option or config line exits with status 78 (EX_CONFIG) and "file:line: reason" on stderr; an
 * unusable spool or listen address exits with 71 (EX_OSERR). SIGTERM stops gracefully (exit 0). SIGHUP reloads
 * the TLS certificate and key and the AUTH password file (docs/tls.md).
 */
package mailgate.reactor;

import mailgate.ipc.InsecureDirectoryException;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.reactor.policy.AcceptAllPolicy;
import mailgate.reactor.policy.CompositePolicy;
import mailgate.reactor.policy.FilterPolicy;
import mailgate.reactor.policy.GatedPolicy;
import mailgate.reactor.policy.PolicyGate;
import mailgate.reactor.policy.PolicyGateProvider;
import mailgate.reactor.policy.SmtpPolicy;
import mailgate.reactor.policy.PolicyFactory;
import mailgate.reactor.policy.RouterPolicy;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs the SMTP daemon until SIGTERM.
 */
public final class SmtpdMain
{
    /** Exit status for configuration errors (sysexits.h EX_CONFIG). */
    public static final int EX_CONFIG = 78;
    /** Exit status for OS-level start-up failures (sysexits.h EX_OSERR). */
    public static final int EX_OSERR = 71;

    private SmtpdMain()
    {
    }

    /**
     * @param args --listen HOST:PORT, --spool DIR, --config FILE, --event-loops N, --profile NAME.
     */
    public static void main(final String[] args)
    {
        final SmtpdConfig config;
        try
        {
            config = parse(args);
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(EX_CONFIG);
            return;
        }
        final Smtpd smtpd;
        final java.util.List<java.util.function.BooleanSupplier> subsystemsProven = new java.util.concurrent.CopyOnWriteArrayList<>();
        try
        {
            smtpd = new Smtpd(config, policies(config, subsystemsProven));
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(EX_CONFIG);
            return;
        }
        catch (final InsecureDirectoryException | UncheckedIOException | IllegalStateException |
            io.aeron.exceptions.AeronException ex)
        {
            System.err.println("mailgate: " + ex.getMessage());
            System.exit(EX_OSERR);
            return;
        }
        final CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM/SIGINT: a graceful stop that ends in exit 0 (the JVM's default handler would exit 143)
        final sun.misc.SignalHandler stop = (signal) -> new Thread(() ->
        {
            smtpd.close();
            stopped.countDown();
        }, "mailgate-stop").start();
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("INT"), stop);
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), (signal) -> new Thread(smtpd::reload, "mailgate-reload").start());
        Runtime.getRuntime().addShutdownHook(new Thread(smtpd::close, "mailgate-shutdown"));
        awaitSubsystems(subsystemsProven);
        System.err.println("mailgate smtpd listening on " + Smtpd.describe(smtpd.boundAddress()) +
            (null != smtpd.tlsBoundAddress() ? " and " + Smtpd.describe(smtpd.tlsBoundAddress()) + " (implicit TLS)" : "") +
            " (pid " + ProcessHandle.current().pid() + ", spool " + smtpd.spool().root() + ", group commit by " +
            smtpd.spool().syncMethod() + ")");
        try
        {
            stopped.await();
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        System.exit(0);
    }

    /**
     * The policy seam as configured: accept-all, or the router over Aeron IPC.
     *
     * @param config settings.
     * @return a factory of per-loop policies.
     */
    static PolicyFactory policies(
        final SmtpdConfig config, final java.util.List<java.util.function.BooleanSupplier> created)
    {
        final PolicyFactory policies = ipcPolicies(config, created);
        final java.util.List<PolicyGate> gates = new java.util.ArrayList<>();
        for (final PolicyGateProvider provider : java.util.ServiceLoader.load(PolicyGateProvider.class))
        {
            final PolicyGate gate = provider.create(config);
            if (null != gate)
            {
                gates.add(gate);
            }
        }
        if (gates.isEmpty())
        {
            return policies;
        }
        return (loopId, counters) ->
        {
            SmtpPolicy policy = policies.newPolicy(loopId, counters);
            for (final PolicyGate gate : gates)
            {
                policy = new GatedPolicy(gate, policy);
            }
            return policy;
        };
    }

    private static PolicyFactory ipcPolicies(
        final SmtpdConfig config, final java.util.List<java.util.function.BooleanSupplier> created)
    {
        final boolean router = "aeron".equals(config.get(SmtpdConfig.ROUTER_MODE));
        final boolean filter = "aeron".equals(config.get(SmtpdConfig.FILTER_MODE));
        final AcceptAllPolicy acceptAll = new AcceptAllPolicy();
        if (!router && !filter)
        {
            return (loopId, counters) -> acceptAll;
        }
        final SecretMac mac = new SecretMac(InstallSecret.loadOrCreate(Path.of(config.<String>get(SmtpdConfig.SECRET_FILE))));
        // attaches now or whenever a driver runs, and again after every driver restart
        final DriverConnection connection =
            new DriverConnection(IpcChannels.secureAeronDir(config.aeronDir()), "mailgate smtpd").start(0, null);
        final boolean failOpen = "accept".equals(config.get(SmtpdConfig.FILTER_FAIL_MODE));
        return (loopId, counters) ->
        {
            final RouterPolicy routerPolicy = router ? new RouterPolicy(connection, mac, loopId, counters) : null;
            final FilterPolicy filterPolicy = filter ? new FilterPolicy(connection, mac, loopId, counters, failOpen) : null;
            if (null != routerPolicy)
            {
                created.add(routerPolicy::isProven);
            }
            if (null != filterPolicy)
            {
                created.add(filterPolicy::isProven);
            }
            return new CompositePolicy(null == routerPolicy ? acceptAll : routerPolicy,
                null == filterPolicy ? acceptAll : filterPolicy);
        };
    }

    /**
     * Hold the ready line until every loop has a proven router (bounded), so a fresh start does not answer
     * its first clients with 451; after the bound it goes on and answers 451 until the router shows up.
     */
    private static void awaitSubsystems(final java.util.List<java.util.function.BooleanSupplier> policies)
    {
        final long deadline = System.currentTimeMillis() + 15_000;
        while (!policies.isEmpty() && !policies.stream().allMatch(java.util.function.BooleanSupplier::getAsBoolean))
        {
            if (System.currentTimeMillis() > deadline)
            {
                System.err.println(
                    "mailgate smtpd: warning: no proven router or filter yet; they answer 451 until they are");
                return;
            }
            try
            {
                Thread.sleep(10);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Build the configuration: embedded defaults, then the config file, then command-line overrides.
     *
     * @param args command line.
     * @return the configuration.
     * @throws ConfigException on a bad option or config line.
     */
    public static SmtpdConfig parse(final String[] args)
    {
        final SmtpdConfig config = new SmtpdConfig();
        String configFile = null;
        final java.util.List<String[]> overrides = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            if ("run".equals(arg) && 0 == i)
            {
                continue;
            }
            if (i + 1 >= args.length)
            {
                throw new ConfigException("option " + arg + " needs a value (see --help in README)");
            }
            final String value = args[++i];
            switch (arg)
            {
                case "--config":
                    configFile = value;
                    break;
                case "--listen":
                    overrides.add(new String[]{SmtpdConfig.LISTEN, value});
                    break;
                case "--spool":
                    overrides.add(new String[]{SmtpdConfig.SPOOL, value});
                    break;
                case "--event-loops":
                    overrides.add(new String[]{SmtpdConfig.EVENT_LOOPS, value});
                    break;
                case "--profile":
                    overrides.add(new String[]{SmtpdConfig.IDLE_STRATEGY, profileIdleStrategy(value)});
                    break;
                case "--set":
                    final int eq = value.indexOf('=');
                    if (eq <= 0)
                    {
                        throw new ConfigException("--set " + value + ": expected KEY=VALUE");
                    }
                    overrides.add(new String[]{value.substring(0, eq).strip(), value.substring(eq + 1).strip()});
                    break;
                default:
                    throw new ConfigException("unknown option " + arg +
                        " (options: --listen HOST:PORT, --spool DIR, --config FILE, --event-loops N, --profile P, --set KEY=VALUE)");
            }
        }
        if (null != configFile)
        {
            config.load(Path.of(configFile));
        }
        for (final String[] override : overrides)
        {
            config.set(override[0], override[1], "command line: ");
        }
        return config;
    }

    private static String profileIdleStrategy(final String profile)
    {
        switch (profile)
        {
            case "throughput":
                return "backoff";
            case "latency":
                return "busy-spin";
            case "low-cpu":
                return "sleeping";
            default:
                throw new ConfigException("--profile " + profile + ": expected throughput, latency or low-cpu");
        }
    }
}
