package mailgate.reactor.tls;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;

/**
 * A private key and its certificate chain, leaf first.
 *
 * @param key   the server's private key.
 * @param chain leaf certificate first, then intermediates.
 */
public record KeyMaterial(PrivateKey key, X509Certificate[] chain)
{
}
