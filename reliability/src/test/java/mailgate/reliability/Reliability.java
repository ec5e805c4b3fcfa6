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
     * @param queueFile a spool file whose message the test sent with a "Subject: ID" header.
     * @return that ID: which message the file holds.
     * @throws IOException if it cannot be read.
     */
    static String subject(final Path queueFile) throws IOException
    {
        final String text = Files.readString(queueFile, StandardCharsets.ISO_8859_1);
        final int at = text.indexOf("Subject: ");
        return text.substring(at + 9, text.indexOf("\r\n", at));
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
