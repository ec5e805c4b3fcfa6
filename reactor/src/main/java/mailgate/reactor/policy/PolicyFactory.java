package mailgate.reactor.policy;

import mailgate.reactor.status.LoopCounters;

/**
 * Makes the policy of one event loop: IPC-backed policies hold per-loop publications and subscriptions,
 * so each loop gets its own instance and no lock is shared.
 */
@FunctionalInterface
public interface PolicyFactory
{
    /**
     * @param loopId   the loop.
     * @param counters its counters.
     * @return the loop's policy.
     */
    SmtpPolicy newPolicy(int loopId, LoopCounters counters);
}
