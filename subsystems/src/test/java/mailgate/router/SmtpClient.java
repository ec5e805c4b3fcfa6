package mailgate.router;

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

/**
 * A plain blocking SMTP client over a raw loopback socket: CRLF lines, whole replies, a read timeout.
 */
public final class SmtpClient implements Closeable
{
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String greeting;

    private SmtpClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 4096);
        this.out = new BufferedOutputStream(socket.getOutputStream(), 8192);
        this.greeting = readReply();
    }

    /**
     * Connect, read the greeting and say EHLO.
     *
     * @param port          loopback port.
     * @param readTimeoutMs SO_TIMEOUT of every read.
     * @return a client in the state after EHLO.
     * @throws IOException on I/O errors or a greeting/EHLO that is not 2xx.
     */
    public static SmtpClient open(final int port, final int readTimeoutMs) throws IOException
    {
        return open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), readTimeoutMs);
    }

    /**
     * Connect to any address, read the greeting and say EHLO.
     *
     * @param address       the server.
     * @param readTimeoutMs SO_TIMEOUT of every read (and the connect timeout).
     * @return a client in the state after EHLO.
     * @throws IOException on I/O errors or a greeting/EHLO that is not 2xx.
     */
    public static SmtpClient open(final InetSocketAddress address, final int readTimeoutMs) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            socket.connect(address, readTimeoutMs);
            socket.setSoTimeout(readTimeoutMs);
            socket.setTcpNoDelay(true);
            final SmtpClient client = new SmtpClient(socket);
            if (!client.greeting.startsWith("220"))
            {
                throw new IOException("greeting: " + client.greeting);
            }
            final String ehlo = client.command("EHLO client.test");
            if (!ehlo.startsWith("250"))
            {
                throw new IOException("EHLO: " + ehlo);
            }
            return client;
        }
        catch (final IOException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /**
     * @return the last line of the next (possibly multi-line) reply.
     * @throws IOException on end of stream or timeout.
     */
    public String readReply() throws IOException
    {
        while (true)
        {
            final String line = readLine();
            if (line.length() < 4 || ' ' == line.charAt(3))
            {
                return line;
            }
        }
    }

    private String readLine() throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream(128);
        while (true)
        {
            final int b = in.read();
            if (b < 0)
            {
                throw new EOFException("connection closed by the server after '" +
                    line.toString(StandardCharsets.UTF_8) + "'");
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
     * Pipelining: write commands and flush without reading their replies (read them with {@link #readReply()},
     * possibly on another thread).
     *
     * @param lines commands with their CRLFs.
     * @throws IOException on I/O errors.
     */
    public void send(final String lines) throws IOException
    {
        out.write(lines.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /**
     * @param line command without CRLF.
     * @return last line of the reply.
     * @throws IOException on I/O errors.
     */
    public String command(final String line) throws IOException
    {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return readReply();
    }

    /**
     * DATA, the content (CRLF lines, no line starting with a dot), end of data.
     *
     * @param content message text, every line ending in CRLF.
     * @return the reply to DATA when it is not 354, else the reply after end of data.
     * @throws IOException on I/O errors.
     */
    public String data(final String content) throws IOException
    {
        final String go = command("DATA");
        if (!go.startsWith("354"))
        {
            return go;
        }
        out.write((content + ".\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return readReply();
    }

    /**
     * QUIT without caring for the answer, then close.
     */
    public void quit()
    {
        try
        {
            command("QUIT");
        }
        catch (final IOException ignore)
        {
            // closing anyway
        }
        close();
    }

    public void close()
    {
        try
        {
            socket.close();
        }
        catch (final IOException ignore)
        {
            // gone is gone
        }
    }

    /**
     * One fresh session: EHLO, MAIL FROM, optionally RCPT TO, QUIT.
     *
     * @param port      smtpd port.
     * @param sender    MAIL FROM address.
     * @param recipient RCPT TO address, or null for none.
     * @return the MAIL reply, or the RCPT reply when MAIL got 250 and a recipient was given.
     * @throws IOException on I/O errors.
     */
    public static String probe(final int port, final String sender, final String recipient) throws IOException
    {
        try (SmtpClient client = open(port, 15_000))
        {
            final String mail = client.command("MAIL FROM:<" + sender + ">");
            if (null == recipient || !mail.startsWith("250"))
            {
                client.quit();
                return mail;
            }
            final String rcpt = client.command("RCPT TO:<" + recipient + ">");
            client.quit();
            return rcpt;
        }
    }
}
