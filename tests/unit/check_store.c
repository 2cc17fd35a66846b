#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "schema.h"
#include "store.h"
#include "testutil.h"
#include "xmalloc.h"

static char	*dir;
static char	*dbpath;

static void
setup(void)
{
	dir = tu_tmpdir();
	if (asprintf(&dbpath, "%s/amps.db", dir) < 0)
		ck_abort_msg("asprintf failed");
}

static void
teardown(void)
{
	tu_rmtree(dir);
	free(dir);
	free(dbpath);
	dir = dbpath = NULL;
}

static struct store *
open_ok(const char *path, int flags)
{
	struct store	*s = NULL;
	char		*cause = NULL;

	if (store_open(path, flags, &s, &cause) != 0)
		ck_abort_msg("store_open %s: %s", path, cause);
	ck_assert_ptr_nonnull(s);
	return (s);
}

static int
has_table(struct store *s, const char *name)
{
	sqlite3_stmt	*st;
	int		 found;

	ck_assert_int_eq(sqlite3_prepare_v2(store_db(s), "SELECT 1 FROM "
	    "sqlite_schema WHERE type = 'table' AND name = ?", -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return (found);
}

static int
has_column(struct store *s, const char *table, const char *column)
{
	sqlite3_stmt	*st;
	int		 found;

	ck_assert_int_eq(sqlite3_prepare_v2(store_db(s), "SELECT 1 FROM "
	    "pragma_table_info(?) WHERE name = ?", -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return (found);
}

static const char *const tables[] = {
	"generation", "settings", "channels", "variants", "programmes",
	"profiles", "api_keys", "epg_sources", "webhooks", "plugins",
	"recordings", "pipeline_status", "webhook_outbox", NULL
};

START_TEST(test_create)
{
	struct store		*s;
	const char *const	*t;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	ck_assert_int_eq(store_version(s), STORE_VERSION);
	ck_assert_str_eq(store_path(s), dbpath);
	for (t = tables; *t != NULL; t++)
		ck_assert_msg(has_table(s, *t), "no table %s", *t);
	ck_assert_int_eq(store_generation(s), 0);
	store_close(s);

	/* Opening again changes nothing. */
	s = open_ok(dbpath, 0);
	ck_assert_int_eq(store_version(s), STORE_VERSION);
	ck_assert_int_eq(store_generation(s), 0);
	store_close(s);
}
END_TEST

/* A field added to a schema needs a column (a migration) or SCHEMA_NOSQL:
 * store_put_object would fail at run time otherwise. */
START_TEST(test_schema_columns)
{
	static const struct {
		const char		*table;
		const struct schema	*sc;
	} map[] = {
		{ "channels", &channel_schema },
		{ "variants", &variant_schema },
		{ "programmes", &program_schema },
		{ "profiles", &profile_schema },
		{ "api_keys", &api_key_schema },
		{ "epg_sources", &epg_source_schema },
		{ "webhooks", &webhook_schema },
		{ "plugins", &plugin_schema },
	};
	const struct schema_field	*f;
	struct store			*s;
	size_t				 i;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	for (i = 0; i < sizeof map / sizeof map[0]; i++) {
		for (f = map[i].sc->fields; f->name != NULL; f++) {
			if (f->flags & SCHEMA_NOSQL)
				continue;
			ck_assert_msg(has_column(s, map[i].table, f->name),
			    "table %s has no column for %s.%s (a migration, "
			    "or SCHEMA_NOSQL if it lives elsewhere)",
			    map[i].table, map[i].sc->name, f->name);
		}
	}
	/* The lists of a channel are child tables, not columns. */
	ck_assert(!has_column(s, "channels", "next_programs"));
	ck_assert(!has_column(s, "channels", "adaptive_bitrates"));
	ck_assert_str_eq(store_columns(&webhook_schema),
	    "\"name\", \"url\", \"events\", \"secret\"");
	ck_assert_ptr_eq(store_columns(&webhook_schema),
	    store_columns(&webhook_schema));
	store_close(s);
}
END_TEST

/* Migrating from each earlier version keeps what was there. */
START_TEST(test_migrate_from)
{
	const char *const	*t;
	struct store		*s;
	char			*cause = NULL, *v;
	int			 k = _i;

	s = open_ok(dbpath, STORE_CREATE | STORE_OLDER);
	ck_assert_int_eq(store_version(s), 0);
	ck_assert_int_eq(store_migrate(s, k, &cause), 0);
	ck_assert_int_eq(store_version(s), k);
	if (k >= 1) {
		tu_sql(s, "INSERT INTO settings (key, value) "
		    "VALUES ('server.listen', '127.0.0.1:8080')");
		tu_sql(s, "INSERT INTO channels (id, name, source, position) "
		    "VALUES (7, 'Seven', 'lavfi:testsrc', 3)");
		tu_sql(s, "INSERT INTO variants (channel_id, name) "
		    "VALUES (7, 'sd')");
	}
	store_close(s);

	/* Without STORE_MIGRATE an older database is refused. */
	s = NULL;
	ck_assert_int_eq(store_open(dbpath, 0, &s, &cause), -1);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(cause, "run amps init"));
	free(cause);
	cause = NULL;

	s = open_ok(dbpath, STORE_MIGRATE);
	ck_assert_int_eq(store_version(s), STORE_VERSION);
	for (t = tables; *t != NULL; t++)
		ck_assert_msg(has_table(s, *t), "no table %s", *t);
	if (k >= 1) {
		v = tu_sql_text(s, "SELECT value FROM settings "
		    "WHERE key = 'server.listen'");
		ck_assert_str_eq(v, "127.0.0.1:8080");
		free(v);
		v = tu_sql_text(s, "SELECT name FROM channels WHERE id = 7");
		ck_assert_str_eq(v, "Seven");
		free(v);
		ck_assert_int_eq(tu_sql_int(s, "SELECT count(*) FROM variants "
		    "WHERE channel_id = 7"), 1);
		ck_assert_int_eq(store_generation(s), 3);
	}
	store_close(s);
}
END_TEST

START_TEST(test_future_refused)
{
	struct store	*s;
	char		*cause = NULL, *want;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	tu_sql(s, "PRAGMA user_version = 99");
	store_close(s);

	s = NULL;
	ck_assert_int_eq(store_open(dbpath, STORE_MIGRATE, &s, &cause), -1);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(cause, "99"));
	if (asprintf(&want, "version %d", STORE_VERSION) < 0)
		ck_abort_msg("asprintf failed");
	ck_assert_msg(strstr(cause, want) != NULL, "cause: %s", cause);
	free(want);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_open(dbpath, STORE_OLDER, &s, &cause), -1);
	free(cause);
}
END_TEST

START_TEST(test_old_refused)
{
	struct store	*s;
	char		*cause = NULL, *want;

	s = open_ok(dbpath, STORE_CREATE | STORE_OLDER);
	ck_assert_int_eq(store_migrate(s, 1, &cause), 0);
	store_close(s);

	s = NULL;
	ck_assert_int_eq(store_open(dbpath, 0, &s, &cause), -1);
	ck_assert_ptr_null(s);
	want = xprintf("database at version 1, this amps needs %d: run amps "
	    "init", STORE_VERSION);
	ck_assert_msg(strstr(cause, want) != NULL, "cause: %s", cause);
	free(want);
	free(cause);
	cause = NULL;
	/* A read-only open never migrates. */
	ck_assert_int_eq(store_open(dbpath, STORE_READONLY | STORE_MIGRATE,
	    &s, &cause), -1);
	free(cause);
	cause = NULL;
	/* No migration goes past this build's version. */
	s = open_ok(dbpath, STORE_OLDER);
	ck_assert_int_eq(store_migrate(s, STORE_VERSION + 1, &cause), -1);
	free(cause);
	ck_assert_int_eq(store_version(s), 1);
	store_close(s);
}
END_TEST

START_TEST(test_missing_file)
{
	struct store	*s = NULL;
	char		*cause = NULL, *path;

	if (asprintf(&path, "%s/none.db", dir) < 0)
		ck_abort_msg("asprintf failed");
	ck_assert_int_eq(store_open(path, STORE_MIGRATE, &s, &cause), -1);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
	free(path);
}
END_TEST

START_TEST(test_pragmas)
{
	struct store	*s, *ro;
	char		*mode, *cause = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	mode = tu_sql_text(s, "PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
	ck_assert_int_eq(tu_sql_int(s, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(tu_sql_int(s, "PRAGMA synchronous"), 1);

	/* Foreign keys are enforced. */
	ck_assert_int_ne(sqlite3_exec(store_db(s), "INSERT INTO variants "
	    "(channel_id, name) VALUES (12345, 'x')", NULL, NULL, NULL),
	    SQLITE_OK);

	/* A read-only second connection sees the writer's data and cannot
	 * write. */
	ck_assert_int_eq(store_setting_set(s, "a", "1", &cause), 0);
	ro = open_ok(dbpath, STORE_READONLY);
	ck_assert_int_eq(tu_sql_int(ro, "PRAGMA foreign_keys"), 1);
	ck_assert_int_eq(store_generation(ro), 1);
	ck_assert_int_ne(store_setting_set(ro, "a", "2", &cause), 0);
	free(cause);
	store_close(ro);
	store_close(s);
}
END_TEST

START_TEST(test_settings)
{
	struct store	*s;
	char		*cause = NULL, *v = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	ck_assert_int_eq(store_setting_get(s, "server.listen", &v, &cause),
	    ENOENT);
	ck_assert_ptr_null(v);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_setting_set(s, "server.listen", "a:1", &cause),
	    0);
	ck_assert_int_eq(store_setting_get(s, "server.listen", &v, &cause),
	    0);
	ck_assert_str_eq(v, "a:1");
	free(v);
	ck_assert_int_eq(store_setting_set(s, "server.listen", "b:2", &cause),
	    0);
	ck_assert_int_eq(store_setting_get(s, "server.listen", &v, &cause),
	    0);
	ck_assert_str_eq(v, "b:2");
	free(v);
	ck_assert_int_eq(store_setting_set(s, "empty", "", &cause), 0);
	ck_assert_int_eq(store_setting_get(s, "empty", &v, &cause), 0);
	ck_assert_str_eq(v, "");
	free(v);
	ck_assert_int_eq(store_setting_set(s, "server.listen", NULL, &cause),
	    0);
	ck_assert_int_eq(store_setting_get(s, "server.listen", &v, &cause),
	    ENOENT);
	free(cause);
	/* Deleting what is not there is fine. */
	ck_assert_int_eq(store_setting_set(s, "server.listen", NULL, &cause),
	    0);
	store_close(s);
}
END_TEST

START_TEST(test_generation)
{
	struct store	*s;
	struct channel	*ch;
	char		*cause = NULL;
	int64_t		 g;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	ck_assert_int_eq(store_generation(s), 0);
	ck_assert_int_eq(store_setting_set(s, "k", "v1", &cause), 0);
	ck_assert_int_eq(store_generation(s), 1);
	/* An unchanged value writes nothing. */
	ck_assert_int_eq(store_setting_set(s, "k", "v1", &cause), 0);
	ck_assert_int_eq(store_generation(s), 1);
	ck_assert_int_eq(store_setting_set(s, "k", "v2", &cause), 0);
	ck_assert_int_eq(store_generation(s), 2);
	ck_assert_int_eq(store_setting_set(s, "k", NULL, &cause), 0);
	ck_assert_int_eq(store_generation(s), 3);
	ck_assert_int_eq(store_setting_set(s, "k", NULL, &cause), 0);
	ck_assert_int_eq(store_generation(s), 3);

	/* A channel write bumps it; the same row again does not. */
	ch = channel_new();
	ch->id = 1;
	ch->name = strdup("One");
	ch->source = strdup("udp://239.0.0.1:1234");
	if (store_put_object(s, "channels", &channel_schema, ch, NULL, 0,
	    &cause) != 0)
		ck_abort_msg("put: %s", cause);
	g = store_generation(s);
	ck_assert_int_gt(g, 3);
	ck_assert_int_eq(store_put_object(s, "channels", &channel_schema, ch,
	    NULL, 0, &cause), 0);
	ck_assert_int_eq(store_generation(s), g);
	free(ch->name);
	ch->name = strdup("Uno");
	ck_assert_int_eq(store_put_object(s, "channels", &channel_schema, ch,
	    NULL, 0, &cause), 0);
	ck_assert_int_gt(store_generation(s), g);
	g = store_generation(s);
	channel_free(ch);

	/* Live status is not catalogue. */
	tu_sql(s, "INSERT INTO pipeline_status (channel_id, state) "
	    "VALUES (1, 'starting')");
	tu_sql(s, "UPDATE pipeline_status SET state = 'running', "
	    "viewers = 3 WHERE channel_id = 1");
	tu_sql(s, "INSERT INTO webhook_outbox (webhook, event, body, created) "
	    "VALUES ('w', 'channel.started', '{}', 1)");
	tu_sql(s, "INSERT INTO recordings (channel_id, file) "
	    "VALUES (1, 'rec/1.ts')");
	ck_assert_int_eq(store_generation(s), g);
	tu_sql(s, "DELETE FROM pipeline_status");
	ck_assert_int_eq(store_generation(s), g);

	/* Every catalogue table bumps it. */
	tu_sql(s, "INSERT INTO profiles (name) VALUES ('p')");
	ck_assert_int_eq(store_generation(s), g + 1);
	tu_sql(s, "INSERT INTO api_keys (name, key_hash) VALUES ('k', 'h')");
	ck_assert_int_eq(store_generation(s), g + 2);
	tu_sql(s, "INSERT INTO epg_sources (name) VALUES ('e')");
	ck_assert_int_eq(store_generation(s), g + 3);
	tu_sql(s, "UPDATE epg_sources SET last_status = 'ok'");
	ck_assert_int_eq(store_generation(s), g + 4);
	tu_sql(s, "INSERT INTO webhooks (position) VALUES (0)");
	tu_sql(s, "INSERT INTO plugins (position) VALUES (0)");
	tu_sql(s, "INSERT INTO variants (channel_id, name) VALUES (1, 'v')");
	tu_sql(s, "INSERT INTO programmes (channel_id, title) "
	    "VALUES (1, 't')");
	ck_assert_int_eq(store_generation(s), g + 8);
	store_close(s);
}
END_TEST

/* Every key of a channel, none at its default. */
static const char full_channel[] =
	"{ \"id\": 42, \"name\": \"Forty-two\", \"source\": \"rtmp://x/live\","
	"  \"input_format\": \"flv\", \"ffmpeg_profile\": \"hd\","
	"  \"custom_ffmpeg\": { \"command\": \"ffmpeg -i {source}\","
	"    \"shell\": true, \"cwd\": \"/tmp\", \"env\": { \"A\": \"1\" } },"
	"  \"tvg_name\": \"FortyTwo\", \"epg_id\": \"ft.example\","
	"  \"logo\": \"https://x/logo.png\", \"group\": \"News\","
	"  \"channel_number\": 42, \"description\": \"d \\\"quoted\\\"\","
	"  \"program_feed\": \"https://x/feed\","
	"  \"regions_allowed\": [ \"us\", \"CA\" ],"
	"  \"regions_blocked\": [ \"FR\" ],"
	"  \"use_yt_dlp\": true, \"yt_dlp_format\": \"best\","
	"  \"source_handler\": { \"type\": \"yt_dlp\", \"format\": \"b\","
	"    \"options\": { \"retries\": 3 } },"
	"  \"input_options\": { \"rtmp_live\": \"live\", \"timeout\": 5 },"
	"  \"input_args\": [ \"-re\", \"-stream_loop\", \"-1\" ],"
	"  \"output_format\": \"hls\", \"ll_hls\": true, \"audio_only\": true,"
	"  \"segment_duration\": 2, \"playlist_size\": 5,"
	"  \"hwaccel\": { \"type\": \"vaapi\", \"device\": \"/dev/dri/r\" },"
	"  \"always_on\": true,"
	"  \"schedule\": { \"start\": \"2026-01-01T10:00:00Z\","
	"    \"end\": \"2026-01-01T12:00:00Z\" } }";

static struct channel *
channel_from(const char *text)
{
	struct schema_error	 err = { NULL, NULL };
	struct channel		*ch;
	json_object		*j;

	j = json_tokener_parse(text);
	ck_assert_ptr_nonnull(j);
	ch = channel_new();
	if (schema_from_json(&channel_schema, j, ch, 0, "", &err) != 0)
		ck_abort_msg("%s: %s", err.path, err.message);
	json_object_put(j);
	return (ch);
}

static char *
to_text(const struct schema *sc, const void *obj, int flags)
{
	json_object	*j;
	char		*t;

	j = schema_to_json(sc, obj, flags);
	t = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return (t);
}

START_TEST(test_object_roundtrip)
{
	const struct schema_field	*f;
	struct store			*s;
	struct channel			*ch, *back;
	struct store_col		 extra[2];
	sqlite3_stmt			*st;
	json_object			*j;
	char				*sql, *a, *b, *cause = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	ch = channel_from(full_channel);

	/* The fixture sets every column field to something not default. */
	j = schema_to_json(&channel_schema, ch, 0);
	for (f = channel_schema.fields; f->name != NULL; f++) {
		if (f->flags & SCHEMA_NOSQL)
			continue;
		ck_assert_msg(json_object_object_get_ex(j, f->name, NULL),
		    "fixture leaves %s at its default", f->name);
	}
	json_object_put(j);

	extra[0].name = "position";
	extra[0].text = NULL;
	extra[0].num = 5;
	extra[1].name = "origin";
	extra[1].text = "api";
	if (store_put_object(s, "channels", &channel_schema, ch, extra, 2,
	    &cause) != 0)
		ck_abort_msg("put: %s", cause);
	ck_assert_int_eq(tu_sql_int(s, "SELECT position FROM channels"), 5);
	a = tu_sql_text(s, "SELECT origin FROM channels");
	ck_assert_str_eq(a, "api");
	free(a);
	/* JSON columns are JSON: SQLite's functions read them. */
	ck_assert_int_eq(tu_sql_int(s, "SELECT json_array_length("
	    "regions_allowed) FROM channels"), 2);
	a = tu_sql_text(s, "SELECT json_extract(custom_ffmpeg, '$.env.A') "
	    "FROM channels");
	ck_assert_str_eq(a, "1");
	free(a);
	ck_assert_int_eq(tu_sql_int(s, "SELECT \"group\" = 'News' AND "
	    "channel_number = 42 AND ll_hls = 1 FROM channels"), 1);

	if (asprintf(&sql, "SELECT position, %s FROM channels",
	    store_columns(&channel_schema)) < 0)
		ck_abort_msg("asprintf failed");
	st = store_prepare(s, sql, &cause);
	free(sql);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	back = channel_new();
	if (store_row_object(st, &channel_schema, back, &cause) != 0)
		ck_abort_msg("row: %s", cause);
	sqlite3_reset(st);

	a = to_text(&channel_schema, ch, SCHEMA_JSON_ALL);
	b = to_text(&channel_schema, back, SCHEMA_JSON_ALL);
	ck_assert_str_eq(b, a);
	free(a);
	free(b);
	ck_assert(schema_equal(&channel_schema, ch, back));

	/* A custom command in its short form stays short. */
	channel_free(back);
	channel_free(ch);
	ch = channel_from("{ \"id\": 43, \"name\": \"n\", \"source\": \"s\","
	    " \"custom_ffmpeg\": \"ffmpeg -i x\" }");
	ck_assert_int_eq(store_put_object(s, "channels", &channel_schema, ch,
	    NULL, 0, &cause), 0);
	a = tu_sql_text(s, "SELECT custom_ffmpeg FROM channels WHERE id = 43");
	ck_assert_str_eq(a, "\"ffmpeg -i x\"");
	free(a);
	ck_assert_int_eq(tu_sql_int(s, "SELECT regions_allowed IS NULL "
	    "FROM channels WHERE id = 43"), 1);
	channel_free(ch);
	store_close(s);
}
END_TEST

START_TEST(test_row_corrupt)
{
	struct store	*s;
	struct channel	*ch;
	sqlite3_stmt	*st;
	char		*sql, *cause = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	tu_sql(s, "INSERT INTO channels (id, name, regions_allowed) "
	    "VALUES (1, 'a', '[\"US\"'), (2, 'b', '{\"x\": 1}')");
	if (asprintf(&sql, "SELECT %s FROM channels ORDER BY id",
	    store_columns(&channel_schema)) < 0)
		ck_abort_msg("asprintf failed");
	st = store_prepare(s, sql, &cause);
	free(sql);
	ck_assert_ptr_nonnull(st);

	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ch = channel_new();
	ck_assert_int_eq(store_row_object(st, &channel_schema, ch, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "regions_allowed"));
	free(cause);
	cause = NULL;
	channel_free(ch);

	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ch = channel_new();
	ck_assert_int_eq(store_row_object(st, &channel_schema, ch, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "regions_allowed"));
	free(cause);
	channel_free(ch);
	sqlite3_reset(st);
	store_close(s);
}
END_TEST

START_TEST(test_prepare_cache)
{
	struct store	*s;
	sqlite3_stmt	*a, *b;
	char		*cause = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	a = store_prepare(s, "SELECT ?1 + 1", &cause);
	ck_assert_ptr_nonnull(a);
	sqlite3_bind_int(a, 1, 41);
	ck_assert_int_eq(sqlite3_step(a), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(a, 0), 42);

	/* The same text: the same statement, reset, bindings cleared. */
	b = store_prepare(s, "SELECT ?1 + 1", &cause);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(sqlite3_stmt_busy(b), 0);
	ck_assert_int_eq(sqlite3_step(b), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_type(b, 0), SQLITE_NULL);
	ck_assert_ptr_ne(store_prepare(s, "SELECT ?1 + 2", &cause), a);

	ck_assert_ptr_null(store_prepare(s, "SELEKT 1", &cause));
	ck_assert_ptr_nonnull(strstr(cause, "syntax error"));
	free(cause);
	/* Closing finalizes every cached statement (ASan and SQLite would
	 * complain otherwise). */
	store_close(s);
}
END_TEST

START_TEST(test_transactions)
{
	struct store	*s;
	char		*cause = NULL, *v = NULL;

	s = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "a", "1", &cause), 0);
	store_rollback(s);
	ck_assert_int_eq(store_setting_get(s, "a", &v, &cause), ENOENT);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_generation(s), 0);

	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "a", "1", &cause), 0);
	ck_assert_int_eq(store_commit(s, &cause), 0);
	ck_assert_int_eq(store_setting_get(s, "a", &v, &cause), 0);
	free(v);

	/* Nested levels are savepoints: the inner one is undone alone. */
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "b", "1", &cause), 0);
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "c", "1", &cause), 0);
	store_rollback(s);
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "d", "1", &cause), 0);
	ck_assert_int_eq(store_commit(s, &cause), 0);
	ck_assert_int_eq(store_commit(s, &cause), 0);
	ck_assert_int_eq(sqlite3_get_autocommit(store_db(s)), 1);
	ck_assert_int_eq(store_setting_get(s, "b", &v, &cause), 0);
	free(v);
	ck_assert_int_eq(store_setting_get(s, "d", &v, &cause), 0);
	free(v);
	ck_assert_int_eq(store_setting_get(s, "c", &v, &cause), ENOENT);
	free(cause);
	cause = NULL;

	/* An outer rollback undoes committed inner levels too. */
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_begin(s, &cause), 0);
	ck_assert_int_eq(store_setting_set(s, "e", "1", &cause), 0);
	ck_assert_int_eq(store_commit(s, &cause), 0);
	store_rollback(s);
	ck_assert_int_eq(store_setting_get(s, "e", &v, &cause), ENOENT);
	free(cause);
	cause = NULL;

	/* Commit without a transaction is an error; rollback is harmless. */
	ck_assert_int_eq(store_commit(s, &cause), -1);
	free(cause);
	store_rollback(s);
	store_close(s);
}
END_TEST

