package mailgate.rate;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.ByteOrder;

/**
 * A view over one replication packet: a header, up to {@link #MAX_ENTRIES} (key, slot) entries and an HMAC.
 * <pre>
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +---------------------------------------------------------------+
 *  |                       Magic 'MGRT' (0x5452474D)               |
 *  +---------------+---------------+-------------------------------+
 *  |   Version     |  Source node  |          Entry count          |
 *  +---------------+---------------+-------------------------------+
 *  |                  Sequence (per source, increasing)            |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |                   Sent time (epoch nanoseconds)               |
 *  |                                                               |
 *  +---------------------------------------------------------------+
 *  |        Entry 0: key (24 bytes, see Subject) then the          |
 *  |        source node's slot (504 bytes, see SlotDescriptor)   ...
 *  +---------------------------------------------------------------+
 *  |                           Entry 1                           ...
 *  +---------------------------------------------------------------+
 *  |   HMAC-SHA256 under the cluster key of all bytes before it,   |
 *  |   truncated to 16 bytes                                     ...
 *  +---------------------------------------------------------------+
 * </pre>
 * All integers little-endian. A receiver checks, in order: length at least header plus MAC and equal to what
 * the entry count implies (else malformed), magic and version (malformed), source node is a configured peer
 * (unknown node), the MAC (bad MAC), the sequence above the last accepted from that source (replay).
 */
public final class ReplicationFlyweight
{
    /** 'MGRT' little-endian. */
    public static final int MAGIC = 0x5452474D;
    /** Protocol version. */
    public static final int VERSION = 1;
    /** Offset of the magic. */
    public static final int MAGIC_OFFSET = 0;
    /** Offset of the version. */
    public static final int VERSION_OFFSET = 4;
    /** Offset of the source node. */
    public static final int SOURCE_OFFSET = 5;
    /** Offset of the entry count. */
    public static final int COUNT_OFFSET = 6;
    /** Offset of the sequence. */
    public static final int SEQUENCE_OFFSET = 8;
    /** Offset of the sent time. */
    public static final int SENT_TIME_OFFSET = 16;
    /** Length of the header. */
    public static final int HEADER_LENGTH = 24;
    /** Length of one entry. */
    public static final int ENTRY_LENGTH = Subject.KEY_LENGTH + SlotDescriptor.SLOT_LENGTH;
    /** Length of the truncated MAC. */
    public static final int MAC_LENGTH = 16;
    /** Most entries per packet (about 8.5 KB; Aeron fragments and reassembles it). */
    public static final int MAX_ENTRIES = 16;
    /** Longest packet. */
    public static final int MAX_LENGTH = HEADER_LENGTH + MAX_ENTRIES * ENTRY_LENGTH + MAC_LENGTH;

    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private MutableDirectBuffer buffer;
    private int offset;

    /**
     * @param buffer the buffer.
     * @param offset where the packet starts.
     * @return this.
     */
    public ReplicationFlyweight wrap(final MutableDirectBuffer buffer, final int offset)
    {
        this.buffer = buffer;
        this.offset = offset;
        return this;
    }

    /**
     * @param entries entry count.
     * @return the packet length with that many entries, MAC included.
     */
    public static int length(final int entries)
    {
        return HEADER_LENGTH + entries * ENTRY_LENGTH + MAC_LENGTH;
    }

    /**
     * @param length a received packet length.
     * @return the entry count it implies, or -1 when it cannot be a packet.
     */
    public static int entriesForLength(final int length)
    {
        final int body = length - HEADER_LENGTH - MAC_LENGTH;
        if (body < 0 || body % ENTRY_LENGTH != 0 || body / ENTRY_LENGTH > MAX_ENTRIES)
        {
            return -1;
        }
        return body / ENTRY_LENGTH;
    }

    /**
     * Write the header.
     *
     * @param source     the sending node.
     * @param count      entries.
     * @param sequence   the packet sequence.
     * @param sentTimeNs epoch nanoseconds.
     * @return this.
     */
    public ReplicationFlyweight header(final int source, final int count, final long sequence, final long sentTimeNs)
    {
        buffer.putInt(offset + MAGIC_OFFSET, MAGIC, ORDER);
        buffer.putByte(offset + VERSION_OFFSET, (byte)VERSION);
        buffer.putByte(offset + SOURCE_OFFSET, (byte)source);
        buffer.putShort(offset + COUNT_OFFSET, (short)count, ORDER);
        buffer.putLong(offset + SEQUENCE_OFFSET, sequence, ORDER);
        buffer.putLong(offset + SENT_TIME_OFFSET, sentTimeNs, ORDER);
        return this;
    }

    /**
     * @param count a new entry count.
     * @return this.
     */
    public ReplicationFlyweight count(final int count)
    {
        buffer.putShort(offset + COUNT_OFFSET, (short)count, ORDER);
        return this;
    }

    /**
     * @return the magic.
     */
    public int magic()
    {
        return buffer.getInt(offset + MAGIC_OFFSET, ORDER);
    }

    /**
     * @return the version.
     */
    public int version()
    {
        return buffer.getByte(offset + VERSION_OFFSET) & 0xFF;
    }

    /**
     * @return the source node.
     */
    public int source()
    {
        return buffer.getByte(offset + SOURCE_OFFSET) & 0xFF;
    }

    /**
     * @return the entry count.
     */
    public int count()
    {
        return buffer.getShort(offset + COUNT_OFFSET, ORDER) & 0xFFFF;
    }

    /**
     * @return the sequence.
     */
    public long sequence()
    {
        return buffer.getLong(offset + SEQUENCE_OFFSET, ORDER);
    }

    /**
     * @return the sent time, epoch nanoseconds.
     */
    public long sentTimeNs()
    {
        return buffer.getLong(offset + SENT_TIME_OFFSET, ORDER);
    }

    /**
     * @param index entry index.
     * @return offset of the entry's key in the buffer.
     */
    public int keyOffset(final int index)
    {
        return offset + HEADER_LENGTH + index * ENTRY_LENGTH;
    }

    /**
     * @param index entry index.
     * @return offset of the entry's slot in the buffer.
     */
    public int slotOffset(final int index)
    {
        return keyOffset(index) + Subject.KEY_LENGTH;
    }

    /**
     * @param count entries.
     * @return offset of the MAC in the buffer.
     */
    public int macOffset(final int count)
    {
        return offset + HEADER_LENGTH + count * ENTRY_LENGTH;
    }

    /**
     * @return the buffer.
     */
    public DirectBuffer buffer()
    {
        return buffer;
    }
}
