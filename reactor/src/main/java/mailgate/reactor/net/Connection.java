package mailgate.reactor.net;

import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SessionHost;
import mailgate.reactor.smtp.SmtpSession;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * One client connection on its event loop: socket, input buffer, reply buffer and SMTP session.
 */
final class Connection implements SessionHost
{
    private final EventLoop loop;
    private final SocketChannel channel;
    private final InetAddress clientAddress;
    private final ByteBuffer inByteBuffer;
    private final UnsafeBuffer in;
    private final ReplyBuffer out;
    private SmtpSession session;
    private SelectionKey key;
    private int interestOps;
    private int index;
    private boolean closed;

    Connection(
        final EventLoop loop,
        final SocketChannel channel,
        final InetAddress clientAddress,
        final int receiveBufferLength,
        final int sendBufferLength)
    {
        this.loop = loop;
        this.channel = channel;
        this.clientAddress = clientAddress;
        this.inByteBuffer = BufferUtil.allocateDirectAligned(receiveBufferLength, 64);
        this.in = new UnsafeBuffer(inByteBuffer);
        this.out = new ReplyBuffer(sendBufferLength);
        inByteBuffer.limit(0);
    }

    void session(final SmtpSession session)
    {
        this.session = session;
    }

    ReplyBuffer out()
    {
        return out;
    }

    SmtpSession session()
    {
        return session;
    }

    InetAddress clientAddress()
    {
        return clientAddress;
    }

    int index()
    {
        return index;
    }

    void index(final int index)
    {
        this.index = index;
    }

    void register(final SelectionKey key)
    {
        this.key = key;
        this.interestOps = key.interestOps();
    }

    /**
     * Read what the socket has, without looking at it (the early-talker probe before the greeting).
     *
     * @return bytes read, -1 at end of stream.
     */
    int readAvailable() throws IOException
    {
        final int limit = inByteBuffer.limit();
        inByteBuffer.position(limit).limit(inByteBuffer.capacity());
        final int read = channel.read(inByteBuffer);
        inByteBuffer.limit(inByteBuffer.position()).position(0);
        return read;
    }

    void onReadable(final long nowNs)
    {
        try
        {
            final int read = readAvailable();
            if (read < 0)
            {
                loop.close(this);
                return;
            }
            loop.counters().bytesReceived.getAndAddRelease(read);
        }
        catch (final IOException ex)
        {
            loop.close(this);
            return;
        }
        process(nowNs);
    }

    void onWritable(final long nowNs)
    {
        process(nowNs);
    }

    public void onSessionResumed()
    {
        if (!closed)
        {
            process(loop.nowNs());
        }
    }

    /**
     * Feed buffered input to the session until it stops taking any, flush replies, then set the interest.
     *
     * @param nowNs loop clock.
     */
    void process(final long nowNs)
    {
        while (!closed)
        {
            int progress = 0;
            final int available = inByteBuffer.limit() - inByteBuffer.position();
            if (available > 0 && !session.isClosing())
            {
                final int consumed = session.onBytes(in, inByteBuffer.position(), available, nowNs);
                inByteBuffer.position(inByteBuffer.position() + consumed);
                progress += consumed;
            }
            if (!flush())
            {
                return;
            }
            if (0 == progress || session.isParked() || !out.hasRoom())
            {
                break;
            }
        }
        if (closed)
        {
            return;
        }
        if (session.isClosing() && 0 == out.pending())
        {
            loop.close(this);
            return;
        }
        compactInput();
        final boolean canRead = !session.isClosing() && inByteBuffer.limit() < inByteBuffer.capacity();
        updateInterest((canRead ? SelectionKey.OP_READ : 0) | (out.pending() > 0 ? SelectionKey.OP_WRITE : 0));
    }

    /**
     * Write what replies are pending.
     *
     * @return false when the connection broke and was closed.
     */
    boolean flush()
    {
        if (0 == out.pending())
        {
            return true;
        }
        try
        {
            final int written = channel.write(out.prepareWrite());
            out.onWritten(written);
            return true;
        }
        catch (final IOException ex)
        {
            loop.close(this);
            return false;
        }
    }

    private void compactInput()
    {
        if (inByteBuffer.position() == inByteBuffer.limit())
        {
            inByteBuffer.position(0).limit(0);
        }
        else if (inByteBuffer.position() > 0)
        {
            final int remaining = inByteBuffer.remaining();
            inByteBuffer.compact();
            inByteBuffer.position(0).limit(remaining);
        }
    }

    private void updateInterest(final int ops)
    {
        if (ops != interestOps && null != key && key.isValid())
        {
            key.interestOps(ops);
            interestOps = ops;
        }
    }

    /**
     * Close the socket (idempotent); the session logs its statistics.
     */
    void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (null != session)
        {
            session.onDisconnect();
        }
        if (null != key)
        {
            key.cancel();
        }
        try
        {
            channel.close();
        }
        catch (final IOException ignore)
        {
            // the peer is gone either way
        }
    }

    boolean isClosed()
    {
        return closed;
    }
}
