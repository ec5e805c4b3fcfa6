package mailgate.handoff;

import mailgate.reactor.tls.KeyMaterial;
import mailgate.reactor.tls.SelfSignedCertificate;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Base64;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A tiny downstream SMTP/LMTP server on 127.0.0.1 for the tests: records every transaction (dot-unstuffed)
 * and answers RCPT and end-of-data as told. With tls set it offers STARTTLS (a self-signed certificate made by
 * reactor's SelfSignedCertificate, the same code smtpd uses) and records the TLS protocol of each transaction.
 */
final class FakeMta implements AutoCloseable
{
    /** One received transaction. */
    record Received(String sender, String mailLine, List<String> recipients, byte[] data, String tls)
    {
        String text()
        {
            return new String(data, StandardCharsets.ISO_8859_1);
        }
    }

    final boolean lmtp;
    final ServerSocket server;
    final List<Received> received = new CopyOnWriteArrayList<>();
    final List<String> commands = new CopyOnWriteArrayList<>();
    final AtomicInteger connections = new AtomicInteger();
    /** Reply to RCPT TO, by address. */
    volatile Function<String, String> rcptReply = (rcpt) -> "250 2.1.5 Ok";
    /** Reply after the final dot (SMTP) or per recipient (LMTP), by address. */
    volatile Function<String, String> dataReply = (rcpt) -> "250 2.0.0 Ok: queued";
    /** When set, the server counts it down after each final dot; once it is zero, it waits on hold before replying. */
    volatile CountDownLatch dotSeen;
    volatile CountDownLatch hold;
    /** When set, EHLO/LHLO offers STARTTLS and STARTTLS runs a server handshake with this context. */
    volatile SSLContext tls;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    FakeMta(final boolean lmtp) throws IOException
    {
        this(lmtp, 0);
    }

    FakeMta(final boolean lmtp, final int port) throws IOException
    {
        this.lmtp = lmtp;
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        acceptor = new Thread(this::acceptLoop, "fake-mta-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port()
    {
        return server.getLocalPort();
    }

    String uri()
    {
        return (lmtp ? "lmtp" : "smtp") + "://127.0.0.1:" + port();
    }

    static int freePort() throws IOException
    {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress()))
        {
            return s.getLocalPort();
        }
    }

    private void acceptLoop()
    {
        while (!server.isClosed())
        {
            try
            {
                final Socket s = server.accept();
                open.add(s);
                connections.incrementAndGet();
                final Thread t = new Thread(() -> session(s), "fake-mta-session");
                t.setDaemon(true);
                t.start();
            }
            catch (final IOException ex)
            {
                return;
            }
        }
    }

    private void session(final Socket s)
    {
        try (s)
        {
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            String tlsProtocol = null;
            reply(out, "220 fake.test ESMTP");
            String sender = null;
            String mailLine = null;
            final List<String> rcpts = new ArrayList<>();
            final List<String> accepted = new ArrayList<>();
            while (true)
            {
                final String line = readLine(in);
                if (null == line)
                {
                    return;
                }
                commands.add(line);
                final String upper = line.toUpperCase();
                if (upper.startsWith("EHLO") || upper.startsWith("LHLO"))
                {
                    if (lmtp != upper.startsWith("LHLO"))
                    {
                        reply(out, "500 5.5.1 wrong protocol");
                        continue;
                    }
                    reply(out, "250-fake.test\r\n250-PIPELINING\r\n250-SIZE 100000000\r\n250-8BITMIME\r\n" +
                        (null != tls && null == tlsProtocol ? "250-STARTTLS\r\n" : "") + "250 ENHANCEDSTATUSCODES");
                }
                else if (upper.equals("STARTTLS") && null != tls && null == tlsProtocol)
                {
                    reply(out, "220 2.0.0 go ahead");
                    final SSLSocket secure = (SSLSocket)tls.getSocketFactory().createSocket(s, null, true);
                    secure.setUseClientMode(false);
                    secure.startHandshake();
                    tlsProtocol = secure.getSession().getProtocol();
                    in = new BufferedInputStream(secure.getInputStream());
                    out = secure.getOutputStream();
                    open.add(secure);
                    sender = null;
                    rcpts.clear();
                    accepted.clear();
                }
                else if (upper.startsWith("MAIL FROM:"))
                {
                    mailLine = line;
                    sender = line.substring(line.indexOf('<') + 1, line.indexOf('>'));
                    rcpts.clear();
                    accepted.clear();
                    reply(out, "250 2.1.0 Ok");
                }
                else if (upper.startsWith("RCPT TO:"))
                {
                    final String rcpt = line.substring(line.indexOf('<') + 1, line.indexOf('>'));
                    rcpts.add(rcpt);
                    final String r = rcptReply.apply(rcpt);
                    if (r.startsWith("2"))
                    {
                        accepted.add(rcpt);
                    }
                    reply(out, r);
                }
                else if (upper.equals("DATA"))
                {
                    if (accepted.isEmpty())
                    {
                        reply(out, "554 5.5.1 no valid recipients");
                        continue;
                    }
                    reply(out, "354 go ahead");
                    final byte[] data = readData(in);
                    if (null == data)
                    {
                        return;
                    }
                    final CountDownLatch seen = dotSeen;
                    final CountDownLatch h = hold;
                    if (null != seen)
                    {
                        seen.countDown();
                        if (0 == seen.getCount() && null != h)
                        {
                            h.await();
                        }
                    }
                    received.add(new Received(sender, mailLine, List.copyOf(accepted), data, tlsProtocol));
                    if (lmtp)
                    {
                        for (final String rcpt : accepted)
                        {
                            reply(out, dataReply.apply(rcpt));
                        }
                    }
                    else
                    {
                        reply(out, dataReply.apply(accepted.get(0)));
                    }
                }
                else if (upper.equals("RSET") || upper.equals("NOOP"))
                {
                    reply(out, "250 2.0.0 Ok");
                }
                else if (upper.equals("QUIT"))
                {
                    reply(out, "221 2.0.0 Bye");
                    return;
                }
                else
                {
                    reply(out, "502 5.5.2 unknown command");
                }
            }
        }
        catch (final IOException | InterruptedException ex)
        {
            // session over
        }
    }

    /**
     * @param hostname the certificate's name (localhost and 127.0.0.1 are always added).
     * @return a server context with a fresh self-signed certificate.
     */
    static KeyMaterial selfSigned(final String hostname) throws Exception
    {
        return SelfSignedCertificate.create(hostname);
    }

    static SSLContext serverContext(final KeyMaterial material) throws Exception
    {
        final KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("server", material.key(), new char[0], material.chain());
        final KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(store, new char[0]);
        final SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);
        return context;
    }

    /** Writes the leaf certificate as PEM (a trust file for handoff.tls-trust). */
    static Path writePem(final KeyMaterial material, final Path file) throws Exception
    {
        Files.writeString(file, "-----BEGIN CERTIFICATE-----\n" +
            Base64.getMimeEncoder(64, new byte[]{'\n'}).encodeToString(material.chain()[0].getEncoded()) +
            "\n-----END CERTIFICATE-----\n", StandardCharsets.US_ASCII);
        return file;
    }

    private static void reply(final OutputStream out, final String text) throws IOException
    {
        out.write((text + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String readLine(final InputStream in) throws IOException
    {
        final ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true)
        {
            final int c = in.read();
            if (c < 0)
            {
                return null;
            }
            if ('\n' == c)
            {
                final byte[] a = b.toByteArray();
                final int len = a.length > 0 && '\r' == a[a.length - 1] ? a.length - 1 : a.length;
                return new String(a, 0, len, StandardCharsets.UTF_8);
            }
            b.write(c);
        }
    }

    /** Reads lines up to CRLF.CRLF, removing one leading dot from lines that start with one. */
    private static byte[] readData(final InputStream in) throws IOException
    {
        final ByteArrayOutputStream data = new ByteArrayOutputStream();
        final ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true)
        {
            line.reset();
            int c;
            while ((c = in.read()) >= 0)
            {
                line.write(c);
                if ('\n' == c)
                {
                    break;
                }
            }
            if (c < 0)
            {
                return null;
            }
            final byte[] a = line.toByteArray();
            if (3 == a.length && '.' == a[0] && '\r' == a[1])
            {
                return data.toByteArray();
            }
            final int from = a.length > 0 && '.' == a[0] ? 1 : 0;
            data.write(a, from, a.length - from);
        }
    }

    @Override
    public void close() throws IOException
    {
        server.close();
        for (final Socket s : open)
        {
            s.close();
        }
        final CountDownLatch h = hold;
        if (null != h)
        {
            while (h.getCount() > 0)
            {
                h.countDown();
            }
        }
    }
}
