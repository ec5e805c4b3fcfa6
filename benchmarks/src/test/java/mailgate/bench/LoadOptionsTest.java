/*
 * SUMMARY
 * Unit tests of command-line parsing: defaults, both flag forms, and clear errors for bad flags.
 */
package mailgate.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoadOptionsTest
{
    @Test
    void defaults()
    {
        final LoadOptions o = LoadOptions.parse();
        assertEquals("127.0.0.1", o.host());
        assertEquals(2525, o.port());
        assertEquals(20, o.connections());
        assertEquals(10_000, o.messages());
        assertEquals(100, o.perConnection());
        assertEquals(1024, o.size());
        assertEquals(1, o.recipients());
        assertTrue(o.pipelining());
        assertFalse(o.bdat());
        assertEquals(0, o.rate());
        assertEquals(0, o.durationSeconds());
        assertEquals(0, o.warmupSeconds());
        assertFalse(o.json());
        assertNull(o.reportDir());
        assertEquals(30_000, o.timeoutMs());
        assertEquals("loadgen@example.test", o.from());
        assertArrayEquals(new String[]{"sink@example.test"}, o.recipientAddresses());
    }

    @Test
    void bothFlagForms()
    {
        final LoadOptions o = LoadOptions.parse("--target", "[::1]:25", "--connections=7", "--recipients", "3",
            "--pipelining", "off", "--bdat=on", "--rate", "250.5", "--json", "--to", "rcpt@mx.test");
        assertEquals("::1", o.host());
        assertEquals(25, o.port());
        assertEquals("[::1]:25", o.target());
        assertEquals(7, o.connections());
        assertFalse(o.pipelining());
        assertTrue(o.bdat());
        assertEquals(250.5, o.rate());
        assertTrue(o.json());
        assertArrayEquals(new String[]{"rcpt+1@mx.test", "rcpt+2@mx.test", "rcpt+3@mx.test"}, o.recipientAddresses());
    }

    @Test
    void badFlagsSayWhatIsWrong(@TempDir final Path empty)
    {
        assertError("unknown flag --nope", "--nope", "1");
        assertError("--messages needs a value", "--messages");
        assertError("--connections must be an integer, got 'x'", "--connections", "x");
        assertError("--connections must be between 1", "--connections", "0");
        assertError("--target must be HOST:PORT", "--target", "localhost");
        assertError("--target port must be between 1 and 65535", "--target", "127.0.0.1:70000");
        assertError("--pipelining must be on or off, got 'maybe'", "--pipelining", "maybe");
        assertError("--rate must be a number", "--rate", "fast");
        assertError("--from must be an address", "--from", "nobody");
        assertError("--json takes no value", "--json=yes");
        assertError("unexpected argument 'extra'", "extra");
        assertError("--size and --eml-dir cannot be used together", "--size", "10", "--eml-dir", empty.toString());
        assertError("has no .eml files", "--eml-dir", empty.toString());
        assertError("is not a directory", "--eml-dir", empty.resolve("missing").toString());
        assertError("--warmup (5.0 s) must be shorter than --duration", "--warmup", "5", "--duration", "5");
        assertError("--warmup and --warmup-messages cannot be used together",
            "--warmup", "1", "--warmup-messages", "5");
        assertError("--warmup-messages (10) must be fewer than --messages (10)", "--warmup-messages", "10",
            "--messages", "10");
    }

    private static void assertError(final String expected, final String... args)
    {
        final UsageException ex = assertThrows(UsageException.class, () -> LoadOptions.parse(args));
        assertTrue(ex.getMessage().contains(expected), "'" + ex.getMessage() + "' should contain '" + expected + "'");
    }
}
