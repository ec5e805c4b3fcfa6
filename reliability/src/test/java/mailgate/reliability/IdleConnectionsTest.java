package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Thousands of idle connections (3,000 short form, 10,000 long form) held open while a normal client is served
 * within a deadline.
 */
class IdleConnectionsTest
{
    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void manyIdleConnectionsDoNotStarveANormalClient() throws Exception
    {
        final int idle = Reliability.count(3_000, 10_000);
        final Path dir = tmp;
        final List<SocketChannel> channels = new ArrayList<>(idle);
        final DaemonProcess daemon = DaemonProcess.start(dir.resolve("spool"), "--event-loops", "2",
            "--set", "smtpd.max-connections=" + (idle + 100));
        try
        {
            final InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), daemon.port());
            final long start = System.nanoTime();
            for (int i = 0; i < idle; i++)
            {
                final SocketChannel channel = SocketChannel.open(address);
                channels.add(channel);
            }
            // every idle connection was accepted and greeted (a 220, not a 421 refusal)
            int greeted = 0;
            final ByteBuffer buffer = ByteBuffer.allocate(512);
            for (final SocketChannel channel : channels)
            {
                buffer.clear();
                channel.socket().setSoTimeout(10_000);
                final int n = channel.socket().getInputStream().read(buffer.array());
                if (n > 3 && '2' == buffer.get(0) && '2' == buffer.get(1) && '0' == buffer.get(2))
                {
                    greeted++;
                }
            }
            final double openSeconds = (System.nanoTime() - start) / 1e9;
            assertEquals(idle, greeted, "idle connections greeted with 220");
            long worstMs = 0;
            for (int i = 0; i < 5; i++)
            {
                final long t = System.nanoTime();
                final String reply = SmtpTestClient.sendMessage(daemon.port(), "Subject: under load\r\n\r\nhello\r\n");
                assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), reply);
                worstMs = Math.max(worstMs, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t));
            }
            assertTrue(worstMs < 2_000, "normal client took " + worstMs + " ms");
            assertTrue(daemon.process().isAlive());
            Reliability.figure(String.format("idle connections: %d opened and greeted in %.1f s, all held; " +
                "5 normal transactions meanwhile, slowest %d ms (deadline 2000 ms)", idle, openSeconds, worstMs));
        }
        finally
        {
            for (final SocketChannel channel : channels)
            {
                try
                {
                    channel.close();
                }
                catch (final IOException ignore)
                {
                    // closing
                }
            }
            daemon.close();
        }
    }
}
