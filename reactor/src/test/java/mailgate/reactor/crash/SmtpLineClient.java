package mailgate.reactor.crash;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * A deliberately plain blocking SMTP client for the crash tests: one socket, a read timeout, CRLF lines,
 * its own dot-stuffing.
 */
final class SmtpLineClient implements Closeable
{
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private SmtpLineClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 4096);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 16384);
    }

    /**
     * @param port          loopback port.
     * @param readTimeoutMs SO_TIMEOUT for every read.
     * @return a connected client (nothing read yet).
     * @throws IOException if the connection fails.
     */
    static SmtpLineClient connect(final int port, final int readTimeoutMs) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), readTimeoutMs);
            socket.setSoTimeout(readTimeoutMs);
            socket.setTcpNoDelay(true);
            return new SmtpLineClient(socket);
        }
        catch (final IOException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /**
     * Read one line without its CRLF.
     *
     * @return the line, or null at end of stream before any byte.
     * @throws IOException on a timeout or reset.
     */
    String readLine() throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true)
        {
            final int b = in.read();
            if (b < 0)
            {
                if (0 == line.size())
                {
                    return null;
                }
                throw new EOFException("end of stream inside a line: " + line.toString(StandardCharsets.UTF_8));
            }
            if ('\n' == b)
            {
                final byte[] bytes = line.toByteArray();
                final int length = bytes.length > 0 && '\r' == bytes[bytes.length - 1] ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, length, StandardCharsets.UTF_8);
            }
            line.write(b);
        }
    }

    /**
     * Read a whole (possibly multi-line) reply.
     *
     * @return its last line (code, space, text).
     * @throws IOException on end of stream, timeout or reset.
     */
    String readReply() throws IOException
    {
        while (true)
        {
            final String line = readLine();
            if (null == line)
            {
                throw new EOFException("connection closed by the server");
            }
            if (line.length() < 4 || ' ' == line.charAt(3))
            {
                return line;
            }
        }
    }

    /**
     * @param line command without CRLF.
     * @throws IOException on a write error.
     */
    void send(final String line) throws IOException
    {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /**
     * @param line command.
     * @return the reply's last line.
     * @throws IOException on I/O errors.
     */
    String command(final String line) throws IOException
    {
        send(line);
        return readReply();
    }

    /**
     * Send a command and insist on a reply code.
     *
     * @param line command.
     * @param code expected three-digit code.
     * @return the reply.
     * @throws IOException on I/O errors or another reply (as {@link UnexpectedReplyException}).
     */
    String expect(final String line, final String code) throws IOException
    {
        final String reply = command(line);
        if (!reply.startsWith(code))
        {
            throw new UnexpectedReplyException(line + " -> " + reply);
        }
        return reply;
    }

    /**
     * @param bytes raw bytes to write and flush.
     * @throws IOException on a write error.
     */
    void write(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    Socket socket()
    {
        return socket;
    }

    public void close()
    {
        try
        {
            socket.close();
        }
        catch (final IOException ignore)
        {
            // the test only wanted it gone
        }
    }

    /**
     * Dot-stuff CRLF-terminated content and append the end-of-data line.
     *
     * @param content message content, every line ending in CRLF.
     * @return what goes on the wire after 354.
     */
    static byte[] dotStuff(final byte[] content)
    {
        final ByteArrayOutputStream wire = new ByteArrayOutputStream(content.length + content.length / 50 + 8);
        boolean lineStart = true;
        for (final byte b : content)
        {
            if (lineStart && '.' == b)
            {
                wire.write('.');
            }
            wire.write(b);
            lineStart = '\n' == b;
        }
        if (!lineStart)
        {
            throw new IllegalArgumentException("content must end with CRLF");
        }
        wire.write('.');
        wire.write('\r');
        wire.write('\n');
        return wire.toByteArray();
    }

    /**
     * Random message content of about the given size: a few headers naming the test id, then text lines
     * (some start with dots, some are empty, none is longer than 998 octets), every line CRLF-terminated.
     *
     * @param random source.
     * @param testId unique id put in the X-Test-Id header.
     * @param size   target length in octets (at least 200).
     * @return the content.
     */
    static byte[] randomContent(final Random random, final String testId, final int size)
    {
        final ByteArrayOutputStream content = new ByteArrayOutputStream(size + 1024);
        final String headers = "Message-ID: <" + testId + "@crash.test>\r\n" +
            "X-Test-Id: " + testId + "\r\n" +
            "From: <sender@crash.test>\r\n" +
            "To: <rcpt@crash.test>\r\n" +
            "Subject: crash consistency " + testId + "\r\n" +
            "\r\n";
        content.writeBytes(headers.getBytes(StandardCharsets.US_ASCII));
        while (content.size() + 2 <= size)
        {
            final int room = size - content.size() - 2;
            final int kind = random.nextInt(12);
            if (0 == kind)
            {
                content.write('.');
            }
            else if (1 == kind && room >= 2)
            {
                content.write('.');
                content.write('.');
            }
            else if (2 != kind)
            {
                final int length = Math.min(room, random.nextInt(900));
                for (int i = 0; i < length; i++)
                {
                    final int c = 0 == i && 3 == kind ? '.' : 0 == random.nextInt(40) ? '\t' : 0x20 + random.nextInt(95);
                    content.write(c);
                }
            }
            content.write('\r');
            content.write('\n');
        }
        return content.toByteArray();
    }

    /** A complete reply with a code the test did not expect. */
    static final class UnexpectedReplyException extends IOException
    {
        private static final long serialVersionUID = 1L;

        UnexpectedReplyException(final String message)
        {
            super(message);
        }
    }
}
