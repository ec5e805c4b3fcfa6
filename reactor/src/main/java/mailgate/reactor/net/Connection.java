/*
 * SUMMARY
 * One client connection on its event loop: socket, input buffer, reply buffer, SMTP session, and the TLS
 * record layer once the connection is encrypted.
 *
 * DESCRIPTION
 * The session only ever sees clear text: without TLS the socket is read straight into the input buffer;
 * with TLS the socket is read into the TlsTransport, which decrypts into the same input buffer, and replies
 * are encrypted on flush. STARTTLS: when the session answers 220 it raises a flag (takeStartTls); from then
 * on the socket is not read in clear text, and as soon as the 220 is written the input buffer is emptied
 * (anything left there was pipelined behind STARTTLS and is never executed) and the handshake begins.
 *
 * SECURITY
 * A failed handshake (garbage, a protocol version below TLS 1.2, an unknown cipher) closes the connection
 * after a best-effort alert; a stalled one is closed by the session's handshake timeout.
 */
package mailgate.reactor.net;

import mailgate.reactor.smtp.ReplyBuffer;
import mailgate.reactor.smtp.SessionHost;
import mailgate.reactor.smtp.SmtpSession;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
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
    private TlsTransport tls;
    private boolean startTlsAfterFlush;
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

    /**
     * Begin a TLS handshake now (implicit TLS at accept, or STARTTLS once its 220 is written).
     *
     * @param engine a fresh server engine.
     * @throws SSLException if the engine cannot start.
     */
    void startTls(final SSLEngine engine) throws SSLException
    {
        startTlsAfterFlush = false;
        final int discarded = inByteBuffer.remaining();
        inByteBuffer.position(0).limit(0);
        if (discarded > 0)
        {
            session.onInputDiscarded(discarded);
        }
        tls = new TlsTransport(channel, engine);
    }

    void onReadable(final long nowNs)
    {
        try
        {
            final int read = null == tls ? readAvailable() : tls.read();
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
            if (null != tls)
            {
                final int moved = pumpTls(nowNs);
                if (moved < 0)
                {
                    return;
                }
                progress += moved;
            }
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
            if (session.takeStartTls())
            {
                startTlsAfterFlush = true;
            }
            if (startTlsAfterFlush && 0 == out.pending() && !session.isClosing())
            {
                try
                {
                    startTls(loop.tlsContext().newEngine());
                }
                catch (final SSLException | RuntimeException ex)
                {
                    session.onTlsFailed(String.valueOf(ex.getMessage()));
                    loop.close(this);
                    return;
                }
                progress++;
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
        final boolean canRead = !session.isClosing() && (null == tls ?
            !startTlsAfterFlush && inByteBuffer.limit() < inByteBuffer.capacity() : tls.canRead());
        final boolean mustWrite = out.pending() > 0 || (null != tls && tls.hasPendingOutput());
        updateInterest((canRead ? SelectionKey.OP_READ : 0) | (mustWrite ? SelectionKey.OP_WRITE : 0));
    }

    /**
     * Drive the TLS engine and move decrypted bytes into the input buffer.
     *
     * @return bytes moved, or -1 when the connection was closed.
     */
    private int pumpTls(final long nowNs)
    {
        try
        {
            final int status = tls.advance();
            if (tls.takeHandshakeDone())
            {
                session.onTlsStarted(tls.protocol(), tls.cipherSuite(), nowNs);
            }
            int moved = 0;
            if (tls.isHandshakeDone() && tls.hasDecryptedInput())
            {
                final int start = inByteBuffer.position();
                final int limit = inByteBuffer.limit();
                inByteBuffer.position(limit).limit(inByteBuffer.capacity());
                moved = tls.drainTo(inByteBuffer);
                inByteBuffer.limit(inByteBuffer.position()).position(start);
                if (moved > 0)
                {
                    // decrypting may have made room for more records
                    tls.advance();
                }
            }
            if (TlsTransport.PEER_CLOSED == status && 0 == moved)
            {
                loop.close(this);
                return -1;
            }
            return moved;
        }
        catch (final SSLException ex)
        {
            if (!tls.isHandshakeDone())
            {
                session.onTlsFailed(String.valueOf(ex.getMessage()));
            }
            loop.close(this);
            return -1;
        }
        catch (final IOException ex)
        {
            loop.close(this);
            return -1;
        }
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
            if (null != tls)
            {
                if (!tls.isHandshakeDone())
                {
                    return true;
                }
                out.onWritten(tls.wrap(out.prepareWrite()));
                return true;
            }
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
        if (null != tls)
        {
            tls.closeQuietly();
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