/* A second writer waits for the lock (busy timeout) instead of failing;
 * a writer holding it too long makes BEGIN fail with a cause. */
START_TEST(test_write_lock)
{
	struct store	*a, *b;
	char		*cause = NULL;

	a = open_ok(dbpath, STORE_CREATE | STORE_MIGRATE);
	b = open_ok(dbpath, 0);
	ck_assert_int_eq(store_begin(a, &cause), 0);
	sqlite3_busy_timeout(store_db(b), 50);
	ck_assert_int_eq(store_begin(b, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "locked"));
	free(cause);
	cause = NULL;
	ck_assert_int_eq(store_commit(a, &cause), 0);
	ck_assert_int_eq(store_begin(b, &cause), 0);
	ck_assert_int_eq(store_commit(b, &cause), 0);
	store_close(b);
	store_close(a);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store");
	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_schema_columns);
	tcase_add_loop_test(tc, test_migrate_from, 0, STORE_VERSION);
	tcase_add_test(tc, test_future_refused);
	tcase_add_test(tc, test_old_refused);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_pragmas);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_generation);
	tcase_add_test(tc, test_object_roundtrip);
	tcase_add_test(tc, test_row_corrupt);
	tcase_add_test(tc, test_prepare_cache);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_write_lock);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(store_suite()));
}
