/*
 * SUMMARY
 * One pass over the counters of a media driver's CnC file, sorted into what an operator asks about:
 * clients, publications, subscriptions (with lag), driver system counters and mailgate's own Aeron counters.
 *
 * DESCRIPTION
 * The driver keeps one counter per publication position (pub-pos, type 12) and limit (pub-lmt, type 1),
 * one per subscriber position per image (sub-pos, type 4) and one heartbeat per client (type 11); their keys
 * hold registration id, session id, stream id and channel (io.aeron.driver.status.StreamCounter), and the
 * counter's owner id is the client that asked for it. A publication and the images of it are the same
 * (session id, stream id), so lag is the publisher position less the slowest subscriber position.
 *
 * Which process is a client: Aeron does not record pids. The tool takes them, in order, from a "pid=N" in
 * the client name, from the role whose counters the client owns (router 2100-2149, filter 2150-2199,
 * rate 2200-2299) matched to the one process of that role that maps cnc.dat (Linux /proc), or, when the
 * pairing is unambiguous, from the only process left. Otherwise it shows the client id alone.
 *
 * LIMITS
 * For IPC the driver samples pub-pos on its duty cycle, so a subscriber may briefly be ahead of it; lag is
 * then shown as 0. Values are read one by one, not as one atomic snapshot.
 */
package mailgate.tools;

import io.aeron.AeronCounters;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.status.CountersReader;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Publications, subscriptions, clients and counters read from one CnC file at one moment.
 */
final class IpcSnapshot
{
    /** First type id of mailgate's own Aeron counters. */
    static final int MAILGATE_FIRST_TYPE_ID = 2000;
    /** Last type id of mailgate's own Aeron counters. */
    static final int MAILGATE_LAST_TYPE_ID = 2999;

    private static final int REGISTRATION_ID_OFFSET = 0;
    private static final int SESSION_ID_OFFSET = 8;
    private static final int STREAM_ID_OFFSET = 12;
    private static final int CHANNEL_OFFSET = 16;

    private static final Pattern CLIENT_NAME = Pattern.compile(" name=(.*?)(?: version=.*)?$");
    private static final Pattern PID_IN_NAME = Pattern.compile("\\bpid[=:](\\d+)");
    private static final Pattern ROLE_IN_NAME = Pattern.compile("\\b(smtpd|router|filter|rate|supervisor)\\b");

    /** One client of the driver: its heartbeat and, when known, its process. */
    static final class Client
    {
        final int counterId;
        final long clientId;
        final long heartbeatMs;
        final String name;
        final String label;
        String role;
        long pid = -1;
        String pidSource;
        String command;

        Client(final int counterId, final long clientId, final long heartbeatMs, final String name, final String label)
        {
            this.counterId = counterId;
            this.clientId = clientId;
            this.heartbeatMs = heartbeatMs;
            this.name = name;
            this.label = label;
        }
    }

    /** One publication: its pub-pos and pub-lmt counters. */
    static final class Publication
    {
        final long registrationId;
        final int sessionId;
        final int streamId;
        final String channel;
        final long clientId;
        int positionCounterId = CountersReader.NULL_COUNTER_ID;
        String label = "";
        long position = -1;
        long limit = -1;
        int subscribers;
        long slowestSubscriberPosition = Long.MAX_VALUE;

        Publication(final long registrationId, final int sessionId, final int streamId, final String channel,
            final long clientId)
        {
            this.registrationId = registrationId;
            this.sessionId = sessionId;
            this.streamId = streamId;
            this.channel = channel;
            this.clientId = clientId;
        }

        /**
         * @return bytes the slowest subscriber is behind, or -1 when nobody subscribes (or no position).
         */
        long lag()
        {
            return 0 == subscribers || position < 0 ? -1 : Math.max(0, position - slowestSubscriberPosition);
        }

        /**
         * @return bytes the publisher may still write before it is back-pressured (limit less position).
         */
        long window()
        {
            return position < 0 || limit < 0 ? -1 : limit - position;
        }
    }

    /** One subscriber position: one subscription's view of one image. */
    static final class Subscription
    {
        final int counterId;
        final long registrationId;
        final int sessionId;
        final int streamId;
        final String channel;
        final long clientId;
        final long position;
        final String label;
        long lag = -1;

