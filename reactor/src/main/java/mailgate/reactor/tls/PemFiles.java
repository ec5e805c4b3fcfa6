/*
 * SUMMARY
 * Reads a certificate chain and an unencrypted private key from PEM files (RFC 7468).
 *
 * DESCRIPTION
 * Certificates: one or more "CERTIFICATE" blocks, leaf first. Keys: "PRIVATE KEY" (PKCS#8: RSA, EC,
 * Ed25519/Ed448) or "RSA PRIVATE KEY" (PKCS#1, wrapped into PKCS#8 here). The key must match the leaf
 * certificate's public key; that is checked by signing and verifying a probe.
 *
 * LIMITS
 * Encrypted keys ("ENCRYPTED PRIVATE KEY", Proc-Type headers) and SEC1 "EC PRIVATE KEY" are refused with a
 * message that says how to convert them (openssl pkcs8 -topk8 -nocrypt).
 */
package mailgate.reactor.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * PEM certificate and key loading.
 */
public final class PemFiles
{
    private PemFiles()
    {
    }

    /**
     * @param certFile PEM certificate chain, leaf first.
     * @param keyFile  PEM private key; may be the same file as certFile.
     * @return the key material.
     * @throws IOException with a message naming the file and what is wrong.
     */
    public static KeyMaterial load(final Path certFile, final Path keyFile) throws IOException
    {
        final X509Certificate[] chain = certificates(certFile);
        final String keyText = Files.readString(keyFile, StandardCharsets.US_ASCII);
        if (keyText.contains("ENCRYPTED") || keyText.contains("Proc-Type:"))
        {
            throw new IOException(keyFile + ": encrypted keys are not supported; decrypt with " +
                "'openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8'");
        }
        final byte[] pkcs8;
        final List<byte[]> pk8 = blocks(keyFile, "PRIVATE KEY");
        if (!pk8.isEmpty())
        {
            pkcs8 = pk8.get(0);
        }
        else
        {
            final List<byte[]> pkcs1 = blocks(keyFile, "RSA PRIVATE KEY");
            if (pkcs1.isEmpty())
            {
                throw new IOException(keyFile + ": no -----BEGIN PRIVATE KEY----- (PKCS#8) or RSA PRIVATE KEY block" +
                    (keyText.contains("EC PRIVATE KEY") ? "; convert the EC key with 'openssl pkcs8 -topk8 -nocrypt'" : ""));
            }
            pkcs8 = Der.sequence(Der.integer(0), Der.sequence(Der.oid("1.2.840.113549.1.1.1"), Der.nul()),
                Der.octetString(pkcs1.get(0)));
        }
        final PrivateKey key = privateKey(keyFile, pkcs8, chain[0].getPublicKey().getAlgorithm());
        checkPair(keyFile, key, chain[0]);
        return new KeyMaterial(key, chain);
    }

    /**
     * @param certFile PEM file with one or more certificates (a chain, or trust anchors).
     * @return the certificates in file order.
     * @throws IOException with a message naming the file and what is wrong (also when there is none).
     */
    public static X509Certificate[] certificates(final Path certFile) throws IOException
    {
        final List<byte[]> certs = blocks(certFile, "CERTIFICATE");
        if (certs.isEmpty())
        {
            throw new IOException(certFile + ": no -----BEGIN CERTIFICATE----- block");
        }
        final X509Certificate[] chain = new X509Certificate[certs.size()];
        try
        {
            final CertificateFactory factory = CertificateFactory.getInstance("X.509");
            for (int i = 0; i < chain.length; i++)
            {
                chain[i] = (X509Certificate)factory.generateCertificate(new ByteArrayInputStream(certs.get(i)));
            }
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IOException(certFile + ": bad certificate: " + ex.getMessage(), ex);
        }
        return chain;
    }

    private static PrivateKey privateKey(final Path keyFile, final byte[] pkcs8, final String certAlgorithm)
        throws IOException
    {
        final List<String> algorithms = new ArrayList<>(List.of(certAlgorithm, "RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS"));
        for (final String algorithm : algorithms)
        {
            try
            {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
            }
            catch (final GeneralSecurityException | RuntimeException ex)
            {
                // try the next algorithm
            }
        }
        throw new IOException(keyFile + ": cannot read the private key (RSA, EC or EdDSA in PKCS#8 expected)");
    }

    private static void checkPair(final Path keyFile, final PrivateKey key, final X509Certificate leaf) throws IOException
    {
        final String algorithm = switch (key.getAlgorithm())
        {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519" -> "Ed25519";
            case "Ed448" -> "Ed448";
            default -> null;
        };
        if (null == algorithm)
        {
            return;
        }
        try
        {
            final byte[] probe = "mailgate key check".getBytes(StandardCharsets.US_ASCII);
            final Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            final byte[] signature = signer.sign();
            final Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(probe);
            if (!verifier.verify(signature))
            {
                throw new IOException(keyFile + ": the private key does not match the certificate");
            }
        }
        catch (final GeneralSecurityException ex)
        {
            throw new IOException(keyFile + ": the private key does not match the certificate (" + ex.getMessage() + ")");
        }
    }

    private static List<byte[]> blocks(final Path file, final String label) throws IOException
    {
        final String text = Files.readString(file, StandardCharsets.US_ASCII);
        final String begin = "-----BEGIN " + label + "-----";
        final String end = "-----END " + label + "-----";
        final List<byte[]> found = new ArrayList<>();
        int from = 0;
        while (true)
        {
            final int b = text.indexOf(begin, from);
            if (b < 0)
            {
                return found;
            }
            final int e = text.indexOf(end, b);
            if (e < 0)
            {
                throw new IOException(file + ": " + begin + " without " + end);
            }
            final String body = text.substring(b + begin.length(), e).replaceAll("\\s", "");
            try
            {
                found.add(Base64.getDecoder().decode(body));
            }
            catch (final IllegalArgumentException ex)
            {
                throw new IOException(file + ": bad base64 in a " + label + " block");
            }
            from = e + end.length();
        }
    }
}
