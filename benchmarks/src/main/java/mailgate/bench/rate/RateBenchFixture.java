package mailgate.bench.rate;

import mailgate.rate.RateDimension;
import mailgate.rate.RateLimiter;
import mailgate.rate.RatePolicy;
import mailgate.rate.RatePolicyFile;
import mailgate.rate.RateStore;
import mailgate.rate.SlotDescriptor;
import mailgate.rate.Subject;
import org.agrona.concurrent.HighResolutionClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A counter file in a fresh 0700 directory under /dev/shm, opened as node 0 with dirty tracking and the
 * in-flight budget on (as in a cluster), and a limiter on it. Limits are high, so every call is counted and
 * accepted (the common path).
 */
final class RateBenchFixture implements AutoCloseable
{
    /** Chronicle Map's flags (subsystems/pom.xml mailgate.chronicle.flags) plus Agrona's. */
    static final String CHRONICLE_FLAGS_1 = "--add-opens=java.base/java.lang=ALL-UNNAMED";
    static final String CHRONICLE_FLAGS_2 = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED";
    static final String CHRONICLE_FLAGS_3 = "--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED";
    static final String CHRONICLE_FLAGS_4 = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";
    static final String CHRONICLE_FLAGS_5 = "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED";
    static final String AGRONA_FLAG = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    /** No Chronicle usage analytics (RateStore also sets this property itself). */
    static final String NO_ANALYTICS = "-Dchronicle.analytics.disable=true";

    /** 10,000 distinct client addresses (40 /24 networks). */
    static final int MANY_KEYS = 10_000;

    final Path dir;
    final RateStore store;
    final RateLimiter limiter;
    final String[] ips;

    /**
     * @param rules "one": messages per client-ip; "three": messages per client-ip, client-network and sender-domain
     *              plus an auth-failures penalty checked at MAIL.
     */
    RateBenchFixture(final String rules)
    {
        this(rules, true);
    }

    /**
     * @param rules  as above.
     * @param budget in-flight budget on: two live peers hold a slot of every key the hot path counts (so the
     *               estimate really runs over them), as in a three-node cluster.
     */
    RateBenchFixture(final String rules, final boolean budget)
    {
        final Path shm = Path.of("/dev/shm");
        final Path base = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        try
        {
            dir = Files.createTempDirectory(base, "mailgate-rate-bench-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        final List<String> lines = "one".equals(rules) ?
            List.of("messages client-ip 1000000000/1m 450 4.7.1 Too many messages") :
            List.of(
                "messages client-ip 1000000000/1m 450 4.7.1 Too many messages",
                "messages client-network 1000000000/1m 450 4.7.1 Too many messages",
                "messages sender-domain 1000000000/1h 450 4.7.1 Too many messages",
                "auth-failures client-ip 5/10m 535 5.7.8 Too many failed logins");
        final RatePolicy policy = RatePolicyFile.parse("bench-policy", lines);
        store = RateStore.open(new RateStore.Context()
            .mapFile(dir.resolve("rate/counters")).nodeId(0).maxEntries(50_000).dirtyTracking(true)
            .inflightBudget(budget));
        limiter = new RateLimiter(store, policy);
        ips = new String[MANY_KEYS];
        for (int i = 0; i < MANY_KEYS; i++)
        {
            ips[i] = "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255);
        }
        if (budget)
        {
            addPeers();
        }
    }

    /**
     * Nodes 1 and 2 wrote every key of the "192.0.2.1" path and of the 10,000 addresses (messages per client-ip,
     * 300/s) and are heard "for ever", so each counted call integrates two peers' rates.
     */
    private void addPeers()
    {
        final long nowUs = HighResolutionClock.epochMicros();
        final UnsafeBuffer slot = new UnsafeBuffer(new byte[SlotDescriptor.SLOT_LENGTH]);
        final ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        slot.putLong(SlotDescriptor.VERSION_OFFSET, nowUs << SlotDescriptor.VERSION_TIME_SHIFT, order);
        slot.putLong(SlotDescriptor.LAST_SECOND_OFFSET, nowUs / 1_000_000, order);
        slot.putFloat(SlotDescriptor.RATE_OFFSET, 300f, order);
        final Subject subject = new Subject();
        final byte[] key = new byte[Subject.KEY_LENGTH];
        for (int i = -1; i < MANY_KEYS; i++)
        {
            subject.clientIp(i < 0 ? "192.0.2.1" : ips[i]);
            subject.writeKey(RateDimension.MESSAGES, key);
            for (int node = 1; node <= 2; node++)
            {
                store.applyPeerSlot(key, node, slot, 0);
            }
        }
        for (int node = 1; node <= 2; node++)
        {
            store.peerHeard(node, Long.MAX_VALUE / 2, nowUs);
        }
    }

    public void close()
    {
        limiter.close();
        store.close();
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        catch (final IOException ex)
        {
            System.err.println("cannot clean " + dir + ": " + ex);
        }
    }
}
