/*
 * SUMMARY
 * Blocking SMTP / LMTP (RFC 5321, RFC 2033) client for one worker: one connection, reused across messages,
 * closed with QUIT after handoff.idle-timeout.
 *
 * DESCRIPTION
 * Session: greeting 220, EHLO (LHLO for LMTP; SMTP falls back to HELO on a 5xx EHLO). Transaction: MAIL FROM
 * with the original sender, RCPT TO per recipient, DATA, the message part dot-stuffed, ".". With PIPELINING
 * the MAIL, RCPT and DATA commands go in one write (RFC 2920). The client's ESMTP parameters are passed on
 * only when the hop offers the extension they belong to (SIZE is recomputed, BODY needs 8BITMIME, SMTPUTF8
 * needs SMTPUTF8, RET/ENVID/NOTIFY/ORCPT need DSN).
 *
 * Replies: SMTP gives one reply after "." for all accepted recipients; LMTP gives one per accepted recipient.
 * A failure of the session itself (connect, greeting, EHLO) is always a deferral (4xx), even when the hop
 * said 5xx, so a misconfigured hop cannot bounce the whole queue. An I/O error before "." was sent means the
 * hop has nothing; on a reused connection (the hop may have dropped it while idle) the message is tried once
 * more on a new one. An I/O error after "." is a deferral that may duplicate (the hop may have the message);
 * the diagnostic log says so.
 *
 * STARTTLS (handoff.tls): after EHLO/LHLO, when the hop offers STARTTLS and the mode is not none, the client
 * asks for it, runs the handshake (HopTls) and says EHLO/LHLO again (RFC 3207: what was learnt before is
 * forgotten). Not offered: opportunistic goes on in plain text, required defers with 4.7.4. Refused or a
 * failed handshake (including a certificate that does not verify): a deferral in either mode, never a
 * silent fall back to plain text, since a downgrade could then be forced by whoever can break the handshake.
 *
 * SECURITY
 * Bytes the hop sends after its 220 to STARTTLS and before the handshake are refused (they would otherwise be
 * read as if they came over TLS: the STARTTLS command injection of CVE-2011-0411, server side here).
 */
package mailgate.handoff;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import javax.net.ssl.SSLSocket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * SMTP or LMTP delivery over TCP, with STARTTLS per handoff.tls.
 */
final class SmtpHop implements Hop
{
    private static final int MAX_LINE = 8192;

    private final HandoffConfig config;
    private final boolean lmtp;
    private final String helo;
    private final PrintStream diag;
    private final HopTls hopTls;
    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final Set<String> extensions = new HashSet<>();
    private long lastUsedNanos;
    private int messagesOnConnection;
    private String tls = "none";

    /** An I/O error before the final "." was written: the hop has no part of the message. */
    private static final class EarlyFailure extends Exception
    {
        private static final long serialVersionUID = 1L;

        EarlyFailure(final IOException cause)
        {
            super(cause.toString(), cause);
        }
    }

    /** STARTTLS refused or the handshake failed: the connection is unusable, close it (no QUIT). */
    private static final class TlsFailure extends Exception
    {
        private static final long serialVersionUID = 1L;

        TlsFailure(final String reason)
        {
            super(reason);
        }
    }

    /** The session could not be set up (greeting or EHLO refused). */
    private static final class SessionRefused extends Exception
    {
        private static final long serialVersionUID = 1L;
        final Reply reply;

        SessionRefused(final Reply reply)
        {
            super(reply.toString());
            this.reply = reply;
        }
    }

    SmtpHop(final HandoffConfig config, final HopTls hopTls, final String helo, final PrintStream diag)
    {
        this.config = config;
        this.hopTls = hopTls;
        this.lmtp = HandoffConfig.Kind.LMTP == config.nextHop().kind();
        this.helo = helo;
        this.diag = diag;
    }

