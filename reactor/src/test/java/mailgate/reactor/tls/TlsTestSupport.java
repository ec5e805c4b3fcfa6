package mailgate.reactor.tls;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.status.StatusFile;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.CountersReader;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Helpers for the TLS tests: daemons with a config file, child processes with deadlines, a raw SMTP line
 * client that can switch to TLS, and a counters reader.
 */
final class TlsTestSupport
{
    static final String HOSTNAME = DaemonProcess.TEST_HOSTNAME;

    private TlsTestSupport()
    {
    }

    static DaemonProcess start(final Path dir, final String name, final String... lines) throws IOException
    {
        return DaemonProcess.startWithConfig(dir, name, lines);
    }

    static Path passwordFile(final Path dir, final String... userPasswordPairs) throws IOException
    {
        final StringBuilder sb = new StringBuilder("# test users\n");
        for (int i = 0; i < userPasswordPairs.length; i += 2)
        {
            // few iterations: the tests check the protocol, not the work factor
            sb.append(userPasswordPairs[i]).append(':')
                .append(PasswordHash.hash(userPasswordPairs[i + 1].toCharArray(), 10_000)).append('\n');
        }
        Files.createDirectories(dir);
        final Path file = dir.resolve("passwords");
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        return file;
    }

    static String logs(final DaemonProcess daemon)
    {
        return "\n--- maillog ---\n" + daemon.maillog() + "\n--- stderr ---\n" + daemon.stderr();
    }

    /** Output and exit status of a child process. */
    record Result(int exitCode, String text)
    {
    }

    static Result run(final long timeoutSeconds, final String... command) throws IOException, InterruptedException
    {
        final Process process = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .start();
        final ByteArrayOutputStream output = new ByteArrayOutputStream();
        final Thread reader = new Thread(() ->
        {
            try (InputStream in = process.getInputStream())
            {
                in.transferTo(output);
            }
            catch (final IOException ignore)
            {
                // process gone
            }
        });
        reader.start();
        if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
            reader.join(5_000);
            return new Result(-1, "TIMED OUT after " + timeoutSeconds + " s: " + String.join(" ", command) + "\n" +
                output.toString(StandardCharsets.UTF_8));
        }
        reader.join(5_000);
        return new Result(process.exitValue(), output.toString(StandardCharsets.UTF_8));
    }

    static SSLContext trustAll() throws Exception
    {
        final SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[]{new X509TrustManager()
        {
            public void checkClientTrusted(final X509Certificate[] chain, final String authType)
            {
            }

            public void checkServerTrusted(final X509Certificate[] chain, final String authType)
            {
            }

            public X509Certificate[] getAcceptedIssuers()
            {
                return new X509Certificate[0];
            }
        }}, null);
        return context;
    }

    /**
     * Sum of every counter of a type id in a daemon's status file.
     */
    static long counter(final DaemonProcess daemon, final int typeId) throws IOException
    {
        final Path file = StatusFile.find(daemon.spool().resolve("run"));
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            final MappedByteBuffer mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
            final UnsafeBuffer header = new UnsafeBuffer(mapped, 0, StatusFile.HEADER_LENGTH);
            final int metadataLength = header.getInt(StatusFile.METADATA_LENGTH_OFFSET);
            final int valuesLength = header.getInt(StatusFile.VALUES_LENGTH_OFFSET);
            final CountersReader reader = new CountersReader(
                new UnsafeBuffer(mapped, StatusFile.HEADER_LENGTH, metadataLength),
                new UnsafeBuffer(mapped, StatusFile.HEADER_LENGTH + metadataLength, valuesLength));
            final long[] sum = new long[1];
            reader.forEach((counterId, type, keyBuffer, label) ->
            {
                if (type == typeId)
                {
                    sum[0] += reader.getCounterValue(counterId);
                }
            });
            return sum[0];
        }
    }

    /**
     * Wait until a condition holds, or fail with a message.
     */
    static void await(final long timeoutMs, final String what, final CheckedCondition condition) throws Exception
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.holds())
        {
            if (System.nanoTime() - deadline > 0)
            {
                throw new AssertionError("not within " + timeoutMs + " ms: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A condition that may throw. */
    interface CheckedCondition
    {
        boolean holds() throws Exception;
    }

    /**
     * A raw SMTP client on one socket that can switch to TLS in place.
     */
    static final class LineClient implements AutoCloseable
    {
        private final Socket plain;
        private Socket socket;
        private InputStream in;
        private OutputStream out;

        LineClient(final int port, final int readTimeoutMs) throws IOException
        {
            plain = new Socket();
            plain.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            plain.setSoTimeout(readTimeoutMs);
            plain.setTcpNoDelay(true);
            use(plain);
        }

        private void use(final Socket s) throws IOException
        {
            socket = s;
            in = s.getInputStream();
            out = s.getOutputStream();
        }

        void send(final String text) throws IOException
        {
            out.write(text.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }

        void sendRaw(final byte[] bytes) throws IOException
        {
            out.write(bytes);
            out.flush();
        }

        /**
         * @return one line without CRLF; null at end of stream.
         */
        String readLine() throws IOException
        {
            final ByteArrayOutputStream line = new ByteArrayOutputStream();
            while (true)
            {
                final int b = in.read();
                if (b < 0)
                {
                    return 0 == line.size() ? null : line.toString(StandardCharsets.ISO_8859_1);
                }
                if ('\n' == b)
                {
                    final String text = line.toString(StandardCharsets.ISO_8859_1);
                    return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
                }
                line.write(b);
            }
        }

        /**
         * @return all lines of one reply.
         */
        List<String> readReply() throws IOException
        {
            final List<String> lines = new ArrayList<>();
            while (true)
            {
                final String line = readLine();
                if (null == line)
                {
                    throw new java.io.EOFException("closed after " + lines);
                }
                lines.add(line);
                if (line.length() < 4 || ' ' == line.charAt(3))
                {
                    return lines;
                }
            }
        }

        int read() throws IOException
        {
            return in.read();
        }

        void soTimeout(final int ms) throws IOException
        {
            socket.setSoTimeout(ms);
        }

        /**
         * Start TLS on the connected socket (trusting any certificate).
         *
         * @return the TLS socket.
         */
        SSLSocket startTls() throws Exception
        {
            final SSLSocket tls = (SSLSocket)trustAll().getSocketFactory()
                .createSocket(plain, "127.0.0.1", plain.getPort(), true);
            tls.setUseClientMode(true);
            tls.startHandshake();
            use(tls);
            return tls;
        }

        public void close() throws IOException
        {
            socket.close();
            plain.close();
        }
    }
}
