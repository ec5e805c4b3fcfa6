package mailgate.ipc;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import javax.crypto.Mac;
import javax.crypto.ShortBufferException;
import javax.crypto.spec.SecretKeySpec;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

/**
 * HMAC-SHA256 under the install secret, for the challenge/response that proves a subsystem.
 * <p>
 * The MAC covers role, nonce and the reply stream, so a response cannot be replayed to another requester or
 * for another role. Not thread-safe: one per agent.
 */
public final class SecretMac
{
    /** Bytes of MAC. */
    public static final int LENGTH = 32;

    private final Mac mac;
    private final byte[] input = new byte[1 + 16 + 4];
    private final byte[] output = new byte[LENGTH];

    /**
     * @param secret the install secret.
     */
    public SecretMac(final byte[] secret)
    {
        try
        {
            mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException("HmacSHA256 unavailable", ex);
        }
    }

    /**
     * Compute the MAC of a challenge answer.
     *
     * @param role          the answering role's code.
     * @param nonce         buffer holding the 16-byte nonce.
     * @param nonceOffset   where it starts.
     * @param replyStreamId the requester's reply stream.
     * @param dst           where to put the 32-byte MAC.
     * @param dstOffset     at which offset.
     */
    public void compute(
        final int role,
        final DirectBuffer nonce,
        final int nonceOffset,
        final int replyStreamId,
        final MutableDirectBuffer dst,
        final int dstOffset)
    {
        fill(role, nonce, nonceOffset, replyStreamId);
        dst.putBytes(dstOffset, output);
    }

    /**
     * Check a MAC in constant time.
     *
     * @param role          the role claimed.
     * @param nonce         buffer holding the nonce that was sent.
     * @param nonceOffset   where it starts.
     * @param replyStreamId the reply stream it was sent for.
     * @param mac           the MAC received.
     * @return true when it matches.
     */
    public boolean verify(
        final int role, final DirectBuffer nonce, final int nonceOffset, final int replyStreamId, final byte[] mac)
    {
        fill(role, nonce, nonceOffset, replyStreamId);
        return MessageDigest.isEqual(output, mac);
    }

    private void fill(final int role, final DirectBuffer nonce, final int nonceOffset, final int replyStreamId)
    {
        input[0] = (byte)role;
        nonce.getBytes(nonceOffset, input, 1, 16);
        input[17] = (byte)(replyStreamId >>> 24);
        input[18] = (byte)(replyStreamId >>> 16);
        input[19] = (byte)(replyStreamId >>> 8);
        input[20] = (byte)replyStreamId;
        mac.update(input);
        try
        {
            mac.doFinal(output, 0);
        }
        catch (final ShortBufferException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
