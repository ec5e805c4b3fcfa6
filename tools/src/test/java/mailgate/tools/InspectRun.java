package mailgate.tools;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One in-process run of {@link InspectMain#run}: exit status and what it printed.
 */
final class InspectRun
{
    final int exit;
    final String out;
    final String err;

    private InspectRun(final int exit, final String out, final String err)
    {
        this.exit = exit;
        this.out = out;
        this.err = err;
    }

    static InspectRun of(final String... args)
    {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        final ByteArrayOutputStream err = new ByteArrayOutputStream();
        final int exit;
        try (PrintStream outStream = new PrintStream(out, true, StandardCharsets.UTF_8);
            PrintStream errStream = new PrintStream(err, true, StandardCharsets.UTF_8))
        {
            exit = InspectMain.run(args, outStream, errStream);
        }
        return new InspectRun(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * @return the single JSON object printed.
     */
    Map<String, Object> json()
    {
        return MiniJson.object(out);
    }

    /**
     * @return one JSON object per output line (--watch --json).
     */
    List<Map<String, Object>> jsonLines()
    {
        final List<Map<String, Object>> lines = new ArrayList<>();
        for (final String line : out.split("\n"))
        {
            if (!line.isBlank())
            {
                lines.add(MiniJson.object(line));
            }
        }
        return lines;
    }

    public String toString()
    {
        return "exit " + exit + "\n--- out ---\n" + out + "--- err ---\n" + err;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(final Object value)
    {
        return (Map<String, Object>)value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(final Object value)
    {
        return (List<Object>)value;
    }

    /**
     * @param counters the JSON of a counters run.
     * @param typeId   a type id.
     * @return the summed value of that type, or -1 when absent.
     */
    static long summary(final Map<String, Object> counters, final int typeId)
    {
        for (final Object row : list(counters.get("summary")))
        {
            if (((Number)map(row).get("typeId")).intValue() == typeId)
            {
                return ((Number)map(row).get("value")).longValue();
            }
        }
        return -1;
    }
}
