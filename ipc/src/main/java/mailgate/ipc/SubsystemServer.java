/*
 * SUMMARY
 * The server side of a subsystem's IPC (router, filter): its request subscription, one reply publication per
 * requester's reply stream, the challenge answers that prove it, and the checks every incoming frame passes.
 * The twin of the reactor's SubsystemClient.
 *
 * DESCRIPTION
 * Frames too short, of another schema or garbled are dropped and counted, never trusted. A reply meeting
 * back pressure waits (bounded) for the requester to read instead of being dropped; a requester that went
 * away (smtpd restarted: new client id, new reply streams) leaves unconnected publications, closed within a
 * second so their log buffers leave /dev/shm.
 *
 * When the media driver restarts (DriverConnection's generation changes) the subscription and every reply
 * publication of the dead client are dropped and the subscription is made again on the new client;
 * requesters challenge again, since their proof died with the old sessions.
 */
package mailgate.ipc;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import mailgate.ipc.codecs.ChallengeDecoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersReader;

import java.nio.ByteOrder;

/**
 * Request subscription, reply publications and frame checks of one subsystem server.
 */
public final class SubsystemServer implements AutoCloseable
{
    /** Handles one request frame that passed the checks (not a challenge). */
    @FunctionalInterface
    public interface RequestHandler
    {
        /**
         * @param templateId  the message type.
         * @param buffer      holding the frame.
         * @param bodyOffset  where the message body starts.
         * @param blockLength from the header.
         * @param version     from the header.
         */
        void onRequest(int templateId, DirectBuffer buffer, int bodyOffset, int blockLength, int version);
    }

    private static final long OFFER_DEADLINE_NS = 5_000_000L;
    /**
     * Open reply publications at most: one smtpd uses up to 32 (one per event loop), a restarted one 32 more until
     * the sweep closes the old. Without a cap every garbled frame naming a new reply stream opened a 3 MB log in
     * /dev/shm (GarbledFramesTest: 329 MB after 2,000 frames).
     */
    private static final int MAX_REPLY_PUBLICATIONS = 64;
    /** The uint32 length in front of var data (varAsciiEncoding, varUtf8Encoding). */
    private static final int VAR_LENGTH_SIZE = 4;
    private static final long PUBLICATION_SWEEP_NS = 1_000_000_000L;

    private final DriverConnection connection;
    private final int requestStreamId;
    private final ChallengeResponder responder;
    private final AtomicCounter badFrames;
    private final AtomicCounter offerFailures;
    private final RequestHandler handler;
    private final Int2ObjectHashMap<ExclusivePublication> replyPublications = new Int2ObjectHashMap<>();
    private final FragmentHandler fragmentHandler = new FragmentAssembler(this::onFragment);
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ChallengeDecoder challengeDecoder = new ChallengeDecoder();
    private long nextSweepNs;
    private Aeron aeron;
    private Subscription requests;
    private int seenGeneration = -1;

    /**
     * @param connection      the process's client, reattached across driver restarts.
     * @param requestStreamId the subsystem's request stream.
     * @param responder       answers challenges with the install secret.
     * @param badFrames       counts frames dropped.
     * @param offerFailures   counts replies that could not be sent.
     * @param handler         handles requests.
     */
    public SubsystemServer(
        final DriverConnection connection,
        final int requestStreamId,
        final ChallengeResponder responder,
        final AtomicCounter badFrames,
        final AtomicCounter offerFailures,
        final RequestHandler handler)
    {
        this.connection = connection;
        this.requestStreamId = requestStreamId;
        this.responder = responder;
        this.badFrames = badFrames;
        this.offerFailures = offerFailures;
        this.handler = handler;
    }

    /**
     * @return true while attached to a media driver with the request subscription in place.
     */
    public boolean isAttached()
    {
        return null != requests;
    }

    /**
     * Poll requests (and, once a second, close abandoned reply publications).
     *
     * @param nowNs clock.
     * @return fragments read.
     */
    public int poll(final long nowNs)
    {
        final int generation = connection.generation();
        if (generation != seenGeneration)
        {
            rebind(generation);
        }
        if (null == requests)
        {
            return 0;
        }
        if (nowNs - nextSweepNs >= 0)
        {
            nextSweepNs = nowNs + PUBLICATION_SWEEP_NS;
            replyPublications.values().removeIf((publication) ->
            {
                if (!publication.isConnected())
                {
                    publication.close();
                    return true;
                }
                return false;
            });
        }
        return requests.poll(fragmentHandler, 64);
    }

