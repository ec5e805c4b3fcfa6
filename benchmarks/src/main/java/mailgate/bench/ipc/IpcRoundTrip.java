/*
 * SUMMARY
 * How long does one router question take over Aeron IPC, requester to a real router process and back, and
 * what CPU do both sides burn for it? Percentiles, so a plain main program, not JMH.
 *
 * DESCRIPTION
 * Launches the media driver in this JVM (MediaDriverLauncher) on a fresh 0700 directory under /dev/shm,
 * starts "mailgate.router.RouterMain" as a child JVM with the embedded default tables, proves the router
 * with SubsystemChallenger exactly as RouterPolicy does, then asks RCPT questions from 127.0.0.1 for a
 * remote domain (the defaults accept those). Ping-pong (default): one question at a time, each round trip
 * recorded in an HdrHistogram. --pipelined N: N questions back to back, then all N answers awaited;
 * requests/s is the figure, the histogram then holds each question's time from send to answer.
 * The requester idles like an event loop with answers outstanding (--idle daemon), or busy-spins or yields.
 * --gap-us N pauses (parkNanos, so at least N us) after each answer: sparse traffic, where the router's own
 * BackoffIdleStrategy has gone to its 1 ms park by the time the next question comes.
 *
 * LIMITS
 * The requester's duty cycle is only challenger.doWork plus a reply poll: the daemon's loop also does a
 * selectNow and its sockets per cycle. The CPU of "this process" includes the embedded media driver's
 * shared agent. Child CPU comes from /proc (clock ticks, 10 ms).
 */
package mailgate.bench.ipc;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.Header;
import mailgate.ipc.InstallSecret;
import mailgate.ipc.IpcChannels;
import mailgate.ipc.MediaDriverLauncher;
import mailgate.ipc.SecretMac;
import mailgate.ipc.SubsystemChallenger;
import mailgate.ipc.codecs.ChallengeResponseDecoder;
import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.Role;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterReplyDecoder;
import mailgate.ipc.codecs.RouterRequestEncoder;
import mailgate.ipc.codecs.Verdict;
import org.HdrHistogram.Histogram;
import org.agrona.BitUtil;
import org.agrona.BufferUtil;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.YieldingIdleStrategy;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * Round-trip latency and throughput of RCPT questions to a real router process over Aeron IPC.
 */
public final class IpcRoundTrip
{
    static final String USAGE = "usage: IpcRoundTrip [--count N] [--warmup N] [--idle daemon|busy-spin|yielding] " +
        "[--pipelined N] [--gap-us N]";