    @Override
    public List<Reply> deliver(final QueuedMessage message, final List<QueuedMessage.Recipient> recipients)
    {
        for (int attempt = 0; ; attempt++)
        {
            final boolean reused = null != socket;
            try
            {
                if (null == socket)
                {
                    connect();
                }
                final List<Reply> replies = transaction(message, recipients);
                lastUsedNanos = System.nanoTime();
                messagesOnConnection++;
                return replies;
            }
            catch (final EarlyFailure ex)
            {
                closeQuietly();
                if (reused && 0 == attempt)
                {
                    continue;
                }
                return same(recipients, new Reply(421, "4.4.2 " + relay() + ": " + ex.getMessage()));
            }
            catch (final TlsFailure ex)
            {
                closeQuietly();
                return same(recipients, new Reply(421, ex.getMessage()));
            }
            catch (final SessionRefused ex)
            {
                quit();
                final Reply r = ex.reply;
                return same(recipients, r.permanent() ? new Reply(451, "4.4.0 session refused: " + r) : r);
            }
            catch (final IOException ex)
            {
                // after the final dot: the hop may have the message
                closeQuietly();
                diag.println("mailgate handoff: " + message.id() + ": connection to " + relay() +
                    " lost after end of data (" + ex + "); the hop may have the message, it will be sent again " +
                    "(possible duplicate)");
                return same(recipients, new Reply(451,
                    "4.4.2 " + relay() + ": connection lost after end of data, possible duplicate: " + ex));
            }
        }
    }

    private String relay()
    {
        return config.nextHop().relay();
    }

    private static List<Reply> same(final List<?> recipients, final Reply reply)
    {
        final List<Reply> replies = new ArrayList<>();
        for (int i = 0; i < recipients.size(); i++)
        {
            replies.add(reply);
        }
        return replies;
    }

    private void connect() throws EarlyFailure, SessionRefused, TlsFailure
    {
        try
        {
            final Socket s = new Socket();
            socket = s;
            final int timeout = (int)Math.min(Integer.MAX_VALUE, config.timeout().toMillis());
            s.connect(new InetSocketAddress(config.nextHop().host(), config.nextHop().port()), timeout);
            s.setSoTimeout(timeout);
            s.setTcpNoDelay(true);
            in = new BufferedInputStream(s.getInputStream(), 8192);
            out = new BufferedOutputStream(s.getOutputStream(), 64 * 1024);
            messagesOnConnection = 0;
            tls = "none";
            final Reply greeting = read();
            if (220 != greeting.code())
            {
                throw new SessionRefused(greeting);
            }
            hello();
            if (HandoffConfig.TlsMode.NONE == config.tls())
            {
                return;
            }
            if (!extensions.contains("STARTTLS"))
            {
                if (HandoffConfig.TlsMode.REQUIRED == config.tls())
                {
                    throw new SessionRefused(new Reply(421, "4.7.4 " + relay() + " does not offer STARTTLS and " +
                        HandoffConfig.TLS + " = required"));
                }
                return;
            }
            startTls();
            hello();
        }
        catch (final IOException ex)
        {
            throw new EarlyFailure(ex);
        }
    }

    private void hello() throws IOException, SessionRefused
    {
        extensions.clear();
        send((lmtp ? "LHLO " : "EHLO ") + helo);
        out.flush();
        Reply ehlo = readEhlo();
        if (!ehlo.ok() && !lmtp && ehlo.permanent())
        {
            send("HELO " + helo);
            out.flush();
            ehlo = read();
        }
        if (!ehlo.ok())
        {
            throw new SessionRefused(ehlo);
        }
    }

    private void startTls() throws IOException, TlsFailure
    {
        send("STARTTLS");
        out.flush();
        final Reply reply = read();
        if (220 != reply.code())
        {
            throw new TlsFailure("4.7.0 " + relay() + " refused STARTTLS (" + reply + "); not falling back to " +
                "plain text");
        }
        if (in.available() > 0)
        {
            throw new TlsFailure("4.7.0 " + relay() + " sent data after its STARTTLS reply, before the handshake");
        }
        final SSLSocket secure;
        try
        {
            secure = hopTls.handshake(socket, config.nextHop().host(), config.nextHop().port());
        }
        catch (final IOException ex)
        {
            throw new TlsFailure("4.7.5 TLS handshake with " + relay() + " failed (" + ex.getMessage() +
                "); not falling back to plain text");
        }
        socket = secure;
        in = new BufferedInputStream(secure.getInputStream(), 8192);
        out = new BufferedOutputStream(secure.getOutputStream(), 64 * 1024);
        tls = HopTls.describe(secure.getSession());
    }

