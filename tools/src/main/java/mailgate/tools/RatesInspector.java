/*
 * SUMMARY
 * inspect rates: the rate tracker's shared counter file (mailgate.rate.RateStore, a Chronicle Map): the top
 * (dimension, subject) keys by total over a window, and one subject's buckets per cluster node.
 *
 * DESCRIPTION
 * The file is found from the rate config (--config, its rate.map-file and rate.max-nodes) or given directly
 * (--map-file; the slot count is taken from the file when --max-nodes is not given); without either, the
 * rate tracker's default file (beside the default Aeron directory). Totals are computed the
 * way RateStore does: the sum over every node's slot of the live buckets in the window (1 s buckets up to
 * 60 s, 1 min buckets above, up to 1 h). Addresses and networks are printed from the key bytes; domains and
 * user names are stored as the first 16 bytes of SHA-256 and printed as "sha256:<hex>", unless --subject
 * names one, which is then hashed the same way and looked up.
 *
 * SECURITY
 * Chronicle Map cannot map a file read-only, so the store is opened the normal way (with the daemon's 0700 /
 * 0600 checks, and its ".lock" sibling) but this view only ever reads: it never adds, applies or sweeps.
 * The file must exist: a missing file is an error, never created.
 *
 * LIMITS
 * Needs the Chronicle JVM flags (bin/mailgate passes them). Names can be shown only when given: a hash cannot
 * be turned back into a name.
 */
package mailgate.tools;

import mailgate.rate.RateConfig;
import mailgate.rate.RateDimension;
import mailgate.rate.RateStore;
import mailgate.rate.SlotDescriptor;
import mailgate.rate.Subject;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.PrintStream;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code rates} view.
 */
final class RatesInspector
{
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    private static final Pattern LAYOUT = Pattern.compile("value size (\\d+), expected");
    private static final Pattern WINDOW = Pattern.compile("(\\d+)(ms|s|m|h)");
    private static final int HASH_HEX_CHARS = 16;

    private RatesInspector()
    {
    }

    /**
     * One counter key and its total.
     */
    record Row(byte[] key, long total)
    {
    }

    static int run(final List<String> args, final PrintStream out) throws InspectException
    {
        return run(args, out, System.currentTimeMillis());
    }

    static int run(final List<String> args, final PrintStream out, final long nowMs) throws InspectException
    {
        Path config = null;
        Path mapFile = null;
        int maxNodes = 0;
        long windowMs = 60_000L;
        String windowText = "1m";
        int top = 20;
        int dimension = 0;
        String subject = null;
        boolean json = false;
        boolean peers = false;
        final Options options = new Options("rates", args);
        while (options.hasNext())
        {
            final String arg = options.next();
            switch (Options.flag(arg))
            {
                case "--config" -> config = Path.of(options.value(arg));
                case "--map-file" -> mapFile = Path.of(options.value(arg));
                case "--max-nodes" -> maxNodes = (int)Math.min(64, options.longValue(arg, 1));
                case "--window" ->
                {
                    windowText = options.value(arg);
                    windowMs = parseWindow(windowText);
                }
                case "--top" -> top = (int)Math.min(Integer.MAX_VALUE, options.longValue(arg, 1));
                case "--dimension" ->
                {
                    final String name = options.value(arg);
                    dimension = RateDimension.parse(name);
                    if (dimension < 0)
                    {
                        throw InspectException.usage("rates: unknown dimension '" + name + "' (connections," +
                            " messages, recipients, bytes, auth-failures, protocol-errors, rejected-recipients)");
                    }
                }
                case "--subject" -> subject = options.value(arg);
                case "--json" -> json = true;
                case "--peers" -> peers = true;
                default -> throw InspectException.usage("rates: unknown option '" + arg + "'");
            }
        }
        if (null != config && null != mapFile)
        {
            throw InspectException.usage("rates: give --config or --map-file, not both");
        }
        if (null != config)
        {
            final RateConfig rateConfig;
            try
            {
                rateConfig = RateConfig.load(config);
            }
            catch (final RuntimeException ex)
            {
                throw InspectException.unreadable("rates: " + ex.getMessage());
            }
            mapFile = rateConfig.mapFile();
            if (0 == maxNodes)
            {
                maxNodes = rateConfig.maxNodes();
            }
        }
        if (null == mapFile)
        {
            // the rate tracker's default, as a config file without rate.map-file would give
            mapFile = RateConfig.parse("(defaults)", List.of()).mapFile();
        }
        if (peers)
        {
            return peersView(mapFile, out, json, nowMs);
        }
        final List<Subject> subjects = null == subject ? List.of() : parseSubject(subject);

        try (RateStore store = open(mapFile, maxNodes))
        {
            if (null == subject)
            {
                topView(store, out, json, nowMs, windowMs, windowText, top, dimension);
            }
            else
            {
                subjectView(store, out, json, nowMs, windowMs, windowText, dimension, subject, subjects);
            }
        }
        return InspectMain.EXIT_OK;
    }

