/*
 * SUMMARY
 * The receiver side of one SMTP session (RFC 5321 with PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES,
 * SMTPUTF8, CHUNKING, BINARYMIME and DSN), as a state machine fed bytes by its event loop.
 *
 * DESCRIPTION
 * The session owns no socket. onBytes() parses commands in place from the loop's direct buffer, writes
 * replies into the connection's ReplyBuffer, and streams message data (dot-unstuffed) into a spool file.
 * Pipelined input is handled by consuming commands in order and stopping at any point the next bytes
 * cannot be understood without an answer: a pending policy question, a spool commit, a full reply
 * buffer. What is not consumed stays in the loop's buffer and is fed again later, so input after DATA
 * or BDAT is never read as commands before the 354 or the chunk decides what it is.
 *
 * STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954) are protocol steps here; the encryption is the
 * connection's. After "220 Ready to start TLS" the session takes no more commands: whatever the client
 * pipelined behind STARTTLS is discarded unread (CVE-2011-0411), the connection is told through
 * takeStartTls() to begin the handshake once the 220 is written, and onTlsStarted() then finds a session
 * reset to before EHLO (RFC 3207 4.2). Password checks run on the authenticator's threads; the session
 * parks meanwhile, as for a policy answer.
 *
 * SECURITY
 * Only CR LF . CR LF ends DATA; a bare CR is data; a bare LF is normalised or refused (BareLfMode).
 * A line too long, bad characters, or too many errors end in the replies Postfix gives; after the
 * hard error limit the session is closed with 421.
 *
 * LIMITS
 * Command line 512 octets, text line 1000, recipients and size as configured.
 */
package mailgate.reactor.smtp;

import mailgate.reactor.policy.PolicyAnswerListener;
import mailgate.reactor.policy.PolicyQuery;
import mailgate.reactor.spool.SpoolCommitListener;
import mailgate.reactor.spool.SpoolFile;
import mailgate.reactor.spool.SpoolFormat;
import mailgate.reactor.status.LoopCounters;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The SMTP protocol state machine of one connection.
 */
public final class SmtpSession implements PolicyAnswerListener, SpoolCommitListener
{
    enum State
    {
        CONNECTING, COMMAND, DISCARD_LINE, DATA, BDAT, TLS_HANDSHAKE, AUTH_RESPONSE, CLOSED
    }

    private static final int PENDING_NONE = 0;
    private static final int PENDING_CONNECT = 1;
    private static final int PENDING_MAIL = 2;
    private static final int PENDING_RCPT = 3;
    private static final int PENDING_MESSAGE = 4;
    private static final int PENDING_SPOOL = 5;
    private static final int PENDING_AUTH = 6;

    private static final int AUTH_PLAIN = 1;
    private static final int AUTH_LOGIN_USER = 2;
    private static final int AUTH_LOGIN_PASSWORD = 3;
    private static final long AUTH_TIMEOUT_NS = 30_000_000_000L;

    private static final int D_LINE_START = 0;
    private static final int D_MID = 1;
    private static final int D_CR = 2;
    private static final int D_DOT = 3;
    private static final int D_DOT_CR = 4;

    private static final int MAX_HELO = 255;
    private static final byte[] MAIL_LINE = "mail: <".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RCPT_LINE = "rcpt: <".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CRLF = {'\r', '\n'};
    private static final DateTimeFormatter RFC5322_DATE = DateTimeFormatter.RFC_1123_DATE_TIME;

    private final SessionServices services;
    private final SmtpSettings settings;
    private final LoopCounters counters;
    private final ReplyBuffer out;
    private final SessionHost host;
    private final SpoolFile spoolFile;
    private final PolicyQuery query = new PolicyQuery(this);
    private final SmtpPathParser parser = new SmtpPathParser();
    private final ExpandableArrayBuffer envelope = new ExpandableArrayBuffer(256);
    private final ExpandableArrayBuffer rewriteScratch = new ExpandableArrayBuffer(256);
    private final UnsafeBuffer helo = new UnsafeBuffer(new byte[MAX_HELO]);
    private final int[] commandTotal = new int[SmtpCommand.VALUES.length];
    private final int[] commandOk = new int[SmtpCommand.VALUES.length];
    private final String clientAddress;
    private final int clientPort;

    private State state = State.CONNECTING;
    private boolean closing;
    private boolean draining;
    private long nowNs;
    private long lastActivityNs;
    private long greetAtNs;
    private int errors;

    private int pending = PENDING_NONE;
    private long correlationId;
    private long pendingDeadlineNs;
    private boolean inPolicyCall;
    private boolean resumeNeeded;

    private int heloLength;
    private boolean extended;
    private boolean inTransaction;
    private boolean smtpUtf8;
    private int body;
    private int envelopeLength;
    private int mailLineEnd;
    private int pendingLineStart;
    private int pendingLineEnd;
    private int recipients;
    private int rejectedRecipients;
    private long transactionStartNs;
    private SmtpCommand currentCommand = SmtpCommand.UNKNOWN;

    private boolean startTlsPending;
    private boolean connectAfterHandshake;
    private boolean tlsActive;
    private boolean injectionLogged;
    private long handshakeDeadlineNs;
    private String tlsProtocol;
    private String tlsCipher;
    private int authStep;
    private String authMechanism;
    private String authLoginUser;
    private String authAttemptUser;
    private String authUser;

    private String queueId;
    private int receivedLength;
    private boolean spoolOpen;
    private boolean sizeExceeded;
    private boolean lineTooLong;
    private boolean bareLfInData;
    private long messageBytes;
    private int dataState;
    private boolean properLineStart;
    private int lineLength;
    private int scratchPosition;
    private boolean bdatStarted;
    private boolean bdatLast;
    private long bdatRemaining;
    private long bdatChunkLength;
    private byte[] bdatErrorReply;
    private boolean bareLfCounted;

    /**
     * @param services      what the loop's sessions share.
     * @param out           the connection's reply buffer.
     * @param host          the loop side, told when a parked session resumes.
     * @param clientAddress client IP address as text.
     * @param clientPort    client TCP port.
     */
    public SmtpSession(
        final SessionServices services,
        final ReplyBuffer out,
        final SessionHost host,
        final String clientAddress,
        final int clientPort)
    {
        this(services, services.settings, out, host, clientAddress, clientPort);
    }

    /**
     * @param services      what the loop's sessions share.
     * @param settings      the settings of the listener the client came in on.
     * @param out           the connection's reply buffer.
     * @param host          the loop side, told when a parked session resumes.
     * @param clientAddress client IP address as text.
     * @param clientPort    client TCP port.
     */
    public SmtpSession(
        final SessionServices services,
        final SmtpSettings settings,
        final ReplyBuffer out,
        final SessionHost host,
        final String clientAddress,
        final int clientPort)
    {
        this.services = services;
        this.settings = settings;
        this.counters = services.counters;
        this.out = out;
        this.host = host;
        this.clientAddress = clientAddress;
        this.clientPort = clientPort;
        this.spoolFile = new SpoolFile(
            services.spool, services.spoolCompletions, this, services.completionSignal, services.spoolWriteBuffers);
    }

    /**
     * The connection is open: ask the policy, then greet (after the greet pause, if any).
     *
     * @param nowNs loop clock.
     */
    public void onConnect(final long nowNs)
    {
        this.nowNs = nowNs;
        this.lastActivityNs = nowNs;
        ask(PENDING_CONNECT, PolicyQuery.Kind.CONNECT);
    }

