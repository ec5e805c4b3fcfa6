package mailgate.supervisor;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.router.SystemTestSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * smtpd gets the heap it was given, every other child a small one of its own, and the JVMs really run with it.
 */
@Timeout(90)
class SupervisorMemoryTest
{
    @TempDir
    Path tmp;

    private DaemonProcess supervisor;
    private Path shm;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != supervisor)
        {
            supervisor.close();
        }
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    void rolesGetTheirOwnHeapsAndOverridesWin() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        supervisor = DaemonProcess.startSupervisorWithJvmFlags(tmp.resolve("spool"),
            List.of("-Dmailgate.smtpd.memory=-Xms48m -Xmx200m -XX:+AlwaysPreTouch",
                "-Dmailgate.filter.memory=-Xms24m -Xmx96m"),
            "--set", "ipc.aeron-dir=" + shm.resolve("aeron"),
            "--set", "ipc.secret-file=" + tmp.resolve("secret"));
        // the whole chain works with the small heaps: router and filter answer, the message is queued
        await("a message through router and filter").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
            .ignoreExceptions()
            .until(() -> String.valueOf(SmtpTestClient.sendMessage(supervisor.port(), "Subject: heap\r\n\r\nhi\r\n"))
                .startsWith("250 2.0.0"));

        final Map<String, Long> children = new HashMap<>();
        for (final String role : List.of("driver", "router", "filter", "smtpd", "rate", "handoff"))
        {
            final long pid = supervisor.childPid(role);
            if (pid > 0)
            {
                children.put(role, pid);
            }
        }
        assertEquals(java.util.Set.of("driver", "router", "filter", "smtpd"), children.keySet(), children.toString());
        assertEquals(200L << 20, maxHeap(children.get("smtpd")), "smtpd: its own -Xmx, not the supervisor's 512m");
        assertTrue(flags(children.get("smtpd")).contains("+AlwaysPreTouch"), "smtpd pre-touches its heap");
        assertEquals(96L << 20, maxHeap(children.get("filter")), "filter: the operator's override");
        assertEquals(128L << 20, maxHeap(children.get("router")), "router: the default");
        assertEquals(64L << 20, maxHeap(children.get("driver")), "driver: the default");
        for (final String role : List.of("router", "filter", "driver"))
        {
            assertFalse(flags(children.get(role)).contains("+AlwaysPreTouch"), role + " does not pre-touch");
        }
    }

    @Test
    void smtpdKeepsTheSupervisorsHeapWhenNothingIsSaidForIt()
    {
        final Properties none = new Properties();
        assertNull(RoleMemory.flags("smtpd", none));
        assertEquals(List.of("-Xms16m", "-Xmx128m"), RoleMemory.flags("router", none));
        final Properties set = new Properties();
        set.setProperty("mailgate.router.memory", "  -Xmx1g   -Xms1g ");
        assertEquals(List.of("-Xmx1g", "-Xms1g"), RoleMemory.flags("router", set));
        assertTrue(RoleMemory.isMemoryFlag("-Xmx512m") && RoleMemory.isMemoryFlag("-XX:+AlwaysPreTouch"));
        assertFalse(RoleMemory.isMemoryFlag("-XX:MaxDirectMemorySize=512m"));
    }

    /** The JVM's own view of its flags (jcmd VM.flags), not the command line. */
    private static String flags(final long pid) throws Exception
    {
        final Process jcmd = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
            Long.toString(pid), "VM.flags").redirectErrorStream(true).start();
        final String out = new String(jcmd.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(jcmd.waitFor(30, TimeUnit.SECONDS));
        return out;
    }

    private static long maxHeap(final long pid) throws Exception
    {
        final String out = flags(pid);
        final int at = out.indexOf("-XX:MaxHeapSize=");
        assertTrue(at >= 0, out);
        final int end = out.indexOf(' ', at);
        return Long.parseLong(out.substring(at + "-XX:MaxHeapSize=".length(), end < 0 ? out.length() : end).strip());
    }
}
