package mailgate.filter;

/**
 * What is known of one MIME entity when its headers are complete.
 *
 * @param depth       0 for the message itself; +1 per enclosing multipart or attached message.
 * @param contentType media type, lower case ("text/plain" when absent).
 * @param fileName    attachment file name (Content-Disposition filename or Content-Type name, RFC 2231 and
 *                    RFC 2047 decoded), or null.
 * @param attachment  true when Content-Disposition says attachment.
 */
public record FilterPart(int depth, String contentType, String fileName, boolean attachment)
{
}
