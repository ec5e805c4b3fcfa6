/*
 * SUMMARY
 * Entry point of the rate role ("bin/mailgate rate"): opens the host's counter file and runs the replicator
 * (ship our slots to peers, apply theirs, sweep expired keys) until SIGTERM.
 *
 * DESCRIPTION
 * smtpd processes count through RateLimiter on the same counter file; this process is the one consumer of
 * the dirty-key ring and the only one that talks to peers. Without peers it only sweeps.
 * With rate.embedded-driver = true it launches its own media driver in rate.aeron-dir (tests, single-role
 * hosts); otherwise it attaches to the host's driver: it waits for one at start, and when that driver dies it
 * stops the replicator before the dead client is closed and exits with 75 (EX_TEMPFAIL), so the supervisor
 * (or systemd) starts it again on the next driver. smtpd keeps counting into the shared file meanwhile;
 * peers only see this node's slots late.
 *
 * SECURITY
 * The counter file's directory must be 0700 and ours (RendezvousDirectory); the cluster key authenticates
 * packets (see RateReplicator). Replication traffic goes only to the endpoints in the config.
 *
 * DIAGNOSTICS
 * Exit 78 on a bad config, 71 when the counter file or the Aeron directory is unusable. Needs the Chronicle
 * JVM flags (docs/rate-limits.md) and Agrona's --add-exports java.base/jdk.internal.misc=ALL-UNNAMED.
 */
package mailgate.rate;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import mailgate.ipc.DriverConnection;
import mailgate.ipc.DriverLiveness;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.MediaDriverLauncher;
import mailgate.ipc.ShutdownSignal;
import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdMain;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.SystemEpochNanoClock;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs the rate tracker's replicator for one node.
 */
public final class RateMain
{
    /** Exit status when the host's media driver died (sysexits.h EX_TEMPFAIL): restart me. */
    public static final int EX_TEMPFAIL = 75;

    private RateMain()
    {
    }

    /**
     * @param args --config FILE (the rate config).
     */
    public static void main(final String[] args)
    {
        final RateConfig config;
        try
        {
            if (args.length != 2 || !"--config".equals(args[0]))
            {
                throw new ConfigException("usage: mailgate.rate.RateMain --config FILE");
            }
            config = RateConfig.load(Path.of(args[1]));
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate rate: " + ex.getMessage());
            System.exit(SmtpdMain.EX_CONFIG);
            return;
        }
        final long driverPid = config.embeddedDriver() ? 0 : awaitDriver(config.aeronDir());
        final Node node;
        try
        {
            node = Node.start(config);
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate rate: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        System.err.println("mailgate rate ready (pid " + ProcessHandle.current().pid() + ", node " +
            config.nodeId() + ", " + config.peers().size() + " peers, " + node.store + ")");
        if (!config.embeddedDriver())
        {
            watchDriver(config.aeronDir(), driverPid, node);
        }
        ShutdownSignal.await();
        node.close();
        System.exit(0);
    }

    private static long awaitDriver(final Path aeronDir)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        DriverLiveness liveness = DriverLiveness.of(aeronDir, DriverConnection.STALE_HEARTBEAT_MS);
        while (!liveness.isRunning() && System.nanoTime() - deadlineNs < 0)
        {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            liveness = DriverLiveness.of(aeronDir, DriverConnection.STALE_HEARTBEAT_MS);
        }
        return liveness.pid();
    }

    private static void watchDriver(final Path aeronDir, final long driverPid, final Node node)
    {
        final Thread watch = new Thread(() ->
        {
            while (true)
            {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
                final DriverLiveness liveness = DriverLiveness.of(aeronDir, DriverConnection.STALE_HEARTBEAT_MS);
                if (!liveness.isRunning() || liveness.pid() != driverPid)
                {
                    System.err.println("mailgate rate: media driver (pid " + driverPid + ") gone (" + liveness +
                        "); exiting to be restarted on the next driver");
                    node.close();
                    System.exit(EX_TEMPFAIL);
                }
            }
        }, "mailgate-rate-driver-watch");
        watch.setDaemon(true);
        watch.start();
    }

    /**
     * One running rate node: store, optional embedded driver, Aeron client and replicator.
     */
    public static final class Node implements AutoCloseable
    {
        private final RateStore store;
        private final MediaDriver driver;
        private final Aeron aeron;
        private final RateReplicator replicator;
        private final AgentRunner runner;

        private Node(
            final RateStore store,
            final MediaDriver driver,
            final Aeron aeron,
            final RateReplicator replicator,
            final AgentRunner runner)
        {
            this.store = store;
            this.driver = driver;
            this.aeron = aeron;
            this.replicator = replicator;
            this.runner = runner;
        }

        /**
         * Open the store, connect to (or launch) the driver and start the replicator on its own thread.
         *
         * @param config the rate config.
         * @return the node; close to stop.
         */
        public static Node start(final RateConfig config)
        {
            final RateStore store = RateStore.open(config.storeContext());
            MediaDriver driver = null;
            Aeron aeron = null;
            try
            {
                driver = config.embeddedDriver() ? MediaDriverLauncher.launch(config.aeronDir()) : null;
                final Path aeronDir = IpcChannels.secureAeronDir(config.aeronDir());
                aeron = Aeron.connect(new Aeron.Context()
                    .aeronDirectoryName(aeronDir.toString())
                    .errorHandler((t) -> System.err.println("mailgate rate: aeron: " + t)));
                final String listen = null == config.listen() ? "127.0.0.1:0" : config.listen();
                final byte[] key = null == config.clusterKey() ? new byte[32] : config.clusterKey();
                final RateReplicator replicator = new RateReplicator(aeron, store, listen, config.peers(), key,
                    config.coalesceUs(), config.streamId(), new SystemEpochNanoClock());
                // never spin (2 cores): park up to rate.idle-park-max-us when idle; lag gains at most that per hop
                final AgentRunner runner = new AgentRunner(
                    new BackoffIdleStrategy(16, 16, TimeUnit.MICROSECONDS.toNanos(10),
                        TimeUnit.MICROSECONDS.toNanos(config.idleParkMaxUs())),
                    (t) -> System.err.println("mailgate rate: " + t), null, replicator);
                AgentRunner.startOnThread(runner);
                return new Node(store, driver, aeron, replicator, runner);
            }
            catch (final RuntimeException ex)
            {
                CloseHelper.quietCloseAll(aeron, driver, store);
                throw ex;
            }
        }

        /**
         * @return the store.
         */
        public RateStore store()
        {
            return store;
        }

        /**
         * @return the replicator (counters).
         */
        public RateReplicator replicator()
        {
            return replicator;
        }

        /**
         * Stop the replicator, then the client, the driver (if ours) and the store.
         */
        public void close()
        {
            CloseHelper.closeAll(runner, aeron, driver, store);
        }
    }
}
