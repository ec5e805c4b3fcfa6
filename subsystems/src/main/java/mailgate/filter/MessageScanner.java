/*
 * SUMMARY
 * Scans one message with Apache mime4j's streaming parser and the current rules and stages, and returns a
 * verdict. One scanner per worker thread.
 *
 * DESCRIPTION
 * Events arrive in message order: header fields (header rules, then stages' onHeader), the end of each
 * entity's headers (content-type and attachment-name rules, then stages' onPart), body octets of leaf parts
 * (part-size rules; body rules line by line on text/* parts, transfer-decoded and charset-decoded), and the
 * opening of each multipart or attached message (nesting rules). The first terminal verdict stops the parse;
 * ADD-HEADER verdicts are collected (each rule at most once) and sent with ACCEPT as ADD_HEADERS.
 *
 * LIMITS
 * Memory per scan is bounded whatever the message: mime4j holds at most one header field (64 KiB) and one
 * line (64 KiB), at most 1000 fields per entity; the scanner holds one body line (16 KiB, longer lines are
 * matched in 16 KiB pieces) and at most 100 levels of nesting (deeper is rejected before the parser opens
 * the next level). A message beyond these limits gets "554 5.6.0", a verdict, never an OutOfMemoryError.
 * Time is bounded by the scan deadline: the worker is interrupted, and regex matching and reads notice it.
 */
package mailgate.filter;

import mailgate.filter.InterruptibleCharSequence.ScanInterruptedException;
import mailgate.ipc.codecs.FilterAction;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;
import org.apache.james.mime4j.io.MaxHeaderLengthLimitException;
import org.apache.james.mime4j.io.MaxHeaderLimitException;
import org.apache.james.mime4j.io.MaxLineLimitException;
import org.apache.james.mime4j.parser.ContentHandler;
import org.apache.james.mime4j.parser.MimeStreamParser;
import org.apache.james.mime4j.stream.BodyDescriptor;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.stream.NameValuePair;
import org.apache.james.mime4j.stream.RawBody;
import org.apache.james.mime4j.stream.RawField;
import org.apache.james.mime4j.stream.RawFieldParser;

import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Streams a message through mime4j and the rules; not thread-safe (one per worker).
 */
final class MessageScanner
{
    /** Deepest nesting of multiparts and attached messages the scanner will open. */
    static final int MAX_NESTING = 100;
    /** Header fields per entity. */
    static final int MAX_HEADER_COUNT = 1000;
    /** Octets in one header field, folded lines included. */
    static final int MAX_HEADER_LENGTH = 64 * 1024;
    /** Octets in one line as mime4j reads it (headers, boundaries). */
    static final int MAX_LINE_LENGTH = 64 * 1024;
    /** Octets of body matched at once by body rules. */
    static final int MAX_BODY_LINE = 16 * 1024;
    /** Characters of added header lines in one verdict. */
    static final int MAX_ADDED_HEADERS = 32 * 1024;

    static final String LIMIT_REPLY = "554 5.6.0 message structure exceeds the content filter's limits";
    static final String MALFORMED_REPLY = "554 5.6.0 malformed MIME structure";

    private final MimeConfig config = new MimeConfig.Builder()
        .setMaxHeaderCount(MAX_HEADER_COUNT)
        .setMaxHeaderLen(MAX_HEADER_LENGTH)
        .setMaxLineLen(MAX_LINE_LENGTH)
        .setMaxContentLen(-1)
        .setStrictParsing(false)
        .build();
    private final byte[] chunk = new byte[8192];
    private final byte[] line = new byte[MAX_BODY_LINE];
    private boolean limitHit;

    /**
     * @param rules   the rules in force.
     * @param stages  the SPI stages.
     * @param message the message's summary.
     * @param in      the message part (the spool's message part).
     * @return the verdict.
     * @throws IOException a refusal of the reference, or a read failure.
     * @throws ScanInterruptedException when the thread was interrupted (deadline passed).
     */
    FilterVerdict scan(
        final FilterRules rules, final List<FilterStage> stages, final FilterMessage message, final InputStream in)
        throws IOException
    {
        limitHit = false;
        final Handler handler = new Handler(rules, stages, message);
        final MimeStreamParser parser = new MimeStreamParser(config);
        parser.setContentDecoding(true);
        parser.setContentHandler(handler);
        try
        {
            parser.parse(in);
            if (null == handler.terminal)
            {
                for (final FilterStage stage : stages)
                {
                    handler.apply(stage.onEnd(message), stage);
                }
            }
        }
        catch (final StopScan stop)
        {
            // a terminal verdict was found
        }
        catch (final MaxHeaderLimitException | MaxHeaderLengthLimitException ex)
        {
            return limit(ex);
        }
        catch (final MimeException ex)
        {
            final Throwable limit = limitCause(ex);
            if (null != limit)
            {
                return limit(limit);
            }
            return FilterVerdict.of(FilterAction.REJECT, MALFORMED_REPLY, "", "malformed MIME: " + ex.getMessage());
        }
        catch (final IOException ex)
        {
            final Throwable limit = limitCause(ex);
            if (null != limit)
            {
                return limit(limit);
            }
            throw unwrap(ex);
        }
        return handler.verdict();
    }

