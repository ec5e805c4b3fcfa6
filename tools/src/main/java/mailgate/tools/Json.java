package mailgate.tools;

/**
 * Hand-written JSON output helpers: enough for flat objects and arrays, no library.
 */
final class Json
{
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private Json()
    {
    }

    /**
     * Append a JSON string literal (or null).
     *
     * @param sb    where.
     * @param value text, may be null.
     * @return sb.
     */
    static StringBuilder string(final StringBuilder sb, final String value)
    {
        if (null == value)
        {
            return sb.append("null");
        }
        sb.append('"');
        for (int i = 0, length = value.length(); i < length; i++)
        {
            final char c = value.charAt(i);
            switch (c)
            {
                case '"':
                    sb.append("\\\"");
                    break;
                case '\\':
                    sb.append("\\\\");
                    break;
                case '\n':
                    sb.append("\\n");
                    break;
                case '\r':
                    sb.append("\\r");
                    break;
                case '\t':
                    sb.append("\\t");
                    break;
                default:
                    if (c < 0x20 || 0x2028 == c || 0x2029 == c)
                    {
                        sb.append("\\u").append(HEX[(c >> 12) & 0xF]).append(HEX[(c >> 8) & 0xF])
                            .append(HEX[(c >> 4) & 0xF]).append(HEX[c & 0xF]);
                    }
                    else
                    {
                        sb.append(c);
                    }
                    break;
            }
        }
        return sb.append('"');
    }

    /**
     * Append "name": (the caller appends the value).
     *
     * @param sb   where.
     * @param name key.
     * @return sb.
     */
    static StringBuilder key(final StringBuilder sb, final String name)
    {
        return string(sb, name).append(':');
    }

    /**
     * Append a rate with one decimal place (JSON has no NaN: callers leave the field out instead).
     *
     * @param sb    where.
     * @param value finite number.
     * @return sb.
     */
    static StringBuilder decimal(final StringBuilder sb, final double value)
    {
        return sb.append(Math.round(value * 10.0) / 10.0);
    }
}
