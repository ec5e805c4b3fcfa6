/*
 * SUMMARY
 * Writes DIR/index.html for a run: the summary table and, per phase, an inline SVG latency-by-percentile plot in the
 * style of HdrHistogram plots (x axis log scale of 1/(1-p): 0%, 90%, 99% ... 99.999%; y axis milliseconds), plus the
 * HdrHistogram percentile distribution as text. Self-contained: no scripts, no external resources.
 */
package mailgate.bench;

import org.HdrHistogram.Histogram;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Self-contained HTML report with latency-percentile plots.
 */
public final class HtmlReport
{
    /** Number of nines the x axis reaches: 5 means 99.999%. */
    static final int NINES = 5;

    private static final String[] X_LABELS = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    private static final int WIDTH = 760;
    private static final int HEIGHT = 320;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 30;
    private static final int BOTTOM = 45;
    private static final int POINTS = 300;

    private HtmlReport()
    {
    }

    /**
     * Write dir/index.html, creating dir when missing.
     *
     * @param dir    report directory.
     * @param result the run's result.
     * @param title  a line describing the run (e.g. the command line).
     * @return the written file.
     * @throws IOException when it cannot be written.
     */
    public static Path write(final Path dir, final LoadResult result, final String title) throws IOException
    {
        Files.createDirectories(dir);
        final Path file = dir.resolve("index.html");
        Files.writeString(file, render(result, title), StandardCharsets.UTF_8);
        return file;
    }