    /**
     * @return true when the last scan stopped at a parser limit.
     */
    boolean limitHit()
    {
        return limitHit;
    }

    private FilterVerdict limit(final Throwable ex)
    {
        limitHit = true;
        return FilterVerdict.of(FilterAction.REJECT, LIMIT_REPLY, "", "limit: " + ex.getMessage());
    }

    private static Throwable limitCause(final Throwable ex)
    {
        for (Throwable t = ex; null != t; t = t.getCause())
        {
            if (t instanceof MaxLineLimitException || t instanceof MaxHeaderLimitException ||
                t instanceof MaxHeaderLengthLimitException)
            {
                return t;
            }
            if (t.getCause() == t)
            {
                break;
            }
        }
        return null;
    }

    private static IOException unwrap(final IOException ex)
    {
        for (Throwable t = ex; null != t && t.getCause() != t; t = t.getCause())
        {
            if (t instanceof ReferenceRefusedException)
            {
                return (ReferenceRefusedException)t;
            }
        }
        return ex;
    }

    static boolean matches(final Pattern pattern, final String text)
    {
        return pattern.matcher(new InterruptibleCharSequence(text)).find();
    }

    static void checkInterrupted()
    {
        if (Thread.currentThread().isInterrupted())
        {
            throw new ScanInterruptedException();
        }
    }

    /**
     * Unwinds the parser once a terminal verdict is known.
     */
    static final class StopScan extends MimeException
    {
        private static final long serialVersionUID = 1L;

        StopScan()
        {
            super("verdict reached");
        }
    }

    private final class Handler implements ContentHandler
    {
        private final FilterRules rules;
        private final List<FilterStage> stages;
        private final FilterMessage message;
        private final Set<Object> added = new HashSet<>();
        private final StringBuilder headers = new StringBuilder();
        private final List<String> reasons = new ArrayList<>();
        private FilterVerdict terminal;
        private int depth;
        private boolean messageStarted;
        private String mimeType;
        private String contentTypeName;
        private String dispositionName;
        private boolean attachment;

        Handler(final FilterRules rules, final List<FilterStage> stages, final FilterMessage message)
        {
            this.rules = rules;
            this.stages = stages;
            this.message = message;
        }

        void apply(final FilterVerdict verdict, final Object source) throws StopScan
        {
            if (null == verdict)
            {
                return;
            }
            if (FilterAction.ADD_HEADERS == verdict.action())
            {
                final Object key = source instanceof FilterRule ? source : verdict.headers();
                if (added.add(key) && headers.length() + verdict.headers().length() <= MAX_ADDED_HEADERS)
                {
                    headers.append(verdict.headers());
                    reasons.add(verdict.reason());
                }
                return;
            }
            terminal = verdict;
            throw new StopScan();
        }

        FilterVerdict verdict()
        {
            if (null != terminal && FilterAction.ACCEPT != terminal.action())
            {
                return terminal;
            }
            if (headers.length() > 0)
            {
                if (null != terminal)
                {
                    reasons.add(terminal.reason());
                }
                return FilterVerdict.of(FilterAction.ADD_HEADERS, "", headers.toString(), String.join("; ", reasons));
            }
            return null == terminal ? FilterVerdict.accept() : terminal;
        }

        public void startMessage() throws MimeException
        {
            if (messageStarted)
            {
                depth++;
                checkNesting();
            }
            messageStarted = true;
        }

        public void endMessage()
        {
            if (depth > 0)
            {
                depth--;
            }
        }

        public void startBodyPart()
        {
        }

        public void endBodyPart()
        {
        }

        public void startHeader()
        {
            mimeType = null;
            contentTypeName = null;
            dispositionName = null;
            attachment = false;
        }

