package mailgate.bench.ipc;

import mailgate.ipc.codecs.MessageHeaderDecoder;
import mailgate.ipc.codecs.MessageHeaderEncoder;
import mailgate.ipc.codecs.RouterQuestion;
import mailgate.ipc.codecs.RouterReplyDecoder;
import mailgate.ipc.codecs.RouterReplyEncoder;
import mailgate.ipc.codecs.RouterRequestDecoder;
import mailgate.ipc.codecs.RouterRequestEncoder;
import mailgate.ipc.codecs.Verdict;
import org.agrona.BufferUtil;
import org.agrona.concurrent.UnsafeBuffer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * What does the SBE work of one router question cost: encoding a RouterRequest, decoding it (in place, and the
 * way RouterAgent does it, with Strings), and encoding plus decoding the RouterReply, and does any of it allocate?
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED")
@State(Scope.Thread)
public class SbeCodecBenchmark
{
    private static final byte[] CLIENT = "192.0.2.7".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SENDER = "bounces-4711@lists.example".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RECIPIENT = "jane.doe@mail.example.org".getBytes(StandardCharsets.US_ASCII);
    private static final int REPLY_STREAM_ID = 100_032;

    private final UnsafeBuffer requestBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer decodeBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer replyBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final RouterRequestEncoder requestEncoder = new RouterRequestEncoder();
    private final RouterRequestDecoder requestDecoder = new RouterRequestDecoder();
    private final RouterReplyEncoder replyEncoder = new RouterReplyEncoder();
    private final RouterReplyDecoder replyDecoder = new RouterReplyDecoder();
    private final UnsafeBuffer clientView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer senderView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer addressView = new UnsafeBuffer(0, 0);
    private final byte[] recipientBytes = new byte[256];
    private long correlationId;

    @Setup
    public void setup()
    {
        encode(decodeBuffer, 42);
        if (decodeInPlace() == 0 || !"192.0.2.7".equals(decodeStrings()))
        {
            throw new IllegalStateException("request did not decode");
        }
        if (replyAccept() != 43 + 1)
        {
            throw new IllegalStateException("reply did not decode");
        }
    }

    /**
     * As RouterPolicy.ask encodes an RCPT question (byte[] sources; the policy's address is a DirectBuffer).
     */
    @Benchmark
    public int encodeRequest()
    {
        return encode(requestBuffer, ++correlationId);
    }

    /**
     * Every field read, var fields wrapped or copied into a byte[]: no String.
     */
    @Benchmark
    public long decodeInPlace()
    {
        headerDecoder.wrap(decodeBuffer, 0);
        if (headerDecoder.schemaId() != RouterRequestDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != RouterRequestDecoder.TEMPLATE_ID)
        {
            return 0;
        }
        final RouterRequestDecoder d = requestDecoder.wrap(
            decodeBuffer, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        long sum = d.correlationId() + d.replyStreamId() + d.questionRaw();
        d.wrapClientAddress(clientView);
        sum += clientView.getByte(clientView.capacity() - 1);
        d.wrapSender(senderView);
        sum += senderView.getByte(senderView.capacity() - 1);
        final int length = d.getRecipient(recipientBytes, 0, recipientBytes.length);
        return sum + length + recipientBytes[length - 1];
    }

    /**
     * As RouterAgent.onRequest decodes: clientAddress(), sender(), recipient() as Strings.
     */
    @Benchmark
    public String decodeStrings()
    {
        headerDecoder.wrap(decodeBuffer, 0);
        final RouterRequestDecoder d = requestDecoder.wrap(
            decodeBuffer, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        final long id = d.correlationId();
        final int stream = d.replyStreamId();
        final RouterQuestion question = d.question();
        final String client = d.clientAddress();
        final String sender = d.sender();
        final String recipient = d.recipient();
        return id + stream + question.value() + sender.length() + recipient.length() > 0 ? client : null;
    }

    /**
     * As RouterAgent encodes an ACCEPT (String setters, empty text and address) and RouterPolicy.onReply decodes it.
     */
    @Benchmark
    public long replyAccept()
    {
        replyEncoder.wrapAndApplyHeader(replyBuffer, 0, headerEncoder)
            .correlationId(43)
            .verdict(Verdict.ACCEPT)
            .replyText("")
            .rewrittenAddress("");
        headerDecoder.wrap(replyBuffer, 0);
        if (headerDecoder.schemaId() != RouterReplyDecoder.SCHEMA_ID ||
            headerDecoder.templateId() != RouterReplyDecoder.TEMPLATE_ID)
        {
            return 0;
        }
        final RouterReplyDecoder d = replyDecoder.wrap(
            replyBuffer, MessageHeaderDecoder.ENCODED_LENGTH, headerDecoder.blockLength(), headerDecoder.version());
        final long id = d.correlationId();
        if (Verdict.ACCEPT != d.verdict())
        {
            return 0;
        }
        d.skipReplyText();
        final int length = d.rewrittenAddressLength();
        if (length > 0)
        {
            d.wrapRewrittenAddress(addressView);
            return id + addressView.capacity();
        }
        d.skipRewrittenAddress();
        return id + 1;
    }

    private int encode(final UnsafeBuffer buffer, final long id)
    {
        requestEncoder.wrapAndApplyHeader(buffer, 0, headerEncoder)
            .correlationId(id)
            .replyStreamId(REPLY_STREAM_ID)
            .question(RouterQuestion.RCPT_TO)
            .putClientAddress(CLIENT, 0, CLIENT.length)
            .putSender(SENDER, 0, SENDER.length)
            .putRecipient(RECIPIENT, 0, RECIPIENT.length);
        return MessageHeaderEncoder.ENCODED_LENGTH + requestEncoder.encodedLength();
    }

    public static void main(final String[] args) throws RunnerException
    {
        new Runner(new OptionsBuilder().include(SbeCodecBenchmark.class.getSimpleName()).build()).run();
    }
}
