#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"

#define SHA256_LEN	32

static void fatal(const char *) __attribute__((noreturn));

/* A digest that cannot be computed must not turn into an empty string
 * that compares equal to another failure; like running out of memory it
 * ends the program (these calls fail only when libcrypto cannot
 * allocate or load its default provider). */
static void
fatal(const char *what)
{
	fprintf(stderr, "amps: fatal: %s failed\n", what);
	abort();
}

static void
tohex(const unsigned char *in, size_t len, char *out)
{
	static const char	hex[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* API keys and the shared token are stored only as this digest. */
void
crypto_sha256_hex(const void *data, size_t len, char *out)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != SHA256_LEN)
		fatal("EVP_Digest(SHA-256)");
	tohex(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof md);
}

/* Webhook signatures (RFC 2104 HMAC with SHA-256); EVP_Q_mac takes
 * size_t lengths, where HMAC() takes an int key length. */
void
crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *data,
    size_t len, char *out)
{
	static const unsigned char	empty[1];
	unsigned char			md[EVP_MAX_MD_SIZE];
	size_t				mdlen = 0;

	/* EVP_Q_mac wants a non-NULL key even when it is empty. */
	if (key == NULL || keylen == 0)
		key = empty;
	if (data == NULL)
		data = empty;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data,
	    len, md, sizeof md, &mdlen) == NULL || mdlen != SHA256_LEN)
		fatal("EVP_Q_mac(HMAC-SHA256)");
	tohex(md, mdlen, out);
	OPENSSL_cleanse(md, sizeof md);
}

/* Secrets (tokens, signatures) must not leak how many leading bytes
 * matched: the content is compared with CRYPTO_memcmp, with no early
 * exit.  Only the lengths, which are not secret, affect the time. */
int
crypto_equal(const char *a, const char *b)
{
	size_t	la, lb;

	if (a == NULL || b == NULL)
		return (0);
	la = strlen(a);
	lb = strlen(b);
	if (la != lb) {
		/* Do the same work, but against itself. */
		(void)CRYPTO_memcmp(a, a, la);
		return (0);
	}
	return (CRYPTO_memcmp(a, b, la) == 0);
}

/* Tokens and session ids from the system RNG (OpenSSL seeds from
 * getrandom). */
int
crypto_random_hex(size_t nbytes, char *out)
{
	unsigned char	chunk[256];
	size_t		done, n;

	out[0] = '\0';
	for (done = 0; done < nbytes; done += n) {
		n = nbytes - done;
		if (n > sizeof chunk)
			n = sizeof chunk;
		if (RAND_bytes(chunk, (int)n) != 1) {
			OPENSSL_cleanse(chunk, sizeof chunk);
			out[0] = '\0';
			return (-1);
		}
		tohex(chunk, n, out + 2 * done);
	}
	OPENSSL_cleanse(chunk, sizeof chunk);
	return (0);
}
