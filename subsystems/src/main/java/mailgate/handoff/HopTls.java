/*
 * SUMMARY
 * The client side of STARTTLS towards the next hop: one SSLContext for the role, and the upgrade of a
 * connected socket to TLS after the hop's "220" to STARTTLS.
 *
 * DESCRIPTION
 * handoff.tls-verify = false (the default, as Postfix's "may" level): the chain is not checked, the session
 * only protects against passive eavesdroppers. true: the chain must lead to an anchor in handoff.tls-trust
 * (PEM) or, when that is not set, the JDK's default trust store, and the hop's name (the host of
 * handoff.next-hop, a DNS name or an IP address) must match the certificate (RFC 6125 rules as the JDK applies
 * them for HTTPS: subjectAltName DNS or IP entries, one leftmost wildcard label).
 *
 * SECURITY
 * TLSv1.3 and TLSv1.2 only, the JDK's default cipher suites. SNI is sent when the hop is named by a DNS name.
 */
package mailgate.handoff;

import mailgate.reactor.tls.PemFiles;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * STARTTLS client context for the hop.
 */
final class HopTls
{
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private final SSLContext context;
    private final boolean verify;

    private HopTls(final SSLContext context, final boolean verify)
    {
        this.context = context;
        this.verify = verify;
    }

    /**
     * @param config the settings (tls-verify, tls-trust).
     * @return the context for every worker.
     * @throws IllegalStateException when the JDK cannot make one (it can).
     */
    static HopTls create(final HandoffConfig config)
    {
        try
        {
            final TrustManager[] trust;
            if (!config.tlsVerify())
            {
                trust = new TrustManager[]{new AnyCertificate()};
            }
            else
            {
                final TrustManagerFactory tmf = TrustManagerFactory.getInstance(
                    TrustManagerFactory.getDefaultAlgorithm());
                if (null == config.tlsTrust())
                {
                    tmf.init((KeyStore)null);
                }
                else
                {
                    final KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
                    store.load(null, null);
                    final X509Certificate[] anchors = trustAnchors(config.tlsTrust());
                    for (int i = 0; i < anchors.length; i++)
                    {
                        store.setCertificateEntry("anchor-" + i, anchors[i]);
                    }
                    tmf.init(store);
                }
                trust = tmf.getTrustManagers();
            }
            final SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust, null);
            return new HopTls(context, config.tlsVerify());
        }
        catch (final GeneralSecurityException | IOException ex)
        {
            throw new IllegalStateException("cannot set up TLS towards the hop: " + ex.getMessage(), ex);
        }
    }

    /**
     * @param file PEM file of trust anchors.
     * @return its certificates.
     * @throws IllegalArgumentException naming the file and the problem.
     */
    static X509Certificate[] trustAnchors(final Path file)
    {
        try
        {
            return PemFiles.certificates(file);
        }
        catch (final java.nio.file.NoSuchFileException ex)
        {
            throw new IllegalArgumentException(file + ": no such file");
        }
        catch (final IOException ex)
        {
            throw new IllegalArgumentException(null == ex.getMessage() ? file + ": " + ex : ex.getMessage());
        }
    }

    /**
     * Runs the TLS handshake on a connected socket (the hop has answered 220 to STARTTLS).
     *
     * @param plain   the TCP socket; closing the result closes it.
     * @param host    the hop's host as configured (name check and SNI).
     * @param port    the hop's port.
     * @return the TLS socket after a completed handshake.
     * @throws IOException when the handshake fails (including a certificate that does not verify).
     */
    SSLSocket handshake(final Socket plain, final String host, final int port) throws IOException
    {
        final SSLSocket tls = (SSLSocket)context.getSocketFactory().createSocket(plain, host, port, true);
        tls.setUseClientMode(true);
        final SSLParameters parameters = tls.getSSLParameters();
        parameters.setProtocols(PROTOCOLS);
        if (verify)
        {
            parameters.setEndpointIdentificationAlgorithm("HTTPS");
        }
        if (!isIpLiteral(host))
        {
            parameters.setServerNames(List.of(new SNIHostName(host)));
        }
        tls.setSSLParameters(parameters);
        tls.startHandshake();
        return tls;
    }

    /**
     * @param session a completed session.
     * @return "TLSv1.3/TLS_AES_256_GCM_SHA384" for the maillog.
     */
    static String describe(final SSLSession session)
    {
        return session.getProtocol() + "/" + session.getCipherSuite();
    }

    private static boolean isIpLiteral(final String host)
    {
        return host.indexOf(':') >= 0 || host.chars().allMatch((c) -> '.' == c || Character.isDigit(c));
    }

    /** tls-verify = false: encryption without authentication, as Postfix's "may" level. */
    private static final class AnyCertificate implements X509TrustManager
    {
        @Override
        public void checkClientTrusted(final X509Certificate[] chain, final String authType) throws CertificateException
        {
            // the handoff is only ever the TLS client: a server-side check here would be a misuse, so refuse it
            throw new CertificateException("handoff trust manager verifies servers only");
        }

        @Override
        public void checkServerTrusted(final X509Certificate[] chain, final String authType)
        {
            // not verified on purpose (handoff.tls-verify = false)
        }

        @Override
        public X509Certificate[] getAcceptedIssuers()
        {
            return new X509Certificate[0];
        }
    }
}
