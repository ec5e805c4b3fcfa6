/*
 * SUMMARY
 * One connection's worth of delivery to the next hop: SMTP, LMTP or a Maildir. Used by one worker thread.
 */
package mailgate.handoff;

import java.util.List;

/**
 * A next hop as seen by one worker.
 */
interface Hop extends AutoCloseable
{
    /**
     * A reply, real or made up for a connection failure (then always 4xx).
     *
     * @param code three-digit code.
     * @param text the rest of the reply (multi-line replies joined with "; ").
     */
    record Reply(int code, String text)
    {
        boolean ok()
        {
            return code >= 200 && code < 300;
        }

        boolean permanent()
        {
            return code >= 500;
        }

        @Override
        public String toString()
        {
            return code + " " + text;
        }
    }

    /**
     * Hand one message to the hop for the given recipients. Never throws: failures become 4xx replies.
     *
     * @param message    the message.
     * @param recipients the recipients still to do (a subset of message.recipients()).
     * @return one reply per recipient, in order.
     */
    List<Reply> deliver(QueuedMessage message, List<QueuedMessage.Recipient> recipients);

    /**
     * Called when the worker has nothing to do; closes a connection idle for too long.
     */
    void idle();

    /**
     * @return the TLS protocol and cipher of the last connection used ("TLSv1.3/TLS_AES_256_GCM_SHA384"),
     *         "none" for plain text, or null where TLS does not apply (Maildir).
     */
    default String tls()
    {
        return null;
    }

    @Override
    void close();
}
