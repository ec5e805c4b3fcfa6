package mailgate.tools;

import io.aeron.Aeron;
import io.aeron.AeronCounters;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.exceptions.RegistrationException;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.MediaDriverLauncher;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static mailgate.tools.InspectRun.list;
import static mailgate.tools.InspectRun.map;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * inspect ipc and inspect errors against a real media driver (in-process, or a child JVM killed with SIGKILL)
 * and a real Aeron client publishing known bytes over aeron:ipc.
 */
@Timeout(120)
class IpcInspectorTest
{
    private static final int REQUEST_STREAM = IpcChannels.ROUTER_REQUEST_STREAM;
    private static final int REPLY_STREAM = IpcChannels.REPLY_STREAM_BASE;
    private static final int MESSAGES = 10;
    private static final int MESSAGE_LENGTH = 1000;
    private static final int POLLED_FIRST = 4;

    private Path root;
    private Path aeronDir;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private Process driverProcess;
    private File driverLog;

    @BeforeEach
    void setUp()
    {
        root = Path.of("/dev/shm").toFile().isDirectory() ?
            Path.of("/dev/shm", "mg-inspect-" + UUID.randomUUID()) :
            Path.of(System.getProperty("java.io.tmpdir"), "mg-inspect-" + UUID.randomUUID());
        aeronDir = root.resolve("aeron");
    }

