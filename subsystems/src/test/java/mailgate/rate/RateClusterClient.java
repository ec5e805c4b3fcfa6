package mailgate.rate;


import mailgate.reactor.SmtpTestClient;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The cluster-accuracy client, a process of its own (run in the client's network namespace): opens K SMTP
 * connections to each node, then sends MAIL FROM (plus RSET) open loop at a fixed rate, event i to node
 * i % nodes on that node's connection (i / nodes) % K, whatever the replies. Reader threads classify the MAIL
 * replies. The same run goes first to the sender domain "warm-DOMAIN", so the client's own warm-up does not
 * stall the schedule of the measured run. Prints one line {@code result accepted=A refused=R other=O perNode=a,b,c lateMaxMs=L} (late: how
 * far the writer fell behind its schedule), then the first few unexpected replies.
 * <p>
 * Arguments: {@code RATE ATTEMPTS DOMAIN K HOST:PORT...}.
 */
public final class RateClusterClient
{
    private RateClusterClient()
    {
    }

    /**
     * @param args RATE ATTEMPTS DOMAIN K HOST:PORT...
     * @throws Exception on any failure (exit status 1 with the stack trace).
     */
    public static void main(final String[] args) throws Exception
    {
        final int rate = Integer.parseInt(args[0]);
        final int attempts = Integer.parseInt(args[1]);
        final String domain = args[2];
        final int k = Integer.parseInt(args[3]);
        final int nodes = args.length - 4;
        final SmtpTestClient[][] connections = new SmtpTestClient[nodes][k];
        for (int n = 0; n < nodes; n++)
        {
            final String endpoint = args[4 + n];
            final int colon = endpoint.lastIndexOf(':');
            final InetSocketAddress address = new InetSocketAddress(
                endpoint.substring(0, colon), Integer.parseInt(endpoint.substring(colon + 1)));
            for (int c = 0; c < k; c++)
            {
                connections[n][c] = SmtpTestClient.open(address, 30_000);
            }
        }

        // the same run on another sender domain first, on the same connections: the client's own JIT warm-up
        // would otherwise stall the schedule and send a burst at the moment the limit is crossed
        run(connections, rate, attempts, "warm-" + domain, k, nodes);
        final String result = run(connections, rate, attempts, domain, k, nodes);
        for (final SmtpTestClient[] perNode : connections)
        {
            for (final SmtpTestClient client : perNode)
            {
                client.quit();
                client.close();
            }
        }
        System.out.print(result);
        System.exit(0);
    }

    private static String run(
        final SmtpTestClient[][] connections, final int rate, final int attempts, final String domain, final int k,
        final int nodes) throws Exception
    {
        final AtomicIntegerArray accepted = new AtomicIntegerArray(nodes);
        final AtomicIntegerArray refused = new AtomicIntegerArray(nodes);
        final AtomicIntegerArray other = new AtomicIntegerArray(nodes);
        final List<String> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
        final List<Thread> readers = new ArrayList<>();
        for (int n = 0; n < nodes; n++)
        {
            for (int c = 0; c < k; c++)
            {
                int events = 0;
                for (int i = 0; i < attempts; i++)
                {
                    events += i % nodes == n && (i / nodes) % k == c ? 1 : 0;
                }
                final int node = n;
                final int expected = events;
                final SmtpTestClient client = connections[n][c];
                final Thread reader = new Thread(() ->
                {
                    try
                    {
                        for (int e = 0; e < expected; e++)
                        {
                            final String mail = client.readReply();
                            final String rset = client.readReply();
                            if (mail.startsWith("250"))
                            {
                                accepted.incrementAndGet(node);
                            }
                            else if (mail.startsWith("450 4.7.1"))
                            {
                                refused.incrementAndGet(node);
                            }
                            else
                            {
                                other.incrementAndGet(node);
                                unexpected.add("node " + node + ": " + mail);
                            }
                            if (!rset.startsWith("250"))
                            {
                                unexpected.add("node " + node + " RSET: " + rset);
                            }
                        }
                    }
                    catch (final Exception ex)
                    {
                        unexpected.add("node " + node + ": " + ex);
                    }
                }, "reader-" + n + "-" + c);
                reader.start();
                readers.add(reader);
            }
        }

        final long spacingNs = TimeUnit.SECONDS.toNanos(1) / rate;
        final long start = System.nanoTime();
        long lateMaxNs = 0;
        for (int i = 0; i < attempts; i++)
        {
            final long due = start + i * spacingNs;
            long wait;
            while ((wait = due - System.nanoTime()) > 0)
            {
                LockSupport.parkNanos(Math.min(wait, 100_000));
            }
            lateMaxNs = Math.max(lateMaxNs, System.nanoTime() - due);
            final int node = i % nodes;
            connections[node][(i / nodes) % k].write("MAIL FROM:<s" + i + "@" + domain + ">\r\nRSET\r\n");
        }
        final long sentNs = System.nanoTime() - start;
        for (final Thread reader : readers)
        {
            reader.join(TimeUnit.SECONDS.toMillis(60));
        }
        final StringBuilder perNode = new StringBuilder();
        int a = 0;
        int r = 0;
        int o = 0;
        for (int n = 0; n < nodes; n++)
        {
            perNode.append(n == 0 ? "" : ",").append(accepted.get(n));
            a += accepted.get(n);
            r += refused.get(n);
            o += other.get(n);
        }
        final StringBuilder out = new StringBuilder(String.format(
            "result accepted=%d refused=%d other=%d perNode=%s lateMaxMs=%.2f sentMs=%.1f%n", a, r, o, perNode,
            lateMaxNs / 1e6, sentNs / 1e6));
        for (int i = 0; i < Math.min(5, unexpected.size()); i++)
        {
            out.append("unexpected ").append(unexpected.get(i)).append('\n');
        }
        return out.toString();
    }
}
