package mailgate.tools;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import mailgate.ipc.MediaDriverLauncher;
import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.agrona.IoUtil;
import org.agrona.concurrent.status.AtomicCounter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Prometheus endpoint against a real smtpd fed three messages and a real media driver with a router counter.
 */
@Timeout(180)
class MetricsExporterTest
{
    private static final Pattern SAMPLE = Pattern.compile(
        "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\]*\")*)})?" +
        " (-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)$");
    private static final Pattern HELP_OR_TYPE = Pattern.compile("^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$");

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void servesTheDaemonAndDriverCountersInTextFormat() throws Exception
    {
        final Path spool = dir.resolve("spool");
        final Path root = Path.of("/dev/shm").toFile().isDirectory() ?
            Path.of("/dev/shm", "mg-inspect-" + UUID.randomUUID()) : dir.resolve("shm");
        final Path aeronDir = root.resolve("aeron");
        try (MediaDriver driver = MediaDriverLauncher.launch(aeronDir);
            Aeron aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(aeronDir.toString()));
            AtomicCounter routerRequests = aeron.addCounter(2101, "router requests");
            DaemonProcess daemon = DaemonProcess.start(spool, "--event-loops", "2");
            MetricsExporter exporter = MetricsExporter.start(List.of(
                "--listen", "127.0.0.1:0", "--spool", spool.toString(), "--aeron-dir", aeronDir.toString())))
        {
            assertEquals(aeronDir.toAbsolutePath().toString(), driver.aeronDirectoryName());
            routerRequests.set(5);
            for (int i = 0; i < 3; i++)
            {
                try (SmtpTestClient client = SmtpTestClient.open(daemon.port(), 15_000))
                {
                    client.sendMail(
                        "alice@sender.test", List.of("bob@rcpt.test"), "Subject: " + i + "\r\n\r\nbody\r\n");
                    client.expect("QUIT", "221");
                }
            }
            final URI uri = URI.create("http://127.0.0.1:" + exporter.address().getPort() + "/metrics");
            final String[] body = new String[1];
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).ignoreExceptions().until(() ->
            {
                body[0] = get(uri).body();
                final Map<String, Map<String, Double>> samples = parse(body[0]);
                return 3.0 == sum(samples, "mailgate_messages_queued_total") &&
                    0.0 == sum(samples, "mailgate_connections_active");
            });
            final String text = body[0];
            final Map<String, Map<String, Double>> samples = parse(text);
            assertEquals(2, samples.get("mailgate_messages_queued_total").size(), "one sample per loop: " + text);
            assertTrue(samples.get("mailgate_messages_queued_total").containsKey("loop=\"0\""), text);
            assertTrue(samples.get("mailgate_messages_queued_total").containsKey("loop=\"1\""), text);
            assertEquals(3.0, sum(samples, "mailgate_connections_accepted_total"), text);
            assertTrue(text.contains("# TYPE mailgate_connections_active gauge\n"), text);
            assertTrue(text.contains("# TYPE mailgate_messages_queued_total counter\n"), text);
            assertEquals(1.0, sum(samples, "mailgate_smtpd_up"), text);
            assertEquals(1.0, sum(samples, "mailgate_aeron_driver_up"), text);
            assertEquals(5.0, sum(samples, "mailgate_router_requests_total"), text);
            assertEquals(0.0, sum(samples, "mailgate_aeron_errors_total"), text);
            assertTrue(samples.containsKey("mailgate_aeron_client_timeouts_total"), text);

