#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "escape.h"
#include "testutil.h"

static void
check_escape(const char *in, const char *want)
{
	char	*got;

	got = escape_url(in);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

static void
check_decode(const char *in, int plus, const char *want, size_t wantlen)
{
	char	*got;
	size_t	 len = 12345;

	got = escape_url_decode(in, strlen(in), plus, &len);
	ck_assert_msg(got != NULL, "rejected \"%s\"", in);
	ck_assert_uint_eq(len, wantlen);
	ck_assert_mem_eq(got, want, wantlen);
	ck_assert_int_eq(got[len], '\0');
	free(got);
}

static void
check_decode_bad(const char *in, size_t n)
{
	size_t	len = 12345;

	ck_assert_msg(escape_url_decode(in, n, 0, &len) == NULL,
	    "accepted \"%.*s\"", (int)n, in);
	ck_assert_msg(escape_url_decode(in, n, 1, &len) == NULL,
	    "accepted \"%.*s\" with plus", (int)n, in);
}

START_TEST(test_unreserved)
{
	check_escape("", "");
	check_escape("abcXYZ019-._~", "abcXYZ019-._~");
	check_escape("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
}
END_TEST

START_TEST(test_reserved)
{
	/* RFC 3986 gen-delims and sub-delims, and the rest of ASCII. */
	check_escape(":/?#[]@", "%3A%2F%3F%23%5B%5D%40");
	check_escape("!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D");
	check_escape(" \"%<>\\^`{|}", "%20%22%25%3C%3E%5C%5E%60%7B%7C%7D");
	check_escape("a b&c=d/e?f#g%h+i", "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi");
	check_escape("\t\r\n\x01\x7f", "%09%0D%0A%01%7F");
}
END_TEST

START_TEST(test_utf8)
{
	check_escape("\xc3\xa9", "%C3%A9");			/* e acute */
	check_escape("\xe2\x82\xac 5", "%E2%82%AC%205");	/* euro */
	check_escape("\xf0\x9f\x93\xba", "%F0%9F%93%BA");	/* tv emoji */
	check_escape("\xff\x80", "%FF%80");
}
END_TEST

START_TEST(test_decode)
{
	check_decode("", 0, "", 0);
	check_decode("plain", 0, "plain", 5);
	check_decode("a%20b", 0, "a b", 3);
	check_decode("a+b", 0, "a+b", 3);
	check_decode("a+b", 1, "a b", 3);
	check_decode("a%2Bb", 1, "a+b", 3);
	check_decode("%c3%a9%C3%A9", 0, "\xc3\xa9\xc3\xa9", 4);
	check_decode("%E2%82%AC", 0, "\xe2\x82\xac", 3);
	check_decode("%25", 0, "%", 1);
	check_decode("%2525", 0, "%25", 3);
	check_decode("x%00y", 0, "x\0y", 3);
	check_decode("%ff", 0, "\xff", 1);
}
END_TEST

START_TEST(test_decode_length)
{
	char	*got;
	size_t	 len;

	/* Only n bytes are read. */
	got = escape_url_decode("ab%20cd", 2, 0, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "ab");
	ck_assert_uint_eq(len, 2);
	free(got);
	got = escape_url_decode("ab%20cd", 5, 0, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "ab ");
	free(got);
	got = escape_url_decode("a%20", 4, 0, NULL);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "a ");
	free(got);
	/* An escape cut by n is truncated even if the string goes on. */
	check_decode_bad("a%20", 3);
	check_decode_bad("a%20", 2);
}
END_TEST

START_TEST(test_decode_errors)
{
	static const char *const bad[] = {
		"%", "%2", "a%", "a%2", "%zz", "%g0", "%0g", "%%", "%%20",
		"%-1", "% 1", "ok%2x", "%\xc3\xa9", "%+1", NULL
	};
	size_t			 i;

	for (i = 0; bad[i] != NULL; i++)
		check_decode_bad(bad[i], strlen(bad[i]));
}
END_TEST

START_TEST(test_round_trip)
{
	char	 in[256], *enc, *dec;
	size_t	 i, len;

	for (i = 0; i < 255; i++)
		in[i] = (char)(i + 1);
	in[255] = '\0';
	enc = escape_url(in);
	ck_assert_uint_eq(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~%"), strlen(enc));
	dec = escape_url_decode(enc, strlen(enc), 0, &len);
	ck_assert_ptr_nonnull(dec);
	ck_assert_uint_eq(len, 255);
	ck_assert_mem_eq(dec, in, 256);
	free(dec);
	dec = escape_url_decode(enc, strlen(enc), 1, &len);
	ck_assert_ptr_nonnull(dec);
	ck_assert_mem_eq(dec, in, 256);
	free(dec);
	free(enc);
}
END_TEST

static Suite *
escape_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("escape");
	tc = tcase_create("encode");
	tcase_add_test(tc, test_unreserved);
	tcase_add_test(tc, test_reserved);
	tcase_add_test(tc, test_utf8);
	suite_add_tcase(s, tc);
	tc = tcase_create("decode");
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_decode_length);
	tcase_add_test(tc, test_decode_errors);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(escape_suite()));
}