    /**
     * Send a reply to a requester's stream, waiting out back pressure for a bounded time.
     *
     * @param replyStreamId the stream the request named.
     * @param buffer        the encoded reply.
     * @param length        its length.
     * @return true when sent; false (counted) otherwise, and the requester's deadline turns it into a 451.
     */
    public boolean reply(final int replyStreamId, final DirectBuffer buffer, final int length)
    {
        final ExclusivePublication publication = replyPublication(replyStreamId);
        if (null != publication)
        {
            final long deadlineNs = System.nanoTime() + OFFER_DEADLINE_NS;
            while (true)
            {
                final long result = publication.offer(buffer, 0, length);
                if (result > 0)
                {
                    return true;
                }
                if (Publication.NOT_CONNECTED == result || Publication.CLOSED == result ||
                    Publication.MAX_POSITION_EXCEEDED == result || System.nanoTime() - deadlineNs > 0)
                {
                    break;
                }
                Thread.yield();
            }
        }
        offerFailures.increment();
        return false;
    }

    /**
     * Count a frame the handler could not use.
     */
    public void badFrame()
    {
        badFrames.increment();
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            badFrames.increment();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            badFrames.increment();
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        if (!isWellFramed(buffer, bodyOffset, headerDecoder.blockLength(), offset + length))
        {
            badFrames.increment();
            return;
        }
        try
        {
            if (ChallengeDecoder.TEMPLATE_ID == headerDecoder.templateId())
            {
                challengeDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                final ExclusivePublication publication = replyPublication(challengeDecoder.replyStreamId());
                if (null != publication)
                {
                    responder.respond(challengeDecoder, publication);
                }
                return;
            }
            handler.onRequest(headerDecoder.templateId(), buffer, bodyOffset, headerDecoder.blockLength(),
                headerDecoder.version());
        }
        catch (final IndexOutOfBoundsException | IllegalStateException | IllegalArgumentException ex)
        {
            // a truncated or garbled frame (IllegalArgumentException: an enum value the schema does not know):
            // never trust it, never die of it
            badFrames.increment();
        }
    }

    /**
     * Every mailgate message is a fixed block then length-prefixed var data (the schema has no groups), so the
     * lengths must tile the frame exactly. Checked before any decoder runs: a decoder allocates the length it
     * reads, so a garbled length was a NegativeArraySizeException or an OutOfMemoryError that killed the agent
     * thread and left a process that no longer served (GarbledFramesTest).
     */
    private static boolean isWellFramed(
        final DirectBuffer buffer, final int bodyOffset, final int blockLength, final int frameEnd)
    {
        long position = (long)bodyOffset + blockLength;
        while (position < frameEnd)
        {
            if (position + VAR_LENGTH_SIZE > frameEnd)
            {
                return false;
            }
            position += VAR_LENGTH_SIZE + (buffer.getInt((int)position, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL);
        }
        return position == frameEnd;
    }

    private void rebind(final int generation)
    {
        seenGeneration = generation;
        // resources of a dead client: closing only tells the dead driver; the client itself is closed later
        replyPublications.values().forEach(CloseHelper::quietClose);
        replyPublications.clear();
        CloseHelper.quietClose(requests);
        requests = null;
        aeron = connection.aeron();
        if (null != aeron)
        {
            try
            {
                requests = aeron.addSubscription(IpcChannels.CHANNEL, requestStreamId);
            }
            catch (final RuntimeException ex)
            {
                // lost again while subscribing: the next generation brings the next client
                aeron = null;
            }
        }
    }

    private ExclusivePublication replyPublication(final int streamId)
    {
        if (streamId < IpcChannels.REPLY_STREAM_BASE)
        {
            badFrames.increment();
            return null;
        }
        if (null == aeron)
        {
            return null;
        }
        ExclusivePublication publication = replyPublications.get(streamId);
        if (null == publication || publication.isClosed())
        {
            if (null == publication &&
                (replyPublications.size() >= MAX_REPLY_PUBLICATIONS || !isLiveClientStream(streamId)))
            {
                badFrames.increment();
                return null;
            }
            try
            {
                publication = aeron.addExclusivePublication(IpcChannels.CHANNEL, streamId);
            }
            catch (final RuntimeException ex)
            {
                return null;
            }
            replyPublications.put(streamId, publication);
        }
        return publication;
    }

    /**
     * A reply stream encodes its requester's Aeron client id (IpcChannels.replyStream): open one only for a
     * client the driver knows is alive, so garbled stream ids do not each cost a log buffer.
     */
    private boolean isLiveClientStream(final int streamId)
    {
        final long clientBits = (streamId - IpcChannels.REPLY_STREAM_BASE) / 32;
        final CountersReader counters = aeron.countersReader();
        final boolean[] live = {false};
        counters.forEach((counterId, typeId, key, label) ->
            live[0] |= AeronCounters.DRIVER_HEARTBEAT_TYPE_ID == typeId && (key.getLong(0) & 0xFFFFF) == clientBits);
        return live[0];
    }

    public void close()
    {
        replyPublications.values().forEach(CloseHelper::quietClose);
        replyPublications.clear();
        CloseHelper.quietClose(requests);
        requests = null;
    }
}
