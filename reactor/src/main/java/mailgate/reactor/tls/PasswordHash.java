/*
 * SUMMARY
 * Salted PBKDF2-HMAC-SHA256 password hashes for AUTH, and a command that prints a password-file line.
 *
 * DESCRIPTION
 * A line of the password file is "user:$pbkdf2-sha256$ITERATIONS$SALT$HASH" with SALT (16 random octets) and
 * HASH (32 octets) in base64 without padding. The JDK's PBKDF2WithHmacSHA256 does the work; the password
 * is taken as UTF-8 (RFC 4616 says PLAIN passwords are UTF-8). Usage:
 *
 *   java -cp 'dist/target/lib/*' mailgate.reactor.tls.PasswordHash [--iterations N] USER >> passwords
 *
 * reads the password from the console without echo (or one line of standard input when there is none).
 *
 * SECURITY
 * 600,000 iterations by default (OWASP 2023 for PBKDF2-HMAC-SHA256): about 0.3 s of one core per check,
 * which is why checks run on the authenticator's threads and never on an event loop. Comparison is in
 * constant time (MessageDigest.isEqual).
 */
package mailgate.reactor.tls;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import java.io.BufferedReader;
import java.io.Console;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

/**
 * PBKDF2 hash lines: make, parse, verify.
 */
public final class PasswordHash
{
    /** Scheme tag in a hash line. */
    public static final String SCHEME = "$pbkdf2-sha256$";
    /** Default work factor. */
    public static final int DEFAULT_ITERATIONS = 600_000;
    static final int SALT_LENGTH = 16;
    static final int HASH_LENGTH = 32;

    private final int iterations;
    private final byte[] salt;
    private final byte[] hash;

    private PasswordHash(final int iterations, final byte[] salt, final byte[] hash)
    {
        this.iterations = iterations;
        this.salt = salt;
        this.hash = hash;
    }

    /**
     * @param password   the password.
     * @param iterations work factor.
     * @return "$pbkdf2-sha256$ITERATIONS$SALT$HASH".
     */
    public static String hash(final char[] password, final int iterations)
    {
        final byte[] salt = new byte[SALT_LENGTH];
        new SecureRandom().nextBytes(salt);
        final Base64.Encoder b64 = Base64.getEncoder().withoutPadding();
        return SCHEME + iterations + "$" + b64.encodeToString(salt) + "$" +
            b64.encodeToString(derive(password, salt, iterations, HASH_LENGTH));
    }

    /**
     * @param text "$pbkdf2-sha256$ITERATIONS$SALT$HASH".
     * @return the parsed hash.
     * @throws IllegalArgumentException if it is not one.
     */
    public static PasswordHash parse(final String text)
    {
        if (!text.startsWith(SCHEME))
        {
            throw new IllegalArgumentException("hash does not start with " + SCHEME);
        }
        final String[] parts = text.substring(SCHEME.length()).split("\\$", -1);
        if (3 != parts.length)
        {
            throw new IllegalArgumentException("expected " + SCHEME + "ITERATIONS$SALT$HASH");
        }
        final int iterations;
        try
        {
            iterations = Integer.parseInt(parts[0]);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("iterations '" + parts[0] + "' is not a number");
        }
        if (iterations < 1000 || iterations > 100_000_000)
        {
            throw new IllegalArgumentException("iterations " + iterations + " outside 1000..100000000");
        }
        final byte[] salt = Base64.getDecoder().decode(parts[1]);
        final byte[] hash = Base64.getDecoder().decode(parts[2]);
        if (salt.length < 8 || hash.length < 16)
        {
            throw new IllegalArgumentException("salt or hash too short");
        }
        return new PasswordHash(iterations, salt, hash);
    }

    /**
     * @param password candidate.
     * @return true when it matches, compared in constant time.
     */
    public boolean matches(final char[] password)
    {
        final byte[] candidate = derive(password, salt, iterations, hash.length);
        final boolean equal = MessageDigest.isEqual(candidate, hash);
        Arrays.fill(candidate, (byte)0);
        return equal;
    }

    public int iterations()
    {
        return iterations;
    }

    static byte[] derive(final char[] password, final byte[] salt, final int iterations, final int length)
    {
        final PBEKeySpec spec = new PBEKeySpec(password, salt, iterations, length * 8);
        try
        {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 unavailable", ex);
        }
        finally
        {
            spec.clearPassword();
        }
    }

    /**
     * Print a password-file line for a user.
     *
     * @param args [--iterations N] USER
     * @throws Exception if standard input cannot be read.
     */
    public static void main(final String[] args) throws Exception
    {
        int iterations = DEFAULT_ITERATIONS;
        String user = null;
        for (int i = 0; i < args.length; i++)
        {
            if ("--iterations".equals(args[i]) && i + 1 < args.length)
            {
                iterations = Integer.parseInt(args[++i]);
            }
            else if (null == user && !args[i].startsWith("-"))
            {
                user = args[i];
            }
            else
            {
                usage();
                return;
            }
        }
        if (null == user || !PasswordFile.isValidUser(user) || iterations < 1000)
        {
            usage();
            return;
        }
        final char[] password;
        final Console console = System.console();
        if (null != console)
        {
            password = console.readPassword("password for %s: ", user);
        }
        else
        {
            final String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            password = null == line ? new char[0] : line.toCharArray();
        }
        if (null == password || 0 == password.length)
        {
            System.err.println("mailgate: empty password refused");
            System.exit(65);
            return;
        }
        System.out.println(user + ":" + hash(password, iterations));
        Arrays.fill(password, '\0');
    }

    private static void usage()
    {
        System.err.println("usage: PasswordHash [--iterations N (>= 1000, default " + DEFAULT_ITERATIONS +
            ")] USER   (password from the console, or one line of stdin); USER has no ':', space or control");
        System.exit(64);
    }
}
