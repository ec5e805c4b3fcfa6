package mailgate.filter;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The message part of a spool file, exactly {@code messageSize} octets, whose CRC32C is checked against the
 * reference when its end is reached: {@link #read} then throws a CHECKSUM (or SIZE) refusal instead of -1.
 */
public final class SpoolMessageStream extends InputStream
{
    private final SeekableByteChannel channel;
    private final Path file;
    private final long messageSize;
    private final int checksum;
    private final int envelopeRecipients;
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
    private final byte[] one = new byte[1];
    private long remaining;
    private boolean verified;

    SpoolMessageStream(
        final SeekableByteChannel channel,
        final Path file,
        final long messageSize,
        final int checksum,
        final int envelopeRecipients)
    {
        this.channel = channel;
        this.file = file;
        this.messageSize = messageSize;
        this.checksum = checksum;
        this.envelopeRecipients = envelopeRecipients;
        this.remaining = messageSize;
        buffer.flip();
    }

    /**
     * @return rcpt lines in the envelope.
     */
    public int envelopeRecipients()
    {
        return envelopeRecipients;
    }

    public long messageSize()
    {
        return messageSize;
    }

    public int read() throws IOException
    {
        final int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xFF;
    }

    public int read(final byte[] dst, final int offset, final int length) throws IOException
    {
        if (0 == length)
        {
            return 0;
        }
        if (!buffer.hasRemaining())
        {
            if (0 == remaining)
            {
                verify();
                return -1;
            }
            buffer.clear();
            buffer.limit((int)Math.min(buffer.capacity(), remaining));
            int read = 0;
            while (0 == read)
            {
                read = channel.read(buffer);
            }
            if (read < 0)
            {
                throw new ReferenceRefusedException(Refusal.SIZE, file + " ended " + remaining +
                    " octets early (truncated while scanned)");
            }
            buffer.flip();
            crc.update(buffer.array(), 0, buffer.limit());
            remaining -= read;
        }
        final int n = Math.min(length, buffer.remaining());
        buffer.get(dst, offset, n);
        return n;
    }

    /**
     * Read what the scanner left unread and check size and checksum: a verdict is only ever about the bytes
     * the reference names.
     *
     * @throws IOException a refusal when they differ.
     */
    public void drainAndVerify() throws IOException
    {
        final byte[] skip = new byte[8192];
        while (read(skip, 0, skip.length) >= 0)
        {
            // the CRC is computed as the buffer fills
        }
    }

    private void verify() throws IOException
    {
        if (verified)
        {
            return;
        }
        final int actual = (int)crc.getValue();
        if (actual != checksum)
        {
            throw new ReferenceRefusedException(Refusal.CHECKSUM, file + ": message part has CRC32C " +
                SpoolReference.hex(actual) + ", reference says " + SpoolReference.hex(checksum));
        }
        final long length = channel.size();
        if (length != channel.position())
        {
            throw new ReferenceRefusedException(Refusal.SIZE, file + " changed length while scanned");
        }
        verified = true;
    }

    public void close() throws IOException
    {
        channel.close();
    }
}