    /**
     * Replication health from the replicator's metadata beside the dirty-key ring: the lag bound the in-flight
     * budget uses, ring overflows, and per peer when its last packet (heartbeats included) arrived. A peer not
     * heard for RateStore.PEER_DOWN_US counts as down: only the slot we hold of it is summed.
     */
    static int peersView(final Path mapFile, final PrintStream out, final boolean json, final long nowMs)
        throws InspectException
    {
        final Path file = mapFile.toAbsolutePath().normalize();
        final RateStore.ReplicationStatus status;
        try
        {
            status = RateStore.readReplicationStatus(file);
        }
        catch (final java.io.IOException ex)
        {
            throw InspectException.unreadable("rates: " + ex.getMessage());
        }
        if (null == status)
        {
            throw InspectException.unreadable("rates: no replication ring " + file + ".dirty (no cluster configured," +
                " or the rate role never ran)");
        }
        // heartbeats arrive every few milliseconds: read the clock after the file, or the last one looks future
        final long readMs = Math.max(nowMs, System.currentTimeMillis());
        final long nowUs = readMs * 1000L;
        final long downMs = RateStore.PEER_DOWN_US / 1000L;
        final StringBuilder sb = new StringBuilder();
        if (json)
        {
            sb.append('{');
            Json.key(sb, "timestamp").append(readMs).append(',');
            Json.key(sb, "mapFile");
            Json.string(sb, file.toString()).append(',');
            Json.key(sb, "lagBoundUs").append(status.lagBoundUs()).append(',');
            Json.key(sb, "ringOverflows").append(status.ringOverflows()).append(',');
            Json.key(sb, "peerDownMs").append(downMs).append(',');
            Json.key(sb, "peers").append('[');
            boolean first = true;
            for (int node = 0; node < status.heardUs().length; node++)
            {
                final long heardUs = status.heardUs()[node];
                if (0 == heardUs)
                {
                    continue;
                }
                sb.append(first ? "" : ",").append('{');
                first = false;
                Json.key(sb, "node").append(node).append(',');
                Json.key(sb, "heardMs").append(heardUs / 1000L).append(',');
                Json.key(sb, "ageMs").append((nowUs - heardUs) / 1000L).append(',');
                Json.key(sb, "sentToHeardUs").append(heardUs - status.sentUs()[node]).append(',');
                Json.key(sb, "up").append(nowUs - heardUs <= RateStore.PEER_DOWN_US);
                sb.append('}');
            }
            sb.append("]}");
            out.println(sb);
            return InspectMain.EXIT_OK;
        }
        out.println(Instant.ofEpochMilli(readMs) + " - mailgate rates " + file + ", replication");
        out.println("lag bound " + (0 == status.lagBoundUs() ? "- (not measured yet)" :
            String.format(Locale.ROOT, "%.2f ms", status.lagBoundUs() / 1000.0)) + " (the in-flight budget's), " +
            "dirty-ring overflows " + status.ringOverflows() + ", a peer is down after " +
            InspectMain.formatDuration(downMs) + " of silence");
        out.println("======== peers heard (our clock; sent->heard mixes the link's lag with the clocks' offset)");
        out.println(String.format(Locale.ROOT, "%6s  %-26s %10s %16s  %s", "node", "last heard", "age",
            "sent->heard", "state"));
        int listed = 0;
        for (int node = 0; node < status.heardUs().length; node++)
        {
            final long heardUs = status.heardUs()[node];
            if (0 == heardUs)
            {
                continue;
            }
            listed++;
            final long ageUs = nowUs - heardUs;
            out.println(String.format(Locale.ROOT, "%6d  %-26s %10s %13.2f ms  %s", node,
                Instant.ofEpochMilli(heardUs / 1000L), InspectMain.formatDuration(ageUs / 1000L),
                (heardUs - status.sentUs()[node]) / 1000.0, ageUs <= RateStore.PEER_DOWN_US ? "up" : "DOWN"));
        }
        if (0 == listed)
        {
            out.println("(no packet from any peer yet)");
        }
        return InspectMain.EXIT_OK;
    }

