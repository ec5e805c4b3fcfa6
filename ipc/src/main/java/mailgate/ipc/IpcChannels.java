/*
 * SUMMARY
 * Channels and stream ids of mailgate's Aeron IPC, and where the Aeron directory lives.
 *
 * DESCRIPTION
 * Requests to a subsystem go to its request stream; each requester (one per SMTP event loop) names its
 * own reply stream in every request, so replies route back to the loop that asked without a lock or a
 * shared dispatcher. Reply stream ids are derived from the requester's Aeron client id (unique per driver)
 * and its loop number.
 *
 * SECURITY
 * The Aeron directory sits inside a 0700 directory owned by the daemon's user (checked at start by every
 * process), so other local users cannot map the driver's files whatever mode Aeron gives them.
 */
package mailgate.ipc;

import java.nio.file.Path;

/**
 * Stream ids and directory layout for mailgate IPC.
 */
public final class IpcChannels
{
    /** All mailgate IPC is on the shared-memory channel of one media driver. */
    public static final String CHANNEL = "aeron:ipc?term-length=1m";
    /** The router's request stream. */
    public static final int ROUTER_REQUEST_STREAM = 1001;
    /** The content filter's request stream. */
    public static final int FILTER_REQUEST_STREAM = 1002;
    /** First reply stream id; below it are the request streams. */
    public static final int REPLY_STREAM_BASE = 100_000;

    private IpcChannels()
    {
    }

    /**
     * @param aeronClientId the requester's Aeron client id.
     * @param loopId        its event loop, 0..31.
     * @return the stream its replies should come on.
     */
    public static int replyStream(final long aeronClientId, final int loopId)
    {
        return REPLY_STREAM_BASE + (int)((aeronClientId & 0xFFFFF) * 32) + (loopId & 31);
    }

    /**
     * @return the default Aeron directory: /dev/shm/mailgate-USER/aeron (tmpfs, so IPC never touches a disk).
     */
    public static Path defaultAeronDir()
    {
        final Path shm = userSharedMemoryDir();
        return (null != shm ? shm :
            Path.of(System.getProperty("java.io.tmpdir")).resolve("mailgate-" + System.getProperty("user.name")))
            .resolve("aeron");
    }

    /**
     * @return /dev/shm/mailgate-USER, where this user's processes meet on tmpfs, or null without /dev/shm.
     */
    public static Path userSharedMemoryDir()
    {
        final Path shm = Path.of("/dev/shm");
        return shm.toFile().isDirectory() ? shm.resolve("mailgate-" + System.getProperty("user.name")) : null;
    }

    /**
     * Check (or create 0700) the directory that holds the Aeron directory.
     *
     * @param aeronDir the Aeron directory.
     * @return the same, absolute.
     */
    public static Path secureAeronDir(final Path aeronDir)
    {
        final Path absolute = aeronDir.toAbsolutePath().normalize();
        RendezvousDirectory.ensure(absolute.getParent(), "aeron");
        if (java.nio.file.Files.isSymbolicLink(absolute))
        {
            throw new InsecureDirectoryException("aeron directory " + absolute + " is a symbolic link; refusing it");
        }
        return absolute;
    }
}
