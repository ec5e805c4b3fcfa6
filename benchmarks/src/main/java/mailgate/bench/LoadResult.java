/*
 * SUMMARY
 * What one load-generator run measured: message outcomes, replies by class, errors, throughput and per-phase latency
 * histograms (microseconds), with the human table and the JSON form printed by the command line.
 *
 * Messages started during warm-up are counted only in warmupMessages; everything else covers the recorded part.
 */
package mailgate.bench;

import org.HdrHistogram.Histogram;

import java.util.Locale;

/**
 * Outcome of a load-generator run; returned by {@link LoadGenerator#run(LoadOptions)}.
 */
public final class LoadResult
{
    private static final double[] PERCENTILES = {50.0, 99.0, 99.9};

    private final String target;
    private final LoadStats stats;
    private final double wallSeconds;
    private final double measuredSeconds;
    private final boolean usedPipelining;
    private final boolean usedChunking;
    private final String abortReason;

    LoadResult(
        final String target,
        final LoadStats stats,
        final double wallSeconds,
        final double measuredSeconds,
        final boolean usedPipelining,
        final boolean usedChunking,
        final String abortReason)
    {
        this.target = target;
        this.stats = stats;
        this.wallSeconds = wallSeconds;
        this.measuredSeconds = measuredSeconds;
        this.usedPipelining = usedPipelining;
        this.usedChunking = usedChunking;
        this.abortReason = abortReason;
    }

    /** @return the server as host:port. */
    public String target()
    {
        return target;
    }

    /** @return messages whose final reply was 2xx. */
    public long accepted()
    {
        return stats.accepted;
    }

    /** @return messages refused with a 4xx (the first non-2xx reply of the transaction). */
    public long rejected4xx()
    {
        return stats.rejected4xx;
    }

    /** @return messages refused with a 5xx (the first non-2xx reply of the transaction). */
    public long rejected5xx()
    {
        return stats.rejected5xx;
    }

    /** @return messages lost to a connection error, timeout or protocol error while in flight. */
    public long failed()
    {
        return stats.failed;
    }

    /** @return messages started during warm-up (not in any other count). */
    public long warmupMessages()
    {
        return stats.warmupMessages;
    }

    /** @return connection errors (refused, reset, closed unexpectedly, bad greeting). */
    public long connectionErrors()
    {
        return stats.connectionErrors;
    }

    /** @return replies that did not arrive within --timeout-ms. */
    public long timeouts()
    {
        return stats.timeouts;
    }

    /** @return malformed or out-of-sequence replies. */
    public long protocolErrors()
    {
        return stats.protocolErrors;
    }

    /** @return connection errors + timeouts + protocol errors. */
    public long errors()
    {
        return stats.connectionErrors + stats.timeouts + stats.protocolErrors;
    }

    /**
     * Replies received, by class; greetings, EHLO, RSET and QUIT replies included.
     *
     * @param replyClass 2, 3, 4 or 5.
     * @return number of replies of that class.
     */
    public long replies(final int replyClass)
    {
        if (replyClass < 2 || replyClass > 5)
        {
            throw new IllegalArgumentException("reply class must be 2..5: " + replyClass);
        }
        return stats.repliesByClass[replyClass];
    }

    /** @return connections that got a 220 greeting. */
    public long sessions()
    {
        return stats.sessions;
    }

    /** @return raw bytes of accepted messages. */
    public long acceptedBytes()
    {
        return stats.acceptedBytes;
    }

    /** @return bytes written to the server, commands and dot-stuffing included. */
    public long bytesSent()
    {
        return stats.bytesSent;
    }

    /** @return seconds from start to end of the run, connects and QUITs included. */
    public double wallSeconds()
    {
        return wallSeconds;
    }

    /** @return seconds from the end of warm-up to the last recorded message's outcome; throughput divides by it. */
    public double measuredSeconds()
    {
        return measuredSeconds;
    }

    /** @return accepted messages per measured second. */
    public double messagesPerSecond()
    {
        return measuredSeconds > 0 ? stats.accepted / measuredSeconds : 0;
    }

    /** @return accepted message megabytes (10^6 bytes) per measured second. */
    public double megabytesPerSecond()
    {
        return measuredSeconds > 0 ? stats.acceptedBytes / 1e6 / measuredSeconds : 0;
    }

    /** @return whether any session pipelined (server advertised PIPELINING and it was on). */
    public boolean usedPipelining()
    {
        return usedPipelining;
    }

    /** @return whether any session used BDAT (server advertised CHUNKING and --bdat on). */
    public boolean usedChunking()
    {
        return usedChunking;
    }

    /** @return why the run gave up early, or null. */
    public String abortReason()
    {
        return abortReason;
    }

    /**
     * @param phase the phase.
     * @return its latency histogram in microseconds (do not modify).
     */
    public Histogram histogram(final Phase phase)
    {
        return stats.histograms.get(phase);
    }