    /**
     * Input arrived before the greeting: refuse the early talker, as postscreen does.
     */
    public void onEarlyInput()
    {
        if (State.CONNECTING == state && !closing)
        {
            counters.earlyTalkers.incrementRelease();
            services.mailLog.log("reject: CONNECT from [" + clientAddress + "]:" + clientPort +
                ": early talker (input before the greeting)");
            put(settings.earlyTalker);
            close();
        }
    }

    /**
     * Feed input.
     *
     * @param in     the loop's buffer.
     * @param offset first unread byte.
     * @param length bytes available.
     * @param nowNs  loop clock.
     * @return bytes consumed; the rest must be fed again once more input came or the session resumed.
     */
    public int onBytes(final UnsafeBuffer in, final int offset, final int length, final long nowNs)
    {
        this.nowNs = nowNs;
        if (State.DATA == state || State.BDAT == state)
        {
            // message data may arrive slowly but steadily (a big message on a slow link): bytes count as activity
            this.lastActivityNs = nowNs;
        }
        final int end = offset + length;
        int position = offset;
        if (State.CONNECTING == state)
        {
            if (length > 0)
            {
                onEarlyInput();
            }
            return length;
        }
        while (position < end && PENDING_NONE == pending && !closing && out.hasRoom())
        {
            switch (state)
            {
                case COMMAND:
                {
                    final int next = onCommandInput(in, position, end);
                    if (next == position)
                    {
                        flushScratch();
                        return position - offset;
                    }
                    position = next;
                    break;
                }
                case DISCARD_LINE:
                {
                    final int lf = indexOfLf(in, position, end);
                    if (lf < 0)
                    {
                        position = end;
                    }
                    else
                    {
                        position = lf + 1;
                        state = State.COMMAND;
                        reply(SmtpReplies.LINE_TOO_LONG);
                    }
                    break;
                }
                case DATA:
                    position = onData(in, position, end);
                    break;
                case BDAT:
                    position = onBdat(in, position, end);
                    break;
                case TLS_HANDSHAKE:
                    // pipelined behind STARTTLS: never executed (CVE-2011-0411)
                    onInputDiscarded(end - position);
                    position = end;
                    break;
                case AUTH_RESPONSE:
                {
                    final int next = onAuthInput(in, position, end);
                    if (next == position)
                    {
                        flushScratch();
                        return position - offset;
                    }
                    position = next;
                    break;
                }
                default:
                    return length;
            }
        }
        flushScratch();
        return position - offset;
    }

    /**
     * Timers: greeting pause, command and data timeouts, policy deadlines.
     *
     * @param nowNs loop clock.
     */
    public void onTimer(final long nowNs)
    {
        this.nowNs = nowNs;
        if (closing)
        {
            return;
        }
        if (State.TLS_HANDSHAKE == state)
        {
            if (nowNs - handshakeDeadlineNs > 0)
            {
                services.tlsCounters.handshakeTimeouts.incrementRelease();
                services.mailLog.log("warning: TLS handshake timeout from [" + clientAddress + "]:" + clientPort);
                close();
                resume();
            }
            return;
        }
        if (PENDING_NONE != pending && PENDING_SPOOL != pending && nowNs - pendingDeadlineNs > 0)
        {
            counters.policyTimeouts.incrementRelease();
            onPolicyTimeout();
            resume();
            return;
        }
        if (State.CONNECTING == state && PENDING_NONE == pending && 0 != greetAtNs && nowNs - greetAtNs >= 0)
        {
            greet();
            resume();
            return;
        }
        if (PENDING_NONE == pending)
        {
            final long limitNs = State.DATA == state || State.BDAT == state ?
                settings.dataTimeoutNs : settings.commandTimeoutNs;
            if (nowNs - lastActivityNs > limitNs)
            {
                counters.timeouts.incrementRelease();
                services.mailLog.log("timeout after " + currentCommand.statName().toUpperCase() + " from [" +
                    clientAddress + "]:" + clientPort);
                put(settings.timeout);
                close();
                resume();
            }
        }
    }

    /**
     * The daemon is stopping: idle sessions get 421 now; one in a transaction may finish it first.
     *
     * @param force true once the grace period is over.
     */
    public void onShutdown(final boolean force)
    {
        draining = true;
        if (closing)
        {
            return;
        }
        if (State.TLS_HANDSHAKE == state)
        {
            // nothing can be said in clear text in the middle of a handshake
            close();
            resume();
            return;
        }
        if (force || (PENDING_NONE == pending && !inTransaction && State.COMMAND == state) ||
            State.CONNECTING == state)
        {
            put(settings.shuttingDown);
            close();
            resume();
        }
    }

    /**
     * The connection is gone: drop a half-received message and log the session's command statistics.
     */
    public void onDisconnect()
    {
        if (State.CLOSED == state)
        {
            return;
        }
        if (spoolOpen && PENDING_SPOOL != pending)
        {
            spoolFile.discard();
            spoolOpen = false;
        }
        state = State.CLOSED;
        closing = true;
        services.mailLog.log(disconnectLine());
    }

    /**
     * @return true when the connection should close once the pending replies are written.
     */
    public boolean isClosing()
    {
        return closing;
    }

    /**
     * @return true while waiting for a policy answer or a spool commit.
     */
    public boolean isParked()
    {
        return PENDING_NONE != pending;
    }

    /**
     * @return true while a finished message is being made durable.
     */
    boolean isWaitingForSpool()
    {
        return PENDING_SPOOL == pending;
    }

    public long lastActivityNs()
    {
        return lastActivityNs;
    }

    // ---------------------------------------------------------------------------------------------- TLS

    /**
     * The connection is implicit TLS (RFC 8314): the greeting waits for the handshake.
     *
     * @param nowNs loop clock.
     */
    public void onTlsConnect(final long nowNs)
    {
        this.nowNs = nowNs;
        this.lastActivityNs = nowNs;
        state = State.TLS_HANDSHAKE;
        connectAfterHandshake = true;
        handshakeDeadlineNs = nowNs + settings.handshakeTimeoutNs;
    }

    /**
     * @return true once after STARTTLS was answered with 220: the connection starts the handshake as soon as
     * the reply is written, and discards any input it still holds.
     */
    public boolean takeStartTls()
    {
        final boolean start = startTlsPending;
        startTlsPending = false;
        return start;
    }

    /**
     * Input that arrived between STARTTLS and the handshake was thrown away.
     *
     * @param bytes how many.
     */
    public void onInputDiscarded(final int bytes)
    {
        if (bytes > 0 && !injectionLogged)
        {
            injectionLogged = true;
            services.tlsCounters.starttlsInjections.incrementRelease();
            services.mailLog.log("warning: [" + clientAddress + "]:" + clientPort + ": discarded " + bytes +
                " octet(s) pipelined after STARTTLS (possible command injection, CVE-2011-0411)");
        }
    }

    /**
     * The handshake finished: the session is encrypted from here on.
     *
     * @param protocol e.g. TLSv1.3.
     * @param cipher   the cipher suite.
     * @param nowNs    loop clock.
     */
    public void onTlsStarted(final String protocol, final String cipher, final long nowNs)
    {
        this.nowNs = nowNs;
        this.lastActivityNs = nowNs;
        tlsActive = true;
        tlsProtocol = protocol;
        tlsCipher = cipher;
        services.tlsCounters.handshakes.incrementRelease();
        services.mailLog.log("TLS connection established from [" + clientAddress + "]:" + clientPort + ": " +
            protocol + " with cipher " + cipher);
        if (connectAfterHandshake)
        {
            connectAfterHandshake = false;
            state = State.CONNECTING;
            onConnect(nowNs);
            return;
        }
        state = State.COMMAND;
    }

