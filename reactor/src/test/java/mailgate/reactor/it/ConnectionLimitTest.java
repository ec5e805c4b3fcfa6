package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connection limits in total and per client address answer 421 4.7.0 and close, while the clients within the
 * limits are served.
 */
class ConnectionLimitTest
{
    @TempDir
    Path tmp;

    @Test
    void perClientAndTotalLimits() throws Exception
    {
        try (DaemonProcess daemon = ItDaemons.start(tmp, "limits",
            "smtpd.max-connections-per-client = 2",
            "smtpd.max-connections = 3",
            "smtpd.connection-limit-exceptions ="))
        {
            try (SmtpWire first = new SmtpWire(daemon.port(), 5000);
                SmtpWire second = new SmtpWire(daemon.port(), 5000))
            {
                assertTrue(first.readReply().get(0).startsWith("220 "));
                assertTrue(second.readReply().get(0).startsWith("220 "));
                try (SmtpWire third = new SmtpWire(daemon.port(), 5000))
                {
                    final List<String> refused = third.readUntilClosed();
                    assertEquals(List.of("421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1"),
                        refused);
                }
                try (SmtpWire otherAddress = new SmtpWire(daemon.port(), 5000, "127.0.0.2"))
                {
                    assertTrue(otherAddress.readReply().get(0).startsWith("220 "), "another client address is served");
                    try (SmtpWire overTotal = new SmtpWire(daemon.port(), 5000, "127.0.0.3"))
                    {
                        assertEquals(List.of("421 4.7.0 mx.example.test Error: too many connections"),
                            overTotal.readUntilClosed());
                    }
                }
                first.send("NOOP\r\n");
                assertEquals(List.of("250 2.0.0 Ok"), first.readReply(), "clients within the limits go on");
            }
        }
    }
}
