package mailgate.reactor.policy;

/**
 * What a content filter decided for an accepted message (a refusal goes through {@link PolicyQuery#reject}).
 */
public enum MessageAction
{
    /** Queue it as received. */
    ACCEPT,
    /** Queue it with header lines added after the Received header. */
    ADD_HEADERS,
    /** Tell the client 250, keep nothing. */
    DISCARD,
    /** Tell the client 250, keep it in quarantine/ instead of queue/. */
    QUARANTINE
}
