/*
 * SUMMARY
 * The host's rate counters: a Chronicle Map persisted to a memory-mapped file that every local mailgate
 * process opens (create-or-open), keyed by (dimension, subject), valued by per-node sliding-window buckets.
 *
 * DESCRIPTION
 * Each value holds one slot per cluster node (see {@link SlotDescriptor}); this host writes only its own
 * node's slot, the replicator replaces peers' slots with what they ship. A total is the sum over all slots of
 * the live buckets in the window. Every update runs inside a Chronicle query context under the entry's update
 * lock (read, change, replaceValue), so increments from many processes are exact. The known-lossy pattern
 * (acquireUsing a native reference, then addAtomicValue outside a context) is not used.
 *
 * When dirty tracking is on (a cluster is configured), the first change to the local slot of a key since it
 * was last shipped puts the key on a many-to-one ring buffer in a second mapped file (MAPFILE.dirty), which
 * the replicator (one process per host) drains; if that ring is full the write is counted as an overflow and
 * the replicator falls back to a full scan.
 *
 * In-flight budget (cluster only): a total read here misses the peers' events still on the wire. When the
 * budget is on, add() also estimates them. Per peer: its rate (shipped in its slot; decayed with a 20 ms time
 * constant) over the time since its last write we hold (the version is the write time), less the time we know
 * it wrote nothing more: its packets arrive in order, so what it wrote before the send time of the last packet
 * the replicator heard from it (heartbeats included; both times on the peer's clock) is here. The rate decays
 * over that time, so a burst that ended is not assumed to go on. A steady stream counts rate x age; a key the
 * peer stopped writing counts nothing once the link has brought later packets, so a lone busy node gets the
 * whole limit; during a stall or a cut the peer counts at most its last 20 ms of events, and after 1 s without
 * a packet it is down and only the slot we hold counts. Only the "down" test compares the two nodes' clocks.
 *
 * SECURITY
 * The map's directory is checked with RendezvousDirectory (0700, owned by us, not a symlink); the map,
 * ring and lock files are made 0600. Anyone who can write them can forge counts.
 *
 * LIMITS
 * The entry count is fixed at creation (maxEntries, from config); when full, adds of new keys are refused
 * (counted, and treated as "no limit known": fail open). Expired entries are removed by sweep(). A file made
 * with another maxNodes is refused (its name records the layout). Needs the Chronicle JVM flags (see
 * docs/rate-limits.md) in every process that opens it.
 */
package mailgate.rate;

import mailgate.ipc.RendezvousDirectory;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ChronicleMapBuilder;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;
import org.agrona.IoUtil;
import org.agrona.concurrent.HighResolutionClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static mailgate.rate.SlotDescriptor.*;

/**
 * Shared, exact, sliding-window counters on a memory-mapped Chronicle Map. Thread-safe.
 */
public final class RateStore implements AutoCloseable
{
    /** applyPeerSlot: the slot was newer and replaced ours. */
    public static final int APPLIED = 0;
    /** applyPeerSlot: we already had this version or a newer one. */
    public static final int STALE = 1;
    /** applyPeerSlot / add: the map is full. */
    public static final int FULL = 2;

    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    private static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    private static final Object OPEN_LOCK = new Object();
    private static final int DIRTY_MSG_TYPE = 1;
    /**
     * After the ring, metadata: overflow count at 0, the replicator's measured lag bound (us) at 8, then per
     * node id (up to 64, 8 bytes each) when the replicator last heard from it (our clock, epoch us) and when
     * that packet was sent (its clock).
     */
    private static final int OVERFLOWS_META_OFFSET = 0;
    private static final int LAG_BOUND_META_OFFSET = 8;
    private static final int HEARD_META_OFFSET = 64;
    private static final int HEARD_SENT_META_OFFSET = HEARD_META_OFFSET + 8 * 64;
    private static final int META_LENGTH = HEARD_SENT_META_OFFSET + 8 * 64;
    /** A write this long before a packet's send time may still have missed it (drained after the packet). */
    static final long SHIP_SLACK_US = 1_000;
    /** A peer not heard from at all for this long is down: only what we hold of it counts. */
    public static final long PEER_DOWN_US = 1_000_000;

    static
    {
        // Chronicle (core 2026.x) otherwise sends usage analytics to www.google-analytics.com the first time a
        // map is built: a mail gateway must not phone home. Set before any Chronicle class initialises (this
        // class is the only user of Chronicle); -Dchronicle.analytics.disable=... on the command line wins.
        if (null == System.getProperty("chronicle.analytics.disable"))
        {
            System.setProperty("chronicle.analytics.disable", "true");
        }
    }

