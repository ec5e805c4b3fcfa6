package mailgate.reactor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SmtpdConfigTest
{
    @TempDir
    Path tmp;

    @Test
    void embeddedDefaultsListenOnLoopback2525()
    {
        final SmtpdConfig config = SmtpdMain.parse(new String[]{"run"});
        assertEquals("127.0.0.1:2525", Smtpd.describe(config.get(SmtpdConfig.LISTEN)));
        assertEquals("./var/spool", config.get(SmtpdConfig.SPOOL));
        assertEquals(1000, config.getInt(SmtpdConfig.RECIPIENT_LIMIT));
    }

    @Test
    void fileThenCommandLine() throws Exception
    {
        final Path file = write("# comment\n\nsmtpd.recipient-limit = 7   # trailing comment\n" +
            "smtpd.listen = 127.0.0.1:2600\nsmtpd.command-timeout = 90s\n");
        final SmtpdConfig config = SmtpdMain.parse(
            new String[]{"--config", file.toString(), "--listen", "127.0.0.1:2601"});
        assertEquals(7, config.getInt(SmtpdConfig.RECIPIENT_LIMIT));
        assertEquals(2601, ((java.net.InetSocketAddress)config.get(SmtpdConfig.LISTEN)).getPort());
        assertEquals(90_000L, config.getLong(SmtpdConfig.COMMAND_TIMEOUT));
    }

    @Test
    void unknownKeyNamesFileAndLine() throws Exception
    {
        final Path file = write("smtpd.recipient-limit = 7\nsmtpd.recipients = 8\n");
        final ConfigException ex = assertThrows(ConfigException.class, () -> new SmtpdConfig().load(file));
        assertEquals(file + ":2: unknown key 'smtpd.recipients'", ex.getMessage());
    }

    @Test
    void badValueNamesFileLineAndReason() throws Exception
    {
        final Path file = write("\n\nsmtpd.recipient-limit = lots\n");
        final ConfigException ex = assertThrows(ConfigException.class, () -> new SmtpdConfig().load(file));
        assertEquals(file + ":3: smtpd.recipient-limit: 'lots' is not a whole number", ex.getMessage());
    }

    @Test
    void spoolSyncTakesAutoSyncfsOrFsync() throws Exception
    {
        assertEquals(mailgate.reactor.spool.Spool.SyncMode.AUTO, new SmtpdConfig().get(SmtpdConfig.SYNC));
        assertEquals(mailgate.reactor.spool.Spool.SyncMode.FSYNC,
            new SmtpdConfig().load(write("spool.sync = fsync\n")).get(SmtpdConfig.SYNC));
        final Path file = write("spool.sync = sometimes\n");
        assertEquals(file + ":1: spool.sync: 'sometimes' is not one of auto, syncfs, fsync",
            assertThrows(ConfigException.class, () -> new SmtpdConfig().load(file)).getMessage());
    }

    @Test
    void durationWithoutUnitIsRefused() throws Exception
    {
        final Path file = write("smtpd.data-timeout = 300\n");
        final ConfigException ex = assertThrows(ConfigException.class, () -> new SmtpdConfig().load(file));
        assertTrue(ex.getMessage().endsWith(":1: smtpd.data-timeout: '300' needs a unit: ms, s, m or h"),
            ex.getMessage());
    }

    @Test
    void lineWithoutEqualsAndDuplicateKeyAreRefused() throws Exception
    {
        assertEquals(write("smtpd.listen\n") + ":1: expected 'key = value', found 'smtpd.listen'",
            assertThrows(ConfigException.class, () -> new SmtpdConfig().load(tmp.resolve("c.conf"))).getMessage());
        final Path twice = write("smtpd.bare-lf = reject\nsmtpd.bare-lf = normalize\n");
        assertEquals(twice + ":2: 'smtpd.bare-lf' is already set on line 1",
            assertThrows(ConfigException.class, () -> new SmtpdConfig().load(twice)).getMessage());
    }

    @Test
    void everyKeyIsDocumented() throws Exception
    {
        final String doc = Files.readString(Path.of("..", "docs", "configuration.md"), StandardCharsets.UTF_8);
        for (final SmtpdConfig.Key key : SmtpdConfig.KEYS)
        {
            assertTrue(doc.contains("`" + key.name() + "`"), key.name() + " missing from docs/configuration.md");
            assertTrue(doc.contains("`" + key.defaultValue() + "`") || key.defaultValue().isEmpty(),
                "default of " + key.name() + " missing from docs/configuration.md");
        }
    }

    @Test
    void daemonRefusesBadConfigWithExitStatus78(@TempDir final Path dir) throws Exception
    {
        final Path file = write("smtpd.listen = 127.0.0.1:2525\nsmtpd.hard-error-limit = -3\n");
        final Process process = new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "-cp", System.getProperty("java.class.path"), "mailgate.reactor.SmtpdMain",
            "--config", file.toString(), "--spool", dir.resolve("spool").toString())
            .redirectErrorStream(true).start();
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(78, process.exitValue(), output);
        assertEquals("mailgate: " + file + ":2: smtpd.hard-error-limit: -3 is outside 1..10000\n", output);
        assertTrue(Files.notExists(dir.resolve("spool")), "nothing created before the config is known good");
    }

    private Path write(final String text) throws Exception
    {
        final Path file = tmp.resolve("c.conf");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }
}