    private static final byte[] CLIENT = "127.0.0.1".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SENDER = "bounces-4711@lists.example".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RECIPIENT = "jane.doe@mail.example.org".getBytes(StandardCharsets.US_ASCII);
    private static final long REPLY_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);
    private static final long PROVE_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(30);
    private static final int MAX_PIPELINE = 4096;

    /**
     * Command-line flags.
     */
    static final class Options
    {
        int count = 200_000;
        int warmup = 50_000;
        String idle = "daemon";
        int pipelined;
        long gapNs;

        static Options parse(final String[] args)
        {
            final Options options = new Options();
            for (int i = 0; i < args.length; i++)
            {
                final String arg = args[i];
                if (i + 1 >= args.length)
                {
                    throw new IllegalArgumentException(arg + " needs a value");
                }
                final String value = args[++i];
                switch (arg)
                {
                    case "--count":
                        options.count = positive(arg, value);
                        break;
                    case "--warmup":
                        options.warmup = Math.max(0, Integer.parseInt(value));
                        break;
                    case "--idle":
                        idleStrategy(value);
                        options.idle = value;
                        break;
                    case "--pipelined":
                        options.pipelined = positive(arg, value);
                        if (options.pipelined > MAX_PIPELINE)
                        {
                            throw new IllegalArgumentException("--pipelined at most " + MAX_PIPELINE +
                                " (the 1 MiB IPC term's window; the router drops replies it cannot offer in 3 tries)");
                        }
                        break;
                    case "--gap-us":
                        options.gapNs = TimeUnit.MICROSECONDS.toNanos(positive(arg, value));
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + arg);
                }
            }
            return options;
        }

        private static int positive(final String name, final String value)
        {
            final int n = Integer.parseInt(value);
            if (n <= 0)
            {
                throw new IllegalArgumentException(name + " must be positive: " + value);
            }
            return n;
        }
    }

    /**
     * What a run measured.
     */
    static final class Result
    {
        final Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
        String mode;
        long measured;
        long repliesTotal;
        long mismatched;
        long notAccepted;
        long dropped;
        /** Awaits by how many idle() calls the requester made before its answer: 0, 1-64 (spin), 65-80 (yield),
         * more (park, with --idle daemon). */
        final long[] answersByIdleCalls = new long[4];
        long wallNs;
        long routerCpuNs = -1;
        long processCpuNs = -1;
        long threadCpuNs = -1;
        long childPid;
        boolean childExited;
        Path directory;

        double requestsPerSecond()
        {
            return wallNs > 0 ? measured * 1e9 / wallNs : 0;
        }
    }

    private final Options options;
    private final PrintStream out;
    private final Result result = new Result();
    private final UnsafeBuffer sendBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final RouterRequestEncoder requestEncoder = new RouterRequestEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final RouterReplyDecoder replyDecoder = new RouterReplyDecoder();
    private final ChallengeResponseDecoder challengeResponseDecoder = new ChallengeResponseDecoder();
    private final FragmentHandler handler = new FragmentAssembler(this::onFragment);
    private final long[] sendTimesNs;
    private final int sendTimesMask;
    private final IdleStrategy idle;
    private Path directory;
    private Process child;
    private MediaDriver driver;
    private Aeron aeron;
    private ExclusivePublication requests;
    private Subscription replies;
    private SubsystemChallenger challenger;
    private int replyStreamId;
    private long nextExpectedReply = 1;
    private long firstMeasuredId;
    private int idleCalls;

    private IpcRoundTrip(final Options options, final PrintStream out)
    {
        this.options = options;
        this.out = out;
        this.idle = idleStrategy(options.idle);
        final int slots = BitUtil.findNextPositivePowerOfTwo(Math.max(1, options.pipelined));
        this.sendTimesNs = new long[slots];
        this.sendTimesMask = slots - 1;
    }

    public static void main(final String[] args)
    {
        final Options options;
        try
        {
            options = Options.parse(args);
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("IpcRoundTrip: " + ex.getMessage() + "\n" + USAGE);
            System.exit(64);
            return;
        }
        final Result result = run(options, System.out);
        final long expected = (long)options.count + options.warmup;
        System.exit(result.repliesTotal == expected && 0 == result.mismatched && 0 == result.notAccepted ? 0 : 1);
    }

    /**
     * Set up driver, router child and client, measure, print, and clean up whatever happens.
     *
     * @param options the flags.
     * @param out     where the report goes.
     * @return what was measured.
     */
    static Result run(final Options options, final PrintStream out)
    {
        final IpcRoundTrip bench = new IpcRoundTrip(options, out);
        final Thread hook = new Thread(bench::killChildAndDeleteDirectory, "ipc-round-trip-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try
        {
            bench.start();
            bench.measure();
            bench.report();
        }
        finally
        {
            bench.close();
            try
            {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
            catch (final IllegalStateException ignore)
            {
                // already shutting down: the hook runs anyway
            }
        }
        return bench.result;
    }

    private void start()
    {
        try
        {
            final Path shm = Path.of("/dev/shm");
            final Path parent = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
            // createTempDirectory makes it 0700, as RendezvousDirectory wants the Aeron dir's parent
            directory = Files.createTempDirectory(parent, "mg-bench-" + ProcessHandle.current().pid() + "-");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        result.directory = directory;
        final Path aeronDir = directory.resolve("aeron");
        final Path secretFile = directory.resolve("secret");
        final byte[] secret = InstallSecret.loadOrCreate(secretFile);
        driver = MediaDriverLauncher.launch(aeronDir);
        child = startRouter(aeronDir, secretFile, directory.resolve("router.log"));
        result.childPid = child.pid();
        aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(aeronDir.toString())
            .errorHandler((t) -> System.err.println("IpcRoundTrip: aeron: " + t)));
        replyStreamId = IpcChannels.replyStream(aeron.clientId(), 0);
        replies = aeron.addSubscription(IpcChannels.CHANNEL, replyStreamId);
        requests = aeron.addExclusivePublication(IpcChannels.CHANNEL, IpcChannels.ROUTER_REQUEST_STREAM);
        challenger = new SubsystemChallenger(new SecretMac(secret), Role.ROUTER, replyStreamId);
        prove();
    }

    private Process startRouter(final Path aeronDir, final Path secretFile, final Path log)
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-exports");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add("mailgate.router.RouterMain");
        command.add("--set");
        command.add("ipc.aeron-dir=" + aeronDir);
        command.add("--set");
        command.add("ipc.secret-file=" + secretFile);
        try
        {
            return new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start the router: " + command, ex);
        }
    }

    private void prove()
    {
        final IdleStrategy waiting = new SleepingMillisIdleStrategy(1);
        final long deadlineNs = System.nanoTime() + PROVE_TIMEOUT_NS;
        while (!challenger.isProven())
        {
            final long nowNs = System.nanoTime();
            if (!child.isAlive())
            {
                throw new IllegalStateException("router exited with " + child.exitValue() + ": " + routerLog());
            }
            if (nowNs - deadlineNs > 0)
            {
                throw new IllegalStateException("router did not prove itself in 30 s: " + routerLog());
            }
            waiting.idle(challenger.doWork(nowNs, requests, replies) + replies.poll(handler, 64));
        }
    }

    private void measure()
    {
        final int batch = Math.max(1, options.pipelined);
        result.mode = options.pipelined > 0 ? "pipelined " + options.pipelined : "ping-pong";
        firstMeasuredId = Long.MAX_VALUE;
        run(1, options.warmup, batch);

        final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        final long routerCpu0 = routerCpuNs();
        final long processCpu0 = processCpuNs();
        final long threadCpu0 = threads.isCurrentThreadCpuTimeSupported() ? threads.getCurrentThreadCpuTime() : -1;
        final long start = System.nanoTime();
        firstMeasuredId = (long)options.warmup + 1;
        run(firstMeasuredId, options.count, batch);
        result.wallNs = System.nanoTime() - start;
        final long routerCpu1 = routerCpuNs();
        final long processCpu1 = processCpuNs();
        final long threadCpu1 = threads.isCurrentThreadCpuTimeSupported() ? threads.getCurrentThreadCpuTime() : -1;
        result.routerCpuNs = routerCpu0 < 0 || routerCpu1 < 0 ? -1 : routerCpu1 - routerCpu0;
        result.processCpuNs = processCpu0 < 0 || processCpu1 < 0 ? -1 : processCpu1 - processCpu0;
        result.threadCpuNs = threadCpu0 < 0 ? -1 : threadCpu1 - threadCpu0;
    }

    /**
     * Ask count questions with ids from firstId, batch at a time (1 = ping-pong).
     */
    private void run(final long firstId, final int count, final int batch)
    {
        final long endId = firstId + count;
        for (long id = firstId; id < endId; )
        {
            final long batchEnd = Math.min(endId, id + batch);
            for (; id < batchEnd; id++)
            {
                send(id);
            }
            idle.reset();
            idleCalls = 0;
            awaitReplies(batchEnd - 1);
            if (options.gapNs > 0)
            {
                LockSupport.parkNanos(options.gapNs);   // sparse traffic: the router goes idle in between
            }
        }
    }

    private void send(final long id)
    {
        requestEncoder.wrapAndApplyHeader(sendBuffer, 0, headerEncoder)
            .correlationId(id)
            .replyStreamId(replyStreamId)
            .question(RouterQuestion.RCPT_TO)
            .putClientAddress(CLIENT, 0, CLIENT.length)
            .putSender(SENDER, 0, 0)
            .putRecipient(RECIPIENT, 0, RECIPIENT.length);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength();
        final long sendNs = System.nanoTime();
        sendTimesNs[(int)(id & sendTimesMask)] = sendNs;
        while (true)
        {
            final long position = requests.offer(sendBuffer, 0, length);
            if (position > 0)
            {
                return;
            }
            if (Publication.NOT_CONNECTED == position || Publication.CLOSED == position ||
                Publication.MAX_POSITION_EXCEEDED == position)
            {
                throw new IllegalStateException("request " + id + ": offer failed with " + position + ": " +
                    routerLog());
            }
            if (System.nanoTime() - sendNs > REPLY_TIMEOUT_NS)
            {
                throw new IllegalStateException("request " + id + ": back pressured for 10 s");
            }
            // back pressure or admin action: keep the answers flowing meanwhile
            idle.idle(replies.poll(handler, 64));
        }
    }

    private void awaitReplies(final long lastId)
    {
        final long deadlineNs = System.nanoTime() + REPLY_TIMEOUT_NS;
        while (nextExpectedReply <= lastId)
        {
            final long nowNs = System.nanoTime();
            final int work = challenger.doWork(nowNs, requests, replies) + replies.poll(handler, 64);
            if (nextExpectedReply > lastId)
            {
                break;
            }
            if (nowNs - deadlineNs > 0)
            {
                throw new IllegalStateException("no reply to request " + nextExpectedReply + " in 10 s (router " +
                    (child.isAlive() ? "alive" : "exited") + ", mismatched " + result.mismatched + ", dropped " +
                    result.dropped + "): " + routerLog());
            }
            idle.idle(work);
            idleCalls++;
        }
        if (lastId >= firstMeasuredId)
        {
            result.answersByIdleCalls[0 == idleCalls ? 0 : idleCalls <= 64 ? 1 : idleCalls <= 80 ? 2 : 3]++;
        }
    }

    private void onFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            result.dropped++;
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != RouterReplyDecoder.SCHEMA_ID)
        {
            result.dropped++;
            return;
        }
        final int bodyOffset = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        if (ChallengeResponseDecoder.TEMPLATE_ID == headerDecoder.templateId())
        {
            challengeResponseDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
            if (!challenger.onChallengeResponse(challengeResponseDecoder, header.sessionId()))
            {
                result.dropped++;
            }
            return;
        }
        if (RouterReplyDecoder.TEMPLATE_ID != headerDecoder.templateId() || !challenger.isProven(header.sessionId()))
        {
            result.dropped++;
            return;
        }
        replyDecoder.wrap(buffer, bodyOffset, headerDecoder.blockLength(), headerDecoder.version());
        final long id = replyDecoder.correlationId();
        final Verdict verdict = replyDecoder.verdict();
        replyDecoder.skipReplyText();
        replyDecoder.skipRewrittenAddress();
        if (id != nextExpectedReply)
        {
            // one publication, one router agent: answers come in order, so anything else is wrong
            result.mismatched++;
            return;
        }
        final long nowNs = System.nanoTime();
        nextExpectedReply++;
        result.repliesTotal++;
        if (Verdict.ACCEPT != verdict)
        {
            result.notAccepted++;
        }
        if (id >= firstMeasuredId)
        {
            result.measured++;
            result.histogram.recordValue(
                Math.min(nowNs - sendTimesNs[(int)(id & sendTimesMask)], result.histogram.getHighestTrackableValue()));
        }
    }

    private void report()
    {
        final Histogram h = result.histogram;
        out.printf("ipc round trip: %s, idle %s, %d measured after %d warm-up, gap %d us, router pid %d%n",
            result.mode, options.idle, result.measured, options.warmup,
            TimeUnit.NANOSECONDS.toMicros(options.gapNs), result.childPid);
        out.printf("  %s (us): count %d  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f%n",
            options.pipelined > 0 ? "send to answer" : "round trip", h.getTotalCount(),
            us(h.getValueAtPercentile(50)), us(h.getValueAtPercentile(90)), us(h.getValueAtPercentile(99)),
            us(h.getValueAtPercentile(99.9)), us(h.getMaxValue()));
        out.printf("  mean %.2f us, stddev %.2f us; answers > 1 ms: %d%n", h.getMean() / 1000.0,
            h.getStdDeviation() / 1000.0, h.getCountBetweenValues(1_000_000, h.getHighestTrackableValue()));
        final long[] phases = result.answersByIdleCalls;
        out.printf("  awaits by idle() calls before the answer: 0: %d, 1-64: %d, 65-80: %d, >80: %d%n",
            phases[0], phases[1], phases[2], phases[3]);
        out.printf("  wall %.2f s, %.0f requests/s; mismatched %d, not ACCEPT %d, dropped %d%n",
            result.wallNs / 1e9, result.requestsPerSecond(), result.mismatched, result.notAccepted, result.dropped);
        out.printf("  cpu in the measured phase: router child %s, this process %s (requester thread %s, the rest: " +
            "embedded media driver, JIT, GC)%n",
            cpu(result.routerCpuNs), cpu(result.processCpuNs), cpu(result.threadCpuNs));
    }

    private String cpu(final long cpuNs)
    {
        if (cpuNs < 0)
        {
            return "n/a";
        }
        return String.format("%.2f s = %.0f%% of a core, %.2f us/request", cpuNs / 1e9,
            100.0 * cpuNs / Math.max(1, result.wallNs), cpuNs / 1e3 / Math.max(1, result.measured));
    }

    private static double us(final long ns)
    {
        return ns / 1000.0;
    }

    private long routerCpuNs()
    {
        return child.toHandle().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
    }

    private static long processCpuNs()
    {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean)
        {
            return ((com.sun.management.OperatingSystemMXBean)ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        }
        return -1;
    }

    private String routerLog()
    {
        try
        {
            final Path log = directory.resolve("router.log");
            return Files.exists(log) ? "router output:\n" + Files.readString(log) : "(no router output)";
        }
        catch (final IOException ex)
        {
            return "(router output unreadable: " + ex + ")";
        }
    }

    private void close()
    {
        stopChild();
        CloseHelper.quietClose(aeron);
        CloseHelper.quietClose(driver);
        deleteDirectory();
    }

    /**
     * Shutdown hook: only what is safe while the main thread may still poll mapped buffers.
     */
    private void killChildAndDeleteDirectory()
    {
        stopChild();
        deleteDirectory();
    }

    private synchronized void stopChild()
    {
        final Process process = child;
        if (null == process)
        {
            return;
        }
        try
        {
            process.destroy();  // SIGTERM: RouterMain stops its agent and exits 0
            if (!process.waitFor(5, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        result.childExited = !process.isAlive();
    }

    private synchronized void deleteDirectory()
    {
        final Path dir = directory;
        if (null == dir || !Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach((p) -> p.toFile().delete());
        }
        catch (final IOException | UncheckedIOException ex)
        {
            System.err.println("IpcRoundTrip: cannot delete " + dir + ": " + ex);
        }
    }

    private static IdleStrategy idleStrategy(final String name)
    {
        switch (name)
        {
            case "daemon":
                return new AwaitingIpcIdleStrategy();
            case "busy-spin":
                return new BusySpinIdleStrategy();
            case "yielding":
                return new YieldingIdleStrategy();
            default:
                throw new IllegalArgumentException("--idle " + name + ": expected daemon, busy-spin or yielding");
        }
    }
}
