/*
 * SUMMARY
 * The AUTH back end: a password file checked by a small pool of threads, reloadable on SIGHUP.
 *
 * DESCRIPTION
 * An event loop hands a check over with verify(); a pool thread runs PBKDF2 and calls back, and the session
 * posts the answer into its loop's inbox. The queue in front of the pool is bounded: when it is full the
 * answer is BUSY at once (454 4.7.0), so a flood of AUTH attempts costs memory only for the queue.
 */
package mailgate.reactor.tls;

import mailgate.reactor.smtp.Authenticator;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * Password-file authenticator on its own threads.
 */
public final class PasswordAuthenticator implements Authenticator, AutoCloseable
{
    private static final int QUEUE_LENGTH = 256;

    private final Path file;
    private final ThreadPoolExecutor pool;
    private volatile PasswordFile passwords;

    /**
     * @param file    the password file.
     * @param threads checking threads.
     * @throws IOException if the file is unreadable or has a bad line.
     */
    public PasswordAuthenticator(final Path file, final int threads) throws IOException
    {
        this.file = file;
        this.passwords = PasswordFile.load(file);
        final AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(QUEUE_LENGTH), (r) ->
            {
                final Thread t = new Thread(r, "mailgate-auth-" + n.getAndIncrement());
                t.setDaemon(true);
                return t;
            });
    }

    public void verify(final String user, final char[] password, final Consumer<String> onResult)
    {
        try
        {
            pool.execute(() ->
            {
                String result = null;
                try
                {
                    result = passwords.verify(user, password);
                }
                finally
                {
                    Arrays.fill(password, '\0');
                    onResult.accept(result);
                }
            });
        }
        catch (final RejectedExecutionException ex)
        {
            Arrays.fill(password, '\0');
            onResult.accept(BUSY);
        }
    }

    /**
     * Read the file again (SIGHUP).
     *
     * @return a description for the maillog.
     * @throws IOException if it cannot be read; the old users stay in force.
     */
    public String reload() throws IOException
    {
        final PasswordFile loaded = PasswordFile.load(file);
        passwords = loaded;
        return file + " (" + loaded.size() + " users)";
    }

    /**
     * @return a description for the maillog.
     */
    public String description()
    {
        return file + " (" + passwords.size() + " users)";
    }

    public void close()
    {
        pool.shutdownNow();
    }
}
