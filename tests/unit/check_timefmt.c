#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "timefmt.h"
#include "testutil.h"

/* 2026-11-21T17:00:00Z */
#define T_1700Z		INT64_C(1795280400)
/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
#define T_MIN		INT64_C(-62167219200)
#define T_MAX		INT64_C(253402300799)

static int64_t
iso(const char *s)
{
	int64_t	t = -1;

	ck_assert_msg(timefmt_parse_iso8601(s, &t) == 0, "rejected %s", s);
	return (t);
}

static int64_t
xmltv(const char *s)
{
	int64_t	t = -1;

	ck_assert_msg(timefmt_parse_xmltv(s, &t) == 0, "rejected %s", s);
	return (t);
}

static int
from(int y, int mo, int d, int h, int mi, int s)
{
	int64_t	t;

	return (timefmt_from_utc(y, mo, d, h, mi, s, &t));
}

START_TEST(test_from_utc)
{
	int64_t	t;

	ck_assert_int_eq(timefmt_from_utc(1970, 1, 1, 0, 0, 0, &t), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_int_eq(timefmt_from_utc(1969, 12, 31, 23, 59, 59, &t), 0);
	ck_assert_int_eq(t, -1);
	ck_assert_int_eq(timefmt_from_utc(2024, 2, 29, 0, 0, 0, &t), 0);
	ck_assert_int_eq(t, INT64_C(1709164800));
	ck_assert_int_eq(timefmt_from_utc(2026, 11, 21, 17, 0, 0, &t), 0);
	ck_assert_int_eq(t, T_1700Z);
	ck_assert_int_eq(timefmt_from_utc(0, 1, 1, 0, 0, 0, &t), 0);
	ck_assert_int_eq(t, T_MIN);
	ck_assert_int_eq(timefmt_from_utc(9999, 12, 31, 23, 59, 59, &t), 0);
	ck_assert_int_eq(t, T_MAX);
	ck_assert_int_eq(timefmt_from_utc(1, 1, 1, 0, 0, 0, &t), 0);
	ck_assert_int_eq(t, INT64_C(-62135596800));
}
END_TEST

START_TEST(test_leap_years)
{
	ck_assert_int_eq(from(2024, 2, 29, 0, 0, 0), 0);
	ck_assert_int_eq(from(2023, 2, 29, 0, 0, 0), -1);
	ck_assert_int_eq(from(2023, 2, 28, 0, 0, 0), 0);
	ck_assert_int_eq(from(2000, 2, 29, 0, 0, 0), 0);
	ck_assert_int_eq(from(1900, 2, 29, 0, 0, 0), -1);
	ck_assert_int_eq(from(2100, 2, 29, 0, 0, 0), -1);
	ck_assert_int_eq(from(2400, 2, 29, 0, 0, 0), 0);
	ck_assert_int_eq(from(2024, 2, 30, 0, 0, 0), -1);

	ck_assert_int_eq(iso("2024-02-29") + 86400, iso("2024-03-01"));
	ck_assert_int_eq(iso("2023-02-28") + 86400, iso("2023-03-01"));
	ck_assert_int_eq(iso("2000-02-29T00:00:00Z") + 86400,
	    iso("2000-03-01T00:00:00Z"));
	ck_assert_int_eq(iso("1900-02-28T00:00:00Z") + 86400,
	    iso("1900-03-01T00:00:00Z"));
	ck_assert_int_eq(iso("2025-01-01") - iso("2024-01-01"), 366 * 86400);
	ck_assert_int_eq(iso("2101-01-01") - iso("2100-01-01"), 365 * 86400);
}
END_TEST

START_TEST(test_ranges)
{
	static const int	mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			m;

	for (m = 1; m <= 12; m++) {
		ck_assert_int_eq(from(2023, m, mdays[m - 1], 0, 0, 0), 0);
		ck_assert_int_eq(from(2023, m, mdays[m - 1] + 1, 0, 0, 0), -1);
		ck_assert_int_eq(from(2023, m, 0, 0, 0, 0), -1);
	}
	ck_assert_int_eq(from(2023, 0, 1, 0, 0, 0), -1);
	ck_assert_int_eq(from(2023, 13, 1, 0, 0, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, 24, 0, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, -1, 0, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, 0, 60, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, 0, -1, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, 0, 0, 60), -1);
	ck_assert_int_eq(from(2023, 1, 1, 0, 0, -1), -1);
	ck_assert_int_eq(from(-1, 1, 1, 0, 0, 0), -1);
	ck_assert_int_eq(from(10000, 1, 1, 0, 0, 0), -1);
	ck_assert_int_eq(from(2023, 1, 1, 23, 59, 59), 0);
}
END_TEST

/* An independent oracle: gmtime_r must agree on every day of 1900-2200
 * and on assorted times. */
START_TEST(test_against_gmtime)
{
	struct tm	tm;
	time_t		tt;
	int64_t		t, out;

	for (t = INT64_C(-2208988800); t < INT64_C(7258118400);
	    t += 86400 + 3671) {
		tt = (time_t)t;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		ck_assert_int_eq(timefmt_from_utc(tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec, &out), 0);
		ck_assert_int_eq(out, t);
	}
}
END_TEST

START_TEST(test_iso_forms)
{
	int64_t	t = T_1700Z;

	ck_assert_int_eq(iso("2026-11-21T17:00:00Z"), t);
	ck_assert_int_eq(iso("2026-11-21T18:00:00+01:00"), t);
	ck_assert_int_eq(iso("2026-11-21T18:00:00+0100"), t);
	ck_assert_int_eq(iso("2026-11-21T11:30:00-05:30"), t);
	ck_assert_int_eq(iso("2026-11-21T11:30:00-0530"), t);
	ck_assert_int_eq(iso("2026-11-21T17:00:00+00:00"), t);
	ck_assert_int_eq(iso("2026-11-21T17:00:00-00:00"), t);
	ck_assert_int_eq(iso("2026-11-22T04:00:00+11:00"), t);
	ck_assert_int_eq(iso("2026-11-21 17:00:00Z"), t);
	ck_assert_int_eq(iso("2026-11-21t17:00:00z"), t);
	ck_assert_int_eq(iso("2026-11-21T17:00:00.999Z"), t);
	ck_assert_int_eq(iso("2026-11-21T17:00:00,5Z"), t);
	ck_assert_int_eq(iso("2026-11-21T18:00:00.123456789+01:00"), t);
	ck_assert_int_eq(iso("2026-11-21"), t - 17 * 3600);
	ck_assert_int_eq(iso("2026-11-21T00:00:00Z"), iso("2026-11-21"));
	ck_assert_int_eq(iso("1970-01-01T00:00:00Z"), 0);
	ck_assert_int_eq(iso("1970-01-01T00:00:00+01:00"), -3600);
	ck_assert_int_eq(iso("1969-12-31T23:59:59Z"), -1);
	ck_assert_int_eq(iso("9999-12-31T23:59:59Z"), T_MAX);
	ck_assert_int_eq(iso("0000-01-01T00:00:00Z"), T_MIN);
	/* The offset may cross a day, month and year boundary. */
	ck_assert_int_eq(iso("2027-01-01T00:30:00+01:00"),
	    iso("2026-12-31T23:30:00Z"));
}
END_TEST

START_TEST(test_iso_reject)
{
	static const char *const bad[] = {
		"",
		"2026",
		"2026-11",
		"2026-11-21T17:00:00",		/* no zone */
		"2026-11-21 17:00:00",		/* no zone */
		"2026-11-21T17:00:00.5",	/* no zone */
		"2026-11-21T17:00Z",		/* no seconds */
		"2026-11-21T17Z",
		"2026-11-21T",
		"2026-11-21T17:00:00Z ",	/* trailing garbage */
		"2026-11-21T17:00:00Zx",
		"2026-11-21T17:00:00+01:00x",
		"2026-11-21T17:00:00+01:00Z",
		"2026-11-21x",
		"2026-11-21 ",
		"2026-11-21TT17:00:00Z",
		" 2026-11-21T17:00:00Z",	/* leading space */
		"2026-11-21T17:00:00.Z",	/* empty fraction */
		"2026-11-21T17:00:00+01",	/* short offsets */
		"2026-11-21T17:00:00+1",
		"2026-11-21T17:00:00+01:0",
		"2026-11-21T17:00:00+010",
		"2026-11-21T17:00:00+24:00",	/* offset out of range */
		"2026-11-21T17:00:00+01:60",
		"2026-11-21T17:00:00 +01:00",
		"26-11-21",			/* short fields */
		"2026-1-21",
		"2026-11-1",
		"2026-11-21T1:00:00Z",
		"2026-11-21T17:0:00Z",
		"2026-11-21T17:00:0Z",
		"20261121T170000Z",		/* basic format */
		"2026/11/21",
		"+2026-11-21",
		"-001-01-01",
		"2026-00-21",			/* field ranges */
		"2026-13-21",
		"2026-11-00",
		"2026-11-31",
		"2026-04-31T00:00:00Z",
		"2023-02-29",
		"2023-02-29T12:00:00Z",
		"1900-02-29",
		"2026-11-21T24:00:00Z",
		"2026-11-21T23:60:00Z",
		"2026-11-21T23:59:60Z",
		"2026-11-21T-1:00:00Z",
		"2026-1a-21",
		"yyyy-mm-dd",
		NULL
	};
	int64_t			 t;
	size_t			 i;

	for (i = 0; bad[i] != NULL; i++) {
		t = 42;
		ck_assert_msg(timefmt_parse_iso8601(bad[i], &t) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(t == 42, "out changed by \"%s\"", bad[i]);
	}
	ck_assert_int_eq(timefmt_parse_iso8601(NULL, &t), -1);
}
END_TEST

START_TEST(test_iso_format)
{
	char	buf[TIMEFMT_BUFSIZE];

	ck_assert_str_eq(timefmt_format_iso8601(0, buf, sizeof buf),
	    "1970-01-01T00:00:00Z");
	ck_assert_str_eq(timefmt_format_iso8601(T_1700Z, buf, sizeof buf),
	    "2026-11-21T17:00:00Z");
	ck_assert_str_eq(timefmt_format_iso8601(-1, buf, sizeof buf),
	    "1969-12-31T23:59:59Z");
	ck_assert_str_eq(timefmt_format_iso8601(951782400, buf, sizeof buf),
	    "2000-02-29T00:00:00Z");
	ck_assert_str_eq(timefmt_format_iso8601(T_MAX, buf, sizeof buf),
	    "9999-12-31T23:59:59Z");
	ck_assert_str_eq(timefmt_format_iso8601(T_MIN, buf, sizeof buf),
	    "0000-01-01T00:00:00Z");
	/* Far outside the parsable range it still fits the buffer. */
	timefmt_format_iso8601(INT64_MAX, buf, sizeof buf);
	ck_assert_uint_lt(strlen(buf), sizeof buf);
	timefmt_format_iso8601(INT64_MIN, buf, sizeof buf);
	ck_assert_uint_lt(strlen(buf), sizeof buf);
}
END_TEST

START_TEST(test_round_trip)
{
	char	buf[TIMEFMT_BUFSIZE];
	int64_t	t, back;
	int	n = 0;

	for (t = T_MIN; t <= T_MAX; t += INT64_C(86400) * 97 + 4217, n++) {
		timefmt_format_iso8601(t, buf, sizeof buf);
		ck_assert_msg(timefmt_parse_iso8601(buf, &back) == 0,
		    "rejected own output %s", buf);
		ck_assert_int_eq(back, t);
		timefmt_format_xmltv(t, buf, sizeof buf);
		ck_assert_msg(timefmt_parse_xmltv(buf, &back) == 0,
		    "rejected own output %s", buf);
		ck_assert_int_eq(back, t);
	}
	ck_assert_int_gt(n, 30000);
}
END_TEST

START_TEST(test_xmltv_forms)
{
	int64_t	t = T_1700Z;

	ck_assert_int_eq(xmltv("20261121170000 +0000"), t);
	ck_assert_int_eq(xmltv("20261121180000 +0100"), t);
	ck_assert_int_eq(xmltv("20261121113000 -0530"), t);
	ck_assert_int_eq(xmltv("20261121180000+0100"), t);
	ck_assert_int_eq(xmltv("20261121170000"), t);
	ck_assert_int_eq(xmltv("20261121170000 UTC"), t);
	ck_assert_int_eq(xmltv("20261121170000 GMT"), t);
	ck_assert_int_eq(xmltv("20261121170000Z"), t);
	ck_assert_int_eq(xmltv("202611211800 +0100"), t);
	ck_assert_int_eq(xmltv("202611211700"), t);
	ck_assert_int_eq(xmltv("2026112117"), t);
	ck_assert_int_eq(xmltv("20261121"), iso("2026-11-21"));
	ck_assert_int_eq(xmltv("202611"), iso("2026-11-01"));
	ck_assert_int_eq(xmltv("2026"), iso("2026-01-01"));
	ck_assert_int_eq(xmltv("20261121 +0100"), iso("2026-11-20T23:00:00Z"));
	ck_assert_int_eq(xmltv("20240229000000 +0000"), iso("2024-02-29"));
	ck_assert_int_eq(xmltv("19700101000000 +0000"), 0);
}
END_TEST

START_TEST(test_xmltv_reject)
{
	static const char *const bad[] = {
		"",
		"202",
		"20261",			/* odd number of digits */
		"2026112117000",
		"202611211700000",		/* too many */
		"20261121170000 ",		/* trailing garbage */
		"20261121170000 +0100 ",
		"20261121170000 +0100x",
		"20261121170000x",
		"20261121170000 BST",		/* ambiguous names */
		"20261121170000 +01:00",
		"20261121170000 +01",
		"20261121170000 +2400",
		"20261121170000 +0060",
		"20261121170000 UTCx",
		" 20261121170000",
		"2026-11-21",
		"20261321000000",		/* field ranges */
		"20261100000000",
		"20261131000000",
		"20230229000000 +0000",
		"19000229",
		"20261121240000",
		"20261121236000",
		"20261121235960",
		NULL
	};
	int64_t			 t;
	size_t			 i;

	for (i = 0; bad[i] != NULL; i++) {
		t = 42;
		ck_assert_msg(timefmt_parse_xmltv(bad[i], &t) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(t == 42, "out changed by \"%s\"", bad[i]);
	}
	ck_assert_int_eq(timefmt_parse_xmltv(NULL, &t), -1);
}
END_TEST

START_TEST(test_xmltv_format)
{
	char	buf[TIMEFMT_BUFSIZE];

	ck_assert_str_eq(timefmt_format_xmltv(0, buf, sizeof buf),
	    "19700101000000 +0000");
	ck_assert_str_eq(timefmt_format_xmltv(T_1700Z, buf, sizeof buf),
	    "20261121170000 +0000");
	ck_assert_str_eq(timefmt_format_xmltv(T_1700Z + 3723, buf,
	    sizeof buf), "20261121180203 +0000");
	ck_assert_str_eq(timefmt_format_xmltv(-1, buf, sizeof buf),
	    "19691231235959 +0000");
}
END_TEST

static Suite *
timefmt_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("timefmt");
	tc = tcase_create("civil");
	tcase_add_test(tc, test_from_utc);
	tcase_add_test(tc, test_leap_years);
	tcase_add_test(tc, test_ranges);
	tcase_add_test(tc, test_against_gmtime);
	suite_add_tcase(s, tc);
	tc = tcase_create("iso8601");
	tcase_add_test(tc, test_iso_forms);
	tcase_add_test(tc, test_iso_reject);
	tcase_add_test(tc, test_iso_format);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("xmltv");
	tcase_add_test(tc, test_xmltv_forms);
	tcase_add_test(tc, test_xmltv_reject);
	tcase_add_test(tc, test_xmltv_format);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(timefmt_suite()));
}
