/*
 * SUMMARY
 * One event loop's connection to one subsystem server (router, filter) over Aeron IPC: its request
 * publication, its own reply stream, the subsystem's proof, and the questions in flight.
 *
 * DESCRIPTION
 * A question is remembered in a ring slot keyed by a per-loop request id together with the session's own
 * correlation id; an answer whose slot was reused, or whose session moved on (timed out, disconnected), is
 * dropped and counted. When the subsystem's proven session goes away, every question in flight is failed at
 * once through the caller's failure action, instead of waiting for its deadline.
 *
 * When the media driver dies (DriverConnection's generation changes) the same happens, the publication and
 * subscription of the dead client are dropped, and once a new client is attached new ones are registered
 * without blocking the loop (async add, polled each cycle), under a new reply stream, and the subsystem is
 * challenged again. Until then every question is answered "unavailable" at once. The normal cycle costs one
 * volatile read for this; only the reconnect allocates.
 *
 * SECURITY
 * Replies are honoured only from the Aeron session that proved it holds the install secret.
 */
package mailgate.reactor.policy;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import mailgate.ipc.DriverConnection;
import io.aeron.FragmentAssembler;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.SecretMac;
import mailgate.ipc.SubsystemChallenger;
import mailgate.ipc.codecs.ChallengeResponseDecoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.Role;
import mailgate.reactor.status.LoopCounters;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;

import java.util.function.Consumer;

/**
 * Request/reply plumbing shared by the IPC-backed policies.
 */
final class SubsystemClient
{
    /** Decodes one proven reply; returns the request id it answers. */
    @FunctionalInterface
    interface ReplyDecoder
    {
        void onReply(int templateId, DirectBuffer buffer, int bodyOffset, int blockLength, int version);
    }

    private static final int RING_SIZE = 1 << 14;
    private static final int RING_MASK = RING_SIZE - 1;
    private static final long STALE_AFTER_NS = 100_000_000L;

    private final DriverConnection connection;
    private final SecretMac mac;
    private final Role role;
    private final int requestStreamId;
    private final int loopId;
    private final LoopCounters counters;
    private final ReplyDecoder decoder;
    private final Consumer<PolicyQuery> onLost;
    private final PolicyQuery[] queries = new PolicyQuery[RING_SIZE];
    private final long[] requestIds = new long[RING_SIZE];
    private final long[] sessionCorrelations = new long[RING_SIZE];
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final ChallengeResponseDecoder challengeResponseDecoder = new ChallengeResponseDecoder();
    private final FragmentHandler handler = new FragmentAssembler(this::onFragment);
    private long nextRequestId = 1;
    private boolean wasProven;
    private int outstanding;
    private long lastSendNs;
    private int seenGeneration = -1;
    private Aeron aeron;
    private long subscriptionRegistration = Aeron.NULL_VALUE;
    private long publicationRegistration = Aeron.NULL_VALUE;
    private ExclusivePublication requests;
    private Subscription replies;
    private int replyStreamId;
    private volatile SubsystemChallenger challenger;
    private long attachments;

    SubsystemClient(
        final DriverConnection connection,
        final SecretMac mac,
        final Role role,
        final int requestStreamId,
        final int loopId,
        final LoopCounters counters,
        final ReplyDecoder decoder,
        final Consumer<PolicyQuery> onLost)
    {
        this.connection = connection;
        this.mac = mac;
        this.role = role;
        this.requestStreamId = requestStreamId;
        this.loopId = loopId;
        this.counters = counters;
        this.decoder = decoder;
        this.onLost = onLost;
    }

    int replyStreamId()
    {
        return replyStreamId;
    }

    boolean isProven()
    {
        final SubsystemChallenger c = challenger;
        return null != c && c.isProven();
    }

    /**
     * Count a question answered "unavailable" without being sent.
     */
    void countUnavailable()
    {
        counters.ipcUnavailable.incrementRelease();
    }

    long nextRequestId()
    {
        return nextRequestId++;
    }

    /**
     * Offer an encoded request and remember its question.
     *
     * @return true when it went out; false (counted) when it must be answered as unavailable.
     */
    boolean send(final DirectBuffer buffer, final int length, final long requestId, final PolicyQuery query)
    {
        long result = requests.offer(buffer, 0, length);
        for (int i = 0; i < 3 && io.aeron.Publication.ADMIN_ACTION == result; i++)
        {
            // a term rotation, not a failure: the next offer goes into the new term
            result = requests.offer(buffer, 0, length);
        }
        if (result < 0)
        {
            counters.ipcOfferFailures.incrementRelease();
            return false;
        }
        counters.ipcRequests.incrementRelease();
        outstanding++;
        lastSendNs = System.nanoTime();
        final int slot = (int)(requestId & RING_MASK);
        queries[slot] = query;
        requestIds[slot] = requestId;
        sessionCorrelations[slot] = query.correlationId();
        return true;
    }

