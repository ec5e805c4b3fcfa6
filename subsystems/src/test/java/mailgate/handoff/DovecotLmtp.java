package mailgate.handoff;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;

/**
 * A private Dovecot (Debian packages dovecot-core and dovecot-lmtpd) speaking LMTP on a loopback port, run as
 * a child process ("dovecot -F -c CONF") with everything under one work directory: config, base_dir,
 * state_dir, log, a passwd-file of users, and their Maildirs. Needs root: Dovecot switches to mail_uid
 * (nobody) to write the Maildirs, and refuses uid 0 for mail access.
 */
final class DovecotLmtp implements AutoCloseable
{
    static final Path BINARY = Path.of("/usr/sbin/dovecot");
    static final Path LMTP_BINARY = Path.of("/usr/lib/dovecot/lmtp");

    final Path work;
    final int port;
    private final Process process;

    private DovecotLmtp(final Path work, final int port, final Process process)
    {
        this.work = work;
        this.port = port;
        this.process = process;
    }

    /**
     * @return why Dovecot cannot run here, or null when it can.
     */
    static String unavailable()
    {
        if (!Files.isExecutable(BINARY) || !Files.isExecutable(LMTP_BINARY))
        {
            return "dovecot not installed (bin/test installs dovecot-core dovecot-lmtpd)";
        }
        if (!"root".equals(System.getProperty("user.name")))
        {
            return "dovecot's mail_uid switch needs root";
        }
        return null;
    }

    /**
     * Start Dovecot with LMTP on a free loopback port; users are looked up by local part only
     * (auth_username_format = %Ln), so good@example.com is user "good"; a user not in the list gets 550 5.1.1
     * at RCPT TO. Messages are stored with CR LF line ends (mail_save_crlf), as they were sent.
     *
     * @param users the users that exist.
     * @return the running server, answering 220.
     */
    static DovecotLmtp start(final List<String> users) throws IOException
    {
        // not under a 0700 @TempDir: Dovecot's own users (dovecot, nobody) must reach their files
        final Path work = Files.createTempDirectory("mailgate-handoff-dovecot");
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwxr-xr-x"));
        final Path mail = Files.createDirectories(work.resolve("mail"));
        run("chown", "nobody:nogroup", mail.toString());
        final StringBuilder passwd = new StringBuilder();
        for (final String user : users)
        {
            passwd.append(user).append(":::::::\n");
        }
        Files.writeString(work.resolve("users"), passwd.toString());
        final int port = FakeMta.freePort();
        final String conf = String.join("\n",
            "# written by DovecotLmtp (mailgate handoff tests)",
            "instance_name = mailgate-handoff-" + port,
            "base_dir = " + work.resolve("run"),
            "state_dir = " + work.resolve("state"),
            "log_path = " + work.resolve("dovecot.log"),
            "info_log_path = " + work.resolve("dovecot.log"),
            "protocols = lmtp",
            "listen = 127.0.0.1",
            "ssl = no",
            "auth_username_format = %Ln",
            "first_valid_uid = 1",
            "first_valid_gid = 1",
            "mail_uid = nobody",
            "mail_gid = nogroup",
            "mail_location = maildir:" + mail + "/%n",
            "mail_save_crlf = yes",
            "passdb {",
            "  driver = passwd-file",
            "  args = " + work.resolve("users"),
            "}",
            "userdb {",
            "  driver = passwd-file",
            "  args = " + work.resolve("users"),
            "}",
            "service lmtp {",
            "  inet_listener lmtp {",
            "    address = 127.0.0.1",
            "    port = " + port,
            "  }",
            "}",
            "");
        final Path confFile = work.resolve("dovecot.conf");
        Files.writeString(confFile, conf);
        final Process process = new ProcessBuilder(BINARY.toString(), "-F", "-c", confFile.toString())
            .redirectErrorStream(true).redirectOutput(work.resolve("dovecot.out").toFile()).start();
        final DovecotLmtp dovecot = new DovecotLmtp(work, port, process);
        try
        {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> !process.isAlive() || dovecot.greets());
            if (!process.isAlive())
            {
                throw new IOException("dovecot exited with " + process.exitValue() + ": " + dovecot.logs());
            }
        }
        catch (final RuntimeException | IOException ex)
        {
            dovecot.close();
            throw ex;
        }
        return dovecot;
    }

    private boolean greets()
    {
        try (Socket s = new Socket())
        {
            s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
            s.setSoTimeout(2000);
            final String line = new BufferedReader(new InputStreamReader(s.getInputStream(),
                StandardCharsets.US_ASCII)).readLine();
            return null != line && line.startsWith("220 ");
        }
        catch (final IOException ex)
        {
            return false;
        }
    }

    String uri()
    {
        return "lmtp://127.0.0.1:" + port;
    }

    long pid()
    {
        return process.pid();
    }

    /**
     * @param user a user's name.
     * @return the files in that user's Maildir new/ (none when the Maildir does not exist yet).
     */
    List<Path> newMail(final String user) throws IOException
    {
        final Path dir = work.resolve("mail").resolve(user).resolve("new");
        if (!Files.isDirectory(dir))
        {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir))
        {
            return new ArrayList<>(files.sorted().toList());
        }
    }

    String logs()
    {
        final StringBuilder b = new StringBuilder();
        for (final String name : List.of("dovecot.out", "dovecot.log"))
        {
            try
            {
                b.append("--- ").append(name).append(" ---\n").append(Files.readString(work.resolve(name)));
            }
            catch (final IOException ex)
            {
                b.append("(no ").append(name).append(")\n");
            }
        }
        return b.toString();
    }

    private static void run(final String... command) throws IOException
    {
        try
        {
            final Process p = new ProcessBuilder(command).inheritIO().start();
            if (!p.waitFor(30, TimeUnit.SECONDS) || 0 != p.exitValue())
            {
                p.destroyForcibly();
                throw new IOException("failed: " + String.join(" ", command));
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(ex);
        }
    }

    /** SIGTERM to the master (by pid), which stops its children; then the work directory goes. */
    @Override
    public void close() throws IOException
    {
        final List<ProcessHandle> children = process.descendants().toList();
        process.destroy();
        try
        {
            if (!process.waitFor(20, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        children.forEach((c) ->
        {
            if (c.isAlive())
            {
                c.destroyForcibly();
            }
        });
        run("rm", "-rf", work.toString());
    }
}
