/*
 * SUMMARY
 * The certificate mailgate serves when none is configured: an EC P-256 key and a self-signed X.509 v3
 * certificate for the daemon's host name, made at start so STARTTLS and implicit TLS work out of the box.
 *
 * DESCRIPTION
 * The certificate is DER-encoded here (Der) and signed with the JDK's public Signature API. Neither keytool
 * (a child process costing about a second per start) nor sun.security.x509 (internal, its API changed between
 * JDK 17 and 25, and it needs --add-exports) is used, so this works unchanged on JDK 17 through 25.
 * The key and certificate are kept in SPOOL/run/selfsigned.p12 (PKCS#12, mode 0600, store password
 * "mailgate") and the certificate alone in SPOOL/run/selfsigned.pem, so a client can be told to trust it.
 * A later start reuses them while they are valid for at least 30 more days and name the same host.
 *
 * SECURITY
 * A self-signed certificate gives encryption against passive eavesdroppers only; a client cannot
 * authenticate the server unless it pins this certificate. Configure tls.cert-file for real use.
 */
package mailgate.reactor.tls;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Makes, stores and reloads the self-signed fallback certificate.
 */
public final class SelfSignedCertificate
{
    /** Key store file under the run directory. */
    public static final String P12_FILE = "selfsigned.p12";
    /** Certificate (PEM) under the run directory, for clients to trust. */
    public static final String PEM_FILE = "selfsigned.pem";
    /** PKCS#12 store password. */
    public static final char[] STORE_PASSWORD = "mailgate".toCharArray();
    static final String ALIAS = "mailgate";

    private static final long VALIDITY_DAYS = 3650;
    private static final long RENEW_BEFORE_MS = TimeUnit.DAYS.toMillis(30);
    private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

    private SelfSignedCertificate()
    {
    }

    /**
     * Load the stored certificate for this host name, or make and store a new one.
     *
     * @param runDir   SPOOL/run (exists, 0700).
     * @param hostname the name the certificate is for.
     * @return key and chain.
     * @throws GeneralSecurityException if the JDK lacks EC or PKCS#12 (it does not).
     * @throws IOException              if the files cannot be written.
     */
    public static KeyMaterial loadOrCreate(final Path runDir, final String hostname)
        throws GeneralSecurityException, IOException
    {
        final Path p12 = runDir.resolve(P12_FILE);
        if (Files.isRegularFile(p12))
        {
            try
            {
                final KeyMaterial existing = load(p12);
                final X509Certificate cert = existing.chain()[0];
                if (cert.getNotAfter().getTime() - System.currentTimeMillis() > RENEW_BEFORE_MS &&
                    cert.getSubjectX500Principal().getName().equals("CN=" + hostname))
                {
                    return existing;
                }
            }
            catch (final IOException | GeneralSecurityException ex)
            {
                // unreadable or foreign: make a new one below
            }
        }
        final KeyMaterial made = create(hostname);
        store(runDir, made);
        return made;
    }

