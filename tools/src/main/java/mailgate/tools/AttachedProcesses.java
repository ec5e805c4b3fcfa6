/*
 * SUMMARY
 * Which processes have a file mapped: the Aeron clients and driver attached to a CnC file, found in /proc.
 *
 * DESCRIPTION
 * Every Aeron client and the driver keep cnc.dat mapped for their lifetime, so /proc/<pid>/maps names it.
 * For each such process the role comes from its command line: "-Dmailgate.role=ROLE" (bin/mailgate sets
 * it) or an argv[0] of "mailgate: ROLE". The inspector's own process is left out unless it is the driver.
 *
 * LIMITS
 * Linux only (elsewhere the list is empty). Only processes whose maps we may read, i.e. our own user's
 * (or all, as root), and only in our pid namespace. A scan reads every readable maps file, so it costs
 * a few milliseconds per hundred processes.
 */
package mailgate.tools;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds the processes that map a given file.
 */
final class AttachedProcesses
{
    private static final Path PROC = Path.of("/proc");
    private static final String ROLE_PROPERTY = "-Dmailgate.role=";
    private static final String ARGV0_PREFIX = "mailgate: ";

    /** One process mapping the file. */
    static final class Attached
    {
        final long pid;
        final String role;
        final String command;

        Attached(final long pid, final String role, final String command)
        {
            this.pid = pid;
            this.role = role;
            this.command = command;
        }
    }

    private AttachedProcesses()
    {
    }

    /**
     * @param file      the mapped file (absolute, normalised).
     * @param driverPid pid of the driver, kept even when it is this process.
     * @return the processes mapping it, by pid; empty when /proc is not there.
     */
    static List<Attached> scan(final Path file, final long driverPid)
    {
        final List<Attached> attached = new ArrayList<>();
        if (!Files.isDirectory(PROC))
        {
            return attached;
        }
        final String target = file.toString();
        final long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(PROC, "[0-9]*"))
        {
            for (final Path entry : entries)
            {
                final long pid;
                try
                {
                    pid = Long.parseLong(entry.getFileName().toString());
                }
                catch (final NumberFormatException ex)
                {
                    continue;
                }
                if ((pid != self || pid == driverPid) && maps(entry.resolve("maps"), target))
                {
                    final List<String> argv = commandLine(entry.resolve("cmdline"));
                    attached.add(new Attached(pid, role(argv), command(argv)));
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return attached;
        }
        attached.sort((a, b) -> Long.compare(a.pid, b.pid));
        return attached;
    }

    private static boolean maps(final Path maps, final String target)
    {
        try (BufferedReader reader = Files.newBufferedReader(maps, StandardCharsets.ISO_8859_1))
        {
            String line;
            while (null != (line = reader.readLine()))
            {
                final int at = line.indexOf(target);
                if (at > 0)
                {
                    final int end = at + target.length();
                    if (end == line.length() || line.startsWith(" (deleted)", end))
                    {
                        return true;
                    }
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return false;
        }
        return false;
    }

    private static List<String> commandLine(final Path cmdline)
    {
        final List<String> argv = new ArrayList<>();
        try
        {
            final String all = Files.readString(cmdline, StandardCharsets.ISO_8859_1);
            int start = 0;
            for (int i = 0; i < all.length(); i++)
            {
                if ('\0' == all.charAt(i))
                {
                    argv.add(all.substring(start, i));
                    start = i + 1;
                }
            }
            if (start < all.length())
            {
                argv.add(all.substring(start));
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return argv;
        }
        return argv;
    }

    /**
     * @param argv a command line.
     * @return argv[0], and for a plain "java" the main class too ("java mailgate.ipc.DriverMain").
     */
    static String command(final List<String> argv)
    {
        if (argv.isEmpty())
        {
            return "";
        }
        final String argv0 = argv.get(0);
        if (!argv0.equals("java") && !argv0.endsWith("/java"))
        {
            return argv0;
        }
        for (int i = 1; i < argv.size(); i++)
        {
            final String arg = argv.get(i);
            if ("-cp".equals(arg) || "-classpath".equals(arg) || "--class-path".equals(arg) ||
                "--add-exports".equals(arg) || "--add-opens".equals(arg) || "--add-modules".equals(arg) ||
                "-jar".equals(arg))
            {
                i++;
                if ("-jar".equals(arg) && i < argv.size())
                {
                    return "java -jar " + argv.get(i);
                }
            }
            else if (!arg.startsWith("-"))
            {
                return "java " + arg;
            }
        }
        return "java";
    }

    private static String role(final List<String> argv)
    {
        for (final String arg : argv)
        {
            if (arg.startsWith(ROLE_PROPERTY))
            {
                return arg.substring(ROLE_PROPERTY.length());
            }
        }
        if (!argv.isEmpty() && argv.get(0).startsWith(ARGV0_PREFIX))
        {
            return argv.get(0).substring(ARGV0_PREFIX.length());
        }
        return null;
    }
}
