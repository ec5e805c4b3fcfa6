/*
 * SUMMARY
 * The heap each child role of the supervisor gets.
 *
 * DESCRIPTION
 * smtpd holds the connections and wants a fixed, pre-touched heap (docs/tuning.md); the router, the filter,
 * the rate role, the handoff and the media driver keep their state off the heap or in small tables and would
 * waste that memory five times over (an idle "bin/mailgate run" measured 1.7 GB RSS across its JVMs when each
 * inherited the supervisor's pre-touched 256 MiB). A role's flags come from the system property
 * mailgate.ROLE.memory (space-separated JVM flags) when set, else from the defaults below; bin/mailgate sets
 * mailgate.smtpd.memory, and an operator overrides any role with MAILGATE_JVM_OPTS="-Dmailgate.filter.memory=...".
 */
package mailgate.supervisor;

import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Per-role heap flags for the supervisor's children.
 */
final class RoleMemory
{
    /** Defaults for the roles other than smtpd: small initial heaps that grow only when needed. */
    static final Map<String, String> DEFAULTS = Map.of(
        "driver", "-Xms16m -Xmx64m",
        "router", "-Xms16m -Xmx128m",
        // mime4j parses messages up to smtpd.message-size-limit on each of filter.workers threads
        "filter", "-Xms32m -Xmx256m",
        "rate", "-Xms16m -Xmx128m",
        "handoff", "-Xms16m -Xmx128m");

    private RoleMemory()
    {
    }

    /**
     * @param role       child role.
     * @param properties the supervisor's system properties.
     * @return the role's heap flags, or null to keep the supervisor's own (smtpd without mailgate.smtpd.memory).
     */
    static List<String> flags(final String role, final Properties properties)
    {
        final String value = properties.getProperty("mailgate." + role + ".memory", DEFAULTS.get(role));
        return null == value || value.isBlank() ? null : List.of(value.strip().split("\\s+"));
    }

    /**
     * @param jvmArg one JVM argument.
     * @return true for the flags a role's memory setting replaces.
     */
    static boolean isMemoryFlag(final String jvmArg)
    {
        return jvmArg.startsWith("-Xms") || jvmArg.startsWith("-Xmx") || jvmArg.endsWith("AlwaysPreTouch");
    }
}