        Subscription(final int counterId, final long registrationId, final int sessionId, final int streamId,
            final String channel, final long clientId, final long position, final String label)
        {
            this.counterId = counterId;
            this.registrationId = registrationId;
            this.sessionId = sessionId;
            this.streamId = streamId;
            this.channel = channel;
            this.clientId = clientId;
            this.position = position;
            this.label = label;
        }
    }

    /** Any other counter shown as it is: a driver system counter or one of mailgate's. */
    static final class Counter
    {
        final int counterId;
        final int typeId;
        final int key;
        final String label;
        final long value;
        final long ownerId;

        Counter(final int counterId, final int typeId, final int key, final String label, final long value,
            final long ownerId)
        {
            this.counterId = counterId;
            this.typeId = typeId;
            this.key = key;
            this.label = label;
            this.value = value;
            this.ownerId = ownerId;
        }
    }

    final long timeMs;
    final long nanoTime;
    final List<Client> clients = new ArrayList<>();
    final List<Publication> publications = new ArrayList<>();
    final List<Subscription> subscriptions = new ArrayList<>();
    final List<Counter> system = new ArrayList<>();
    final List<Counter> mailgate = new ArrayList<>();

    private IpcSnapshot(final long timeMs, final long nanoTime)
    {
        this.timeMs = timeMs;
        this.nanoTime = nanoTime;
    }

    /**
     * @param typeId a type id in mailgate's range.
     * @return the role that registers counters of that type: router, filter, rate, or mailgate.
     */
    static String roleOfTypeId(final int typeId)
    {
        if (typeId >= 2100 && typeId <= 2149)
        {
            return "router";
        }
        if (typeId >= 2150 && typeId <= 2199)
        {
            return "filter";
        }
        if (typeId >= 2200 && typeId <= 2299)
        {
            return "rate";
        }
        return "mailgate";
    }

    /**
     * Read every counter once.
     *
     * @param reader      the mapped CnC file.
     * @param attached    processes that map the CnC file, or null to not look for pids.
     * @return the snapshot.
     */
    static IpcSnapshot read(final CncFileReader reader, final List<AttachedProcesses.Attached> attached)
    {
        final IpcSnapshot snapshot = new IpcSnapshot(System.currentTimeMillis(), System.nanoTime());
        final CountersReader counters = reader.counters();
        final Map<Long, Publication> byRegistrationId = new HashMap<>();
        counters.forEach(
            (counterId, typeId, keyBuffer, label) ->
            {
                final long value = counters.getCounterValue(counterId);
                final long ownerId = counters.getCounterOwnerId(counterId);
                switch (typeId)
                {
                    case AeronCounters.DRIVER_SYSTEM_COUNTER_TYPE_ID:
                        snapshot.system.add(new Counter(counterId, typeId, keyBuffer.getInt(0), label, value, ownerId));
                        break;
                    case AeronCounters.DRIVER_HEARTBEAT_TYPE_ID:
                    {
                        final Matcher name = CLIENT_NAME.matcher(label);
                        snapshot.clients.add(new Client(counterId, keyBuffer.getLong(REGISTRATION_ID_OFFSET), value,
                            name.find() ? name.group(1).trim() : "", label));
                        break;
                    }
                    case AeronCounters.DRIVER_PUBLISHER_POS_TYPE_ID:
                    case AeronCounters.DRIVER_PUBLISHER_LIMIT_TYPE_ID:
                    {
                        final long registrationId = keyBuffer.getLong(REGISTRATION_ID_OFFSET);
                        Publication publication = byRegistrationId.get(registrationId);
                        if (null == publication)
                        {
                            publication = new Publication(registrationId, keyBuffer.getInt(SESSION_ID_OFFSET),
                                keyBuffer.getInt(STREAM_ID_OFFSET), channel(keyBuffer), ownerId);
                            byRegistrationId.put(registrationId, publication);
                            snapshot.publications.add(publication);
                        }
                        if (AeronCounters.DRIVER_PUBLISHER_POS_TYPE_ID == typeId)
                        {
                            publication.position = value;
                            publication.positionCounterId = counterId;
                            publication.label = label;
                        }
                        else
                        {
                            publication.limit = value;
                            if (publication.label.isEmpty())
                            {
                                publication.label = label;
                            }
                        }
                        break;
                    }
                    case AeronCounters.DRIVER_SUBSCRIBER_POSITION_TYPE_ID:
                        snapshot.subscriptions.add(new Subscription(counterId, keyBuffer.getLong(REGISTRATION_ID_OFFSET),
                            keyBuffer.getInt(SESSION_ID_OFFSET), keyBuffer.getInt(STREAM_ID_OFFSET), channel(keyBuffer),
                            ownerId, value, label));
                        break;
                    default:
                        if (typeId >= MAILGATE_FIRST_TYPE_ID && typeId <= MAILGATE_LAST_TYPE_ID)
                        {
                            snapshot.mailgate.add(new Counter(counterId, typeId, 0, label, value, ownerId));
                        }
                        break;
                }
            });

        for (final Subscription subscription : snapshot.subscriptions)
        {
            final Publication publication = snapshot.publicationOf(subscription.sessionId, subscription.streamId);
            if (null != publication)
            {
                publication.subscribers++;
                publication.slowestSubscriberPosition =
                    Math.min(publication.slowestSubscriberPosition, subscription.position);
                subscription.lag = publication.position < 0 ? -1 :
                    Math.max(0, publication.position - subscription.position);
            }
        }
        if (null != attached)
        {
            snapshot.assignProcesses(reader.pid(), attached);
        }
        return snapshot;
    }