    /**
     * The handshake failed; the connection closes.
     *
     * @param reason what JSSE said.
     */
    public void onTlsFailed(final String reason)
    {
        services.tlsCounters.handshakeFailures.incrementRelease();
        services.mailLog.log("warning: TLS handshake failed from [" + clientAddress + "]:" + clientPort + ": " +
            printable(reason, 200));
        close();
    }

    /**
     * @return true once TLS is active.
     */
    public boolean isTlsActive()
    {
        return tlsActive;
    }

    /**
     * @return the authenticated user, or null.
     */
    public String authenticatedUser()
    {
        return authUser;
    }

    private void onStartTls(final boolean hasArg)
    {
        if (tlsActive)
        {
            reply(SmtpReplies.TLS_ALREADY_ACTIVE);
            return;
        }
        if (!settings.startTls)
        {
            reply(SmtpReplies.NOT_IMPLEMENTED);
            return;
        }
        if (hasArg)
        {
            reply(SmtpReplies.STARTTLS_SYNTAX);
            return;
        }
        reply(SmtpReplies.READY_TO_START_TLS);
        // RFC 3207 4.2: forget everything learnt in clear text
        resetTransaction();
        heloLength = 0;
        extended = false;
        authUser = null;
        state = State.TLS_HANDSHAKE;
        startTlsPending = true;
        handshakeDeadlineNs = nowNs + settings.handshakeTimeoutNs;
    }

    // ---------------------------------------------------------------------------------------------- AUTH

    private void onAuth(final UnsafeBuffer in, final int argStart, final int argEnd)
    {
        if (!settings.auth || null == services.authenticator)
        {
            reply(SmtpReplies.NOT_IMPLEMENTED);
            return;
        }
        if (!tlsActive && !settings.authWithoutTls)
        {
            reply(SmtpReplies.AUTH_NEEDS_TLS);
            return;
        }
        if (!extended)
        {
            reply(SmtpReplies.AUTH_NEED_EHLO);
            return;
        }
        if (null != authUser)
        {
            reply(SmtpReplies.AUTH_ALREADY);
            return;
        }
        if (inTransaction)
        {
            reply(SmtpReplies.AUTH_IN_TRANSACTION);
            return;
        }
        int mechanismEnd = argStart;
        while (mechanismEnd < argEnd && ' ' != in.getByte(mechanismEnd))
        {
            mechanismEnd++;
        }
        if (mechanismEnd == argStart)
        {
            reply(SmtpReplies.AUTH_SYNTAX);
            return;
        }
        int responseStart = mechanismEnd;
        while (responseStart < argEnd && ' ' == in.getByte(responseStart))
        {
            responseStart++;
        }
        final boolean hasInitial = responseStart < argEnd;
        if (0 == Ascii.indexOfIgnoreCase(PLAIN, in, argStart, mechanismEnd) && 5 == mechanismEnd - argStart)
        {
            authMechanism = "PLAIN";
            if (hasInitial)
            {
                onAuthResponse(AUTH_PLAIN, in, responseStart, argEnd);
            }
            else
            {
                awaitAuthResponse(AUTH_PLAIN, SmtpReplies.AUTH_PLAIN_CHALLENGE);
            }
        }
        else if (0 == Ascii.indexOfIgnoreCase(LOGIN, in, argStart, mechanismEnd) && 5 == mechanismEnd - argStart)
        {
            authMechanism = "LOGIN";
            if (hasInitial)
            {
                onAuthResponse(AUTH_LOGIN_USER, in, responseStart, argEnd);
            }
            else
            {
                awaitAuthResponse(AUTH_LOGIN_USER, SmtpReplies.AUTH_LOGIN_USERNAME);
            }
        }
        else
        {
            reply(SmtpReplies.AUTH_UNKNOWN_MECHANISM);
        }
    }

    private void awaitAuthResponse(final int step, final byte[] challenge)
    {
        authStep = step;
        state = State.AUTH_RESPONSE;
        reply(challenge);
    }

    private int onAuthInput(final UnsafeBuffer in, final int position, final int end)
    {
        final int searchEnd = Math.min(end, position + SmtpSettings.MAX_COMMAND_LINE);
        final int lf = indexOfLf(in, position, searchEnd);
        if (lf < 0)
        {
            if (searchEnd - position >= SmtpSettings.MAX_COMMAND_LINE)
            {
                endAuthExchange();
                state = State.DISCARD_LINE;
                return searchEnd;
            }
            return position;
        }
        final int lineEnd = lf > position && '\r' == in.getByte(lf - 1) ? lf - 1 : lf;
        state = State.COMMAND;
        if (1 == lineEnd - position && '*' == in.getByte(position))
        {
            endAuthExchange();
            reply(SmtpReplies.AUTH_ABORTED);
        }
        else
        {
            onAuthResponse(authStep, in, position, lineEnd);
        }
        return lf + 1;
    }

    private void onAuthResponse(final int step, final UnsafeBuffer in, final int start, final int end)
    {
        final byte[] decoded;
        if (1 == end - start && '=' == in.getByte(start))
        {
            decoded = new byte[0];
        }
        else
        {
            final byte[] text = new byte[end - start];
            in.getBytes(start, text);
            try
            {
                decoded = java.util.Base64.getDecoder().decode(text);
            }
            catch (final IllegalArgumentException ex)
            {
                endAuthExchange();
                reply(SmtpReplies.AUTH_BAD_RESPONSE);
                return;
            }
        }
        switch (step)
        {
            case AUTH_PLAIN:
            {
                // RFC 4616: [authzid] NUL authcid NUL passwd
                int first = -1;
                int second = -1;
                for (int i = 0; i < decoded.length; i++)
                {
                    if (0 == decoded[i])
                    {
                        if (first < 0)
                        {
                            first = i;
                        }
                        else if (second < 0)
                        {
                            second = i;
                        }
                        else
                        {
                            second = -1;
                            break;
                        }
                    }
                }
                if (first < 0 || second < 0)
                {
                    endAuthExchange();
                    reply(SmtpReplies.AUTH_BAD_RESPONSE);
                    break;
                }
                final String authzid = new String(decoded, 0, first, StandardCharsets.UTF_8);
                final String user = new String(decoded, first + 1, second - first - 1, StandardCharsets.UTF_8);
                final char[] password = utf8Chars(decoded, second + 1, decoded.length - second - 1);
                java.util.Arrays.fill(decoded, (byte)0);
                if (!authzid.isEmpty() && !authzid.equals(user))
                {
                    // no proxy authorization: fail as a wrong password would
                    java.util.Arrays.fill(password, '\0');
                    authAttemptUser = user;
                    onAuthFailed();
                    break;
                }
                checkPassword(user, password);
                break;
            }
            case AUTH_LOGIN_USER:
                authLoginUser = new String(decoded, StandardCharsets.UTF_8);
                awaitAuthResponse(AUTH_LOGIN_PASSWORD, SmtpReplies.AUTH_LOGIN_PASSWORD);
                break;
            default:
            {
                final char[] password = utf8Chars(decoded, 0, decoded.length);
                java.util.Arrays.fill(decoded, (byte)0);
                final String user = authLoginUser;
                authLoginUser = null;
                checkPassword(user, password);
                break;
            }
        }
    }

    private void checkPassword(final String user, final char[] password)
    {
        authStep = 0;
        state = State.COMMAND;
        authAttemptUser = user;
        pending = PENDING_AUTH;
        pendingDeadlineNs = nowNs + Math.max(AUTH_TIMEOUT_NS, settings.policyTimeoutNs);
        final long id = ++correlationId;
        final SessionServices services = this.services;
        services.authenticator.verify(user, password, (verified) -> services.post(() -> onAuthChecked(id, verified)));
    }