            final HttpResponse<String> response = get(uri);
            assertEquals(200, response.statusCode());
            assertEquals(MetricsExporter.CONTENT_TYPE, response.headers().firstValue("Content-Type").orElse(""));
            assertEquals(404, get(URI.create("http://127.0.0.1:" + exporter.address().getPort() + "/nope"))
                .statusCode());
            final HttpResponse<String> post = http.send(HttpRequest.newBuilder(uri)
                .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
        }
        finally
        {
            IoUtil.delete(root.toFile(), true);
        }
    }

    @Test
    void missingFilesAreDownGaugesNotErrors() throws Exception
    {
        try (MetricsExporter exporter = MetricsExporter.start(List.of("--listen", "localhost:0",
            "--spool", dir.resolve("none").toString(), "--aeron-dir", dir.resolve("aeron").toString())))
        {
            assertTrue(exporter.address().getAddress().isLoopbackAddress());
            final HttpResponse<String> response =
                get(URI.create("http://127.0.0.1:" + exporter.address().getPort() + "/metrics"));
            assertEquals(200, response.statusCode());
            final Map<String, Map<String, Double>> samples = parse(response.body());
            assertEquals(0.0, sum(samples, "mailgate_smtpd_up"), response.body());
            assertEquals(0.0, sum(samples, "mailgate_aeron_driver_up"), response.body());
            assertTrue(response.body().contains("# no status file at "), response.body());
        }
    }

    @Test
    void refusesANonLoopbackAddressWithoutAllowRemote()
    {
        final InspectException ex = assertThrows(InspectException.class,
            () -> MetricsExporter.start(List.of("--listen", "0.0.0.0:0")));
        assertEquals(InspectMain.EXIT_USAGE, ex.exitStatus());
        assertTrue(ex.getMessage().contains("--allow-remote"), ex.getMessage());
        assertEquals(InspectMain.EXIT_USAGE, assertThrows(InspectException.class,
            () -> MetricsExporter.start(List.of("--listen", "9465"))).exitStatus());
        assertEquals(InspectMain.EXIT_USAGE, assertThrows(InspectException.class,
            () -> MetricsExporter.start(List.of("--bogus"))).exitStatus());
    }

    @Test
    void labelsBecomeMetricNames()
    {
        assertEquals("messages_queued", MetricsExporter.snakeCase("messages queued"));
        assertEquals("ipc_offers_failed_back_pressure_not_connected",
            MetricsExporter.snakeCase("ipc offers failed (back pressure, not connected)"));
        assertEquals("replies_2xx", MetricsExporter.snakeCase("Replies 2xx"));
        assertEquals("bare_lf_seen", MetricsExporter.snakeCase("  bare LF seen!"));
    }

    private HttpResponse<String> get(final URI uri) throws Exception
    {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Parse the text format strictly: every line a HELP/TYPE, a comment or a sample; TYPE once per metric,
     * before its samples; samples of a metric together.
     *
     * @return metric name to labels to value.
     */
    private static Map<String, Map<String, Double>> parse(final String text)
    {
        assertTrue(text.endsWith("\n"), "ends with a line feed");
        final Map<String, Map<String, Double>> samples = new HashMap<>();
        final Set<String> typed = new HashSet<>();
        final Set<String> finished = new HashSet<>();
        String current = null;
        for (final String line : text.split("\n"))
        {
            final Matcher header = HELP_OR_TYPE.matcher(line);
            if (header.matches())
            {
                if ("TYPE".equals(header.group(1)))
                {
                    assertTrue(typed.add(header.group(2)), "one TYPE per metric: " + line);
                    assertTrue(Set.of("counter", "gauge").contains(header.group(3)), line);
                }
                continue;
            }
            if (line.startsWith("#"))
            {
                continue;
            }
            final Matcher sample = SAMPLE.matcher(line);
            assertTrue(sample.matches(), "not a sample line: '" + line + "'");
            final String name = sample.group(1);
            assertTrue(typed.contains(name), "TYPE before samples: " + line);
            if (!name.equals(current))
            {
                assertFalse(finished.contains(name), "samples of a metric together: " + line);
                if (null != current)
                {
                    finished.add(current);
                }
                current = name;
            }
            final String labels = null == sample.group(3) ? "" : sample.group(3);
            assertFalse(samples.computeIfAbsent(name, (k) -> new HashMap<>()).containsKey(labels), "duplicate: " + line);
            samples.get(name).put(labels, Double.parseDouble(sample.group(5)));
        }
        return samples;
    }

    private static double sum(final Map<String, Map<String, Double>> samples, final String name)
    {
        final Map<String, Double> values = samples.get(name);
        assertTrue(null != values, "no metric " + name + " in " + samples.keySet());
        double sum = 0;
        for (final double value : values.values())
        {
            sum += value;
        }
        return sum;
    }
}
