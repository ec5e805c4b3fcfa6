/*
 * SUMMARY
 * A small blocking SMTP server for tests of the load generator's PIPELINING and CHUNKING paths, which Python's smtpd
 * does not offer. Advertises PIPELINING and CHUNKING, answers pipelined commands in batches (replies are flushed only
 * when no more input is waiting, so several replies share a segment), dribbles the EHLO reply in 3-byte writes (so
 * the client sees replies split across reads), refuses recipients whose address contains "reject" with 550, and
 * records the size of every message body it receives after dot-unstuffing.
 */
package mailgate.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test SMTP server on a loopback port with PIPELINING and CHUNKING.
 */
final class FakeSmtpServer implements AutoCloseable
{
    final Queue<Integer> messageSizes = new ConcurrentLinkedQueue<>();
    final AtomicInteger bdatCommands = new AtomicInteger();
    final AtomicInteger dataCommands = new AtomicInteger();
    final AtomicInteger maxCommandsInOneRead = new AtomicInteger();

    private final ServerSocket serverSocket;
    private final ExecutorService executor = Executors.newCachedThreadPool((r) ->
    {
        final Thread t = new Thread(r, "fake-smtp");
        t.setDaemon(true);
        return t;
    });

    FakeSmtpServer() throws IOException
    {
        serverSocket = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        executor.execute(this::acceptLoop);
    }

    int port()
    {
        return serverSocket.getLocalPort();
    }

    @Override
    public void close() throws IOException
    {
        serverSocket.close();
        executor.shutdownNow();
    }

    private void acceptLoop()
    {
        while (!serverSocket.isClosed())
        {
            try
            {
                final Socket socket = serverSocket.accept();
                executor.execute(() -> serve(socket));
            }
            catch (final IOException ex)
            {
                return;
            }
        }
    }

    private void serve(final Socket socket)
    {
        try (socket)
        {
            socket.setTcpNoDelay(true);
            final InputStream in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
            final OutputStream out = socket.getOutputStream();
            final ByteArrayOutputStream pending = new ByteArrayOutputStream();
            write(out, "220 fake.test ESMTP ready\r\n");
            int rcpts = 0;
            boolean mail = false;
            int commandsInRead = 0;
            while (true)
            {
                final String line = readLine(in);
                if (null == line)
                {
                    return;
                }
                commandsInRead++;
                final String upper = line.toUpperCase(Locale.ROOT);
                if (upper.startsWith("EHLO"))
                {
                    dribble(out, "250-fake.test greets you\r\n250-PIPELINING\r\n250-CHUNKING\r\n" +
                        "250-SIZE 100000000\r\n250 8BITMIME\r\n");
                }
                else if (upper.startsWith("HELO"))
                {
                    reply(pending, "250 fake.test");
                }
                else if (upper.startsWith("MAIL FROM:"))
                {
                    mail = true;
                    rcpts = 0;
                    reply(pending, "250 2.1.0 ok");
                }
                else if (upper.startsWith("RCPT TO:"))
                {
                    if (!mail)
                    {
                        reply(pending, "503 5.5.1 need MAIL");
                    }
                    else if (upper.contains("REJECT"))
                    {
                        reply(pending, "550 5.1.1 no such user");
                    }
                    else
                    {
                        rcpts++;
                        reply(pending, "250 2.1.5 ok");
                    }
                }
                else if (upper.equals("DATA"))
                {
                    dataCommands.incrementAndGet();
                    if (0 == rcpts)
                    {
                        reply(pending, "554 5.5.1 no valid recipients");
                    }
                    else
                    {
                        reply(pending, "354 go ahead");
                        flush(out, pending);
                        messageSizes.add(readData(in));
                        reply(pending, "250 2.0.0 queued");
                        mail = false;
                        rcpts = 0;
                    }
                }
                else if (upper.startsWith("BDAT "))
                {
                    bdatCommands.incrementAndGet();
                    final String[] parts = line.split(" ");
                    final int size = Integer.parseInt(parts[1]);
                    final byte[] chunk = in.readNBytes(size);
                    if (chunk.length != size)
                    {
                        return;
                    }
                    if (0 == rcpts)
                    {
                        reply(pending, "554 5.5.1 no valid recipients");
                    }
                    else
                    {
                        messageSizes.add(size);
                        reply(pending, "250 2.0.0 queued " + size + " octets");
                    }
                    mail = false;
                    rcpts = 0;
                }
                else if (upper.equals("RSET"))
                {
                    mail = false;
                    rcpts = 0;
                    reply(pending, "250 2.0.0 reset");
                }
                else if (upper.equals("QUIT"))
                {
                    reply(pending, "221 2.0.0 bye");
                    flush(out, pending);
                    return;
                }
                else
                {
                    reply(pending, "500 5.5.2 what?");
                }
                if (0 == in.available())
                {
                    maxCommandsInOneRead.accumulateAndGet(commandsInRead, Math::max);
                    commandsInRead = 0;
                    flush(out, pending);
                }
            }
        }
        catch (final IOException ex)
        {
            // client went away
        }
    }

    private static int readData(final InputStream in) throws IOException
    {
        int size = 0;
        while (true)
        {
            final String line = readLine(in);
            if (null == line)
            {
                throw new IOException("eof in DATA");
            }
            if (line.equals("."))
            {
                return size;
            }
            if (line.length() >= 998)
            {
                throw new IOException("line too long in DATA: " + line.length());
            }
            final int unstuffed = line.startsWith(".") ? line.length() - 1 : line.length();
            size += unstuffed + 2;
        }
    }

    private static String readLine(final InputStream in) throws IOException
    {
        final StringBuilder sb = new StringBuilder();
        int prev = -1;
        while (true)
        {
            final int b = in.read();
            if (b < 0)
            {
                return null;
            }
            if ('\n' == b)
            {
                if ('\r' != prev)
                {
                    throw new IOException("bare LF from client");
                }
                sb.setLength(sb.length() - 1);
                return sb.toString();
            }
            sb.append((char)b);
            prev = b;
        }
    }

    private static void reply(final ByteArrayOutputStream pending, final String text)
    {
        pending.writeBytes((text + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void flush(final OutputStream out, final ByteArrayOutputStream pending) throws IOException
    {
        if (pending.size() > 0)
        {
            pending.writeTo(out);
            out.flush();
            pending.reset();
        }
    }

    private static void write(final OutputStream out, final String text) throws IOException
    {
        out.write(text.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void dribble(final OutputStream out, final String text) throws IOException
    {
        final byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < bytes.length; i += 3)
        {
            out.write(bytes, i, Math.min(3, bytes.length - i));
            out.flush();
        }
    }
}
