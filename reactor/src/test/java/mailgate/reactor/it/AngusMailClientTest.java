package mailgate.reactor.it;

import jakarta.mail.Address;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import mailgate.reactor.DaemonProcess;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.eclipse.angus.mail.smtp.SMTPTransport;
import org.eclipse.angus.mail.util.CRLFOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Jakarta Mail (Eclipse Angus) as the client: every message is checked byte for byte in the spool file named
 * by the queued reply.
 */
class AngusMailClientTest
{
    private static final int SIZE_LIMIT = 4096;
    private static final int RECIPIENT_LIMIT = 3;

    @TempDir
    static Path dir;

    private static DaemonProcess daemon;

    @BeforeAll
    static void startDaemon() throws IOException
    {
        daemon = ItDaemons.start(dir, "angus",
            "smtpd.message-size-limit = " + SIZE_LIMIT,
            "smtpd.recipient-limit = " + RECIPIENT_LIMIT);
    }

    @AfterAll
    static void stopDaemon() throws InterruptedException
    {
        if (null != daemon)
        {
            daemon.close();
        }
    }

    @Test
    void plainTextMessage() throws Exception
    {
        final Session session = session(new Properties());
        final MimeMessage message = message(session, "b@example.test", "Angus plain");
        message.setText("Hello from Jakarta Mail.\n.a line that starts with a dot\n..and two\nlast line\n",
            "us-ascii");
        message.setRecipients(Message.RecipientType.TO, "a@example.test");
        final Sent sent = send(session, message, address("a@example.test"));

        final SpoolMessage spooled = sent.spooled();
        assertEquals(List.of("<b@example.test>"), spooled.all("mail"), spooled.toString());
        assertEquals(List.of("<a@example.test>"), spooled.all("rcpt"), spooled.toString());
        assertEquals("client.example.test", spooled.one("helo"));
        assertEquals("ESMTP", spooled.one("protocol"));
        assertTrue(spooled.receivedText().contains(" with ESMTP id " + spooled.one("id")), spooled.receivedText());
        assertTrue(spooled.contentText().contains("\r\n.a line that starts with a dot\r\n..and two\r\n"),
            spooled.contentText());
        assertContent(sent, spooled);
    }

    @Test
    void eightBitBody() throws Exception
    {
        final Properties props = new Properties();
        props.put("mail.smtp.allow8bitmime", "true");
        // Angus converts the parts to 8bit but never adds BODY=8BITMIME itself; RFC 6152 asks the client to
        props.put("mail.smtp.mailextension", "BODY=8BITMIME");
        final Session session = session(props);
        final MimeMessage message = message(session, "eight@example.test", "8-bit");
        message.setText("Grüße aus Köln – ½ € ✓\nzweite Zeile\n", "UTF-8");
        final Sent sent = send(session, message, address("a@example.test"));

        final SpoolMessage spooled = sent.spooled();
        assertEquals(List.of("<eight@example.test> BODY=8BITMIME"), spooled.all("mail"), spooled.toString());
        final String content = spooled.contentText();
        assertTrue(content.contains("Content-Transfer-Encoding: 8bit\r\n"), content);
        assertTrue(content.contains("\r\n\r\nGrüße aus Köln – ½ € ✓\r\nzweite Zeile\r\n"), content);
        assertContent(sent, spooled);
    }

