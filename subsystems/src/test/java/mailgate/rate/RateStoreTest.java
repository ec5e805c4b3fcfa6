package mailgate.rate;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RateStoreTest
{
    private static final long T0 = 1_700_000_000_000L;
    private Path dir;

    @BeforeEach
    void setUp() throws Exception
    {
        dir = RateTestSupport.newShmDir("store");
    }

    @AfterEach
    void tearDown()
    {
        RateTestSupport.delete(dir);
    }

    private RateStore open(final int node, final boolean dirty)
    {
        return RateStore.open(new RateStore.Context().mapFile(dir.resolve("rate/counters")).nodeId(node)
            .maxEntries(1000).dirtyTracking(dirty));
    }

    @Test
    void countsSlideAndExpire()
    {
        try (RateStore store = open(0, false))
        {
            final Subject s = new Subject();
            assertTrue(s.clientIp("192.0.2.7"));
            assertEquals(1, store.add(RateDimension.MESSAGES, s, 1, T0));
            assertEquals(3, store.add(RateDimension.MESSAGES, s, 2, T0 + 500));
            assertEquals(4, store.add(RateDimension.MESSAGES, s, 1, T0 + 30_000));
            assertEquals(1, store.total(RateDimension.MESSAGES, s, 10_000, T0 + 30_000));
            assertEquals(4, store.total(RateDimension.MESSAGES, s, 60_000, T0 + 59_999));
            assertEquals(1, store.total(RateDimension.MESSAGES, s, 60_000, T0 + 60_000));
            assertEquals(4, store.total(RateDimension.MESSAGES, s, 3_600_000, T0 + 60_000));
            assertEquals(0, store.total(RateDimension.MESSAGES, s, 60_000, T0 + 91_000));
            assertEquals(1, store.add(RateDimension.MESSAGES, s, 1, T0 + 200_000));
            assertEquals(5, store.total(RateDimension.MESSAGES, s, 3_600_000, T0 + 200_000));
            assertEquals(0, store.total(RateDimension.MESSAGES, s, 3_600_000, T0 + 3_900_000));
            assertEquals(0, store.total(RateDimension.RECIPIENTS, s, 60_000, T0));
        }
    }

    @Test
    void survivesReopenAndIsPrivate() throws Exception
    {
        final Subject s = new Subject();
        s.senderDomain("Example.COM.");
        try (RateStore store = open(1, true))
        {
            store.add(RateDimension.RECIPIENTS, s, 7, T0);
        }
        final Path file = dir.resolve("rate/counters");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
        try (RateStore store = open(1, true))
        {
            final Subject t = new Subject();
            t.senderDomain("example.com");
            assertEquals(7, store.total(RateDimension.RECIPIENTS, t, 60_000, T0 + 1000));
            final List<byte[]> keys = new ArrayList<>();
            store.pollDirtyKeys((k) -> keys.add(k.clone()), 100);
            assertEquals(1, keys.size(), "dirty key survives in the ring file");
        }
        final IllegalStateException ex = assertThrows(IllegalStateException.class, () -> RateStore.open(
            new RateStore.Context().mapFile(file).nodeId(1).maxNodes(4).maxEntries(1000)));
        assertTrue(ex.getMessage().contains("max-nodes 4"), ex.getMessage());
    }

    @Test
    void peerSlotsNewestWins()
    {
        try (RateStore a = open(0, true))
        {
            final Path other = dir.resolve("rate2/counters");
            try (RateStore b = RateStore.open(new RateStore.Context().mapFile(other).nodeId(1).maxEntries(1000)
                .dirtyTracking(true)))
            {
                final Subject s = new Subject();
                s.clientIp("2001:db8::1");
                a.add(RateDimension.CONNECTIONS, s, 5, T0);
                b.add(RateDimension.CONNECTIONS, s, 3, T0);
                final byte[] key = new byte[Subject.KEY_LENGTH];
                s.writeKey(RateDimension.CONNECTIONS, key);
                final UnsafeBuffer slot = new UnsafeBuffer(new byte[SlotDescriptor.SLOT_LENGTH]);
                final UnsafeBuffer older = new UnsafeBuffer(new byte[SlotDescriptor.SLOT_LENGTH]);
                assertTrue(a.copyLocalSlot(key, older, 0, true));
                a.add(RateDimension.CONNECTIONS, s, 1, T0 + 1);
                assertTrue(a.copyLocalSlot(key, slot, 0, true));
                assertEquals(RateStore.APPLIED, b.applyPeerSlot(key, 0, slot, 0));
                assertEquals(RateStore.STALE, b.applyPeerSlot(key, 0, slot, 0));
                assertEquals(RateStore.STALE, b.applyPeerSlot(key, 0, older, 0));
                assertEquals(9, b.total(RateDimension.CONNECTIONS, s, 60_000, T0 + 2));
                assertEquals(6, a.total(RateDimension.CONNECTIONS, s, 60_000, T0 + 2));
                assertEquals(1, b.sweep(T0 + 2 * 3_600_000L));
                assertEquals(0, b.size());
            }
        }
    }
}