    /**
     * @param sessionId session of an image.
     * @param streamId  stream of an image.
     * @return the publication the image is of, or null when it is not in this driver (or gone).
     */
    Publication publicationOf(final int sessionId, final int streamId)
    {
        for (final Publication publication : publications)
        {
            if (publication.sessionId == sessionId && publication.streamId == streamId)
            {
                return publication;
            }
        }
        return null;
    }

    /**
     * @param clientId a client id (counter owner id).
     * @return that client, or null when it has no heartbeat counter (gone, or the driver itself).
     */
    Client client(final long clientId)
    {
        for (final Client client : clients)
        {
            if (client.clientId == clientId)
            {
                return client;
            }
        }
        return null;
    }

    private void assignProcesses(final long driverPid, final List<AttachedProcesses.Attached> attached)
    {
        final List<AttachedProcesses.Attached> unassigned = new ArrayList<>(attached);
        for (final Client client : clients)
        {
            final Matcher pid = PID_IN_NAME.matcher(client.name);
            if (pid.find())
            {
                client.pid = Long.parseLong(pid.group(1));
                client.pidSource = "client name";
            }
            final Matcher role = ROLE_IN_NAME.matcher(client.name);
            if (role.find())
            {
                client.role = role.group(1);
            }
            for (final Counter counter : mailgate)
            {
                if (null == client.role && counter.ownerId == client.clientId)
                {
                    client.role = roleOfTypeId(counter.typeId);
                }
            }
        }
        for (final Client client : clients)
        {
            if (client.pid < 0 && null != client.role)
            {
                AttachedProcesses.Attached match = null;
                int matches = 0;
                for (final AttachedProcesses.Attached process : unassigned)
                {
                    if (client.role.equals(process.role))
                    {
                        match = process;
                        matches++;
                    }
                }
                if (1 == matches)
                {
                    client.pid = match.pid;
                    client.pidSource = "role";
                }
            }
            if (client.pid >= 0)
            {
                unassigned.removeIf((process) -> process.pid == client.pid);
            }
        }
        final List<Client> left = new ArrayList<>();
        for (final Client client : clients)
        {
            if (client.pid < 0)
            {
                left.add(client);
            }
        }
        final boolean onlyDriver = 1 == attached.size() && attached.get(0).pid == driverPid;
        unassigned.removeIf((process) -> process.pid == driverPid);
        if (onlyDriver)
        {
            for (final Client client : left)
            {
                client.pid = driverPid;
                client.pidSource = "only process attached";
            }
        }
        else if (1 == left.size() && 1 == unassigned.size())
        {
            left.get(0).pid = unassigned.get(0).pid;
            left.get(0).pidSource = "only process left";
        }
        for (final Client client : clients)
        {
            for (final AttachedProcesses.Attached process : attached)
            {
                if (process.pid == client.pid)
                {
                    client.command = process.command;
                    if (null == client.role)
                    {
                        client.role = process.role;
                    }
                }
            }
        }
    }

    private static String channel(final DirectBuffer keyBuffer)
    {
        final int length = keyBuffer.getInt(CHANNEL_OFFSET);
        if (length <= 0 || length > CountersReader.MAX_KEY_LENGTH - CHANNEL_OFFSET - 4)
        {
            return "";
        }
        return keyBuffer.getStringWithoutLengthAscii(CHANNEL_OFFSET + 4, length);
    }
}
