/*
 * SUMMARY
 * The rate tracker's config file: this node, the counter file, the policy file, the cluster (members,
 * endpoints, key) and the replication settings. Format "name = value", '#' comments; see docs/rate-limits.md.
 *
 * SECURITY
 * The cluster key authenticates every replication packet (HMAC-SHA256): keep the file (or the key file it
 * names) readable by the mailgate user only. A key shorter than 16 bytes is refused.
 *
 * DIAGNOSTICS
 * A bad line stops with ConfigException("file:line: reason").
 */
package mailgate.rate;

import mailgate.ipc.IpcChannels;
import mailgate.reactor.ConfigException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Parsed rate tracker configuration.
 */
public final class RateConfig
{
    /** This node's id, 0 .. max-nodes-1. */
    public static final String NODE_ID = "rate.node-id";
    /** The counter file. */
    public static final String MAP_FILE = "rate.map-file";
    /** Keys the counter file holds (used when creating it). */
    public static final String MAX_ENTRIES = "rate.max-entries";
    /** Slots per value: the largest cluster. */
    public static final String MAX_NODES = "rate.max-nodes";
    /** The policy file (optional: no limits). */
    public static final String POLICY_FILE = "rate.policy-file";
    /** This node's replication endpoint host:port (UDP). */
    public static final String LISTEN = "rate.listen";
    /** Prefix of peer entries: rate.peer.ID = host:port. */
    public static final String PEER_PREFIX = "rate.peer.";
    /** The cluster key in hex. */
    public static final String CLUSTER_KEY = "rate.cluster-key";
    /** A file holding the cluster key in hex (instead of rate.cluster-key). */
    public static final String CLUSTER_KEY_FILE = "rate.cluster-key-file";
    /** How long a changed key may wait for others to share its packet. */
    public static final String COALESCE_US = "rate.replication-coalesce-us";
    /** The replaced fixed-interval setting: refused with a pointer to {@link #COALESCE_US}. */
    static final String OLD_INTERVAL_MS = "rate.replication-interval-ms";
    /** Longest park of the idle replicator (its wake-up latency, against CPU). */
    public static final String IDLE_PARK_MAX_US = "rate.idle-park-max-us";
    /** Budget peers' events still on the wire near a limit. */
    public static final String INFLIGHT_BUDGET = "rate.inflight-budget";
    /** Aeron directory of this host's media driver. */
    public static final String AERON_DIR = "rate.aeron-dir";
    /** Launch an embedded media driver instead of using the host's. */
    public static final String EMBEDDED_DRIVER = "rate.embedded-driver";
    /** Aeron stream id of replication. */
    public static final String STREAM_ID = "rate.stream-id";

    /** Default coalescing window. */
    public static final long COALESCE_US_DEFAULT = 100;
    /** Default longest idle park. */
    public static final long IDLE_PARK_MAX_US_DEFAULT = 250;
    /** Default stream id. */
    public static final int STREAM_ID_DEFAULT = 3001;

    private int nodeId;
    private Path mapFile = IpcChannels.defaultAeronDir().resolveSibling("rate").resolve("counters");
    private long maxEntries = 50_000;
    private int maxNodes = 8;
    private Path policyFile;
    private String listen;
    private final Map<Integer, String> peers = new TreeMap<>();
    private byte[] clusterKey;
    private long coalesceUs = COALESCE_US_DEFAULT;
    private long idleParkMaxUs = IDLE_PARK_MAX_US_DEFAULT;
    private boolean inflightBudget = true;
    private Path aeronDir = IpcChannels.defaultAeronDir();
    private boolean embeddedDriver;
    private int streamId = STREAM_ID_DEFAULT;

    /**
     * @param file the config file.
     * @return the config.
     * @throws ConfigException "file:line: reason".
     */
    public static RateConfig load(final Path file)
    {
        try
        {
            return parse(file.toString(), Files.readAllLines(file, StandardCharsets.UTF_8));
        }
        catch (final IOException ex)
        {
            throw new ConfigException(file + ": cannot read: " + ex.getMessage());
        }
    }

    /**
     * @param name  file name for messages.
     * @param lines the lines.
     * @return the config.
     */
    public static RateConfig parse(final String name, final List<String> lines)
    {
        final RateConfig c = new RateConfig();
        for (int i = 0; i < lines.size(); i++)
        {
            final String where = name + ":" + (i + 1);
            String line = lines.get(i);
            final int hash = line.indexOf('#');
            line = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (line.isEmpty())
            {
                continue;
            }
            final int eq = line.indexOf('=');
            if (eq <= 0)
            {
                throw new ConfigException(where + ": expected name = value");
            }
            final String key = line.substring(0, eq).strip();
            final String value = line.substring(eq + 1).strip();
            try
            {
                c.set(key, value, where);
            }
            catch (final NumberFormatException ex)
            {
                throw new ConfigException(where + ": " + key + ": not a number: " + value);
            }
        }
        c.conclude(name);
        return c;
    }