    /**
     * Settings for opening a store.
     */
    public static final class Context
    {
        private Path mapFile;
        private int nodeId;
        private int maxNodes = 8;
        private long maxEntries = 50_000;
        private boolean dirtyTracking;
        private boolean inflightBudget;
        private int dirtyRingCapacity = 1 << 20;

        /**
         * @param mapFile the counter file; its directory is checked (or created) 0700.
         * @return this.
         */
        public Context mapFile(final Path mapFile)
        {
            this.mapFile = mapFile;
            return this;
        }

        /**
         * @param nodeId this host's node id, 0 .. maxNodes-1.
         * @return this.
         */
        public Context nodeId(final int nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /**
         * @param maxNodes slots per value (cluster size limit); part of the file layout.
         * @return this.
         */
        public Context maxNodes(final int maxNodes)
        {
            this.maxNodes = maxNodes;
            return this;
        }

        /**
         * @param maxEntries how many (dimension, subject) keys the file holds; used only when creating it.
         * @return this.
         */
        public Context maxEntries(final long maxEntries)
        {
            this.maxEntries = maxEntries;
            return this;
        }

        /**
         * @param dirtyTracking queue changed keys for the replicator (on when a cluster is configured).
         * @return this.
         */
        public Context dirtyTracking(final boolean dirtyTracking)
        {
            this.dirtyTracking = dirtyTracking;
            return this;
        }

        /**
         * @param inflightBudget estimate peers' events still on the wire in {@link #lastUnseen()} (needs dirty
         *                       tracking: the replicator stamps each peer's last packet in the ring file).
         * @return this.
         */
        public Context inflightBudget(final boolean inflightBudget)
        {
            this.inflightBudget = inflightBudget;
            return this;
        }

        /**
         * @param bytes capacity of the dirty-key ring, a power of two (each key takes 32 bytes).
         * @return this.
         */
        public Context dirtyRingCapacity(final int bytes)
        {
            this.dirtyRingCapacity = bytes;
            return this;
        }

        void conclude()
        {
            if (null == mapFile)
            {
                throw new IllegalArgumentException("rate store: no map file");
            }
            if (maxNodes < 1 || maxNodes > 64)
            {
                throw new IllegalArgumentException("rate store: maxNodes " + maxNodes + " not in 1..64");
            }
            if (nodeId < 0 || nodeId >= maxNodes)
            {
                throw new IllegalArgumentException("rate store: node id " + nodeId + " not in 0.." + (maxNodes - 1));
            }
            if (maxEntries < 16)
            {
                throw new IllegalArgumentException("rate store: maxEntries " + maxEntries + " too small");
            }
            if (Integer.bitCount(dirtyRingCapacity) != 1)
            {
                throw new IllegalArgumentException("rate store: dirty ring capacity must be a power of two");
            }
        }
    }

    /**
     * Receives dirty keys drained from the ring.
     */
    @FunctionalInterface
    public interface DirtyKeyHandler
    {
        /**
         * @param key a 24-byte key (the array is reused: copy it to keep it).
         */
        void onDirtyKey(byte[] key);
    }

    private final ChronicleMap<byte[], byte[]> map;
    private final Path mapFile;
    private final int nodeId;
    private final int maxNodes;
    private final int valueLength;
    private final int localSlotOffset;
    private final ThreadLocal<Scratch> scratch;
    private final ManyToOneRingBuffer dirtyRing;
    private final MappedByteBuffer dirtyMapped;
    private final UnsafeBuffer dirtyMeta;
    private final boolean inflightBudget;
    private final AtomicLong mapFullCount = new AtomicLong();

    private static final class Scratch
    {
        final byte[] key = new byte[Subject.KEY_LENGTH];
        final byte[] ringKey = new byte[Subject.KEY_LENGTH];
        final byte[] value;
        final UnsafeBuffer buffer;
        long unseen;

        Scratch(final int valueLength)
        {
            value = new byte[valueLength];
            buffer = new UnsafeBuffer(value);
        }
    }

    private RateStore(final Context ctx, final ChronicleMap<byte[], byte[]> map, final MappedByteBuffer dirtyMapped)
    {
        this.map = map;
        this.mapFile = ctx.mapFile;
        this.nodeId = ctx.nodeId;
        this.maxNodes = ctx.maxNodes;
        this.valueLength = ctx.maxNodes * SLOT_LENGTH;
        this.localSlotOffset = ctx.nodeId * SLOT_LENGTH;
        this.scratch = ThreadLocal.withInitial(() -> new Scratch(valueLength));
        this.dirtyMapped = dirtyMapped;
        this.inflightBudget = ctx.inflightBudget && null != dirtyMapped;
        if (null != dirtyMapped)
        {
            final int ringLength = ctx.dirtyRingCapacity + RingBufferDescriptor.TRAILER_LENGTH;
            dirtyRing = new ManyToOneRingBuffer(new UnsafeBuffer(dirtyMapped, 0, ringLength));
            dirtyMeta = new UnsafeBuffer(dirtyMapped, ringLength, META_LENGTH);
        }
        else
        {
            dirtyRing = null;
            dirtyMeta = null;
        }
    }

