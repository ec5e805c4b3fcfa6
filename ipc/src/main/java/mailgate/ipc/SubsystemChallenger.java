/*
 * SUMMARY
 * The requester's half of subsystem authentication: challenge the subsystem until it proves, by an
 * HMAC under the install secret, that it is one of ours; then honour replies only from that Aeron session.
 *
 * SECURITY
 * Replies from any other session (a process that published on our reply stream without the secret, or a
 * stale subsystem) are dropped and counted by the caller. When the proven session's image goes away (the
 * subsystem died), the proof is forgotten and a new challenge goes out.
 */
package mailgate.ipc;

import io.aeron.Publication;
import io.aeron.Subscription;
import mailgate.ipc.codecs.ChallengeEncoder;
import mailgate.ipc.codecs.ChallengeResponseDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import org.agrona.concurrent.UnsafeBuffer;

import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;

/**
 * Challenges one subsystem and remembers which Aeron session proved itself.
 */
public final class SubsystemChallenger
{
    private static final long CHALLENGE_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final SecretMac mac;
    private final Role role;
    private final int replyStreamId;
    private final SecureRandom random = new SecureRandom();
    private final byte[] nonceBytes = new byte[16];
    private final UnsafeBuffer nonce = new UnsafeBuffer(nonceBytes);
    private final byte[] receivedMac = new byte[SecretMac.LENGTH];
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[64]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ChallengeEncoder challengeEncoder = new ChallengeEncoder();
    private volatile boolean proven;
    private int provenSessionId;
    private long nextChallengeNs;
    private long rejectedResponses;

    /**
     * @param mac           MAC under the install secret.
     * @param role          the role expected to answer.
     * @param replyStreamId where the answer must come.
     */
    public SubsystemChallenger(final SecretMac mac, final Role role, final int replyStreamId)
    {
        this.mac = mac;
        this.role = role;
        this.replyStreamId = replyStreamId;
    }

    /**
     * Send a fresh challenge when unproven and due; forget the proof when its session's image is gone.
     *
     * @param nowNs        clock.
     * @param requests     the subsystem's request publication.
     * @param replies      the reply subscription (to see whether the proven session is still there).
     * @return 1 if it sent something.
     */
    public int doWork(final long nowNs, final Publication requests, final Subscription replies)
    {
        if (nowNs - nextChallengeNs < 0)
        {
            return 0;
        }
        nextChallengeNs = nowNs + CHALLENGE_INTERVAL_NS;
        if (proven)
        {
            if (null == replies.imageBySessionId(provenSessionId))
            {
                proven = false;
            }
            else
            {
                return 0;
            }
        }
        random.nextBytes(nonceBytes);
        challengeEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .replyStreamId(replyStreamId)
            .putNonce(nonceBytes, 0, nonceBytes.length);
        final long result = requests.offer(
            sendBuffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + challengeEncoder.encodedLength());
        return result > 0 ? 1 : 0;
    }

    /**
     * A challenge response arrived.
     *
     * @param decoder   the response, wrapped.
     * @param sessionId the Aeron session it came on.
     * @return true if it proved the session.
     */
    public boolean onChallengeResponse(final ChallengeResponseDecoder decoder, final int sessionId)
    {
        final int nonceOffset = decoder.offset() + ChallengeResponseDecoder.nonceEncodingOffset();
        boolean sameNonce = true;
        for (int i = 0; i < 16; i++)
        {
            sameNonce &= decoder.buffer().getByte(nonceOffset + i) == nonceBytes[i];
        }
        decoder.buffer().getBytes(decoder.offset() + ChallengeResponseDecoder.macEncodingOffset(), receivedMac);
        if (sameNonce && role == decoder.role() && mac.verify(role.value(), nonce, 0, replyStreamId, receivedMac))
        {
            proven = true;
            provenSessionId = sessionId;
            return true;
        }
        rejectedResponses++;
        return false;
    }

    /**
     * @param sessionId an Aeron session id of a reply.
     * @return true when that session proved itself.
     */
    public boolean isProven(final int sessionId)
    {
        return proven && sessionId == provenSessionId;
    }

    /**
     * @return true when some session is proven.
     */
    public boolean isProven()
    {
        return proven;
    }

    public long rejectedResponses()
    {
        return rejectedResponses;
    }
}