    /**
     * @return the summary as a plain-text table.
     */
    public String toTable()
    {
        final StringBuilder sb = new StringBuilder(1024);
        final Locale l = Locale.ROOT;
        sb.append(String.format(l, "target            %s%n", target));
        sb.append(String.format(l, "accepted          %d%n", stats.accepted));
        sb.append(String.format(l, "rejected          %d (4xx %d, 5xx %d)%n",
            stats.rejected4xx + stats.rejected5xx, stats.rejected4xx, stats.rejected5xx));
        sb.append(String.format(l, "failed            %d%n", stats.failed));
        sb.append(String.format(l, "errors            %d (connection %d, timeout %d, protocol %d)%n",
            errors(), stats.connectionErrors, stats.timeouts, stats.protocolErrors));
        sb.append(String.format(l, "replies           2xx %d, 3xx %d, 4xx %d, 5xx %d%n",
            stats.repliesByClass[2], stats.repliesByClass[3], stats.repliesByClass[4], stats.repliesByClass[5]));
        sb.append(String.format(l, "sessions          %d%n", stats.sessions));
        if (stats.warmupMessages > 0)
        {
            sb.append(String.format(l, "warm-up messages  %d (not recorded)%n", stats.warmupMessages));
        }
        sb.append(String.format(l, "wall seconds      %.3f (measured %.3f)%n", wallSeconds, measuredSeconds));
        sb.append(String.format(l, "msgs/s            %.1f%n", messagesPerSecond()));
        sb.append(String.format(l, "MB/s              %.3f%n", megabytesPerSecond()));
        sb.append(String.format(l, "pipelining        %s, BDAT %s%n", usedPipelining ? "yes" : "no",
            usedChunking ? "yes" : "no"));
        if (null != abortReason)
        {
            sb.append(String.format(l, "aborted           %s%n", abortReason));
        }
        sb.append(String.format(l, "%nlatency ms   %10s %10s %10s %10s %10s%n", "count", "p50", "p99", "p99.9", "max"));
        for (final Phase phase : Phase.values())
        {
            final Histogram h = histogram(phase);
            sb.append(String.format(l, "%-12s %10d", phase.label(), h.getTotalCount()));
            for (final double p : PERCENTILES)
            {
                sb.append(String.format(l, " %10.3f", millis(h, p)));
            }
            sb.append(String.format(l, " %10.3f%n", maxMillis(h)));
        }
        return sb.toString();
    }

    /**
     * @return the summary as one JSON object (latencies in milliseconds).
     */
    public String toJson()
    {
        final StringBuilder sb = new StringBuilder(1024);
        final Locale l = Locale.ROOT;
        sb.append('{');
        sb.append("\"target\":\"").append(escape(target)).append('"');
        sb.append(",\"accepted\":").append(stats.accepted);
        sb.append(",\"rejected\":").append(stats.rejected4xx + stats.rejected5xx);
        sb.append(",\"rejected_4xx\":").append(stats.rejected4xx);
        sb.append(",\"rejected_5xx\":").append(stats.rejected5xx);
        sb.append(",\"failed\":").append(stats.failed);
        sb.append(",\"errors\":").append(errors());
        sb.append(",\"connection_errors\":").append(stats.connectionErrors);
        sb.append(",\"timeouts\":").append(stats.timeouts);
        sb.append(",\"protocol_errors\":").append(stats.protocolErrors);
        sb.append(",\"replies\":{\"2xx\":").append(stats.repliesByClass[2])
            .append(",\"3xx\":").append(stats.repliesByClass[3])
            .append(",\"4xx\":").append(stats.repliesByClass[4])
            .append(",\"5xx\":").append(stats.repliesByClass[5]).append('}');
        sb.append(",\"sessions\":").append(stats.sessions);
        sb.append(",\"warmup_messages\":").append(stats.warmupMessages);
        sb.append(",\"accepted_bytes\":").append(stats.acceptedBytes);
        sb.append(",\"bytes_sent\":").append(stats.bytesSent);
        sb.append(String.format(l, ",\"wall_seconds\":%.6f", wallSeconds));
        sb.append(String.format(l, ",\"measured_seconds\":%.6f", measuredSeconds));
        sb.append(String.format(l, ",\"msgs_per_sec\":%.3f", messagesPerSecond()));
        sb.append(String.format(l, ",\"mb_per_sec\":%.6f", megabytesPerSecond()));
        sb.append(",\"pipelining\":").append(usedPipelining);
        sb.append(",\"bdat\":").append(usedChunking);
        sb.append(",\"aborted\":").append(null == abortReason ? "null" : "\"" + escape(abortReason) + "\"");
        sb.append(",\"latency_ms\":{");
        boolean first = true;
        for (final Phase phase : Phase.values())
        {
            final Histogram h = histogram(phase);
            sb.append(first ? "" : ",").append('"').append(phase.label()).append("\":{");
            sb.append("\"count\":").append(h.getTotalCount());
            sb.append(String.format(l, ",\"p50\":%.3f,\"p99\":%.3f,\"p99.9\":%.3f,\"max\":%.3f}",
                millis(h, 50.0), millis(h, 99.0), millis(h, 99.9), maxMillis(h)));
            first = false;
        }
        sb.append("}}");
        return sb.toString();
    }

    static double millis(final Histogram h, final double percentile)
    {
        return 0 == h.getTotalCount() ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
    }

    static double maxMillis(final Histogram h)
    {
        return 0 == h.getTotalCount() ? 0 : h.getMaxValue() / 1000.0;
    }

    private static String escape(final String s)
    {
        final StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if ('"' == c || '\\' == c)
            {
                sb.append('\\').append(c);
            }
            else if (c < 0x20)
            {
                sb.append(String.format(Locale.ROOT, "\\u%04x", (int)c));
            }
            else
            {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
