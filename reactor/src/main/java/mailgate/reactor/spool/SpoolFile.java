package mailgate.reactor.spool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.EnumSet;
import java.util.Queue;
import java.util.zip.CRC32C;

/**
 * One message on its way into the spool: written in tmp/, made durable and renamed into queue/ by the
 * {@link SpoolSyncer}. One instance per session, reused message after message. While one of the loop's
 * {@link SpoolWriteBuffers} is free the file is gathered in it and written in whole 64 KiB pieces; the last piece
 * goes out at {@link #finish()}, before the commit, and the buffer goes back to the loop then (or at discard).
 * <p>
 * Written by the event loop thread until {@link #commit()}, then owned by the syncer thread until it hands
 * the file back through the loop's completion queue (the queues give the happens-before edges).
 */
public final class SpoolFile
{
    private static final EnumSet<StandardOpenOption> CREATE = EnumSet.of(
        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);

    private final Spool spool;
    private final Queue<SpoolFile> completions;
    private final SpoolCommitListener listener;
    private final Runnable completionSignal;
    private final SpoolWriteBuffers writeBuffers;
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer patch = ByteBuffer.allocate(SpoolFormat.SIZE_DIGITS);
    private String id;
    private Path tmpPath;
    private FileChannel channel;
    private ByteBuffer pending;
    private long written;
    private long messageSize;
    private long sizeFieldPosition;
    private long crcFieldPosition;
    private IOException failure;
    private long messageStart;
    private boolean quarantined;
    private boolean moved;
    private long commitStartNs;
    private long durableNs;
    private long syncErrorsAtOpen;

    /**
     * @param spool       the spool it belongs to.
     * @param completions where the syncer puts it back when it is durable (or failed).
     * @param listener    told on the loop thread once it is back.
     * @param completionSignal run by the syncer after putting it back (wakes a sleeping loop).
     * @param writeBuffers     the loop's write buffers.
     */
    public SpoolFile(
        final Spool spool,
        final Queue<SpoolFile> completions,
        final SpoolCommitListener listener,
        final Runnable completionSignal,
        final SpoolWriteBuffers writeBuffers)
    {
        this.writeBuffers = writeBuffers;
        this.completionSignal = completionSignal;
        this.spool = spool;
        this.completions = completions;
        this.listener = listener;
    }

    /**
     * Create tmp/ID (mode 0600, must not exist) and write the envelope.
     *
     * @param id       queue id.
     * @param envelope envelope text from {@link SpoolFormat}, positioned on its bytes.
     * @param sizeFieldOffset offset in the envelope of the size field's digits.
     * @param crcFieldOffset  offset in the envelope of the checksum field's digits.
     * @return false if the file could not be created or written ({@link #failure()} says why).
     */
    public boolean open(
        final String id, final ByteBuffer envelope, final int sizeFieldOffset, final int crcFieldOffset)
    {
        this.id = id;
        this.tmpPath = spool.tmpDir().resolve(id);
        this.messageSize = 0;
        this.failure = null;
        this.crc.reset();
        this.sizeFieldPosition = sizeFieldOffset;
        this.messageStart = envelope.remaining();
        this.quarantined = false;
        this.crcFieldPosition = crcFieldOffset;
        this.syncErrorsAtOpen = spool.syncErrors();
        this.written = 0;
        try
        {
            channel = FileChannel.open(tmpPath, CREATE, Spool.FILE_MODE);
            if (null == pending)
            {
                pending = writeBuffers.take();
            }
            if (null != pending && envelope.remaining() <= pending.capacity())
            {
                pending.clear();
                pending.put(envelope);
            }
            else
            {
                releaseBuffer();
                writeFully(envelope);
            }
            return true;
        }
        catch (final IOException ex)
        {
            failure = ex;
            discard();
            return false;
        }
    }

    /**
     * Append message bytes; after a failure further bytes are ignored.
     *
     * @param src bytes, position to limit; consumed.
     */
    public void append(final ByteBuffer src)
    {
        if (null != failure || null == channel)
        {
            src.position(src.limit());
            return;
        }
        final int start = src.position();
        final int length = src.remaining();
        crc.update(src);
        src.position(start);
        messageSize += length;
        try
        {
            if (null == pending)
            {
                writeFully(src);
                return;
            }
            final int limit = src.limit();
            while (src.hasRemaining())
            {
                src.limit(src.position() + Math.min(src.remaining(), pending.remaining()));
                pending.put(src);
                src.limit(limit);
                if (!pending.hasRemaining())
                {
                    writePending();
                }
            }
        }
        catch (final IOException ex)
        {
            failure = ex;
        }
    }

