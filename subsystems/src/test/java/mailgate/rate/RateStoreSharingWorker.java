package mailgate.rate;

import java.nio.file.Path;

/**
 * A separate process for {@link RateStoreSharingTest}: opens the shared counter file and increments keys.
 */
public final class RateStoreSharingWorker
{
    private RateStoreSharingWorker()
    {
    }

    /**
     * @param args mapFile, startAtEpochMs, increments, keys, baseMs.
     */
    public static void main(final String[] args) throws Exception
    {
        final Path mapFile = Path.of(args[0]);
        final long startAtMs = Long.parseLong(args[1]);
        final int increments = Integer.parseInt(args[2]);
        final int keys = Integer.parseInt(args[3]);
        final long baseMs = Long.parseLong(args[4]);
        try (RateStore store = RateStore.open(new RateStore.Context().mapFile(mapFile).nodeId(0).maxEntries(10_000)))
        {
            final Subject subject = new Subject();
            while (System.currentTimeMillis() < startAtMs)
            {
                Thread.onSpinWait();
            }
            final long t0 = System.nanoTime();
            for (int i = 0; i < increments; i++)
            {
                final int k = i % keys;
                subject.clientIp(0, IpLiteral.V4_MAPPED_LOW_PREFIX | (10L << 24) | k);
                // time moves back and forth within one minute: buckets rotate and late adds land in old ones
                store.add(RateDimension.MESSAGES, subject, 1, baseMs + (i % 60) * 1000L);
            }
            final long ns = System.nanoTime() - t0;
            System.out.println("ops/s " + (long)(increments / (ns / 1e9)));
        }
    }
}
