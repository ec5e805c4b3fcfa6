/*
 * SUMMARY
 * Ships this node's slot of every changed counter key to each peer over Aeron UDP, and applies the slots
 * peers ship by replacing theirs when newer: the rate tracker's own replication (Chronicle Map's is
 * Enterprise-only).
 *
 * DESCRIPTION
 * Every duty cycle the agent drains the store's dirty-key ring and copies our slot of each key (clearing its
 * dirty flag, so a key changed many times before it is drained ships once), packs up to 16 entries per packet,
 * and ships the packet once the oldest entry in it has waited the coalescing window (default 100 us; 0 ships
 * at the end of the cycle that found it): signed, offered to one exclusive publication per peer (unicast to
 * the peer's endpoint). Shipping on change rather than on a fixed interval takes the interval's average
 * half-period out of the lag; the window keeps packets full when the rate is high. It polls its own
 * subscription (our endpoint) every duty cycle.
 * A peer that got nothing for 10 ms gets an empty packet (a heartbeat), so receivers can tell an idle link
 * from a silent one (see RateStore's in-flight budget); every accepted packet stamps its source's "last heard"
 * (our clock) and its send time (the source's clock) in the ring file. From what it applies it measures the
 * replication lag (the peer's write to our apply) and publishes a bound (mean + 4 mean deviations, as TCP's
 * retransmission timer) in the store for inspection and reports. Applying is "newest version wins" per
 * (key, node), so packets may repeat, reorder or arrive after a restart without harm.
 * A full resync (every key's slot to every peer) runs at start, when a peer's publication becomes connected
 * or a new image from a peer appears (a peer started or came back), after an offer failed, and when the dirty ring overflowed. Expired keys are
 * swept once a minute.
 *
 * SECURITY
 * Each packet carries HMAC-SHA256 (truncated to 128 bits) under the cluster key, over the whole packet. Bad
 * MAC, unknown source node, malformed length/magic/count, and a sequence not above the last accepted from
 * that source (replay) are dropped and counted. A node never accepts a slot for its own id. The MAC does not
 * hide anything: counts and hashed subjects travel in clear.
 *
 * LIMITS
 * One replicator per host (it is the only consumer of the dirty ring). Sequence numbers start at the epoch
 * time in microseconds, so a restarted sender is accepted as long as the clock did not go back. Lag is
 * the coalescing window + our idle wake-up + both drivers' idle wake-ups (up to 1 ms each with backoff) + wire
 * time + the receiver's idle wake-up. The lag measurement assumes the nodes' clocks agree (NTP).
 */
package mailgate.rate;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.EpochNanoClock;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;

import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteOrder;
import java.security.GeneralSecurityException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The replication agent of one node.
 */
