package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;
import mailgate.reactor.SmtpTestClient;
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
            try (SmtpTestClient first = SmtpTestClient.connect(daemon.port(), 5000);
                SmtpTestClient second = SmtpTestClient.connect(daemon.port(), 5000))
            {
                assertTrue(first.readReplyLines().get(0).startsWith("220 "));
                assertTrue(second.readReplyLines().get(0).startsWith("220 "));
                try (SmtpTestClient third = SmtpTestClient.connect(daemon.port(), 5000))
                {
                    final List<String> refused = third.readUntilClosed();
                    assertEquals(List.of("421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1"),
                        refused);
                }
                try (SmtpTestClient otherAddress = SmtpTestClient.connect(daemon.port(), 5000, "127.0.0.2"))
                {
                    assertTrue(otherAddress.readReplyLines().get(0).startsWith("220 "),
                        "another client address is served");
                    try (SmtpTestClient overTotal = SmtpTestClient.connect(daemon.port(), 5000, "127.0.0.3"))
                    {
                        assertEquals(List.of("421 4.7.0 mx.example.test Error: too many connections"),
                            overTotal.readUntilClosed());
                    }
                }
                first.write("NOOP\r\n");
                assertEquals(List.of("250 2.0.0 Ok"), first.readReplyLines(), "clients within the limits go on");
            }
        }
    }
}
