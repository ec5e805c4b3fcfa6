package mailgate.handoff;

import mailgate.reactor.ConfigException;
import mailgate.reactor.tls.KeyMaterial;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * STARTTLS towards the hop (handoff.tls, handoff.tls-verify, handoff.tls-trust) against FakeMta with and
 * without STARTTLS, over real sockets and the JDK's TLS on both sides.
 */
class HandoffTlsTest
{
    private static final Duration DEADLINE = Duration.ofSeconds(20);
    private static KeyMaterial hopCert;
    private static KeyMaterial otherCert;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception
    {
        hopCert = FakeMta.selfSigned("hop.example.test");
        otherCert = FakeMta.selfSigned("hop.example.test");
    }

    @ParameterizedTest(name = "tls={0}, hop offers STARTTLS={1}")
    @CsvSource({
        "none,          true,  plain",
        "none,          false, plain",
        "opportunistic, true,  tls",
        "opportunistic, false, plain",
        "required,      true,  tls",
        "required,      false, deferred",
    })
    void modeAgainstHopWithAndWithoutStartTls(final String mode, final boolean offers, final String expected)
        throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        try (FakeMta mta = new FakeMta(false))
        {
            if (offers)
            {
                mta.tls = FakeMta.serverContext(hopCert);
            }
            final String id = HandoffFixture.nextId();
            final byte[] m = HandoffFixture.message(id, HandoffFixture.trickyBody());
            f.write(id, m, "a@example.com", List.of("b@example.com"), System.currentTimeMillis());
            try (Handoff h = f.start(mta.uri(), "handoff.tls = " + mode, "handoff.workers = 1"))
            {
                if ("deferred".equals(expected))
                {
                    await().atMost(DEADLINE).until(() -> f.maillog().contains(
                        "tls=none, status=deferred (421 4.7.4 127.0.0.1:" + mta.port() + " does not offer STARTTLS"));
                    assertTrue(Files.exists(f.queue.resolve(id)), "stays queued");
                    assertTrue(mta.received.isEmpty());
                    assertTrue(mta.commands.stream().noneMatch((c) -> c.startsWith("MAIL")), mta.commands.toString());
                    return;
                }
                // a second message over the same connection: TLS once, then reused
                final String id2 = HandoffFixture.nextId();
                f.write(id2, HandoffFixture.message(id2, "two\r\n"), "a@example.com", List.of("c@example.com"),
                    System.currentTimeMillis());
                await().atMost(DEADLINE).until(() -> f.queueEmpty() && 2 == mta.received.size());
            }
            final FakeMta.Received r = mta.received.get(0);
            assertArrayEquals(m, r.data());
            assertEquals(1, mta.connections.get(), "one connection for both messages");
            final String maillog = f.maillog();
            if ("tls".equals(expected))
            {
                assertEquals("TLSv1.3", r.tls());
                assertEquals("TLSv1.3", mta.received.get(1).tls());
                assertTrue(maillog.contains(id + ": to=<b@example.com>, relay=127.0.0.1:" + mta.port() +
                    ", delay=") && maillog.contains(", attempts=1, tls=TLSv1.3/TLS_"), maillog);
                assertEquals(2, mta.commands.stream().filter((c) -> c.startsWith("EHLO ")).count(),
                    "EHLO again after STARTTLS: " + mta.commands);
            }
            else
            {
                assertNull(r.tls());
                assertTrue(maillog.contains(", attempts=1, tls=none, status=sent"), maillog);
                assertTrue(mta.commands.stream().noneMatch("STARTTLS"::equals), mta.commands.toString());
            }
        }
    }

    @ParameterizedTest(name = "tls={0}")
    @CsvSource({"opportunistic", "required"})
    void verifyWithWrongTrustDefersAndNeverFallsBackToPlainText(final String mode) throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final Path trust = FakeMta.writePem(otherCert, dir.resolve("other.pem"));
        try (FakeMta mta = new FakeMta(false))
        {
            mta.tls = FakeMta.serverContext(hopCert);
            final String id = f.write(HandoffFixture.message("V", "v\r\n"), "a@example.com",
                List.of("b@example.com"));
            try (Handoff h = f.start(mta.uri(), "handoff.tls = " + mode, "handoff.tls-verify = true",
                "handoff.tls-trust = " + trust))
            {
                await().atMost(DEADLINE).until(() -> HandoffDeliveryTestSupport.count(f.maillog(),
                    "status=deferred (421 4.7.5 TLS handshake with 127.0.0.1:" + mta.port() + " failed") >= 2);
                assertTrue(Files.exists(f.queue.resolve(id)), "stays queued");
            }
            assertTrue(mta.received.isEmpty());
            assertTrue(mta.commands.stream().noneMatch((c) -> c.startsWith("MAIL")), mta.commands.toString());
            assertTrue(f.maillog().contains("not falling back to plain text"), f.maillog());
        }
    }

    @Test
    void verifyWithTheHopsCertificateDelivers() throws Exception
    {
        final HandoffFixture f = new HandoffFixture(dir);
        final Path trust = FakeMta.writePem(hopCert, dir.resolve("hop.pem"));
        try (FakeMta mta = new FakeMta(false))
        {
            mta.tls = FakeMta.serverContext(hopCert);
            final byte[] m = HandoffFixture.message("W", HandoffFixture.trickyBody());
            f.write(m, "a@example.com", List.of("b@example.com"));
            // 127.0.0.1 is in the certificate's subjectAltName (IP), so the name check passes
            try (Handoff h = f.start(mta.uri(), "handoff.tls = required", "handoff.tls-verify = true",
                "handoff.tls-trust = " + trust))
            {
                await().atMost(DEADLINE).until(f::queueEmpty);
            }
            assertArrayEquals(m, mta.received.get(0).data());
            assertEquals("TLSv1.3", mta.received.get(0).tls());
        }
    }

    @Test
    void badTlsSettingsSayFileAndLine() throws Exception
    {
        final Path conf = dir.resolve("tls.conf");
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\nhandoff.tls = maybe\n");
        ConfigException ex = assertThrows(ConfigException.class, () -> HandoffConfig.load(conf));
        assertTrue(ex.getMessage().startsWith(conf + ":2: handoff.tls: must be none, opportunistic or required"),
            ex.getMessage());
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\n\nhandoff.tls-trust = " +
            dir.resolve("missing.pem") + "\n");
        ex = assertThrows(ConfigException.class, () -> HandoffConfig.load(conf));
        assertTrue(ex.getMessage().startsWith(conf + ":3: handoff.tls-trust: "), ex.getMessage());
        Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\nhandoff.tls-trust = " +
            dir.resolve("empty.pem") + "\n");
        ex = assertThrows(ConfigException.class, () -> HandoffConfig.load(conf));
        assertTrue(ex.getMessage().contains(":2: handoff.tls-trust: ") &&
            ex.getMessage().contains("no -----BEGIN CERTIFICATE----- block"), ex.getMessage());
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\nhandoff.tls-verify = perhaps\n");
        ex = assertThrows(ConfigException.class, () -> HandoffConfig.load(conf));
        assertTrue(ex.getMessage().startsWith(conf + ":2: handoff.tls-verify: must be true or false"),
            ex.getMessage());
        Files.writeString(conf, "handoff.next-hop = smtp://127.0.0.1:25\n");
        final HandoffConfig c = HandoffConfig.load(conf);
        assertEquals(HandoffConfig.TlsMode.OPPORTUNISTIC, c.tls());
        assertEquals(false, c.tlsVerify());
        assertNull(c.tlsTrust());
    }
}
