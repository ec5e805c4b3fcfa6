package mailgate.rate;

import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Partition test: three rate nodes ({@code RateMain}) as separate JVMs, each in its own network namespace, joined
 * by veth pairs to a bridge in a fourth namespace. All four namespaces and the veths are created here and removed
 * in {@link #tearDown()}; nothing is added to or changed in the host's own namespace (the veths are created inside
 * the bridge namespace and their node ends moved straight into the node namespaces).
 * <p>
 * Events are driven the way a local smtpd feeds its node: this JVM opens each node's counter file (on /dev/shm,
 * which {@code ip netns exec} does not hide) as that node and counts through a {@link RateLimiter}. The client
 * spreads MAIL FROM round-robin over the three nodes. Node 2's veth is cut (set down on the bridge side) for
 * longer than Aeron's connection timeouts, sending goes on, the link is healed, and the counts must converge on
 * every node while no node process exits.
 * <p>
 * Needs root and a working {@code ip netns add}; skipped otherwise (ReplicationTest covers loopback).
 */
class PartitionTest
{
    private static final int N = 100;
    private static final int NODES = 3;
    private static final int PORT = 40301;
    private static final String NET = "10.213.7.";
    private static final String KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private static final RatePolicy POLICY = RatePolicyFile.parse("policy", List.of(
        "messages client-ip " + N + "/1m 450 4.7.1 Too many messages, slow down"));

    private static RateNetns net;
    private static final Process[] PROCESSES = new Process[NODES];
    private static final File[] OUTPUTS = new File[NODES];
    private static final RateStore[] STORES = new RateStore[NODES];
    private static final RateLimiter[] LIMITERS = new RateLimiter[NODES];
    private static Path dir;

