package mailgate.ipc;

import java.util.function.LongSupplier;

/**
 * Re-reads a subsystem's tables or rules on SIGHUP, and when their files' modification time changes (checked
 * every second). The reload action builds new tables and swaps them in, or keeps the old ones and says why:
 * requests are never paused.
 */
public final class FileReloader extends Thread implements AutoCloseable
{
    private final LongSupplier lastModified;
    private final Runnable reload;
    private volatile boolean reloadRequested;
    private volatile boolean running = true;
    private long seenModified;

    /**
     * @param name         thread name.
     * @param lastModified newest modification time of the files, 0 when none.
     * @param reload       loads and swaps, or logs and keeps the old; must not throw.
     */
    public FileReloader(final String name, final LongSupplier lastModified, final Runnable reload)
    {
        super(name);
        setDaemon(true);
        this.lastModified = lastModified;
        this.reload = reload;
        this.seenModified = lastModified.getAsLong();
    }

    /**
     * Reload on SIGHUP from now on, and start watching.
     *
     * @return this.
     */
    public FileReloader startWithSighup()
    {
        sun.misc.Signal.handle(new sun.misc.Signal("HUP"), (signal) -> requestReload());
        start();
        return this;
    }

    /**
     * Reload at once (any thread).
     */
    public void requestReload()
    {
        reloadRequested = true;
        interrupt();
    }

    public void run()
    {
        while (running)
        {
            try
            {
                Thread.sleep(1000);
            }
            catch (final InterruptedException ignore)
            {
                // woken by SIGHUP or close
            }
            if (!running)
            {
                break;
            }
            final long modified = lastModified.getAsLong();
            if (reloadRequested || modified != seenModified)
            {
                reloadRequested = false;
                seenModified = modified;
                reload.run();
            }
        }
    }

    public void close()
    {
        running = false;
        interrupt();
    }
}
