package mailgate.reactor.it;

import mailgate.reactor.DaemonProcess;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Starts daemons for the client tests with a config file written from "key = value" lines.
 */
final class ItDaemons
{
    /** Host name the test daemons announce, so replies and Received headers are predictable. */
    static final String HOSTNAME = DaemonProcess.TEST_HOSTNAME;

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
        return DaemonProcess.startWithConfig(dir, name, configLines);
    }

    /**
     * @return text describing the daemon's logs, for failure messages.
     */
    static String logs(final DaemonProcess daemon)
    {
        return "\n--- maillog ---\n" + daemon.maillog() + "\n--- stderr ---\n" + daemon.stderr();
    }
}
