package mailgate.reactor.tls;

import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.List;

import static mailgate.reactor.tls.TlsTestSupport.await;
import static mailgate.reactor.tls.TlsTestSupport.logs;
import static mailgate.reactor.tls.TlsTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Certificates from PEM files reloaded on SIGHUP, a submission-style listener (TLS and AUTH required), and the
 * pieces underneath: the self-signed certificate, PEM reading, password hashes.
 */
class TlsConfigAndReloadTest
{
    @TempDir
    Path dir;

    @Test
    void pemCertificateIsReloadedOnSighupAndSubmissionRulesHold() throws Exception
    {
        final Path cert = dir.resolve("cert.pem");
        final Path key = dir.resolve("key.pem");
        makeCertificate("one.example.test", cert, key, false);
        final Path passwords = TlsTestSupport.passwordFile(dir.resolve("auth"), "carol", "pw carol");
        try (DaemonProcess daemon = TlsTestSupport.start(dir, "submission",
            "smtpd.starttls = on",
            "smtpd.require-tls = on",
            "smtpd.require-auth = on",
            "tls.cert-file = " + cert,
            "tls.key-file = " + key,
            "auth.password-file = " + passwords))
        {
            assertEquals("CN=one.example.test", serverCertificate(daemon.port()).getSubjectX500Principal().getName());
            try (TlsTestSupport.LineClient client = new TlsTestSupport.LineClient(daemon.port(), 10_000))
            {
                client.readLine();
                client.send("EHLO sub.example.test\r\n");
                client.readReply();
                client.send("MAIL FROM:<b@example.test>\r\n");
                assertEquals(List.of("530 5.7.0 Must issue a STARTTLS command first"), client.readReply());
                client.send("AUTH PLAIN AGNhcm9sAHB3IGNhcm9s\r\n");
                assertEquals(List.of("538 5.7.11 Encryption required for requested authentication mechanism"),
                    client.readReply());
                client.send("STARTTLS\r\n");
                client.readReply();
                client.startTls();
                client.send("EHLO sub.example.test\r\n");
                client.readReply();
                client.send("MAIL FROM:<b@example.test>\r\n");
                assertEquals(List.of("530 5.7.0 Authentication required"), client.readReply());
                client.send("AUTH LOGIN\r\n");
                assertEquals(List.of("334 VXNlcm5hbWU6"), client.readReply());
                client.send("*\r\n");
                assertEquals(List.of("501 5.7.0 Authentication aborted"), client.readReply());
                client.send("AUTH PLAIN\r\n");
                assertEquals(List.of("334 "), client.readReply());
                client.send("AGNhcm9sAHB3IGNhcm9s\r\n");
                assertEquals(List.of("235 2.7.0 Authentication successful"), client.readReply());
                client.send("AUTH PLAIN AGNhcm9sAHB3IGNhcm9s\r\n");
                assertEquals(List.of("503 5.5.1 Error: already authenticated"), client.readReply());
                client.send("MAIL FROM:<b@example.test>\r\nRCPT TO:<a@example.test>\r\nDATA\r\n");
                assertEquals(List.of("250 2.1.0 Ok"), client.readReply());
                assertEquals(List.of("250 2.1.5 Ok"), client.readReply());
                assertEquals(List.of("354 End data with <CR><LF>.<CR><LF>"), client.readReply());
                client.send("Subject: submitted\r\n\r\nbody\r\n.\r\nQUIT\r\n");
                assertTrue(client.readReply().get(0).startsWith("250 2.0.0 Ok: queued as "));
                assertEquals(List.of("221 2.0.0 Bye"), client.readReply());
            }

            // a new certificate (this time with a PKCS#1 "RSA PRIVATE KEY"), swapped in and announced by SIGHUP
            final Path newCert = dir.resolve("new-cert.pem");
            final Path newKey = dir.resolve("new-key.pem");
            makeCertificate("two.example.test", newCert, newKey, true);
            Files.move(newKey, key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Files.move(newCert, cert, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertEquals(0, run(10, "kill", "-HUP", String.valueOf(daemon.pid())).exitCode());
            await(10_000, "reload logged" + logs(daemon), () -> daemon.maillog().contains("reload: tls certificate"));
            assertEquals("CN=two.example.test", serverCertificate(daemon.port()).getSubjectX500Principal().getName());
            assertTrue(daemon.process().isAlive(), "SIGHUP must not stop the daemon");

            // a broken file on reload keeps the old certificate
            Files.writeString(cert, "not a certificate\n");
            assertEquals(0, run(10, "kill", "-HUP", String.valueOf(daemon.pid())).exitCode());
            await(10_000, "failed reload logged", () -> daemon.maillog().contains("warning: reload: tls certificate kept"));
            assertEquals("CN=two.example.test", serverCertificate(daemon.port()).getSubjectX500Principal().getName());
        }
    }

    @Test
    void selfSignedCertificateIsValidAndReused() throws Exception
    {
        Files.createDirectories(dir.resolve("run"));
        final KeyMaterial made = SelfSignedCertificate.loadOrCreate(dir.resolve("run"), "mx.example.test");
        final X509Certificate cert = made.chain()[0];
        cert.checkValidity();
        cert.verify(cert.getPublicKey());
        assertEquals("CN=mx.example.test", cert.getSubjectX500Principal().getName());
        assertTrue(cert.getSubjectAlternativeNames().toString().contains("mx.example.test"));
        assertTrue(cert.getSubjectAlternativeNames().toString().contains("127.0.0.1"));
        assertEquals("rw-------", PosixFilePermissions.toString(
            Files.getPosixFilePermissions(dir.resolve("run").resolve(SelfSignedCertificate.P12_FILE))));
        final KeyMaterial again = SelfSignedCertificate.loadOrCreate(dir.resolve("run"), "mx.example.test");
        assertEquals(cert, again.chain()[0]);
        final KeyMaterial renamed = SelfSignedCertificate.loadOrCreate(dir.resolve("run"), "other.example.test");
        assertEquals("CN=other.example.test", renamed.chain()[0].getSubjectX500Principal().getName());
        // openssl agrees it is a well-formed certificate for the name
        final TlsTestSupport.Result text = run(10, "openssl", "x509", "-noout", "-text", "-in",
            dir.resolve("run").resolve(SelfSignedCertificate.PEM_FILE).toString());
        assertTrue(text.text().contains("DNS:other.example.test"), text.text());
    }

    @Test
    void pemKeyThatDoesNotMatchIsRefused() throws Exception
    {
        makeCertificate("a.example.test", dir.resolve("a.pem"), dir.resolve("a.key"), false);
        makeCertificate("b.example.test", dir.resolve("b.pem"), dir.resolve("b.key"), false);
        final IOException ex = assertThrows(IOException.class, () -> PemFiles.load(dir.resolve("a.pem"), dir.resolve("b.key")));
        assertTrue(ex.getMessage().contains("does not match"), ex.getMessage());
    }

    @Test
    void passwordHashesAndFile() throws Exception
    {
        final String line = PasswordHash.hash("pässword".toCharArray(), 10_000);
        assertTrue(line.startsWith("$pbkdf2-sha256$10000$"), line);
        assertTrue(PasswordHash.parse(line).matches("pässword".toCharArray()));
        assertTrue(!PasswordHash.parse(line).matches("password".toCharArray()));
        final Path file = TlsTestSupport.passwordFile(dir, "dave", "x y z");
        final PasswordFile passwords = PasswordFile.load(file);
        assertEquals("dave", passwords.verify("dave", "x y z".toCharArray()));
        assertNull(passwords.verify("dave", "x y".toCharArray()));
        assertNull(passwords.verify("eve", "x y z".toCharArray()));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThrows(IOException.class, () -> PasswordFile.load(file));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        Files.writeString(file, "dave:$pbkdf2-sha256$10$abc$def\n", StandardCharsets.UTF_8);
        final IOException bad = assertThrows(IOException.class, () -> PasswordFile.load(file));
        assertTrue(bad.getMessage().startsWith(file + ":1: "), bad.getMessage());
    }

    @Test
    void passwordHashToolPrintsALine() throws Exception
    {
        final Process process = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-cp", System.getProperty("java.class.path"), PasswordHash.class.getName(),
            "--iterations", "20000", "frank").start();
        process.getOutputStream().write("tool pw\n".getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().close();
        assertTrue(process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
        final String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, process.exitValue(), out);
        assertTrue(out.startsWith("frank:$pbkdf2-sha256$20000$"), out);
        assertTrue(PasswordHash.parse(out.substring("frank:".length())).matches("tool pw".toCharArray()));
    }

    private static X509Certificate serverCertificate(final int port) throws Exception
    {
        try (TlsTestSupport.LineClient client = new TlsTestSupport.LineClient(port, 10_000))
        {
            client.readLine();
            client.send("EHLO probe.example.test\r\n");
            client.readReply();
            client.send("STARTTLS\r\n");
            assertEquals(List.of("220 2.0.0 Ready to start TLS"), client.readReply());
            final SSLSocket tls = client.startTls();
            client.send("QUIT\r\n");
            client.readReply();
            return (X509Certificate)tls.getSession().getPeerCertificates()[0];
        }
    }

    private static void makeCertificate(final String cn, final Path cert, final Path key, final boolean pkcs1)
        throws Exception
    {
        if (pkcs1)
        {
            assertEquals(0, run(60, "openssl", "genrsa", "-traditional", "-out", key.toString(), "2048").exitCode());
            assertTrue(Files.readString(key).contains("BEGIN RSA PRIVATE KEY"));
            final TlsTestSupport.Result r = run(60, "openssl", "req", "-x509", "-new", "-key", key.toString(),
                "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + cn);
            assertEquals(0, r.exitCode(), r.text());
        }
        else
        {
            final TlsTestSupport.Result r = run(60, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + cn);
            assertEquals(0, r.exitCode(), r.text());
        }
    }
}
