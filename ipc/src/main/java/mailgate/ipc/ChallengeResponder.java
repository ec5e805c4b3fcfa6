package mailgate.ipc;

import io.aeron.Publication;
import mailgate.ipc.codecs.ChallengeDecoder;
import mailgate.ipc.codecs.ChallengeResponseEncoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The subsystem's half of authentication: answers a challenge with HMAC(secret, role, nonce, reply stream).
 */
public final class ChallengeResponder
{
    private final SecretMac mac;
    private final Role role;
    private final long pid = ProcessHandle.current().pid();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(new byte[128]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final ChallengeResponseEncoder encoder = new ChallengeResponseEncoder();

    /**
     * @param mac  MAC under the install secret.
     * @param role this subsystem's role.
     */
    public ChallengeResponder(final SecretMac mac, final Role role)
    {
        this.mac = mac;
        this.role = role;
    }

    /**
     * @param challenge the challenge, wrapped.
     * @param replies   the publication to the requester's reply stream.
     * @return the offer result (negative when not sent; the requester will challenge again).
     */
    public long respond(final ChallengeDecoder challenge, final Publication replies)
    {
        final int nonceOffset = challenge.offset() + ChallengeDecoder.nonceEncodingOffset();
        encoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .role(role)
            .pid(pid)
            .putNonce(challenge.buffer(), nonceOffset, 16);
        mac.compute(role.value(), challenge.buffer(), nonceOffset, challenge.replyStreamId(),
            sendBuffer, MessageHeaderEncoder.ENCODED_LENGTH + ChallengeResponseEncoder.macEncodingOffset());
        return replies.offer(sendBuffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength());
    }
}
