#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "region.h"
#include "testutil.h"

#define N(a)	(sizeof (a) / sizeof (a)[0])

START_TEST(test_valid)
{
	static const char *const good[] = {
		"US", "GB", "DE", "FR", "JP", "AQ", "SS", "BQ", "CW", "SX",
		"AX", "ZW", "AD", "XK", "gb", "us", "Gb", "gB", "xk", NULL
	};
	static const char *const bad[] = {
		"UK", "EU", "UN",	/* exceptionally reserved */
		"ZZ", "AA", "QM", "XA", "XZ",	/* user-assigned */
		"YU", "CS", "AN", "SU", "DD",	/* withdrawn */
		"U", "", "USA", "GBR", "US ", " US", "U1", "1A", "12", "U-",
		"\xc3\x9c" "S", "U\n", NULL
	};
	size_t			 i;

	for (i = 0; good[i] != NULL; i++)
		ck_assert_msg(region_valid(good[i]) == 1, "%s", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(region_valid(bad[i]) == 0, "%s", bad[i]);
	ck_assert_int_eq(region_valid(NULL), 0);
}
END_TEST

/* The table must hold exactly the 249 assigned codes plus XK. */
START_TEST(test_table_size)
{
	char	code[3];
	int	a, b, n = 0, lower = 0;

	code[2] = '\0';
	for (a = 'A'; a <= 'Z'; a++) {
		for (b = 'A'; b <= 'Z'; b++) {
			code[0] = (char)a;
			code[1] = (char)b;
			n += region_valid(code);
			code[0] = (char)(a - 'A' + 'a');
			code[1] = (char)(b - 'A' + 'a');
			lower += region_valid(code);
		}
	}
	ck_assert_int_eq(n, 250);
	ck_assert_int_eq(lower, 250);
}
END_TEST

START_TEST(test_normalise)
{
	char	out[3];

	ck_assert_int_eq(region_normalise("gb", out), 0);
	ck_assert_str_eq(out, "GB");
	ck_assert_int_eq(region_normalise("Us", out), 0);
	ck_assert_str_eq(out, "US");
	ck_assert_int_eq(region_normalise("XK", out), 0);
	ck_assert_str_eq(out, "XK");

	memcpy(out, "QQ", 3);
	ck_assert_int_eq(region_normalise("uk", out), -1);
	ck_assert_int_eq(region_normalise("zz", out), -1);
	ck_assert_int_eq(region_normalise("u", out), -1);
	ck_assert_int_eq(region_normalise("usa", out), -1);
	ck_assert_int_eq(region_normalise("", out), -1);
	ck_assert_int_eq(region_normalise(NULL, out), -1);
	ck_assert_str_eq(out, "QQ");
}
END_TEST

START_TEST(test_permits_empty)
{
	/* No lists: everyone, known or not. */
	ck_assert_int_eq(region_permits(NULL, 0, NULL, 0, "US"), 1);
	ck_assert_int_eq(region_permits(NULL, 0, NULL, 0, NULL), 1);
}
END_TEST

START_TEST(test_permits_allow)
{
	static const char *const allow[] = { "GB", "IE" };

	ck_assert_int_eq(region_permits(allow, N(allow), NULL, 0, "GB"), 1);
	ck_assert_int_eq(region_permits(allow, N(allow), NULL, 0, "IE"), 1);
	ck_assert_int_eq(region_permits(allow, N(allow), NULL, 0, "US"), 0);
	/* An unknown viewer cannot prove it is in the list. */
	ck_assert_int_eq(region_permits(allow, N(allow), NULL, 0, NULL), 0);
	/* Only nallowed entries count. */
	ck_assert_int_eq(region_permits(allow, 1, NULL, 0, "IE"), 0);
}
END_TEST

START_TEST(test_permits_block)
{
	static const char *const block[] = { "RU", "BY" };

	ck_assert_int_eq(region_permits(NULL, 0, block, N(block), "RU"), 0);
	ck_assert_int_eq(region_permits(NULL, 0, block, N(block), "BY"), 0);
	ck_assert_int_eq(region_permits(NULL, 0, block, N(block), "US"), 1);
	/* A block list alone does not shut out unknown viewers. */
	ck_assert_int_eq(region_permits(NULL, 0, block, N(block), NULL), 1);
	ck_assert_int_eq(region_permits(NULL, 0, block, 1, "BY"), 1);
}
END_TEST

START_TEST(test_permits_both)
{
	static const char *const allow[] = { "GB", "IE", "US" };
	static const char *const block[] = { "US" };

	/* The block list wins over the allow list. */
	ck_assert_int_eq(region_permits(allow, N(allow), block, N(block),
	    "US"), 0);
	ck_assert_int_eq(region_permits(allow, N(allow), block, N(block),
	    "GB"), 1);
	ck_assert_int_eq(region_permits(allow, N(allow), block, N(block),
	    "FR"), 0);
	ck_assert_int_eq(region_permits(allow, N(allow), block, N(block),
	    NULL), 0);
}
END_TEST

static Suite *
region_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("region");
	tc = tcase_create("codes");
	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_table_size);
	tcase_add_test(tc, test_normalise);
	suite_add_tcase(s, tc);
	tc = tcase_create("permits");
	tcase_add_test(tc, test_permits_empty);
	tcase_add_test(tc, test_permits_allow);
	tcase_add_test(tc, test_permits_block);
	tcase_add_test(tc, test_permits_both);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(region_suite()));
}
