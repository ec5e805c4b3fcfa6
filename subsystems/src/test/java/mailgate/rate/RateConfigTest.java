package mailgate.rate;

import mailgate.reactor.ConfigException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The replication settings of a rate config: defaults, the in-flight budget switch, and the replaced interval
 * setting refused with file:line and a pointer to its successor.
 */
class RateConfigTest
{
    private static final String KEY = "rate.cluster-key = 000102030405060708090a0b0c0d0e0f";

    @Test
    void defaultsShipAtOnceAndBudgetInACluster()
    {
        final RateConfig config = RateConfig.parse("r.conf", List.of("rate.node-id = 1", "rate.listen = 127.0.0.1:1",
            KEY, "rate.peer.0 = 127.0.0.1:2"));
        assertEquals(RateConfig.COALESCE_US_DEFAULT, config.coalesceUs());
        assertEquals(RateConfig.IDLE_PARK_MAX_US_DEFAULT, config.idleParkMaxUs());
        assertTrue(config.inflightBudget());
        final RateConfig off = RateConfig.parse("r.conf", List.of("rate.node-id = 1", "rate.listen = 127.0.0.1:1",
            KEY, "rate.peer.0 = 127.0.0.1:2", "rate.inflight-budget = off", "rate.replication-coalesce-us = 0"));
        assertFalse(off.inflightBudget());
        assertEquals(0, off.coalesceUs());
    }

    @Test
    void badValuesAndTheOldIntervalAreRefusedWithFileAndLine()
    {
        final ConfigException old = assertThrows(ConfigException.class, () -> RateConfig.parse("r.conf",
            List.of("# cluster", "rate.replication-interval-ms = 10")));
        assertTrue(old.getMessage().startsWith("r.conf:2: rate.replication-interval-ms was replaced by " +
            "rate.replication-coalesce-us"), old.getMessage());
        final ConfigException budget = assertThrows(ConfigException.class, () -> RateConfig.parse("r.conf",
            List.of("rate.inflight-budget = maybe")));
        assertEquals("r.conf:1: rate.inflight-budget: expected on or off, got 'maybe'", budget.getMessage());
        final ConfigException park = assertThrows(ConfigException.class, () -> RateConfig.parse("r.conf",
            List.of("rate.idle-park-max-us = 0")));
        assertEquals("r.conf:1: rate.idle-park-max-us must be 10..100000, got 0", park.getMessage());
    }
}
