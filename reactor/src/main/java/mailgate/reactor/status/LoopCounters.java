package mailgate.reactor.status;

import org.agrona.concurrent.status.AtomicCounter;
import org.agrona.concurrent.status.CountersManager;

/**
 * The counters of one event loop; each has a single writer (the loop), so increments are plain ordered
 * stores, no locked instructions.
 */
public final class LoopCounters
{
    public final AtomicCounter connectionsAccepted;
    public final AtomicCounter connectionsRefused;
    public final AtomicCounter connectionsActive;
    public final AtomicCounter commands;
    public final AtomicCounter replies2xx;
    public final AtomicCounter replies3xx;
    public final AtomicCounter replies4xx;
    public final AtomicCounter replies5xx;
    public final AtomicCounter messagesQueued;
    public final AtomicCounter messagesRefused;
    public final AtomicCounter bytesReceived;
    public final AtomicCounter spoolBytes;
    public final AtomicCounter timeouts;
    public final AtomicCounter earlyTalkers;
    public final AtomicCounter bareLf;
    public final AtomicCounter errorLimit;
    public final AtomicCounter policyQueries;
    public final AtomicCounter policyTimeouts;
    public final AtomicCounter ipcRequests;
    public final AtomicCounter ipcUnavailable;
    public final AtomicCounter ipcOfferFailures;
    public final AtomicCounter ipcRepliesDropped;
    public final AtomicCounter acceptFailures;
    public final AtomicCounter ipcReconnects;

    /**
     * @param manager where to allocate.
     * @param loopId  the loop, named in every label.
     */
    public LoopCounters(final CountersManager manager, final int loopId)
    {
        connectionsAccepted = allocate(manager, SmtpdCounter.CONNECTIONS_ACCEPTED, loopId);
        connectionsRefused = allocate(manager, SmtpdCounter.CONNECTIONS_REFUSED, loopId);
        connectionsActive = allocate(manager, SmtpdCounter.CONNECTIONS_ACTIVE, loopId);
        commands = allocate(manager, SmtpdCounter.COMMANDS, loopId);
        replies2xx = allocate(manager, SmtpdCounter.REPLIES_2XX, loopId);
        replies3xx = allocate(manager, SmtpdCounter.REPLIES_3XX, loopId);
        replies4xx = allocate(manager, SmtpdCounter.REPLIES_4XX, loopId);
        replies5xx = allocate(manager, SmtpdCounter.REPLIES_5XX, loopId);
        messagesQueued = allocate(manager, SmtpdCounter.MESSAGES_QUEUED, loopId);
        messagesRefused = allocate(manager, SmtpdCounter.MESSAGES_REFUSED, loopId);
        bytesReceived = allocate(manager, SmtpdCounter.BYTES_RECEIVED, loopId);
        spoolBytes = allocate(manager, SmtpdCounter.SPOOL_BYTES, loopId);
        timeouts = allocate(manager, SmtpdCounter.TIMEOUTS, loopId);
        earlyTalkers = allocate(manager, SmtpdCounter.EARLY_TALKERS, loopId);
        bareLf = allocate(manager, SmtpdCounter.BARE_LF, loopId);
        errorLimit = allocate(manager, SmtpdCounter.ERROR_LIMIT, loopId);
        policyQueries = allocate(manager, SmtpdCounter.POLICY_QUERIES, loopId);
        policyTimeouts = allocate(manager, SmtpdCounter.POLICY_TIMEOUTS, loopId);
        ipcRequests = allocate(manager, SmtpdCounter.IPC_REQUESTS, loopId);
        ipcUnavailable = allocate(manager, SmtpdCounter.IPC_UNAVAILABLE, loopId);
        ipcOfferFailures = allocate(manager, SmtpdCounter.IPC_OFFER_FAILURES, loopId);
        ipcRepliesDropped = allocate(manager, SmtpdCounter.IPC_REPLIES_DROPPED, loopId);
        acceptFailures = allocate(manager, SmtpdCounter.ACCEPT_FAILURES, loopId);
        ipcReconnects = allocate(manager, SmtpdCounter.IPC_RECONNECTS, loopId);
    }

    /**
     * Allocate one counter labelled with its owner.
     *
     * @param manager    where.
     * @param descriptor which.
     * @param loopId     owner loop, or -1 for a process-wide counter.
     * @return the counter.
     */
    public static AtomicCounter allocate(final CountersManager manager, final SmtpdCounter descriptor, final int loopId)
    {
        final String label = loopId < 0 ? descriptor.label() : descriptor.label() + ": loop " + loopId;
        return manager.newCounter(label, descriptor.typeId());
    }

    /**
     * Count a reply by its class (first digit).
     *
     * @param firstDigit '2'..'5'.
     */
    public void onReply(final byte firstDigit)
    {
        switch (firstDigit)
        {
            case '2':
                replies2xx.incrementRelease();
                break;
            case '3':
                replies3xx.incrementRelease();
                break;
            case '4':
                replies4xx.incrementRelease();
                break;
            default:
                replies5xx.incrementRelease();
                break;
        }
    }
}
