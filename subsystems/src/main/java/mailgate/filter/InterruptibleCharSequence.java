package mailgate.filter;

/**
 * A CharSequence whose charAt throws {@link ScanInterruptedException} once the thread is interrupted, so a
 * backtracking regular expression (say {@code (a+)+b} on a long line) stops when its scan's deadline passes
 * instead of holding a worker thread for ever. The check runs every 1024 characters read.
 */
final class InterruptibleCharSequence implements CharSequence
{
    private final CharSequence inner;
    private int untilCheck = 1024;

    InterruptibleCharSequence(final CharSequence inner)
    {
        this.inner = inner;
    }

    public int length()
    {
        return inner.length();
    }

    public char charAt(final int index)
    {
        if (--untilCheck <= 0)
        {
            untilCheck = 1024;
            if (Thread.currentThread().isInterrupted())
            {
                throw new ScanInterruptedException();
            }
        }
        return inner.charAt(index);
    }

    public CharSequence subSequence(final int start, final int end)
    {
        return new InterruptibleCharSequence(inner.subSequence(start, end));
    }

    public String toString()
    {
        return inner.toString();
    }

    /**
     * The scan's thread was interrupted (deadline passed): unwinds the scan.
     */
    static final class ScanInterruptedException extends RuntimeException
    {
        private static final long serialVersionUID = 1L;

        ScanInterruptedException()
        {
            super("scan interrupted", null, false, false);
        }
    }
}
