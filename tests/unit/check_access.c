#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "access.h"
#include "channel.h"
#include "crypto.h"
#include "testutil.h"

static const char secret[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

START_TEST(test_split)
{
	char		 token[ACCESS_TOKEN_MAX];
	const char	*rest;
	char		 longp[ACCESS_TOKEN_MAX + 16];

	ck_assert_int_eq(access_split("/hls/1/index.m3u8", token, &rest), 0);
	ck_assert_str_eq(token, "");
	ck_assert_str_eq(rest, "/hls/1/index.m3u8");
	ck_assert_int_eq(access_split("/m/123.-.abc/hls/1/x.ts", token,
	    &rest), 0);
	ck_assert_str_eq(token, "123.-.abc");
	ck_assert_str_eq(rest, "/hls/1/x.ts");
	/* No token, no rest, characters outside the set, too long. */
	ck_assert_int_eq(access_split("/m//hls/1", token, &rest), -1);
	ck_assert_int_eq(access_split("/m/abc", token, &rest), -1);
	ck_assert_int_eq(access_split("/m/a_b/hls/1", token, &rest), -1);
	ck_assert_int_eq(access_split("/m/a%2F/hls/1", token, &rest), -1);
	memset(longp, 'a', sizeof longp);
	memcpy(longp, "/m/", 3);
	longp[sizeof longp - 3] = '/';
	longp[sizeof longp - 2] = 'x';
	longp[sizeof longp - 1] = '\0';
	ck_assert_int_eq(access_split(longp, token, &rest), -1);
}
END_TEST

START_TEST(test_media)
{
	const char	*tail;
	long long	 id = 0;

	ck_assert_int_eq(access_media("/hls/12/index.m3u8", &id, &tail),
	    ACCESS_HLS);
	ck_assert_int_eq(id, 12);
	ck_assert_str_eq(tail, "index.m3u8");
	ck_assert_int_eq(access_media("/hls/12/hd/seg1.ts", &id, &tail),
	    ACCESS_HLS);
	ck_assert_str_eq(tail, "hd/seg1.ts");
	ck_assert_int_eq(access_media("/dash/7/manifest.mpd", &id, NULL),
	    ACCESS_DASH);
	ck_assert_int_eq(id, 7);
	ck_assert_int_eq(access_media("/stream/3", &id, &tail),
	    ACCESS_STREAM);
	ck_assert_str_eq(tail, "");
	ck_assert_int_eq(access_media("/audio/3", &id, NULL), ACCESS_AUDIO);
	ck_assert_int_eq(access_media("/ws/9", &id, NULL), ACCESS_WS);
	/* One spelling per id; folders need a file, streams none. */
	ck_assert_int_eq(access_media("/hls/012/x", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/hls/0/x", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/hls/-1/x", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/hls/12", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/stream/3/x", &id, NULL),
	    ACCESS_NONE);
	ck_assert_int_eq(access_media("/stream/", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/stream/99999999999999999999", &id,
	    NULL), ACCESS_NONE);
	/* Recordings live in their channel's folder. */
	ck_assert_int_eq(access_media("/rec/4/17.mp4", &id, &tail),
	    ACCESS_REC);
	ck_assert_int_eq(id, 4);
	ck_assert_str_eq(tail, "17.mp4");
	ck_assert_int_eq(access_media("/rec/a.mp4", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/rec/4", &id, NULL), ACCESS_NONE);
	ck_assert_int_eq(access_media("/api/streams", &id, NULL),
	    ACCESS_NONE);
}
END_TEST

START_TEST(test_sign_verify)
{
	char	 token[ACCESS_TOKEN_MAX], region[3], *cause = NULL;
	char	 bad[ACCESS_TOKEN_MAX];

	access_sign(secret, 12, 2000000000, "DE", token);
	ck_assert_int_eq(access_verify(secret, token, 12, 1900000000, region,
	    &cause), 0);
	ck_assert_str_eq(region, "DE");
	ck_assert_ptr_null(cause);

	access_sign(secret, 12, 2000000000, NULL, token);
	ck_assert_int_eq(strncmp(token, "2000000000.-.", 13), 0);
	ck_assert_uint_eq(strlen(token), 13 + 32);
	ck_assert_int_eq(access_verify(secret, token, 12, 1900000000, region,
	    &cause), 0);
	ck_assert_str_eq(region, "");

	/* Another channel, another secret, expired, tampered. */
	ck_assert_int_eq(access_verify(secret, token, 13, 1900000000, region,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "not valid"));
	free(cause);
	cause = NULL;
	ck_assert_int_eq(access_verify("another-secret", token, 12,
	    1900000000, region, &cause), -1);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(access_verify(secret, token, 12, 2000000000, region,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "expired"));
	free(cause);
	cause = NULL;
	/* A later expiry with the old MAC. */
	strcpy(bad, token);
	bad[0] = '3';
	ck_assert_int_eq(access_verify(secret, bad, 12, 1900000000, region,
	    &cause), -1);
	free(cause);
	cause = NULL;
	/* Another region with the old MAC. */
	access_sign(secret, 12, 2000000000, "FR", token);
	strcpy(bad, token);
	memcpy(bad + 11, "DE", 2);
	ck_assert_int_eq(access_verify(secret, bad, 12, 1900000000, region,
	    &cause), -1);
	ck_assert_str_eq(region, "");
	free(cause);
	cause = NULL;
}
END_TEST

START_TEST(test_malformed)
{
	static const char *const bad[] = {
		"", ".", "..", "1..", "1.-.", "a.-.00000000000000000000000000000000",
		"1.DE", "1.xx.00000000000000000000000000000000",
		"1.ZZ.00000000000000000000000000000000",
		"1.de.00000000000000000000000000000000",
		"1.DEU.00000000000000000000000000000000",
		"1.-.0000000000000000000000000000000",
		"1.-.000000000000000000000000000000000",
		"1234567890123456789.-.00000000000000000000000000000000",
		NULL
	};
	char	region[3], *cause;
	size_t	i;

	for (i = 0; bad[i] != NULL; i++) {
		cause = NULL;
		ck_assert_msg(access_verify(secret, bad[i], 1, 0, region,
		    &cause) == -1, "accepted '%s'", bad[i]);
		ck_assert_ptr_nonnull(cause);
		ck_assert_str_eq(region, "");
		free(cause);
	}
}
END_TEST

START_TEST(test_expiry)
{
	/* Whole hours past now + ttl: the same within an hour. */
	ck_assert_int_eq(access_expiry(3600 * 10, 60), 3600 * 11);
	ck_assert_int_eq(access_expiry(3600 * 10 + 1, 60), 3600 * 11);
	ck_assert_int_eq(access_expiry(3600 * 10 + 3539, 60), 3600 * 11);
	ck_assert_int_eq(access_expiry(3600 * 10 + 3540, 60), 3600 * 12);
	ck_assert(access_expiry(1000, 86400) > 1000 + 86400);
}
END_TEST

START_TEST(test_channel)
{
	struct channel	 ch;
	char		*cause = NULL;

	memset(&ch, 0, sizeof ch);
	ch.id = 5;
	ck_assert_int_eq(access_channel(&ch, NULL, 1000, &cause), 0);
	strlist_add(&ch.regions_blocked, "DE");
	ck_assert_int_eq(access_channel(&ch, "FR", 1000, &cause), 0);
	ck_assert_int_eq(access_channel(&ch, "DE", 1000, &cause), EACCES);
	ck_assert_ptr_nonnull(strstr(cause, "DE"));
	free(cause);
	cause = NULL;
	/* Outside its window: gone, unless the time does not matter (a
	 * recording); the region rules still hold then. */
	ch.schedule.start = 2000;
	ck_assert_int_eq(access_channel(&ch, "FR", 1000, &cause), ENOENT);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(access_channel(&ch, "FR", -1, &cause), 0);
	ck_assert_int_eq(access_channel(&ch, "DE", -1, &cause), EACCES);
	free(cause);
	cause = NULL;
	ch.schedule.start = 0;
	strlist_add(&ch.regions_allowed, "FR");
	ck_assert_int_eq(access_channel(&ch, NULL, 1000, &cause), EACCES);
	free(cause);
	strlist_free(&ch.regions_allowed);
	strlist_free(&ch.regions_blocked);
}
END_TEST

static Suite *
access_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("access");
	tc = tcase_create("paths");
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_media);
	suite_add_tcase(s, tc);
	tc = tcase_create("tokens");
	tcase_add_test(tc, test_sign_verify);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_expiry);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, test_channel);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(access_suite()));
}
