package mailgate.rate;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two JVMs increment the same keys of one counter file at the same time: no increment is lost.
 */
class RateStoreSharingTest
{
    private static final int INCREMENTS = 100_000;
    private static final int KEYS = 1000;
    private static final long BASE_MS = 1_700_000_040_000L - (1_700_000_040_000L % 60_000);
    private Path dir;

    @BeforeEach
    void setUp()
    {
        dir = RateTestSupport.newShmDir("sharing");
    }

    @AfterEach
    void tearDown()
    {
        RateTestSupport.delete(dir);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void twoProcessesCountExactly() throws Exception
    {
        final Path mapFile = dir.resolve("rate/counters");
        final long startAt = System.currentTimeMillis() + 4000; // both JVMs up and the map open by then
        final List<Process> processes = new ArrayList<>();
        final List<File> outputs = new ArrayList<>();
        for (int p = 0; p < 2; p++)
        {
            final List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.addAll(List.of(RateTestSupport.JVM_FLAGS));
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), RateStoreSharingWorker.class.getName(),
                mapFile.toString(), Long.toString(startAt), Integer.toString(INCREMENTS), Integer.toString(KEYS),
                Long.toString(BASE_MS)));
            final File out = dir.resolve("worker" + p + ".out").toFile();
            outputs.add(out);
            processes.add(new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out).start());
        }
        for (int p = 0; p < 2; p++)
        {
            final Process process = processes.get(p);
            if (!process.waitFor(80, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                fail("worker " + p + " did not finish");
            }
            final String out = java.nio.file.Files.readString(outputs.get(p).toPath(), StandardCharsets.UTF_8);
            assertEquals(0, process.exitValue(), "worker " + p + ": " + out);
            System.out.println("RateStoreSharingTest worker " + p + ": " + out.strip());
        }
        try (RateStore store = RateStore.open(new RateStore.Context().mapFile(mapFile).nodeId(0).maxEntries(10_000)))
        {
            final Subject subject = new Subject();
            long sum = 0;
            for (int k = 0; k < KEYS; k++)
            {
                subject.clientIp(0, IpLiteral.V4_MAPPED_LOW_PREFIX | (10L << 24) | k);
                final long minute = store.total(RateDimension.MESSAGES, subject, 60_000, BASE_MS + 59_000);
                assertEquals(2L * INCREMENTS / KEYS, minute, "key " + k + " minute total");
                assertEquals(minute, store.total(RateDimension.MESSAGES, subject, 3_600_000, BASE_MS + 59_000));
                sum += minute;
            }
            assertEquals(2L * INCREMENTS, sum);
            System.out.println("RateStoreSharingTest: 2 processes x " + INCREMENTS + " increments over " + KEYS +
                " keys: total " + sum + " (exact)");
        }
    }
}