    /**
     * Make a key pair and a self-signed certificate (no files).
     *
     * @param hostname subject CN and DNS subject alternative name; "localhost" and 127.0.0.1 are added.
     * @return key and one-certificate chain.
     * @throws GeneralSecurityException if EC P-256 or SHA256withECDSA is missing.
     */
    public static KeyMaterial create(final String hostname) throws GeneralSecurityException
    {
        final KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
        final KeyPair pair = generator.generateKeyPair();
        final byte[] publicKeyInfo = pair.getPublic().getEncoded();
        final byte[] keyId = MessageDigest.getInstance("SHA-1").digest(publicKeyInfo);
        final byte[] serial = new byte[9];
        new SecureRandom().nextBytes(serial);
        serial[0] &= 0x7F;
        final long nowS = System.currentTimeMillis() / 1000;
        final byte[] name = Der.sequence(Der.set(Der.sequence(Der.oid("2.5.4.3"), Der.utf8(hostname))));
        final List<byte[]> altNames = new ArrayList<>();
        altNames.add(Der.tlv(0x82, hostname.getBytes(StandardCharsets.US_ASCII)));
        if (!"localhost".equalsIgnoreCase(hostname))
        {
            altNames.add(Der.tlv(0x82, "localhost".getBytes(StandardCharsets.US_ASCII)));
        }
        altNames.add(Der.tlv(0x87, InetAddress.getLoopbackAddress().getAddress()));
        final byte[] extensions = Der.sequence(
            // basicConstraints: not a CA
            Der.sequence(Der.oid("2.5.29.19"), Der.bool(true), Der.octetString(Der.sequence())),
            // keyUsage: digitalSignature
            Der.sequence(Der.oid("2.5.29.15"), Der.bool(true), Der.octetString(new byte[]{0x03, 0x02, 0x07, (byte)0x80})),
            // extendedKeyUsage: serverAuth
            Der.sequence(Der.oid("2.5.29.37"), Der.octetString(Der.sequence(Der.oid("1.3.6.1.5.5.7.3.1")))),
            // subjectAltName
            Der.sequence(Der.oid("2.5.29.17"), Der.octetString(Der.sequence(altNames.toArray(new byte[0][])))),
            // subjectKeyIdentifier and authorityKeyIdentifier (strict verifiers want both)
            Der.sequence(Der.oid("2.5.29.14"), Der.octetString(Der.octetString(keyId))),
            Der.sequence(Der.oid("2.5.29.35"), Der.octetString(Der.sequence(Der.tlv(0x80, keyId)))));
        final byte[] signatureAlgorithm = Der.sequence(Der.oid(ECDSA_WITH_SHA256));
        final byte[] tbs = Der.sequence(
            Der.explicit(0, Der.integer(2)),
            Der.integer(new BigInteger(serial)),
            signatureAlgorithm,
            name,
            Der.sequence(Der.time(nowS - 3600), Der.time(nowS + TimeUnit.DAYS.toSeconds(VALIDITY_DAYS))),
            name,
            publicKeyInfo,
            Der.explicit(3, extensions));
        final Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(pair.getPrivate());
        signer.update(tbs);
        final byte[] der = Der.sequence(tbs, signatureAlgorithm, Der.bitString(signer.sign()));
        final X509Certificate cert = (X509Certificate)CertificateFactory.getInstance("X.509")
            .generateCertificate(new java.io.ByteArrayInputStream(der));
        cert.verify(pair.getPublic());
        return new KeyMaterial(pair.getPrivate(), new X509Certificate[]{cert});
    }

    static KeyMaterial load(final Path p12) throws IOException, GeneralSecurityException
    {
        final KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12))
        {
            store.load(in, STORE_PASSWORD);
        }
        final PrivateKey key = (PrivateKey)store.getKey(ALIAS, STORE_PASSWORD);
        final Certificate[] chain = store.getCertificateChain(ALIAS);
        if (null == key || null == chain || 0 == chain.length)
        {
            throw new GeneralSecurityException(p12 + ": no key entry '" + ALIAS + "'");
        }
        final X509Certificate[] x509 = new X509Certificate[chain.length];
        for (int i = 0; i < chain.length; i++)
        {
            x509[i] = (X509Certificate)chain[i];
        }
        return new KeyMaterial(key, x509);
    }

    private static void store(final Path runDir, final KeyMaterial material) throws IOException, GeneralSecurityException
    {
        final KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry(ALIAS, material.key(), STORE_PASSWORD, material.chain());
        final Path tmp = runDir.resolve(P12_FILE + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (OutputStream out = Files.newOutputStream(tmp))
        {
            store.store(out, STORE_PASSWORD);
        }
        Files.move(tmp, runDir.resolve(P12_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        final String pem = "-----BEGIN CERTIFICATE-----\n" +
            Base64.getMimeEncoder(64, new byte[]{'\n'}).encodeToString(material.chain()[0].getEncoded()) +
            "\n-----END CERTIFICATE-----\n";
        final Path pemTmp = runDir.resolve(PEM_FILE + ".tmp");
        Files.writeString(pemTmp, pem, StandardCharsets.US_ASCII);
        Files.move(pemTmp, runDir.resolve(PEM_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
