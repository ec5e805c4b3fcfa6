/*
 * SUMMARY
 * One client SMTP connection of the load generator, driven by LoadRun's selector thread: connect, 220, EHLO (HELO
 * after a 5xx), then messages (MAIL, RCPT x N, DATA + dot-stuffed body, or BDAT n LAST + raw body), RSET after a
 * failed transaction, QUIT after --per-connection messages. With PIPELINING the MAIL, RCPTs and DATA (or BDAT and its
 * chunk) go out in one write and the replies are read in order (RFC 2920); otherwise one command per reply.
 *
 * TIMING
 * CONNECT: connect() call to 220. MAIL: MAIL written (open loop: the message's intended start) to its reply. RCPT:
 * that RCPT written (pipelined: the batch written) to its reply. DATA: last body byte handed to the kernel to the
 * final reply. MESSAGE: message start (open loop: intended start) to the final reply.
 *
 * ERRORS
 * A dropped connection, an unparsable reply or a reply timeout closes the connection; a message in flight then counts
 * as failed (not rejected), and the session reconnects after a short pause while messages remain.
 */
package mailgate.bench;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

/**
 * State machine of one client SMTP connection; all methods run on the event-loop thread.
 */
final class SmtpClientSession
{
    enum State
    {
        DISCONNECTED, CONNECTING, GREETING, EHLO, HELO, READY, MAIL, RCPT, DATA_COMMAND, DATA_END, RSET, QUIT
    }