public final class RateReplicator implements Agent
{
    /** Keys shipped per duty cycle from a running full resync. */
    static final int RESYNC_BATCH = 512;
    /** How long after an offer failure a resync starts. */
    static final long RESYNC_DELAY_NS = TimeUnit.MILLISECONDS.toNanos(500);
    /** Sweep interval. */
    static final long SWEEP_INTERVAL_NS = TimeUnit.SECONDS.toNanos(60);
    /** A slot shipped later than this after its write came from a resync: not a lag sample. */
    static final long LAG_SAMPLE_MAX_SHIP_DELAY_US = 50_000;
    /** A peer that got no packet for this long gets an empty one: the link is heard while idle. */
    static final long HEARTBEAT_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);
    /** The published lag bound is the mean plus this many mean deviations. */
    static final int LAG_BOUND_DEVIATIONS = 4;
    /** Lag samples above this are not folded in (a stall, not the usual lag). */
    static final long LAG_SAMPLE_MAX_US = 250_000;

    /**
     * Told about every packet accepted (for measuring transport lag; optional).
     */
    @FunctionalInterface
    public interface PacketListener
    {
        /**
         * @param source     the sending node.
         * @param entries    entries in the packet.
         * @param sentTimeNs when the sender signed it (epoch ns, sender's clock).
         * @param nowNs      when we accepted it (epoch ns, our clock).
         */
        void onPacket(int source, int entries, long sentTimeNs, long nowNs);
    }

    private final RateStore store;
    private final EpochNanoClock clock;
    private final int nodeId;
    private final long coalesceNs;
    private final Subscription subscription;
    private final ExclusivePublication[] publications;
    private final int[] peerIds;
    private final boolean[] connected;
    private final boolean[] knownPeer;
    private final long[] lastSequence;
    private final Mac sendMac;
    private final Mac receiveMac;
    private final byte[] sendBytes = new byte[ReplicationFlyweight.MAX_LENGTH];
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(sendBytes);
    private final ReplicationFlyweight sendPacket = new ReplicationFlyweight().wrap(sendBuffer, 0);
    private final byte[] receiveBytes = new byte[ReplicationFlyweight.MAX_LENGTH];
    private final UnsafeBuffer receiveBuffer = new UnsafeBuffer(receiveBytes);
    private final ReplicationFlyweight receivePacket = new ReplicationFlyweight().wrap(receiveBuffer, 0);
    private final byte[] macScratch = new byte[32];
    private final byte[] keyScratch = new byte[Subject.KEY_LENGTH];
    private final FragmentHandler assembler;
    private final RateStore.DirtyKeyHandler dirtyHandler = this::onDirtyKey;
    private final ArrayDeque<byte[]> resyncQueue = new ArrayDeque<>();
    private final List<AtomicCounter> counters = new ArrayList<>();
    private final AtomicCounter packetsSent;
    private final AtomicCounter packetsReceived;
    private final AtomicCounter slotsApplied;
    private final AtomicCounter slotsStale;
    private final AtomicCounter droppedBadMac;
    private final AtomicCounter droppedUnknownNode;
    private final AtomicCounter droppedMalformed;
    private final AtomicCounter droppedReplay;
    private final AtomicCounter offerFailures;
    private final AtomicCounter resyncs;
    private final AtomicCounter mapFull;
    private final AtomicCounter swept;
    private final AtomicCounter slotsSent;
    private volatile PacketListener packetListener;
    private volatile boolean peerImageAppeared;
    private long sequence;
    private int pending;
    private long firstPendingNs;
    private long cycleNs;
    private long lastSentNs;
    private long lagMeanUs;
    private long lagDevUs;
    private long nextSweepNs;
    private long resyncAtNs = Long.MAX_VALUE;
    private long lastOverflows;

    /**
     * @param aeron      a client of this host's media driver.
     * @param store      the host's counters (opened with dirty tracking).
     * @param listen     our endpoint, host:port.
     * @param peers      peer node id to endpoint host:port.
     * @param clusterKey the HMAC key shared by the cluster.
     * @param coalesceUs how long a changed key may wait for others to share its packet (0: ship in the cycle
     *                   that found it).
     * @param streamId   the Aeron stream id.
     * @param clock      epoch clock (for sequences and sent times).
     */
    public RateReplicator(
        final Aeron aeron,
        final RateStore store,
        final String listen,
        final Map<Integer, String> peers,
        final byte[] clusterKey,
        final long coalesceUs,
        final int streamId,
        final EpochNanoClock clock)
    {
        this.store = store;
        this.clock = clock;
        this.nodeId = store.nodeId();
        this.coalesceNs = TimeUnit.MICROSECONDS.toNanos(coalesceUs);
        this.knownPeer = new boolean[256];
        this.lastSequence = new long[256];
        try
        {
            sendMac = Mac.getInstance("HmacSHA256");
            sendMac.init(new SecretKeySpec(clusterKey, "HmacSHA256"));
            receiveMac = Mac.getInstance("HmacSHA256");
            receiveMac.init(new SecretKeySpec(clusterKey, "HmacSHA256"));
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException("HmacSHA256: " + ex, ex);
        }
        final String label = " node=" + nodeId;
        packetsSent = counter(aeron, RateCounters.PACKETS_SENT, "rate replication packets sent" + label);
        packetsReceived = counter(aeron, RateCounters.PACKETS_RECEIVED, "rate replication packets received" + label);
        slotsApplied = counter(aeron, RateCounters.SLOTS_APPLIED, "rate peer slots applied" + label);
        slotsStale = counter(aeron, RateCounters.SLOTS_STALE, "rate peer slots stale" + label);
        droppedBadMac = counter(aeron, RateCounters.DROPPED_BAD_MAC, "rate packets dropped: bad hmac" + label);
        droppedUnknownNode = counter(aeron, RateCounters.DROPPED_UNKNOWN_NODE, "rate packets dropped: unknown node" +
            label);
        droppedMalformed = counter(aeron, RateCounters.DROPPED_MALFORMED, "rate packets dropped: malformed" + label);
        droppedReplay = counter(aeron, RateCounters.DROPPED_REPLAY, "rate packets dropped: replay" + label);
        offerFailures = counter(aeron, RateCounters.OFFER_FAILURES, "rate replication offer failures" + label);
        resyncs = counter(aeron, RateCounters.RESYNCS, "rate replication resyncs" + label);
        mapFull = counter(aeron, RateCounters.MAP_FULL, "rate peer slots refused: map full" + label);
        swept = counter(aeron, RateCounters.SWEPT, "rate keys swept" + label);
        slotsSent = counter(aeron, RateCounters.SLOTS_SENT, "rate slots shipped" + label);

        // a new image is a peer that (re)started: it may have missed everything, so resync (flag read by doWork)
        subscription = aeron.addSubscription("aeron:udp?endpoint=" + listen, streamId,
            (image) -> peerImageAppeared = true, (image) -> { });
        publications = new ExclusivePublication[peers.size()];
        peerIds = new int[peers.size()];
        connected = new boolean[peers.size()];
        int i = 0;
        for (final Map.Entry<Integer, String> peer : peers.entrySet())
        {
            peerIds[i] = peer.getKey();
            knownPeer[peer.getKey()] = true;
            publications[i] = aeron.addExclusivePublication("aeron:udp?endpoint=" + peer.getValue(), streamId);
            i++;
        }
        assembler = new FragmentAssembler(this::onFragment);
        sequence = clock.nanoTime() / 1000;
    }

    private AtomicCounter counter(final Aeron aeron, final int typeId, final String label)
    {
        final AtomicCounter counter = aeron.addCounter(typeId, label);
        counters.add(counter);
        return counter;
    }

    /**
     * @param listener told about each accepted packet, or null.
     */
    public void packetListener(final PacketListener listener)
    {
        this.packetListener = listener;
    }

    public String roleName()
    {
        return "rate-replicator";
    }

    public void onStart()
    {
        lastOverflows = store.dirtyOverflows();
        nextSweepNs = System.nanoTime() + SWEEP_INTERVAL_NS;
        resyncAtNs = System.nanoTime();
    }

    public int doWork()
    {
        final long nowNs = System.nanoTime();
        int work = subscription.poll(assembler, 64);
        if (peerImageAppeared)
        {
            peerImageAppeared = false;
            scheduleResync(nowNs);
        }
        for (int i = 0; i < publications.length; i++)
        {
            final boolean isConnected = publications[i].isConnected();
            if (isConnected && !connected[i])
            {
                scheduleResync(nowNs); // a peer (re)appeared: it may have missed everything
            }
            connected[i] = isConnected;
        }
        final long overflows = store.dirtyOverflows();
        if (overflows != lastOverflows)
        {
            lastOverflows = overflows;
            scheduleResync(nowNs);
        }
        cycleNs = nowNs;
        final int drained = store.pollDirtyKeys(dirtyHandler, 8192);
        if (pending > 0 && nowNs - firstPendingNs >= coalesceNs)
        {
            flush();
        }
        else if (0 == pending && publications.length > 0 && nowNs - lastSentNs >= HEARTBEAT_INTERVAL_NS)
        {
            send(0); // heartbeat: no entries, signed and sequenced like any packet
        }
        work += drained;
        if (nowNs - resyncAtNs >= 0)
        {
            resyncAtNs = Long.MAX_VALUE;
            resyncs.increment();
            resyncQueue.clear();
            store.forEachKey(resyncQueue::add);
        }
        if (!resyncQueue.isEmpty())
        {
            for (int i = 0; i < RESYNC_BATCH && !resyncQueue.isEmpty(); i++)
            {
                append(resyncQueue.poll(), false);
            }
            flush();
            work++;
        }
        if (nowNs - nextSweepNs >= 0)
        {
            nextSweepNs = nowNs + SWEEP_INTERVAL_NS;
            swept.getAndAdd(store.sweep(System.currentTimeMillis()));
        }
        return work;
    }

    public void onClose()
    {
        for (final ExclusivePublication publication : publications)
        {
            publication.close();
        }
        subscription.close();
        for (final AtomicCounter counter : counters)
        {
            counter.close();
        }
    }

    private void scheduleResync(final long atNs)
    {
        if (resyncAtNs == Long.MAX_VALUE || atNs < resyncAtNs)
        {
            resyncAtNs = atNs;
        }
    }

    private void onDirtyKey(final byte[] key)
    {
        append(key, true);
    }

    private void append(final byte[] key, final boolean clearDirty)
    {
        if (store.copyLocalSlot(key, sendBuffer, sendPacket.slotOffset(pending), clearDirty))
        {
            sendBuffer.putBytes(sendPacket.keyOffset(pending), key, 0, Subject.KEY_LENGTH);
            if (0 == pending)
            {
                firstPendingNs = cycleNs;
            }
            if (++pending == ReplicationFlyweight.MAX_ENTRIES)
            {
                flush();
            }
        }
    }

    private void flush()
    {
        if (pending == 0)
        {
            return;
        }
        final int count = pending;
        pending = 0;
        send(count);
    }

    private void send(final int count)
    {
        lastSentNs = cycleNs;
        sendPacket.header(nodeId, count, ++sequence, clock.nanoTime());
        final int macOffset = sendPacket.macOffset(count);
        sign(sendMac, sendBytes, macOffset);
        System.arraycopy(macScratch, 0, sendBytes, macOffset, ReplicationFlyweight.MAC_LENGTH);
        final int length = ReplicationFlyweight.length(count);
        slotsSent.getAndAdd(count);
        for (int i = 0; i < publications.length; i++)
        {
            if (0 == count && !connected[i])
            {
                continue; // a heartbeat to a peer not there is no failure
            }
            final long result = publications[i].offer(sendBuffer, 0, length);
            if (result > 0)
            {
                packetsSent.increment();
            }
            else
            {
                offerFailures.increment();
                if (result != Publication.NOT_CONNECTED)
                {
                    // back pressure or admin action: what this packet carried is sent again by a resync
                    scheduleResync(System.nanoTime() + RESYNC_DELAY_NS);
                }
            }
        }
    }

    private void sign(final Mac mac, final byte[] bytes, final int length)
    {
        mac.update(bytes, 0, length);
        try
        {
            mac.doFinal(macScratch, 0);
        }
        catch (final ShortBufferException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final int count = ReplicationFlyweight.entriesForLength(length);
        if (count < 0)
        {
            droppedMalformed.increment();
            return;
        }
        buffer.getBytes(offset, receiveBytes, 0, length);
        final ReplicationFlyweight packet = receivePacket;
        if (packet.magic() != ReplicationFlyweight.MAGIC || packet.version() != ReplicationFlyweight.VERSION ||
            packet.count() != count)
        {
            droppedMalformed.increment();
            return;
        }
        final int source = packet.source();
        if (!knownPeer[source])
        {
            droppedUnknownNode.increment();
            return;
        }
        final int macOffset = packet.macOffset(count);
        sign(receiveMac, receiveBytes, macOffset);
        int diff = 0;
        for (int i = 0; i < ReplicationFlyweight.MAC_LENGTH; i++)
        {
            diff |= macScratch[i] ^ receiveBytes[macOffset + i];
        }
        if (diff != 0)
        {
            droppedBadMac.increment();
            return;
        }
        final long seq = packet.sequence();
        if (seq <= lastSequence[source])
        {
            droppedReplay.increment();
            return;
        }
        lastSequence[source] = seq;
        packetsReceived.increment();
        final long nowUs = clock.nanoTime() / 1000;
        final long sentUs = packet.sentTimeNs() / 1000;
        store.peerHeard(source, nowUs, sentUs);
        for (int i = 0; i < count; i++)
        {
            receiveBuffer.getBytes(packet.keyOffset(i), keyScratch, 0, Subject.KEY_LENGTH);
            if (!RateDimension.isValid(keyScratch[Subject.DIMENSION_OFFSET]))
            {
                continue;
            }
            final int result = store.applyPeerSlot(keyScratch, source, receiveBuffer, packet.slotOffset(i));
            if (result == RateStore.APPLIED)
            {
                slotsApplied.increment();
                onLagSample(nowUs, sentUs, receiveBuffer.getLong(
                    packet.slotOffset(i) + SlotDescriptor.VERSION_OFFSET, ByteOrder.LITTLE_ENDIAN));
            }
            else if (result == RateStore.STALE)
            {
                slotsStale.increment();
            }
            else
            {
                mapFull.increment();
            }
        }
        final PacketListener listener = packetListener;
        if (null != listener)
        {
            listener.onPacket(source, count, packet.sentTimeNs(), clock.nanoTime());
        }
    }

    /**
     * Fold one write-to-apply lag into the mean and mean deviation (gains 1/8 and 1/4, as TCP's RTT) and
     * publish mean + 4 deviations as the store's lag bound.
     */
    private void onLagSample(final long nowUs, final long sentUs, final long version)
    {
        final long writeUs = SlotDescriptor.writeTimeUs(version);
        final long sampleUs = Math.max(0, nowUs - writeUs);
        if (sentUs - writeUs > LAG_SAMPLE_MAX_SHIP_DELAY_US || sampleUs > LAG_SAMPLE_MAX_US)
        {
            return;
        }
        if (0 == lagMeanUs)
        {
            lagMeanUs = Math.max(1, sampleUs);
            lagDevUs = sampleUs / 2;
        }
        else
        {
            final long error = sampleUs - lagMeanUs;
            lagMeanUs = Math.max(1, lagMeanUs + (error >> 3));
            lagDevUs += (Math.abs(error) - lagDevUs) >> 2;
        }
        store.lagBoundUs(lagBoundUs());
    }

    /**
     * @return the measured lag bound (mean + 4 mean deviations), microseconds (0 before the first sample).
     */
    public long lagBoundUs()
    {
        return 0 == lagMeanUs ? 0 : lagMeanUs + LAG_BOUND_DEVIATIONS * lagDevUs;
    }

    /**
     * @return packets dropped for a bad MAC.
     */
    public long droppedBadMac()
    {
        return droppedBadMac.get();
    }

    /**
     * @return packets dropped from unknown nodes.
     */
    public long droppedUnknownNode()
    {
        return droppedUnknownNode.get();
    }

    /**
     * @return packets dropped as malformed (truncated, bad magic or count).
     */
    public long droppedMalformed()
    {
        return droppedMalformed.get();
    }

    /**
     * @return packets dropped as replays.
     */
    public long droppedReplay()
    {
        return droppedReplay.get();
    }

    /**
     * @return packets accepted.
     */
    public long packetsReceived()
    {
        return packetsReceived.get();
    }

    /**
     * @return packets offered successfully (one per peer).
     */
    public long packetsSent()
    {
        return packetsSent.get();
    }

    /**
     * @return full resyncs started.
     */
    public long resyncs()
    {
        return resyncs.get();
    }

    /**
     * @return peer slots applied.
     */
    public long slotsApplied()
    {
        return slotsApplied.get();
    }

    /**
     * @return offers that failed.
     */
    public long offerFailures()
    {
        return offerFailures.get();
    }
}