    @Test
    void smtpUtf8Addresses() throws Exception
    {
        final Properties props = new Properties();
        props.put("mail.mime.allowutf8", "true");
        props.put("mail.smtp.allow8bitmime", "true");
        final Session session = session(props);
        final String from = "发件人@例子.测试";
        final String to = "用户@例子.测试";
        final MimeMessage message = new MimeMessage(session);
        message.setFrom(address(from));
        message.setRecipient(Message.RecipientType.TO, address(to));
        message.setSubject("你好", "UTF-8");
        message.setText("UTF-8 everywhere: 你好\n", "UTF-8");
        final Sent sent = send(session, message, address(to));

        final SpoolMessage spooled = sent.spooled();
        assertEquals(List.of("<" + from + "> SMTPUTF8"), spooled.all("mail"), spooled.toString());
        assertEquals(List.of("<" + to + ">"), spooled.all("rcpt"), spooled.toString());
        assertTrue(indexOf(spooled.envelopeBytes, ("\nmail: <" + from + "> SMTPUTF8\nrcpt: <" + to + ">\n")
            .getBytes(StandardCharsets.UTF_8)) >= 0, "addresses are not stored as the UTF-8 octets sent");
        assertEquals("UTF8SMTP", spooled.one("protocol"));
        assertTrue(spooled.receivedText().contains(" with UTF8SMTP id "), spooled.receivedText());
        assertTrue(spooled.contentText().contains("To: " + to + "\r\n"), spooled.contentText());
        assertContent(sent, spooled);
    }

    @Test
    void severalRecipientsAndAnAttachment() throws Exception
    {
        final Session session = session(new Properties());
        final MimeMessage message = message(session, "multi@example.test", "several recipients");
        final MimeBodyPart text = new MimeBodyPart();
        text.setText("see the attachment\n", "us-ascii");
        final MimeBodyPart attachment = new MimeBodyPart();
        final byte[] binary = new byte[700];
        for (int i = 0; i < binary.length; i++)
        {
            binary[i] = (byte)(i * 7);
        }
        attachment.setContent(binary, "application/octet-stream");
        attachment.setFileName("data.bin");
        message.setContent(new MimeMultipart(text, attachment));
        final Address[] rcpts = {
            address("one@example.test"), address("two@example.test"), address("three@example.org")};
        message.setRecipients(Message.RecipientType.TO, new Address[]{rcpts[0], rcpts[1]});
        message.setRecipients(Message.RecipientType.BCC, new Address[]{rcpts[2]});
        final Sent sent = send(session, message, rcpts);

        final SpoolMessage spooled = sent.spooled();
        assertEquals(List.of("<one@example.test>", "<two@example.test>", "<three@example.org>"),
            spooled.all("rcpt"), spooled.toString());
        assertFalse(spooled.receivedText().contains(" for <"), "Received names one recipient of three: " +
            spooled.receivedText());
        assertFalse(spooled.contentText().contains("Bcc:"), spooled.contentText());
        assertContent(sent, spooled);
    }

    @Test
    void oversizedMessageIsRefusedWith552() throws Exception
    {
        final Session session = session(new Properties());
        final MimeMessage message = message(session, "big@example.test", "too big");
        message.setText("x".repeat(70).concat("\n").repeat(SIZE_LIMIT / 70 + 20), "us-ascii");
        message.saveChanges();
        final int before = SpoolMessage.count(daemon.queueDir());
        try (SMTPTransport transport = transport(session))
        {
            final MessagingException thrown = assertThrows(MessagingException.class,
                () -> transport.sendMessage(message, new Address[]{address("a@example.test")}));
            final SMTPSendFailedException failed = find(thrown, SMTPSendFailedException.class);
            assertNotNull(failed, "no SMTPSendFailedException in " + chain(thrown));
            assertEquals(552, failed.getReturnCode(), chain(thrown));
            assertTrue(failed.getMessage().contains("552 5.3.4 "), chain(thrown));
            // the session is still usable: RFC 5321 4.1.1.4, a failed DATA ends only the transaction
            final MimeMessage small = message(session, "small@example.test", "small after big");
            small.setText("fits\n", "us-ascii");
            small.saveChanges();
            transport.sendMessage(small, new Address[]{address("a@example.test")});
            final SpoolMessage spooled = SpoolMessage.forReply(daemon.queueDir(), transport.getLastServerResponse());
            assertEquals(List.of("<small@example.test>"), spooled.all("mail"));
        }
        assertEquals(before + 1, SpoolMessage.count(daemon.queueDir()), "the oversized message was queued");
    }