    /**
     * @param requestId the id a reply carries.
     * @return the question it answers, or null (counted) when stale.
     */
    PolicyQuery take(final long requestId)
    {
        final int slot = (int)(requestId & RING_MASK);
        final PolicyQuery query = queries[slot];
        if (requestIds[slot] != requestId || null == query)
        {
            counters.ipcRepliesDropped.incrementRelease();
            return null;
        }
        queries[slot] = null;
        outstanding = Math.max(0, outstanding - 1);
        if (query.correlationId() != sessionCorrelations[slot])
        {
            // answered after its session gave up on it (deadline, disconnect)
            counters.ipcRepliesDropped.incrementRelease();
            return null;
        }
        return query;
    }

    int doWork(final long nowNs)
    {
        int work = 0;
        final int generation = connection.generation();
        if (generation != seenGeneration)
        {
            work += rebind(generation);
        }
        if (null == challenger)
        {
            return Aeron.NULL_VALUE == subscriptionRegistration ? work : work + awaitRegistrations();
        }
        work += challenger.doWork(nowNs, requests, replies) + replies.poll(handler, 64);
        final boolean proven = challenger.isProven();
        if (wasProven && !proven)
        {
            work += failPending();
        }
        wasProven = proven;
        return work;
    }

    /**
     * The driver connection changed: fail what is in flight, drop the old client's resources, and start
     * registering new ones on the new client (cold path: allocates).
     */
    private int rebind(final int generation)
    {
        seenGeneration = generation;
        final int failed = failPending();
        wasProven = false;
        challenger = null;
        // publications of a dead client: closing only tells the dead driver; DriverConnection closes the client
        CloseHelper.quietClose(requests);
        CloseHelper.quietClose(replies);
        requests = null;
        replies = null;
        subscriptionRegistration = Aeron.NULL_VALUE;
        publicationRegistration = Aeron.NULL_VALUE;
        aeron = connection.aeron();
        if (null != aeron)
        {
            try
            {
                // one reply stream per loop and role: the router and the filter never share a subscription
                replyStreamId = IpcChannels.replyStream(aeron.clientId(), loopId) + (Role.FILTER == role ? 16 : 0);
                subscriptionRegistration = aeron.asyncAddSubscription(IpcChannels.CHANNEL, replyStreamId);
                publicationRegistration = aeron.asyncAddExclusivePublication(IpcChannels.CHANNEL, requestStreamId);
            }
            catch (final RuntimeException ex)
            {
                // lost again already: the next generation brings the next client
                subscriptionRegistration = Aeron.NULL_VALUE;
                aeron = null;
            }
        }
        return failed;
    }

    private int awaitRegistrations()
    {
        try
        {
            if (null == replies)
            {
                replies = aeron.getSubscription(subscriptionRegistration);
            }
            if (null == requests)
            {
                requests = aeron.getExclusivePublication(publicationRegistration);
            }
        }
        catch (final RuntimeException ex)
        {
            // registration refused or the client died: wait for the next generation
            subscriptionRegistration = Aeron.NULL_VALUE;
            return 0;
        }
        if (null == replies || null == requests)
        {
            return 0;
        }
        subscriptionRegistration = Aeron.NULL_VALUE;
        challenger = new SubsystemChallenger(mac, role, replyStreamId);
        if (attachments++ > 0)
        {
            counters.ipcReconnects.incrementRelease();
        }
        return 1;
    }

    boolean awaitingAnswers()
    {
        if (outstanding > 0 && System.nanoTime() - lastSendNs > STALE_AFTER_NS)
        {
            outstanding = 0;    // answers that never came were timed out by their sessions
        }
        return outstanding > 0;
    }

    private int failPending()
    {
        int failed = 0;
        outstanding = 0;
        for (int i = 0; i < RING_SIZE; i++)
        {
            final PolicyQuery query = queries[i];
            if (null != query)
            {
                queries[i] = null;
                if (query.correlationId() == sessionCorrelations[i])
                {
                    counters.ipcUnavailable.incrementRelease();
                    onLost.accept(query);
                    failed++;
                }
            }
        }
        return failed;
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            counters.ipcRepliesDropped.incrementRelease();
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            counters.ipcRepliesDropped.incrementRelease();
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        try
        {
            if (ChallengeResponseDecoder.TEMPLATE_ID == headerDecoder.templateId())
            {
                challengeResponseDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
                if (!challenger.onChallengeResponse(challengeResponseDecoder, header.sessionId()))
                {
                    counters.ipcRepliesDropped.incrementRelease();
                }
                return;
            }
            if (!challenger.isProven(header.sessionId()))
            {
                counters.ipcRepliesDropped.incrementRelease();
                return;
            }
            decoder.onReply(headerDecoder.templateId(), buffer, bodyOffset, headerDecoder.blockLength(),
                headerDecoder.version());
        }
        catch (final IndexOutOfBoundsException | IllegalStateException ex)
        {
            // a truncated or garbled frame: dropped, never trusted
            counters.ipcRepliesDropped.incrementRelease();
        }
    }

    void close()
    {
        CloseHelper.quietClose(requests);
        CloseHelper.quietClose(replies);
    }
}