    /**
     * A password check came back (on the loop thread).
     */
    private void onAuthChecked(final long id, final String verified)
    {
        if (State.CLOSED == state || PENDING_AUTH != pending || id != correlationId)
        {
            return;
        }
        pending = PENDING_NONE;
        final String who = "[" + clientAddress + "]:" + clientPort;
        if (Authenticator.BUSY.equals(verified))
        {
            services.mailLog.log("warning: " + who + ": SASL " + authMechanism + " not checked: authenticator busy");
            reply(SmtpReplies.AUTH_TEMPFAIL);
        }
        else if (null != verified)
        {
            authUser = verified;
            services.tlsCounters.authSuccesses.incrementRelease();
            services.mailLog.log(who + ": sasl_method=" + authMechanism + ", sasl_username=" + verified);
            reply(SmtpReplies.AUTH_OK);
        }
        else
        {
            onAuthFailed();
        }
        authAttemptUser = null;
        resume();
    }

    private void onAuthFailed()
    {
        services.tlsCounters.authFailures.incrementRelease();
        services.mailLog.log("warning: [" + clientAddress + "]:" + clientPort + ": SASL " + authMechanism +
            " authentication failed for user " + printable(null == authAttemptUser ? "" : authAttemptUser, 64));
        final byte[] limited = services.policy.onAuthFailure(
            clientAddress, null == authAttemptUser ? "" : authAttemptUser, System.currentTimeMillis());
        if (null != limited)
        {
            reply(limited);
            close();
            return;
        }
        reply(SmtpReplies.AUTH_FAILED);
    }

    private void endAuthExchange()
    {
        authStep = 0;
        authLoginUser = null;
        state = State.COMMAND;
    }

    private static char[] utf8Chars(final byte[] bytes, final int offset, final int length)
    {
        final java.nio.CharBuffer chars = StandardCharsets.UTF_8.decode(ByteBuffer.wrap(bytes, offset, length));
        final char[] result = new char[chars.remaining()];
        chars.get(result);
        java.util.Arrays.fill(chars.array(), '\0');
        return result;
    }

    private static String printable(final String text, final int max)
    {
        final StringBuilder sb = new StringBuilder(Math.min(text.length(), max));
        for (int i = 0; i < text.length() && i < max; i++)
        {
            final char c = text.charAt(i);
            sb.append(c < ' ' || 127 == c ? '?' : c);
        }
        return sb.toString();
    }

    private static final String[] PLAIN = {"PLAIN"};
    private static final String[] LOGIN = {"LOGIN"};

    // ---------------------------------------------------------------------------------------------- commands

    private int onCommandInput(final UnsafeBuffer in, final int position, final int end)
    {
        final int searchEnd = Math.min(end, position + SmtpSettings.MAX_COMMAND_LINE);
        final int lf = indexOfLf(in, position, searchEnd);
        if (lf < 0)
        {
            if (searchEnd - position >= SmtpSettings.MAX_COMMAND_LINE)
            {
                // too long already: skip to its end, then answer once
                state = State.DISCARD_LINE;
                return searchEnd;
            }
            return position;
        }
        if (lf + 1 - position > SmtpSettings.MAX_COMMAND_LINE)
        {
            reply(SmtpReplies.LINE_TOO_LONG);
            return lf + 1;
        }
        final boolean hasCr = lf > position && '\r' == in.getByte(lf - 1);
        final int lineEnd = hasCr ? lf - 1 : lf;
        if (draining && !inTransaction)
        {
            put(settings.shuttingDown);
            close();
            return lf + 1;
        }
        if (!hasCr)
        {
            countBareLf();
            if (BareLfMode.REJECT == settings.bareLfMode)
            {
                reply(SmtpReplies.BARE_LF_COMMAND);
                return lf + 1;
            }
        }
        for (int i = position; i < lineEnd; i++)
        {
            final byte b = in.getByte(i);
            if ((b >= 0 && b < ' ' && '\t' != b) || 127 == b)
            {
                reply(SmtpReplies.BAD_CHARACTER);
                return lf + 1;
            }
        }
        onCommand(in, position, lineEnd, hasCr);
        return lf + 1;
    }

    private void onCommand(final UnsafeBuffer in, final int start, final int end, final boolean hasCr)
    {
        // the command timeout runs from one complete command to the next, so a client trickling a line byte by
        // byte (slowloris) is cut off like an idle one
        lastActivityNs = nowNs;
        counters.commands.incrementRelease();
        final SmtpCommand command = SmtpCommand.parse(in, start, end);
        currentCommand = command;
        commandTotal[command.ordinal()]++;
        int argStart = start + (SmtpCommand.STARTTLS == command ? 8 : 4);
        while (argStart < end && ' ' == in.getByte(argStart))
        {
            argStart++;
        }
        int argEnd = end;
        while (argEnd > argStart && (' ' == in.getByte(argEnd - 1) || '\t' == in.getByte(argEnd - 1)))
        {
            argEnd--;
        }
        final boolean hasArg = argEnd > argStart;
        switch (command)
        {
            case EHLO:
            case HELO:
                onHelo(in, argStart, argEnd, SmtpCommand.EHLO == command);
                break;
            case MAIL:
                onMail(in, argStart, end);
                break;
            case RCPT:
                onRcpt(in, argStart, end);
                break;
            case DATA:
                onDataCommand(hasArg, hasCr);
                break;
            case BDAT:
                onBdatCommand(in, argStart, argEnd);
                break;
            case RSET:
                if (hasArg)
                {
                    reply(SmtpReplies.NOARG_SYNTAX);
                }
                else
                {
                    resetTransaction();
                    reply(SmtpReplies.OK);
                }
                break;
            case NOOP:
                reply(SmtpReplies.OK);
                break;
            case QUIT:
                reply(SmtpReplies.BYE);
                close();
                break;
            case VRFY:
                reply(hasArg ? SmtpReplies.VRFY : SmtpReplies.VRFY_SYNTAX);
                break;
            case HELP:
                reply(SmtpReplies.HELP);
                break;
            case STARTTLS:
                onStartTls(hasArg);
                break;
            case AUTH:
                onAuth(in, argStart, argEnd);
                break;
            case EXPN:
            case ETRN:
            case TURN:
                reply(SmtpReplies.NOT_IMPLEMENTED);
                break;
            default:
                reply(SmtpReplies.UNKNOWN_COMMAND);
                break;
        }
    }

    private void onHelo(final UnsafeBuffer in, final int argStart, final int argEnd, final boolean isEhlo)
    {
        final int length = argEnd - argStart;
        if (0 == length || length > MAX_HELO)
        {
            reply(isEhlo ? SmtpReplies.EHLO_SYNTAX : SmtpReplies.HELO_SYNTAX);
            return;
        }
        resetTransaction();
        helo.putBytes(0, in, argStart, length);
        heloLength = length;
        extended = isEhlo;
        reply(isEhlo ? settings.ehlo(tlsActive) : settings.helo);
    }

    private void onMail(final UnsafeBuffer in, final int argStart, final int end)
    {
        if (0 == heloLength)
        {
            reply(SmtpReplies.NEED_HELO);
            return;
        }
        if (inTransaction)
        {
            reply(SmtpReplies.NESTED_MAIL);
            return;
        }
        if (settings.requireTls && !tlsActive)
        {
            reply(SmtpReplies.TLS_REQUIRED);
            return;
        }
        if (settings.requireAuth && null == authUser)
        {
            reply(SmtpReplies.AUTH_REQUIRED);
            return;
        }
        final byte[] error = parser.parseMail(in, argStart, end);
        if (null != error)
        {
            reply(error);
            return;
        }
        if (parser.nonAscii() && !parser.smtpUtf8())
        {
            reply(SmtpReplies.NON_ASCII_ADDRESS);
            return;
        }
        if (parser.size() > settings.maxMessageSize)
        {
            reply(SmtpReplies.SIZE_AT_MAIL);
            return;
        }
        smtpUtf8 = parser.smtpUtf8();
        body = parser.body();
        transactionStartNs = nowNs;
        envelopeLength = 0;
        stagePathLine(MAIL_LINE, in);
        ask(PENDING_MAIL, PolicyQuery.Kind.MAIL_FROM);
    }