    @Test
    void tooManyRecipientsGet452() throws Exception
    {
        final Address[] rcpts = new Address[RECIPIENT_LIMIT + 2];
        for (int i = 0; i < rcpts.length; i++)
        {
            rcpts[i] = address("r" + (i + 1) + "@example.test");
        }
        final Address[] accepted = Arrays.copyOf(rcpts, RECIPIENT_LIMIT);
        final Address[] refused = Arrays.copyOfRange(rcpts, RECIPIENT_LIMIT, rcpts.length);

        // by default Angus refuses to send when any recipient failed: nothing may be queued
        final Session strict = session(new Properties());
        final MimeMessage message = message(strict, "many@example.test", "many");
        message.setText("to many\n", "us-ascii");
        message.saveChanges();
        final int before = SpoolMessage.count(daemon.queueDir());
        try (SMTPTransport transport = transport(strict))
        {
            final SendFailedException thrown = assertThrows(SendFailedException.class,
                () -> transport.sendMessage(message, rcpts));
            assertRecipientFailures(thrown, refused);
        }
        assertEquals(before, SpoolMessage.count(daemon.queueDir()), "a message was queued after the client gave up");

        // with mail.smtp.sendpartial it sends to the accepted ones and still reports the 452s
        final Properties props = new Properties();
        props.put("mail.smtp.sendpartial", "true");
        final Session partial = session(props);
        final MimeMessage message2 = message(partial, "many@example.test", "many, partial");
        message2.setText("to the first three\n", "us-ascii");
        message2.saveChanges();
        try (SMTPTransport transport = transport(partial))
        {
            final SendFailedException thrown = assertThrows(SendFailedException.class,
                () -> transport.sendMessage(message2, rcpts));
            assertRecipientFailures(thrown, refused);
            assertArrayEquals(accepted, thrown.getValidSentAddresses(), chain(thrown));
            final SpoolMessage spooled = SpoolMessage.forReply(daemon.queueDir(), transport.getLastServerResponse());
            final List<String> want = new ArrayList<>();
            for (final Address a : accepted)
            {
                want.add("<" + ((InternetAddress)a).getAddress() + ">");
            }
            assertEquals(want, spooled.all("rcpt"), spooled.toString());
            assertArrayEquals(expectedBytes(message2), spooled.content, spooled.toString());
        }
    }

    // ------------------------------------------------------------------------------------------- helpers

    private static void assertRecipientFailures(final SendFailedException thrown, final Address[] refused)
    {
        final Address[] unsent = thrown.getValidUnsentAddresses();
        final List<Address> reported = new ArrayList<>();
        if (null != unsent)
        {
            reported.addAll(List.of(unsent));
        }
        if (null != thrown.getInvalidAddresses())
        {
            reported.addAll(List.of(thrown.getInvalidAddresses()));
        }
        assertTrue(reported.containsAll(List.of(refused)), "refused recipients not reported: " + chain(thrown));
        final List<Address> failedWith452 = new ArrayList<>();
        for (Exception e = thrown; null != e; e = e instanceof MessagingException ?
            ((MessagingException)e).getNextException() : null)
        {
            if (e instanceof SMTPAddressFailedException)
            {
                final SMTPAddressFailedException f = (SMTPAddressFailedException)e;
                // RFC 5321 4.5.3.1.10 and RFC 3463 X.5.3
                assertEquals(452, f.getReturnCode(), chain(thrown));
                assertTrue(f.getMessage().startsWith("452 4.5.3 "), chain(thrown));
                failedWith452.add(f.getAddress());
            }
        }
        assertEquals(List.of(refused), failedWith452, chain(thrown));
    }