    /**
     * Write the final size and checksum into the envelope.
     *
     * @return false on an I/O error.
     */
    public boolean finish()
    {
        if (null != failure || null == channel)
        {
            return false;
        }
        try
        {
            if (null != pending && written > 0)
            {
                // the envelope is on disk already: out with the rest, then patch the fields in the file
                writeBuffered();
            }
            patch.clear();
            SpoolFormat.putDigits(patch, messageSize, SpoolFormat.SIZE_DIGITS);
            patch.flip();
            patchField(sizeFieldPosition);
            patch.clear();
            SpoolFormat.putHex(patch, (int)crc.getValue());
            patch.flip();
            patchField(crcFieldPosition);
            if (null != pending)
            {
                // the whole file, fields patched in memory, in one write
                writeBuffered();
            }
            return true;
        }
        catch (final IOException ex)
        {
            failure = ex;
            return false;
        }
    }

    /**
     * Hand the finished file to the syncer; the listener hears back on the loop thread.
     *
     * @param nowNs the loop's clock, for the fsync latency figure.
     */
    public void commit(final long nowNs)
    {
        commitStartNs = nowNs;
        spool.syncer().submit(this);
    }

    /**
     * Close and remove the tmp file (rejected or failed message). Never throws.
     */
    public void discard()
    {
        releaseBuffer();
        closeQuietly();
        if (null != tmpPath)
        {
            try
            {
                Files.deleteIfExists(tmpPath);
            }
            catch (final IOException ignore)
            {
                // tmp/ is emptied at the next start anyway
            }
        }
    }

    /** Syncer thread: fsync the data. */
    void syncData()
    {
        try
        {
            channel.force(true);
        }
        catch (final IOException ex)
        {
            failure = ex;
        }
    }

    /** Syncer thread: rename into queue/ (or quarantine/) unless it failed. */
    void moveToQueue()
    {
        if (null == failure)
        {
            try
            {
                // the descriptor stays open: in fsync mode the data fsync that follows goes through it
                Files.move(tmpPath, targetDir().resolve(id), StandardCopyOption.ATOMIC_MOVE);
                moved = true;
            }
            catch (final IOException ex)
            {
                failure = ex;
            }
        }
        if (null != failure)
        {
            discard();
        }
    }

    /** Syncer thread: after the data and directory fsyncs, close; remove a queue entry that is not durable. */
    void closeAfterSync()
    {
        closeQuietly();
        if (null != failure && moved)
        {
            try
            {
                Files.deleteIfExists(targetDir().resolve(id));
            }
            catch (final IOException ignore)
            {
                // start-up verification moves an incomplete file out of queue/
            }
        }
        moved = false;
    }

    /**
     * @param syncErrors the spool's count of reported sync errors now.
     * @return true when a sync error was reported after this file was opened: its write-back may have been the
     *         one that failed, and syncfs reports each error once, to whichever batch asked first.
     */
    boolean openedBeforeSyncError(final long syncErrors)
    {
        return syncErrors != syncErrorsAtOpen;
    }

    /** Syncer thread: the queue directory fsync failed after the rename. */
    void failAfterMove(final IOException ex)
    {
        failure = ex;
        try
        {
            Files.deleteIfExists(targetDir().resolve(id));
        }
        catch (final IOException ignore)
        {
            // the directory entry was not made durable; at worst the file reappears as a duplicate
        }
    }

    private Path targetDir()
    {
        return quarantined ? spool.quarantineDir() : spool.queueDir();
    }

    /**
     * Send this message to quarantine/ instead of queue/ at commit (content filter verdict).
     */
    public void quarantine()
    {
        quarantined = true;
    }

    /**
     * @return true when the message goes (or went) to quarantine/.
     */
    public boolean isQuarantined()
    {
        return quarantined;
    }

