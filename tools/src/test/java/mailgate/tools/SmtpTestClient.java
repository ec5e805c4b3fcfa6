package mailgate.tools;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A plain-socket SMTP client for tests: one command, one complete (possibly multiline) reply, checked.
 * Every read has a socket timeout, so a silent server fails the test instead of hanging it.
 */
final class SmtpTestClient implements AutoCloseable
{
    private static final int READ_TIMEOUT_MS = 15_000;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    SmtpTestClient(final int port) throws IOException
    {
        socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(READ_TIMEOUT_MS);
        in = socket.getInputStream();
        out = socket.getOutputStream();
        expect("220");
        command("EHLO client.test", "250");
    }

    /**
     * Send one message in one transaction.
     *
     * @param from       sender.
     * @param recipients recipients.
     * @param body       message text with CRLF line ends, without the final dot.
     * @return the queue id from "250 2.0.0 Ok: queued as ID".
     * @throws IOException on a socket error or an unexpected reply.
     */
    String send(final String from, final List<String> recipients, final String body) throws IOException
    {
        command("MAIL FROM:<" + from + ">", "250");
        for (final String recipient : recipients)
        {
            command("RCPT TO:<" + recipient + ">", "250");
        }
        command("DATA", "354");
        final StringBuilder data = new StringBuilder(body.length() + 16);
        for (final String line : body.split("\r\n", -1))
        {
            if (line.startsWith("."))
            {
                data.append('.');
            }
            data.append(line).append("\r\n");
        }
        if (body.endsWith("\r\n"))
        {
            data.setLength(data.length() - 2);
        }
        data.append(".\r\n");
        out.write(data.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        final String reply = expect("250");
        return reply.substring(reply.lastIndexOf(' ') + 1).trim();
    }

    String command(final String line, final String code) throws IOException
    {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        return expect(code);
    }

    private String expect(final String code) throws IOException
    {
        String line;
        final StringBuilder all = new StringBuilder();
        do
        {
            line = readLine();
            all.append(line).append('\n');
        }
        while (line.length() > 3 && '-' == line.charAt(3));
        if (!line.startsWith(code))
        {
            throw new IOException("expected " + code + ", got: " + all);
        }
        return line;
    }

    private String readLine() throws IOException
    {
        final ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0 && '\n' != b)
        {
            if ('\r' != b)
            {
                line.write(b);
            }
        }
        if (b < 0)
        {
            throw new IOException("connection closed after: " + line);
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    public void close() throws IOException
    {
        try
        {
            command("QUIT", "221");
        }
        finally
        {
            socket.close();
        }
    }
}