        public void field(final Field field) throws MimeException
        {
            checkInterrupted();
            final byte[] raw = field.getRaw().toByteArray();
            int colon = 0;
            while (colon < raw.length && ':' != raw[colon])
            {
                colon++;
            }
            final String name = field.getName();
            final String value = unfold(raw, colon + 1);
            final String headerLine = name + ": " + value;
            for (final FilterRule rule : rules.header())
            {
                if (matches(rule.pattern(), headerLine))
                {
                    apply(rule.verdict(), rule);
                }
            }
            for (final FilterStage stage : stages)
            {
                apply(stage.onHeader(message, depth, name, value), stage);
            }
            final String lower = name.toLowerCase(Locale.ROOT);
            if ("content-type".equals(lower) || "content-disposition".equals(lower))
            {
                final RawField rawField = field instanceof RawField ? (RawField)field :
                    RawFieldParser.DEFAULT.parseField(field.getRaw());
                final RawBody body = RawFieldParser.DEFAULT.parseRawBody(rawField);
                final String token = null == body.getValue() ? "" : body.getValue().strip().toLowerCase(Locale.ROOT);
                if ("content-type".equals(lower))
                {
                    mimeType = token.indexOf('/') > 0 ? token : null;
                    contentTypeName = parameter(body.getParams(), "name");
                }
                else
                {
                    attachment = "attachment".equals(token);
                    dispositionName = parameter(body.getParams(), "filename");
                }
            }
        }

        public void endHeader() throws MimeException
        {
            final String type = null == mimeType ? "text/plain" : mimeType;
            for (final FilterRule rule : rules.contentType())
            {
                if (matches(rule.pattern(), type))
                {
                    apply(rule.verdict(), rule);
                }
            }
            for (final FilterRule rule : rules.attachmentName())
            {
                if ((null != dispositionName && matches(rule.pattern(), dispositionName)) ||
                    (null != contentTypeName && matches(rule.pattern(), contentTypeName)))
                {
                    apply(rule.verdict(), rule);
                }
            }
            if (!stages.isEmpty())
            {
                final FilterPart part = new FilterPart(
                    depth, type, null != dispositionName ? dispositionName : contentTypeName, attachment);
                for (final FilterStage stage : stages)
                {
                    apply(stage.onPart(message, part), stage);
                }
            }
        }

        public void preamble(final InputStream is) throws IOException
        {
            skip(is);
        }

        public void epilogue(final InputStream is) throws IOException
        {
            skip(is);
        }

        public void startMultipart(final BodyDescriptor bd) throws MimeException
        {
            depth++;
            checkNesting();
        }

        public void endMultipart()
        {
            depth--;
        }

        public void body(final BodyDescriptor bd, final InputStream is) throws MimeException, IOException
        {
            final FilterRule[] bodyRules = rules.body();
            final FilterRule[] sizeRules = rules.partSize();
            final boolean text = bodyRules.length > 0 && bd.getMimeType().startsWith("text/");
            final Charset charset = text ? charset(bd.getCharset()) : StandardCharsets.ISO_8859_1;
            long size = 0;
            int lineLength = 0;
            int n;
            while ((n = is.read(chunk, 0, chunk.length)) >= 0)
            {
                checkInterrupted();
                size += n;
                for (final FilterRule rule : sizeRules)
                {
                    if (size > rule.threshold())
                    {
                        apply(rule.verdict(), rule);
                    }
                }
                if (!text)
                {
                    continue;
                }
                for (int i = 0; i < n; i++)
                {
                    final byte b = chunk[i];
                    if ('\n' == b)
                    {
                        bodyLine(bodyRules, lineLength, charset);
                        lineLength = 0;
                    }
                    else
                    {
                        if (lineLength == line.length)
                        {
                            bodyLine(bodyRules, lineLength, charset);
                            lineLength = 0;
                        }
                        line[lineLength++] = b;
                    }
                }
            }
            if (text && lineLength > 0)
            {
                bodyLine(bodyRules, lineLength, charset);
            }
        }

        private void bodyLine(final FilterRule[] bodyRules, final int length, final Charset charset) throws StopScan
        {
            final int end = length > 0 && '\r' == line[length - 1] ? length - 1 : length;
            final String text = new String(line, 0, end, charset);
            for (final FilterRule rule : bodyRules)
            {
                if (matches(rule.pattern(), text))
                {
                    apply(rule.verdict(), rule);
                }
            }
        }

        public void raw(final InputStream is) throws IOException
        {
            skip(is);
        }

        private void checkNesting() throws StopScan
        {
            for (final FilterRule rule : rules.nesting())
            {
                if (depth > rule.threshold())
                {
                    apply(rule.verdict(), rule);
                }
            }
            if (depth > MAX_NESTING)
            {
                limitHit = true;
                terminal = FilterVerdict.of(FilterAction.REJECT, LIMIT_REPLY, "",
                    "limit: MIME nesting deeper than " + MAX_NESTING);
                throw new StopScan();
            }
        }

