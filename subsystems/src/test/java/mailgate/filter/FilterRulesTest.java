package mailgate.filter;

import mailgate.ipc.codecs.FilterAction;
import mailgate.reactor.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rule file parser: every kind and action, defaults, and "file:line: reason" for bad lines.
 */
class FilterRulesTest
{
    @TempDir
    Path dir;

    private static FilterRule one(final String line)
    {
        return FilterRules.parseLine(line, "t:1");
    }

    @Test
    void parsesEveryKindAndAction()
    {
        final FilterRules rules = FilterRules.parse("r", List.of(
            "# comment",
            "",
            "header /^Subject:.*viagra/i REJECT no spam please",
            "body /(a+)+b/ TEMPFAIL",
            "attachment-name /\\.zip$/ QUARANTINE",
            "content-type /^message\\/partial$/ REJECT 550 5.7.1 no partial messages",
            "part-size > 10m DISCARD",
            "nesting > 5 ACCEPT",
            "header /^X-Spam: yes/ ADD-HEADER X-Mailgate-Note: spam flagged by upstream",
            "   header /^From:.*@example\\.org/ accept"));
        assertEquals(8, rules.size());
        assertEquals(3, rules.header().length);
        final FilterRule subject = rules.header()[0];
        assertEquals(FilterAction.REJECT, subject.action());
        assertEquals("554 5.7.1 no spam please", subject.verdict().replyText());
        assertTrue(subject.pattern().matcher("SUBJECT: cheap VIAGRA").find(), "i flag");
        assertEquals("r:3", subject.source());
        assertEquals(FilterVerdict.TEMPFAIL_DEFAULT, rules.body()[0].verdict().replyText());
        assertEquals(FilterAction.QUARANTINE, rules.attachmentName()[0].action());
        assertEquals("550 5.7.1 no partial messages", rules.contentType()[0].verdict().replyText());
        assertEquals(10L * 1024 * 1024, rules.partSize()[0].threshold());
        assertEquals(FilterAction.DISCARD, rules.partSize()[0].action());
        assertEquals(5, rules.nesting()[0].threshold());
        assertEquals(FilterAction.ACCEPT, rules.nesting()[0].action());
        assertEquals("X-Mailgate-Note: spam flagged by upstream\r\n", rules.header()[1].verdict().headers());
        assertEquals(FilterAction.ACCEPT, rules.header()[2].action());
    }

    @Test
    void regexWithEscapedSlashAndFlags()
    {
        final FilterRule rule = one("content-type /^application\\/x-msdownload$/ims REJECT");
        assertTrue(rule.pattern().matcher("Application/X-MSDownload").find());
    }

    @Test
    void rejectDefaultsAndFullReplies()
    {
        assertEquals(FilterVerdict.REJECT_DEFAULT, one("body /x/ REJECT").verdict().replyText());
        assertEquals("554 5.7.1 go away", one("body /x/ REJECT go away").verdict().replyText());
        assertEquals("550 5.7.0 policy", one("body /x/ REJECT 550 5.7.0 policy").verdict().replyText());
        assertEquals("421 4.7.0 later", one("body /x/ TEMPFAIL 421 4.7.0 later").verdict().replyText());
        assertEquals("451 4.7.1 later", one("body /x/ TEMPFAIL later").verdict().replyText());
    }

    @Test
    void defaultsRefuseExecutablesAndDeepNestingAndAddNothing()
    {
        final FilterRules rules = FilterRules.defaults();
        assertEquals(3, rules.size());
        assertTrue(rules.attachmentName()[0].pattern().matcher("INVOICE.EXE").find());
        assertTrue(rules.attachmentName()[0].pattern().matcher("run.vbs").find());
        assertTrue(!rules.attachmentName()[0].pattern().matcher("report.pdf").find());
        assertEquals("554 5.7.1 executable attachments are not accepted",
            rules.attachmentName()[0].verdict().replyText());
        assertEquals(20, rules.nesting()[0].threshold());
        for (final FilterRule rule : new FilterRule[]{rules.attachmentName()[0], rules.contentType()[0],
            rules.nesting()[0]})
        {
            assertEquals(FilterAction.REJECT, rule.action());
        }
    }

    @Test
    void badLinesNameFileLineAndReason() throws IOException
    {
        assertBad("header viagra REJECT", ":2: expected /regex/");
        assertBad("header /viagra REJECT", ":2: regular expression has no closing '/'");
        assertBad("header /(unclosed/ REJECT", ":2: bad regular expression");
        assertBad("header /x/q REJECT", ":2: unknown regex flag 'q'");
        assertBad("header /x/", ":2: missing action");
        assertBad("header /x/ BOUNCE", ":2: unknown action 'BOUNCE'");
        assertBad("subject /x/ REJECT", ":2: unknown rule kind 'subject'");
        assertBad("part-size 10m REJECT", ":2: part-size needs '> LIMIT'");
        assertBad("part-size > ten REJECT", ":2: 'ten' is not a size");
        assertBad("nesting > 1000 REJECT", ":2: nesting limit 1000 is outside 0..100");
        assertBad("header /x/ ADD-HEADER no colon here", ":2: 'no colon here' is not 'Name: value'");
        assertBad("header /x/ ADD-HEADER X-A: b\u0000c", ":2: header line holds a control character");
        assertBad("header /x/ REJECT 451 4.7.1 wrong class", ":2: reply '451 4.7.1 wrong class' starts with a code");
        assertBad("header /x/ REJECT caf\u00e9", ":2: reply text must be printable ASCII");
    }

    private void assertBad(final String line, final String expected) throws IOException
    {
        final Path file = dir.resolve("rules");
        Files.writeString(file, "body /ok/ ACCEPT\n" + line + "\n");
        final ConfigException ex = assertThrows(ConfigException.class, () -> FilterRules.load(file));
        assertTrue(ex.getMessage().startsWith(file + expected), ex.getMessage());
    }

    @Test
    void missingFileIsAConfigError()
    {
        final ConfigException ex = assertThrows(ConfigException.class,
            () -> FilterRules.load(dir.resolve("absent")));
        assertTrue(ex.getMessage().endsWith("absent: no such file"), ex.getMessage());
    }

    @Test
    void settingsFallBackToDefaultsAndTakeCommandLineOverrides()
    {
        final java.util.Map<String, String> overrides = new java.util.HashMap<>();
        final String[] rest = FilterSettings.extractOverrides(new String[]{
            "--set", "filter.workers=3", "--set", "spool.directory=/tmp/x", "--set", "filter.scan-timeout=1500ms"},
            overrides);
        final FilterSettings settings = FilterSettings.from(mailgate.reactor.SmtpdMain.parse(rest), overrides);
        assertEquals(3, settings.workers());
        assertEquals(1500, settings.scanTimeoutMs());
        assertEquals(Path.of("/tmp/x"), settings.spoolRoot());
        assertNull(settings.rules());
        assertEquals("tempfail", settings.failMode());
        final FilterSettings defaults = FilterSettings.from(new mailgate.reactor.SmtpdConfig(), java.util.Map.of());
        assertEquals(FilterSettings.WORKERS_DEFAULT, defaults.workers());
        assertEquals(FilterSettings.SCAN_TIMEOUT_MS_DEFAULT, defaults.scanTimeoutMs());
        assertThrows(ConfigException.class, () -> FilterSettings.from(new mailgate.reactor.SmtpdConfig(),
            java.util.Map.of(FilterSettings.SCAN_TIMEOUT, "10")));
    }
}
