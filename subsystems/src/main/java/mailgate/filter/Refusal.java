package mailgate.filter;

/**
 * Why a message reference was refused; each reason has its own counter (see {@link FilterCounters}).
 */
public enum Refusal
{
    /** The queue id is not 16 upper-case hex digits (path traversal cannot even be written). */
    BAD_ID("bad-id"),
    /** No such file in tmp/. */
    NOT_FOUND("not-found"),
    /** The file, tmp/ or the spool root is a symbolic link. */
    SYMLINK("symlink"),
    /** Not a regular file (or tmp/ not a directory). */
    NOT_REGULAR("not-regular"),
    /** Owned by another uid than the filter's. */
    OWNER("owner"),
    /** The file changed identity (inode) while being opened. */
    SWAPPED("swapped"),
    /** The envelope is malformed, too long, or names another queue id. */
    ENVELOPE("envelope"),
    /** The envelope's size, the reference's size and the file's length disagree (wrong size, truncated). */
    SIZE("size"),
    /** CRC32C of the message part differs from the reference's checksum. */
    CHECKSUM("checksum"),
    /** Reading failed. */
    IO("io");

    private final String label;

    Refusal(final String label)
    {
        this.label = label;
    }

    /**
     * @return short name used in logs, counter labels and the maillog reason.
     */
    public String label()
    {
        return label;
    }
}
