package mailgate.reactor;

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
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The one plain blocking SMTP client of the tests: a real socket with a read timeout on every read, raw text or
 * bytes out, CRLF lines and whole replies in.
 * <p>
 * How the end of the connection is reported is chosen per call, because tests ask different questions:
 * {@link #readReply()} and {@link #command(String)} throw {@link EOFException}; the {@code ...OrNull} methods
 * answer null when the server closed or reset the connection; {@link #readReplyLines()} checks the wire format
 * strictly. One reader thread and one writer thread may share a client (pipelining).
 */
public final class SmtpTestClient implements Closeable
{
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(128);

    private SmtpTestClient(final Socket socket) throws IOException
    {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 8192);
        this.out = socket.getOutputStream();
    }

    /**
     * Connect to a loopback port without reading anything.
     *
     * @param port          loopback port.
     * @param readTimeoutMs SO_TIMEOUT of every read, also the connect timeout.
     * @return the connected client.
     * @throws IOException if the connection fails.
     */
    public static SmtpTestClient connect(final int port, final int readTimeoutMs) throws IOException
    {
        return connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), null, readTimeoutMs);
    }

    /**
     * Connect to a loopback port from a given local address (another "client") without reading anything.
     *
     * @param port          loopback port.
     * @param readTimeoutMs SO_TIMEOUT of every read, also the connect timeout.
     * @param localAddress  address to bind the client end to, e.g. "127.0.0.2".
     * @return the connected client.
     * @throws IOException if the connection fails.
     */
    public static SmtpTestClient connect(final int port, final int readTimeoutMs, final String localAddress)
        throws IOException
    {
        return connect(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), port), new InetSocketAddress(localAddress, 0),
            readTimeoutMs);
    }

    private static SmtpTestClient connect(
        final InetSocketAddress address, final InetSocketAddress local, final int readTimeoutMs) throws IOException
    {
        final Socket socket = new Socket();
        try
        {
            if (null != local)
            {
                socket.bind(local);
            }
            socket.connect(address, readTimeoutMs);
            socket.setSoTimeout(readTimeoutMs);
            socket.setTcpNoDelay(true);
            return new SmtpTestClient(socket);
        }
        catch (final IOException ex)
        {
            socket.close();
            throw ex;
        }
    }

    /**
     * Connect to a loopback port, read the greeting and say EHLO.
     *
     * @param port          loopback port.
     * @param readTimeoutMs SO_TIMEOUT of every read.
     * @return a client in the state after EHLO.
     * @throws IOException on I/O errors or a greeting/EHLO that is not 2xx.
     */
    public static SmtpTestClient open(final int port, final int readTimeoutMs) throws IOException
    {
        return open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), readTimeoutMs);
    }

    /**
     * Connect to any address, read the greeting and say EHLO.
     *
     * @param address       the server.
     * @param readTimeoutMs SO_TIMEOUT of every read, also the connect timeout.
     * @return a client in the state after EHLO.
     * @throws IOException on I/O errors or a greeting/EHLO that is not 2xx.
     */
    public static SmtpTestClient open(final InetSocketAddress address, final int readTimeoutMs) throws IOException
    {
        final SmtpTestClient client = connect(address, null, readTimeoutMs);
        try
        {
            final String greeting = client.readReply();
            if (!greeting.startsWith("220"))
            {
                throw new IOException("greeting: " + greeting);
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
            client.close();
            throw ex;
        }
    }

    /**
     * @return the socket, e.g. to change its read timeout.
     */
    public Socket socket()
    {
        return socket;
    }

    /**
     * Read one line, a missing CR tolerated.
     *
     * @return the line without CRLF, or null at end of stream before any byte of it.
     * @throws IOException on end of stream inside the line, a timeout or a reset.
     */
    public String readLine() throws IOException
    {
        return lineOrNullAtEnd(readUntilLf());
    }

    /**
     * Like {@link #readLine()}, but a reset before any byte of the line also counts as the server gone.
     *
     * @return the line without CRLF, or null when the server closed or reset the connection before it.
     * @throws IOException on end of stream inside the line, a timeout or a reset inside the line.
     */
    public String readLineOrNull() throws IOException
    {
        final boolean complete;
        try
        {
            complete = readUntilLf();
        }
        catch (final SocketException ex)
        {
            if (0 == line.size())
            {
                return null;
            }
            throw ex;
        }
        return lineOrNullAtEnd(complete);
    }

    /**
     * Read a whole (possibly multi-line) reply.
     *
     * @return its last line (code, space, text).
     * @throws IOException on end of stream (as {@link EOFException}), a timeout or a reset.
     */
    public String readReply() throws IOException
    {
        while (true)
        {
            final String reply = readLine();
            if (null == reply)
            {
                throw new EOFException("connection closed by the server");
            }
            if (isLastLine(reply))
            {
                return reply;
            }
        }
    }

    /**
     * Read a whole (possibly multi-line) reply, or learn that the server is gone.
     *
     * @return its last line, or null when the server closed or reset the connection before a line.
     * @throws IOException on a timeout or a broken line.
     */
    public String readReplyOrNull() throws IOException
    {
        while (true)
        {
            final String reply = readLineOrNull();
            if (null == reply || isLastLine(reply))
            {
                return reply;
            }
        }
    }

    /**
     * Read one complete reply, insisting on the wire format: every line CRLF-terminated and "NNN-" or "NNN ".
     *
     * @return all its lines without CRLF, the continuation lines first.
     * @throws IOException on a malformed line, end of stream (as {@link EOFException} only between lines), timeout.
     */
    public List<String> readReplyLines() throws IOException
    {
        final List<String> lines = new ArrayList<>();
        while (true)
        {
            final String reply = readCrlfLine();
            lines.add(reply);
            if (reply.length() < 4 || !reply.substring(0, 3).chars().allMatch(Character::isDigit) ||
                (' ' != reply.charAt(3) && '-' != reply.charAt(3)))
            {
                throw new IOException("malformed reply line '" + reply + "' after " + lines);
            }
            if (' ' == reply.charAt(3))
            {
                return lines;
            }
        }
    }

    /**
     * Read whatever CRLF-terminated lines remain until the server closes the connection.
     *
     * @return those lines (possibly none).
     * @throws SocketTimeoutException if the server keeps the connection open.
     * @throws IOException if the server closes in the middle of a line.
     */
    public List<String> readUntilClosed() throws IOException
    {
        final List<String> lines = new ArrayList<>();
        while (true)
        {
            try
            {
                lines.add(readCrlfLine());
            }
            catch (final EOFException ex)
            {
                return lines;
            }
        }
    }

    /**
     * Discard input until the server closes the connection or the read timeout passes.
     *
     * @return true if the server closed the connection (end of stream or reset) within the read timeout.
     * @throws IOException on other read errors.
     */
    public boolean closedByServer() throws IOException
    {
        try
        {
            while (true)
            {
                if (in.read() < 0)
                {
                    return true;
                }
            }
        }
        catch (final SocketTimeoutException ex)
        {
            return false;
        }
        catch (final SocketException ex)
        {
            return true;
        }
    }

    /**
     * Write raw bytes and flush.
     *
     * @param bytes what goes on the wire.
     * @throws IOException on a write error.
     */
    public void write(final byte[] bytes) throws IOException
    {
        out.write(bytes);
        out.flush();
    }

    /**
     * Write raw text (UTF-8, CRLFs included by the caller) and flush, e.g. pipelined commands whose replies are
     * read later, possibly on another thread.
     *
     * @param text what goes on the wire.
     * @throws IOException on a write error.
     */
    public void write(final String text) throws IOException
    {
        write(text.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Send one command line without reading its reply.
     *
     * @param command command without CRLF.
     * @throws IOException on a write error.
     */
    public void sendLine(final String command) throws IOException
    {
        write(command + "\r\n");
    }

    /**
     * @param command command without CRLF.
     * @return the last line of its reply.
     * @throws IOException on I/O errors, end of stream included (as {@link EOFException}).
     */
    public String command(final String command) throws IOException
    {
        sendLine(command);
        return readReply();
    }

    /**
     * @param command command without CRLF.
     * @return the last line of its reply, or null when the server closed or reset the connection instead.
     * @throws IOException on a write error, a timeout or a broken line.
     */
    public String commandOrNull(final String command) throws IOException
    {
        sendLine(command);
        return readReplyOrNull();
    }

    /**
     * Send a command and insist on a reply code.
     *
     * @param command command without CRLF.
     * @param code    expected code prefix, e.g. "250".
     * @return the last line of the reply.
     * @throws IOException on I/O errors or another reply (as {@link UnexpectedReplyException}).
     */
    public String expect(final String command, final String code) throws IOException
    {
        final String reply = command(command);
        if (!reply.startsWith(code))
        {
            throw new UnexpectedReplyException(command + " -> " + reply);
        }
        return reply;
    }

    /**
     * DATA, the content as is (no dot-stuffing), end of data.
     *
     * @param content message text, every line ending in CRLF, no line starting with a dot.
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
        write(content + ".\r\n");
        return readReply();
    }

    /**
     * One transaction in the current session, every step checked.
     *
     * @param from       sender.
     * @param recipients recipients.
     * @param body       message text with CRLF line ends, dot-stuffed here.
     * @return the queue id from "250 2.0.0 Ok: queued as ID".
     * @throws IOException on I/O errors or an unexpected reply.
     */
    public String sendMail(final String from, final List<String> recipients, final String body) throws IOException
    {
        expect("MAIL FROM:<" + from + ">", "250");
        for (final String recipient : recipients)
        {
            expect("RCPT TO:<" + recipient + ">", "250");
        }
        expect("DATA", "354");
        final String content = body.endsWith("\r\n") ? body : body + "\r\n";
        write(dotStuff(content.getBytes(StandardCharsets.UTF_8)));
        final String reply = check(readReply(), "250");
        return reply.substring(reply.lastIndexOf(' ') + 1).trim();
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

    /**
     * Close the socket; the test only wants it gone.
     */
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
     * @param reply a reply line, possibly null for a closed connection.
     * @param code  expected code prefix.
     * @return the reply.
     * @throws UnexpectedReplyException if the reply is null or has another code.
     */
    public static String check(final String reply, final String code) throws UnexpectedReplyException
    {
        if (null == reply || !reply.startsWith(code))
        {
            throw new UnexpectedReplyException("expected " + code + ", got " + reply);
        }
        return reply;
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
        try (SmtpTestClient client = open(port, 15_000))
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

    /**
     * A whole transaction on a fresh connection (a@example.test to b@example.test), then QUIT unread.
     *
     * @param port smtpd port.
     * @param body message text, every line ending in CRLF, no line starting with a dot.
     * @return the reply to the end of data, or null if the server closed the connection instead.
     * @throws IOException on I/O errors or an unexpected reply before the data.
     */
    public static String sendMessage(final int port, final String body) throws IOException
    {
        try (SmtpTestClient client = connect(port, 15_000))
        {
            check(client.readReplyOrNull(), "220");
            check(client.commandOrNull("EHLO client.test"), "250");
            check(client.commandOrNull("MAIL FROM:<a@example.test>"), "250");
            check(client.commandOrNull("RCPT TO:<b@example.test>"), "250");
            check(client.commandOrNull("DATA"), "354");
            client.write(body + ".\r\n");
            final String reply = client.readReplyOrNull();
            client.write("QUIT\r\n");
            return reply;
        }
    }

    /**
     * Dot-stuff CRLF-terminated content and append the end-of-data line.
     *
     * @param content message content, every line ending in CRLF.
     * @return what goes on the wire after 354.
     */
    public static byte[] dotStuff(final byte[] content)
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

    private static boolean isLastLine(final String reply)
    {
        return reply.length() < 4 || ' ' == reply.charAt(3);
    }

    /**
     * @return true at LF (not kept), false at end of stream; either way {@link #line} holds the bytes before.
     */
    private boolean readUntilLf() throws IOException
    {
        line.reset();
        int b;
        while ((b = in.read()) >= 0)
        {
            if ('\n' == b)
            {
                return true;
            }
            line.write(b);
        }
        return false;
    }

    private String lineOrNullAtEnd(final boolean complete) throws EOFException
    {
        if (!complete)
        {
            if (0 == line.size())
            {
                return null;
            }
            throw new EOFException("end of stream inside a line: " + line.toString(StandardCharsets.UTF_8));
        }
        final byte[] bytes = line.toByteArray();
        final int length = bytes.length > 0 && '\r' == bytes[bytes.length - 1] ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
    }

    /**
     * @return a line that must end in CRLF, without it.
     * @throws EOFException at end of stream before any byte, another IOException inside a line or without CR.
     */
    private String readCrlfLine() throws IOException
    {
        final boolean complete = readUntilLf();
        final String text = line.toString(StandardCharsets.UTF_8);
        if (!complete && line.size() > 0)
        {
            throw new IOException("connection closed in the middle of reply line '" + text + "'");
        }
        if (!complete)
        {
            throw new EOFException("connection closed before a reply line");
        }
        if (!text.endsWith("\r"))
        {
            throw new IOException("reply line not ended by CRLF: '" + text + "'");
        }
        return text.substring(0, text.length() - 1);
    }

    /** A complete reply with a code the test did not expect. */
    public static final class UnexpectedReplyException extends IOException
    {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what was sent and what came back.
         */
        public UnexpectedReplyException(final String message)
        {
            super(message);
        }
    }
}
