package mailgate.rate;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A test network of network namespaces: one per node, each with an address on a veth whose other end is on a
 * bridge in one more namespace, which may hold an address of its own (for a client). Nothing is added to or
 * changed in the host's own namespace: the veths are created inside the bridge namespace and their node ends
 * moved straight into the node namespaces. Every name carries "rate", the pid and a tag; {@link #close()}
 * deletes all namespaces made (their veths go with them), also after a half-made setup.
 */
final class RateNetns implements AutoCloseable
{
    private final String prefix;
    private final String subnet;
    private final List<String> created = new ArrayList<>();

    /**
     * @param tag    distinguishes this network from others of the same JVM (short: it is in interface names).
     * @param subnet the first three octets with a trailing dot, e.g. "10.213.8.".
     */
    private RateNetns(final String tag, final String subnet)
    {
        this.prefix = "mgrate-" + ProcessHandle.current().pid() + "-" + tag + "-";
        this.subnet = subnet;
    }

    /**
     * Make the network, or return null when this host cannot (not root, or {@code ip netns add} fails), so
     * the caller can skip with an assumption.
     *
     * @param tag    short tag.
     * @param subnet e.g. "10.213.8.".
     * @param nodes  node count; node i gets subnet + (i + 1).
     * @return the network, or null.
     * @throws IOException when a step after the first fails (everything made is removed first).
     */
    static RateNetns createOrNull(final String tag, final String subnet, final int nodes) throws IOException
    {
        if (!"root".equals(System.getProperty("user.name")))
        {
            return null;
        }
        final RateNetns net = new RateNetns(tag, subnet);
        try
        {
            if (ip(false, "netns", "add", net.bridgeNs()) != 0)
            {
                return null;
            }
            net.created.add(net.bridgeNs());
            ip(true, "-n", net.bridgeNs(), "link", "set", "lo", "up");
            ip(true, "-n", net.bridgeNs(), "link", "add", "br0", "type", "bridge");
            ip(true, "-n", net.bridgeNs(), "addr", "add", net.clientAddress() + "/24", "dev", "br0");
            ip(true, "-n", net.bridgeNs(), "link", "set", "br0", "up");
            for (int i = 0; i < nodes; i++)
            {
                final String ns = net.nodeNs(i);
                ip(true, "netns", "add", ns);
                net.created.add(ns);
                ip(true, "-n", ns, "link", "set", "lo", "up");
                ip(true, "-n", net.bridgeNs(), "link", "add", "vb" + i, "type", "veth", "peer", "name", "eth0",
                    "netns", ns);
                ip(true, "-n", net.bridgeNs(), "link", "set", "vb" + i, "master", "br0");
                ip(true, "-n", net.bridgeNs(), "link", "set", "vb" + i, "up");
                ip(true, "-n", ns, "addr", "add", net.address(i) + "/24", "dev", "eth0");
                ip(true, "-n", ns, "link", "set", "eth0", "up");
            }
            return net;
        }
        catch (final IOException | RuntimeException ex)
        {
            net.close();
            throw ex;
        }
    }

    /**
     * @return the namespace holding the bridge (and the client address).
     */
    String bridgeNs()
    {
        return prefix + "br";
    }

    /**
     * @param i node.
     * @return its namespace.
     */
    String nodeNs(final int i)
    {
        return prefix + (char)('a' + i);
    }

    /**
     * @param i node.
     * @return its address.
     */
    String address(final int i)
    {
        return subnet + (i + 1);
    }

    /**
     * @return the bridge namespace's own address on br0 (where a client runs).
     */
    String clientAddress()
    {
        return subnet + "254";
    }

    /**
     * @return the node namespaces' name prefix, for reports.
     */
    String prefix()
    {
        return prefix;
    }

    /**
     * @param ns a namespace of this network.
     * @return the words that run a command in it ({@code ip netns exec NS}, which execs the command).
     */
    static List<String> exec(final String ns)
    {
        return List.of("ip", "netns", "exec", ns);
    }

    /**
     * Cut node i off (its veth down on the bridge side).
     *
     * @param i node.
     * @throws IOException if ip fails.
     */
    void cut(final int i) throws IOException
    {
        ip(true, "-n", bridgeNs(), "link", "set", "vb" + i, "down");
    }

    /**
     * Heal node i's link.
     *
     * @param i node.
     * @throws IOException if ip fails.
     */
    void heal(final int i) throws IOException
    {
        ip(true, "-n", bridgeNs(), "link", "set", "vb" + i, "up");
    }

    /**
     * Delete every namespace made (their veths and the bridge with them).
     */
    public void close()
    {
        for (int i = created.size() - 1; i >= 0; i--)
        {
            try
            {
                ip(false, "netns", "del", created.get(i));
            }
            catch (final IOException ex)
            {
                System.err.println("RateNetns: cannot delete " + created.get(i) + ": " + ex);
            }
        }
        created.clear();
    }

    static int ip(final boolean mustWork, final String... args) throws IOException
    {
        final List<String> cmd = new ArrayList<>();
        cmd.add("ip");
        cmd.addAll(List.of(args));
        final Process p;
        try
        {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        }
        catch (final IOException ex)
        {
            if (mustWork)
            {
                throw ex;
            }
            return -1;
        }
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try
        {
            if (!p.waitFor(20, TimeUnit.SECONDS))
            {
                p.destroyForcibly();
                throw new IOException(cmd + " hung");
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IOException(cmd + " interrupted", ex);
        }
        if (mustWork && p.exitValue() != 0)
        {
            throw new IOException(cmd + " failed (" + p.exitValue() + "): " + out);
        }
        return p.exitValue();
    }
}
