package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Starts daemons for the client tests with a config file written from "key = value" lines.
 */
final class ItDaemons
{
    /** Host name the test daemons announce, so replies and Received headers are predictable. */
    static final String HOSTNAME = "mx.example.test";

    private ItDaemons()
    {
    }

    /**
     * @param dir         a fresh directory; the spool is dir/spool, the config dir/NAME.cf.
     * @param name        a name for the config file and log files.
     * @param configLines "key = value" lines added to the hostname line.
     * @return the running daemon.
     * @throws IOException if it did not start.
     */
    static DaemonProcess start(final Path dir, final String name, final String... configLines) throws IOException
    {
        final Path base = dir.resolve(name);
        Files.createDirectories(base);
        final Path config = base.resolve(name + ".cf");
        final StringBuilder sb = new StringBuilder();
        sb.append("smtpd.hostname = ").append(HOSTNAME).append('\n');
        sb.append("smtpd.event-loops = 2\n");
        for (final String line : configLines)
        {
            sb.append(line).append('\n');
        }
        Files.writeString(config, sb.toString(), StandardCharsets.UTF_8);
        return DaemonProcess.start(base.resolve("spool"), "--config", config.toString());
    }

    /**
     * @return text describing the daemon's logs, for failure messages.
     */
    static String logs(final DaemonProcess daemon)
    {
        return "\n--- maillog ---\n" + daemon.maillog() + "\n--- stderr ---\n" + daemon.stderr();
    }
}