        private void skip(final InputStream is) throws IOException
        {
            while (is.read(chunk, 0, chunk.length) >= 0)
            {
                checkInterrupted();
            }
        }
    }

    static String unfold(final byte[] raw, final int from)
    {
        final byte[] out = new byte[Math.max(0, raw.length - from)];
        int n = 0;
        for (int i = from; i < raw.length; i++)
        {
            if ('\r' != raw[i] && '\n' != raw[i])
            {
                out[n++] = raw[i];
            }
        }
        int start = 0;
        while (start < n && (' ' == out[start] || '\t' == out[start]))
        {
            start++;
        }
        return new String(out, start, n - start, StandardCharsets.UTF_8);
    }

    static Charset charset(final String name)
    {
        try
        {
            return null == name ? StandardCharsets.US_ASCII : Charset.forName(name);
        }
        catch (final RuntimeException ex)
        {
            return StandardCharsets.ISO_8859_1;
        }
    }

    /**
     * A parameter's value: plain (RFC 2047 encoded words decoded), extended (RFC 2231 charset''%xx) or
     * continued (name*0, name*1*, ...); trailing dots and blanks removed as Windows does, so "x.exe. " is
     * matched as "x.exe".
     */
    static String parameter(final List<NameValuePair> params, final String name)
    {
        String plain = null;
        String extended = null;
        final TreeMap<Integer, String> sections = new TreeMap<>();
        final TreeMap<Integer, Boolean> sectionEncoded = new TreeMap<>();
        for (final NameValuePair p : params)
        {
            final String key = null == p.getName() ? "" : p.getName().toLowerCase(Locale.ROOT);
            final String value = null == p.getValue() ? "" : p.getValue();
            if (key.equals(name))
            {
                plain = value;
            }
            else if (key.equals(name + "*"))
            {
                extended = value;
            }
            else if (key.startsWith(name + "*") && sections.size() < 100)
            {
                String index = key.substring(name.length() + 1);
                final boolean encoded = index.endsWith("*");
                if (encoded)
                {
                    index = index.substring(0, index.length() - 1);
                }
                try
                {
                    final int i = Integer.parseInt(index);
                    sections.put(i, value);
                    sectionEncoded.put(i, encoded);
                }
                catch (final NumberFormatException ignore)
                {
                    // not a continuation
                }
            }
        }
        String result = null;
        if (null != extended)
        {
            result = rfc2231(extended, true);
        }
        else if (!sections.isEmpty())
        {
            final StringBuilder sb = new StringBuilder();
            Charset charset = null;
            for (final var e : sections.entrySet())
            {
                String v = e.getValue();
                if (Boolean.TRUE.equals(sectionEncoded.get(e.getKey())))
                {
                    if (null == charset)
                    {
                        final int q1 = v.indexOf('\'');
                        final int q2 = q1 < 0 ? -1 : v.indexOf('\'', q1 + 1);
                        charset = q2 > 0 ? charset(v.substring(0, q1)) : StandardCharsets.UTF_8;
                        v = q2 > 0 ? v.substring(q2 + 1) : v;
                    }
                    v = percentDecode(v, charset);
                }
                sb.append(v);
            }
            result = sb.toString();
        }
        else if (null != plain)
        {
            try
            {
                result = DecoderUtil.decodeEncodedWords(plain, DecodeMonitor.SILENT);
            }
            catch (final RuntimeException ex)
            {
                result = plain;
            }
        }
        return null == result ? null : stripTrailing(result);
    }

    private static String rfc2231(final String value, final boolean withCharset)
    {
        final int q1 = value.indexOf('\'');
        final int q2 = q1 < 0 ? -1 : value.indexOf('\'', q1 + 1);
        if (!withCharset || q2 < 0)
        {
            return percentDecode(value, StandardCharsets.UTF_8);
        }
        final Charset charset = charset(value.substring(0, q1));
        return percentDecode(value.substring(q2 + 1), charset);
    }

    private static String percentDecode(final String value, final Charset charset)
    {
        try
        {
            return URLDecoder.decode(value.replace("+", "%2B"), charset);
        }
        catch (final IllegalArgumentException ex)
        {
            return value;
        }
    }

    private static String stripTrailing(final String name)
    {
        int end = name.length();
        while (end > 0)
        {
            final char c = name.charAt(end - 1);
            if ('.' == c || Character.isWhitespace(c) || c < 0x20)
            {
                end--;
            }
            else
            {
                break;
            }
        }
        return name.substring(0, end);
    }
}