    static long parseWindow(final String text) throws InspectException
    {
        final Matcher m = WINDOW.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches())
        {
            throw InspectException.usage("rates: --window wants e.g. 10s, 1m, 15m or 1h, not '" + text + "'");
        }
        final long n = Long.parseLong(m.group(1));
        final long ms = switch (m.group(2))
        {
            case "ms" -> n;
            case "s" -> n * 1000L;
            case "m" -> n * 60_000L;
            default -> n * 3_600_000L;
        };
        if (ms < 1 || ms > SlotDescriptor.MAX_WINDOW_MS)
        {
            throw InspectException.usage("rates: --window must be between 1ms and 1h, not '" + text + "'");
        }
        return ms;
    }

    /**
     * @param text an address, an address/prefix, or a domain or user name.
     * @return the subjects it may stand for (a name: as sender domain and as user).
     */
    static List<Subject> parseSubject(final String text) throws InspectException
    {
        final List<Subject> result = new ArrayList<>();
        final int slash = text.indexOf('/');
        final Subject ip = new Subject();
        if (slash > 0 && ip.clientIp(text.substring(0, slash)))
        {
            final int bits;
            try
            {
                bits = Integer.parseInt(text.substring(slash + 1));
            }
            catch (final NumberFormatException ex)
            {
                throw InspectException.usage("rates: bad prefix length in --subject '" + text + "'");
            }
            final boolean v4 = text.substring(0, slash).indexOf(':') < 0;
            if (bits < 0 || bits > (v4 ? 32 : 128))
            {
                throw InspectException.usage("rates: bad prefix length in --subject '" + text + "'");
            }
            result.add(new Subject().clientNetwork(ip.high(), ip.low(), bits, bits));
            return result;
        }
        if (ip.clientIp(text))
        {
            result.add(ip);
            return result;
        }
        final Subject domain = new Subject();
        if (domain.senderDomain(text))
        {
            result.add(domain);
        }
        final Subject user = new Subject();
        if (user.user(text))
        {
            result.add(user);
        }
        if (result.isEmpty())
        {
            throw InspectException.usage("rates: empty --subject");
        }
        return result;
    }

    /**
     * Open an existing counter file; never creates one. The slot count comes from the file when not given.
     */
    static RateStore open(final Path mapFile, final int maxNodes) throws InspectException
    {
        final Path file = mapFile.toAbsolutePath().normalize();
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS))
        {
            throw InspectException.unreadable("rates: no counter file " + file +
                " (is the rate tracker configured? give its --config or the right --map-file)");
        }
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) || !Files.isReadable(file))
        {
            throw InspectException.unreadable("rates: counter file " + file + " is not a readable regular file");
        }
        final int nodes = 0 == maxNodes ? 8 : maxNodes;
        try
        {
            return RateStore.open(new RateStore.Context().mapFile(file).nodeId(0).maxNodes(nodes).maxEntries(16));
        }
        catch (final IllegalStateException ex)
        {
            final Matcher m = LAYOUT.matcher(String.valueOf(ex.getMessage()));
            if (0 == maxNodes && m.find())
            {
                final long size = Long.parseLong(m.group(1));
                if (size > 0 && size % SlotDescriptor.SLOT_LENGTH == 0 && size / SlotDescriptor.SLOT_LENGTH <= 64)
                {
                    return open(file, (int)(size / SlotDescriptor.SLOT_LENGTH));
                }
            }
            throw InspectException.unreadable("rates: " + ex.getMessage());
        }
        catch (final RuntimeException | LinkageError ex)
        {
            throw InspectException.unreadable("rates: cannot open counter file " + file + ": " + ex +
                (ex instanceof LinkageError || ex.toString().contains("IllegalAccess") ?
                " (does this JVM have the Chronicle flags? see docs/rate-limits.md)" : ""));
        }
    }

    private static void topView(
        final RateStore store,
        final PrintStream out,
        final boolean json,
        final long nowMs,
        final long windowMs,
        final String windowText,
        final int top,
        final int dimension)
    {
        final List<byte[]> keys = new ArrayList<>();
        store.forEachKey(key ->
        {
            if (0 == dimension || key[Subject.DIMENSION_OFFSET] == dimension)
            {
                // clone: despite its javadoc, forEachKey hands over an array Chronicle reuses for every entry
                keys.add(key.clone());
            }
        });
        final List<Row> rows = new ArrayList<>();
        for (final byte[] key : keys)
        {
            final long total = store.totalKey(key, windowMs, nowMs);
            if (total > 0)
            {
                rows.add(new Row(key, total));
            }
        }
        rows.sort(Comparator.comparingLong(Row::total).reversed().thenComparing(r -> describe(r.key())));
        final List<Row> shown = rows.subList(0, Math.min(top, rows.size()));
        if (json)
        {
            final StringBuilder sb = new StringBuilder(256);
            sb.append('{');
            Json.key(sb, "timestamp").append(nowMs).append(',');
            Json.key(sb, "mapFile");
            Json.string(sb, store.mapFile().toString()).append(',');
            Json.key(sb, "maxNodes").append(store.maxNodes()).append(',');
            Json.key(sb, "keys").append(store.size()).append(',');
            Json.key(sb, "window");
            Json.string(sb, windowText).append(',');
            Json.key(sb, "windowMs").append(windowMs).append(',');
            Json.key(sb, "active").append(rows.size()).append(',');
            Json.key(sb, "top").append('[');
            for (int i = 0; i < shown.size(); i++)
            {
                if (i > 0)
                {
                    sb.append(',');
                }
                final Row row = shown.get(i);
                sb.append('{');
                keyFields(sb, row.key(), null);
                Json.key(sb, "total").append(row.total()).append('}');
            }
            sb.append("]}");
            out.println(sb);
            return;
        }
        out.println(Instant.ofEpochMilli(nowMs) + " - mailgate rates " + store.mapFile() + " (max-nodes " +
            store.maxNodes() + ", " + store.size() + " keys)");
        out.println("======== top " + shown.size() + " of " + rows.size() + " active keys over " + windowText +
            (0 == dimension ? "" : " (" + RateDimension.name(dimension) + ")"));
        out.printf(Locale.ROOT, "%14s  %-20s  %-15s  %s%n", "total", "dimension", "subject type", "subject");
        for (final Row row : shown)
        {
            final byte[] key = row.key();
            out.printf(Locale.ROOT, "%,14d  %-20s  %-15s  %s%n", row.total(),
                RateDimension.name(key[Subject.DIMENSION_OFFSET]), Subject.typeName(key[Subject.TYPE_OFFSET]),
                subjectText(key, null));
        }
    }

    private static void subjectView(
        final RateStore store,
        final PrintStream out,
        final boolean json,
        final long nowMs,
        final long windowMs,
        final String windowText,
        final int dimension,
        final String subjectText,
        final List<Subject> subjects)
    {
        final int maxNodes = store.maxNodes();
        final UnsafeBuffer slot = new UnsafeBuffer(new byte[SlotDescriptor.SLOT_LENGTH]);
        final long nowSec = Math.floorDiv(nowMs, 1000L);
        final StringBuilder sb = new StringBuilder(1024);
        if (json)
        {
            sb.append('{');
            Json.key(sb, "timestamp").append(nowMs).append(',');
            Json.key(sb, "mapFile");
            Json.string(sb, store.mapFile().toString()).append(',');
            Json.key(sb, "maxNodes").append(maxNodes).append(',');
            Json.key(sb, "window");
            Json.string(sb, windowText).append(',');
            Json.key(sb, "windowMs").append(windowMs).append(',');
            Json.key(sb, "subject");
            Json.string(sb, subjectText).append(',');
            Json.key(sb, "keys").append('[');
        }
        else
        {
            out.println(Instant.ofEpochMilli(nowMs) + " - mailgate rates " + store.mapFile() + " (max-nodes " +
                maxNodes + "), subject " + subjectText + ", window " + windowText);
        }
        int found = 0;
        final byte[] key = new byte[Subject.KEY_LENGTH];
        for (final Subject s : subjects)
        {
            for (int d = 1; RateDimension.isValid(d); d++)
            {
                if (0 != dimension && d != dimension)
                {
                    continue;
                }
                s.writeKey(d, key);
                if (!store.readSlot(key, 0, slot, 0))
                {
                    continue;
                }
                final long total = store.totalKey(key, windowMs, nowMs);
                if (json)
                {
                    if (found > 0)
                    {
                        sb.append(',');
                    }
                    sb.append('{');
                    keyFields(sb, key, subjectText);
                    Json.key(sb, "total").append(total).append(',');
                    Json.key(sb, "nodes").append('[');
                }
                else
                {
                    out.printf(Locale.ROOT, "======== %s %s %s: %,d over %s%n", RateDimension.name(d),
                        Subject.typeName(s.type()), subjectText(key, subjectText), total, windowText);
                    out.printf(Locale.ROOT, "%6s  %12s  %-34s  %s%n",
                        "node", "in window", "last written", "non-zero 1s buckets (second: count)");
                }
                int nodesShown = 0;
                for (int node = 0; node < maxNodes; node++)
                {
                    store.readSlot(key, node, slot, 0);
                    if (0 == slot.getLong(SlotDescriptor.VERSION_OFFSET, ORDER))
                    {
                        continue;
                    }
                    final long lastSec = slot.getLong(SlotDescriptor.LAST_SECOND_OFFSET, ORDER);
                    final long nodeTotal = slotTotal(slot, windowMs, nowSec);
                    if (json)
                    {
                        if (nodesShown > 0)
                        {
                            sb.append(',');
                        }
                        sb.append('{');
                        Json.key(sb, "node").append(node).append(',');
                        Json.key(sb, "total").append(nodeTotal).append(',');
                        Json.key(sb, "lastSecond").append(lastSec).append(',');
                        Json.key(sb, "seconds").append('[');
                        boolean first = true;
                        for (long sec = lastSec - SlotDescriptor.BUCKETS + 1; sec <= lastSec; sec++)
                        {
                            final int count = secondBucket(slot, sec);
                            if (count != 0)
                            {
                                if (!first)
                                {
                                    sb.append(',');
                                }
                                first = false;
                                sb.append('{');
                                Json.key(sb, "second").append(sec).append(',');
                                Json.key(sb, "count").append(count).append('}');
                            }
                        }
                        sb.append("]}");
                    }
                    else
                    {
                        final StringBuilder buckets = new StringBuilder();
                        for (long sec = lastSec - SlotDescriptor.BUCKETS + 1; sec <= lastSec; sec++)
                        {
                            final int count = secondBucket(slot, sec);
                            if (count != 0)
                            {
                                buckets.append(buckets.isEmpty() ? "" : ", ")
                                    .append(Instant.ofEpochSecond(sec).toString(), 11, 19).append(": ").append(count);
                            }
                        }
                        out.printf(Locale.ROOT, "%6d  %,12d  %-34s  %s%n", node, nodeTotal,
                            Instant.ofEpochSecond(lastSec) + " (" +
                            InspectMain.formatDuration(nowMs - lastSec * 1000L) + " ago)",
                            buckets.isEmpty() ? "-" : buckets);
                    }
                    nodesShown++;
                }
                if (json)
                {
                    sb.append("]}");
                }
                found++;
            }
        }
        if (json)
        {
            sb.append("]}");
            out.println(sb);
        }
        else if (0 == found)
        {
            out.println("no counter for " + subjectText + (0 == dimension ? "" : " in " +
                RateDimension.name(dimension)) + " (never counted, or swept after an hour without traffic)");
        }
    }

    private static void keyFields(final StringBuilder sb, final byte[] key, final String name)
    {
        Json.key(sb, "dimension");
        Json.string(sb, RateDimension.name(key[Subject.DIMENSION_OFFSET])).append(',');
        Json.key(sb, "type");
        Json.string(sb, Subject.typeName(key[Subject.TYPE_OFFSET])).append(',');
        Json.key(sb, "subject");
        Json.string(sb, subjectText(key, name)).append(',');
        if (isHashed(key))
        {
            Json.key(sb, "sha256Prefix");
            Json.string(sb, HexFormat.of().formatHex(key, Subject.VALUE_OFFSET, Subject.KEY_LENGTH)).append(',');
        }
    }

    private static boolean isHashed(final byte[] key)
    {
        return key[Subject.TYPE_OFFSET] != Subject.CLIENT_IP && key[Subject.TYPE_OFFSET] != Subject.CLIENT_NETWORK;
    }

    /**
     * @param key  a counter key.
     * @param name the name the user gave for it, or null.
     * @return the address, network, given name, or "sha256:" and the first hex digits of the stored hash.
     */
    static String subjectText(final byte[] key, final String name)
    {
        if (!isHashed(key))
        {
            final String described = Subject.describeKey(key);
            return described.substring(described.lastIndexOf(' ') + 1);
        }
        if (null != name)
        {
            return name;
        }
        return "sha256:" + HexFormat.of().formatHex(key, Subject.VALUE_OFFSET, Subject.KEY_LENGTH)
            .substring(0, HASH_HEX_CHARS);
    }

    private static String describe(final byte[] key)
    {
        return RateDimension.name(key[Subject.DIMENSION_OFFSET]) + " " + Subject.typeName(key[Subject.TYPE_OFFSET]) +
            " " + subjectText(key, null);
    }

    private static int secondBucket(final UnsafeBuffer slot, final long sec)
    {
        return slot.getInt(SlotDescriptor.SECONDS_OFFSET + 4 * (int)Math.floorMod(sec, SlotDescriptor.BUCKETS), ORDER);
    }

    /**
     * One slot's total in the window, as RateStore computes it (its slotTotal is package-private).
     */
    static long slotTotal(final UnsafeBuffer b, final long windowMs, final long nowSec)
    {
        if (b.getLong(SlotDescriptor.VERSION_OFFSET, ORDER) == 0)
        {
            return 0;
        }
        final int buckets = SlotDescriptor.BUCKETS;
        final long lastSec = b.getLong(SlotDescriptor.LAST_SECOND_OFFSET, ORDER);
        long total = 0;
        if (windowMs <= 60_000L)
        {
            final long windowSec = Math.max(1, (windowMs + 999) / 1000);
            final long lo = Math.max(lastSec - buckets + 1, nowSec - windowSec + 1);
            final long hi = Math.min(lastSec, nowSec + SlotDescriptor.SKEW_SECONDS);
            for (long sec = lo; sec <= hi; sec++)
            {
                total += secondBucket(b, sec);
            }
        }
        else
        {
            final long windowMin = Math.min(buckets, (windowMs + 59_999) / 60_000);
            final long lastMin = Math.floorDiv(lastSec, 60L);
            final long nowMin = Math.floorDiv(nowSec + SlotDescriptor.SKEW_SECONDS, 60L);
            final long lo = Math.max(lastMin - buckets + 1, Math.floorDiv(nowSec, 60L) - windowMin + 1);
            final long hi = Math.min(lastMin, nowMin);
            for (long min = lo; min <= hi; min++)
            {
                total += b.getInt(SlotDescriptor.MINUTES_OFFSET + 4 * (int)Math.floorMod(min, buckets), ORDER);
            }
        }
        return total;
    }
}
