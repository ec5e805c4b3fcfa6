package mailgate.tools;

import mailgate.rate.RateDimension;
import mailgate.rate.RateStore;
import mailgate.rate.Subject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static mailgate.tools.InspectRun.list;
import static mailgate.tools.InspectRun.map;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class RatesInspectorTest
{
    @TempDir
    Path tmp;

    private static RateStore store(final Path file, final int node, final int maxNodes)
    {
        return RateStore.open(new RateStore.Context().mapFile(file).nodeId(node).maxNodes(maxNodes).maxEntries(1024));
    }

    private static Subject ip(final String literal)
    {
        final Subject s = new Subject();
        assertTrue(s.clientIp(literal));
        return s;
    }

    private static Subject domain(final String name)
    {
        final Subject s = new Subject();
        assertTrue(s.senderDomain(name));
        return s;
    }

    /**
     * Counts from node 0 and node 1: messages 192.0.2.7 = 5 + 3, messages example.com = 0 + 4,
     * messages 198.51.100.9 = 2 + 1, connections 192.0.2.7 = 1 + 0.
     */
    private Path populate() throws Exception
    {
        final Path dir = tmp.resolve("rate");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path file = dir.resolve("counters");
        final long now = System.currentTimeMillis();
        try (RateStore node0 = store(file, 0, 8))
        {
            node0.add(RateDimension.MESSAGES, ip("192.0.2.7"), 2, now - 2000);
            node0.add(RateDimension.MESSAGES, ip("192.0.2.7"), 3, now);
            node0.add(RateDimension.MESSAGES, ip("198.51.100.9"), 2, now);
            node0.add(RateDimension.CONNECTIONS, ip("192.0.2.7"), 1, now);
        }
        try (RateStore node1 = store(file, 1, 8))
        {
            node1.add(RateDimension.MESSAGES, ip("192.0.2.7"), 3, now);
            node1.add(RateDimension.MESSAGES, domain("example.com"), 4, now);
            node1.add(RateDimension.MESSAGES, ip("198.51.100.9"), 1, now);
            assertEquals(8, node1.total(RateDimension.MESSAGES, ip("192.0.2.7"), 60_000, now));
        }
        return file;
    }

    @Test
    void peersViewShowsReplicationHealth() throws Exception
    {
        final Path file = populate();
        final InspectRun noRing = InspectRun.of("rates", "--map-file", file.toString(), "--peers");
        assertEquals(1, noRing.exit, noRing.toString());
        assertTrue(noRing.err.contains("no replication ring"), noRing.toString());

        final long nowUs = System.currentTimeMillis() * 1000L;
        try (RateStore node0 = RateStore.open(new RateStore.Context().mapFile(file).nodeId(0).maxNodes(8)
            .maxEntries(1024).dirtyTracking(true)))
        {
            // what the replicator writes: node 1 heard 200 ms ago (sent 0.5 ms before), node 2 silent for 5 s
            node0.peerHeard(1, nowUs - 200_000, nowUs - 200_500);
            node0.peerHeard(2, nowUs - 5_000_000, nowUs - 5_001_000);
            node0.lagBoundUs(1_900);
        }
        final InspectRun json = InspectRun.of("rates", "--map-file", file.toString(), "--peers", "--json");
        assertEquals(0, json.exit, json.toString());
        assertEquals(1_900L, json.json().get("lagBoundUs"), json.toString());
        assertEquals(0L, json.json().get("ringOverflows"), json.toString());
        final List<Object> peers = list(json.json().get("peers"));
        assertEquals(2, peers.size(), json.toString());
        final Map<String, Object> one = map(peers.get(0));
        assertEquals(1L, one.get("node"));
        assertEquals(500L, one.get("sentToHeardUs"));
        assertTrue((Long)one.get("ageMs") >= 200 && (Long)one.get("ageMs") < 10_000, json.toString());
        assertEquals(Boolean.TRUE, one.get("up"), json.toString());
        final Map<String, Object> two = map(peers.get(1));
        assertEquals(2L, two.get("node"));
        assertEquals(Boolean.FALSE, two.get("up"), json.toString());

        final InspectRun text = InspectRun.of("rates", "--map-file", file.toString(), "--peers");
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("lag bound 1.90 ms"), text.toString());
        assertTrue(text.out.matches("(?s).*\\n\\s+1 .* up\\n.*"), text.toString());
        assertTrue(text.out.matches("(?s).*\\n\\s+2 .* DOWN\\n.*"), text.toString());
    }

    @Test
    void topKeysAndPerNodeSplit() throws Exception
    {
        final Path file = populate();

        final InspectRun top = InspectRun.of("rates", "--map-file", file.toString(), "--json");
        assertEquals(0, top.exit, top.toString());
        final Map<String, Object> json = top.json();
        assertEquals(8L, json.get("maxNodes"), top.toString());
        assertEquals(4L, json.get("keys"), top.toString());
        assertEquals(4L, json.get("active"), top.toString());
        assertEquals(60_000L, json.get("windowMs"));
        final List<Object> rows = list(json.get("top"));
        assertEquals(4, rows.size(), top.toString());
        assertRow(rows.get(0), "messages", "client-ip", "192.0.2.7", 8);
        final String hash = "sha256:" + sha256Hex("example.com").substring(0, 16);
        assertRow(rows.get(1), "messages", "sender-domain", hash, 4);
        assertEquals(sha256Hex("example.com").substring(0, 32), map(rows.get(1)).get("sha256Prefix"));
        assertRow(rows.get(2), "messages", "client-ip", "198.51.100.9", 3);
        assertRow(rows.get(3), "connections", "client-ip", "192.0.2.7", 1);

        final InspectRun limited = InspectRun.of(
            "rates", "--map-file", file.toString(), "--top", "2", "--dimension", "messages", "--window", "1h", "--json");
        assertEquals(0, limited.exit, limited.toString());
        final List<Object> two = list(limited.json().get("top"));
        assertEquals(2, two.size(), limited.toString());
        assertRow(two.get(0), "messages", "client-ip", "192.0.2.7", 8);
        assertEquals(3L, limited.json().get("active"));

        final InspectRun byIp = InspectRun.of("rates", "--map-file", file.toString(), "--subject", "192.0.2.7",
            "--dimension", "messages", "--json");
        assertEquals(0, byIp.exit, byIp.toString());
        final List<Object> ipKeys = list(byIp.json().get("keys"));
        assertEquals(1, ipKeys.size(), byIp.toString());
        assertEquals(8L, map(ipKeys.get(0)).get("total"));
        final List<Object> nodes = list(map(ipKeys.get(0)).get("nodes"));
        assertEquals(2, nodes.size(), byIp.toString());
        assertEquals(0L, map(nodes.get(0)).get("node"));
        assertEquals(5L, map(nodes.get(0)).get("total"));
        assertEquals(1L, map(nodes.get(1)).get("node"));
        assertEquals(3L, map(nodes.get(1)).get("total"));
        long bucketSum = 0;
        for (final Object second : list(map(nodes.get(0)).get("seconds")))
        {
            bucketSum += (Long)map(second).get("count");
        }
        assertEquals(5, bucketSum, byIp.toString());
        assertEquals(2, list(map(nodes.get(0)).get("seconds")).size(), byIp.toString());

        final InspectRun allDims = InspectRun.of("rates", "--map-file", file.toString(), "--subject", "192.0.2.7",
            "--json");
        assertEquals(2, list(allDims.json().get("keys")).size(), allDims.toString());

        final InspectRun byDomain = InspectRun.of("rates", "--map-file", file.toString(), "--subject", "Example.COM",
            "--json");
        assertEquals(0, byDomain.exit, byDomain.toString());
        final List<Object> domainKeys = list(byDomain.json().get("keys"));
        assertEquals(1, domainKeys.size(), byDomain.toString());
        final Map<String, Object> domainKey = map(domainKeys.get(0));
        assertEquals("sender-domain", domainKey.get("type"));
        assertEquals("Example.COM", domainKey.get("subject"));
        assertEquals(4L, domainKey.get("total"));
        final List<Object> domainNodes = list(domainKey.get("nodes"));
        assertEquals(1, domainNodes.size(), byDomain.toString());
        assertEquals(1L, map(domainNodes.get(0)).get("node"));
        assertEquals(4L, map(domainNodes.get(0)).get("total"));

        final InspectRun absent = InspectRun.of("rates", "--map-file", file.toString(), "--subject", "203.0.113.1",
            "--json");
        assertEquals(0, absent.exit, absent.toString());
        assertTrue(list(absent.json().get("keys")).isEmpty(), absent.toString());

        final InspectRun text = InspectRun.of("rates", "--map-file", file.toString());
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("192.0.2.7") && text.out.contains(hash), text.toString());
        final InspectRun subjectText = InspectRun.of("rates", "--map-file", file.toString(), "--subject", "192.0.2.7");
        assertEquals(0, subjectText.exit, subjectText.toString());
        assertTrue(subjectText.out.contains("messages client-ip 192.0.2.7: 8 over 1m"), subjectText.toString());
    }

    @Test
    void slotCountComesFromTheFileOrTheConfig() throws Exception
    {
        final Path dir = tmp.resolve("four");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path file = dir.resolve("counters");
        try (RateStore node3 = store(file, 3, 4))
        {
            node3.add(RateDimension.BYTES, ip("2001:db8::1"), 1000, System.currentTimeMillis());
        }
        final InspectRun run = InspectRun.of("rates", "--map-file", file.toString(), "--json");
        assertEquals(0, run.exit, run.toString());
        assertEquals(4L, run.json().get("maxNodes"));
        assertRow(list(run.json().get("top")).get(0), "bytes", "client-ip", "2001:db8:0:0:0:0:0:1", 1000);

        final Path config = tmp.resolve("rate.conf");
        Files.writeString(config, "rate.map-file = " + file + "\nrate.max-nodes = 4\nrate.node-id = 1\n");
        final InspectRun viaConfig = InspectRun.of("rates", "--config", config.toString(), "--subject",
            "2001:db8::1", "--json");
        assertEquals(0, viaConfig.exit, viaConfig.toString());
        final Map<String, Object> key = map(list(viaConfig.json().get("keys")).get(0));
        assertEquals(3L, map(list(key.get("nodes")).get(0)).get("node"));
    }

    @Test
    void errors()
    {
        final Path missing = tmp.resolve("nope").resolve("counters");
        final InspectRun run = InspectRun.of("rates", "--map-file", missing.toString());
        assertEquals(1, run.exit, run.toString());
        assertTrue(run.err.contains("no counter file"), run.toString());
        assertFalse(Files.exists(missing.getParent()), "must not create anything");

        final InspectRun noConfig = InspectRun.of("rates", "--config", tmp.resolve("absent.conf").toString());
        assertEquals(1, noConfig.exit, noConfig.toString());

        assertEquals(2, InspectRun.of("rates", "--window", "2h").exit);
        assertEquals(2, InspectRun.of("rates", "--dimension", "nonsense").exit);
        assertEquals(2, InspectRun.of("rates", "--map-file", "x", "--config", "y").exit);
    }

    @Test
    void unreadableFile() throws Exception
    {
        final Path dir = tmp.resolve("bad");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        final Path file = dir.resolve("counters");
        Files.write(file, "not a chronicle map".getBytes(StandardCharsets.US_ASCII));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        final InspectRun run = InspectRun.of("rates", "--map-file", file.toString());
        assertEquals(1, run.exit, run.toString());
        assertTrue(run.err.contains("rates:"), run.toString());
    }

    private static void assertRow(
        final Object row, final String dimension, final String type, final String subject, final long total)
    {
        final Map<String, Object> m = map(row);
        assertEquals(dimension, m.get("dimension"), m.toString());
        assertEquals(type, m.get("type"), m.toString());
        assertEquals(subject, m.get("subject"), m.toString());
        assertEquals(total, m.get("total"), m.toString());
    }

    private static String sha256Hex(final String name) throws Exception
    {
        return HexFormat.of().formatHex(
            MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.US_ASCII)));
    }
}
