/*
 * SUMMARY
 * Entry point of the handoff role ("bin/mailgate handoff"): delivers what smtpd accepted into queue/ to the
 * configured next hop (SMTP, LMTP or a Maildir) until SIGTERM. See docs/handoff.md.
 *
 * DESCRIPTION
 * Options: the usual smtpd ones (--config FILE, --spool DIR, --set KEY=VALUE; the spool root and
 * smtpd.hostname come from there), plus --handoff-config FILE (required) with the handoff.* keys, and
 * --next-hop URI to override handoff.next-hop. Maillog lines go to stdout, diagnostics to stderr.
 *
 * DIAGNOSTICS
 * Exit 78 on a bad option or config line ("file:line: reason"), 71 when the spool is unusable.
 */
package mailgate.handoff;

import mailgate.ipc.ShutdownSignal;
import mailgate.reactor.ConfigException;
import mailgate.reactor.SmtpdConfig;
import mailgate.reactor.SmtpdMain;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the handoff role.
 */
public final class HandoffMain
{
    private HandoffMain()
    {
    }

    /**
     * @param args smtpd options plus --handoff-config FILE [--next-hop URI].
     */
    public static void main(final String[] args)
    {
        final Handoff handoff;
        try
        {
            handoff = run(args, System.out, System.err);
        }
        catch (final ConfigException ex)
        {
            System.err.println("mailgate handoff: " + ex.getMessage());
            System.exit(SmtpdMain.EX_CONFIG);
            return;
        }
        catch (final RuntimeException ex)
        {
            System.err.println("mailgate handoff: " + ex.getMessage());
            System.exit(SmtpdMain.EX_OSERR);
            return;
        }
        System.err.println("mailgate handoff ready (pid " + ProcessHandle.current().pid() + ")");
        ShutdownSignal.await();
        handoff.close();
        System.out.flush();
        System.exit(0);
    }

    /**
     * Parse the options and start delivering (in-process; tests and main use this).
     *
     * @param args    smtpd options plus --handoff-config FILE [--next-hop URI].
     * @param maillog where maillog lines go.
     * @param diag    where diagnostics go.
     * @return the running handoff; close it to stop.
     * @throws ConfigException on a bad option or config line.
     */
    public static Handoff run(final String[] args, final PrintStream maillog, final PrintStream diag)
    {
        final List<String> rest = new ArrayList<>();
        String handoffConfig = null;
        String nextHop = null;
        for (int i = 0; i < args.length; i++)
        {
            final String arg = args[i];
            if ("--handoff-config".equals(arg) || "--next-hop".equals(arg))
            {
                if (i + 1 >= args.length)
                {
                    throw new ConfigException("option " + arg + " needs a value");
                }
                if ("--handoff-config".equals(arg))
                {
                    handoffConfig = args[++i];
                }
                else
                {
                    nextHop = args[++i];
                }
            }
            else
            {
                rest.add(arg);
            }
        }
        if (null == handoffConfig)
        {
            throw new ConfigException("--handoff-config FILE is required (it holds " + HandoffConfig.NEXT_HOP + ")");
        }
        final SmtpdConfig smtpd = SmtpdMain.parse(rest.toArray(new String[0]));
        HandoffConfig config = HandoffConfig.load(Path.of(handoffConfig));
        if (null != nextHop)
        {
            try
            {
                config = config.withNextHop(HandoffConfig.NextHop.parse(nextHop));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new ConfigException("--next-hop: " + ex.getMessage());
            }
        }
        final String helo = config.heloName().isEmpty() ? smtpd.hostname() : config.heloName();
        return Handoff.start(config, Path.of(smtpd.<String>get(SmtpdConfig.SPOOL)), helo, maillog, diag);
    }
}
