package mailgate.bench.ipc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs IpcRoundTrip in-process against a real router child with tiny counts.
 */
class IpcRoundTripTest
{
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void pingPongAnswersEveryQuestionInOrderAndStopsTheRouter()
    {
        final ByteArrayOutputStream text = new ByteArrayOutputStream();
        final IpcRoundTrip.Result result = IpcRoundTrip.run(
            IpcRoundTrip.Options.parse(new String[]{"--count", "2000", "--warmup", "500"}),
            new PrintStream(text, true, StandardCharsets.UTF_8));

        assertEquals(2500, result.repliesTotal, text.toString(StandardCharsets.UTF_8));
        assertEquals(2000, result.measured);
        assertEquals(2000, result.histogram.getTotalCount());
        assertEquals(0, result.mismatched);
        assertEquals(0, result.notAccepted);
        assertTrue(result.histogram.getMinValue() > 0);
        assertRouterAndDirectoryGone(result);
        assertTrue(text.toString(StandardCharsets.UTF_8).contains("p99.9"));
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void pipelinedAnswersEveryQuestionInOrder()
    {
        final IpcRoundTrip.Result result = IpcRoundTrip.run(
            IpcRoundTrip.Options.parse(new String[]{"--count", "2000", "--warmup", "500", "--pipelined", "64"}),
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        assertEquals(2500, result.repliesTotal);
        assertEquals(2000, result.measured);
        assertEquals(0, result.mismatched);
        assertEquals(0, result.notAccepted);
        assertTrue(result.requestsPerSecond() > 0);
        assertRouterAndDirectoryGone(result);
    }

    @Test
    void rejectsBadFlags()
    {
        assertThrows(IllegalArgumentException.class,
            () -> IpcRoundTrip.Options.parse(new String[]{"--idle", "sleepy"}));
        assertThrows(IllegalArgumentException.class,
            () -> IpcRoundTrip.Options.parse(new String[]{"--count"}));
        assertThrows(IllegalArgumentException.class,
            () -> IpcRoundTrip.Options.parse(new String[]{"--pipelined", "100000"}));
    }

    private static void assertRouterAndDirectoryGone(final IpcRoundTrip.Result result)
    {
        assertTrue(result.childPid > 0);
        assertTrue(result.childExited);
        assertFalse(ProcessHandle.of(result.childPid).map(ProcessHandle::isAlive).orElse(false),
            "router child " + result.childPid + " still alive");
        assertFalse(Files.exists(result.directory), result.directory + " left behind");
    }
}