    private void onRcpt(final UnsafeBuffer in, final int argStart, final int end)
    {
        if (!inTransaction)
        {
            reply(SmtpReplies.NEED_MAIL);
            return;
        }
        if (bdatStarted)
        {
            reply(SmtpReplies.DATA_AFTER_BDAT);
            return;
        }
        final byte[] error = parser.parseRcpt(in, argStart, end);
        if (null != error)
        {
            reply(error);
            return;
        }
        if (parser.nonAscii() && !smtpUtf8)
        {
            reply(SmtpReplies.NON_ASCII_ADDRESS);
            return;
        }
        if (recipients >= settings.maxRecipients)
        {
            reply(SmtpReplies.TOO_MANY_RECIPIENTS);
            return;
        }
        stagePathLine(RCPT_LINE, in);
        ask(PENDING_RCPT, PolicyQuery.Kind.RCPT_TO);
    }

    private boolean checkDataAllowed()
    {
        if (!inTransaction)
        {
            reply(SmtpReplies.NEED_MAIL);
            return false;
        }
        if (0 == recipients)
        {
            reply(rejectedRecipients > 0 ? SmtpReplies.NO_VALID_RECIPIENTS : SmtpReplies.NEED_RCPT);
            return false;
        }
        return true;
    }

    private void onDataCommand(final boolean hasArg, final boolean hasCr)
    {
        if (hasArg)
        {
            reply(SmtpReplies.DATA_SYNTAX);
            return;
        }
        if (!checkDataAllowed())
        {
            return;
        }
        if (SmtpPathParser.BODY_BINARYMIME == body)
        {
            reply(SmtpReplies.BINARYMIME_NEEDS_BDAT);
            return;
        }
        if (bdatStarted)
        {
            reply(SmtpReplies.DATA_AFTER_BDAT);
            return;
        }
        final byte[] error = openSpoolFile();
        if (null != error)
        {
            reply(error);
            return;
        }
        reply(SmtpReplies.START_DATA);
        state = State.DATA;
        dataState = D_LINE_START;
        properLineStart = hasCr;
        lineLength = 0;
    }

    private void onBdatCommand(final UnsafeBuffer in, final int argStart, final int argEnd)
    {
        int i = argStart;
        long chunk = 0;
        while (i < argEnd && in.getByte(i) >= '0' && in.getByte(i) <= '9' && i - argStart < 18)
        {
            chunk = chunk * 10 + (in.getByte(i) - '0');
            i++;
        }
        final boolean sizeOk = i > argStart && (i == argEnd || ' ' == in.getByte(i));
        while (i < argEnd && ' ' == in.getByte(i))
        {
            i++;
        }
        final boolean last = i < argEnd && 0 == Ascii.indexOfIgnoreCase(LAST, in, i, argEnd);
        if (!sizeOk || (i < argEnd && !last))
        {
            // without a size the chunk cannot be skipped: its bytes must never be read as commands
            reply(SmtpReplies.BDAT_SYNTAX);
            close();
            return;
        }
        bdatErrorReply = null;
        if (!inTransaction || 0 == recipients)
        {
            bdatErrorReply = !inTransaction ? SmtpReplies.NEED_MAIL :
                rejectedRecipients > 0 ? SmtpReplies.NO_VALID_RECIPIENTS : SmtpReplies.NEED_RCPT;
        }
        else if (!bdatStarted)
        {
            bdatErrorReply = openSpoolFile();
            bdatStarted = null == bdatErrorReply;
        }
        bdatRemaining = chunk;
        bdatChunkLength = chunk;
        bdatLast = last;
        state = State.BDAT;
        if (0 == chunk)
        {
            onBdatChunkEnd();
        }
    }

    private static final String[] LAST = {"LAST"};

    // ---------------------------------------------------------------------------------------------- data

    private int onData(final UnsafeBuffer in, final int start, final int end)
    {
        int position = start;
        while (position < end)
        {
            switch (dataState)
            {
                case D_MID:
                {
                    // ordinary lines (CR LF, the next one not starting with a dot) go out verbatim: one emit for
                    // the run instead of a state change per byte of each line end (case c: ~1,300 lines a message)
                    final int runStart = position;
                    int i = Ascii.indexOfLineEnd(in, position, end);
                    while (i + 2 < end &&
                        '\r' == in.getByte(i) && '\n' == in.getByte(i + 1) && '.' != in.getByte(i + 2))
                    {
                        if (lineLength + (i - position) > SmtpSettings.MAX_TEXT_LINE - 2)
                        {
                            lineTooLong = true;
                        }
                        lineLength = 0;
                        properLineStart = true;
                        position = i + 2;
                        i = Ascii.indexOfLineEnd(in, position, end);
                    }
                    emit(in, runStart, i - runStart);
                    lineLength += i - position;
                    position = i;
                    if (position < end)
                    {
                        if ('\r' == in.getByte(position))
                        {
                            dataState = D_CR;
                        }
                        else
                        {
                            onBareLf();
                        }
                        position++;
                    }
                    break;
                }
                case D_LINE_START:
                {
                    if ('.' == in.getByte(position))
                    {
                        position++;
                        // RFC 5321 4.5.3.1.6: the dot doubled for transparency does not count
                        lineLength = 0;
                        dataState = D_DOT;
                    }
                    else
                    {
                        dataState = D_MID;
                    }
                    break;
                }
                case D_DOT:
                {
                    if ('\r' == in.getByte(position))
                    {
                        position++;
                        dataState = D_DOT_CR;
                    }
                    else
                    {
                        dataState = D_MID;
                    }
                    break;
                }
                case D_DOT_CR:
                {
                    if ('\n' == in.getByte(position))
                    {
                        position++;
                        if (properLineStart)
                        {
                            onEndOfMessage();
                            return position;
                        }
                        // "." after a bare LF: not an end of data (it would smuggle); keep it as an empty line
                        endLine(true);
                    }
                    else
                    {
                        emit((byte)'\r');
                        lineLength++;
                        dataState = D_MID;
                    }
                    break;
                }
                default:
                {
                    if ('\n' == in.getByte(position))
                    {
                        position++;
                        endLine(true);
                    }
                    else
                    {
                        // a bare CR is data, never a line end
                        emit((byte)'\r');
                        lineLength++;
                        dataState = D_MID;
                    }
                    break;
                }
            }
        }
        return position;
    }

    private void onBareLf()
    {
        countBareLf();
        if (BareLfMode.REJECT == settings.bareLfMode)
        {
            bareLfInData = true;
        }
        endLine(false);
    }

    private void endLine(final boolean proper)
    {
        emit(CRLF, 2);
        if (lineLength > SmtpSettings.MAX_TEXT_LINE - 2)
        {
            lineTooLong = true;
        }
        lineLength = 0;
        properLineStart = proper;
        dataState = D_LINE_START;
    }

    private int onBdat(final UnsafeBuffer in, final int start, final int end)
    {
        final int length = (int)Math.min(bdatRemaining, end - start);
        if (null == bdatErrorReply)
        {
            emit(in, start, length);
        }
        bdatRemaining -= length;
        if (0 == bdatRemaining)
        {
            onBdatChunkEnd();
        }
        return start + length;
    }