    private static final byte[] DATA = "DATA\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RSET = "RSET\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] QUIT = "QUIT\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] BDAT = "BDAT ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] LAST = " LAST\r\n".getBytes(StandardCharsets.US_ASCII);

    private final LoadRun run;
    private final ReplyParser parser = new ReplyParser();
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(16 * 1024);
    private final ByteBuffer commands;
    private final ByteBuffer scratch;
    private final ByteBuffer[] out = new ByteBuffer[4];
    private final byte[] digits = new byte[20];
    private int outOffset;
    private int outCount;
    private boolean bodyInWrite;

    private SocketChannel channel;
    private SelectionKey key;
    private State state = State.DISCONNECTED;
    private long connectStartNs;
    private long replyDeadlineNs;
    private long wakeNs;
    private boolean pipelining;
    private boolean chunking;
    private int messagesOnConnection;

    private boolean inMessage;
    private long seq;
    private long messageStartNs;
    private boolean recorded;
    private long mailSentNs;
    private long rcptSentNs;
    private long dataEndNs;
    private int rcptIndex;
    private int rcptAccepted;
    private int firstFailureCode;

    SmtpClientSession(final LoadRun run)
    {
        this.run = run;
        int capacity = run.mailCommand().length + DATA.length + BDAT.length + 20 + LAST.length;
        for (final byte[] rcpt : run.rcptCommands())
        {
            capacity += rcpt.length;
        }
        commands = ByteBuffer.allocate(capacity);
        scratch = ByteBuffer.allocate(Math.max(1, run.source().scratchCapacity()));
    }

    State state()
    {
        return state;
    }

    boolean isInMessage()
    {
        return inMessage;
    }

    long replyDeadlineNs()
    {
        return replyDeadlineNs;
    }

    long wakeNs()
    {
        return wakeNs;
    }

    /**
     * Schedule a reconnect, or cancel one with 0.
     */
    void wakeAt(final long nanos)
    {
        wakeNs = nanos;
    }

    void connect(final long nowNs)
    {
        wakeNs = 0;
        messagesOnConnection = 0;
        pipelining = false;
        chunking = false;
        parser.reset();
        readBuffer.clear();
        connectStartNs = nowNs;
        replyDeadlineNs = nowNs + run.timeoutNs();
        state = State.CONNECTING;
        try
        {
            channel = SocketChannel.open();
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            if (channel.connect(run.address()))
            {
                key = channel.register(run.selector(), SelectionKey.OP_READ, this);
                state = State.GREETING;
            }
            else
            {
                key = channel.register(run.selector(), SelectionKey.OP_CONNECT, this);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            fail(LoadRun.ErrorKind.CONNECTION, "connect to " + run.target() + " failed: " + ex, nowNs);
        }
    }

    /**
     * Called by the event loop for the selected key.
     */
    void onSelected(final SelectionKey selected)
    {
        final long nowNs = System.nanoTime();
        try
        {
            if (!selected.isValid())
            {
                return;
            }
            if (selected.isConnectable())
            {
                if (!channel.finishConnect())
                {
                    return;
                }
                state = State.GREETING;
                key.interestOps(SelectionKey.OP_READ);
                return;
            }
            if (selected.isWritable())
            {
                flush(nowNs);
            }
            if (null != channel && selected.isValid() && selected.isReadable())
            {
                read(nowNs);
            }
        }
        catch (final SmtpProtocolException ex)
        {
            fail(LoadRun.ErrorKind.PROTOCOL, "protocol error from " + run.target() + ": " + ex.getMessage(), nowNs);
        }
        catch (final IOException | RuntimeException ex)
        {
            fail(LoadRun.ErrorKind.CONNECTION, "connection to " + run.target() + " in state " + state + ": " + ex,
                nowNs);
        }
    }

    /**
     * The reply deadline passed.
     */
    void onTimeout(final long nowNs)
    {
        fail(LoadRun.ErrorKind.TIMEOUT,
            "no reply within " + run.timeoutNs() / 1_000_000 + " ms in state " + state + " from " + run.target(),
            nowNs);
    }

    /**
     * Begin a message on this READY session.
     *
     * @param messageSeq     sequence number of the message.
     * @param startNs        when the message counts as started: now (closed loop) or its intended start (open loop).
     * @param recordMessage  whether its results are recorded (false during warm-up).
     * @param nowNs          current time.
     */
    void startMessage(final long messageSeq, final long startNs, final boolean recordMessage, final long nowNs)
    {
        inMessage = true;
        seq = messageSeq;
        messageStartNs = startNs;
        recorded = recordMessage;
        rcptIndex = 0;
        rcptAccepted = 0;
        firstFailureCode = 0;
        dataEndNs = 0;

        commands.clear();
        commands.put(run.mailCommand());
        int count = 1;
        boolean body = false;
        if (pipelining)
        {
            for (final byte[] rcpt : run.rcptCommands())
            {
                commands.put(rcpt);
            }
            if (chunking)
            {
                putBdat(run.source().size(seq));
                count += run.source().fill(seq, false, scratch, out, 1);
                body = true;
            }
            else
            {
                commands.put(DATA);
            }
        }
        commands.flip();
        out[0] = commands;
        state = State.MAIL;
        mailSentNs = nowNs;
        rcptSentNs = nowNs;
        send(count, body, nowNs);
    }

    /**
     * Send QUIT (session READY, no message in flight).
     */
    void quit(final long nowNs)
    {
        state = State.QUIT;
        sendCommand(QUIT, nowNs);
    }

    private void read(final long nowNs) throws IOException
    {
        final int n = channel.read(readBuffer);
        if (n < 0)
        {
            if (State.QUIT == state)
            {
                close(nowNs, false);
                run.onSessionClosed(this, false, nowNs);
                return;
            }
            throw new IOException("connection closed by server");
        }
        readBuffer.flip();
        try
        {
            while (null != channel && readBuffer.hasRemaining())
            {
                final int code = parser.parse(readBuffer);
                if (ReplyParser.INCOMPLETE == code)
                {
                    break;
                }
                onReply(code, System.nanoTime());
            }
        }
        finally
        {
            if (null != channel)
            {
                readBuffer.compact();
            }
        }
    }

    private void onReply(final int code, final long nowNs) throws IOException
    {
        run.countReply(code, inMessage ? recorded : run.isRecording(nowNs));
        replyDeadlineNs = nowNs + run.timeoutNs();

        if (421 == code && State.QUIT != state && State.GREETING != state)
        {
            // server is closing the channel: whatever was in flight is refused with 4xx
            if (inMessage)
            {
                finishMessage(code, nowNs);
            }
            closeAndReconnect(nowNs);
            return;
        }

        switch (state)
        {
            case GREETING:
                onGreeting(code, nowNs);
                break;
            case EHLO:
                onEhlo(code, nowNs);
                break;
            case HELO:
                if (2 != code / 100)
                {
                    throw new SmtpProtocolException("HELO refused with " + code);
                }
                ready(nowNs);
                break;
            case MAIL:
                onMail(code, nowNs);
                break;
            case RCPT:
                onRcpt(code, nowNs);
                break;
            case DATA_COMMAND:
                onDataCommand(code, nowNs);
                break;
            case DATA_END:
                onDataEnd(code, nowNs);
                break;
            case RSET:
                afterMessage(nowNs);
                break;
            case QUIT:
                close(nowNs, false);
                run.onSessionClosed(this, false, nowNs);
                break;
            default:
                throw new SmtpProtocolException("unexpected reply " + code + " in state " + state);
        }
    }

    private void onGreeting(final int code, final long nowNs) throws IOException
    {
        if (220 != code)
        {
            throw new IOException("server greeted with " + code + " instead of 220");
        }
        if (run.isRecording(nowNs))
        {
            run.stats().record(Phase.CONNECT, nowNs - connectStartNs);
        }
        run.onGreeted(nowNs);
        parser.captureLines(true);
        state = State.EHLO;
        sendCommand(run.ehloCommand(), nowNs);
    }

    private void onEhlo(final int code, final long nowNs) throws IOException
    {
        parser.captureLines(false);
        if (2 == code / 100)
        {
            final List<String> lines = parser.lines();
            for (int i = 1; i < lines.size(); i++)
            {
                final String keyword = firstWord(lines.get(i));
                if ("PIPELINING".equals(keyword))
                {
                    pipelining = true;
                }
                else if ("CHUNKING".equals(keyword))
                {
                    chunking = true;
                }
            }
            pipelining = run.usePipelining(pipelining);
            chunking = run.useChunking(chunking);
            ready(nowNs);
        }
        else if (5 == code / 100)
        {
            state = State.HELO;
            sendCommand(run.heloCommand(), nowNs);
        }
        else
        {
            throw new SmtpProtocolException("EHLO refused with " + code);
        }
    }

    private void onMail(final int code, final long nowNs)
    {
        if (recorded)
        {
            run.stats().record(Phase.MAIL, nowNs - (run.isOpenLoop() ? messageStartNs : mailSentNs));
        }
        noteFailure(code);
        if (pipelining)
        {
            state = State.RCPT;
        }
        else if (0 != firstFailureCode)
        {
            finishMessage(code, nowNs);
            reset(nowNs);
        }
        else
        {
            state = State.RCPT;
            rcptSentNs = nowNs;
            sendCommand(run.rcptCommands()[0], nowNs);
        }
    }

    private void onRcpt(final int code, final long nowNs)
    {
        if (recorded)
        {
            run.stats().record(Phase.RCPT, nowNs - rcptSentNs);
        }
        if (2 == code / 100)
        {
            rcptAccepted++;
        }
        else
        {
            noteFailure(code);
        }
        rcptIndex++;
        final byte[][] rcpts = run.rcptCommands();
        if (rcptIndex < rcpts.length)
        {
            if (!pipelining)
            {
                rcptSentNs = nowNs;
                sendCommand(rcpts[rcptIndex], nowNs);
            }
            return;
        }

        if (pipelining)
        {
            state = chunking ? State.DATA_END : State.DATA_COMMAND;
        }
        else if (0 == rcptAccepted)
        {
            finishMessage(code, nowNs);
            reset(nowNs);
        }
        else if (chunking)
        {
            state = State.DATA_END;
            commands.clear();
            putBdat(run.source().size(seq));
            commands.flip();
            out[0] = commands;
            send(1 + run.source().fill(seq, false, scratch, out, 1), true, nowNs);
        }
        else
        {
            state = State.DATA_COMMAND;
            sendCommand(DATA, nowNs);
        }
    }

    private void onDataCommand(final int code, final long nowNs) throws SmtpProtocolException
    {
        if (354 == code)
        {
            state = State.DATA_END;
            send(run.source().fill(seq, true, scratch, out, 0), true, nowNs);
        }
        else if (3 == code / 100)
        {
            throw new SmtpProtocolException("DATA answered with " + code + " instead of 354");
        }
        else
        {
            noteFailure(code);
            finishMessage(code, nowNs);
            reset(nowNs);
        }
    }

    private void onDataEnd(final int code, final long nowNs) throws IOException
    {
        if (3 == code / 100)
        {
            throw new SmtpProtocolException("end of data answered with " + code);
        }
        final boolean early = bodyInWrite;
        if (recorded && !early)
        {
            run.stats().record(Phase.DATA, nowNs - dataEndNs);
        }
        finishMessage(code, nowNs);
        if (early)
        {
            // the server answered before it had all the data: the rest can no longer be sent in sync
            closeAndReconnect(nowNs);
        }
        else if (2 == code / 100)
        {
            afterMessage(nowNs);
        }
        else
        {
            reset(nowNs);
        }
    }

    private void noteFailure(final int code)
    {
        if (2 != code / 100 && 0 == firstFailureCode)
        {
            firstFailureCode = code;
        }
    }

    private void finishMessage(final int finalCode, final long nowNs)
    {
        inMessage = false;
        messagesOnConnection++;
        final int outcome = 2 == finalCode / 100 ? finalCode : (0 != firstFailureCode ? firstFailureCode : finalCode);
        run.onMessageDone(outcome, run.source().size(seq), recorded, messageStartNs, nowNs);
    }

    private void reset(final long nowNs)
    {
        state = State.RSET;
        sendCommand(RSET, nowNs);
    }

    private void afterMessage(final long nowNs)
    {
        if (messagesOnConnection >= run.perConnection())
        {
            quit(nowNs);
        }
        else
        {
            ready(nowNs);
        }
    }

    private void ready(final long nowNs)
    {
        state = State.READY;
        replyDeadlineNs = 0;
        run.onSessionReady(this, nowNs);
    }

    private void sendCommand(final byte[] command, final long nowNs)
    {
        final ByteBuffer buffer = commands.clear();
        if (command.length > buffer.capacity())
        {
            out[0] = ByteBuffer.wrap(command);
        }
        else
        {
            buffer.put(command).flip();
            out[0] = buffer;
        }
        send(1, false, nowNs);
    }

    private void putBdat(final int size)
    {
        commands.put(BDAT);
        int n = 0;
        int value = size;
        do
        {
            digits[n++] = (byte)('0' + value % 10);
            value /= 10;
        }
        while (value > 0);
        while (n > 0)
        {
            commands.put(digits[--n]);
        }
        commands.put(LAST);
    }

    private void send(final int count, final boolean body, final long nowNs)
    {
        outOffset = 0;
        outCount = count;
        bodyInWrite = body;
        replyDeadlineNs = nowNs + run.timeoutNs();
        try
        {
            flush(nowNs);
        }
        catch (final IOException | RuntimeException ex)
        {
            fail(LoadRun.ErrorKind.CONNECTION, "write to " + run.target() + " failed: " + ex, nowNs);
        }
    }

    private void flush(final long nowNs) throws IOException
    {
        while (outOffset < outCount)
        {
            final long written = channel.write(out, outOffset, outCount - outOffset);
            run.stats().bytesSent += written;
            while (outOffset < outCount && !out[outOffset].hasRemaining())
            {
                outOffset++;
            }
            if (outOffset < outCount && 0 == written)
            {
                key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
                return;
            }
        }
        key.interestOps(SelectionKey.OP_READ);
        if (bodyInWrite)
        {
            bodyInWrite = false;
            final long now = System.nanoTime();
            dataEndNs = now;
            replyDeadlineNs = now + run.timeoutNs();
        }
    }

    /**
     * Close after an error; a message in flight counts as failed.
     */
    void fail(final LoadRun.ErrorKind kind, final String message, final long nowNs)
    {
        if (State.DISCONNECTED == state)
        {
            return;
        }
        run.onError(kind, message, inMessage ? recorded : run.isRecording(nowNs));
        if (inMessage)
        {
            inMessage = false;
            messagesOnConnection++;
            run.onMessageFailed(run.source().size(seq), recorded, nowNs);
        }
        closeAndReconnect(nowNs);
    }

    private void closeAndReconnect(final long nowNs)
    {
        final boolean progressed = messagesOnConnection > 0;
        close(nowNs, true);
        if (!progressed)
        {
            run.onConnectFailed();
        }
        run.onSessionClosed(this, true, nowNs);
    }

    void close(final long nowNs, final boolean abort)
    {
        state = State.DISCONNECTED;
        replyDeadlineNs = 0;
        bodyInWrite = false;
        outCount = 0;
        outOffset = 0;
        parser.reset();
        parser.captureLines(false);
        if (null != key)
        {
            key.cancel();
            key = null;
        }
        if (null != channel)
        {
            try
            {
                if (abort)
                {
                    channel.setOption(StandardSocketOptions.SO_LINGER, 0);
                }
            }
            catch (final IOException | RuntimeException ignore)
            {
                // best effort: a plain close follows
            }
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // nothing left to do with a channel that will not close
            }
            channel = null;
        }
        readBuffer.clear();
    }

    private static String firstWord(final String line)
    {
        final int space = line.indexOf(' ');
        return (space < 0 ? line : line.substring(0, space)).trim().toUpperCase(Locale.ROOT);
    }
}
