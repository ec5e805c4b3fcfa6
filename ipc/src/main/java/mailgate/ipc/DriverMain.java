package mailgate.ipc;

import io.aeron.driver.MediaDriver;

import java.nio.file.Path;

/**
 * Runs the media driver alone ("bin/mailgate driver [--aeron-dir DIR]"), for operators who run each role
 * as its own systemd unit.
 */
public final class DriverMain
{
    private DriverMain()
    {
    }

    /**
     * @param args optional --aeron-dir DIR.
     */
    public static void main(final String[] args)
    {
        Path dir = IpcChannels.defaultAeronDir();
        for (int i = 0; i < args.length; i++)
        {
            if ("--aeron-dir".equals(args[i]) && i + 1 < args.length)
            {
                dir = Path.of(args[++i]);
            }
            else
            {
                System.err.println("mailgate driver: unknown option " + args[i] + " (--aeron-dir DIR)");
                System.exit(64);
            }
        }
        try (MediaDriver driver = MediaDriverLauncher.launch(dir))
        {
            System.err.println("mailgate driver running in " + driver.aeronDirectoryName());
            ShutdownSignal.await();
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate driver: " + ex.getMessage());
            System.exit(71);
        }
    }
}
