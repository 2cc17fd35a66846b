#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "testutil.h"

START_TEST(test_mkdirs)
{
	struct stat	 st;
	char		*dir, path[4096], *failed = NULL;

	dir = tu_tmpdir();
	snprintf(path, sizeof path, "%s/a/b/c", dir);
	ck_assert_int_eq(fs_mkdirs(path, 0755, &failed), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_ptr_null(failed);
	/* Again: an existing folder is fine. */
	ck_assert_int_eq(fs_mkdirs(path, 0755, NULL), 0);

	/* A file in the way: the folder it blocks is named. */
	snprintf(path, sizeof path, "%s/file", dir);
	tu_write_file(path, "x");
	ck_assert_int_eq(fs_mkdirs(path, 0755, &failed), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_str_eq(failed, path);
	free(failed);
	failed = NULL;
	snprintf(path, sizeof path, "%s/file/below/deeper", dir);
	ck_assert_int_eq(fs_mkdirs(path, 0755, &failed), -1);
	snprintf(path, sizeof path, "%s/file/below", dir);
	ck_assert_str_eq(failed, path);
	free(failed);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("fsutil");
	TCase	*tc = tcase_create("mkdirs");

	tcase_add_test(tc, test_mkdirs);
	suite_add_tcase(s, tc);
	return (tu_run(s));
}