    /**
     * Create the counter file or open the existing one.
     *
     * @param ctx settings.
     * @return the store; close it when done (the file stays).
     * @throws IllegalStateException when the file cannot be opened or has another layout.
     */
    public static RateStore open(final Context ctx)
    {
        ctx.conclude();
        final Path file = ctx.mapFile.toAbsolutePath().normalize();
        ctx.mapFile = file;
        RendezvousDirectory.ensure(file.getParent(), "rate");
        final String name = "mailgate-rate-v1-nodes" + ctx.maxNodes;
        final int valueLength = ctx.maxNodes * SLOT_LENGTH;
        synchronized (OPEN_LOCK)
        {
            final Path lockFile = file.resolveSibling(file.getFileName() + ".lock");
            try (FileChannel lockChannel = FileChannel.open(
                createPrivate(lockFile), java.nio.file.StandardOpenOption.WRITE);
                FileLock ignore = lockChannel.lock())
            {
                final boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
                if (existed)
                {
                    checkPrivate(file);
                }
                final ChronicleMap<byte[], byte[]> map = ChronicleMapBuilder.of(byte[].class, byte[].class)
                    .name(name)
                    .entries(ctx.maxEntries)
                    .constantKeySizeBySample(new byte[Subject.KEY_LENGTH])
                    .constantValueSizeBySample(new byte[valueLength])
                    .createPersistedTo(file.toFile());
                if (!existed)
                {
                    Files.setPosixFilePermissions(file, FILE_MODE);
                }
                checkLayout(map, file, valueLength, ctx.maxNodes);
                MappedByteBuffer dirty = null;
                if (ctx.dirtyTracking)
                {
                    dirty = mapDirtyRing(
                        file.resolveSibling(file.getFileName() + ".dirty"),
                        ctx.dirtyRingCapacity + RingBufferDescriptor.TRAILER_LENGTH + META_LENGTH);
                }
                return new RateStore(ctx, map, dirty);
            }
            catch (final IOException ex)
            {
                throw new IllegalStateException("rate store " + file + ": " + ex, ex);
            }
        }
    }