    private void onBdatChunkEnd()
    {
        state = State.COMMAND;
        if (null != bdatErrorReply)
        {
            final byte[] error = bdatErrorReply;
            bdatErrorReply = null;
            reply(error);
            if (bdatStarted)
            {
                resetTransaction();
            }
            return;
        }
        if (sizeExceeded)
        {
            flushScratch();
            refuseMessage(SmtpReplies.SIZE_IN_DATA, null);
            return;
        }
        if (bdatLast)
        {
            onEndOfMessage();
            return;
        }
        counters.onReply((byte)'2');
        commandOk[SmtpCommand.BDAT.ordinal()]++;
        out.putAscii("250 2.0.0 ");
        out.putNatural(bdatChunkLength);
        out.putAscii(" octets received\r\n");
    }

    private void emit(final byte b)
    {
        if (sizeExceeded || !spoolOpen)
        {
            return;
        }
        if (++messageBytes > settings.maxMessageSize)
        {
            sizeExceeded = true;
            return;
        }
        if (scratchPosition == SessionServices.SCRATCH_LENGTH)
        {
            flushScratch();
        }
        services.scratchView.putByte(scratchPosition++, b);
    }

    private void emit(final byte[] bytes, final int length)
    {
        for (int i = 0; i < length; i++)
        {
            emit(bytes[i]);
        }
    }

    private void emit(final DirectBuffer in, final int offset, final int length)
    {
        if (sizeExceeded || !spoolOpen || 0 == length)
        {
            return;
        }
        messageBytes += length;
        if (messageBytes > settings.maxMessageSize)
        {
            sizeExceeded = true;
            return;
        }
        int remaining = length;
        int from = offset;
        while (remaining > 0)
        {
            if (scratchPosition == SessionServices.SCRATCH_LENGTH)
            {
                flushScratch();
            }
            final int chunk = Math.min(remaining, SessionServices.SCRATCH_LENGTH - scratchPosition);
            services.scratchView.putBytes(scratchPosition, in, from, chunk);
            scratchPosition += chunk;
            from += chunk;
            remaining -= chunk;
        }
    }

    private void flushScratch()
    {
        if (0 == scratchPosition)
        {
            return;
        }
        final ByteBuffer scratch = services.scratch;
        scratch.limit(scratchPosition).position(0);
        if (spoolOpen)
        {
            spoolFile.append(scratch);
            counters.spoolBytes.getAndAddRelease(scratchPosition);
        }
        scratch.clear();
        scratchPosition = 0;
    }

    /**
     * @return null when the tmp file is open, else the reply (the transaction is reset).
     */
    private byte[] openSpoolFile()
    {
        queueId = services.nextQueueId();
        final SpoolFormat format = services.spoolFormat.begin()
            .field("id", queueId)
            .field("arrival", System.currentTimeMillis())
            .field("client-address", clientAddress)
            .field("client-port", clientPort)
            .field("helo", helo, 0, heloLength)
            .field("protocol", protocol());
        if (null != authUser)
        {
            final byte[] user = authUser.getBytes(StandardCharsets.UTF_8);
            format.field("auth", new UnsafeBuffer(user), 0, user.length);
        }
        if (tlsActive)
        {
            format.field("tls", tlsProtocol + " " + tlsCipher);
        }
        format.lines(envelope, 0, envelopeLength);
        final int length = format.end();
        final ByteBuffer bytes = services.envelopeBuffer.byteBuffer();
        bytes.limit(length).position(0);
        if (!spoolFile.open(queueId, bytes, format.sizeFieldOffset(), format.crcFieldOffset()))
        {
            services.mailLog.log(queueId + ": cannot create spool file: " + spoolFile.failure());
            resetTransaction();
            return spoolFile.isDiskFull() ? SmtpReplies.DISK_FULL : SmtpReplies.SPOOL_WRITE_ERROR;
        }
        spoolOpen = true;
        messageBytes = 0;
        sizeExceeded = false;
        lineTooLong = false;
        bareLfInData = false;
        final byte[] received = receivedHeader().getBytes(StandardCharsets.UTF_8);
        final UnsafeBuffer view = services.scratchView;
        view.putBytes(scratchPosition, received);
        scratchPosition += received.length;
        receivedLength = received.length;
        return null;
    }

    private String receivedHeader()
    {
        final StringBuilder sb = new StringBuilder(256);
        sb.append("Received: from ").append(helo.getStringWithoutLengthUtf8(0, heloLength))
            .append(" ([").append(clientAddress.indexOf(':') >= 0 ? "IPv6:" : "").append(clientAddress)
            .append("])\r\n\t");
        if (tlsActive)
        {
            sb.append("(using ").append(tlsProtocol).append(" with cipher ").append(tlsCipher).append(")\r\n\t");
        }
        if (null != authUser)
        {
            sb.append("(Authenticated sender: ").append(authUser).append(")\r\n\t");
        }
        sb.append("by ").append(settings.hostname).append(" (mailgate) with ").append(protocol())
            .append(" id ").append(queueId);
        if (1 == recipients)
        {
            final int start = mailLineEnd + RCPT_LINE.length;
            int end = start;
            while ('>' != envelope.getByte(end) || isInsideQuotes(start, end))
            {
                end++;
            }
            sb.append("\r\n\tfor <").append(envelope.getStringWithoutLengthUtf8(start, end - start)).append('>');
        }
        sb.append(";\r\n\t").append(RFC5322_DATE.format(ZonedDateTime.now(ZoneId.systemDefault()))).append("\r\n");
        return sb.toString();
    }

    private boolean isInsideQuotes(final int start, final int end)
    {
        boolean quoted = false;
        for (int i = start; i < end; i++)
        {
            final byte b = envelope.getByte(i);
            if ('\\' == b && quoted)
            {
                i++;
            }
            else if ('"' == b)
            {
                quoted = !quoted;
            }
        }
        return quoted;
    }

    private String protocol()
    {
        // RFC 3848 and RFC 6531: S for TLS, A for AUTH
        final String base = smtpUtf8 && inTransaction ? "UTF8SMTP" : extended ? "ESMTP" : "SMTP";
        if (!extended)
        {
            return base;
        }
        if (tlsActive)
        {
            return null != authUser ? base + "SA" : base + "S";
        }
        return null != authUser ? base + "A" : base;
    }

    private void onEndOfMessage()
    {
        state = State.COMMAND;
        flushScratch();
        final boolean written = spoolFile.finish();
        final byte[] refusal = sizeExceeded ? SmtpReplies.SIZE_IN_DATA :
            bareLfInData ? SmtpReplies.BARE_LF_DATA :
            lineTooLong ? SmtpReplies.TEXT_LINE_TOO_LONG :
            !written ? (spoolFile.isDiskFull() ? SmtpReplies.DISK_FULL : SmtpReplies.SPOOL_WRITE_ERROR) : null;
        if (null != refusal)
        {
            refuseMessage(refusal, !written ? "spool write error: " + spoolFile.failure() : null);
            return;
        }
        query.message(queueId, spoolFile.messageSize());
        ask(PENDING_MESSAGE, PolicyQuery.Kind.MESSAGE);
    }

    private void refuseMessage(final byte[] reply, final String why)
    {
        counters.messagesRefused.incrementRelease();
        final String line = new String(reply, 0, reply.length - 2, StandardCharsets.US_ASCII);
        services.mailLog.log(transactionLine(line + (null == why ? "" : " (" + why + ")")));
        spoolFile.discard();
        spoolOpen = false;
        reply(reply);
        resetTransaction();
    }

    // ---------------------------------------------------------------------------------------------- answers

