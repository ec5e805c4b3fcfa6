package mailgate.rate;

import mailgate.reactor.ConfigException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class RatePolicyFileTest
{
    private static final long T0 = 1_700_000_040_000L; // second 40 of a minute
    private Path dir;
    private RateStore store;

    @BeforeEach
    void setUp()
    {
        dir = RateTestSupport.newShmDir("policy");
        store = RateStore.open(new RateStore.Context().mapFile(dir.resolve("rate/counters")).nodeId(0)
            .maxEntries(1000));
    }

    @AfterEach
    void tearDown()
    {
        store.close();
        RateTestSupport.delete(dir);
    }

    private static String text(final byte[] reply)
    {
        return null == reply ? null : new String(reply, StandardCharsets.US_ASCII);
    }

    @Test
    void parsesRulesAllowListAndPrefixes() throws Exception
    {
        final Path file = dir.resolve("rate-limits");
        Files.write(file, List.of(
            "# comment",
            "network-prefix 16 48",
            "allow 127.0.0.0/8 ::1   10.1.2.3",
            "connections client-ip 60/1m 421 4.7.0 Too many connections",
            "messages  client-network 100/1m 450 4.7.1 Too   many messages # trailing comment",
            "recipients sender-domain 5000/1h 452 4.5.3",
            "bytes user 10M/30m 452 4.3.1 Too much"));
        final RatePolicy p = RatePolicyFile.load(file);
        assertEquals(4, p.rules().size());
        assertEquals(16, p.v4Prefix());
        assertEquals(48, p.v6Prefix());
        final RateRule messages = p.rules(RateDimension.MESSAGES, Subject.CLIENT_NETWORK)[0];
        assertEquals(100, messages.limit());
        assertEquals(60_000, messages.windowMs());
        assertEquals("450 4.7.1 Too   many messages\r\n", text(messages.reply()));
        assertEquals(file + ":5", messages.where());
        final RateRule recipients = p.rules(RateDimension.RECIPIENTS, Subject.SENDER_DOMAIN)[0];
        assertEquals(3_600_000, recipients.windowMs());
        assertEquals("452 4.5.3 Rate limit exceeded, try again later\r\n", text(recipients.reply()));
        assertEquals(10L * 1024 * 1024, p.rules(RateDimension.BYTES, Subject.USER)[0].limit());
        final IpLiteral ip = new IpLiteral();
        for (final String allowed : List.of("127.0.0.1", "127.255.0.9", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.2",
            "10.1.2.3"))
        {
            assertTrue(ip.parse(allowed), allowed);
            assertTrue(p.isAllowed(ip.high(), ip.low()), allowed);
        }
        for (final String other : List.of("128.0.0.1", "10.1.2.4", "::2", "2001:db8::1"))
        {
            assertTrue(ip.parse(other), other);
            assertFalse(p.isAllowed(ip.high(), ip.low()), other);
        }
    }

    @Test
    void badLinesNameFileLineAndReason()
    {
        final String[][] cases =
        {
            {"frobs client-ip 1/1m 450 4.7.1 x", "unknown dimension or directive 'frobs'"},
            {"messages client-host 1/1m 450 4.7.1 x", "unknown subject 'client-host'"},
            {"connections sender-domain 1/1m 421 4.7.0 x", "connections cannot be counted per sender-domain"},
            {"messages client-ip 100 450 4.7.1 x", "bad rate '100'"},
            {"messages client-ip 100/2d 450 4.7.1 x", "bad window '2d'"},
            {"messages client-ip 100/2h 450 4.7.1 x", "out of range"},
            {"messages client-ip 100/90s 450 4.7.1 x", "whole minutes"},
            {"messages client-ip 0/1m 450 4.7.1 x", "at least 1"},
            {"messages client-ip x/1m 450 4.7.1 x", "bad limit 'x'"},
            {"messages client-ip 1/1m 250 2.0.0 x", "bad reply code '250'"},
            {"messages client-ip 1/1m 450 5.7.1 x", "does not match reply code 450"},
            {"messages client-ip 1/1m 450 4.7 x", "bad enhanced status '4.7'"},
            {"messages client-ip 1/1m", "expected DIMENSION SUBJECT"},
            {"allow 300.1.1.1", "bad address '300.1.1.1'"},
            {"allow 10.0.0.0/33", "prefix length 33 out of range"},
            {"allow example.com", "bad address 'example.com'"},
            {"allow", "at least one"},
            {"network-prefix 24", "two numbers"},
        };
        for (final String[] c : cases)
        {
            final ConfigException ex = assertThrows(ConfigException.class,
                () -> RatePolicyFile.parse("policy.txt", List.of("# first line is fine", "", c[0])), c[0]);
            assertTrue(ex.getMessage().startsWith("policy.txt:3: "), ex.getMessage());
            assertTrue(ex.getMessage().contains(c[1]), c[0] + " -> " + ex.getMessage());
        }
    }

    @Test
    void limitBitesAtNPlusOneAndExpiresAfterTheWindow()
    {
        final RatePolicy p = RatePolicyFile.parse("p", List.of(
            "connections client-ip 3/10s 421 4.7.0 Too many connections",
            "messages client-network 5/1m 450 4.7.1 Too many messages from your network",
            "recipients sender-domain 4/1h 452 4.5.3 Too many recipients",
            "allow 192.0.2.200"));
        try (RateLimiter limiter = new RateLimiter(store, p))
        {
            for (int i = 0; i < 3; i++)
            {
                assertNull(limiter.onConnect("192.0.2.1", T0 + i * 1000L), "connection " + (i + 1));
            }
            assertEquals("421 4.7.0 Too many connections\r\n", text(limiter.onConnect("192.0.2.1", T0 + 3000)));
            assertNull(limiter.onConnect("192.0.2.2", T0 + 3000), "another address has its own count");
            // window 10 s: the first connection (second 40) leaves at second 50; the refused one counted too
            assertEquals("421 4.7.0 Too many connections\r\n", text(limiter.onConnect("192.0.2.1", T0 + 9999)));
            assertNull(limiter.onConnect("192.0.2.1", T0 + 14_000), "window slid past the first ones");

            // client-network /24: five messages from different hosts of 198.51.100.0/24, the sixth is refused
            for (int i = 1; i <= 5; i++)
            {
                assertNull(limiter.onMailFrom("198.51.100." + i, "example.org", T0), "message " + i);
            }
            assertEquals("450 4.7.1 Too many messages from your network\r\n",
                text(limiter.onMailFrom("198.51.100.77", null, T0 + 59_999)));
            assertNull(limiter.onMailFrom("198.51.101.1", null, T0), "next /24 is another network");
            assertNull(limiter.onMailFrom("198.51.100.9", null, T0 + 60_000), "after the minute: free again");

            // sender domain over an hour, case-insensitive, trailing dot ignored
            assertNull(limiter.onRcptTo("203.0.113.1", "Example.NET", T0));
            assertNull(limiter.onRcptTo("203.0.113.2", "example.net.", T0 + 600_000));
            assertNull(limiter.onRcptTo("2001:db8::1", "example.net", T0 + 1_200_000));
            assertNull(limiter.onRcptTo("2001:db8::2", "EXAMPLE.net", T0 + 1_800_000));
            assertEquals("452 4.5.3 Too many recipients\r\n",
                text(limiter.onRcptTo("203.0.113.3", "example.net", T0 + 2_400_000)));
            assertNull(limiter.onRcptTo("203.0.113.3", "example.com", T0 + 2_400_000));
            assertEquals("452 4.5.3 Too many recipients\r\n",
                text(limiter.onRcptTo("203.0.113.3", "example.net", T0 + 3_600_000 + 120_000)),
                "only the first has left the hour; the refused attempt counts too");
            assertNull(limiter.onRcptTo("203.0.113.3", "example.net", T0 + 3_600_000 + 1_320_000),
                "an hour after the first three, they have expired");

            // allow-listed: never counted, never limited
            for (int i = 0; i < 20; i++)
            {
                assertNull(limiter.onConnect("192.0.2.200", T0));
            }
            final Subject s = new Subject();
            s.clientIp("192.0.2.200");
            assertEquals(0, store.total(RateDimension.CONNECTIONS, s, 60_000, T0));
        }
    }

    @Test
    void penaltiesBiteAtConnectMailAndRcpt()
    {
        final RatePolicy p = RatePolicyFile.parse("p", List.of(
            "protocol-errors client-ip 2/1m 421 4.7.0 Too many errors",
            "rejected-recipients client-network 3/1h 450 4.7.1 Too many bad recipients",
            "auth-failures user 2/10m 535 5.7.8 Too many failures"));
        try (RateLimiter limiter = new RateLimiter(store, p))
        {
            limiter.onProtocolError("192.0.2.1", T0);
            limiter.onProtocolError("192.0.2.1", T0);
            assertNull(limiter.onConnect("192.0.2.1", T0), "2 errors: at the limit, not over it");
            limiter.onProtocolError("192.0.2.1", T0);
            assertEquals("421 4.7.0 Too many errors\r\n", text(limiter.onConnect("192.0.2.1", T0)));
            assertEquals("421 4.7.0 Too many errors\r\n", text(limiter.onMailFrom("192.0.2.1", "a.example", T0)));
            assertNull(limiter.onConnect("192.0.2.1", T0 + 60_000), "errors expire after the window");

            for (int i = 0; i < 4; i++)
            {
                limiter.onRejectedRecipient("2001:db8:1:2::" + (i + 1), T0);
            }
            assertEquals("450 4.7.1 Too many bad recipients\r\n",
                text(limiter.onRcptTo("2001:db8:1:2:ffff::1", "b.example", T0 + 1000)), "same /64");
            assertNull(limiter.onRcptTo("2001:db8:1:3::1", "b.example", T0 + 1000), "other /64");

            assertNull(limiter.onAuthFailure("192.0.2.50", "Alice", T0));
            assertNull(limiter.onAuthFailure("192.0.2.51", "alice", T0));
            assertEquals("535 5.7.8 Too many failures\r\n", text(limiter.onAuthFailure("192.0.2.52", "ALICE", T0)));
            assertEquals("535 5.7.8 Too many failures\r\n",
                text(limiter.onMailFrom("192.0.2.53", "c.example", "alice", T0)));
            assertNull(limiter.onMailFrom("192.0.2.53", "c.example", "bob", T0));
        }
    }

    @Test
    void parsesAddressLiterals()
    {
        final IpLiteral ip = new IpLiteral();
        assertTrue(ip.parse("2001:db8::1"));
        assertEquals(0x20010db800000000L, ip.high());
        assertEquals(1L, ip.low());
        assertTrue(ip.parse("[IPv6:2001:DB8:0:0:0:0:0:1]"));
        assertEquals(0x20010db800000000L, ip.high());
        assertTrue(ip.parse("fe80::1%eth0"));
        assertTrue(ip.parse("::ffff:192.0.2.1"));
        assertTrue(ip.isV4());
        assertEquals("192.0.2.1", IpLiteral.toString(ip.high(), ip.low()));
        assertTrue(ip.parse("::"));
        assertTrue(ip.parse("1::"));
        assertEquals(0x0001000000000000L, ip.high());
        for (final String bad : List.of("", "1.2.3", "1.2.3.4.5", "01.2.3.4", "256.1.1.1", "1:2:3:4:5:6:7:8:9",
            "1::2::3", "12345::", "1:", ":1", "host.example", "1.2.3.4 "))
        {
            assertFalse(ip.parse(bad), bad);
        }
    }
}
