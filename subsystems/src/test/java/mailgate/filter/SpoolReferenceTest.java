package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reference safety with real files: each forged reference is refused, with its reason counted.
 */
class SpoolReferenceTest
{
    @TempDir
    Path dir;

    private SpoolFixture spool;
    private FilterCounters counters;
    private ScanPool pool;

    @BeforeEach
    void setUp() throws IOException
    {
        spool = new SpoolFixture(dir.resolve("spool"));
        counters = FilterCounters.local();
        pool = new ScanPool(1, 4, 5_000, FilterRules::defaults, List.of(), new SpoolReference(spool.root), counters);
    }

    @AfterEach
    void tearDown()
    {
        pool.close();
    }

    private void assertRefused(final SpoolFixture.Ref ref, final Refusal reason)
    {
        assertRefused(ref.queueId(), ref.size(), ref.checksum(), reason);
    }

    private void assertRefused(final String id, final long size, final int crc, final Refusal reason)
    {
        final FilterVerdict verdict = PoolDriver.run(pool, id, size, crc, 5_000).verdict();
        assertEquals(FilterAction.TEMPFAIL, verdict.action(), verdict.toString());
        assertTrue(verdict.replyText().startsWith("451 4.3.0 "), verdict.replyText());
        assertTrue(verdict.replyText().contains("(" + reason.label() + ")"), verdict.replyText());
        assertEquals(1, counters.refused(reason), reason + " counted once");
        for (final Refusal other : Refusal.values())
        {
            if (other != reason)
            {
                assertEquals(0, counters.refused(other), other + " not counted");
            }
        }
    }

    @Test
    void goodFileIsReadExactlyAndVerified() throws IOException
    {
        final byte[] message = Messages.eightBit();
        final SpoolFixture.Ref ref = spool.write(message);
        try (InputStream in = new SpoolReference(spool.root).open(ref.queueId(), ref.size(), ref.checksum()))
        {
            assertArrayEquals(message, in.readAllBytes());
        }
        final FilterVerdict verdict = PoolDriver.run(pool, ref, 5_000).verdict();
        assertEquals(FilterAction.ACCEPT, verdict.action(), verdict.toString());
        for (final Refusal reason : Refusal.values())
        {
            assertEquals(0, counters.refused(reason));
        }
    }

    @Test
    void symlinkIsRefused() throws IOException
    {
        final SpoolFixture.Ref target = spool.write(Messages.plain());
        final String id = SpoolFixture.nextId();
        Files.createSymbolicLink(spool.tmp.resolve(id), spool.file(target));
        assertRefused(id, target.size(), target.checksum(), Refusal.SYMLINK);
    }

    @Test
    void symlinkToSystemFileIsRefused() throws IOException
    {
        final String id = SpoolFixture.nextId();
        Files.createSymbolicLink(spool.tmp.resolve(id), Path.of("/etc/passwd"));
        assertRefused(id, 10, 0, Refusal.SYMLINK);
    }

    @Test
    void symlinkedTmpDirectoryIsRefused() throws IOException
    {
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        final Path real = dir.resolve("elsewhere");
        Files.move(spool.tmp, real);
        Files.createSymbolicLink(spool.tmp, real);
        assertRefused(ref, Refusal.SYMLINK);
    }

    @Test
    void pathTraversalCannotBeExpressed()
    {
        assertRefused("../../etc/passwd", 10, 0, Refusal.BAD_ID);
        final ReferenceRefusedException lower = assertThrows(ReferenceRefusedException.class,
            () -> new SpoolReference(spool.root).open("1a212e5246e00000", 1, 0));
        assertEquals(Refusal.BAD_ID, lower.reason());
        assertEquals(Refusal.BAD_ID, assertThrows(ReferenceRefusedException.class,
            () -> new SpoolReference(spool.root).open("/etc/passwd\u0000AAAAA", 1, 0)).reason());
    }

    @Test
    void fileOwnedByAnotherUidIsRefused() throws IOException
    {
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        // the tests run as root: give the file to nobody (65534)
        Files.setAttribute(spool.file(ref), "unix:uid", 65534);
        assertEquals(65534, (Integer)Files.getAttribute(spool.file(ref), "unix:uid"));
        assertRefused(ref, Refusal.OWNER);
    }

    @Test
    void wrongSizeIsRefused() throws IOException
    {
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        assertRefused(ref.queueId(), ref.size() + 1, ref.checksum(), Refusal.SIZE);
    }

    @Test
    void truncatedFileIsRefused() throws IOException
    {
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        try (RandomAccessFile file = new RandomAccessFile(spool.file(ref).toFile(), "rw"))
        {
            file.setLength(file.length() - 5);
        }
        assertRefused(ref, Refusal.SIZE);
    }

    @Test
    void wrongChecksumInReferenceIsRefused() throws IOException
    {
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        assertRefused(ref.queueId(), ref.size(), ref.checksum() ^ 1, Refusal.CHECKSUM);
    }

    @Test
    void swappedContentWithMatchingEnvelopeIsRefusedAtTheEnd() throws IOException
    {
        // envelope and reference agree, but the bytes on disk are not the ones they describe
        final SpoolFixture.Ref ref = spool.write(Messages.plain());
        final byte[] all = Files.readAllBytes(spool.file(ref));
        all[all.length - 3] ^= 0x20;
        Files.write(spool.file(ref), all);
        assertRefused(ref, Refusal.CHECKSUM);
    }

    @Test
    void missingFileIsRefused()
    {
        assertRefused(SpoolFixture.nextId(), 10, 0, Refusal.NOT_FOUND);
    }

    @Test
    void envelopeNamingAnotherMessageIsRefused() throws IOException
    {
        final byte[] message = Messages.plain().getBytes(StandardCharsets.UTF_8);
        final SpoolFixture.Ref other = spool.write(message);
        final String id = SpoolFixture.nextId();
        Files.copy(spool.file(other), spool.tmp.resolve(id));
        assertRefused(id, other.size(), other.checksum(), Refusal.ENVELOPE);
    }

    @Test
    void directoryInPlaceOfFileIsRefused() throws IOException
    {
        final String id = SpoolFixture.nextId();
        Files.createDirectory(spool.tmp.resolve(id));
        assertRefused(id, 0, 0, Refusal.NOT_REGULAR);
    }
}
