/* Hashing, HMAC and comparisons on OpenSSL's libcrypto.  API keys and the
 * shared token are stored as SHA-256 hex; webhooks are signed with
 * HMAC-SHA256; secrets are compared in constant time. */
#ifndef AMPS_CRYPTO_H
#define AMPS_CRYPTO_H

#include <stddef.h>

#define CRYPTO_SHA256_HEXLEN 64

/* out must hold CRYPTO_SHA256_HEXLEN + 1 bytes; lower-case hex. */
void	 crypto_sha256_hex(const void *data, size_t len, char *out);
void	 crypto_hmac_sha256_hex(const void *key, size_t keylen,
	    const void *data, size_t len, char *out);
/* Compares two strings in time that depends only on their lengths.
 * Returns 1 if equal. */
int	 crypto_equal(const char *a, const char *b);
/* Fills out with nbytes random bytes as hex (2 * nbytes + 1 bytes).
 * Returns 0, or -1 if the system RNG fails. */
int	 crypto_random_hex(size_t nbytes, char *out);

#endif
