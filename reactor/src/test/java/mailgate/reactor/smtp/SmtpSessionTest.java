package mailgate.reactor.smtp;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Table-driven tests of the SMTP state machine: each row is a dialogue prefix, one command and the reply
 * RFC 5321 (and its extensions) asks for.
 */
class SmtpSessionTest
{
    private static final String EHLO = "EHLO client.test\r\n";
    private static final String MAIL = "MAIL FROM:<a@example.test>\r\n";
    private static final String RCPT = "RCPT TO:<b@example.test>\r\n";

    @TempDir
    Path tmp;

    static Stream<Arguments> replies()
    {
        return Stream.of(
            Arguments.of("EHLO without name", "", "EHLO\r\n", "501 5.5.4 Syntax: EHLO hostname\r\n"),
            Arguments.of("HELO without name", "", "HELO\r\n", "501 5.5.4 Syntax: HELO hostname\r\n"),
            Arguments.of("HELO", "", "HELO client.test\r\n", "250 mx.test\r\n"),
            Arguments.of("lower-case verb", "", "helo client.test\r\n", "250 mx.test\r\n"),
            Arguments.of("MAIL before HELO", "", MAIL, "503 5.5.1 Error: send HELO/EHLO first\r\n"),
            Arguments.of("MAIL", EHLO, MAIL, "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL null sender", EHLO, "MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL lenient space", EHLO, "MAIL FROM: <a@example.test>\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL source route", EHLO, "MAIL FROM:<@relay.test:a@example.test>\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL quoted local part", EHLO, "MAIL FROM:<\"a b\"@example.test>\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL quoted local part, no @ after it", EHLO, "MAIL FROM:<\"a\"xexample.test>\r\n",
                "501 5.1.7 Bad sender address syntax\r\n"),
            Arguments.of("MAIL quoted local part, 8-bit octet for the @", EHLO, "MAIL FROM:\"\"\u00f6Om\r\n",
                "501 5.1.7 Bad sender address syntax\r\n"),
            Arguments.of("RCPT quoted local part, no @ after it", EHLO + MAIL, "RCPT TO:<\"b\".example.test>\r\n",
                "501 5.1.3 Bad recipient address syntax\r\n"),
            Arguments.of("MAIL address literal", EHLO, "MAIL FROM:<a@[192.0.2.1]>\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("nested MAIL", EHLO + MAIL, MAIL, "503 5.5.1 Error: nested MAIL command\r\n"),
            Arguments.of("MAIL without FROM:", EHLO, "MAIL <a@example.test>\r\n",
                "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
            Arguments.of("MAIL unclosed bracket", EHLO, "MAIL FROM:<a@example.test\r\n",
                "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
            Arguments.of("MAIL bad address", EHLO, "MAIL FROM:<a..b@example.test>\r\n",
                "501 5.1.7 Bad sender address syntax\r\n"),
            Arguments.of("MAIL space in address", EHLO, "MAIL FROM:<a b@example.test>\r\n",
                "501 5.1.7 Bad sender address syntax\r\n"),
            Arguments.of("MAIL unknown parameter", EHLO, "MAIL FROM:<a@example.test> FOO=BAR\r\n",
                "555 5.5.4 Unsupported option\r\n"),
            Arguments.of("MAIL duplicate parameter", EHLO, "MAIL FROM:<a@example.test> SIZE=1 SIZE=2\r\n",
                "501 5.5.4 Bad parameter syntax\r\n"),
            Arguments.of("MAIL SIZE too big", EHLO, "MAIL FROM:<a@example.test> SIZE=10001\r\n",
                "552 5.3.4 Message size exceeds fixed limit\r\n"),
            Arguments.of("MAIL SIZE ok", EHLO, "MAIL FROM:<a@example.test> SIZE=10000\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL SIZE not a number", EHLO, "MAIL FROM:<a@example.test> SIZE=12x\r\n",
                "501 5.5.4 Bad parameter syntax\r\n"),
            Arguments.of("MAIL BODY=8BITMIME", EHLO, "MAIL FROM:<a@example.test> BODY=8BITMIME\r\n", "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL BODY bad", EHLO, "MAIL FROM:<a@example.test> BODY=9BIT\r\n",
                "501 5.5.4 Bad parameter syntax\r\n"),
            Arguments.of("MAIL DSN RET ENVID", EHLO, "MAIL FROM:<a@example.test> RET=HDRS ENVID=QQ+2Bx\r\n",
                "250 2.1.0 Ok\r\n"),
            Arguments.of("MAIL ENVID bad xtext", EHLO, "MAIL FROM:<a@example.test> ENVID=a+zz\r\n",
                "501 5.5.4 Bad parameter syntax\r\n"),
            Arguments.of("MAIL UTF-8 without SMTPUTF8", EHLO, "MAIL FROM:<\u00e9l\u00e8ve@example.test>\r\n",
                "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n"),
            Arguments.of("RCPT before MAIL", EHLO, RCPT, "503 5.5.1 Error: need MAIL command\r\n"),
            Arguments.of("RCPT", EHLO + MAIL, RCPT, "250 2.1.5 Ok\r\n"),
            Arguments.of("RCPT postmaster", EHLO + MAIL, "RCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\r\n"),
            Arguments.of("RCPT local part only", EHLO + MAIL, "RCPT TO:<bob>\r\n",
                "501 5.1.3 Bad recipient address syntax\r\n"),
            Arguments.of("RCPT null path", EHLO + MAIL, "RCPT TO:<>\r\n", "501 5.1.3 Bad recipient address syntax\r\n"),
            Arguments.of("RCPT syntax", EHLO + MAIL, "RCPT <b@example.test>\r\n",
                "501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
            Arguments.of("RCPT NOTIFY ORCPT", EHLO + MAIL,
                "RCPT TO:<b@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.test\r\n", "250 2.1.5 Ok\r\n"),
            Arguments.of("RCPT NOTIFY NEVER mixed", EHLO + MAIL, "RCPT TO:<b@example.test> NOTIFY=NEVER,DELAY\r\n",
                "501 5.5.4 Bad parameter syntax\r\n"),
            Arguments.of("too many recipients", EHLO + MAIL + RCPT + RCPT + RCPT, RCPT,
                "452 4.5.3 Error: too many recipients\r\n"),
            Arguments.of("DATA before MAIL", EHLO, "DATA\r\n", "503 5.5.1 Error: need MAIL command\r\n"),
            Arguments.of("DATA before RCPT", EHLO + MAIL, "DATA\r\n", "503 5.5.1 Error: need RCPT command\r\n"),
            Arguments.of("DATA with argument", EHLO + MAIL + RCPT, "DATA x\r\n", "501 5.5.4 Syntax: DATA\r\n"),
            Arguments.of("DATA", EHLO + MAIL + RCPT, "DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"),
            Arguments.of("DATA after BINARYMIME", EHLO + "MAIL FROM:<a@example.test> BODY=BINARYMIME\r\n" + RCPT,
                "DATA\r\n", "503 5.5.1 Error: BODY=BINARYMIME requires BDAT\r\n"),
            Arguments.of("BDAT before MAIL", EHLO, "BDAT 3 LAST\r\nabc",
                "503 5.5.1 Error: need MAIL command\r\n"),
            Arguments.of("BDAT chunk", EHLO + MAIL + RCPT, "BDAT 3\r\nabc", "250 2.0.0 3 octets received\r\n"),
            Arguments.of("RSET", EHLO + MAIL, "RSET\r\n", "250 2.0.0 Ok\r\n"),
            Arguments.of("RSET with argument", EHLO, "RSET x\r\n", "501 5.5.4 Syntax: command takes no argument\r\n"),
            Arguments.of("NOOP", "", "NOOP\r\n", "250 2.0.0 Ok\r\n"),
            Arguments.of("VRFY", "", "VRFY bob\r\n",
                "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"),
            Arguments.of("VRFY without argument", "", "VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n"),
            Arguments.of("EXPN", "", "EXPN list\r\n", "502 5.5.1 Error: command not implemented\r\n"),
            Arguments.of("unknown", "", "FOO\r\n", "500 5.5.1 Error: command not recognized\r\n"),
            Arguments.of("NUL in command", "", "NO\0OP\r\n", "500 5.5.2 Error: bad character in command\r\n"),
            Arguments.of("bare CR in command", "", "NO\rOP\r\n", "500 5.5.2 Error: bad character in command\r\n"),
            Arguments.of("QUIT", "", "QUIT\r\n", "221 2.0.0 Bye\r\n"),
            Arguments.of("line too long", "", "NOOP " + "x".repeat(600) + "\r\n",
                "500 5.5.1 Error: command line too long\r\n".replace("5.5.1", "5.5.2")),
            Arguments.of("line of exactly 512 octets", "", "NOOP " + "x".repeat(505) + "\r\n", "250 2.0.0 Ok\r\n"),
            Arguments.of("line of 513 octets", "", "NOOP " + "x".repeat(506) + "\r\n",
                "500 5.5.2 Error: command line too long\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("replies")
    void replyTo(final String name, final String setup, final String command, final String expected) throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(setup.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            assertEquals(expected, harness.send(command.getBytes(java.nio.charset.StandardCharsets.UTF_8)), name);
        }
    }

    @Test
    void greetsAndAdvertisesExtensions() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            assertEquals("220 mx.test ESMTP mailgate\r\n", harness.takeReplies());
            final String ehlo = harness.send(EHLO);
            for (final String extension : new String[]{"PIPELINING", "SIZE 10000", "8BITMIME", "ENHANCEDSTATUSCODES",
                "SMTPUTF8", "CHUNKING", "BINARYMIME", "DSN"})
            {
                assertTrue(ehlo.contains("250-" + extension + "\r\n") || ehlo.contains("250 " + extension + "\r\n"),
                    extension + " in " + ehlo);
            }
            assertTrue(ehlo.startsWith("250-mx.test\r\n"));
        }
    }

    @Test
    void queuesMessageWithEnvelopeAndUnstuffedBody() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + "MAIL FROM:<a@example.test> BODY=8BITMIME RET=FULL\r\n" +
                "RCPT TO:<b@example.test> NOTIFY=FAILURE\r\nRCPT TO:<c@example.test>\r\n");
            assertEquals("354 End data with <CR><LF>.<CR><LF>\r\n", harness.send("DATA\r\n"));
            final String reply = harness.send("Subject: t\r\n\r\n..leading dot\r\n.\r\n");
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued as "), reply);
            final Path file = harness.queued().get(0);
            assertEquals(reply.substring("250 2.0.0 Ok: queued as ".length()).trim(), file.getFileName().toString());
            assertEquals("Subject: t\r\n\r\n.leading dot\r\n", SessionHarness.messageOf(file));
            final String envelope = SessionHarness.envelopeOf(file);
            assertTrue(envelope.startsWith("MAILGATE-SPOOL 1\nid: " + file.getFileName() + "\n"), envelope);
            assertTrue(envelope.contains("\nclient-address: 192.0.2.7\n"), envelope);
            assertTrue(envelope.contains("\nhelo: client.test\n"), envelope);
            assertTrue(envelope.contains("\nmail: <a@example.test> BODY=8BITMIME RET=FULL\n"), envelope);
            assertTrue(envelope.contains("\nrcpt: <b@example.test> NOTIFY=FAILURE\nrcpt: <c@example.test>\n"), envelope);
        }
    }

    @Test
    void pipelinedBatchSplitAtEveryByteGivesTheSameReplies() throws Exception
    {
        final String batch = EHLO + MAIL + RCPT + RCPT + "DATA\r\nline one\r\n..two\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n";
        String expected = null;
        for (int split = 0; split <= batch.length(); split += 3)
        {
            try (SessionHarness harness = new SessionHarness(tmp.resolve("spool" + split),
                SessionHarness.settings(BareLfMode.NORMALIZE)))
            {
                harness.takeReplies();
                final String replies = harness.send(batch.substring(0, split)) + harness.send(batch.substring(split));
                final String normalised = replies.replaceAll("queued as [0-9A-F]+", "queued as ID");
                if (null == expected)
                {
                    expected = normalised;
                    assertTrue(expected.endsWith("250 2.0.0 Ok: queued as ID\r\n250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n" +
                        "221 2.0.0 Bye\r\n"), expected);
                }
                assertEquals(expected, normalised, "split at " + split);
                assertEquals("line one\r\n.two\r\n", harness.onlyMessage());
            }
        }
    }

    @Test
    void smugglingSequencesNeverEndDataInNormalizeMode() throws Exception
    {
        final String[] tricks = {"\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r", "\r.\r", "\n.\r"};
        for (int i = 0; i < tricks.length; i++)
        {
            try (SessionHarness harness = new SessionHarness(tmp.resolve("s" + i),
                SessionHarness.settings(BareLfMode.NORMALIZE)))
            {
                harness.takeReplies();
                harness.send(EHLO + MAIL + RCPT + "DATA\r\n");
                final String replies = harness.send("body" + tricks[i] +
                    "MAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\nsmuggled\r\n.\r\n");
                assertTrue(replies.startsWith("250 2.0.0 Ok: queued as "), "trick " + i + ": " + replies);
                assertEquals(1, replies.split("\r\n").length, "trick " + i + " replies: " + replies);
                assertTrue(harness.onlyMessage().contains("MAIL FROM:<evil@x.test>"), "trick " + i);
            }
        }
    }

    @Test
    void bareLfIsNormalisedToCrLf() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            assertEquals("250 mx.test\r\n", harness.send("HELO client.test\n"));
            harness.send(MAIL + RCPT + "DATA\r\n");
            final String reply = harness.send("a\nb\r\nc\r\n.\r\n");
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued"), reply);
            assertEquals("a\r\nb\r\nc\r\n", harness.onlyMessage());
            assertEquals(1, harness.counters.bareLf.get());
        }
    }

    @Test
    void bareLfIsRefusedInRejectMode() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.REJECT)))
        {
            harness.takeReplies();
            assertEquals("500 5.5.2 Error: bare <LF> received\r\n", harness.send("HELO client.test\n"));
            harness.send("HELO client.test\r\n" + MAIL + RCPT + "DATA\r\n");
            assertEquals("550 5.5.2 Error: bare <LF> received\r\n", harness.send("a\nb\r\n.\r\n"));
            assertEquals(0, harness.queued().size());
            assertEquals("250 2.0.0 Ok\r\n", harness.send("NOOP\r\n"), "session goes on after the refusal");
        }
    }

    @Test
    void bareCrIsDataNotALineEnd() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + MAIL + RCPT + "DATA\r\n");
            assertTrue(harness.send("a\rb\r\r\n.\r\n").startsWith("250 2.0.0 Ok: queued"));
            assertEquals("a\rb\r\r\n", harness.onlyMessage());
        }
    }

    @Test
    void oversizedMessageIsRefusedAfterItsEnd() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + MAIL + RCPT + "DATA\r\n");
            final String line = "x".repeat(98) + "\r\n";
            assertEquals("", harness.send(line.repeat(101)), "no reply before the end of data");
            assertEquals("552 5.3.4 Error: message file too big\r\n", harness.send(".\r\n"));
            assertEquals(0, harness.queued().size());
            assertEquals(0, harness.spool.tmpDir().toFile().list().length, "tmp file removed");
            assertEquals("250 2.1.0 Ok\r\n", harness.send(MAIL), "a new transaction may start");
        }
    }

    @Test
    void textLineOver1000OctetsIsRefused() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + MAIL + RCPT + "DATA\r\n");
            assertEquals("554 5.6.0 Error: text line longer than 1000 octets\r\n",
                harness.send("y".repeat(999) + "\r\n.\r\n"));
            harness.send(MAIL + RCPT + "DATA\r\n");
            assertTrue(harness.send("y".repeat(998) + "\r\n.\r\n").startsWith("250 2.0.0 Ok: queued"),
                "998 octets plus CRLF is the limit");
        }
    }

    @Test
    void bdatChunksAreStoredRaw() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + "MAIL FROM:<a@example.test> BODY=BINARYMIME\r\n" + RCPT);
            final String replies = harness.send("BDAT 7\r\n.\r\n\0\n\r\nBDAT 0\r\nBDAT 3 LAST\r\nend");
            assertTrue(replies.startsWith("250 2.0.0 7 octets received\r\n250 2.0.0 0 octets received\r\n" +
                "250 2.0.0 Ok: queued as "), replies);
            assertEquals(".\r\n\0\n\r\nend", harness.onlyMessage());
        }
    }

    @Test
    void bdatWithoutSizeClosesTheConnection() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO + MAIL + RCPT);
            assertEquals("501 5.5.4 Syntax: BDAT chunk-size [LAST]\r\n", harness.send("BDAT x\r\nQUIT\r\n"));
            assertTrue(harness.session.isClosing());
        }
    }

    @Test
    void hardErrorLimitClosesWith421() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            final String replies = harness.send("FOO\r\n".repeat(25));
            assertEquals(20, replies.split("500 5.5.1").length - 1);
            assertTrue(replies.endsWith("421 4.7.0 mx.test Error: too many errors\r\n"), replies);
            assertTrue(harness.session.isClosing());
        }
    }

    @Test
    void commandTimeoutGives421() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            new SmtpSettings("mx.test", 10_000, 3, 20, 1_000, 1_000, 0, 10_000, BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.session.onTimer(harness.nowNs + 500_000_000L);
            assertEquals("", harness.takeReplies());
            harness.session.onTimer(harness.nowNs + 1_500_000_000L);
            assertEquals("421 4.4.2 mx.test Error: timeout exceeded\r\n", harness.takeReplies());
            assertTrue(harness.session.isClosing());
        }
    }

    @Test
    void earlyTalkerIsRefusedDuringGreetPause() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            new SmtpSettings("mx.test", 10_000, 3, 20, 1_000, 1_000, 500, 10_000, BareLfMode.NORMALIZE)))
        {
            assertEquals("", harness.takeReplies(), "no greeting during the pause");
            assertEquals("554 5.5.1 mx.test Error: protocol error: talking before the greeting\r\n",
                harness.send(EHLO));
            assertTrue(harness.session.isClosing());
            assertEquals(1, harness.counters.earlyTalkers.get());
        }
    }

    @Test
    void politeClientIsGreetedAfterThePause() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            new SmtpSettings("mx.test", 10_000, 3, 20, 1_000, 1_000, 500, 10_000, BareLfMode.NORMALIZE)))
        {
            harness.session.onTimer(harness.nowNs + 600_000_000L);
            assertEquals("220 mx.test ESMTP mailgate\r\n", harness.takeReplies());
        }
    }

    @Test
    void smtpUtf8AddressIsKeptInTheEnvelope() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            final byte[] commands = (EHLO + "MAIL FROM:<\u00e9l\u00e8ve@exemple.test> SMTPUTF8\r\n" +
                "RCPT TO:<\u7528\u6237@\u4f8b\u5b50.\u6d4b\u8bd5>\r\nDATA\r\n")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
            final String replies = harness.send(commands);
            assertTrue(replies.endsWith("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
                replies);
            assertTrue(harness.send("hi\r\n.\r\n").startsWith("250 2.0.0 Ok: queued"));
            final String envelope = new String(java.nio.file.Files.readAllBytes(harness.queued().get(0)),
                java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(envelope.contains("mail: <\u00e9l\u00e8ve@exemple.test> SMTPUTF8\n"), envelope);
            assertTrue(envelope.contains("rcpt: <\u7528\u6237@\u4f8b\u5b50.\u6d4b\u8bd5>\n"), envelope);
            assertTrue(envelope.contains("with UTF8SMTP id"), envelope);
        }
    }

    @Test
    void invalidUtf8AddressIsRefused() throws Exception
    {
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE)))
        {
            harness.takeReplies();
            harness.send(EHLO);
            assertEquals("501 5.1.7 Bad sender address syntax\r\n",
                harness.send("MAIL FROM:<a\u00c3(@example.test> SMTPUTF8\r\n"));
        }
    }
}
