/* The SQLite store, amps.db, shared by every responder, streamd and the
 * CLI.  WAL mode, a busy timeout, foreign keys on; the schema is a list of
 * numbered migrations applied through PRAGMA user_version; every statement
 * is prepared.  A generation counter is bumped by a trigger on every write
 * to the catalogue tables (channels, variants, programmes, profiles, keys,
 * sources, webhooks, plugins, settings), so a responder can validate a
 * cached playlist with one read. */
#ifndef AMPS_STORE_H
#define AMPS_STORE_H

#include <stdint.h>

#include <sqlite3.h>

#include "schema.h"

struct store;

/* The schema version this build writes. */
#define STORE_VERSION 6

/* store_open flags. */
#define STORE_CREATE	0x01	/* create the file if missing */
#define STORE_MIGRATE	0x02	/* apply missing migrations */
#define STORE_READONLY	0x04	/* open read-only (no migration) */
#define STORE_OLDER	0x08	/* accept an older database as it is; the
				   caller migrates (tests, tools) */

/* Opens path.  Without STORE_MIGRATE, a database older than STORE_VERSION
 * is an error ("run amps init"); a newer one is always an error.  Returns
 * 0 and *out (caller closes with store_close), or -1 with *cause (caller
 * frees). */
int	 store_open(const char *path, int flags, struct store **out,
	    char **cause);
void	 store_close(struct store *s);
sqlite3	*store_db(struct store *s);
const char *store_path(struct store *s);

/* PRAGMA user_version of the open database. */
int	 store_version(struct store *s);
/* Applies migrations up to target (STORE_VERSION for all), each in its own
 * transaction.  Returns 0, or -1 with *cause. */
int	 store_migrate(struct store *s, int target, char **cause);

/* Write transactions: BEGIN IMMEDIATE, COMMIT, ROLLBACK.  Every write of
 * amps is one transaction; a rejected request rolls back and changes
 * nothing.  Return 0, or -1 with *cause. */
int	 store_begin(struct store *s, char **cause);
int	 store_commit(struct store *s, char **cause);
void	 store_rollback(struct store *s);

/* The catalogue generation (0 in a new database). */
int64_t	 store_generation(struct store *s);

/* Settings: a key/value table for the server and auth blocks and amps's
 * own bookkeeping (the config file's path, ...).  get returns 0 and *value
 * (caller frees), ENOENT if absent, or -1 with *cause.  set writes only
 * when the value differs, so an unchanged import bumps no generation;
 * value NULL deletes. */
int	 store_setting_get(struct store *s, const char *key, char **value,
	    char **cause);
int	 store_setting_set(struct store *s, const char *key,
	    const char *value, char **cause);

/* The database's identity: random hex made when it was created (caller
 * frees *value).  Returns 0, or -1 with *cause. */
int	 store_identity(struct store *s, char **value, char **cause);
/* This database's secret for signing media URLs (64 hex digits, random,
 * made by migration 5; caller frees).  Returns 0 or -1 with *cause. */
int	 store_secret(struct store *s, char **value, char **cause);

/* Prepares sql (cached per store for its lifetime: the same text returns
 * the same reset statement, with bindings cleared).  Returns NULL with
 * *cause on error.  The statement belongs to the store. */
sqlite3_stmt *store_prepare(struct store *s, const char *sql, char **cause);
/* A copy of the text of column i of the current row (caller frees), or
 * NULL for SQL NULL. */
char	*store_column_dup(sqlite3_stmt *st, int i);

/* Generic mapping of a schema-described object to a table: every field
 * without SCHEMA_NOSQL is a column of the same name; scalars are stored as
 * they are (TIME and BITRATE as integers), the rest (lists, maps, nested
 * objects, JSON) as JSON text, NULL when unset.  Extra columns (keys,
 * bookkeeping) are given as name/value pairs. */
struct store_col {
	const char	*name;
	const char	*text;	/* bound as text when non-NULL ... */
	long long	 num;	/* ... else as this integer */
};

/* INSERT OR REPLACE of obj with the extra columns.  Returns 0 or -1. */
int	 store_put_object(struct store *s, const char *table,
	    const struct schema *sc, const void *obj,
	    const struct store_col *extra, size_t nextra, char **cause);
/* Fills obj (defaulted by the caller) from the current row of stmt, whose
 * result columns are named as the fields (others are ignored).  Returns 0,
 * or -1 with *cause if a stored value does not load (a corrupt row). */
int	 store_row_object(sqlite3_stmt *stmt, const struct schema *sc,
	    void *obj, char **cause);
/* The comma-separated, double-quoted column list of sc's SQL fields
 * (static per schema; do not free). */
const char *store_columns(const struct schema *sc);

#endif
