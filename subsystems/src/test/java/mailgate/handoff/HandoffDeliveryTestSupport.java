package mailgate.handoff;

/**
 * Small helpers shared by the handoff tests.
 */
final class HandoffDeliveryTestSupport
{
    private HandoffDeliveryTestSupport()
    {
    }

    static int count(final String text, final String needle)
    {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1))
        {
            n++;
        }
        return n;
    }
}