    private void ask(final int kind, final PolicyQuery.Kind queryKind)
    {
        pending = kind;
        pendingDeadlineNs = nowNs + settings.policyTimeoutNs;
        final long id = ++correlationId;
        query.reset(queryKind, id, clientAddress);
        if (PolicyQuery.Kind.MAIL_FROM == queryKind || PolicyQuery.Kind.RCPT_TO == queryKind)
        {
            query.address(envelope, pendingLineStart + MAIL_LINE.length, parser.addressLength());
            if (PolicyQuery.Kind.RCPT_TO == queryKind)
            {
                query.sender(envelope, MAIL_LINE.length, senderLength());
            }
        }
        else if (PolicyQuery.Kind.MESSAGE == queryKind)
        {
            query.message(queueId, spoolFile.messageSize()).messageDetails(spoolFile.checksum(), recipients);
            // the sender, for the filter's envelope summary ("mail: <" starts the envelope)
            query.address(envelope, MAIL_LINE.length, senderLength());
            query.sender(envelope, MAIL_LINE.length, senderLength());
        }
        counters.policyQueries.incrementRelease();
        inPolicyCall = true;
        try
        {
            switch (queryKind)
            {
                case CONNECT:
                    services.policy.onConnect(query);
                    break;
                case MAIL_FROM:
                    services.policy.onMailFrom(query);
                    break;
                case RCPT_TO:
                    services.policy.onRcptTo(query);
                    break;
                default:
                    services.policy.onMessage(query);
                    break;
            }
        }
        finally
        {
            inPolicyCall = false;
        }
    }

    public void onPolicyAnswer(final long correlationId, final byte[] rejectReply)
    {
        if (correlationId != this.correlationId || PENDING_NONE == pending || PENDING_SPOOL == pending ||
            PENDING_AUTH == pending || State.CLOSED == state)
        {
            return;
        }
        final int kind = pending;
        pending = PENDING_NONE;
        switch (kind)
        {
            case PENDING_CONNECT:
                if (null != rejectReply)
                {
                    put(rejectReply);
                    close();
                }
                else if (settings.greetPauseNs > 0)
                {
                    greetAtNs = nowNs + settings.greetPauseNs;
                    if (0 == greetAtNs)
                    {
                        greetAtNs = 1;
                    }
                }
                else
                {
                    greet();
                }
                break;
            case PENDING_MAIL:
                if (null != rejectReply)
                {
                    reply(rejectReply);
                }
                else
                {
                    envelopeLength = pendingLineEnd;
                    mailLineEnd = pendingLineEnd;
                    inTransaction = true;
                    recipients = 0;
                    rejectedRecipients = 0;
                    reply(SmtpReplies.MAIL_OK);
                }
                break;
            case PENDING_RCPT:
                if (null != rejectReply)
                {
                    rejectedRecipients++;
                    if ('5' == rejectReply[0])
                    {
                        services.policy.onRejectedRecipient(clientAddress, System.currentTimeMillis());
                    }
                    reply(rejectReply);
                }
                else
                {
                    envelopeLength = pendingLineEnd;
                    recipients++;
                    reply(SmtpReplies.RCPT_OK);
                }
                break;
            default:
                if (null != rejectReply)
                {
                    refuseMessage(rejectReply, "policy");
                }
                else
                {
                    pending = PENDING_SPOOL;
                    spoolFile.commit(nowNs);
                }
                break;
        }
        resume();
    }

    public void onMessageVerdict(
        final long correlationId,
        final mailgate.reactor.policy.MessageAction action,
        final DirectBuffer headers,
        final int offset,
        final int length)
    {
        if (correlationId != this.correlationId || PENDING_MESSAGE != pending || State.CLOSED == state)
        {
            return;
        }
        switch (action)
        {
            case ADD_HEADERS:
                if (!spoolFile.insertHeaders(headers, offset, length, receivedLength))
                {
                    pending = PENDING_NONE;
                    refuseMessage(spoolFile.isDiskFull() ? SmtpReplies.DISK_FULL : SmtpReplies.SPOOL_WRITE_ERROR,
                        "adding filter headers failed: " + spoolFile.failure());
                    resume();
                    return;
                }
                onPolicyAnswer(correlationId, null);
                return;
            case QUARANTINE:
                spoolFile.quarantine();
                onPolicyAnswer(correlationId, null);
                return;
            case DISCARD:
            {
                // the client is told 250 (the filter's decision is not the client's business); nothing is kept
                pending = PENDING_NONE;
                spoolFile.discard();
                spoolOpen = false;
                counters.messagesRefused.incrementRelease();
                services.mailLog.log(transactionLine("discarded by the content filter"));
                counters.onReply((byte)'2');
                commandOk[(bdatStarted ? SmtpCommand.BDAT : SmtpCommand.DATA).ordinal()]++;
                out.putAscii("250 2.0.0 Ok: queued as ");
                out.putAscii(queueId);
                out.putAscii("\r\n");
                resetTransaction();
                resume();
                return;
            }
            default:
                onPolicyAnswer(correlationId, null);
        }
    }

    public void onPolicyAnswerRewritten(
        final long correlationId, final DirectBuffer address, final int offset, final int length)
    {
        if (correlationId != this.correlationId || PENDING_RCPT != pending || State.CLOSED == state)
        {
            onPolicyAnswer(correlationId, null);
            return;
        }
        restageRecipient(address, offset, length);
        onPolicyAnswer(correlationId, null);
    }

    /**
     * Replace the staged "rcpt: &lt;original&gt; params" line by the rewritten address, keeping the original as
     * ORCPT (RFC 3461) unless the client gave one.
     */
    private void restageRecipient(final DirectBuffer address, final int offset, final int length)
    {
        final int originalStart = pendingLineStart + RCPT_LINE.length;
        int originalEnd = originalStart;
        while ('>' != envelope.getByte(originalEnd) || isInsideQuotes(originalStart, originalEnd))
        {
            originalEnd++;
        }
        final int paramsStart = originalEnd + 1;
        final int paramsEnd = pendingLineEnd - 1;
        boolean hasOrcpt = false;
        for (int i = paramsStart; i + 6 <= paramsEnd && !hasOrcpt; i++)
        {
            hasOrcpt = ' ' == envelope.getByte(i) && 0 == Ascii.indexOfIgnoreCase(ORCPT, envelope, i + 1, i + 7);
        }
        final ExpandableArrayBuffer line = rewriteScratch;
        int p = 0;
        line.putBytes(p, RCPT_LINE);
        p += RCPT_LINE.length;
        line.putBytes(p, address, offset, length);
        p += length;
        line.putByte(p++, (byte)'>');
        line.putBytes(p, envelope, paramsStart, paramsEnd - paramsStart);
        p += paramsEnd - paramsStart;
        if (!hasOrcpt)
        {
            p += line.putStringWithoutLengthAscii(p, " ORCPT=rfc822;");
            for (int i = originalStart; i < originalEnd; i++)
            {
                final int b = envelope.getByte(i) & 0xFF;
                if (b < 33 || b > 126 || '+' == b || '=' == b)
                {
                    line.putByte(p++, (byte)'+');
                    line.putByte(p++, HEX_UPPER[b >>> 4]);
                    line.putByte(p++, HEX_UPPER[b & 0xF]);
                }
                else
                {
                    line.putByte(p++, (byte)b);
                }
            }
        }
        line.putByte(p++, (byte)'\n');
        envelope.putBytes(pendingLineStart, line, 0, p);
        pendingLineEnd = pendingLineStart + p;
    }

    private static final String[] ORCPT = {"ORCPT="};
    private static final byte[] HEX_UPPER = "0123456789ABCDEF".getBytes(StandardCharsets.US_ASCII);

