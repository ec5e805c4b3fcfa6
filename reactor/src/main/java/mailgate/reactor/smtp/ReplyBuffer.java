package mailgate.reactor.smtp;

import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Outgoing replies of one connection, accumulated so that a pipelined batch is flushed in one write.
 */
public final class ReplyBuffer
{
    /** Room kept free so that any single reply fits; the longest is the EHLO response. */
    public static final int MAX_REPLY_LENGTH = 1024;

    private final ByteBuffer byteBuffer;
    private final UnsafeBuffer buffer;
    private int position;
    private int flushed;

    /**
     * @param capacity bytes of direct memory, at least twice {@link #MAX_REPLY_LENGTH}.
     */
    public ReplyBuffer(final int capacity)
    {
        byteBuffer = BufferUtil.allocateDirectAligned(Math.max(capacity, 2 * MAX_REPLY_LENGTH), 64);
        buffer = new UnsafeBuffer(byteBuffer);
    }

    /**
     * @return true when another reply is guaranteed to fit.
     */
    public boolean hasRoom()
    {
        return buffer.capacity() - position >= MAX_REPLY_LENGTH;
    }

    /**
     * @return bytes written and not yet flushed.
     */
    public int pending()
    {
        return position - flushed;
    }

    /**
     * Append a pre-encoded reply.
     *
     * @param reply bytes including the final CRLF.
     */
    public void put(final byte[] reply)
    {
        buffer.putBytes(position, reply);
        position += reply.length;
    }

    /**
     * Append ASCII text.
     *
     * @param text to append.
     */
    public void putAscii(final CharSequence text)
    {
        position += buffer.putStringWithoutLengthAscii(position, text.toString());
    }

    /**
     * Append a natural number in ASCII decimal.
     *
     * @param value to append.
     */
    public void putNatural(final long value)
    {
        position += buffer.putNaturalLongAscii(position, value);
    }

    /**
     * @return the bytes pending as a String, for tests and diagnostics (allocates).
     */
    public String pendingAsString()
    {
        final byte[] bytes = new byte[pending()];
        buffer.getBytes(flushed, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * @return the direct buffer positioned on the pending bytes, for a channel write.
     */
    public ByteBuffer prepareWrite()
    {
        byteBuffer.limit(position).position(flushed);
        return byteBuffer;
    }

    /**
     * Record what a channel write took.
     *
     * @param written bytes written.
     */
    public void onWritten(final int written)
    {
        flushed += written;
        if (flushed == position)
        {
            flushed = 0;
            position = 0;
        }
    }

    /**
     * Forget everything pending (tests, or a connection being dropped).
     */
    public void clear()
    {
        flushed = 0;
        position = 0;
    }
}