    /**
     * Insert header lines into the finished message after its first header (the Received trace header), by
     * writing a new tmp file and renaming it over the old one; size and checksum are recomputed.
     *
     * @param headers        header lines, each ending CR LF.
     * @param offset         where they start.
     * @param length         their length.
     * @param receivedLength length of the Received header at the start of the message part.
     * @return false on an I/O error ({@link #failure()} says which).
     */
    public boolean insertHeaders(
        final org.agrona.DirectBuffer headers, final int offset, final int length, final int receivedLength)
    {
        if (null != failure || null == channel)
        {
            return false;
        }
        final Path newPath = tmpPath.resolveSibling(id + ".headers");
        final long oldSize = messageSize;
        try (FileChannel out = FileChannel.open(newPath, CREATE, Spool.FILE_MODE))
        {
            final ByteBuffer copy = ByteBuffer.allocate(64 * 1024);
            copyRange(channel, 0, messageStart, out, copy, null);
            crc.reset();
            copyRange(channel, messageStart, receivedLength, out, copy, crc);
            final byte[] added = new byte[length];
            headers.getBytes(offset, added);
            crc.update(added);
            final ByteBuffer addedBuffer = ByteBuffer.wrap(added);
            while (addedBuffer.hasRemaining())
            {
                out.write(addedBuffer);
            }
            copyRange(channel, messageStart + receivedLength, oldSize - receivedLength, out, copy, crc);
            messageSize = oldSize + length;
            final FileChannel old = channel;
            channel = out;
            if (!finish())
            {
                channel = old;
                Files.deleteIfExists(newPath);
                return false;
            }
            channel = null;
            old.close();
        }
        catch (final IOException ex)
        {
            failure = ex;
            messageSize = oldSize;
            return false;
        }
        try
        {
            Files.move(newPath, tmpPath, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            channel = FileChannel.open(tmpPath, StandardOpenOption.WRITE);
            return true;
        }
        catch (final IOException ex)
        {
            failure = ex;
            return false;
        }
    }

    private static void copyRange(
        final FileChannel from,
        final long position,
        final long length,
        final FileChannel to,
        final ByteBuffer buffer,
        final CRC32C crc) throws IOException
    {
        long done = 0;
        while (done < length)
        {
            buffer.clear().limit((int)Math.min(buffer.capacity(), length - done));
            final int read = from.read(buffer, position + done);
            if (read < 0)
            {
                throw new IOException("spool file shorter than expected");
            }
            buffer.flip();
            if (null != crc)
            {
                crc.update(buffer);
                buffer.rewind();
            }
            while (buffer.hasRemaining())
            {
                to.write(buffer);
            }
            done += read;
        }
    }

    /** Syncer thread: give it back to its loop. */
    void complete(final long durableNs)
    {
        this.durableNs = durableNs;
        while (!completions.offer(this))
        {
            Thread.onSpinWait();
        }
        completionSignal.run();
    }

    /**
     * Loop thread: called when the loop drains its completion queue.
     */
    public void onCompletion()
    {
        listener.onSpoolCommitted(this);
    }

    public String id()
    {
        return id;
    }

    public long messageSize()
    {
        return messageSize;
    }

    /**
     * @return the CRC32C of the message part.
     */
    public int checksum()
    {
        return (int)crc.getValue();
    }

    /**
     * @return null when all went well, else the I/O error.
     */
    public IOException failure()
    {
        return failure;
    }

    /**
     * @return true when the failure is a full disk (or quota).
     */
    public boolean isDiskFull()
    {
        final String message = null == failure ? null : failure.getMessage();
        return null != message && (message.contains("No space left") || message.contains("quota"));
    }

    /**
     * @return ns from commit to durable-and-queued, by the loop's clock at commit and the syncer's at the end.
     */
    public long syncLatencyNs()
    {
        return durableNs - commitStartNs;
    }

    private void writePending() throws IOException
    {
        pending.flip();
        written += pending.remaining();
        writeFully(pending);
        pending.clear();
    }

    private void writeBuffered() throws IOException
    {
        writePending();
        releaseBuffer();
    }

    /**
     * Put the patch's bytes at a file position: in the buffer while the file's start is still there, else in the
     * file.
     */
    private void patchField(final long position) throws IOException
    {
        if (null == pending)
        {
            channel.write(patch, position);
            return;
        }
        for (int i = patch.position(); i < patch.limit(); i++)
        {
            pending.put((int)position + i, patch.get(i));
        }
    }

    private void releaseBuffer()
    {
        if (null != pending)
        {
            writeBuffers.release(pending);
            pending = null;
        }
    }

    private void writeFully(final ByteBuffer src) throws IOException
    {
        while (src.hasRemaining())
        {
            channel.write(src);
        }
    }

    private void closeQuietly()
    {
        if (null != channel)
        {
            try
            {
                channel.close();
            }
            catch (final IOException ignore)
            {
                // nothing more to lose: the data was either forced already or the message fails
            }
            channel = null;
        }
    }

    /**
     * @return a short text for logs.
     */
    public String toString()
    {
        return "SpoolFile{" + id + ", size=" + messageSize + (null == failure ? "" : ", failure=" + failure) + '}';
    }

    static byte[] ascii(final String s)
    {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
