package mailgate.reactor.net;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConnectionLimiterTest
{
    @Test
    void perClientLimitWithExceptions() throws Exception
    {
        final ConnectionLimiter limiter = new ConnectionLimiter(100, 2, NetworkList.parse("127.0.0.0/8"));
        final InetAddress client = InetAddress.getByName("192.0.2.7");
        final InetAddress other = InetAddress.getByName("192.0.2.8");
        final InetAddress local = InetAddress.getByName("127.0.0.5");
        assertEquals(ConnectionLimiter.Verdict.ACCEPT, limiter.tryAcquire(client));
        assertEquals(ConnectionLimiter.Verdict.ACCEPT, limiter.tryAcquire(client));
        assertEquals(ConnectionLimiter.Verdict.CLIENT_LIMIT, limiter.tryAcquire(client));
        assertEquals(ConnectionLimiter.Verdict.ACCEPT, limiter.tryAcquire(other));
        for (int i = 0; i < 10; i++)
        {
            assertEquals(ConnectionLimiter.Verdict.ACCEPT, limiter.tryAcquire(local));
        }
        limiter.release(client);
        assertEquals(ConnectionLimiter.Verdict.ACCEPT, limiter.tryAcquire(client));
        assertEquals(13, limiter.total());
    }

    @Test
    void totalLimit() throws Exception
    {
        final ConnectionLimiter limiter = new ConnectionLimiter(2, 10, NetworkList.parse(""));
        final InetAddress client = InetAddress.getByName("192.0.2.7");
        limiter.tryAcquire(client);
        limiter.tryAcquire(client);
        assertEquals(ConnectionLimiter.Verdict.TOTAL_LIMIT, limiter.tryAcquire(InetAddress.getByName("192.0.2.9")));
        assertEquals(2, limiter.total());
    }

    @Test
    void networkListMatchesPrefixes() throws Exception
    {
        final NetworkList list = NetworkList.parse("10.1.0.0/16, 192.0.2.128/25 2001:db8::/32 ::1");
        assertTrue(list.contains(InetAddress.getByName("10.1.255.3")));
        assertFalse(list.contains(InetAddress.getByName("10.2.0.1")));
        assertTrue(list.contains(InetAddress.getByName("192.0.2.200")));
        assertFalse(list.contains(InetAddress.getByName("192.0.2.100")));
        assertTrue(list.contains(InetAddress.getByName("2001:db8:1::5")));
        assertTrue(list.contains(InetAddress.getByName("::1")));
        assertFalse(list.contains(InetAddress.getByName("::2")));
        assertThrows(IllegalArgumentException.class, () -> NetworkList.parse("example.com"));
        assertThrows(IllegalArgumentException.class, () -> NetworkList.parse("10.0.0.0/33"));
    }
}
