#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "crypto.h"
#include "testutil.h"

static void
check_sha(const void *data, size_t len, const char *want)
{
	char	out[CRYPTO_SHA256_HEXLEN + 1];

	memset(out, 'X', sizeof out);
	crypto_sha256_hex(data, len, out);
	ck_assert_str_eq(out, want);
}

static void
check_hmac(const void *key, size_t keylen, const void *data, size_t len,
    const char *want)
{
	char	out[CRYPTO_SHA256_HEXLEN + 1];

	memset(out, 'X', sizeof out);
	crypto_hmac_sha256_hex(key, keylen, data, len, out);
	ck_assert_str_eq(out, want);
}

/* FIPS 180-2 appendix B examples, and the empty string. */
START_TEST(test_sha256)
{
	static const char	nist2[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	check_sha("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha(nist2, strlen(nist2),
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* The length counts, not the NUL. */
	check_sha("a\0b", 3,
	    "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}
END_TEST

START_TEST(test_sha256_million_a)
{
	char	*data;

	data = malloc(1000000);
	ck_assert_ptr_nonnull(data);
	memset(data, 'a', 1000000);
	check_sha(data, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(data);
}
END_TEST

/* RFC 4231 section 4: test cases 1, 2, 3 and 6. */
START_TEST(test_hmac_rfc4231)
{
	unsigned char	key[131], data[50];

	memset(key, 0x0b, 20);
	check_hmac(key, 20, "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

	check_hmac("Jefe", 4, "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

	memset(key, 0xaa, 20);
	memset(data, 0xdd, 50);
	check_hmac(key, 20, data, 50,
	    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

	memset(key, 0xaa, 131);
	check_hmac(key, 131,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(test_hmac_empty)
{
	check_hmac("", 0, "", 0,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	check_hmac(NULL, 0, NULL, 0,
	    "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
END_TEST

START_TEST(test_equal)
{
	ck_assert_int_eq(crypto_equal("secret", "secret"), 1);
	ck_assert_int_eq(crypto_equal("", ""), 1);
	ck_assert_int_eq(crypto_equal("secret", "secreT"), 0);
	ck_assert_int_eq(crypto_equal("secret", "Secret"), 0);
	ck_assert_int_eq(crypto_equal("secret", "secret2"), 0);
	ck_assert_int_eq(crypto_equal("secret2", "secret"), 0);
	ck_assert_int_eq(crypto_equal("secret", ""), 0);
	ck_assert_int_eq(crypto_equal("", "secret"), 0);
	ck_assert_int_eq(crypto_equal(NULL, "x"), 0);
	ck_assert_int_eq(crypto_equal("x", NULL), 0);
	ck_assert_int_eq(crypto_equal(NULL, NULL), 0);
}
END_TEST

static int
is_lower_hex(const char *s)
{
	return (strspn(s, "0123456789abcdef") == strlen(s));
}

START_TEST(test_random)
{
	char	a[65], b[65], *big;

	memset(a, 'X', sizeof a);
	ck_assert_int_eq(crypto_random_hex(32, a), 0);
	ck_assert_uint_eq(strlen(a), 64);
	ck_assert(is_lower_hex(a));
	ck_assert_int_eq(crypto_random_hex(32, b), 0);
	ck_assert_str_ne(a, b);

	ck_assert_int_eq(crypto_random_hex(0, a), 0);
	ck_assert_str_eq(a, "");

	/* Larger than one internal chunk: every chunk is fresh. */
	big = malloc(2 * 1000 + 1);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(crypto_random_hex(1000, big), 0);
	ck_assert_uint_eq(strlen(big), 2000);
	ck_assert(is_lower_hex(big));
	ck_assert(memcmp(big, big + 512, 512) != 0);
	ck_assert(memcmp(big + 1000, big + 1488, 512) != 0);
	free(big);
}
END_TEST

static Suite *
crypto_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("crypto");
	tc = tcase_create("digest");
	tcase_add_test(tc, test_sha256);
	tcase_add_test(tc, test_sha256_million_a);
	tcase_add_test(tc, test_hmac_rfc4231);
	tcase_add_test(tc, test_hmac_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("compare");
	tcase_add_test(tc, test_equal);
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(crypto_suite()));
}
