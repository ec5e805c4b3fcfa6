package mailgate.reactor.smtp;

import mailgate.reactor.policy.PolicyQuery;
import mailgate.reactor.policy.SmtpPolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The policy seam answering later, as the router and filter will over IPC: the session parks, pipelined
 * input waits, and a missing answer becomes a tempfail at its deadline.
 */
class AsyncPolicyTest
{
    @TempDir
    Path tmp;

    /** Keeps every question; the test answers. */
    static final class DeferredPolicy implements SmtpPolicy
    {
        final ArrayDeque<PolicyQuery> questions = new ArrayDeque<>();
        final ArrayDeque<String> addresses = new ArrayDeque<>();

        public void onConnect(final PolicyQuery query)
        {
            query.accept();
        }

        public void onMailFrom(final PolicyQuery query)
        {
            keep(query);
        }

        public void onRcptTo(final PolicyQuery query)
        {
            keep(query);
        }

        public void onMessage(final PolicyQuery query)
        {
            keep(query);
        }

        private void keep(final PolicyQuery query)
        {
            addresses.add(query.address().getStringWithoutLengthAscii(0, query.address().capacity()));
            questions.add(query);
        }
    }

    @Test
    void pipelinedCommandsWaitForEachAnswer()
    {
        final DeferredPolicy policy = new DeferredPolicy();
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            SessionHarness.settings(BareLfMode.NORMALIZE), policy))
        {
            harness.takeReplies();
            final String first = harness.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
            assertTrue(first.startsWith("250-mx.test"), first);
            assertFalse(first.contains("2.1.0"), "no MAIL reply before the answer");
            assertTrue(harness.session.isParked());
            assertEquals("a@x.test", policy.addresses.poll());
            final long correlation = policy.questions.peek().correlationId();
            policy.questions.poll().accept();
            harness.feed();
            assertEquals("250 2.1.0 Ok\r\n", harness.takeReplies());
            assertEquals("b@y.test", policy.addresses.poll());
            policy.questions.poll().reject(SmtpReplies.ascii("550 5.1.1 <b@y.test>: Recipient address rejected"));
            harness.feed();
            assertEquals("550 5.1.1 <b@y.test>: Recipient address rejected\r\n" +
                "554 5.5.1 Error: no valid recipients\r\n", harness.takeReplies());
            harness.session.onPolicyAnswer(correlation, null);
            assertEquals("", harness.takeReplies(), "a stale answer is ignored");
        }
    }

    @Test
    void missingAnswerBecomesTempfailAtDeadline() throws Exception
    {
        final DeferredPolicy policy = new DeferredPolicy();
        try (SessionHarness harness = new SessionHarness(tmp.resolve("spool"),
            new SmtpSettings("mx.test", 10_000, 3, 20, 300_000, 300_000, 0, 200, BareLfMode.NORMALIZE), policy))
        {
            harness.takeReplies();
            harness.send("EHLO c\r\nMAIL FROM:<a@x.test>\r\n");
            policy.questions.poll().accept();
            harness.feed();
            harness.send("RCPT TO:<b@y.test>\r\n");
            policy.questions.poll().accept();
            harness.feed();
            harness.takeReplies();
            assertEquals("354 End data with <CR><LF>.<CR><LF>\r\n",
                harness.send("DATA\r\nhello\r\n.\r\n".getBytes(StandardCharsets.US_ASCII)));
            final PolicyQuery late = policy.questions.poll();
            assertEquals(PolicyQuery.Kind.MESSAGE, late.kind());
            assertTrue(late.messageSize() > 5);
            harness.session.onTimer(harness.nowNs + 100_000_000L);
            assertEquals("", harness.takeReplies(), "before the deadline nothing happens");
            harness.session.onTimer(harness.nowNs + 300_000_000L);
            assertEquals("451 4.3.0 Error: temporary failure, try again later\r\n", harness.takeReplies());
            late.accept();
            harness.feed();
            assertEquals("", harness.takeReplies(), "the late answer is dropped");
            assertEquals(0, harness.queued().size(), "no 250, nothing queued");
            assertEquals(0, harness.spool.tmpDir().toFile().list().length);
            assertEquals(1, harness.counters.policyTimeouts.get());
        }
    }
}
