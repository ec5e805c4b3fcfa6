package mailgate.reactor.it;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A raw SMTP client socket: send bytes, read complete (multi-line) replies, detect the server's close.
 */
final class SmtpWire implements AutoCloseable
{
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    SmtpWire(final int port, final int readTimeoutMs) throws IOException
    {
        this(port, readTimeoutMs, null);
    }

    SmtpWire(final int port, final int readTimeoutMs, final String localAddress) throws IOException
    {
        socket = new Socket();
        if (null != localAddress)
        {
            socket.bind(new InetSocketAddress(localAddress, 0));
        }
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        socket.setSoTimeout(readTimeoutMs);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    void send(final String text) throws IOException
    {
        send(text.getBytes(StandardCharsets.UTF_8));
    }

    void send(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    /**
     * @return one reply line without CRLF; EOFException if the server closed first.
     */
    String readLine() throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true)
        {
            final int b = in.read();
            if (b < 0 && line.size() > 0)
            {
                throw new IOException("connection closed in the middle of reply line '" +
                    line.toString(StandardCharsets.UTF_8) + "'");
            }
            if (b < 0)
            {
                throw new EOFException("connection closed after '" + line.toString(StandardCharsets.UTF_8) + "'");
            }
            if ('\n' == b)
            {
                final byte[] bytes = line.toByteArray();
                if (0 == bytes.length || '\r' != bytes[bytes.length - 1])
                {
                    throw new IOException("reply line not ended by CRLF: '" +
                        line.toString(StandardCharsets.UTF_8) + "'");
                }
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.UTF_8);
            }
            line.write(b);
        }
    }

    /**
     * @return the lines of one complete reply ("NNN-..." continuation lines then "NNN ...").
     */
    List<String> readReply() throws IOException
    {
        final List<String> lines = new ArrayList<>();
        while (true)
        {
            final String line = readLine();
            lines.add(line);
            if (line.length() < 4 || !line.substring(0, 3).chars().allMatch(Character::isDigit) ||
                (' ' != line.charAt(3) && '-' != line.charAt(3)))
            {
                throw new IOException("malformed reply line '" + line + "' after " + lines);
            }
            if (' ' == line.charAt(3))
            {
                return lines;
            }
        }
    }

    /**
     * Read whatever reply lines remain until the server closes the connection.
     *
     * @return those lines (possibly none).
     * @throws SocketTimeoutException if the server keeps the connection open.
     */
    List<String> readUntilClosed() throws IOException
    {
        final List<String> lines = new ArrayList<>();
        while (true)
        {
            try
            {
                lines.add(readLine());
            }
            catch (final EOFException ex)
            {
                return lines;
            }
        }
    }

    public void close() throws IOException
    {
        socket.close();
    }
}