    private void set(final String key, final String value, final String where)
    {
        switch (key)
        {
            case NODE_ID -> nodeId = Integer.parseInt(value);
            case MAP_FILE -> mapFile = Path.of(value);
            case MAX_ENTRIES -> maxEntries = Long.parseLong(value);
            case MAX_NODES -> maxNodes = Integer.parseInt(value);
            case POLICY_FILE -> policyFile = value.isEmpty() ? null : Path.of(value);
            case LISTEN -> listen = endpoint(value, where);
            case CLUSTER_KEY -> clusterKey = hexKey(value, where);
            case CLUSTER_KEY_FILE ->
            {
                try
                {
                    clusterKey = hexKey(Files.readString(Path.of(value)).strip(), where);
                }
                catch (final IOException ex)
                {
                    throw new ConfigException(where + ": cannot read cluster key file " + value + ": " + ex);
                }
            }
            case COALESCE_US -> coalesceUs = longIn(value, 0, 1_000_000, where, key);
            case IDLE_PARK_MAX_US -> idleParkMaxUs = longIn(value, 10, 100_000, where, key);
            case INFLIGHT_BUDGET -> inflightBudget = onOff(value, where, key);
            case OLD_INTERVAL_MS -> throw new ConfigException(where + ": " + OLD_INTERVAL_MS + " was replaced by " +
                COALESCE_US + " (changed keys now ship at once, after at most that many microseconds)");
            case AERON_DIR -> aeronDir = Path.of(value);
            case EMBEDDED_DRIVER -> embeddedDriver = Boolean.parseBoolean(value);
            case STREAM_ID -> streamId = Integer.parseInt(value);
            default ->
            {
                if (key.startsWith(PEER_PREFIX))
                {
                    final int id = Integer.parseInt(key.substring(PEER_PREFIX.length()));
                    if (null != peers.put(id, endpoint(value, where)))
                    {
                        throw new ConfigException(where + ": peer " + id + " given twice");
                    }
                }
                else
                {
                    throw new ConfigException(where + ": unknown setting " + key);
                }
            }
        }
    }

    private static long longIn(final String value, final long min, final long max, final String where, final String key)
    {
        final long v = Long.parseLong(value);
        if (v < min || v > max)
        {
            throw new ConfigException(where + ": " + key + " must be " + min + ".." + max + ", got " + v);
        }
        return v;
    }

    private static boolean onOff(final String value, final String where, final String key)
    {
        return switch (value)
        {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new ConfigException(where + ": " + key + ": expected on or off, got '" + value + "'");
        };
    }

    private static String endpoint(final String value, final String where)
    {
        final int colon = value.lastIndexOf(':');
        if (colon <= 0 || colon == value.length() - 1 || !value.substring(colon + 1).chars().allMatch(Character::isDigit))
        {
            throw new ConfigException(where + ": expected host:port, got '" + value + "'");
        }
        return value;
    }

    private static byte[] hexKey(final String value, final String where)
    {
        final byte[] key;
        try
        {
            key = HexFormat.of().parseHex(value);
        }
        catch (final IllegalArgumentException ex)
        {
            throw new ConfigException(where + ": cluster key must be hex");
        }
        if (key.length < 16)
        {
            throw new ConfigException(where + ": cluster key must be at least 16 bytes (32 hex digits)");
        }
        return key;
    }

    private void conclude(final String name)
    {
        if (maxNodes < 1 || maxNodes > 64)
        {
            throw new ConfigException(name + ": " + MAX_NODES + " must be 1..64");
        }
        if (nodeId < 0 || nodeId >= maxNodes)
        {
            throw new ConfigException(name + ": " + NODE_ID + " must be 0.." + (maxNodes - 1));
        }
        for (final int id : peers.keySet())
        {
            if (id < 0 || id >= maxNodes || id == nodeId)
            {
                throw new ConfigException(name + ": peer id " + id + " must be 0.." + (maxNodes - 1) +
                    " and not this node's id");
            }
        }
        if (!peers.isEmpty() && (null == listen || null == clusterKey))
        {
            throw new ConfigException(name + ": a cluster needs " + LISTEN + " and " + CLUSTER_KEY + " (or " +
                CLUSTER_KEY_FILE + ")");
        }
    }

    /**
     * @return the store settings this config implies (dirty tracking on when there are peers).
     */
    public RateStore.Context storeContext()
    {
        return new RateStore.Context().mapFile(mapFile).nodeId(nodeId).maxNodes(maxNodes).maxEntries(maxEntries)
            .dirtyTracking(!peers.isEmpty()).inflightBudget(inflightBudget && !peers.isEmpty());
    }

    /**
     * @return this node's id.
     */
    public int nodeId()
    {
        return nodeId;
    }

    /**
     * @return the counter file.
     */
    public Path mapFile()
    {
        return mapFile;
    }

    /**
     * @return the policy file, or null.
     */
    public Path policyFile()
    {
        return policyFile;
    }

    /**
     * @return slots per value.
     */
    public int maxNodes()
    {
        return maxNodes;
    }

    /**
     * @return this node's endpoint, or null.
     */
    public String listen()
    {
        return listen;
    }

    /**
     * @return peer id to endpoint.
     */
    public Map<Integer, String> peers()
    {
        return peers;
    }

    /**
     * @return the cluster key.
     */
    public byte[] clusterKey()
    {
        return clusterKey;
    }

    /**
     * @return the coalescing window, microseconds.
     */
    public long coalesceUs()
    {
        return coalesceUs;
    }

    /**
     * @return the replicator's longest idle park, microseconds.
     */
    public long idleParkMaxUs()
    {
        return idleParkMaxUs;
    }

    /**
     * @return whether limits budget peers' events still on the wire.
     */
    public boolean inflightBudget()
    {
        return inflightBudget;
    }

    /**
     * @return the Aeron directory.
     */
    public Path aeronDir()
    {
        return aeronDir;
    }

    /**
     * @return whether to launch an embedded driver.
     */
    public boolean embeddedDriver()
    {
        return embeddedDriver;
    }

    /**
     * @return the replication stream id.
     */
    public int streamId()
    {
        return streamId;
    }
}