    @AfterEach
    void tearDown() throws Exception
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            try
            {
                closeables.get(i).close();
            }
            catch (final Exception ignore)
            {
                // the driver may be gone: nothing to release there
            }
        }
        if (null != driverProcess && driverProcess.isAlive())
        {
            driverProcess.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        IoUtil.delete(root.toFile(), true);
        if (null != driverLog && !driverLog.delete())
        {
            driverLog.deleteOnExit();
        }
    }

    private Aeron connect()
    {
        final Aeron aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDir.toString())
            .errorHandler((t) -> { }));
        closeables.add(aeron);
        return aeron;
    }

    @Test
    void reportsPublicationsSubscriptionsAndLagGoingToZero()
    {
        closeables.add(MediaDriverLauncher.launch(aeronDir));
        final Aeron aeron = connect();
        final Subscription requests = aeron.addSubscription("aeron:ipc", REQUEST_STREAM);
        final Publication requestPublication = aeron.addExclusivePublication("aeron:ipc", REQUEST_STREAM);
        final Subscription replies = aeron.addSubscription("aeron:ipc", REPLY_STREAM);
        final Publication replyPublication = aeron.addExclusivePublication("aeron:ipc", REPLY_STREAM);
        final Publication lonely = aeron.addExclusivePublication("aeron:ipc", REPLY_STREAM + 1);
        final AtomicCounter routerRequests = aeron.addCounter(2101, "router requests");
        routerRequests.set(42);
        await().atMost(Duration.ofSeconds(10)).until(() ->
            requestPublication.isConnected() && replyPublication.isConnected());

        final UnsafeBuffer message = new UnsafeBuffer(ByteBuffer.allocateDirect(MESSAGE_LENGTH));
        for (int i = 0; i < MESSAGES; i++)
        {
            message.setMemory(0, MESSAGE_LENGTH, (byte)i);
            assertTrue(requestPublication.offer(message, 0, MESSAGE_LENGTH) > 0, "offer " + i);
        }
        final long published = requestPublication.position();
        assertEquals(POLLED_FIRST, requests.poll((buffer, offset, length, header) -> { }, POLLED_FIRST));
        final long polled = requests.imageBySessionId(requestPublication.sessionId()).position();
        assertTrue(polled > 0 && polled < published, "polled " + polled + " of " + published);

        // the driver samples pub-pos on its duty cycle: wait until it shows what was published
        final Map<String, Object> json = awaitPublication(requestPublication.sessionId(), published);
        final Map<String, Object> driver = map(json.get("driver"));
        assertEquals(ProcessHandle.current().pid(), driver.get("pid"));
        assertEquals(Boolean.TRUE, driver.get("alive"));
        assertTrue((Long)driver.get("heartbeatAgeMs") < 5_000, json.toString());

        final Map<String, Object> publication = find(json, "publications", requestPublication.sessionId());
        assertEquals((long)REQUEST_STREAM, publication.get("streamId"));
        assertEquals("aeron:ipc", publication.get("channel"));
        assertEquals(published, publication.get("position"));
        assertEquals(1L, publication.get("subscribers"));
        assertEquals(published - polled, publication.get("lag"), "lag = bytes not yet polled: " + json);
        assertTrue((Long)publication.get("limit") > published, json.toString());
        assertEquals(aeron.clientId(), publication.get("clientId"));

        final Map<String, Object> subscription = find(json, "subscriptions", requestPublication.sessionId());
        assertEquals((long)REQUEST_STREAM, subscription.get("streamId"));
        assertEquals(polled, subscription.get("position"));
        assertEquals(published - polled, subscription.get("lag"));
        assertEquals(requests.registrationId(), subscription.get("registrationId"));

        final Map<String, Object> reply = find(json, "publications", replyPublication.sessionId());
        assertEquals((long)REPLY_STREAM, reply.get("streamId"));
        assertEquals(0L, reply.get("lag"));
        assertEquals((long)REPLY_STREAM, find(json, "subscriptions", replyPublication.sessionId()).get("streamId"));
        final Map<String, Object> unsubscribed = find(json, "publications", lonely.sessionId());
        assertEquals(0L, unsubscribed.get("subscribers"));
        assertNull(unsubscribed.get("lag"), "no subscriber, no lag: " + json);

        final Map<String, Object> client = map(list(json.get("clients")).get(0));
        assertEquals(aeron.clientId(), client.get("clientId"));
        assertEquals(ProcessHandle.current().pid(), client.get("pid"), "driver and client share this JVM: " + json);
        assertEquals("router", client.get("role"), "owns a router counter: " + json);
        assertTrue((Long)client.get("heartbeatAgeMs") < 5_000, json.toString());

        boolean sawRouterCounter = false;
        for (final Object row : list(json.get("mailgate")))
        {
            final Map<String, Object> counter = map(row);
            if (2101L == (Long)counter.get("typeId"))
            {
                sawRouterCounter = true;
                assertEquals("router requests", counter.get("label"));
                assertEquals(42L, counter.get("value"));
                assertEquals("router", counter.get("role"));
            }
        }
        assertTrue(sawRouterCounter, json.toString());
        assertTrue(systemCounter(json, AeronCounters.SYSTEM_COUNTER_ID_ERRORS) >= 0, json.toString());

        final InspectRun text = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString());
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.matches("(?s).*media driver pid " + ProcessHandle.current().pid() + "( \\([^)]*\\))? running.*"),
            text.toString());
        assertTrue(text.out.contains(String.format("%,d", published - polled)), text.toString());
        assertTrue(text.out.contains("router requests [router, client " + aeron.clientId()), text.toString());
        assertTrue(text.out.contains("Client liveness timeouts"), text.toString());

        final InspectRun filtered = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json",
            "name=^pub-pos.* " + REPLY_STREAM + " ");
        assertEquals(0, filtered.exit, filtered.toString());
        assertEquals(1, list(filtered.json().get("publications")).size(), filtered.toString());
        assertEquals(0, list(filtered.json().get("subscriptions")).size(), filtered.toString());

        int rest = 0;
        while (rest < MESSAGES - POLLED_FIRST)
        {
            rest += requests.poll((buffer, offset, length, header) -> { }, MESSAGES);
        }
        final Map<String, Object> after = awaitPublication(requestPublication.sessionId(), published);
        assertEquals(0L, find(after, "publications", requestPublication.sessionId()).get("lag"), after.toString());
        assertEquals(0L, find(after, "subscriptions", requestPublication.sessionId()).get("lag"), after.toString());
        assertEquals(published, find(after, "subscriptions", requestPublication.sessionId()).get("position"));

        final InspectRun watch = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json", "--watch",
            "--interval", "50", "--count", "2");
        assertEquals(0, watch.exit, watch.toString());
        final List<Map<String, Object>> frames = watch.jsonLines();
        assertEquals(2, frames.size(), watch.toString());
        assertNotNull(frames.get(1).get("elapsedMs"), watch.toString());
        assertNotNull(find(frames.get(1), "publications", requestPublication.sessionId()).get("bytesPerSecond"));
    }

    @Test
    void readsTheCncFileOfADriverKilledWithSigkill() throws Exception
    {
        final List<String> command = List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-Xmx128m", "-Dmailgate.role=driver",
            "-cp", System.getProperty("java.class.path"),
            "mailgate.ipc.DriverMain", "--aeron-dir", aeronDir.toString());
        driverLog = File.createTempFile("mg-inspect-driver", ".log");
        driverProcess = new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(driverLog)
            .start();
        final long driverPid = driverProcess.pid();
        await().atMost(Duration.ofSeconds(30)).until(() ->
        {
            final InspectRun run = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json");
            return 0 == run.exit && Boolean.TRUE.equals(map(run.json().get("driver")).get("alive"));
        });

        final Aeron aeron = connect();
        final Subscription subscription = aeron.addSubscription("aeron:ipc", REQUEST_STREAM);
        final Publication publication = aeron.addExclusivePublication("aeron:ipc", REQUEST_STREAM);
        await().atMost(Duration.ofSeconds(10)).until(publication::isConnected);
        final UnsafeBuffer message = new UnsafeBuffer(ByteBuffer.allocateDirect(MESSAGE_LENGTH));
        for (int i = 0; i < MESSAGES; i++)
        {
            assertTrue(publication.offer(message, 0, MESSAGE_LENGTH) > 0, "offer " + i);
        }
        assertEquals(POLLED_FIRST, subscription.poll((buffer, offset, length, header) -> { }, POLLED_FIRST));
        final long published = publication.position();
        final long polled = subscription.imageBySessionId(publication.sessionId()).position();
        final Map<String, Object> live = awaitPublication(publication.sessionId(), published);
        final Map<String, Object> liveClient = map(list(live.get("clients")).get(0));
        assertEquals(aeron.clientId(), liveClient.get("clientId"));

        driverProcess.destroyForcibly();
        assertTrue(driverProcess.waitFor(10, TimeUnit.SECONDS));
        assertTrue(CncFileReader.cncFile(aeronDir).toFile().isFile(), "SIGKILL leaves cnc.dat behind");

        final InspectRun run = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json");
        assertEquals(0, run.exit, run.toString());
        final Map<String, Object> json = run.json();
        final Map<String, Object> driver = map(json.get("driver"));
        assertEquals(driverPid, driver.get("pid"), json.toString());
        assertEquals(Boolean.FALSE, driver.get("alive"), json.toString());
        assertEquals("dead", driver.get("process"), json.toString());
        final Map<String, Object> dead = find(json, "publications", publication.sessionId());
        assertEquals(published, dead.get("position"));
        assertEquals(published - polled, dead.get("lag"), "positions as last written: " + json);
        assertEquals(polled, find(json, "subscriptions", publication.sessionId()).get("position"));
        assertEquals(aeron.clientId(), map(list(json.get("clients")).get(0)).get("clientId"));

        final InspectRun text = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString());
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("media driver pid " + driverPid + " not running"), text.toString());

        final InspectRun errors = InspectRun.of("errors", "--aeron-dir", aeronDir.toString());
        assertEquals(0, errors.exit, errors.toString());
        assertTrue(errors.out.contains("pid " + driverPid + " not running"), errors.toString());
    }

    @Test
    void errorsShowsTheDriversDistinctErrorLog()
    {
        closeables.add(MediaDriverLauncher.launch(aeronDir));
        final InspectRun none = InspectRun.of("errors", "--aeron-dir", aeronDir.toString());
        assertEquals(0, none.exit, none.toString());
        assertTrue(none.out.contains("0 distinct errors observed."), none.toString());

        final Aeron aeron = connect();
        final String badChannel = "aeron:udp?endpoint=localhost:notaport";
        for (int i = 0; i < 2; i++)
        {
            assertThrows(RegistrationException.class, () -> aeron.addPublication(badChannel, REQUEST_STREAM));
        }

        final InspectRun json = InspectRun.of("errors", "--aeron-dir", aeronDir.toString(), "--json",
            "--spool", root.resolve("spool").toString());
        assertEquals(0, json.exit, json.toString());
        final List<Object> errors = list(json.json().get("errors"));
        assertEquals(1, errors.size(), "one distinct error, seen twice: " + json);
        final Map<String, Object> error = map(errors.get(0));
        assertEquals(2L, error.get("count"), json.toString());
        assertTrue(((String)error.get("text")).contains("notaport"), json.toString());
        assertTrue((Long)error.get("lastMs") >= (Long)error.get("firstMs"), json.toString());
        assertNull(json.json().get("spoolErrors"), json.toString());

        final InspectRun text = InspectRun.of("errors", "--aeron-dir", aeronDir.toString());
        assertEquals(0, text.exit, text.toString());
        assertTrue(text.out.contains("2 observations from "), text.toString());
        assertTrue(text.out.contains("notaport"), text.toString());
        assertTrue(text.out.contains("1 distinct errors observed."), text.toString());
        assertTrue(text.out.contains("\tat "), "stack trace: " + text);

        final InspectRun ipc = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json");
        assertEquals(2, systemCounter(ipc.json(), AeronCounters.SYSTEM_COUNTER_ID_ERRORS), ipc.toString());
    }

    @Test
    void missingOrForeignFilesAreClearErrors() throws IOException
    {
        final InspectRun missing = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString());
        assertEquals(1, missing.exit, missing.toString());
        assertTrue(missing.err.contains("no media driver file at " + aeronDir.resolve("cnc.dat")), missing.toString());
        final InspectRun errors = InspectRun.of("errors", "--aeron-dir", aeronDir.toString());
        assertEquals(1, errors.exit, errors.toString());

        assertTrue(aeronDir.toFile().mkdirs());
        Files.write(aeronDir.resolve("cnc.dat"), new byte[8192]);
        final InspectRun empty = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString());
        assertEquals(1, empty.exit, empty.toString());
        assertTrue(empty.err.contains("not ready"), empty.toString());

        final InspectRun usage = InspectRun.of("ipc", "--count", "2");
        assertEquals(2, usage.exit, usage.toString());
        final InspectRun rates = InspectRun.of("rates", "--top", "0");
        assertEquals(2, rates.exit, rates.toString());
        assertTrue(rates.err.contains("--top must be at least 1"), rates.toString());
        assertFalse(rates.err.isEmpty());
    }

    private Map<String, Object> awaitPublication(final int sessionId, final long position)
    {
        final List<Map<String, Object>> last = new ArrayList<>(List.of(Map.of()));
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).until(() ->
        {
            final InspectRun run = InspectRun.of("ipc", "--aeron-dir", aeronDir.toString(), "--json");
            assertEquals(0, run.exit, run.toString());
            last.set(0, run.json());
            final Map<String, Object> publication = find(last.get(0), "publications", sessionId);
            return null != publication && Long.valueOf(position).equals(publication.get("position"));
        });
        return last.get(0);
    }

    private static Map<String, Object> find(final Map<String, Object> json, final String section, final int sessionId)
    {
        for (final Object row : list(json.get(section)))
        {
            if (((Long)map(row).get("sessionId")).intValue() == sessionId)
            {
                return map(row);
            }
        }
        return null;
    }

    private static long systemCounter(final Map<String, Object> json, final int systemId)
    {
        for (final Object row : list(json.get("system")))
        {
            if (((Long)map(row).get("systemId")).intValue() == systemId)
            {
                return (Long)map(row).get("value");
            }
        }
        return -1;
    }
}
