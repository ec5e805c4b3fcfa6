package mailgate.rate;

import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The loopback fallback of {@link PartitionTest} (runs everywhere, no root): three rate nodes in this JVM on
 * 127.0.0.1. Node 2 is "cut off" by closing its rate node (replicator, Aeron client, media driver: its UDP port
 * goes dark both ways) while its local smtpd (a separate {@link RateStore} on the same counter file, as node 2)
 * keeps counting; it is "healed" by starting the node again on the same port and file.
 */
class PartitionLoopbackTest
{
    private static final int N = 100;
    private static final String KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
    private static final RatePolicy POLICY = RatePolicyFile.parse("policy", List.of(
        "messages client-ip " + N + "/1m 450 4.7.1 Too many messages, slow down"));

    private Path dir;
    private final int[] ports = new int[3];
    private final RateMain.Node[] nodes = new RateMain.Node[3];
    private final RateStore[] smtpdStores = new RateStore[3];
    private final RateLimiter[] limiters = new RateLimiter[3];

    @BeforeEach
    void setUp()
    {
        dir = RateTestSupport.newShmDir("partition-loopback");
        for (int i = 0; i < 3; i++)
        {
            ports[i] = RateTestSupport.freeUdpPort();
            mailgate.ipc.RendezvousDirectory.ensure(dir.resolve("node" + i), "test node");
        }
    }

    @AfterEach
    void tearDown()
    {
        for (int i = 0; i < 3; i++)
        {
            CloseHelper.quietClose(smtpdStores[i]);
            CloseHelper.quietClose(nodes[i]);
        }
        RateTestSupport.delete(dir);
    }

    private RateConfig config(final int node)
    {
        final List<String> lines = new ArrayList<>(List.of(
            "rate.node-id = " + node,
            "rate.map-file = " + dir.resolve("node" + node + "/rate/counters"),
            "rate.max-entries = 10000",
            "rate.aeron-dir = " + dir.resolve("node" + node + "/aeron"),
            "rate.embedded-driver = true",
            "rate.listen = 127.0.0.1:" + ports[node],
            "rate.cluster-key = " + KEY_HEX));
        for (int peer = 0; peer < 3; peer++)
        {
            if (peer != node)
            {
                lines.add("rate.peer." + peer + " = 127.0.0.1:" + ports[peer]);
            }
        }
        return RateConfig.parse("node" + node + ".conf", lines);
    }

    private long total(final int node, final int dimension, final Subject s)
    {
        return smtpdStores[node].total(dimension, s, 60_000, System.currentTimeMillis());
    }

    private void awaitSame(final int dimension, final Subject s, final long expected, final int seconds)
    {
        await().atMost(Duration.ofSeconds(seconds)).pollInterval(Duration.ofMillis(10)).until(() ->
            total(0, dimension, s) == expected && total(1, dimension, s) == expected &&
            total(2, dimension, s) == expected);
    }

    private int send(final String ip, final int ratePerSecond, final int events, final int[] acceptedPerNode)
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
            if (null == limiters[i % 3].onMailFrom(ip, "example.com", System.currentTimeMillis()))
            {
                acceptedPerNode[i % 3]++;
            }
        }
        return events;
    }

    private static int sum(final int[] a)
    {
        return a[0] + a[1] + a[2];
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void closedNodeLeaksThenConvergesAfterRestart()
    {
        for (int i = 0; i < 3; i++)
        {
            nodes[i] = RateMain.Node.start(config(i));
            smtpdStores[i] = RateStore.open(config(i).storeContext());
            limiters[i] = new RateLimiter(smtpdStores[i], POLICY);
        }
        final Subject probe = new Subject();
        probe.clientIp("192.0.2.201");
        for (int i = 0; i < 3; i++)
        {
            smtpdStores[i].add(RateDimension.PROTOCOL_ERRORS, probe, 1, System.currentTimeMillis());
        }
        awaitSame(RateDimension.PROTOCOL_ERRORS, probe, 3, 30);

        final String client = "198.51.100.78";
        final Subject subject = new Subject();
        subject.clientIp(client);
        final int[] before = new int[3];
        final int[] during = new int[3];
        final int[] after = new int[3];
        int attempts = send(client, 100, 30, before);
        awaitSame(RateDimension.MESSAGES, subject, attempts, 10);

        // cut: node 2's replicator and driver go away; its smtpd keeps counting into its file
        nodes[2].close();
        nodes[2] = null;
        final long cutAt = System.nanoTime();
        attempts += send(client, 50, 200, during);

        // heal: the rate role comes back on the same port and file
        nodes[2] = RateMain.Node.start(config(2));
        final long healAt = System.nanoTime();
        awaitSame(RateDimension.MESSAGES, subject, attempts, 30);
        final double convergeMs = (System.nanoTime() - healAt) / 1e6;
        attempts += send(client, 100, 30, after);
        awaitSame(RateDimension.MESSAGES, subject, attempts, 10);

        final int accepted = sum(before) + sum(during) + sum(after);
        System.out.printf("PartitionLoopbackTest node 2 replicator closed for %.1f s, N=%d/min, round-robin: " +
            "accepted before=%d during: node0=%d node1=%d node2=%d after=%d; total=%d leak above N=%d; converged " +
            "%.0f ms after restart (%d attempts)%n", (healAt - cutAt) / 1e9, N, sum(before), during[0], during[1],
            during[2], sum(after), accepted, accepted - N, convergeMs, attempts);
        assertEquals(0, sum(after), "after the heal every node refuses");
        assertTrue(accepted >= N && accepted < 2 * N, "accepted " + accepted);
    }
}