    @Override
    public String tls()
    {
        return tls;
    }

    private List<Reply> transaction(final QueuedMessage message, final List<QueuedMessage.Recipient> recipients)
        throws EarlyFailure, IOException
    {
        final boolean pipelining = extensions.contains("PIPELINING");
        final int n = recipients.size();
        final Reply[] result = new Reply[n];
        final List<Integer> accepted = new ArrayList<>();
        Reply dataReply;
        try
        {
            send(mailCommand(message));
            if (pipelining)
            {
                for (final QueuedMessage.Recipient r : recipients)
                {
                    send(rcptCommand(r));
                }
                send("DATA");
                out.flush();
                final Reply mail = read();
                for (int i = 0; i < n; i++)
                {
                    final Reply rcpt = read();
                    result[i] = mail.ok() ? rcpt : mail;
                    if (mail.ok() && rcpt.ok())
                    {
                        accepted.add(i);
                    }
                }
                dataReply = read();
                if (354 == dataReply.code() && accepted.isEmpty())
                {
                    // RFC 2920: the DATA was accepted although no recipient was; end it empty
                    send(".");
                    out.flush();
                    read();
                }
            }
            else
            {
                out.flush();
                final Reply mail = read();
                if (!mail.ok())
                {
                    rset();
                    return same(recipients, mail);
                }
                for (int i = 0; i < n; i++)
                {
                    send(rcptCommand(recipients.get(i)));
                    out.flush();
                    result[i] = read();
                    if (result[i].ok())
                    {
                        accepted.add(i);
                    }
                }
                if (accepted.isEmpty())
                {
                    rset();
                    return List.of(result);
                }
                send("DATA");
                out.flush();
                dataReply = read();
            }
            if (accepted.isEmpty() || 354 != dataReply.code())
            {
                for (final int i : accepted)
                {
                    result[i] = dataReply;
                }
                rset();
                return List.of(result);
            }
            writeMessage(message);
        }
        catch (final IOException ex)
        {
            throw new EarlyFailure(ex);
        }
        // the final dot is written: from here an I/O error may leave the message with the hop
        if (lmtp)
        {
            for (final int i : accepted)
            {
                result[i] = read();
            }
        }
        else
        {
            final Reply end = read();
            for (final int i : accepted)
            {
                result[i] = end;
            }
        }
        return List.of(result);
    }

    private String mailCommand(final QueuedMessage message)
    {
        final StringBuilder b = new StringBuilder("MAIL FROM:<").append(message.sender()).append('>');
        if (extensions.contains("SIZE"))
        {
            b.append(" SIZE=").append(message.size());
        }
        for (final String p : message.mailParams())
        {
            final String key = keyOf(p);
            final boolean pass = switch (key)
            {
                case "BODY" -> extensions.contains("8BITMIME");
                case "SMTPUTF8" -> extensions.contains("SMTPUTF8");
                case "RET", "ENVID" -> extensions.contains("DSN");
                default -> false;
            };
            if (pass)
            {
                b.append(' ').append(p);
            }
        }
        return b.toString();
    }

    private String rcptCommand(final QueuedMessage.Recipient r)
    {
        final StringBuilder b = new StringBuilder("RCPT TO:<").append(r.address()).append('>');
        if (extensions.contains("DSN"))
        {
            for (final String p : r.params())
            {
                final String key = keyOf(p);
                if ("NOTIFY".equals(key) || "ORCPT".equals(key))
                {
                    b.append(' ').append(p);
                }
            }
        }
        return b.toString();
    }

    private static String keyOf(final String param)
    {
        final int eq = param.indexOf('=');
        return (eq < 0 ? param : param.substring(0, eq)).toUpperCase(Locale.ROOT);
    }

