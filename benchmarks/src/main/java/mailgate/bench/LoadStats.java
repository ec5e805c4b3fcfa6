/*
 * SUMMARY
 * Mutable counters and latency histograms of one run, written only by the generator's event-loop thread and read
 * after the run through LoadResult.
 */
package mailgate.bench;

import org.HdrHistogram.Histogram;

import java.util.EnumMap;
import java.util.concurrent.TimeUnit;

/**
 * Counters and per-phase histograms (microseconds) filled by the event loop.
 */
final class LoadStats
{
    /** Highest latency a histogram tracks; larger samples are clamped to it. */
    static final long HIGHEST_TRACKABLE_US = TimeUnit.HOURS.toMicros(1);

    final EnumMap<Phase, Histogram> histograms = new EnumMap<>(Phase.class);
    final long[] repliesByClass = new long[6];
    long accepted;
    long rejected4xx;
    long rejected5xx;
    long failed;
    long warmupMessages;
    long connectionErrors;
    long timeouts;
    long protocolErrors;
    long sessions;
    long acceptedBytes;
    long bytesSent;

    LoadStats()
    {
        for (final Phase phase : Phase.values())
        {
            histograms.put(phase, new Histogram(HIGHEST_TRACKABLE_US, 3));
        }
    }

    void record(final Phase phase, final long nanos)
    {
        final long micros = Math.min(HIGHEST_TRACKABLE_US, Math.max(0, (nanos + 500) / 1000));
        histograms.get(phase).recordValue(micros);
    }

    void countReply(final int code)
    {
        repliesByClass[code / 100]++;
    }
}
