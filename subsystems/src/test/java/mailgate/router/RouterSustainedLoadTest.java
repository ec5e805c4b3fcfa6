package mailgate.router;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many more router questions through one event loop than fit in one IPC term (1 MiB, roughly 8 000 requests):
 * the term rotations on the request publication must not turn any question into a 451.
 */
@Timeout(60)
class RouterSustainedLoadTest
{
    private static final int THREADS = 8;
    private static final int REQUESTS = 24_000;

    @TempDir
    Path tmp;

    private Path shm;
    private DaemonProcess daemon;

    @AfterEach
    void tearDown() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
        SystemTestSupport.deleteTree(shm);
    }

    @Test
    void termRotationsLoseNoRequest() throws Exception
    {
        shm = SystemTestSupport.uniqueShmDir();
        final Path tables = SystemTestSupport.standardTables(tmp.resolve("tables"));
        daemon = SystemTestSupport.startSupervisor(tmp, shm,
            "--set", "router.tables=" + tables,
            "--event-loops", "1");
        final int port = daemon.port();
        // smtpd listens before the router has proven itself; on a loaded machine that takes a few seconds, and
        // the load below is about term rotations, not start-up
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
            .until(() -> SmtpTestClient.probe(port, "probe@sender.test", "alice@example.test").startsWith("250"));
        final AtomicLong asked = new AtomicLong();
        final ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
        final List<Thread> threads = new ArrayList<>();
        final long started = System.nanoTime();
        for (int i = 0; i < THREADS; i++)
        {
            final int id = i;
            final Thread t = new Thread(() ->
            {
                try (SmtpTestClient smtp = SmtpTestClient.open(port, 15_000))
                {
                    while (asked.get() < REQUESTS && wrong.size() < 20)
                    {
                        final String mail = smtp.command("MAIL FROM:<load" + id + "@sender.test>");
                        asked.incrementAndGet();
                        if (!mail.startsWith("250"))
                        {
                            wrong.add("MAIL -> " + mail + " after " + asked.get() + " requests");
                        }
                        for (int r = 0; r < 50 && mail.startsWith("250"); r++)
                        {
                            final String rcpt = smtp.command("RCPT TO:<alice@example.test>");
                            final long n = asked.incrementAndGet();
                            if (!rcpt.startsWith("250"))
                            {
                                wrong.add("RCPT -> " + rcpt + " after " + n + " requests");
                            }
                        }
                        smtp.command("RSET");
                    }
                    smtp.quit();
                }
                catch (final Exception ex)
                {
                    wrong.add("client " + id + ": " + ex);
                }
            }, "load-" + i);
            threads.add(t);
            t.start();
        }
        for (final Thread t : threads)
        {
            t.join(50_000);
        }
        final long ms = (System.nanoTime() - started) / 1_000_000;
        final long offerFailures = SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_OFFER_FAILURES);
        System.out.println("RouterSustainedLoadTest: " + asked.get() + " router questions in " + ms + " ms, " +
            "smtpd ipc requests " + SystemTestSupport.smtpdCounter(daemon.spool(), SystemTestSupport.IPC_REQUESTS) +
            ", offer failures " + offerFailures + ", wrong answers " + wrong);
        assertTrue(asked.get() >= REQUESTS, "all questions asked: " + asked.get() + ", wrong answers " + wrong);
        assertTrue(wrong.isEmpty(), "every question answered 250: " + wrong);
        assertEquals(0, offerFailures, "no failed offers");
    }
}
