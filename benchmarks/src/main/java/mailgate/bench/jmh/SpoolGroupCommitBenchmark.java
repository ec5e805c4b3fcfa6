package mailgate.bench.jmh;

import mailgate.reactor.spool.Spool;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.spool.SpoolFormat;
import mailgate.reactor.spool.SpoolWriteBuffers;
import org.agrona.BufferUtil;
import org.agrona.ExpandableDirectByteBuffer;
import org.agrona.concurrent.OneToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * How many 1 KiB messages per second become durable on the real disk when each file and the queue directory
 * are fsync'd one file at a time, versus through the SpoolSyncer's group commit with 1, 8 or 32 writers waiting?
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = BenchFixtures.ADD_EXPORTS)
public class SpoolGroupCommitBenchmark
{
    static final int BODY_BYTES = 1024;
    static final int SYNC_THREADS = 8;

    /**
     * What both variants write: a real envelope and a 1 KiB body.
     */
    abstract static class Files1K
    {
        final ExpandableDirectByteBuffer envelopeBuffer = new ExpandableDirectByteBuffer(1024);
        final SpoolFormat format = new SpoolFormat(envelopeBuffer);
        final ByteBuffer body = BufferUtil.allocateDirectAligned(BODY_BYTES, 64);
        Path dir;
        Spool spool;
        long sequence;

        void open(final int syncThreads)
        {
            for (int i = 0; i < BODY_BYTES; i++)
            {
                body.put(i, (byte)(i % 78 == 77 ? '\n' : 'a' + i % 26));
            }
            dir = BenchFixtures.tempDir(BenchFixtures.diskBase());
            spool = new Spool(dir.resolve("spool"), syncThreads);
        }

        String nextId()
        {
            return Spool.queueId(System.currentTimeMillis(), 0, sequence++);
        }

        /**
         * @return the envelope, positioned on its bytes.
         */
        ByteBuffer envelope(final String id)
        {
            final int length = format.begin()
                .field("id", id)
                .field("arrival", System.currentTimeMillis())
                .field("client-address", "192.0.2.7")
                .field("client-port", 40000)
                .field("protocol", "ESMTP")
                .end();
            final ByteBuffer bytes = envelopeBuffer.byteBuffer();
            bytes.limit(length).position(0);
            return bytes;
        }

        ByteBuffer body()
        {
            return body.limit(BODY_BYTES).position(0);
        }

        void close()
        {
            spool.close();
            BenchFixtures.deleteTree(dir);
        }
    }

    /**
     * Baseline: one thread writes, fsyncs, renames and fsyncs the directory for each file in turn.
     */
    @State(Scope.Thread)
    public static class Serial extends Files1K
    {
        static final FileAttribute<Set<PosixFilePermission>> MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
        static final EnumSet<StandardOpenOption> CREATE = EnumSet.of(
            StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        final ByteBuffer patch = ByteBuffer.allocate(SpoolFormat.SIZE_DIGITS);
        FileChannel queueDir;

        @Setup
        public void setup() throws IOException
        {
            open(1);
            queueDir = FileChannel.open(spool.queueDir(), StandardOpenOption.READ);
        }

        @TearDown
        public void tearDown() throws IOException
        {
            queueDir.close();
            close();
        }

        /**
         * What SpoolFile and SpoolSyncer do for one file, inline: create, write envelope and body, patch size
         * and checksum, fsync, close, rename into queue/, fsync queue/.
         */
        void writeOne() throws IOException
        {
            final String id = nextId();
            final Path tmp = spool.tmpDir().resolve(id);
            final ByteBuffer envelope = envelope(id);
            final int sizeField = format.sizeFieldOffset();
            final int crcField = format.crcFieldOffset();
            try (FileChannel channel = FileChannel.open(tmp, CREATE, MODE))
            {
                writeFully(channel, envelope);
                writeFully(channel, body());
                patch.clear();
                SpoolFormat.putDigits(patch, BODY_BYTES, SpoolFormat.SIZE_DIGITS);
                channel.write(patch.flip(), sizeField);
                patch.clear();
                SpoolFormat.putHex(patch, 0x12345678);
                channel.write(patch.flip(), crcField);
                channel.force(true);
            }
            Files.move(tmp, spool.queueDir().resolve(id), StandardCopyOption.ATOMIC_MOVE);
            queueDir.force(true);
        }

        private static void writeFully(final FileChannel channel, final ByteBuffer src) throws IOException
        {
            while (src.hasRemaining())
            {
                channel.write(src);
            }
        }
    }

    /**
     * Group commit: a loop thread keeps writers files in flight through the reactor's Spool and SpoolSyncer;
     * every time one comes back durable, that writer starts its next file.
     */
    @State(Scope.Thread)
    public static class Group extends Files1K
    {
        @Param({ "1", "8", "32" })
        int writers;

        final OneToOneConcurrentArrayQueue<SpoolFile> completions = new OneToOneConcurrentArrayQueue<>(1024);
        final CountersManager countersManager = new CountersManager(
            new UnsafeBuffer(ByteBuffer.allocateDirect(16 * 1024)), new UnsafeBuffer(ByteBuffer.allocateDirect(4096)));
        final AtomicCounter filesSynced = countersManager.newCounter("files synced");
        final AtomicCounter batches = countersManager.newCounter("group commits");
        final AtomicCounter failures = countersManager.newCounter("sync failures");

        @Setup
        public void setup()
        {
            open(SYNC_THREADS);
            spool.syncer().counters(filesSynced, batches, failures);
            spool.syncer().start();
            for (int i = 0; i < writers; i++)
            {
                start(new SpoolFile(spool, completions, (file) -> {}, () -> {}, new SpoolWriteBuffers(1)));
            }
        }

        @TearDown
        public void tearDown()
        {
            // close() stops the syncer after the files already submitted are done
            close();
            System.out.printf("%nwriters=%d: %d files in %d group commits (%.1f files per commit), %d failures%n",
                writers, filesSynced.get(), batches.get(), (double)filesSynced.get() / Math.max(1, batches.get()),
                failures.get());
        }

        void start(final SpoolFile file)
        {
            final String id = nextId();
            final ByteBuffer envelope = envelope(id);
            if (!file.open(id, envelope, format.sizeFieldOffset(), format.crcFieldOffset()))
            {
                throw new IllegalStateException("open failed: " + file.failure());
            }
            file.append(body());
            if (!file.finish())
            {
                throw new IllegalStateException("write failed: " + file.failure());
            }
            file.commit(System.nanoTime());
        }

        /**
         * @return the next file made durable (spins on the completion queue as an idle event loop would).
         */
        SpoolFile awaitOne()
        {
            SpoolFile file;
            while (null == (file = completions.poll()))
            {
                Thread.onSpinWait();
            }
            if (null != file.failure())
            {
                throw new IllegalStateException("sync failed: " + file.failure());
            }
            return file;
        }
    }

    /**
     * @return the number of files made durable (1).
     */
    @Benchmark
    public int serialFsync(final Serial state) throws IOException
    {
        state.writeOne();
        return 1;
    }

    /**
     * @return the latency of the file that came back, ns.
     */
    @Benchmark
    public long groupCommit(final Group state)
    {
        final SpoolFile file = state.awaitOne();
        final long latencyNs = file.syncLatencyNs();
        state.start(file);
        return latencyNs;
    }

    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(SpoolGroupCommitBenchmark.class.getSimpleName()).build()).run();
    }
}