    /**
     * Writes the message part dot-stuffed (a '.' at the start of a line is doubled; a line starts after LF),
     * then CR LF if the part does not end with one, then ".".
     */
    private void writeMessage(final QueuedMessage message) throws IOException
    {
        boolean lineStart = true;
        byte last1 = 0;
        byte last2 = 0;
        try (FileChannel channel = FileChannel.open(message.file(), StandardOpenOption.READ))
        {
            final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
            long position = message.messageOffset();
            final long end = position + message.size();
            while (position < end)
            {
                buffer.clear();
                buffer.limit((int)Math.min(buffer.capacity(), end - position));
                final int read = channel.read(buffer, position);
                if (read <= 0)
                {
                    throw new IOException(message.file() + ": short read");
                }
                position += read;
                final byte[] a = buffer.array();
                int from = 0;
                for (int i = 0; i < read; i++)
                {
                    if (lineStart && '.' == a[i])
                    {
                        out.write(a, from, i - from);
                        out.write('.');
                        from = i;
                    }
                    lineStart = '\n' == a[i];
                }
                out.write(a, from, read - from);
                if (read >= 2)
                {
                    last2 = a[read - 2];
                    last1 = a[read - 1];
                }
                else
                {
                    last2 = last1;
                    last1 = a[0];
                }
            }
        }
        if (message.size() > 0 && !('\r' == last2 && '\n' == last1))
        {
            out.write('\r');
            out.write('\n');
        }
        out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private void rset() throws IOException
    {
        send("RSET");
        out.flush();
        read();
    }

    private void send(final String line) throws IOException
    {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    private Reply readEhlo() throws IOException
    {
        final List<String> lines = new ArrayList<>();
        final Reply reply = read(lines);
        if (reply.ok())
        {
            for (int i = 1; i < lines.size(); i++)
            {
                final String kw = lines.get(i).strip().split(" ", 2)[0].toUpperCase(Locale.ROOT);
                extensions.add(kw);
            }
        }
        return reply;
    }

    private Reply read() throws IOException
    {
        return read(null);
    }

    private Reply read(final List<String> texts) throws IOException
    {
        final StringBuilder all = new StringBuilder();
        while (true)
        {
            final String line = readLine();
            if (line.length() < 3 || !Character.isDigit(line.charAt(0)) || !Character.isDigit(line.charAt(1)) ||
                !Character.isDigit(line.charAt(2)) || (line.length() > 3 && ' ' != line.charAt(3) &&
                '-' != line.charAt(3)))
            {
                throw new IOException("malformed reply from " + relay() + ": " + line);
            }
            final String text = line.length() > 4 ? line.substring(4) : "";
            if (null != texts)
            {
                texts.add(text);
            }
            if (all.length() > 0)
            {
                all.append("; ");
            }
            all.append(text);
            if (line.length() == 3 || ' ' == line.charAt(3))
            {
                return new Reply(Integer.parseInt(line.substring(0, 3)), all.toString());
            }
        }
    }

    private String readLine() throws IOException
    {
        final StringBuilder b = new StringBuilder();
        while (true)
        {
            final int c = in.read();
            if (c < 0)
            {
                throw new IOException("connection closed by " + relay());
            }
            if ('\n' == c)
            {
                final int len = b.length();
                if (len > 0 && '\r' == b.charAt(len - 1))
                {
                    b.setLength(len - 1);
                }
                return b.toString();
            }
            if (b.length() >= MAX_LINE)
            {
                throw new IOException("reply line too long from " + relay());
            }
            b.append((char)c);
        }
    }

    @Override
    public void idle()
    {
        if (null != socket && System.nanoTime() - lastUsedNanos > config.idleTimeout().toNanos())
        {
            quit();
        }
    }

    private void quit()
    {
        if (null == socket)
        {
            return;
        }
        try
        {
            socket.setSoTimeout(2000);
            send("QUIT");
            out.flush();
            read();
        }
        catch (final IOException ex)
        {
            // closing anyway
        }
        closeQuietly();
    }

    private void closeQuietly()
    {
        if (null != socket)
        {
            try
            {
                socket.close();
            }
            catch (final IOException ex)
            {
                // nothing to do
            }
            socket = null;
        }
    }

    @Override
    public void close()
    {
        quit();
    }
}
