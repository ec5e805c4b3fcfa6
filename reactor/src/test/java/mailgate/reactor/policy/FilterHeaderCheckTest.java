package mailgate.reactor.policy;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Header lines a content filter asks to add may not end the header section or smuggle line ends.
 */
class FilterHeaderCheckTest
{
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "one header|X-Spam: no\\r\\n|true",
        "two headers|X-A: 1\\r\\nX-B: 2\\r\\n|true",
        "folded|X-A: 1\\r\\n\\tmore\\r\\n|true",
        "no CRLF at end|X-A: 1|false",
        "bare LF|X-A: 1\\nX-B: 2\\r\\n|false",
        "bare CR|X-A: 1\\rX-B: 2\\r\\n|false",
        "blank line ends headers|X-A: 1\\r\\n\\r\\nbody\\r\\n|false",
        "no colon|Not a header\\r\\n|false",
        "empty name|: value\\r\\n|false",
        "continuation first|\\tvalue\\r\\n|false",
        "NUL|X-A: \\u0000\\r\\n|false"})
    void check(final String name, final String text, final boolean valid)
    {
        final byte[] bytes = text.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t")
            .replace("\\u0000", "\0").getBytes(StandardCharsets.UTF_8);
        assertEquals(valid, FilterPolicy.isHeaderBlock(new UnsafeBuffer(bytes), bytes.length), name);
    }
}
