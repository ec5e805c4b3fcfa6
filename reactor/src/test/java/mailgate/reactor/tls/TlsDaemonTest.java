package mailgate.reactor.tls;

import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static mailgate.reactor.tls.TlsTestSupport.await;
import static mailgate.reactor.tls.TlsTestSupport.counter;
import static mailgate.reactor.tls.TlsTestSupport.logs;
import static mailgate.reactor.tls.TlsTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * STARTTLS, implicit TLS and AUTH against a real daemon with its self-signed certificate, driven by real
 * clients: openssl s_client, swaks, Python smtplib, Angus Mail, and raw sockets for the injection and the
 * handshake failures.
 */
class TlsDaemonTest
{
    private static final Pattern QUEUED = Pattern.compile("queued as ([0-9A-F]{16})");
    private static final String PASSWORD = "secret pw";
    private static final int HANDSHAKES_FAILED = TlsCounters.TYPE_ID_BASE + 1;
    private static final int HANDSHAKES_TIMED_OUT = TlsCounters.TYPE_ID_BASE + 2;
    private static final int INJECTIONS = TlsCounters.TYPE_ID_BASE + 3;
    private static final int AUTH_FAILURES = TlsCounters.TYPE_ID_BASE + 5;
    private static final int CONNECTIONS_ACTIVE = 2003;

    @TempDir
    static Path dir;

    private static DaemonProcess daemon;
    private static int smtpsPort;
    private static Path caFile;

    @BeforeAll
    static void startDaemon() throws IOException
    {
        final Path passwords = TlsTestSupport.passwordFile(dir.resolve("auth"), "alice", PASSWORD, "bob", "hunter2");
        smtpsPort = DaemonProcess.freePort();
        daemon = TlsTestSupport.start(dir, "tls",
            "smtpd.starttls = on",
            "smtps.listen = 127.0.0.1:" + smtpsPort,
            "auth.password-file = " + passwords,
            "tls.handshake-timeout = 3s");
        caFile = daemon.spool().resolve("run").resolve(SelfSignedCertificate.PEM_FILE);
        assertTrue(Files.isRegularFile(caFile), "self-signed certificate not written");
    }

