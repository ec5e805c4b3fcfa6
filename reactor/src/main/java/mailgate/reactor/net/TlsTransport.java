/*
 * SUMMARY
 * One connection's TLS record layer: a JSSE SSLEngine driven by the event loop, with the socket-side
 * (ciphertext) buffers and the decrypted input waiting for the session.
 *
 * DESCRIPTION
 * Nothing blocks. advance() runs the engine as far as the bytes at hand allow: delegated tasks (run inline:
 * for a server they are key exchange and signing, well under a millisecond with the EC certificate and a few
 * with RSA-2048, which is less than one loop cycle of pipelined replies), handshake records out (written at
 * once, or left for OP_WRITE), records in (decrypted into appIn until it is full, so a slow session
 * back-pressures the socket). wrap() encrypts reply bytes. The loop never waits for the peer.
 *
 * LIMITS
 * Three buffers per encrypted connection, about 50 KiB (packet size in, packet size out, application size
 * in), on the heap, allocated at STARTTLS or accept and dropped with the connection. Renegotiation does not
 * exist in TLS 1.3 and JSSE refuses client-initiated renegotiation in 1.2 by default.
 */
package mailgate.reactor.net;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * SSLEngine plumbing for one non-blocking connection.
 */
final class TlsTransport
{
    /** advance(): go on (more input may be needed). */
    static final int OK = 0;
    /** advance(): the peer closed the TLS session (close_notify). */
    static final int PEER_CLOSED = 1;

    private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

    private final SocketChannel channel;
    private final SSLEngine engine;
    /** Write mode: [0, position) received, not yet unwrapped. */
    private final ByteBuffer netIn;
    /** Read mode: [position, limit) encrypted, not yet written. */
    private final ByteBuffer netOut;
    /** Write mode: [0, position) decrypted, not yet given to the session. */
    private final ByteBuffer appIn;
    private boolean handshakeDone;
    private boolean handshakeJustDone;
    private long bytesRead;

    TlsTransport(final SocketChannel channel, final SSLEngine engine) throws SSLException
    {
        this.channel = channel;
        this.engine = engine;
        final SSLSession session = engine.getSession();
        netIn = ByteBuffer.allocate(session.getPacketBufferSize());
        netOut = ByteBuffer.allocate(session.getPacketBufferSize());
        netOut.limit(0);
        appIn = ByteBuffer.allocate(session.getApplicationBufferSize());
        engine.beginHandshake();
    }

    /**
     * Read ciphertext from the socket.
     *
     * @return bytes read, -1 at end of stream.
     * @throws IOException if the socket broke.
     */
    int read() throws IOException
    {
        final int read = channel.read(netIn);
        if (read > 0)
        {
            bytesRead += read;
        }
        return read;
    }

    /**
     * @return true when there is room to read more ciphertext.
     */
    boolean canRead()
    {
        return netIn.hasRemaining();
    }

    /**
     * @return true while encrypted bytes wait for the socket.
     */
    boolean hasPendingOutput()
    {
        return netOut.hasRemaining();
    }

    boolean isHandshakeDone()
    {
        return handshakeDone;
    }

    /**
     * @return true once, right after the handshake finished.
     */
    boolean takeHandshakeDone()
    {
        final boolean done = handshakeJustDone;
        handshakeJustDone = false;
        return done;
    }

    String protocol()
    {
        return engine.getSession().getProtocol();
    }

    String cipherSuite()
    {
        return engine.getSession().getCipherSuite();
    }

