/* Helpers shared by the Check suites: scratch directories, whole-file
 * reads and writes, and SQL on a test database.  A failure inside a helper fails the running test
 * (ck_abort_msg), so callers need no checks of their own. */
#ifndef AMPS_TESTUTIL_H
#define AMPS_TESTUTIL_H

#include <stddef.h>

#include <check.h>

/* Makes a fresh directory under $top_builddir/tests/tmp (or /tmp when
 * top_builddir is unset) and returns its path (caller frees). */
char	*tu_tmpdir(void);
/* Removes a directory tree made by tu_tmpdir; NULL is ignored. */
void	 tu_rmtree(const char *path);
/* Creates or truncates path and writes text into it. */
void	 tu_write_file(const char *path, const char *text);
/* Returns the whole file, NUL terminated, with its length in *len (len may
 * be NULL), or NULL if it cannot be opened (caller frees). */
char	*tu_read_file(const char *path, size_t *len);
/* Returns 1 if both files can be read and hold the same bytes. */
int	 tu_file_equal(const char *a, const char *b);

struct store;

/* Opens (creating and migrating) the database amps.db in dir. */
struct store *tu_store(const char *dir);
/* Runs sql on the store's connection. */
void	 tu_sql(struct store *s, const char *sql);
/* The first column of the first row of sql: as an integer; as text
 * (caller frees; NULL for SQL NULL). */
long long tu_sql_int(struct store *s, const char *sql);
char	*tu_sql_text(struct store *s, const char *sql);

/* Runs the suite (CK_ENV verbosity) and returns the exit status of the
 * program: EXIT_SUCCESS when every test passed.  Frees the suite. */
int	 tu_run(Suite *s);

#endif
