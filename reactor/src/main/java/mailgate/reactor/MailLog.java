/*
 * SUMMARY
 * The maillog: one line per transaction and per disconnect, Postfix-like, written off the event loops.
 *
 * DESCRIPTION
 * Loops offer finished lines to a bounded lock-free queue; one thread writes them out. A full queue drops
 * the line and counts it: a slow log disk must never stall SMTP.
 */
package mailgate.reactor;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.SleepingMillisIdleStrategy;
import org.agrona.concurrent.status.AtomicCounter;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Asynchronous writer of maillog lines.
 */
public final class MailLog implements Agent, AutoCloseable
{
    private final ManyToOneConcurrentArrayQueue<String> lines = new ManyToOneConcurrentArrayQueue<>(65536);
    private final PrintStream out;
    private final String prefix;
    private final StringBuilder line = new StringBuilder(512);
    private AtomicCounter dropped;
    private AgentRunner runner;

    /**
     * @param out  where lines go (stdout, or a file opened for append).
     * @param role process role for the line prefix, e.g. "smtpd".
     */
    public MailLog(final OutputStream out, final String role)
    {
        // buffered: a drained batch of lines goes out in one write, not a write per line (flushed every batch)
        this.out = new PrintStream(new BufferedOutputStream(out, 64 * 1024), false, StandardCharsets.UTF_8);
        this.prefix = " mailgate/" + role + "[" + ProcessHandle.current().pid() + "]: ";
    }

    /**
     * @param dropped counts lines lost to a full queue.
     */
    public void droppedCounter(final AtomicCounter dropped)
    {
        this.dropped = dropped;
    }

    /**
     * Queue a line (any thread, never blocks).
     *
     * @param text the line without time stamp and prefix.
     */
    public void log(final String text)
    {
        if (!lines.offer(text) && null != dropped)
        {
            dropped.incrementRelease();
        }
    }

    /**
     * Start the writer thread.
     */
    public void start()
    {
        runner = new AgentRunner(new SleepingMillisIdleStrategy(5), Throwable::printStackTrace, null, this);
        AgentRunner.startOnThread(runner);
    }

    public int doWork()
    {
        final int count = lines.drain(this::write, 1024);
        if (count > 0)
        {
            out.flush();
        }
        return count;
    }

    private void write(final String text)
    {
        line.setLength(0);
        line.append(Instant.now()).append(prefix).append(text);
        out.println(line);
    }

    public String roleName()
    {
        return "maillog";
    }

    public void close()
    {
        if (null != runner)
        {
            runner.close();
            runner = null;
        }
        doWork();
        out.flush();
    }
}