    @BeforeAll
    static void setUp() throws Exception
    {
        net = RateNetns.createOrNull("p", NET, NODES);
        Assumptions.assumeTrue(null != net, "needs root and a working ip netns add");

        dir = RateTestSupport.newShmDir("partition");
        for (int i = 0; i < NODES; i++)
        {
            mailgate.ipc.RendezvousDirectory.ensure(dir.resolve("node" + i), "test node");
            final Path conf = dir.resolve("node" + i + ".conf");
            Files.write(conf, configLines(i));
            final List<String> cmd = new ArrayList<>(RateNetns.exec(net.nodeNs(i)));
            cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m"));
            cmd.addAll(List.of(RateTestSupport.JVM_FLAGS));
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), RateMain.class.getName(),
                "--config", conf.toString()));
            OUTPUTS[i] = dir.resolve("node" + i + ".out").toFile();
            PROCESSES[i] = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(OUTPUTS[i]).start();
        }
        for (int i = 0; i < NODES; i++)
        {
            final int node = i;
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).until(() ->
            {
                assertTrue(PROCESSES[node].isAlive(), () -> "node " + node + " exited: " + output(node));
                return output(node).contains("mailgate rate ready");
            });
            // this JVM plays node i's local smtpd: same file, same node id, dirty tracking on (peers configured)
            STORES[i] = RateStore.open(RateConfig.load(dir.resolve("node" + i + ".conf")).storeContext());
            LIMITERS[i] = new RateLimiter(STORES[i], POLICY);
        }
    }

    private static List<String> configLines(final int node)
    {
        final List<String> lines = new ArrayList<>(List.of(
            "rate.node-id = " + node,
            "rate.map-file = " + dir.resolve("node" + node + "/rate/counters"),
            "rate.max-entries = 10000",
            "rate.aeron-dir = " + dir.resolve("node" + node + "/aeron"),
            "rate.embedded-driver = true",
            "rate.listen = " + net.address(node) + ":" + PORT,
            "rate.cluster-key = " + KEY_HEX));
        for (int peer = 0; peer < NODES; peer++)
        {
            if (peer != node)
            {
                lines.add("rate.peer." + peer + " = " + net.address(peer) + ":" + PORT);
            }
        }
        return lines;
    }

    @AfterAll
    static void tearDown() throws Exception
    {
        for (int i = 0; i < NODES; i++)
        {
            CloseHelper.quietClose(LIMITERS[i]);
            LIMITERS[i] = null;
            STORES[i] = null;
        }
        for (int i = 0; i < NODES; i++)
        {
            if (null != PROCESSES[i])
            {
                PROCESSES[i].destroy(); // SIGTERM to the java process (ip netns exec execs it)
            }
        }
        for (int i = 0; i < NODES; i++)
        {
            if (null != PROCESSES[i] && !PROCESSES[i].waitFor(20, TimeUnit.SECONDS))
            {
                PROCESSES[i].destroyForcibly();
                PROCESSES[i].waitFor(10, TimeUnit.SECONDS);
            }
            PROCESSES[i] = null;
        }
        if (null != net)
        {
            net.close();
            net = null;
        }
        RateTestSupport.delete(dir);
    }

    private static String output(final int node)
    {
        try
        {
            return Files.readString(OUTPUTS[node].toPath(), StandardCharsets.UTF_8);
        }
        catch (final IOException ex)
        {
            return "(no output: " + ex + ")";
        }
    }

    private static long total(final int node, final int dimension, final Subject s)
    {
        return STORES[node].total(dimension, s, 60_000, System.currentTimeMillis());
    }

    private static void awaitSame(final int dimension, final Subject s, final long expected, final int seconds)
    {
        await().atMost(Duration.ofSeconds(seconds)).pollInterval(Duration.ofMillis(10)).until(() ->
        {
            for (int i = 0; i < NODES; i++)
            {
                if (total(i, dimension, s) != expected)
                {
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * Round-robin MAIL FROM over the nodes (only those in {@code nodes}), at a steady rate.
     *
     * @param acceptedPerNode incremented per accepted event.
     * @return attempts made.
     */
    private static int send(final String ip, final int ratePerSecond, final int events, final int[] acceptedPerNode)
    {
        final long spacingNs = 1_000_000_000L / ratePerSecond;
        final long start = System.nanoTime();
        for (int i = 0; i < events; i++)
        {
            final long due = start + i * spacingNs;
            long wait;
            while ((wait = due - System.nanoTime()) > 0)
            {
                LockSupport.parkNanos(Math.min(wait, 200_000));
            }
            final int node = i % NODES;
            if (null == LIMITERS[node].onMailFrom(ip, "example.com", System.currentTimeMillis()))
            {
                acceptedPerNode[node]++;
            }
        }
        return events;
    }

    private static int sum(final int[] a)
    {
        int s = 0;
        for (final int v : a)
        {
            s += v;
        }
        return s;
    }

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void cutNodeLeaksThenConvergesAfterHeal() throws Exception
    {
        // every link up: a probe counted on each node becomes visible on all three
        final Subject probe = new Subject();
        probe.clientIp("192.0.2.201");
        for (int i = 0; i < NODES; i++)
        {
            STORES[i].add(RateDimension.PROTOCOL_ERRORS, probe, 1, System.currentTimeMillis());
        }
        final long t0 = System.nanoTime();
        awaitSame(RateDimension.PROTOCOL_ERRORS, probe, NODES, 60);
        System.out.printf("PartitionTest cluster of 3 JVMs in namespaces %s{a,b,c} connected after %.0f ms%n",
            net.prefix(), (System.nanoTime() - t0) / 1e6);

        final String client = "198.51.100.77";
        final Subject subject = new Subject();
        subject.clientIp(client);
        final int[] before = new int[NODES];
        final int[] during = new int[NODES];
        final int[] after = new int[NODES];

        // 1. connected: 30 of N
        int attempts = send(client, 100, 30, before);
        assertEquals(30, sum(before));
        awaitSame(RateDimension.MESSAGES, subject, attempts, 10);

        // 2. cut node 2 off (its veth, bridge side) and keep sending round-robin for 8 s at 40/s: longer than
        //    Aeron's publication connection timeout (5 s), so the links really drop, not just lose packets
        final long cutAt = System.nanoTime();
        net.cut(2);
        attempts += send(client, 40, 320, during);
        final long[] viewAtEnd = new long[NODES];
        for (int i = 0; i < NODES; i++)
        {
            viewAtEnd[i] = total(i, RateDimension.MESSAGES, subject);
        }

        // 3. heal
        net.heal(2);
        final long healAt = System.nanoTime();
        awaitSame(RateDimension.MESSAGES, subject, attempts, 30);
        final double convergeMs = (System.nanoTime() - healAt) / 1e6;

        // 4. after the heal the limit holds everywhere again
        attempts += send(client, 100, 30, after);
        awaitSame(RateDimension.MESSAGES, subject, attempts, 10);

        final int accepted = sum(before) + sum(during) + sum(after);
        System.out.printf("PartitionTest partition of node 2 for %.1f s, limit N=%d/min, round-robin over 3 nodes:%n",
            (healAt - cutAt) / 1e9, N);
        System.out.printf("PartitionTest   accepted before cut=%d during cut: node0=%d node1=%d node2=%d " +
            "after heal=%d; total accepted=%d leak above N=%d (%.0f%% of N)%n", sum(before), during[0], during[1],
            during[2], sum(after), accepted, accepted - N, 100.0 * (accepted - N) / N);
        System.out.printf("PartitionTest   views at end of cut: node0=%d node1=%d node2=%d (true attempts %d)%n",
            viewAtEnd[0], viewAtEnd[1], viewAtEnd[2], attempts - 30);
        System.out.printf("PartitionTest   converged on all nodes (%d attempts) %.0f ms after heal%n", attempts,
            convergeMs);

        assertEquals(0, sum(after), "after the heal every node refuses");
        assertTrue(accepted >= N, "the limit never bites before N");
        // the cut node can let through at most what it had not seen: N minus its pre-cut view, so < 2N overall
        assertTrue(accepted < 2 * N, "leak is bounded by one node's unseen share: " + accepted);
        for (int i = 0; i < NODES; i++)
        {
            assertTrue(PROCESSES[i].isAlive(), "node " + i + " crashed: " + output(i));
        }
    }
}
