#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "store.h"
#include "testutil.h"

/* Test data lives in the build tree, where make clean removes it; /tmp
 * only when run by hand. */
char *
tu_tmpdir(void)
{
	const char	*top;
	char		*base, *path;

	top = getenv("top_builddir");
	if (top != NULL && *top != '\0') {
		if (asprintf(&base, "%s/tests/tmp", top) < 0)
			ck_abort_msg("asprintf failed");
		if (mkdir(base, 0777) != 0 && errno != EEXIST)
			ck_abort_msg("mkdir %s: %s", base, strerror(errno));
	} else if ((base = strdup("/tmp")) == NULL)
		ck_abort_msg("strdup failed");

	if (asprintf(&path, "%s/amps-test.XXXXXX", base) < 0)
		ck_abort_msg("asprintf failed");
	free(base);
	if (mkdtemp(path) == NULL)
		ck_abort_msg("mkdtemp %s: %s", path, strerror(errno));
	return (path);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path) == 0 || errno == ENOENT ? 0 : -1);
}

/* Lets a suite clean up after itself when a test passes. */
void
tu_rmtree(const char *path)
{
	if (path == NULL)
		return;
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 &&
	    errno != ENOENT)
		ck_abort_msg("rm -r %s: %s", path, strerror(errno));
}

/* Writes fixtures (config files, guides) for the code under test. */
void
tu_write_file(const char *path, const char *text)
{
	FILE	*f;
	size_t	 len;

	if ((f = fopen(path, "w")) == NULL)
		ck_abort_msg("open %s: %s", path, strerror(errno));
	len = strlen(text);
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
		ck_abort_msg("write %s: %s", path, strerror(errno));
}

/* Reads output back whole, so a test can compare it in one assertion. */
char *
tu_read_file(const char *path, size_t *len)
{
	FILE	*f;
	char	*data = NULL;
	size_t	 size = 0, n = 0, r;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	for (;;) {
		if (size - n < 4096) {
			size = size == 0 ? 8192 : size * 2;
			if ((data = realloc(data, size)) == NULL)
				ck_abort_msg("realloc failed");
		}
		r = fread(data + n, 1, size - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		ck_abort_msg("read %s: %s", path, strerror(errno));
	fclose(f);
	data[n] = '\0';
	if (len != NULL)
		*len = n;
	return (data);
}

/* Compares output with an expected file byte for byte. */
int
tu_file_equal(const char *a, const char *b)
{
	char	*da, *db;
	size_t	 la, lb;
	int	 equal;

	da = tu_read_file(a, &la);
	db = tu_read_file(b, &lb);
	equal = da != NULL && db != NULL && la == lb &&
	    memcmp(da, db, la) == 0;
	free(da);
	free(db);
	return (equal);
}

int
tu_run(Suite *s)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

struct store *
tu_store(const char *dir)
{
	struct store	*s;
	char		*path, *cause = NULL;

	if (asprintf(&path, "%s/amps.db", dir) < 0)
		ck_abort_msg("asprintf failed");
	if (store_open(path, STORE_CREATE | STORE_MIGRATE, &s, &cause) != 0)
		ck_abort_msg("store_open %s: %s", path, cause);
	free(path);
	return (s);
}

void
tu_sql(struct store *s, const char *sql)
{
	char	*msg = NULL;

	if (sqlite3_exec(store_db(s), sql, NULL, NULL, &msg) != SQLITE_OK)
		ck_abort_msg("%s: %s", sql, msg);
}

/* Prepares sql and steps it to its first row. */
static sqlite3_stmt *
first_row(struct store *s, const char *sql)
{
	sqlite3_stmt	*q;

	if (sqlite3_prepare_v2(store_db(s), sql, -1, &q, NULL) != SQLITE_OK)
		ck_abort_msg("%s: %s", sql, sqlite3_errmsg(store_db(s)));
	if (sqlite3_step(q) != SQLITE_ROW)
		ck_abort_msg("%s: no row (%s)", sql, sqlite3_errmsg(store_db(s)));
	return (q);
}

long long
tu_sql_int(struct store *s, const char *sql)
{
	sqlite3_stmt	*q = first_row(s, sql);
	long long	 v;

	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return (v);
}

char *
tu_sql_text(struct store *s, const char *sql)
{
	sqlite3_stmt		*q = first_row(s, sql);
	const unsigned char	*t;
	char			*v = NULL;

	if ((t = sqlite3_column_text(q, 0)) != NULL &&
	    (v = strdup((const char *)t)) == NULL)
		ck_abort_msg("strdup failed");
	sqlite3_finalize(q);
	return (v);
}
