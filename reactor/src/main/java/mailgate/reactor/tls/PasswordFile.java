/*
 * SUMMARY
 * The AUTH password file: "user:$pbkdf2-sha256$..." lines (PasswordHash), '#' comments, blank lines.
 *
 * SECURITY
 * The file should be 0600 or 0640 and owned by the daemon's user; a file readable by others is refused.
 * An unknown user is checked against a dummy hash so that timing does not tell which users exist.
 * User names are compared exactly (case-sensitive), have no ':', space or control characters, and are
 * what goes into envelopes and Received headers (never what the client typed for an unknown user).
 */
package mailgate.reactor.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An immutable snapshot of the password file.
 */
public final class PasswordFile
{
    private static final PasswordHash DUMMY = PasswordHash.parse(
        PasswordHash.hash("mailgate-dummy".toCharArray(), PasswordHash.DEFAULT_ITERATIONS));

    private final Map<String, PasswordHash> users;

    private PasswordFile(final Map<String, PasswordHash> users)
    {
        this.users = users;
    }

    /**
     * @param file the password file.
     * @return its users.
     * @throws IOException naming file and line on a bad line, or an unsafe mode.
     */
    public static PasswordFile load(final Path file) throws IOException
    {
        try
        {
            final Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (mode.contains(PosixFilePermission.OTHERS_READ) || mode.contains(PosixFilePermission.OTHERS_WRITE) ||
                mode.contains(PosixFilePermission.GROUP_WRITE))
            {
                throw new IOException(file + ": readable or writable by others; chmod 600 it");
            }
        }
        catch (final UnsupportedOperationException ignore)
        {
            // not a POSIX file system: nothing to check
        }
        final List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        final Map<String, PasswordHash> users = new HashMap<>();
        for (int i = 0; i < lines.size(); i++)
        {
            final String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#"))
            {
                continue;
            }
            final int colon = line.indexOf(':');
            final String where = file + ":" + (i + 1) + ": ";
            if (colon <= 0)
            {
                throw new IOException(where + "expected user:" + PasswordHash.SCHEME + "...");
            }
            final String user = line.substring(0, colon);
            if (!isValidUser(user))
            {
                throw new IOException(where + "bad user name");
            }
            try
            {
                if (null != users.put(user, PasswordHash.parse(line.substring(colon + 1))))
                {
                    throw new IOException(where + "user '" + user + "' is listed twice");
                }
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IOException(where + ex.getMessage());
            }
        }
        return new PasswordFile(users);
    }

    /**
     * @param user a user name.
     * @return true when it can be in the file (1..255 chars, no ':', space or control).
     */
    public static boolean isValidUser(final String user)
    {
        if (user.isEmpty() || user.length() > 255)
        {
            return false;
        }
        for (int i = 0; i < user.length(); i++)
        {
            final char c = user.charAt(i);
            if (c <= ' ' || ':' == c || 127 == c)
            {
                return false;
            }
        }
        return true;
    }

    /**
     * Check a password (slow: PBKDF2; call off the event loop).
     *
     * @param user     as the client gave it.
     * @param password as the client gave it.
     * @return the user name from the file when the password matches, else null.
     */
    public String verify(final String user, final char[] password)
    {
        final PasswordHash hash = users.get(user);
        if (null == hash)
        {
            DUMMY.matches(password);
            return null;
        }
        return hash.matches(password) ? user : null;
    }

    /**
     * @return users in the file.
     */
    public int size()
    {
        return users.size();
    }
}
