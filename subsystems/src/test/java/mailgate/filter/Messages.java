package mailgate.filter;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Real test messages: plain, multipart with attachments, 8-bit, a nested-MIME bomb, a huge header.
 */
final class Messages
{
    private Messages()
    {
    }

    static final String RECEIVED = "Received: from client.example ([192.0.2.7])\n" +
        "\tby mx.example (mailgate) with ESMTP id 1A212E5246E00000\n" +
        "\tfor <b@example.com>; Wed, 25 Nov 2026 13:28:56 GMT\n";

    static String plain()
    {
        return RECEIVED +
            "From: Alice <a@example.com>\n" +
            "To: Bob <b@example.com>\n" +
            "Subject: lunch\n" +
            "Message-ID: <1@example.com>\n" +
            "\n" +
            "Shall we meet at noon?\n";
    }

    static String withAttachment(final String fileNameParameter, final String contentType)
    {
        final String payload = Base64.getMimeEncoder().encodeToString(
            "MZ\u0090\u0000 this pretends to be a program".getBytes(StandardCharsets.ISO_8859_1));
        return RECEIVED +
            "From: a@example.com\n" +
            "To: b@example.com\n" +
            "Subject: invoice\n" +
            "MIME-Version: 1.0\n" +
            "Content-Type: multipart/mixed; boundary=\"outer\"\n" +
            "\n" +
            "preamble\n" +
            "--outer\n" +
            "Content-Type: text/plain; charset=us-ascii\n" +
            "\n" +
            "Please see the attachment.\n" +
            "--outer\n" +
            "Content-Type: " + contentType + "\n" +
            "Content-Transfer-Encoding: base64\n" +
            "Content-Disposition: attachment; " + fileNameParameter + "\n" +
            "\n" +
            payload + "\n" +
            "--outer--\n" +
            "epilogue\n";
    }

    static byte[] eightBit()
    {
        final String text = RECEIVED +
            "From: a@example.com\n" +
            "To: b@example.com\n" +
            "Subject: Grüße aus Köln\n" +
            "MIME-Version: 1.0\n" +
            "Content-Type: text/plain; charset=utf-8\n" +
            "Content-Transfer-Encoding: 8bit\n" +
            "\n" +
            "Viele Grüße, schöne Zeit — 東京\n";
        return text.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * @param levels nested multiparts, each with its own boundary.
     * @return a nested-MIME bomb.
     */
    static String nested(final int levels)
    {
        final StringBuilder sb = new StringBuilder(RECEIVED)
            .append("From: a@example.com\nTo: b@example.com\nSubject: bomb\nMIME-Version: 1.0\n")
            .append("Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
        for (int i = 0; i < levels; i++)
        {
            sb.append("--b").append(i).append('\n')
                .append("Content-Type: multipart/mixed; boundary=\"b").append(i + 1).append("\"\n\n");
        }
        sb.append("--b").append(levels).append("\nContent-Type: text/plain\n\ncore\n");
        for (int i = levels; i >= 0; i--)
        {
            sb.append("--b").append(i).append("--\n");
        }
        return sb.toString();
    }

    static String hugeHeader(final int octets)
    {
        final StringBuilder sb = new StringBuilder(RECEIVED).append("From: a@example.com\nSubject: x");
        for (int i = 0; i < octets / 64; i++)
        {
            sb.append("\n ").append("y".repeat(62));
        }
        return sb.append("\n\nbody\n").toString();
    }

    static String body(final String body)
    {
        return RECEIVED + "From: a@example.com\nTo: b@example.com\nSubject: test\n\n" + body + "\n";
    }
}