    private int senderLength()
    {
        int senderEnd = MAIL_LINE.length;
        while (senderEnd < mailLineEnd && ('>' != envelope.getByte(senderEnd) ||
            isInsideQuotes(MAIL_LINE.length, senderEnd)))
        {
            senderEnd++;
        }
        return senderEnd - MAIL_LINE.length;
    }

    private void onPolicyTimeout()
    {
        final int kind = pending;
        pending = PENDING_NONE;
        correlationId++;
        services.mailLog.log("warning: policy answer timed out for [" + clientAddress + "]:" + clientPort);
        switch (kind)
        {
            case PENDING_CONNECT:
                put(SmtpReplies.ascii("421 4.3.0 " + settings.hostname + " Error: temporary failure"));
                close();
                break;
            case PENDING_MESSAGE:
                refuseMessage(SmtpReplies.TEMPFAIL, "policy timeout");
                break;
            case PENDING_AUTH:
                reply(SmtpReplies.AUTH_TEMPFAIL);
                break;
            default:
                reply(SmtpReplies.TEMPFAIL);
                break;
        }
    }

    public void onSpoolCommitted(final SpoolFile file)
    {
        if (PENDING_SPOOL != pending)
        {
            return;
        }
        pending = PENDING_NONE;
        spoolOpen = false;
        if (State.CLOSED == state)
        {
            // the client left while the commit was on disk: the message is queued, the client may resend it
            services.mailLog.log(file.id() + ": queued after the client disconnected (possible duplicate)");
            if (null == file.failure())
            {
                counters.messagesQueued.incrementRelease();
            }
            return;
        }
        if (null != file.failure())
        {
            refuseMessage(file.isDiskFull() ? SmtpReplies.DISK_FULL : SmtpReplies.SPOOL_WRITE_ERROR,
                "spool sync error: " + file.failure());
        }
        else
        {
            counters.messagesQueued.incrementRelease();
            services.mailLog.log(transactionLine((file.isQuarantined() ? "quarantined, " : "queued, ") + (file.syncLatencyNs() / 1000) + "us to disk"));
            counters.onReply((byte)'2');
            commandOk[(bdatStarted ? SmtpCommand.BDAT : SmtpCommand.DATA).ordinal()]++;
            out.putAscii("250 2.0.0 Ok: queued as ");
            out.putAscii(file.id());
            out.putAscii("\r\n");
            resetTransaction();
        }
        resume();
    }

    private void resume()
    {
        if (!inPolicyCall)
        {
            host.onSessionResumed();
        }
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private void greet()
    {
        greetAtNs = 0;
        state = State.COMMAND;
        lastActivityNs = nowNs;
        put(settings.greeting);
    }

    private void stagePathLine(final byte[] prefix, final UnsafeBuffer in)
    {
        int position = envelopeLength;
        pendingLineStart = position;
        envelope.putBytes(position, prefix);
        position += prefix.length;
        envelope.putBytes(position, in, parser.addressOffset(), parser.addressLength());
        position += parser.addressLength();
        envelope.putByte(position++, (byte)'>');
        if (parser.paramsLength() > 0)
        {
            envelope.putByte(position++, (byte)' ');
            envelope.putBytes(position, in, parser.paramsOffset(), parser.paramsLength());
            position += parser.paramsLength();
        }
        envelope.putByte(position++, (byte)'\n');
        pendingLineEnd = position;
    }

    private void resetTransaction()
    {
        if (spoolOpen && PENDING_SPOOL != pending)
        {
            spoolFile.discard();
            spoolOpen = false;
        }
        inTransaction = false;
        smtpUtf8 = false;
        body = SmtpPathParser.BODY_7BIT;
        envelopeLength = 0;
        recipients = 0;
        rejectedRecipients = 0;
        bdatStarted = false;
        sizeExceeded = false;
        messageBytes = 0;
        if (draining && !closing)
        {
            // the transaction that kept a stopping daemon waiting is over
            put(settings.shuttingDown);
            closing = true;
        }
    }

    private void reply(final byte[] reply)
    {
        final byte code = reply[0];
        counters.onReply(code);
        if ('4' == code || '5' == code)
        {
            if (reply.length > 8 && '5' == reply[4] && '5' == reply[6])
            {
                // "5.5.x": syntax, sequence or unknown command - what a rate tracker counts as protocol errors
                services.policy.onProtocolError(clientAddress, System.currentTimeMillis());
            }
            put(reply);
            // recipients over the limit are the client's overshoot, not an error (as Postfix's overshoot)
            if (SmtpReplies.TOO_MANY_RECIPIENTS != reply && ++errors >= settings.hardErrorLimit && !closing)
            {
                counters.errorLimit.incrementRelease();
                services.mailLog.log("too many errors after " + currentCommand.statName().toUpperCase() +
                    " from [" + clientAddress + "]:" + clientPort);
                put(settings.tooManyErrors);
                close();
            }
        }
        else
        {
            if ('2' == code)
            {
                commandOk[currentCommand.ordinal()]++;
            }
            put(reply);
        }
    }

    private void put(final byte[] reply)
    {
        if (!closing)
        {
            out.put(reply);
        }
    }

    private void close()
    {
        closing = true;
    }

    private void countBareLf()
    {
        if (!bareLfCounted)
        {
            bareLfCounted = true;
            counters.bareLf.incrementRelease();
        }
    }

    private static int indexOfLf(final DirectBuffer in, final int from, final int to)
    {
        for (int i = from; i < to; i++)
        {
            if ('\n' == in.getByte(i))
            {
                return i;
            }
        }
        return -1;
    }

    private String transactionLine(final String result)
    {
        final StringBuilder sb = new StringBuilder(256);
        sb.append(null == queueId ? "NOQUEUE" : queueId).append(": client=[").append(clientAddress).append("]:")
            .append(clientPort).append(", helo=").append(helo.getStringWithoutLengthUtf8(0, heloLength));
        int lineStart = 0;
        boolean firstRcpt = true;
        while (lineStart < envelopeLength)
        {
            int lineEnd = lineStart;
            while ('\n' != envelope.getByte(lineEnd))
            {
                lineEnd++;
            }
            final int addressStart = lineStart + MAIL_LINE.length;
            int addressEnd = addressStart;
            while (addressEnd < lineEnd && ('>' != envelope.getByte(addressEnd) ||
                isInsideQuotes(addressStart, addressEnd)))
            {
                addressEnd++;
            }
            final String address = envelope.getStringWithoutLengthUtf8(addressStart, addressEnd - addressStart);
            if ('m' == envelope.getByte(lineStart))
            {
                sb.append(", from=<").append(address).append('>');
            }
            else
            {
                sb.append(firstRcpt ? ", to=<" : ",<").append(address).append('>');
                firstRcpt = false;
            }
            lineStart = lineEnd + 1;
        }
        final long ms = (nowNs - transactionStartNs) / 1_000_000;
        sb.append(", size=").append(spoolFile.messageSize()).append(", nrcpt=").append(recipients)
            .append(", proto=").append(protocol()).append(", ms=").append(ms).append(", result=").append(result);
        return sb.toString();
    }

    private String disconnectLine()
    {
        final StringBuilder sb = new StringBuilder(128);
        sb.append("disconnect from [").append(clientAddress).append("]:").append(clientPort);
        int total = 0;
        for (final SmtpCommand command : SmtpCommand.VALUES)
        {
            final int n = commandTotal[command.ordinal()];
            if (0 == n)
            {
                continue;
            }
            total += n;
            sb.append(' ').append(command.statName()).append('=');
            if (commandOk[command.ordinal()] != n)
            {
                sb.append(commandOk[command.ordinal()]).append('/');
            }
            sb.append(n);
        }
        sb.append(" commands=").append(total);
        return sb.toString();
    }
}