    /**
     * @param result the run's result.
     * @param title  a line describing the run.
     * @return the HTML document.
     */
    public static String render(final LoadResult result, final String title)
    {
        final StringBuilder sb = new StringBuilder(64 * 1024);
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.append("<title>mailgate load test: ").append(html(result.target())).append("</title>\n");
        sb.append("<style>\n")
            .append("body{font-family:sans-serif;margin:2em;color:#222}\n")
            .append("table{border-collapse:collapse;margin:1em 0}\n")
            .append("td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}\n")
            .append("th{background:#f0f0f0}td.l,th.l{text-align:left}\n")
            .append("pre{background:#f8f8f8;padding:8px;font-size:12px;overflow-x:auto}\n")
            .append("svg{border:1px solid #ddd;background:#fff}\n")
            .append("</style>\n</head>\n<body>\n");
        sb.append("<h1>mailgate load test</h1>\n");
        sb.append("<p><code>").append(html(title)).append("</code></p>\n");

        sb.append("<h2>Summary</h2>\n<table>\n");
        row(sb, "target", result.target());
        row(sb, "accepted", Long.toString(result.accepted()));
        row(sb, "rejected 4xx / 5xx", result.rejected4xx() + " / " + result.rejected5xx());
        row(sb, "failed", Long.toString(result.failed()));
        row(sb, "errors (connection / timeout / protocol)", result.errors() + " (" + result.connectionErrors() +
            " / " + result.timeouts() + " / " + result.protocolErrors() + ")");
        row(sb, "replies 2xx / 3xx / 4xx / 5xx", result.replies(2) + " / " + result.replies(3) + " / " +
            result.replies(4) + " / " + result.replies(5));
        row(sb, "sessions", Long.toString(result.sessions()));
        row(sb, "wall seconds (measured)", String.format(Locale.ROOT, "%.3f (%.3f)",
            result.wallSeconds(), result.measuredSeconds()));
        row(sb, "msgs/s", String.format(Locale.ROOT, "%.1f", result.messagesPerSecond()));
        row(sb, "MB/s", String.format(Locale.ROOT, "%.3f", result.megabytesPerSecond()));
        row(sb, "pipelining / BDAT", (result.usedPipelining() ? "yes" : "no") + " / " +
            (result.usedChunking() ? "yes" : "no"));
        if (null != result.abortReason())
        {
            row(sb, "aborted", result.abortReason());
        }
        sb.append("</table>\n");

        sb.append("<h2>Latency (ms)</h2>\n<table>\n<tr><th class=\"l\">phase</th><th>count</th><th>p50</th>")
            .append("<th>p99</th><th>p99.9</th><th>max</th><th class=\"l\">measures</th></tr>\n");
        for (final Phase phase : Phase.values())
        {
            final Histogram h = result.histogram(phase);
            sb.append(String.format(Locale.ROOT,
                "<tr><td class=\"l\">%s</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.3f</td>" +
                "<td class=\"l\">%s</td></tr>%n",
                phase.label(), h.getTotalCount(), LoadResult.millis(h, 50), LoadResult.millis(h, 99),
                LoadResult.millis(h, 99.9), LoadResult.maxMillis(h), html(phase.description())));
        }
        sb.append("</table>\n");

        for (final Phase phase : Phase.values())
        {
            final Histogram h = result.histogram(phase);
            sb.append("<h3>").append(phase.label()).append(": ").append(html(phase.description())).append("</h3>\n");
            sb.append(svg(h, phase.label()));
            if (h.getTotalCount() > 0)
            {
                sb.append("<details><summary>percentile distribution (ms)</summary><pre>")
                    .append(html(distribution(h))).append("</pre></details>\n");
            }
        }
        sb.append("<h2>Summary (text)</h2>\n<pre>").append(html(result.toTable())).append("</pre>\n");
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    /**
     * SVG plot of latency (ms) by percentile, x axis log scale of 1/(1-p) up to 99.999%.
     */
    static String svg(final Histogram h, final String label)
    {
        final int plotWidth = WIDTH - LEFT - RIGHT;
        final int plotHeight = HEIGHT - TOP - BOTTOM;
        final StringBuilder sb = new StringBuilder(16 * 1024);
        sb.append(String.format(Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" " +
            "font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"%s latency by percentile\">%n",
            WIDTH, HEIGHT, WIDTH, HEIGHT, html(label)));

        final double[] xs = new double[POINTS + 1];
        final double[] ys = new double[POINTS + 1];
        double maxMs = 0;
        for (int i = 0; i <= POINTS; i++)
        {
            final double x = (double)NINES * i / POINTS;
            final double percentile = 100.0 * (1.0 - Math.pow(10, -x));
            xs[i] = x;
            ys[i] = 0 == h.getTotalCount() ? 0 : h.getValueAtPercentile(percentile) / 1000.0;
            maxMs = Math.max(maxMs, ys[i]);
        }
        final double yMax = niceCeiling(maxMs);

        // grid and axis labels
        for (int n = 0; n <= NINES; n++)
        {
            final double px = LEFT + (double)plotWidth * n / NINES;
            sb.append(String.format(Locale.ROOT,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e0e0e0\"/>%n",
                px, TOP, px, TOP + plotHeight));
            sb.append(String.format(Locale.ROOT,
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n",
                px, TOP + plotHeight + 16, X_LABELS[n]));
        }
        final int yTicks = 5;
        for (int t = 0; t <= yTicks; t++)
        {
            final double value = yMax * t / yTicks;
            final double py = TOP + plotHeight - (double)plotHeight * t / yTicks;
            sb.append(String.format(Locale.ROOT,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>%n",
                LEFT, py, LEFT + plotWidth, py));
            sb.append(String.format(Locale.ROOT,
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", LEFT - 6, py + 4, tick(value)));
        }
        sb.append(String.format(Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>%n",
            LEFT, TOP, plotWidth, plotHeight));
        sb.append(String.format(Locale.ROOT,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile</text>%n",
            LEFT + plotWidth / 2, HEIGHT - 8));
        sb.append(String.format(Locale.ROOT,
            "<text x=\"14\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 14 %d)\">latency (ms)</text>%n",
            TOP + plotHeight / 2, TOP + plotHeight / 2));
        sb.append(String.format(Locale.ROOT,
            "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s (n=%d)</text>%n",
            LEFT, TOP - 10, html(label), h.getTotalCount()));

        if (0 == h.getTotalCount())
        {
            sb.append(String.format(Locale.ROOT,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888\">no samples</text>%n",
                LEFT + plotWidth / 2, TOP + plotHeight / 2));
        }
        else
        {
            sb.append("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
            for (int i = 0; i <= POINTS; i++)
            {
                final double px = LEFT + plotWidth * xs[i] / NINES;
                final double py = TOP + plotHeight - plotHeight * (ys[i] / yMax);
                sb.append(String.format(Locale.ROOT, "%s%.1f,%.1f", 0 == i ? "" : " ", px, py));
            }
            sb.append("\"/>\n");
        }
        sb.append("</svg>\n");
        return sb.toString();
    }

    private static String distribution(final Histogram h)
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8))
        {
            h.outputPercentileDistribution(out, 5, 1000.0);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private static double niceCeiling(final double value)
    {
        if (value <= 0)
        {
            return 1;
        }
        final double magnitude = Math.pow(10, Math.floor(Math.log10(value)));
        for (final double step : new double[]{1, 2, 2.5, 5, 10})
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }
        return 10 * magnitude;
    }

    private static String tick(final double value)
    {
        if (value >= 100 || value == Math.rint(value))
        {
            return String.format(Locale.ROOT, "%.0f", value);
        }
        return value >= 1 ? String.format(Locale.ROOT, "%.1f", value) : String.format(Locale.ROOT, "%.3f", value);
    }

    private static void row(final StringBuilder sb, final String name, final String value)
    {
        sb.append("<tr><th class=\"l\">").append(html(name)).append("</th><td>").append(html(value))
            .append("</td></tr>\n");
    }

    private static String html(final String s)
    {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
