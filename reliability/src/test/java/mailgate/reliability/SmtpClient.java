package mailgate.reliability;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;

/**
 * A plain blocking SMTP client over loopback: raw bytes out, CRLF reply lines in.
 */
final class SmtpClient implements Closeable
{
    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private SmtpClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 65536);
        this.out = socket.getOutputStream();
    }

    static SmtpClient connect(final int port, final int readTimeoutMs) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), readTimeoutMs);
            socket.setSoTimeout(readTimeoutMs);
            socket.setTcpNoDelay(true);
            return new SmtpClient(socket);
        }
        catch (final IOException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /**
     * @return one line without CRLF, or null at end of stream (or a reset) before any byte.
     */
    String readLine() throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true)
        {
            final int b;
            try
            {
                b = in.read();
            }
            catch (final SocketException ex)
            {
                if (0 == line.size())
                {
                    return null;
                }
                throw ex;
            }
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
                return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
        }
    }

    /**
     * @return the last line of one (possibly multi-line) reply, or null at end of stream.
     */
    String readReply() throws IOException
    {
        while (true)
        {
            final String line = readLine();
            if (null == line || line.length() < 4 || ' ' == line.charAt(3))
            {
                return line;
            }
        }
    }

    void write(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    void write(final String text) throws IOException
    {
        write(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    String command(final String line) throws IOException
    {
        write(line + "\r\n");
        return readReply();
    }

    /**
     * @return true if the server closed the connection (end of stream or reset) within the read timeout.
     */
    boolean closedByServer() throws IOException
    {
        try
        {
            while (true)
            {
                final int b = in.read();
                if (b < 0)
                {
                    return true;
                }
            }
        }
        catch (final java.net.SocketTimeoutException ex)
        {
            return false;
        }
        catch (final SocketException ex)
        {
            return true;
        }
    }

    /**
     * A whole transaction on a fresh connection.
     *
     * @return the reply to the end of data.
     */
    static String sendMessage(final int port, final String body) throws IOException
    {
        try (SmtpClient client = connect(port, 15_000))
        {
            check(client.readReply(), "220");
            check(client.command("EHLO client.test"), "250");
            check(client.command("MAIL FROM:<a@example.test>"), "250");
            check(client.command("RCPT TO:<b@example.test>"), "250");
            check(client.command("DATA"), "354");
            client.write(body + ".\r\n");
            final String reply = client.readReply();
            client.write("QUIT\r\n");
            return reply;
        }
    }

    static void check(final String reply, final String code) throws IOException
    {
        if (null == reply || !reply.startsWith(code))
        {
            throw new IOException("expected " + code + ", got " + reply);
        }
    }

    public void close() throws IOException
    {
        socket.close();
    }
}
