package mailgate.reactor.tls;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small benchmark (run by hand, not by surefire) against a running daemon with STARTTLS on: connections/s
 * plain vs full STARTTLS handshakes/s, and messages/s over one long connection per client thread, plain vs
 * STARTTLS.
 * <pre>
 * java -cp reactor/target/classes:reactor/target/test-classes:'dist/target/lib/*' \
 *     mailgate.reactor.tls.TlsThroughput 127.0.0.1 2525 [threads=4] [seconds=10] [bodyBytes=1024]
 * </pre>
 * Every TLS connection uses a distinct peer name so that the client's session cache never resumes: each
 * handshake is a full one (ECDHE plus the server's certificate signature).
 */
public final class TlsThroughput
{
    private TlsThroughput()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final String host = args.length > 0 ? args[0] : "127.0.0.1";
        final int port = args.length > 1 ? Integer.parseInt(args[1]) : 2525;
        final int threads = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        final int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        final int bodyBytes = args.length > 4 ? Integer.parseInt(args[4]) : 1024;
        final SSLContext tls = TlsTestSupport.trustAll();
        final byte[] message = message(bodyBytes);
        System.out.printf("target %s:%d, %d client threads, %d s per run, %d-octet body, %d cores here%n",
            host, port, threads, seconds, bodyBytes, Runtime.getRuntime().availableProcessors());
        // warm both sides' JITs
        measure(threads, 2, (id, n) -> connectOnly(host, port, null, id, n));
        measure(threads, 2, (id, n) -> connectOnly(host, port, tls, id, n));
        final double plainConnections = measure(threads, seconds, (id, n) -> connectOnly(host, port, null, id, n));
        final double tlsHandshakes = measure(threads, seconds, (id, n) -> connectOnly(host, port, tls, id, n));
        measure(threads, 2, (id, n) -> messages(host, port, null, id, message, n));
        final double plainMessages = measure(threads, seconds, (id, n) -> messages(host, port, null, id, message, n));
        measure(threads, 2, (id, n) -> messages(host, port, tls, id, message, n));
        final double tlsMessages = measure(threads, seconds, (id, n) -> messages(host, port, tls, id, message, n));
        System.out.printf("plain: connect+EHLO+QUIT          %,10.0f /s%n", plainConnections);
        System.out.printf("tls:   connect+STARTTLS+EHLO+QUIT %,10.0f /s  (full handshakes)%n", tlsHandshakes);
        System.out.printf("plain: messages                   %,10.0f /s%n", plainMessages);
        System.out.printf("tls:   messages over STARTTLS     %,10.0f /s%n", tlsMessages);
    }

    interface Work
    {
        /**
         * Run until the deadline, counting into n.
         */
        void run(int threadId, AtomicLong n) throws Exception;
    }

    private static volatile long deadlineNs;

    private static double measure(final int threads, final int seconds, final Work work) throws Exception
    {
        final AtomicLong n = new AtomicLong();
        final Thread[] workers = new Thread[threads];
        final Throwable[] failure = new Throwable[1];
        final long startNs = System.nanoTime();
        deadlineNs = startNs + seconds * 1_000_000_000L;
        for (int i = 0; i < threads; i++)
        {
            final int id = i;
            workers[i] = new Thread(() ->
            {
                try
                {
                    work.run(id, n);
                }
                catch (final Throwable t)
                {
                    failure[0] = t;
                }
            });
            workers[i].start();
        }
        for (final Thread worker : workers)
        {
            worker.join();
        }
        if (null != failure[0])
        {
            throw new IllegalStateException(failure[0]);
        }
        return n.get() * 1e9 / (System.nanoTime() - startNs);
    }

    private static final AtomicLong PEER = new AtomicLong();

    private static void connectOnly(
        final String host, final int port, final SSLContext tls, final int id, final AtomicLong n) throws Exception
    {
        while (System.nanoTime() - deadlineNs < 0)
        {
            try (Client client = new Client(host, port))
            {
                client.expect("220");
                client.send("EHLO bench.example.test\r\n");
                client.expect("250");
                if (null != tls)
                {
                    client.startTls(tls, host, port);
                    client.send("EHLO bench.example.test\r\n");
                    client.expect("250");
                }
                client.send("QUIT\r\n");
                client.expect("221");
            }
            n.incrementAndGet();
        }
    }

    private static void messages(
        final String host, final int port, final SSLContext tls, final int id, final byte[] message, final AtomicLong n)
        throws Exception
    {
        try (Client client = new Client(host, port))
        {
            client.expect("220");
            client.send("EHLO bench.example.test\r\n");
            client.expect("250");
            if (null != tls)
            {
                client.startTls(tls, host, port);
                client.send("EHLO bench.example.test\r\n");
                client.expect("250");
            }
            final byte[] envelope = ("MAIL FROM:<bench@example.test>\r\nRCPT TO:<to" + id +
                "@example.test>\r\nDATA\r\n").getBytes(StandardCharsets.US_ASCII);
            while (System.nanoTime() - deadlineNs < 0)
            {
                client.send(envelope);
                client.expect("250");
                client.expect("250");
                client.expect("354");
                client.send(message);
                client.expect("250");
                n.incrementAndGet();
            }
            client.send("QUIT\r\n");
            client.expect("221");
        }
    }

    private static byte[] message(final int bodyBytes)
    {
        final StringBuilder sb = new StringBuilder("Subject: bench\r\nFrom: bench@example.test\r\n\r\n");
        while (sb.length() < bodyBytes)
        {
            sb.append("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n");
        }
        return sb.append(".\r\n").toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** Line-level SMTP client. */
    private static final class Client implements AutoCloseable
    {
        private final Socket plain;
        private Socket socket;
        private InputStream in;
        private OutputStream out;

        Client(final String host, final int port) throws IOException
        {
            plain = new Socket();
            plain.setTcpNoDelay(true);
            plain.connect(new InetSocketAddress(host, port), 10_000);
            plain.setSoTimeout(30_000);
            socket = plain;
            in = new BufferedInputStream(plain.getInputStream());
            out = plain.getOutputStream();
        }

        void startTls(final SSLContext context, final String host, final int port) throws IOException
        {
            send("STARTTLS\r\n");
            expect("220");
            // a peer name of its own, so the client never resumes a cached session
            final SSLSocket tls = (SSLSocket)context.getSocketFactory()
                .createSocket(plain, "bench-" + PEER.incrementAndGet() + ".invalid", port, true);
            tls.setUseClientMode(true);
            tls.startHandshake();
            socket = tls;
            in = new BufferedInputStream(tls.getInputStream());
            out = tls.getOutputStream();
        }

        void send(final String text) throws IOException
        {
            send(text.getBytes(StandardCharsets.US_ASCII));
        }

        void send(final byte[] bytes) throws IOException
        {
            out.write(bytes);
            out.flush();
        }

        /**
         * Read one whole reply and check its code.
         */
        void expect(final String code) throws IOException
        {
            while (true)
            {
                final StringBuilder line = new StringBuilder();
                int b;
                while ((b = in.read()) != '\n')
                {
                    if (b < 0)
                    {
                        throw new IOException("closed; expected " + code);
                    }
                    line.append((char)b);
                }
                if (!line.toString().startsWith(code))
                {
                    throw new IOException("expected " + code + ", got " + line);
                }
                if (line.length() < 4 || ' ' == line.charAt(3))
                {
                    return;
                }
            }
        }

        public void close() throws IOException
        {
            socket.close();
            plain.close();
        }
    }
}