    private static Session session(final Properties extra)
    {
        final Properties props = new Properties();
        props.put("mail.smtp.host", "127.0.0.1");
        props.put("mail.smtp.port", String.valueOf(daemon.port()));
        props.put("mail.smtp.localhost", "client.example.test");
        props.put("mail.smtp.connectiontimeout", "10000");
        props.put("mail.smtp.timeout", "20000");
        props.put("mail.smtp.writetimeout", "20000");
        props.putAll(extra);
        return Session.getInstance(props);
    }

    private static MimeMessage message(final Session session, final String from, final String subject)
        throws MessagingException
    {
        final MimeMessage message = new MimeMessage(session);
        message.setFrom(address(from));
        message.setSubject(subject);
        return message;
    }

    /**
     * An address built without Jakarta Mail's syntax check (which would refuse UTF-8 local parts unless
     * the JVM-wide mail.mime.allowutf8 system property were set).
     */
    private static InternetAddress address(final String address)
    {
        final InternetAddress a = new InternetAddress();
        a.setAddress(address);
        return a;
    }

    private static SMTPTransport transport(final Session session) throws MessagingException
    {
        final SMTPTransport transport = (SMTPTransport)session.getTransport("smtp");
        transport.connect();
        return transport;
    }

    private static Sent send(final Session session, final MimeMessage message, final Address... rcpts)
        throws Exception
    {
        message.saveChanges();
        try (SMTPTransport transport = transport(session))
        {
            transport.sendMessage(message, rcpts);
            final String reply = transport.getLastServerResponse();
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued as "), reply);
            return new Sent(message, reply);
        }
    }

    /**
     * What Angus put on the wire after DATA, before dot-stuffing: the message without Bcc and Content-Length
     * (SMTPTransport's ignore list), line ends made CR LF by its CRLFOutputStream, ended by a line end.
     * Taken after the send, because the transport may convert parts to 8bit and save the message again.
     */
    private static byte[] expectedBytes(final MimeMessage message) throws Exception
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (CRLFOutputStream crlf = new CRLFOutputStream(bytes))
        {
            message.writeTo(crlf, new String[]{"Bcc", "Content-Length"});
        }
        final byte[] b = bytes.toByteArray();
        if (b.length >= 2 && '\r' == b[b.length - 2] && '\n' == b[b.length - 1])
        {
            return b;
        }
        final byte[] ended = Arrays.copyOf(b, b.length + 2);
        ended[b.length] = '\r';
        ended[b.length + 1] = '\n';
        return ended;
    }

    private static void assertContent(final Sent sent, final SpoolMessage spooled) throws Exception
    {
        final byte[] expected = expectedBytes(sent.message);
        assertEquals(new String(expected, StandardCharsets.UTF_8), spooled.contentText(),
            "spool content differs from what Angus sent");
        assertArrayEquals(expected, spooled.content, "spool content differs from what Angus sent");
    }

    private static int indexOf(final byte[] haystack, final byte[] needle)
    {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++)
        {
            for (int j = 0; j < needle.length; j++)
            {
                if (haystack[i + j] != needle[j])
                {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static <T extends Exception> T find(final Exception top, final Class<T> type)
    {
        for (Exception e = top; null != e; e = e instanceof MessagingException ?
            ((MessagingException)e).getNextException() : null)
        {
            if (type.isInstance(e))
            {
                return type.cast(e);
            }
        }
        return null;
    }

    private static String chain(final Exception top)
    {
        final StringBuilder sb = new StringBuilder();
        for (Exception e = top; null != e; e = e instanceof MessagingException ?
            ((MessagingException)e).getNextException() : null)
        {
            sb.append("\n  ").append(e.getClass().getSimpleName()).append(": ").append(e.getMessage());
        }
        return sb.append(ItDaemons.logs(daemon)).toString();
    }

    private static final class Sent
    {
        final MimeMessage message;
        final String reply;

        Sent(final MimeMessage message, final String reply)
        {
            this.message = message;
            this.reply = reply;
        }

        SpoolMessage spooled() throws IOException
        {
            return SpoolMessage.forReply(daemon.queueDir(), reply);
        }
    }
}
