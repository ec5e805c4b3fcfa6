package mailgate.reliability;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Short form (CI) or long form (-Dreliability.long=true) counts, and the figures a run reports.
 */
final class Reliability
{
    static final boolean LONG = Boolean.getBoolean("reliability.long");

    private Reliability()
    {
    }

    static int count(final int shortForm, final int longForm)
    {
        return LONG ? longForm : shortForm;
    }

    /**
     * Record one figure: to stdout (surefire report) and to target/reliability-figures.txt.
     *
     * @param text the figure.
     */
    static synchronized void figure(final String text)
    {
        final String line = "FIGURE " + (LONG ? "[long] " : "[short] ") + text;
        System.out.println(line);
        try
        {
            final Path file = Path.of("target", "reliability-figures.txt");
            Files.createDirectories(file.getParent());
            Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
    }
}