    /**
     * Run the engine: tasks, handshake records both ways, and decryption of what has arrived.
     *
     * @return {@link #OK} or {@link #PEER_CLOSED}.
     * @throws SSLException if the peer broke the protocol (the handshake failed).
     * @throws IOException  if the socket broke.
     */
    int advance() throws IOException
    {
        while (true)
        {
            if (netOut.hasRemaining() && !writePending())
            {
                return OK;
            }
            final SSLEngineResult.HandshakeStatus status = engine.getHandshakeStatus();
            switch (status)
            {
                case NEED_TASK:
                    runTasks();
                    break;
                case NEED_WRAP:
                {
                    netOut.clear();
                    final SSLEngineResult result;
                    try
                    {
                        result = engine.wrap(EMPTY, netOut);
                    }
                    finally
                    {
                        netOut.flip();
                    }
                    onResult(result);
                    if (SSLEngineResult.Status.CLOSED == result.getStatus() && !netOut.hasRemaining())
                    {
                        return PEER_CLOSED;
                    }
                    break;
                }
                default:
                {
                    if (0 == netIn.position() && SSLEngineResult.HandshakeStatus.NEED_UNWRAP_AGAIN != status)
                    {
                        return OK;
                    }
                    netIn.flip();
                    final SSLEngineResult result;
                    try
                    {
                        result = engine.unwrap(netIn, appIn);
                    }
                    finally
                    {
                        netIn.compact();
                    }
                    onResult(result);
                    switch (result.getStatus())
                    {
                        case BUFFER_UNDERFLOW:
                        case BUFFER_OVERFLOW:
                            // need more ciphertext, or the session must take what was decrypted first
                            return OK;
                        case CLOSED:
                            return PEER_CLOSED;
                        default:
                            if (0 == result.bytesConsumed() && 0 == result.bytesProduced() &&
                                engine.getHandshakeStatus() == status)
                            {
                                return OK;
                            }
                            break;
                    }
                    break;
                }
            }
        }
    }

    /**
     * Move decrypted input into the connection's input buffer.
     *
     * @param dst in write mode (position at the end of unread input, limit at capacity).
     * @return bytes moved.
     */
    int drainTo(final ByteBuffer dst)
    {
        if (0 == appIn.position() || !dst.hasRemaining())
        {
            return 0;
        }
        appIn.flip();
        final int n = Math.min(appIn.remaining(), dst.remaining());
        final int limit = appIn.limit();
        appIn.limit(appIn.position() + n);
        dst.put(appIn);
        appIn.limit(limit);
        appIn.compact();
        return n;
    }

    /**
     * @return true while decrypted input waits for room in the connection's buffer.
     */
    boolean hasDecryptedInput()
    {
        return appIn.position() > 0;
    }

    /**
     * Encrypt and write application bytes.
     *
     * @param src the reply bytes; its position advances over what was encrypted.
     * @return bytes of src consumed.
     * @throws IOException if the socket or the engine broke.
     */
    int wrap(final ByteBuffer src) throws IOException
    {
        int consumed = 0;
        while (src.hasRemaining())
        {
            if (netOut.hasRemaining() && !writePending())
            {
                break;
            }
            netOut.clear();
            final SSLEngineResult result;
            try
            {
                result = engine.wrap(src, netOut);
            }
            finally
            {
                netOut.flip();
            }
            onResult(result);
            if (SSLEngineResult.Status.CLOSED == result.getStatus())
            {
                throw new SSLException("TLS session closed");
            }
            consumed += result.bytesConsumed();
            if (0 == result.bytesConsumed() && !netOut.hasRemaining())
            {
                break;
            }
        }
        if (netOut.hasRemaining())
        {
            writePending();
        }
        return consumed;
    }

    /**
     * Write what is encrypted and waiting.
     *
     * @return true when nothing is left.
     * @throws IOException if the socket broke.
     */
    boolean writePending() throws IOException
    {
        while (netOut.hasRemaining())
        {
            if (0 == channel.write(netOut))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Send close_notify, or the alert of a failed handshake, if the socket takes it now; never waits.
     */
    void closeQuietly()
    {
        try
        {
            engine.closeOutbound();
            if (!netOut.hasRemaining() || writePending())
            {
                netOut.clear();
                try
                {
                    engine.wrap(EMPTY, netOut);
                }
                finally
                {
                    netOut.flip();
                }
                writePending();
            }
        }
        catch (final IOException | RuntimeException ignore)
        {
            // the connection is being dropped either way
        }
    }

    private void onResult(final SSLEngineResult result)
    {
        if (SSLEngineResult.HandshakeStatus.FINISHED == result.getHandshakeStatus() && !handshakeDone)
        {
            handshakeDone = true;
            handshakeJustDone = true;
        }
    }

    private void runTasks()
    {
        Runnable task;
        while (null != (task = engine.getDelegatedTask()))
        {
            task.run();
        }
    }

    long bytesRead()
    {
        return bytesRead;
    }
}