    /**
     * The all-zero key (dimension 0) holds a value of the file's value size; a file made for another
     * maxNodes has another size and is refused rather than misread.
     */
    private static void checkLayout(
        final ChronicleMap<byte[], byte[]> map, final Path file, final int valueLength, final int maxNodes)
    {
        final byte[] layoutKey = new byte[Subject.KEY_LENGTH];
        long size;
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(layoutKey))
        {
            c.updateLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                c.insert(c.absentEntry(), c.wrapValueAsData(new byte[valueLength]));
                size = valueLength;
            }
            else
            {
                size = entry.value().size();
            }
        }
        catch (final RuntimeException ex)
        {
            size = -1;
        }
        if (size != valueLength)
        {
            map.close();
            throw new IllegalStateException("rate store " + file + " was made with another layout (value size " +
                size + ", expected " + valueLength + " for rate.max-nodes " + maxNodes +
                "); move it away to start afresh");
        }
    }

    private static Path createPrivate(final Path file) throws IOException
    {
        try
        {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(FILE_MODE));
        }
        catch (final FileAlreadyExistsException ignore)
        {
            checkPrivate(file);
        }
        return file;
    }

    private static void checkPrivate(final Path file) throws IOException
    {
        if (Files.isSymbolicLink(file) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS))
        {
            throw new IOException(file + " is not a regular file");
        }
        final Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file, LinkOption.NOFOLLOW_LINKS);
        if (!FILE_MODE.containsAll(perms))
        {
            throw new IOException(file + " has mode " + PosixFilePermissions.toString(perms) + "; it must be rw-------");
        }
    }

    private static MappedByteBuffer mapDirtyRing(final Path file, final long length) throws IOException
    {
        createPrivate(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
        {
            if (raf.length() != length)
            {
                // a new file, or one made with another capacity: (re)size it; keys queued there are lost,
                // which the replicator's start-up full scan makes good
                raf.setLength(0);
                raf.setLength(length);
            }
            return raf.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, length);
        }
    }

    /**
     * @return this host's node id.
     */
    public int nodeId()
    {
        return nodeId;
    }

    /**
     * @return slots per value.
     */
    public int maxNodes()
    {
        return maxNodes;
    }

    /**
     * @return the counter file.
     */
    public Path mapFile()
    {
        return mapFile;
    }

    /**
     * @return counter keys in the map.
     */
    public long size()
    {
        return map.longSize() - 1;
    }

    /**
     * @return adds and applies refused because the map was full (this process).
     */
    public long mapFullCount()
    {
        return mapFullCount.get();
    }

    /**
     * Count n events now and return the new total over the last minute.
     *
     * @param dimension a {@link RateDimension} code.
     * @param subject   the subject (must be set).
     * @param n         how many (e.g. 1, or a byte count).
     * @param nowMs     epoch milliseconds.
     * @return the total over 60 s including this add, over all nodes; -1 when the map is full.
     */
    public long add(final int dimension, final Subject subject, final long n, final long nowMs)
    {
        return add(dimension, subject, n, 60_000L, nowMs);
    }

    /**
     * Count n events now and return the new total over the given window.
     *
     * @param dimension a {@link RateDimension} code.
     * @param subject   the subject (must be set).
     * @param n         how many.
     * @param windowMs  the window for the returned total, 1 ms .. 1 h.
     * @param nowMs     epoch milliseconds.
     * @return the total over the window including this add, over all nodes; -1 when the map is full.
     */
    public long add(final int dimension, final Subject subject, final long n, final long windowMs, final long nowMs)
    {
        final Scratch s = scratch.get();
        subject.writeKey(dimension, s.key);
        return addKey(s, n, windowMs, nowMs);
    }

    /**
     * Peers' events the last {@link #add} on this thread estimated to be still on the wire, in the add's units
     * (bytes for bytes), rounded down; 0 when the in-flight budget is off or every peer is quiet. A limit check
     * compares total + this with the limit.
     *
     * @return the estimate.
     */
    public long lastUnseen()
    {
        return scratch.get().unseen;
    }

    private long addKey(final Scratch s, final long n, final long windowMs, final long nowMs)
    {
        final UnsafeBuffer buffer = s.buffer;
        final long nowUs = HighResolutionClock.epochMicros();
        s.unseen = 0;
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(s.key))
        {
            c.updateLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                buffer.setMemory(0, valueLength, (byte)0);
            }
            else
            {
                readValue(entry, s);
            }
            final long nowSec = Math.floorDiv(nowMs, 1000L);
            addToSlot(buffer, localSlotOffset, n, nowSec, nowUs);
            markDirty(buffer, s.key);
            if (null == entry)
            {
                try
                {
                    c.insert(c.absentEntry(), c.wrapValueAsData(s.value));
                }
                catch (final IllegalStateException ex)
                {
                    mapFullCount.incrementAndGet();
                    return -1;
                }
            }
            else
            {
                c.replaceValue(entry, c.wrapValueAsData(s.value));
            }
            if (inflightBudget)
            {
                s.unseen = unseen(buffer, nowUs);
            }
            return sum(buffer, windowMs, nowMs);
        }
    }

    /**
     * Peers' events not yet seen here: per peer not down, its rate decaying since the slot's write, integrated
     * over the part of the slot's age after the send time of the last packet heard from it (less a slack).
     */
    private long unseen(final UnsafeBuffer b, final long nowUs)
    {
        double units = 0;
        for (int node = 0; node < maxNodes; node++)
        {
            final int slot = node * SLOT_LENGTH;
            final long version = b.getLong(slot + VERSION_OFFSET, ORDER);
            final double perSecond = b.getFloat(slot + RATE_OFFSET, ORDER);
            if (slot == localSlotOffset || version == 0 || !(perSecond > 0))
            {
                continue;
            }
            final long heardUs = dirtyMeta.getLongVolatile(HEARD_META_OFFSET + 8 * node);
            if (0 == heardUs || nowUs - heardUs > PEER_DOWN_US)
            {
                continue; // never heard, or down: only the slot we hold counts
            }
            // the peer's stream is in order: what it wrote before the last packet we heard was sent (less the
            // slack) is here, so it wrote nothing more to this key until then (both times on its clock);
            // unseen are its writes after that, at its rate decaying since the slot's write (a burst that
            // ended is not assumed to go on)
            final long writeUs = writeTimeUs(version);
            final long sentUs = dirtyMeta.getLongVolatile(HEARD_SENT_META_OFFSET + 8 * node);
            final double ageUs = Math.max(0, nowUs - writeUs);
            final double knownUs = Math.min(ageUs, Math.max(0, sentUs - SHIP_SLACK_US - writeUs));
            units += perSecond * RATE_TAU_US / 1e6 *
                (Math.exp(-knownUs / RATE_TAU_US) - Math.exp(-ageUs / RATE_TAU_US));
        }
        return (long)units;
    }

    /**
     * Publish the replication lag bound measured by the replicator (for inspection and reports).
     *
     * @param lagBoundUs microseconds.
     */
    public void lagBoundUs(final long lagBoundUs)
    {
        if (null != dirtyMeta)
        {
            dirtyMeta.putLongOrdered(LAG_BOUND_META_OFFSET, lagBoundUs);
        }
    }

    /**
     * Record that a packet from a peer arrived (the replicator; heartbeats keep an idle link heard).
     *
     * @param node    the peer.
     * @param heardUs when, epoch microseconds, our clock.
     * @param sentUs  when the peer sent it, epoch microseconds, its clock.
     */
    public void peerHeard(final int node, final long heardUs, final long sentUs)
    {
        if (null != dirtyMeta)
        {
            dirtyMeta.putLongOrdered(HEARD_SENT_META_OFFSET + 8 * node, sentUs);
            dirtyMeta.putLongOrdered(HEARD_META_OFFSET + 8 * node, heardUs);
        }
    }

    /**
     * @param node a peer.
     * @return when the replicator last heard from it, epoch microseconds (0: never).
     */
    public long peerHeardUs(final int node)
    {
        return null == dirtyMeta ? 0 : dirtyMeta.getLongVolatile(HEARD_META_OFFSET + 8 * node);
    }

    /**
     * @return the lag bound last published by the replicator, microseconds (0: none).
     */
    public long lagBoundUs()
    {
        return null == dirtyMeta ? 0 : dirtyMeta.getLongVolatile(LAG_BOUND_META_OFFSET);
    }

    /**
     * What the replicator last wrote beside the dirty-key ring, read without opening the map (inspection).
     *
     * @param lagBoundUs   replication lag bound it measured, microseconds (0: none yet).
     * @param ringOverflows changed keys that found the ring full (shipped by the next full scan instead).
     * @param heardUs      per node id: when a packet from it last arrived, epoch microseconds, our clock (0: never).
     * @param sentUs       per node id: when that packet was sent, epoch microseconds, the peer's clock.
     */
    public record ReplicationStatus(long lagBoundUs, long ringOverflows, long[] heardUs, long[] sentUs)
    {
    }

    /**
     * Read the replication metadata of a counter file from its MAPFILE.dirty sibling, read-only. The metadata
     * sits at the end of that file whatever ring capacity the daemon was configured with.
     *
     * @param mapFile the counter file.
     * @return the status, or null when there is no ring file (no cluster configured, or never started).
     * @throws IOException when the file cannot be read or is too short.
     */
    public static ReplicationStatus readReplicationStatus(final Path mapFile) throws IOException
    {
        final Path dirty = mapFile.resolveSibling(mapFile.getFileName() + ".dirty");
        if (!Files.isRegularFile(dirty, LinkOption.NOFOLLOW_LINKS))
        {
            return null;
        }
        try (FileChannel channel = FileChannel.open(dirty, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS))
        {
            final long size = channel.size();
            if (size < META_LENGTH + RingBufferDescriptor.TRAILER_LENGTH)
            {
                throw new IOException(dirty + ": " + size + " bytes, too short for a dirty-key ring");
            }
            final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, size - META_LENGTH, META_LENGTH);
            try
            {
                final UnsafeBuffer meta = new UnsafeBuffer(mapped);
                final long[] heard = new long[64];
                final long[] sent = new long[64];
                for (int node = 0; node < 64; node++)
                {
                    heard[node] = meta.getLongVolatile(HEARD_META_OFFSET + 8 * node);
                    sent[node] = meta.getLongVolatile(HEARD_SENT_META_OFFSET + 8 * node);
                }
                return new ReplicationStatus(meta.getLongVolatile(LAG_BOUND_META_OFFSET),
                    meta.getLongVolatile(OVERFLOWS_META_OFFSET), heard, sent);
            }
            finally
            {
                IoUtil.unmap(mapped);
            }
        }
    }

    /**
     * The total over a window.
     *
     * @param dimension a {@link RateDimension} code.
     * @param subject   the subject (must be set).
     * @param windowMs  1 ms .. 1 h: up to 60 s counted in whole seconds, above in whole minutes (rounded up).
     * @param nowMs     epoch milliseconds.
     * @return the total over all nodes; 0 when never counted.
     */
    public long total(final int dimension, final Subject subject, final long windowMs, final long nowMs)
    {
        final Scratch s = scratch.get();
        subject.writeKey(dimension, s.key);
        return totalKey(s.key, windowMs, nowMs);
    }

    /**
     * The total over a window for a raw key.
     *
     * @param key      a 24-byte key.
     * @param windowMs the window.
     * @param nowMs    epoch milliseconds.
     * @return the total over all nodes.
     */
    public long totalKey(final byte[] key, final long windowMs, final long nowMs)
    {
        final Scratch s = scratch.get();
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key))
        {
            c.readLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                return 0;
            }
            readValue(entry, s);
            return sum(s.buffer, windowMs, nowMs);
        }
    }

    /**
     * Copy this node's slot of a key, for shipping to peers.
     *
     * @param key        a 24-byte key.
     * @param dst        where to copy the slot ({@link SlotDescriptor#SLOT_LENGTH} bytes).
     * @param dstOffset  offset in dst.
     * @param clearDirty clear the dirty flag (the key will be queued again by the next change).
     * @return false when the key is gone or our slot was never written.
     */
    public boolean copyLocalSlot(
        final byte[] key, final org.agrona.MutableDirectBuffer dst, final int dstOffset, final boolean clearDirty)
    {
        final Scratch s = scratch.get();
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key))
        {
            c.updateLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                return false;
            }
            readValue(entry, s);
            final UnsafeBuffer buffer = s.buffer;
            if (clearDirty && buffer.getInt(localSlotOffset + DIRTY_OFFSET, ORDER) != 0)
            {
                buffer.putInt(localSlotOffset + DIRTY_OFFSET, 0, ORDER);
                c.replaceValue(entry, c.wrapValueAsData(s.value));
            }
            if (buffer.getLong(localSlotOffset + VERSION_OFFSET, ORDER) == 0)
            {
                return false;
            }
            dst.putBytes(dstOffset, buffer, localSlotOffset, SLOT_LENGTH);
            return true;
        }
    }

    /**
     * Read any node's slot of a key (for tests and inspection).
     *
     * @param key       a 24-byte key.
     * @param node      the node.
     * @param dst       where to copy the slot.
     * @param dstOffset offset in dst.
     * @return false when the key is absent.
     */
    public boolean readSlot(
        final byte[] key, final int node, final org.agrona.MutableDirectBuffer dst, final int dstOffset)
    {
        final Scratch s = scratch.get();
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key))
        {
            c.readLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                return false;
            }
            readValue(entry, s);
            dst.putBytes(dstOffset, s.buffer, node * SLOT_LENGTH, SLOT_LENGTH);
            return true;
        }
    }

    /**
     * Replace a peer's slot with the one received when it is newer (higher version). Idempotent and
     * order-insensitive: applying old or repeated slots changes nothing.
     *
     * @param key       a 24-byte key.
     * @param node      the peer's node id (not ours).
     * @param src       the slot bytes.
     * @param srcOffset offset in src.
     * @return {@link #APPLIED}, {@link #STALE} or {@link #FULL}.
     */
    public int applyPeerSlot(
        final byte[] key, final int node, final org.agrona.DirectBuffer src, final int srcOffset)
    {
        if (node == nodeId || node < 0 || node >= maxNodes)
        {
            throw new IllegalArgumentException("node " + node);
        }
        final Scratch s = scratch.get();
        final UnsafeBuffer buffer = s.buffer;
        final int slot = node * SLOT_LENGTH;
        final long version = src.getLong(srcOffset + VERSION_OFFSET, ORDER);
        try (ExternalMapQueryContext<byte[], byte[], ?> c = map.queryContext(key))
        {
            c.updateLock().lock();
            final MapEntry<byte[], byte[]> entry = c.entry();
            if (null == entry)
            {
                buffer.setMemory(0, valueLength, (byte)0);
            }
            else
            {
                readValue(entry, s);
                if (buffer.getLong(slot + VERSION_OFFSET, ORDER) >= version)
                {
                    return STALE;
                }
            }
            buffer.putBytes(slot, src, srcOffset, SLOT_LENGTH);
            buffer.putInt(slot + DIRTY_OFFSET, 0, ORDER);
            if (null == entry)
            {
                try
                {
                    c.insert(c.absentEntry(), c.wrapValueAsData(s.value));
                }
                catch (final IllegalStateException ex)
                {
                    mapFullCount.incrementAndGet();
                    return FULL;
                }
            }
            else
            {
                c.replaceValue(entry, c.wrapValueAsData(s.value));
            }
            return APPLIED;
        }
    }

    /**
     * Drain keys whose local slot changed (replicator only: one consumer per host).
     *
     * @param handler gets each key.
     * @param limit   at most this many.
     * @return keys drained.
     */
    public int pollDirtyKeys(final DirtyKeyHandler handler, final int limit)
    {
        if (null == dirtyRing)
        {
            return 0;
        }
        final byte[] key = scratch.get().ringKey;
        return dirtyRing.read((msgTypeId, buffer, index, length) ->
        {
            if (length == Subject.KEY_LENGTH)
            {
                buffer.getBytes(index, key, 0, Subject.KEY_LENGTH);
                handler.onDirtyKey(key);
            }
        }, limit);
    }

    /**
     * @return changed keys that did not fit on the dirty ring since the file was made (all processes).
     */
    public long dirtyOverflows()
    {
        return null == dirtyMeta ? 0 : dirtyMeta.getLongVolatile(OVERFLOWS_META_OFFSET);
    }

    /**
     * Visit every key (a full scan; cold path, allocates a copy of each key).
     *
     * @param consumer gets a fresh copy of each key; it must not touch the map (a segment lock is held).
     */
    public void forEachKey(final Consumer<byte[]> consumer)
    {
        map.forEachEntry((e) ->
        {
            // Chronicle reuses the array it hands out for the next entry: copy it, as the contract says
            final byte[] key = e.key().get();
            if (key[Subject.DIMENSION_OFFSET] != 0)
            {
                consumer.accept(key.clone());
            }
        });
    }

    /**
     * Remove keys none of whose slots has a live bucket (nothing within the last hour plus skew).
     *
     * @param nowMs epoch milliseconds.
     * @return keys removed.
     */
    public int sweep(final long nowMs)
    {
        final long nowSec = Math.floorDiv(nowMs, 1000L);
        final long oldestLive = nowSec - 3600 - 120;
        final byte[] value = new byte[valueLength];
        final UnsafeBuffer buffer = new UnsafeBuffer(value);
        final int[] removed = new int[1];
        final byte[] keyScratch = new byte[Subject.KEY_LENGTH];
        map.forEachEntry((e) ->
        {
            if (e.key().getUsing(keyScratch)[Subject.DIMENSION_OFFSET] == 0)
            {
                return; // the layout marker
            }
            final byte[] v = e.value().getUsing(value);
            if (v != value)
            {
                System.arraycopy(v, 0, value, 0, valueLength);
            }
            boolean live = false;
            for (int node = 0; node < maxNodes && !live; node++)
            {
                final int slot = node * SLOT_LENGTH;
                live = buffer.getLong(slot + VERSION_OFFSET, ORDER) != 0 &&
                    buffer.getLong(slot + LAST_SECOND_OFFSET, ORDER) >= oldestLive;
            }
            if (!live)
            {
                e.context().remove(e);
                removed[0]++;
            }
        });
        return removed[0];
    }

    /**
     * Close this process's view; the file stays for the others and for the next start.
     */
    public void close()
    {
        map.close();
        if (null != dirtyMapped)
        {
            IoUtil.unmap(dirtyMapped);
        }
    }

    public String toString()
    {
        return "RateStore{file=" + mapFile + ", node=" + nodeId + ", maxNodes=" + maxNodes + ", size=" + size() + "}";
    }

    private void readValue(final MapEntry<byte[], byte[]> entry, final Scratch s)
    {
        final byte[] v = entry.value().getUsing(s.value);
        if (v != s.value)
        {
            System.arraycopy(v, 0, s.value, 0, valueLength);
        }
    }

    private void markDirty(final UnsafeBuffer buffer, final byte[] key)
    {
        if (null == dirtyRing || buffer.getInt(localSlotOffset + DIRTY_OFFSET, ORDER) != 0)
        {
            return;
        }
        final UnsafeBuffer keyBuffer = KEY_VIEW.get();
        keyBuffer.wrap(key);
        if (dirtyRing.write(DIRTY_MSG_TYPE, keyBuffer, 0, Subject.KEY_LENGTH))
        {
            buffer.putInt(localSlotOffset + DIRTY_OFFSET, 1, ORDER);
        }
        else
        {
            dirtyMeta.getAndAddLong(OVERFLOWS_META_OFFSET, 1);
        }
    }

    private static final ThreadLocal<UnsafeBuffer> KEY_VIEW = ThreadLocal.withInitial(() -> new UnsafeBuffer(new byte[0]));

    /**
     * Add n to one slot at second nowSec, zeroing buckets that fell out of its rings; stamp the write time into
     * the version and fold n into the decayed rate.
     */
    static void addToSlot(final UnsafeBuffer b, final int slot, final long n, final long nowSec, final long nowUs)
    {
        final long version = b.getLong(slot + VERSION_OFFSET, ORDER);
        final double sinceUs = version == 0 ? Double.MAX_VALUE : Math.max(0, nowUs - writeTimeUs(version));
        final double decayed = sinceUs > 20 * RATE_TAU_US ? 0 :
            b.getFloat(slot + RATE_OFFSET, ORDER) * Math.exp(-sinceUs / RATE_TAU_US);
        b.putFloat(slot + RATE_OFFSET, (float)(decayed + n * 1e6 / RATE_TAU_US), ORDER);
        long lastSec = b.getLong(slot + LAST_SECOND_OFFSET, ORDER);
        if (version == 0)
        {
            b.setMemory(slot + SECONDS_OFFSET, 8 * BUCKETS, (byte)0);
            lastSec = nowSec;
        }
        else if (nowSec > lastSec)
        {
            final long gap = nowSec - lastSec;
            if (gap >= BUCKETS)
            {
                b.setMemory(slot + SECONDS_OFFSET, 4 * BUCKETS, (byte)0);
            }
            else
            {
                for (long sec = lastSec + 1; sec <= nowSec; sec++)
                {
                    b.putInt(slot + SECONDS_OFFSET + 4 * (int)Math.floorMod(sec, BUCKETS), 0, ORDER);
                }
            }
            final long lastMin = Math.floorDiv(lastSec, 60L);
            final long nowMin = Math.floorDiv(nowSec, 60L);
            if (nowMin - lastMin >= BUCKETS)
            {
                b.setMemory(slot + MINUTES_OFFSET, 4 * BUCKETS, (byte)0);
            }
            else
            {
                for (long min = lastMin + 1; min <= nowMin; min++)
                {
                    b.putInt(slot + MINUTES_OFFSET + 4 * (int)Math.floorMod(min, BUCKETS), 0, ORDER);
                }
            }
            lastSec = nowSec;
        }
        if (nowSec > lastSec - BUCKETS)
        {
            bump(b, slot + SECONDS_OFFSET + 4 * (int)Math.floorMod(nowSec, BUCKETS), n);
        }
        final long nowMin = Math.floorDiv(nowSec, 60L);
        if (nowMin > Math.floorDiv(lastSec, 60L) - BUCKETS)
        {
            bump(b, slot + MINUTES_OFFSET + 4 * (int)Math.floorMod(nowMin, BUCKETS), n);
        }
        b.putLong(slot + LAST_SECOND_OFFSET, lastSec, ORDER);
        b.putLong(slot + VERSION_OFFSET, Math.max(version + 1, nowUs << VERSION_TIME_SHIFT), ORDER);
    }

    private static void bump(final UnsafeBuffer b, final int index, final long n)
    {
        final long v = b.getInt(index, ORDER) + n;
        b.putInt(index, (int)Math.max(0, Math.min(Integer.MAX_VALUE, v)), ORDER);
    }

    private long sum(final UnsafeBuffer b, final long windowMs, final long nowMs)
    {
        final long nowSec = Math.floorDiv(nowMs, 1000L);
        long total = 0;
        for (int node = 0; node < maxNodes; node++)
        {
            total += slotTotal(b, node * SLOT_LENGTH, windowMs, nowSec);
        }
        return total;
    }

    /**
     * Sum of one slot's live buckets within the window ending now (up to 60 s in seconds, above in minutes).
     */
    static long slotTotal(final UnsafeBuffer b, final int slot, final long windowMs, final long nowSec)
    {
        if (b.getLong(slot + VERSION_OFFSET, ORDER) == 0)
        {
            return 0;
        }
        final long lastSec = b.getLong(slot + LAST_SECOND_OFFSET, ORDER);
        long total = 0;
        if (windowMs <= 60_000L)
        {
            final long windowSec = Math.max(1, (windowMs + 999) / 1000);
            final long lo = Math.max(lastSec - BUCKETS + 1, nowSec - windowSec + 1);
            final long hi = Math.min(lastSec, nowSec + SKEW_SECONDS);
            for (long sec = lo; sec <= hi; sec++)
            {
                total += b.getInt(slot + SECONDS_OFFSET + 4 * (int)Math.floorMod(sec, BUCKETS), ORDER);
            }
        }
        else
        {
            final long windowMin = Math.min(BUCKETS, (windowMs + 59_999) / 60_000);
            final long lastMin = Math.floorDiv(lastSec, 60L);
            final long nowMin = Math.floorDiv(nowSec + SKEW_SECONDS, 60L);
            final long lo = Math.max(lastMin - BUCKETS + 1, Math.floorDiv(nowSec, 60L) - windowMin + 1);
            final long hi = Math.min(lastMin, nowMin);
            for (long min = lo; min <= hi; min++)
            {
                total += b.getInt(slot + MINUTES_OFFSET + 4 * (int)Math.floorMod(min, BUCKETS), ORDER);
            }
        }
        return total;
    }
}