    @AfterAll
    static void stopDaemon() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
    }

    @Test
    void opensslStartTlsNegotiatesTls13AndVerifiesTheSelfSignedCertificate() throws Exception
    {
        final TlsTestSupport.Result result = run(30, "openssl", "s_client", "-starttls", "smtp",
            "-connect", "127.0.0.1:" + daemon.port(), "-CAfile", caFile.toString(), "-verify_return_error",
            "-servername", TlsTestSupport.HOSTNAME);
        assertTrue(result.text().contains("Protocol  : TLSv1.3") || result.text().contains("New, TLSv1.3"),
            result.text());
        assertTrue(result.text().contains("Verify return code: 0 (ok)"), result.text());
        assertTrue(result.text().contains("CN = " + TlsTestSupport.HOSTNAME), result.text());
    }

    @Test
    void swaksStartTlsAuthPlainQueuesWithAuthInEnvelopeAndReceived() throws Exception
    {
        final TlsTestSupport.Result result = run(60, "swaks", "--server", "127.0.0.1:" + daemon.port(), "--tls",
            "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", PASSWORD,
            "--from", "b@example.test", "--to", "a@example.test", "--body", "over STARTTLS");
        assertEquals(0, result.exitCode(), result.text() + logs(daemon));
        assertTrue(result.text().contains("TLS started with cipher TLSv1.3"), result.text());
        assertTrue(result.text().contains("<~  235 2.7.0 Authentication successful"), result.text());
        final String file = queuedFile(result.text());
        assertTrue(file.contains("\nprotocol: ESMTPSA\n"), file);
        assertTrue(file.contains("\nauth: alice\n"), file);
        assertTrue(file.contains("\ntls: TLSv1.3 "), file);
        assertTrue(file.contains("\t(Authenticated sender: alice)\r\n"), file);
        assertTrue(file.contains("(mailgate) with ESMTPSA id "), file);
        assertTrue(file.contains("over STARTTLS"), file);
    }

    @Test
    void swaksImplicitTlsAuthLogin() throws Exception
    {
        final TlsTestSupport.Result result = run(60, "swaks", "--server", "127.0.0.1:" + smtpsPort,
            "--tls-on-connect", "--auth", "LOGIN", "--auth-user", "bob", "--auth-password", "hunter2",
            "--from", "b@example.test", "--to", "a@example.test");
        assertEquals(0, result.exitCode(), result.text() + logs(daemon));
        assertTrue(result.text().contains("<~  334 VXNlcm5hbWU6"), result.text());
        assertTrue(result.text().contains("<~  235 2.7.0 Authentication successful"), result.text());
        final String file = queuedFile(result.text());
        assertTrue(file.contains("\nauth: bob\n") && file.contains("with ESMTPSA id"), file);
    }

    @Test
    void swaksWrongPasswordGets535AndIsCounted() throws Exception
    {
        final long before = counter(daemon, AUTH_FAILURES);
        final TlsTestSupport.Result result = run(60, "swaks", "--server", "127.0.0.1:" + daemon.port(), "--tls",
            "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wrong",
            "--from", "b@example.test", "--to", "a@example.test");
        assertTrue(result.text().contains("535 5.7.8 Authentication credentials invalid"), result.text());
        assertFalse(result.text().contains("queued as"), result.text());
        await(10_000, "auth failure counted", () -> counter(daemon, AUTH_FAILURES) == before + 1);
        await(10_000, "auth failure logged",
            () -> daemon.maillog().contains("SASL PLAIN authentication failed for user alice"));
    }

    @Test
    void pythonSmtplibStartTlsAndSmtpSsl() throws Exception
    {
        final Path script = dir.resolve("tls_clients.py");
        Files.writeString(script, String.join("\n",
            "import smtplib, ssl, sys",
            "host, port, sport, cafile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]",
            "ctx = ssl.create_default_context(cafile=cafile)",
            "ids = []",
            "with smtplib.SMTP(host, port, timeout=20) as s:",
            "    s.ehlo('py.example.test')",
            "    assert s.has_extn('starttls'), s.esmtp_features",
            "    assert not s.has_extn('auth'), 'AUTH offered before TLS'",
            "    code, msg = s.docmd('AUTH', 'PLAIN AGFsaWNlAHNlY3JldCBwdw==')",
            "    assert code == 538, (code, msg)",
            "    s.starttls(context=ctx)",
            "    assert s.sock.version() == 'TLSv1.3', s.sock.version()",
            "    s.ehlo('py.example.test')",
            "    assert s.has_extn('auth') and not s.has_extn('starttls'), s.esmtp_features",
            "    assert 'PLAIN' in s.esmtp_features['auth'] and 'LOGIN' in s.esmtp_features['auth']",
            "    s.login('alice', 'secret pw')",
            "    s.sendmail('b@example.test', ['a@example.test'], 'Subject: py starttls\\r\\n\\r\\nhello\\r\\n')",
            "with smtplib.SMTP_SSL(host, sport, context=ctx, timeout=20) as s:",
            "    s.ehlo('py.example.test')",
            "    assert s.sock.version() == 'TLSv1.3'",
            "    s.login('bob', 'hunter2')",
            "    s.sendmail('b@example.test', ['a@example.test'], 'Subject: py smtps\\r\\n\\r\\nhello\\r\\n')",
            "with smtplib.SMTP_SSL(host, sport, context=ctx, timeout=20) as s:",
            "    try:",
            "        s.login('alice', 'not it')",
            "        raise SystemExit('login with a wrong password succeeded')",
            "    except smtplib.SMTPAuthenticationError as e:",
            "        assert e.smtp_code == 535, e",
            "print('python tls clients ok')",
            ""), StandardCharsets.UTF_8);
        final TlsTestSupport.Result result = run(60, "python3", script.toString(), "127.0.0.1",
            String.valueOf(daemon.port()), String.valueOf(smtpsPort), caFile.toString());
        assertEquals(0, result.exitCode(), result.text() + logs(daemon));
        assertTrue(result.text().contains("python tls clients ok"), result.text());
        await(10_000, "both python messages queued", () ->
            daemon.maillog().contains("helo=py.example.test, from=<b@example.test>, to=<a@example.test>, " +
            "size=") && countOccurrences(daemon.maillog(), "helo=py.example.test, from=") >= 2);
    }

    @Test
    void angusMailWithStartTlsRequired() throws Exception
    {
        final Properties props = new Properties();
        props.put("mail.smtp.host", "127.0.0.1");
        props.put("mail.smtp.port", String.valueOf(daemon.port()));
        props.put("mail.smtp.localhost", "angus.example.test");
        props.put("mail.smtp.starttls.enable", "true");
        props.put("mail.smtp.starttls.required", "true");
        props.put("mail.smtp.ssl.trust", "*");
        props.put("mail.smtp.auth", "true");
        props.put("mail.smtp.connectiontimeout", "10000");
        props.put("mail.smtp.timeout", "20000");
        final Session session = Session.getInstance(props);
        final MimeMessage message = new MimeMessage(session);
        message.setFrom(new InternetAddress("b@example.test"));
        message.setRecipient(Message.RecipientType.TO, new InternetAddress("a@example.test"));
        message.setSubject("angus over starttls");
        message.setText("hello from Angus Mail");
        Transport.send(message, "alice", PASSWORD);
        await(10_000, "angus message queued with ESMTPSA", () -> daemon.maillog().contains(
            "helo=angus.example.test, from=<b@example.test>, to=<a@example.test>") &&
            daemon.maillog().contains("proto=ESMTPSA"));

        // the same with STARTTLS required against a listener that does not offer it fails closed
        final Properties noTls = new Properties();
        noTls.putAll(props);
        noTls.put("mail.smtp.port", String.valueOf(smtpsPort));
        noTls.put("mail.smtp.ssl.enable", "true");
        noTls.remove("mail.smtp.starttls.required");
        final MimeMessage implicit = new MimeMessage(Session.getInstance(noTls));
        implicit.setFrom(new InternetAddress("b@example.test"));
        implicit.setRecipient(Message.RecipientType.TO, new InternetAddress("c@example.test"));
        implicit.setSubject("angus over implicit TLS");
        implicit.setText("hello");
        Transport.send(implicit, "bob", "hunter2");
        await(10_000, "angus implicit-TLS message queued", () -> daemon.maillog().contains(
            "helo=angus.example.test, from=<b@example.test>, to=<c@example.test>"));
    }

    /**
     * CVE-2011-0411: "STARTTLS\r\nRSET\r\n" in one packet. Only the 220 may come back before the handshake, and
     * the RSET must not run after it either: the first reply over TLS is HELP's 214, not a 250 for RSET.
     */
    @Test
    void commandsPipelinedAfterStartTlsAreDiscarded() throws Exception
    {
        final long injectionsBefore = counter(daemon, INJECTIONS);
        try (TlsTestSupport.LineClient client = new TlsTestSupport.LineClient(daemon.port(), 10_000))
        {
            assertTrue(client.readLine().startsWith("220 "));
            client.send("EHLO inject.example.test\r\n");
            final List<String> ehlo = client.readReply();
            assertTrue(ehlo.contains("250-STARTTLS"), ehlo.toString());
            client.send("STARTTLS\r\nRSET\r\n");
            assertEquals("220 2.0.0 Ready to start TLS", client.readLine());
            client.soTimeout(500);
            assertThrows(SocketTimeoutException.class, client::read, "a second reply came before the handshake");
            client.soTimeout(10_000);
            final SSLSocket tls = client.startTls();
            assertEquals("TLSv1.3", tls.getSession().getProtocol());
            client.send("HELP\r\n");
            final List<String> help = client.readReply();
            assertTrue(help.get(0).startsWith("214"), "RSET was executed after the handshake: " + help);
            // RFC 3207 4.2: the session starts over, EHLO is required again
            client.send("MAIL FROM:<b@example.test>\r\n");
            assertEquals(List.of("503 5.5.1 Error: send HELO/EHLO first"), client.readReply());
            client.send("EHLO inject.example.test\r\n");
            final List<String> again = client.readReply();
            assertFalse(again.contains("250-STARTTLS"), again.toString());
            assertTrue(again.contains("250-AUTH PLAIN LOGIN"), again.toString());
            client.send("STARTTLS\r\n");
            assertEquals(List.of("503 5.5.1 Error: TLS already active"), client.readReply());
            client.send("QUIT\r\n");
            assertEquals(List.of("221 2.0.0 Bye"), client.readReply());
        }
        await(10_000, "injection logged and counted", () ->
            daemon.maillog().contains("discarded 6 octet(s) pipelined after STARTTLS") &&
            counter(daemon, INJECTIONS) == injectionsBefore + 1);
        // the session's statistics: no RSET was ever run
        final Pattern disconnect = Pattern.compile("disconnect from \\[127.0.0.1]:\\d+ ehlo=2 mail=0/1 quit=1 help=1 " +
            "starttls=1/2 commands=7\n");
        await(10_000, "disconnect line without rset" + logs(daemon), () -> disconnect.matcher(daemon.maillog()).find());
    }

    /**
     * Garbage, a TLS 1.0-only client and a client that stalls mid-handshake each lose their connection; a client
     * served meanwhile is not disturbed, and no connection is left behind.
     */
    @Test
    void handshakeFailuresCloseOnlyThatConnection() throws Exception
    {
        final long failedBefore = counter(daemon, HANDSHAKES_FAILED);
        final long timedOutBefore = counter(daemon, HANDSHAKES_TIMED_OUT);

        // a stalled handshake: a record header promising 512 octets, then silence
        final Socket staller = new Socket("127.0.0.1", smtpsPort);
        staller.setSoTimeout(15_000);
        staller.getOutputStream().write(new byte[]{0x16, 0x03, 0x01, 0x02, 0x00, 0x01});
        staller.getOutputStream().flush();
        final long stallStartNs = System.nanoTime();
        final CompletableFuture<Long> stallerClosedAfterMs = CompletableFuture.supplyAsync(() ->
        {
            try (staller)
            {
                while (staller.getInputStream().read() >= 0)
                {
                    // an alert may come first; wait for the close
                }
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stallStartNs);
            }
            catch (final IOException ex)
            {
                return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stallStartNs);
            }
        });

        // garbage on the implicit-TLS port
        try (Socket garbage = new Socket("127.0.0.1", smtpsPort))
        {
            garbage.setSoTimeout(10_000);
            garbage.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertClosedByServer(garbage);
        }
        // garbage after STARTTLS
        try (TlsTestSupport.LineClient client = new TlsTestSupport.LineClient(daemon.port(), 10_000))
        {
            client.readLine();
            client.send("STARTTLS\r\n");
            assertEquals("220 2.0.0 Ready to start TLS", client.readLine());
            client.sendRaw(new byte[]{0x16, 0x03, 0x03, 0x00, 0x04, 'j', 'u', 'n', 'k', 0x15, 0x00, 0x00});
            int b;
            do
            {
                b = client.read();
            }
            while (b >= 0);
        }
        // a client that speaks TLS 1.0 only
        final TlsTestSupport.Result tls10 = run(30, "openssl", "s_client", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0",
            "-connect", "127.0.0.1:" + smtpsPort);
        assertTrue(tls10.text().contains("alert protocol version"), tls10.text());

        // meanwhile (the staller still stalls) another client is served in full
        assertTrue(stallerClosedAfterMs.getNow(-1L) < 0, "the staller was closed too early");
        final TlsTestSupport.Result served = run(60, "swaks", "--server", "127.0.0.1:" + smtpsPort,
            "--tls-on-connect", "--from", "b@example.test", "--to", "served@example.test");
        assertEquals(0, served.exitCode(), served.text() + logs(daemon));
        assertTrue(served.text().contains("queued as"), served.text());

        final long closedAfterMs = stallerClosedAfterMs.get(20, TimeUnit.SECONDS);
        assertTrue(closedAfterMs >= 2_500, "closed after " + closedAfterMs + " ms, before the 3 s handshake timeout");
        await(10_000, "failures counted", () -> counter(daemon, HANDSHAKES_FAILED) >= failedBefore + 3 &&
            counter(daemon, HANDSHAKES_TIMED_OUT) == timedOutBefore + 1);
        await(10_000, "failures logged" + logs(daemon), () ->
            daemon.maillog().contains("warning: TLS handshake timeout from [127.0.0.1]") &&
            daemon.maillog().contains("warning: TLS handshake failed from [127.0.0.1]"));
        await(10_000, "no connection left open", () -> 0 == counter(daemon, CONNECTIONS_ACTIVE));
    }

    private static void assertClosedByServer(final Socket socket) throws IOException
    {
        try
        {
            while (socket.getInputStream().read() >= 0)
            {
                // the alert, then the end of the stream
            }
        }
        catch (final java.net.SocketException ex)
        {
            // reset: closed as well
        }
    }

    private static String queuedFile(final String clientOutput) throws IOException
    {
        final Matcher matcher = QUEUED.matcher(clientOutput);
        assertTrue(matcher.find(), clientOutput);
        return Files.readString(daemon.queueDir().resolve(matcher.group(1)), StandardCharsets.UTF_8);
    }

    private static int countOccurrences(final String text, final String what)
    {
        int n = 0;
        int from = 0;
        while ((from = text.indexOf(what, from)) >= 0)
        {
            n++;
            from += what.length();
        }
        return n;
    }
}
