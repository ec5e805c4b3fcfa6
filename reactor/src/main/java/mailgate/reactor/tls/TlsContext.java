/*
 * SUMMARY
 * The daemon's TLS server configuration: certificate and key (PEM files, or the self-signed fallback),
 * protocol versions, and a factory of server-mode SSLEngines for the event loops.
 *
 * DESCRIPTION
 * reload() (on SIGHUP) reads the PEM files again and swaps the SSLContext with a volatile write; connections
 * that are already encrypted keep the old one, new handshakes use the new one. A reload that fails leaves
 * the old context in place and says why.
 *
 * SECURITY
 * Only TLSv1.3 and TLSv1.2 are enabled (configurable to either alone); the JDK's default cipher suites for
 * those versions are used with the server's preference order. No client certificates are requested.
 */
package mailgate.reactor.tls;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;

/**
 * Makes SSLEngines for server connections; reloadable.
 */
public final class TlsContext
{
    private final Path certFile;
    private final Path keyFile;
    private final Path runDir;
    private final String hostname;
    private final String[] protocols;
    private volatile SSLContext sslContext;
    private volatile String description;

    private TlsContext(
        final Path certFile, final Path keyFile, final Path runDir, final String hostname, final String[] protocols)
    {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.runDir = runDir;
        this.hostname = hostname;
        this.protocols = protocols;
    }

    /**
     * @param certFile  PEM chain, or null for the self-signed certificate.
     * @param keyFile   PEM key (null: same file as certFile).
     * @param runDir    where the self-signed certificate is kept.
     * @param hostname  the self-signed certificate's name.
     * @param protocols e.g. {"TLSv1.3", "TLSv1.2"}.
     * @return a loaded context.
     * @throws IOException if the files cannot be read or do not match.
     */
    public static TlsContext create(
        final Path certFile, final Path keyFile, final Path runDir, final String hostname, final String[] protocols)
        throws IOException
    {
        final TlsContext context = new TlsContext(certFile, null == keyFile ? certFile : keyFile, runDir, hostname,
            protocols);
        context.reload();
        return context;
    }

    /**
     * Read the certificate and key again and use them for new connections.
     *
     * @return a description of the certificate now served.
     * @throws IOException if they cannot be loaded (the old ones stay in use).
     */
    public synchronized String reload() throws IOException
    {
        final KeyMaterial material;
        final String source;
        if (null == certFile)
        {
            try
            {
                material = SelfSignedCertificate.loadOrCreate(runDir, hostname);
            }
            catch (final GeneralSecurityException ex)
            {
                throw new IOException("cannot make a self-signed certificate: " + ex.getMessage(), ex);
            }
            source = "self-signed " + runDir.resolve(SelfSignedCertificate.PEM_FILE);
        }
        else
        {
            material = PemFiles.load(certFile, keyFile);
            source = certFile.toString();
        }
        try
        {
            final KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            final char[] password = new char[0];
            store.setKeyEntry("server", material.key(), password, material.chain());
            final KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, password);
            final SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            final X509Certificate leaf = material.chain()[0];
            sslContext = context;
            description = source + " (" + leaf.getSubjectX500Principal().getName() + ", " +
                material.key().getAlgorithm() + ", valid until " + leaf.getNotAfter().toInstant() + ")";
            return description;
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IOException("cannot use the certificate from " + source + ": " + ex.getMessage(), ex);
        }
    }

    /**
     * @return a server-mode engine with the configured protocols (any thread).
     */
    public SSLEngine newEngine()
    {
        final SSLEngine engine = sslContext.createSSLEngine();
        engine.setUseClientMode(false);
        final SSLParameters parameters = engine.getSSLParameters();
        parameters.setProtocols(protocols);
        parameters.setUseCipherSuitesOrder(true);
        parameters.setNeedClientAuth(false);
        parameters.setWantClientAuth(false);
        engine.setSSLParameters(parameters);
        return engine;
    }

    /**
     * @return what certificate is served, for the maillog.
     */
    public String description()
    {
        return description;
    }

    /**
     * @return the enabled protocol versions.
     */
    public String[] protocols()
    {
        return protocols.clone();
    }
}
