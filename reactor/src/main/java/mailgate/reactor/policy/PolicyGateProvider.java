package mailgate.reactor.policy;

import mailgate.reactor.SmtpdConfig;

/**
 * Service-provider interface ({@link java.util.ServiceLoader}) through which modules that the reactor does not
 * depend on (the rate tracker in subsystems/) put a {@link PolicyGate} in front of the policy seam.
 */
public interface PolicyGateProvider
{
    /**
     * @param config the daemon's settings.
     * @return the gate, or null when the configuration does not enable it.
     */
    PolicyGate create(SmtpdConfig config);
}
