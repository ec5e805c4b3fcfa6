package mailgate.reliability;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
import mailgate.reactor.spool.SpoolVerifier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The disk fails under the spool: every 250 given is on the device, the failures get 451, smtpd keeps serving.
 *
 * <p>The spool is an ext4 file system on a loop device whose image is a sparse file on a small tmpfs. Filling
 * the tmpfs makes the kernel's write-back of new blocks fail (EIO), which is what a dying disk does to a group
 * commit: syncfs(2) or fsync(2) reports it. After the run the file system is unmounted (the page cache goes) and
 * mounted again, so what is checked is what reached the device. Needs root (mount, losetup, mkfs.ext4).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class WritebackErrorTest
{
    private static final int SENDERS = 8;

    @TempDir
    Path dir;

    private Path backing;
    private Path spool;
    private String loopDevice;
    private boolean backingMounted;
    private boolean spoolMounted;

    @BeforeEach
    void makeFileSystem() throws Exception
    {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mount needs root");
        backing = Files.createDirectory(dir.resolve("backing"));
        spool = Files.createDirectory(dir.resolve("spool"));
        backingMounted = run("mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", backing.toString()).ok();
        Assumptions.assumeTrue(backingMounted, "cannot mount a tmpfs");
        final Path image = backing.resolve("disk.img");
        run("truncate", "-s", "64M", image.toString()).check();
        final Result losetup = run("losetup", "-f", "--show", image.toString());
        Assumptions.assumeTrue(losetup.ok(), "no loop device: " + losetup.output());
        loopDevice = losetup.output().strip();
        // 4 KiB blocks: every new block of data needs a new page of the image, so once the tmpfs is full the next
        // message's write-back fails instead of landing in a page an earlier block already brought in
        final Result mkfs = run("mkfs.ext4", "-q", "-F", "-b", "4096", loopDevice);
        Assumptions.assumeTrue(mkfs.ok(), "cannot make an ext4 file system: " + mkfs.output());
        mountSpool();
    }

    @AfterEach
    void removeFileSystem() throws Exception
    {
        if (spoolMounted)
        {
            run("umount", spool.toString());
        }
        if (null != loopDevice)
        {
            run("losetup", "-d", loopDevice);
        }
        if (backingMounted)
        {
            run("umount", backing.toString());
        }
    }

    @ParameterizedTest(name = "spool.sync={0}")
    @ValueSource(strings = {"syncfs", "fsync"})
    void acknowledgedMailIsOnTheDeviceWhenWriteBackFails(final String syncMode) throws Exception
    {
        final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        final Set<String> refusals = ConcurrentHashMap.newKeySet();
        final AtomicInteger refused = new AtomicInteger();
        final AtomicInteger attempts = new AtomicInteger();
        DaemonProcess daemon = DaemonProcess.start(spool, "--set", "spool.sync=" + syncMode);
        try
        {
            assertTrue(daemon.stderr().contains("group commit by " + syncMode), daemon.stderr());
            // several senders at once, so the device fails in the middle of group commits of several messages
            final AtomicBoolean stop = new AtomicBoolean();
            final List<Thread> senders = new ArrayList<>();
            final List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
            for (int t = 0; t < SENDERS; t++)
            {
                final int sender = t;
                final DaemonProcess target = daemon;
                final Thread thread = new Thread(() ->
                {
                    int myRefusals = 0;
                    for (int i = 0; !stop.get() && myRefusals < 3; i++)
                    {
                        final String id = "s" + sender + "m" + i;
                        try
                        {
                            final String reply = send(target, id);
                            attempts.incrementAndGet();
                            if (reply.startsWith("250 "))
                            {
                                acknowledged.add(id);
                            }
                            else
                            {
                                assertTrue(reply.startsWith("451 4.3.0") || reply.startsWith("452 4.3.1"), reply);
                                refusals.add(reply);
                                refused.incrementAndGet();
                                myRefusals++;
                            }
                        }
                        catch (final IOException | RuntimeException | AssertionError ex)
                        {
                            failures.add(ex);
                            return;
                        }
                    }
                }, "sender-" + t);
                thread.start();
                senders.add(thread);
            }
            await("mail flowing before the device fails").atMost(Duration.ofSeconds(60))
                .until(() -> acknowledged.size() >= 40 || !failures.isEmpty());
            fillBacking();
            await("every sender refused after the device failed").atMost(Duration.ofSeconds(60))
                .until(() -> senders.stream().noneMatch(Thread::isAlive));
            stop.set(true);
            for (final Thread thread : senders)
            {
                thread.join(10_000);
            }
            assertEquals(List.of(), failures, "senders failed");
            assertTrue(refused.get() > 0, "the write-back never failed: " + attempts + " messages all acknowledged");
            assertTrue(daemon.process().isAlive(), daemon.stderr());
            assertTrue(SmtpTestClient.probe(daemon.port(), "a@example.test", null).startsWith("250"),
                "still serving commands after the disk failed");
        }
        finally
        {
            daemon.close();
        }

        // what reached the device: unmount drops the page cache, the image gets room again, mount reads it back
        run("umount", spool.toString()).check();
        spoolMounted = false;
        Files.delete(backing.resolve("fill"));
        mountSpool();
        final Set<String> onDevice = completeMessages(spool.resolve("queue"));
        for (final String id : acknowledged)
        {
            assertTrue(onDevice.contains(id), "acknowledged message " + id + " is not complete on the device");
        }
        final int leftIncomplete = countFiles(spool.resolve("queue")) - onDevice.size();

        // a restart moves what is incomplete aside and takes mail again
        daemon = DaemonProcess.start(spool, "--set", "spool.sync=" + syncMode);
        try
        {
            assertEquals(onDevice, completeMessages(spool.resolve("queue")), "complete files stay in queue/");
            assertEquals(0, countFiles(spool.resolve("queue")) - onDevice.size(), "nothing incomplete left in queue/");
            assertTrue(send(daemon, "after").startsWith("250 2.0.0"), "accepts mail again");
        }
        finally
        {
            daemon.close();
        }
        Reliability.figure("write-back errors (spool.sync=" + syncMode + ", " + SENDERS + " concurrent senders, " +
            "ext4 on a loop device whose image lost its room): " + attempts + " messages tried, " + acknowledged.size() + " x 250 all complete on the " +
            "device after remount, " + refused.get() + " refused with " + refusals + ", " + (onDevice.size() -
            acknowledged.size()) + " complete and " + leftIncomplete + " incomplete files in queue/ without a 250 " +
            "(the incomplete moved to corrupt/ at restart), daemon served on");
    }

    private void mountSpool() throws Exception
    {
        run("mount", loopDevice, spool.toString()).check();
        spoolMounted = true;
        Files.setPosixFilePermissions(spool, PosixFilePermissions.fromString("rwx------"));
    }

    private void fillBacking() throws IOException
    {
        final byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(backing.resolve("fill")))
        {
            for (int i = 0; i < 64; i++)
            {
                out.write(block);
                out.flush();
            }
        }
        catch (final IOException expected)
        {
            // No space left on device: the image cannot grow any more
            return;
        }
        throw new IllegalStateException("the backing tmpfs did not fill");
    }

    /** About 12 KiB: three new 4 KiB blocks per message. */
    private static String send(final DaemonProcess daemon, final String id) throws IOException
    {
        final String body = "Subject: " + id + "\r\n\r\n" + (id + " " + "w".repeat(72) + "\r\n").repeat(150);
        try
        {
            final String reply = SmtpTestClient.sendMessage(daemon.port(), body);
            return null == reply ? "(closed)" : reply;
        }
        catch (final SmtpTestClient.UnexpectedReplyException ex)
        {
            // refused before the data (DATA answered 451 when no spool file can be made): the reply is the answer
            final int at = ex.getMessage().indexOf("got ");
            if (at < 0)
            {
                throw ex;
            }
            return ex.getMessage().substring(at + 4);
        }
    }

    private static Set<String> completeMessages(final Path queue) throws IOException
    {
        final Set<String> ids = new HashSet<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(queue))
        {
            for (final Path file : files)
            {
                if (SpoolVerifier.isComplete(file))
                {
                    ids.add(Reliability.subject(file));
                }
            }
        }
        return ids;
    }

    private static int countFiles(final Path queue) throws IOException
    {
        try (var files = Files.list(queue))
        {
            return (int)files.count();
        }
    }

    private record Result(String command, int status, String output)
    {
        boolean ok()
        {
            return 0 == status;
        }

        void check()
        {
            assertEquals(0, status, command + ": " + output);
        }
    }

    private static Result run(final String... command) throws Exception
    {
        final Process process;
        try
        {
            process = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true).start();
        }
        catch (final IOException ex)
        {
            // not installed: the callers turn that into a skip where the tool is optional
            return new Result(String.join(" ", command), -1, ex.getMessage());
        }
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS))
        {
            process.destroyForcibly();
            return new Result(String.join(" ", command), -1, "timed out");
        }
        return new Result(String.join(" ", command), process.exitValue(), output);
    }
}
