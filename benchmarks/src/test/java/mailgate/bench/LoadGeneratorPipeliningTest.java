/*
 * SUMMARY
 * Tests of the PIPELINING, CHUNKING (BDAT) and rejection paths against FakeSmtpServer, which advertises both
 * extensions, batches its replies and splits its EHLO reply across writes. Message sizes seen by the server (after
 * dot-unstuffing, or the BDAT chunk size) must equal --size.
 */
package mailgate.bench;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LoadGeneratorPipeliningTest
{
    private FakeSmtpServer server;

    @BeforeEach
    void start() throws IOException
    {
        server = new FakeSmtpServer();
    }

    @AfterEach
    void stop() throws IOException
    {
        server.close();
    }

    @Test
    void pipelinedData() throws IOException
    {
        final LoadResult result = run("--connections", "4", "--messages", "200", "--per-connection", "50",
            "--recipients", "2", "--size", "3000");

        assertEquals(200, result.accepted());
        assertEquals(0, result.errors());
        assertTrue(result.usedPipelining());
        assertFalse(result.usedChunking());
        assertEquals(400, result.histogram(Phase.RCPT).getTotalCount());
        assertEquals(200 * 4 + result.sessions() * 3, result.replies(2));
        assertTrue(server.maxCommandsInOneRead.get() >= 4, "MAIL, 2 RCPT and DATA should arrive together: " +
            server.maxCommandsInOneRead.get());
        assertSizes(200, 3000);
    }

    @Test
    void pipelinedBdat() throws IOException
    {
        final LoadResult result = run("--connections", "4", "--messages", "100", "--bdat", "on", "--size", "70000");

        assertEquals(100, result.accepted());
        assertTrue(result.usedChunking());
        assertEquals(100, server.bdatCommands.get());
        assertEquals(0, server.dataCommands.get());
        assertEquals(0, result.replies(3), "BDAT has no 354");
        assertSizes(100, 70000);
    }

    @Test
    void bdatWithoutPipelining() throws IOException
    {
        final LoadResult result = run("--connections", "2", "--messages", "30", "--bdat", "on",
            "--pipelining", "off");

        assertEquals(30, result.accepted());
        assertFalse(result.usedPipelining());
        assertTrue(result.usedChunking());
        assertSizes(30, 1024);
    }

    @Test
    void largeMessagesNeedSeveralWrites() throws IOException
    {
        final LoadResult result = run("--connections", "2", "--messages", "6", "--size", "3000000");

        assertEquals(6, result.accepted());
        assertEquals(6L * 3_000_000, result.acceptedBytes());
        assertSizes(6, 3_000_000);
    }

    @Test
    void rejectedRecipientsPipelined() throws IOException
    {
        final LoadResult result = run("--connections", "2", "--messages", "40", "--to", "reject@example.test");

        assertEquals(0, result.accepted());
        assertEquals(40, result.rejected5xx());
        assertEquals(0, result.errors());
        assertEquals(0, server.messageSizes.size());
    }

    @Test
    void rejectedRecipientsOneAtATime() throws IOException
    {
        final LoadResult result = run("--connections", "2", "--messages", "40", "--to", "reject@example.test",
            "--pipelining", "off");

        assertEquals(0, result.accepted());
        assertEquals(40, result.rejected5xx());
        assertEquals(0, result.errors());
        assertEquals(0, server.dataCommands.get(), "no DATA without an accepted recipient");
    }

    @Test
    void closedLoopStopsAfterDuration() throws IOException
    {
        final LoadResult result = run("--connections", "4", "--messages", "1000000000", "--duration", "1");

        assertTrue(result.accepted() > 0);
        assertEquals(0, result.failed() + result.errors());
        assertTrue(result.wallSeconds() < 10, "stopped after about 1 s: " + result.wallSeconds());
        assertEquals(result.accepted(), server.messageSizes.size(), "every started message was finished");
    }

    @Test
    void warmupMessagesAreNotRecorded() throws IOException
    {
        // intended starts every 5 ms: the first 50 (0 .. 245 ms) fall in the 250 ms warm-up
        final LoadResult result = run("--connections", "4", "--messages", "100", "--rate", "200", "--warmup", "0.25");

        assertEquals(50, result.warmupMessages());
        assertEquals(50, result.accepted());
        assertEquals(50, result.histogram(Phase.MESSAGE).getTotalCount());
        assertEquals(100, server.messageSizes.size());
    }

    @Test
    void warmupCountedInMessagesIsNotRecordedAndIsAnnounced() throws IOException
    {
        final java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        final java.nio.charset.Charset utf8 = java.nio.charset.StandardCharsets.UTF_8;
        final LoadResult result = LoadGenerator.run(LoadOptions.parse("--target", "127.0.0.1:" + server.port(),
            "--quiet", "--connections", "4", "--messages", "120", "--warmup-messages", "70"),
            new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));

        // the four messages in flight when the 71st starts still belong to the warm-up
        assertEquals(120, result.warmupMessages() + result.accepted());
        assertTrue(result.warmupMessages() >= 70 && result.warmupMessages() <= 73, "" + result.warmupMessages());
        assertEquals(result.accepted(), result.histogram(Phase.MESSAGE).getTotalCount());
        assertEquals(120, server.messageSizes.size());
        assertTrue(err.toString(utf8).contains("loadgen: warm-up over (70 messages)"), err.toString(utf8));
        assertTrue(result.measuredSeconds() > 0 && result.measuredSeconds() <= result.wallSeconds());
    }

    @Test
    void silentServerTimesOut() throws IOException
    {
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()))
        {
            final LoadResult result = LoadGenerator.run(LoadOptions.parse("--target", "127.0.0.1:" +
                silent.getLocalPort(), "--connections", "2", "--messages", "4", "--timeout-ms", "100", "--quiet"),
                LoadGeneratorTest.quietStream());

            assertEquals(0, result.accepted());
            assertTrue(result.timeouts() > 0);
            assertTrue(null != result.abortReason(), "gives up when no connection ever gets through");
        }
    }

    private LoadResult run(final String... flags) throws IOException
    {
        final String[] args = new String[flags.length + 3];
        args[0] = "--target";
        args[1] = "127.0.0.1:" + server.port();
        args[2] = "--quiet";
        System.arraycopy(flags, 0, args, 3, flags.length);
        return LoadGenerator.run(LoadOptions.parse(args), LoadGeneratorTest.quietStream());
    }

    private void assertSizes(final int count, final int size)
    {
        assertEquals(count, server.messageSizes.size());
        for (final int received : server.messageSizes)
        {
            assertEquals(size, received);
        }
    }
}
