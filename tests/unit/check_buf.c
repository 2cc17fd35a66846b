#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "testutil.h"

static void vaddf_wrapper(struct buf *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
vaddf_wrapper(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

START_TEST(test_empty)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	s = buf_detach(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "");
	free(s);
	buf_init(&b);
	ck_assert_ptr_null(b.data);
	buf_free(&b);
	buf_free(&b);
}
END_TEST

START_TEST(test_add)
{
	struct buf	b;

	buf_init(&b);
	buf_adds(&b, "hello");
	buf_addc(&b, ',');
	buf_addc(&b, ' ');
	buf_add(&b, "world!!", 5);
	ck_assert_str_eq(b.data, "hello, world");
	ck_assert_uint_eq(b.len, 12);
	ck_assert_uint_gt(b.size, b.len);
	buf_add(&b, NULL, 0);
	buf_adds(&b, "");
	ck_assert_uint_eq(b.len, 12);
	ck_assert_str_eq(b.data, "hello, world");
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_addf)
{
	struct buf	 b = BUF_INIT;
	char		*big;

	buf_addf(&b, "%d-%s-%c", 42, "x", 'y');
	ck_assert_str_eq(b.data, "42-x-y");
	vaddf_wrapper(&b, "/%05.1f/", 2.25);
	ck_assert_str_eq(b.data, "42-x-y/002.2/");
	ck_assert_uint_eq(b.len, strlen(b.data));

	/* Longer than any initial allocation: the second formatting pass. */
	big = malloc(10001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'q', 10000);
	big[10000] = '\0';
	buf_reset(&b);
	buf_addf(&b, "<%s>", big);
	ck_assert_uint_eq(b.len, 10002);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[10000], 'q');
	ck_assert_int_eq(b.data[10001], '>');
	ck_assert_int_eq(b.data[10002], '\0');
	vaddf_wrapper(&b, "%s", big);
	ck_assert_uint_eq(b.len, 20002);
	ck_assert_int_eq(b.data[20001], 'q');
	ck_assert_int_eq(b.data[20002], '\0');
	free(big);
	buf_free(&b);
}
END_TEST

START_TEST(test_growth)
{
	struct buf	b = BUF_INIT;
	char		chunk[1000];
	size_t		i, j;

	/* 4 MB in odd sized pieces, each piece distinguishable. */
	for (i = 0; i < 4000; i++) {
		memset(chunk, 'a' + (int)(i % 26), sizeof chunk);
		buf_add(&b, chunk, i % 2 == 0 ? sizeof chunk : 999);
	}
	ck_assert_uint_eq(b.len, 2000 * 1000 + 2000 * 999);
	ck_assert_uint_ge(b.size, b.len + 1);
	ck_assert_int_eq(b.data[b.len], '\0');
	for (i = 0, j = 0; i < 4000; i++) {
		ck_assert_int_eq(b.data[j], 'a' + (int)(i % 26));
		j += i % 2 == 0 ? 1000 : 999;
		ck_assert_int_eq(b.data[j - 1], 'a' + (int)(i % 26));
	}
	ck_assert_uint_eq(j, b.len);

	for (i = 0; i < 100000; i++)
		buf_addc(&b, 'z');
	ck_assert_uint_eq(b.len, 2000 * 1000 + 2000 * 999 + 100000);
	ck_assert_int_eq(b.data[b.len - 1], 'z');
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_embedded_nul)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	buf_add(&b, "a\0b", 3);
	buf_addc(&b, '\0');
	buf_adds(&b, "c");
	ck_assert_uint_eq(b.len, 5);
	ck_assert_mem_eq(b.data, "a\0b\0c", 6);
	ck_assert_str_eq(b.data, "a");
	s = buf_detach(&b);
	ck_assert_mem_eq(s, "a\0b\0c", 6);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	free(s);
}
END_TEST

START_TEST(test_reset)
{
	struct buf	 b = BUF_INIT;
	char		*before;
	size_t		 size;

	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	buf_adds(&b, "some text that is here");
	before = b.data;
	size = b.size;
	buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_ptr_eq(b.data, before);
	ck_assert_uint_eq(b.size, size);
	buf_adds(&b, "new");
	ck_assert_str_eq(b.data, "new");
	buf_free(&b);

	/* Reusable after buf_free. */
	buf_adds(&b, "again");
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_detach)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	buf_addf(&b, "%s=%d", "n", 7);
	s = buf_detach(&b);
	ck_assert_str_eq(s, "n=7");
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.size, 0);
	buf_adds(&b, "fresh");
	ck_assert_str_eq(b.data, "fresh");
	ck_assert_str_eq(s, "n=7");
	free(s);
	buf_free(&b);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("buf");
	tc = tcase_create("core");
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_add);
	tcase_add_test(tc, test_addf);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_detach);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(buf_suite()));
}
