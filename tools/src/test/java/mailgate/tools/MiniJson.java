package mailgate.tools;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict little JSON parser for tests: objects become maps, arrays lists, numbers Long or Double.
 * Strict so that a malformed line from the tool fails the test instead of being half read.
 */
final class MiniJson
{
    private final String text;
    private int position;

    private MiniJson(final String text)
    {
        this.text = text;
    }

    static Object parse(final String text)
    {
        final MiniJson parser = new MiniJson(text);
        final Object value = parser.value();
        parser.skipSpace();
        if (parser.position != text.length())
        {
            throw parser.error("trailing text");
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(final String text)
    {
        return (Map<String, Object>)parse(text.trim());
    }

    private Object value()
    {
        skipSpace();
        if (position >= text.length())
        {
            throw error("unexpected end");
        }
        final char c = text.charAt(position);
        switch (c)
        {
            case '{':
                return objectValue();
            case '[':
                return arrayValue();
            case '"':
                return stringValue();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Map<String, Object> objectValue()
    {
        final Map<String, Object> map = new LinkedHashMap<>();
        position++;
        skipSpace();
        if (peek('}'))
        {
            position++;
            return map;
        }
        while (true)
        {
            skipSpace();
            final String key = stringValue();
            skipSpace();
            expect(':');
            if (map.containsKey(key))
            {
                throw error("duplicate key " + key);
            }
            map.put(key, value());
            skipSpace();
            if (peek(','))
            {
                position++;
                continue;
            }
            expect('}');
            return map;
        }
    }

    private List<Object> arrayValue()
    {
        final List<Object> list = new ArrayList<>();
        position++;
        skipSpace();
        if (peek(']'))
        {
            position++;
            return list;
        }
        while (true)
        {
            list.add(value());
            skipSpace();
            if (peek(','))
            {
                position++;
                continue;
            }
            expect(']');
            return list;
        }
    }

    private String stringValue()
    {
        expect('"');
        final StringBuilder sb = new StringBuilder();
        while (true)
        {
            if (position >= text.length())
            {
                throw error("unterminated string");
            }
            final char c = text.charAt(position++);
            if ('"' == c)
            {
                return sb.toString();
            }
            if (c < 0x20)
            {
                throw error("raw control character in string");
            }
            if ('\\' != c)
            {
                sb.append(c);
                continue;
            }
            final char e = text.charAt(position++);
            switch (e)
            {
                case '"':
                case '\\':
                case '/':
                    sb.append(e);
                    break;
                case 'n':
                    sb.append('\n');
                    break;
                case 'r':
                    sb.append('\r');
                    break;
                case 't':
                    sb.append('\t');
                    break;
                case 'b':
                    sb.append('\b');
                    break;
                case 'f':
                    sb.append('\f');
                    break;
                case 'u':
                    sb.append((char)Integer.parseInt(text.substring(position, position + 4), 16));
                    position += 4;
                    break;
                default:
                    throw error("bad escape");
            }
        }
    }

    private Object number()
    {
        final int start = position;
        while (position < text.length() && "+-0123456789.eE".indexOf(text.charAt(position)) >= 0)
        {
            position++;
        }
        final String number = text.substring(start, position);
        if (number.isEmpty())
        {
            throw error("unexpected character");
        }
        if (number.indexOf('.') >= 0 || number.indexOf('e') >= 0 || number.indexOf('E') >= 0)
        {
            return Double.parseDouble(number);
        }
        return Long.parseLong(number);
    }

    private Object literal(final String word, final Object value)
    {
        if (!text.startsWith(word, position))
        {
            throw error("bad literal");
        }
        position += word.length();
        return value;
    }

    private boolean peek(final char c)
    {
        return position < text.length() && text.charAt(position) == c;
    }

    private void expect(final char c)
    {
        if (!peek(c))
        {
            throw error("expected '" + c + "'");
        }
        position++;
    }

    private void skipSpace()
    {
        while (position < text.length() && Character.isWhitespace(text.charAt(position)))
        {
            position++;
        }
    }

    private IllegalArgumentException error(final String what)
    {
        return new IllegalArgumentException(what + " at " + position + " in: " + text);
    }
}
