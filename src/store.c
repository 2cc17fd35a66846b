#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "buf.h"
#include "schema.h"
#include "store.h"
#include "xmalloc.h"

/*
 * The schema, as numbered migrations: migrations[k] takes a database from
 * version k to k + 1.  A migration is never edited once released; a change
 * is a new entry.  The columns of a table that holds schema-described
 * objects are the names of the schema's fields without SCHEMA_NOSQL
 * (store_put_object), scalars as INTEGER or TEXT, everything else as JSON
 * text; check_store.c verifies that they match the tables in channel.c,
 * profile.c and conf.c.
 *
 * Every catalogue table has AFTER INSERT/UPDATE/DELETE triggers that bump
 * the single row of generation, so that a responder can validate a cached
 * playlist or guide with one read.  Live status (pipeline_status), the
 * webhook outbox and recordings are not catalogue.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the catalogue. */
	"CREATE TABLE generation (\n"
	"	id		INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"	value		INTEGER NOT NULL\n"
	");\n"
	"INSERT INTO generation (id, value) VALUES (1, 0);\n"
	"\n"
	"CREATE TABLE settings (\n"
	"	key		TEXT PRIMARY KEY,\n"
	"	value		TEXT NOT NULL\n"
	");\n"
	"\n"
	"CREATE TABLE channels (\n"
	"	id		INTEGER PRIMARY KEY,\n"
	"	name		TEXT,\n"
	"	source		TEXT,\n"
	"	input_format	TEXT,\n"
	"	ffmpeg_profile	TEXT,\n"
	"	custom_ffmpeg	TEXT,		-- JSON\n"
	"	tvg_name	TEXT,\n"
	"	epg_id		TEXT,\n"
	"	logo		TEXT,\n"
	"	\"group\"		TEXT,\n"
	"	channel_number	INTEGER,\n"
	"	description	TEXT,\n"
	"	program_feed	TEXT,\n"
	"	regions_allowed	TEXT,		-- JSON array\n"
	"	regions_blocked	TEXT,		-- JSON array\n"
	"	use_yt_dlp	INTEGER,\n"
	"	yt_dlp_format	TEXT,\n"
	"	source_handler	TEXT,		-- JSON\n"
	"	input_options	TEXT,		-- JSON object\n"
	"	input_args	TEXT,		-- JSON array\n"
	"	output_format	TEXT,\n"
	"	ll_hls		INTEGER,\n"
	"	audio_only	INTEGER,\n"
	"	hwaccel		TEXT,		-- JSON\n"
	"	always_on	INTEGER,\n"
	"	schedule	TEXT,		-- JSON\n"
	"	scheduled	INTEGER NOT NULL DEFAULT 0,\n"
	"	sched_start	INTEGER NOT NULL DEFAULT 0,	-- 0 = open\n"
	"	sched_end	INTEGER NOT NULL DEFAULT 0,\n"
	"	origin		TEXT NOT NULL DEFAULT 'config'\n"
	"		    CHECK (origin IN ('config', 'api')),\n"
	"	dirty		INTEGER NOT NULL DEFAULT 0,\n"
	"	deleted		INTEGER NOT NULL DEFAULT 0,\n"
	"	position	INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"CREATE INDEX channels_position ON channels (position, id);\n"
	"\n"
	"CREATE TABLE variants (\n"
	"	channel_id	INTEGER NOT NULL\n"
	"		    REFERENCES channels (id) ON DELETE CASCADE,\n"
	"	position	INTEGER NOT NULL DEFAULT 0,\n"
	"	name		TEXT NOT NULL,\n"
	"	label		TEXT,\n"
	"	ffmpeg_profile	TEXT,\n"
	"	custom_ffmpeg	TEXT,		-- JSON\n"
	"	source		TEXT,\n"
	"	input_options	TEXT,		-- JSON object\n"
	"	input_args	TEXT,		-- JSON array\n"
	"	PRIMARY KEY (channel_id, name)\n"
	");\n"
	"\n"
	"CREATE TABLE programmes (\n"
	"	id		INTEGER PRIMARY KEY,\n"
	"	channel_id	INTEGER NOT NULL\n"
	"		    REFERENCES channels (id) ON DELETE CASCADE,\n"
	"	source		TEXT,	-- a guide, or NULL: next_programs\n"
	"	position	INTEGER NOT NULL DEFAULT 0,\n"
	"	title		TEXT,\n"
	"	start		INTEGER,\n"
	"	\"end\"		INTEGER,\n"
	"	description	TEXT,\n"
	"	sub_title	TEXT,\n"
	"	categories	TEXT,		-- JSON array\n"
	"	episode_num	TEXT,\n"
	"	icon		TEXT\n"
	");\n"
	"CREATE INDEX programmes_channel ON programmes (channel_id, start);\n"
	"\n"
	"CREATE TABLE profiles (\n"
	"	name		TEXT PRIMARY KEY,\n"
	"	video_codec	TEXT,\n"
	"	video_bitrate	INTEGER,\n"
	"	maxrate		INTEGER,\n"
	"	bufsize		INTEGER,\n"
	"	preset		TEXT,\n"
	"	tune		TEXT,\n"
	"	size		TEXT,\n"
	"	fps		TEXT,\n"
	"	gop		INTEGER,\n"
	"	pix_fmt		TEXT,\n"
	"	audio_codec	TEXT,\n"
	"	audio_bitrate	INTEGER,\n"
	"	audio_channels	INTEGER,\n"
	"	audio_sample_rate INTEGER,\n"
	"	output_format	TEXT,\n"
	"	segment_duration INTEGER,\n"
	"	playlist_size	INTEGER,\n"
	"	video_options	TEXT,		-- JSON object\n"
	"	audio_options	TEXT,		-- JSON object\n"
	"	format_options	TEXT		-- JSON object\n"
	");\n"
	"\n"
	"CREATE TRIGGER settings_ai AFTER INSERT ON settings\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER settings_au AFTER UPDATE ON settings\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER settings_ad AFTER DELETE ON settings\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER channels_ai AFTER INSERT ON channels\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER channels_au AFTER UPDATE ON channels\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER channels_ad AFTER DELETE ON channels\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER variants_ai AFTER INSERT ON variants\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER variants_au AFTER UPDATE ON variants\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER variants_ad AFTER DELETE ON variants\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER programmes_ai AFTER INSERT ON programmes\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER programmes_au AFTER UPDATE ON programmes\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER programmes_ad AFTER DELETE ON programmes\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER profiles_ai AFTER INSERT ON profiles\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER profiles_au AFTER UPDATE ON profiles\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER profiles_ad AFTER DELETE ON profiles\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n",

	/* 1 -> 2: operations. */
	"CREATE TABLE api_keys (\n"
	"	name		TEXT PRIMARY KEY,\n"
	"	key_hash	TEXT NOT NULL UNIQUE,	-- sha256:<hex>\n"
	"	role		TEXT NOT NULL DEFAULT 'viewer'\n"
	"		    CHECK (role IN ('viewer', 'admin')),\n"
	"	created		INTEGER NOT NULL DEFAULT 0,\n"
	"	origin		TEXT NOT NULL DEFAULT 'config'\n"
	"		    CHECK (origin IN ('config', 'api')),\n"
	"	dirty		INTEGER NOT NULL DEFAULT 0,\n"
	"	deleted		INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"\n"
	"CREATE TABLE epg_sources (\n"
	"	name		TEXT PRIMARY KEY,\n"
	"	position	INTEGER NOT NULL DEFAULT 0,\n"
	"	path		TEXT,\n"
	"	url		TEXT,\n"
	"	match_on	TEXT,\n"
	"	refresh_interval_minutes INTEGER,\n"
	"	last_refresh	INTEGER,\n"
	"	last_status	TEXT,\n"
	"	last_error	TEXT,\n"
	"	programmes	INTEGER,\n"
	"	etag		TEXT,\n"
	"	last_modified	TEXT\n"
	");\n"
	"\n"
	"CREATE TABLE webhooks (\n"
	"	position	INTEGER PRIMARY KEY,\n"
	"	name		TEXT,\n"
	"	url		TEXT,\n"
	"	events		TEXT,		-- JSON array\n"
	"	secret		TEXT\n"
	");\n"
	"\n"
	"CREATE TABLE plugins (\n"
	"	position	INTEGER PRIMARY KEY,\n"
	"	module		TEXT,\n"
	"	config		TEXT		-- JSON\n"
	");\n"
	"\n"
	"CREATE TABLE recordings (\n"
	"	id		INTEGER PRIMARY KEY,\n"
	"	channel_id	INTEGER\n"
	"		    REFERENCES channels (id) ON DELETE SET NULL,\n"
	"	variant		TEXT,\n"
	"	file		TEXT NOT NULL,\n"
	"	state		TEXT NOT NULL DEFAULT 'recording'\n"
	"		    CHECK (state IN ('recording', 'stopped',\n"
	"		    'interrupted', 'failed')),\n"
	"	started		INTEGER,\n"
	"	stopped		INTEGER,\n"
	"	bytes		INTEGER NOT NULL DEFAULT 0,\n"
	"	duration	REAL,\n"
	"	error		TEXT,\n"
	"	parent_id	INTEGER\n"
	"		    REFERENCES recordings (id) ON DELETE SET NULL,\n"
	"	programme_id	INTEGER	-- a hint: programmes are replaced\n"
	");\n"
	"CREATE INDEX recordings_channel ON recordings (channel_id, started);\n"
	"\n"
	"CREATE TABLE pipeline_status (\n"
	"	channel_id	INTEGER NOT NULL\n"
	"		    REFERENCES channels (id) ON DELETE CASCADE,\n"
	"	variant		TEXT NOT NULL DEFAULT '',\n"
	"	state		TEXT NOT NULL DEFAULT 'idle'\n"
	"		    CHECK (state IN ('idle', 'starting', 'running',\n"
	"		    'backoff', 'failed', 'stopped')),\n"
	"	since		INTEGER,\n"
	"	restarts	INTEGER NOT NULL DEFAULT 0,\n"
	"	last_error	TEXT,\n"
	"	input_bitrate	INTEGER,\n"
	"	fps		REAL,\n"
	"	outputs		TEXT,		-- JSON\n"
	"	viewers		INTEGER NOT NULL DEFAULT 0,\n"
	"	pid		INTEGER,\n"
	"	PRIMARY KEY (channel_id, variant)\n"
	");\n"
	"\n"
	"CREATE TABLE webhook_outbox (\n"
	"	id		INTEGER PRIMARY KEY,\n"
	"	webhook		TEXT NOT NULL,\n"
	"	event		TEXT NOT NULL,\n"
	"	body		TEXT NOT NULL,\n"
	"	created		INTEGER NOT NULL,\n"
	"	attempts	INTEGER NOT NULL DEFAULT 0,\n"
	"	next_attempt	INTEGER NOT NULL DEFAULT 0,\n"
	"	delivered	INTEGER,\n"
	"	last_error	TEXT\n"
	");\n"
	"CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt)\n"
	"    WHERE delivered IS NULL;\n"
	"\n"
	"CREATE TRIGGER api_keys_ai AFTER INSERT ON api_keys\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER api_keys_au AFTER UPDATE ON api_keys\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER api_keys_ad AFTER DELETE ON api_keys\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER epg_sources_ai AFTER INSERT ON epg_sources\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER epg_sources_au AFTER UPDATE ON epg_sources\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER epg_sources_ad AFTER DELETE ON epg_sources\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER webhooks_ai AFTER INSERT ON webhooks\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER webhooks_au AFTER UPDATE ON webhooks\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER webhooks_ad AFTER DELETE ON webhooks\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER plugins_ai AFTER INSERT ON plugins\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER plugins_au AFTER UPDATE ON plugins\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER plugins_ad AFTER DELETE ON plugins\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n",

	/* 2 -> 3: an identity for this database, so that a database made
	 * again from scratch (whose generation starts over) never matches
	 * the ETags and cached answers of the one before it.  Not in
	 * settings: it is no catalogue change and bumps no generation. */
	"CREATE TABLE identity (\n"
	"	id		INTEGER PRIMARY KEY CHECK (id = 1),\n"
	"	value		TEXT NOT NULL\n"
	");\n"
	"INSERT INTO identity VALUES (1, lower(hex(randomblob(8))));\n",

	/* 3 -> 4: streamd's segmenter settings per profile and channel. */
	"ALTER TABLE profiles ADD COLUMN hls_segment_type TEXT;\n"
	"ALTER TABLE profiles ADD COLUMN part_duration_ms INTEGER;\n"
	"ALTER TABLE channels ADD COLUMN segment_duration INTEGER;\n"
	"ALTER TABLE channels ADD COLUMN playlist_size INTEGER;\n",

	/* 4 -> 5: the key that signs media URLs (src/access.h).  Beside the
	 * identity, not in settings: amps save never writes it out, and
	 * making it bumps no generation. */
	"ALTER TABLE identity ADD COLUMN secret TEXT;\n"
	"UPDATE identity SET secret = lower(hex(randomblob(32)));\n",

	/* 5 -> 6: recordings become jobs too: timed recordings wait as
	 * 'scheduled', clips are 'pending', 'running', then 'ready' or
	 * 'failed'.  The new table refers to itself under its new name, so
	 * that dropping the old one nulls nothing.  Guide programmes stop
	 * bumping the generation one row at a time: a refresh of 100,000
	 * rows bumps it once itself (epg.c).  The outbox keeps its target's
	 * URL and the time it gave up.  The window indexes find the last
	 * window start or end before now (catalog_window_epoch). */
	"CREATE TABLE recordings6 (\n"
	"	id		INTEGER PRIMARY KEY,\n"
	"	kind		TEXT NOT NULL DEFAULT 'recording'\n"
	"		    CHECK (kind IN ('recording', 'clip')),\n"
	"	channel_id	INTEGER\n"
	"		    REFERENCES channels (id) ON DELETE SET NULL,\n"
	"	variant		TEXT,\n"
	"	format		TEXT NOT NULL DEFAULT 'ts'\n"
	"		    CHECK (format IN ('ts', 'mp4')),\n"
	"	file		TEXT,		-- under media_root: rec/...\n"
	"	state		TEXT NOT NULL DEFAULT 'recording'\n"
	"		    CHECK (state IN ('scheduled', 'recording', 'stopped',\n"
	"		    'interrupted', 'failed', 'pending', 'running',\n"
	"		    'ready')),\n"
	"	title		TEXT,\n"
	"	created		INTEGER,\n"
	"	start_at	INTEGER,	-- timed: padding applied\n"
	"	stop_at		INTEGER,	-- NULL: until stopped\n"
	"	started		INTEGER,\n"
	"	stopped		INTEGER,\n"
	"	bytes		INTEGER NOT NULL DEFAULT 0,\n"
	"	duration	REAL,\n"
	"	error		TEXT,\n"
	"	parent_id	INTEGER\n"
	"		    REFERENCES recordings6 (id) ON DELETE SET NULL,\n"
	"	programme_id	INTEGER,	-- a hint: programmes are replaced\n"
	"	clip_start	REAL,		-- seconds into the parent\n"
	"	clip_end	REAL,\n"
	"	exact		INTEGER NOT NULL DEFAULT 0\n"
	");\n"
	"INSERT INTO recordings6 (id, channel_id, variant, file, state,\n"
	"    started, stopped, bytes, duration, error, parent_id,\n"
	"    programme_id, created)\n"
	"    SELECT id, channel_id, variant, file, state, started, stopped,\n"
	"    bytes, duration, error, parent_id, programme_id, started\n"
	"    FROM recordings;\n"
	"DROP TABLE recordings;\n"
	"ALTER TABLE recordings6 RENAME TO recordings;\n"
	"CREATE INDEX recordings_channel ON recordings (channel_id, started);\n"
	"CREATE INDEX recordings_state ON recordings (state, start_at);\n"
	"\n"
	"CREATE INDEX programmes_source ON programmes (source)\n"
	"    WHERE source IS NOT NULL;\n"
	"DROP TRIGGER programmes_ai;\n"
	"DROP TRIGGER programmes_au;\n"
	"DROP TRIGGER programmes_ad;\n"
	"CREATE TRIGGER programmes_ai AFTER INSERT ON programmes\n"
	"    WHEN NEW.source IS NULL\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER programmes_au AFTER UPDATE ON programmes\n"
	"    WHEN NEW.source IS NULL OR OLD.source IS NULL\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"CREATE TRIGGER programmes_ad AFTER DELETE ON programmes\n"
	"    WHEN OLD.source IS NULL\n"
	"    BEGIN UPDATE generation SET value = value + 1; END;\n"
	"\n"
	"ALTER TABLE epg_sources ADD COLUMN last_success INTEGER;\n"
	"ALTER TABLE epg_sources ADD COLUMN channels INTEGER;\n"
	"ALTER TABLE epg_sources ADD COLUMN skipped INTEGER;\n"
	"\n"
	"CREATE INDEX channels_sched_start ON channels (sched_start)\n"
	"    WHERE sched_start <> 0;\n"
	"CREATE INDEX channels_sched_end ON channels (sched_end)\n"
	"    WHERE sched_end <> 0;\n"
	"\n"
	"ALTER TABLE webhook_outbox ADD COLUMN url TEXT;\n"
	"ALTER TABLE webhook_outbox ADD COLUMN gave_up INTEGER;\n"
	"CREATE INDEX webhook_outbox_pending ON webhook_outbox (webhook, id)\n"
	"    WHERE delivered IS NULL AND gave_up IS NULL;\n"
};

#define BUSY_TIMEOUT_MS	5000
#define CACHE_BUCKETS	64

struct cached_stmt {
	char			*sql;
	unsigned		 hash;
	sqlite3_stmt		*stmt;
	struct cached_stmt	*next;
};

struct store {
	sqlite3			*db;
	char			*path;
	int			 depth;		/* open store_begin levels */
	struct cached_stmt	*cache[CACHE_BUCKETS];
};

/* store_columns texts, one per schema for the life of the process. */
struct columns {
	const struct schema	*sc;
	char			*text;
	struct columns		*next;
};
static struct columns	*columns_list;
static pthread_mutex_t	 columns_mutex = PTHREAD_MUTEX_INITIALIZER;

/* migrations[k] exists for every version k below STORE_VERSION. */
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_VERSION,
    "one migration per schema version");

static char *
db_cause(sqlite3 *db, const char *what)
{
	return (xprintf("%s: %s", what, sqlite3_errmsg(db)));
}

static int
exec(struct store *s, const char *sql, char **cause)
{
	char	*msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*cause = xprintf("%s: %s", s->path, msg != NULL ? msg :
		    sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

/* Reads a one-integer PRAGMA or query; -1 on error. */
static long long
query_int(struct store *s, const char *sql, char **cause)
{
	sqlite3_stmt	*st = NULL;
	long long	 v = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		*cause = db_cause(s->db, s->path);
		return (-1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else
		*cause = db_cause(s->db, s->path);
	sqlite3_finalize(st);
	return (v);
}

static void
quote_ident(struct buf *b, const char *name)
{
	buf_addc(b, '"');
	for (; *name != '\0'; name++) {
		if (*name == '"')
			buf_addc(b, '"');
		buf_addc(b, *name);
	}
	buf_addc(b, '"');
}

/* SCHEMA_NOSQL fields live elsewhere (child tables) or nowhere. */
static int
is_column(const struct schema_field *f)
{
	return (!(f->flags & SCHEMA_NOSQL));
}

/* Opens the database file and checks its version: a newer schema is never
 * touched, an older one is migrated only when the caller asked for it (amps
 * init), so that a responder never changes the schema under streamd. */
int
store_open(const char *path, int flags, struct store **out, char **cause)
{
	struct store	*s;
	const char	*mode;
	sqlite3_stmt	*st = NULL;
	int		 oflags, version, rc = -1;

	*out = NULL;
	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);

	if (flags & STORE_READONLY)
		oflags = SQLITE_OPEN_READONLY;
	else {
		oflags = SQLITE_OPEN_READWRITE;
		if (flags & STORE_CREATE)
			oflags |= SQLITE_OPEN_CREATE;
	}
	if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
		if (s->db == NULL)
			*cause = xprintf("%s: out of memory", path);
		else
			*cause = db_cause(s->db, path);
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	if (!(flags & STORE_READONLY)) {
		if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1,
		    &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
			*cause = db_cause(s->db, path);
			goto out;
		}
		mode = (const char *)sqlite3_column_text(st, 0);
		if (mode == NULL || (strcmp(mode, "wal") != 0 &&
		    strcmp(mode, "memory") != 0)) {
			*cause = xprintf("%s: cannot use WAL mode (journal "
			    "mode is %s)", path, mode != NULL ? mode : "?");
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
		if (exec(s, "PRAGMA synchronous = NORMAL", cause) != 0)
			goto out;
	}
	if (exec(s, "PRAGMA foreign_keys = ON", cause) != 0)
		goto out;

	if ((version = store_version(s)) < 0) {
		*cause = db_cause(s->db, path);
		goto out;
	}
	if (version > STORE_VERSION) {
		*cause = xprintf("%s: database at version %d is newer than "
		    "this amps (version %d)", path, version, STORE_VERSION);
		goto out;
	}
	if (version < STORE_VERSION && !(flags & STORE_OLDER)) {
		if (!(flags & STORE_MIGRATE) || (flags & STORE_READONLY)) {
			*cause = xprintf("%s: database at version %d, this "
			    "amps needs %d: run amps init", path, version,
			    STORE_VERSION);
			goto out;
		}
		if (store_migrate(s, STORE_VERSION, cause) != 0)
			goto out;
	}
	rc = 0;

out:
	sqlite3_finalize(st);
	if (rc != 0)
		store_close(s);
	else
		*out = s;
	return (rc);
}

/* Finalizes the cached statements first: sqlite3_close_v2 would otherwise
 * keep the connection alive as a zombie. */
void
store_close(struct store *s)
{
	struct cached_stmt	*c, *next;
	size_t			 i;

	if (s == NULL)
		return;
	for (i = 0; i < CACHE_BUCKETS; i++) {
		for (c = s->cache[i]; c != NULL; c = next) {
			next = c->next;
			sqlite3_finalize(c->stmt);
			free(c->sql);
			free(c);
		}
	}
	if (s->db != NULL)
		sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

/* For queries the store does not wrap (callers still use store_prepare). */
sqlite3 *
store_db(struct store *s)
{
	return (s->db);
}

/* For messages: which database a cause is about. */
const char *
store_path(struct store *s)
{
	return (s->path);
}

/* The schema version lives in the file header, read without a table. */
int
store_version(struct store *s)
{
	char		*cause = NULL;
	long long	 v;

	v = query_int(s, "PRAGMA user_version", &cause);
	free(cause);
	return ((int)v);
}

/* Each migration is its own IMMEDIATE transaction that also sets
 * user_version, so a crash leaves the database at a whole version, and two
 * programs migrating at once do not apply a step twice (the version is
 * read again under the write lock). */
int
store_migrate(struct store *s, int target, char **cause)
{
	char		*sql, *why;
	long long	 v;
	int		 rc = -1;

	if (target < 0 || target > STORE_VERSION) {
		*cause = xprintf("%s: no schema version %d (this amps has "
		    "%d)", s->path, target, STORE_VERSION);
		return (-1);
	}
	for (;;) {
		rc = -1;
		if (exec(s, "BEGIN IMMEDIATE", cause) != 0)
			return (-1);
		if ((v = query_int(s, "PRAGMA user_version", cause)) < 0)
			goto out;
		if (v > STORE_VERSION) {
			*cause = xprintf("%s: database at version %lld is "
			    "newer than this amps (version %d)", s->path, v,
			    STORE_VERSION);
			goto out;
		}
		if (v >= target) {
			rc = exec(s, "COMMIT", cause);
			goto out;
		}
		if (exec(s, migrations[v], cause) != 0) {
			why = *cause;
			*cause = xprintf("migration %lld to %lld: %s", v, v + 1,
			    why);
			free(why);
			goto out;
		}
		sql = xprintf("PRAGMA user_version = %lld", v + 1);
		rc = exec(s, sql, cause);
		free(sql);
		if (rc != 0 || (rc = exec(s, "COMMIT", cause)) != 0)
			goto out;
	}

out:
	if (rc != 0 && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return (rc);
}

/* Transactions nest: the outermost level is BEGIN IMMEDIATE (the write
 * lock is taken up front, so a busy database waits in the busy handler
 * rather than failing at the first write), inner levels are savepoints, so
 * that a catalogue call can be atomic alone or part of an import. */
int
store_begin(struct store *s, char **cause)
{
	char	*sql;
	int	 rc;

	if (sqlite3_get_autocommit(s->db))
		s->depth = 0;
	if (s->depth == 0)
		rc = exec(s, "BEGIN IMMEDIATE", cause);
	else {
		sql = xprintf("SAVEPOINT store_%d", s->depth);
		rc = exec(s, sql, cause);
		free(sql);
	}
	if (rc == 0)
		s->depth++;
	return (rc);
}

/* Commits the innermost level (the whole transaction at the outermost). */
int
store_commit(struct store *s, char **cause)
{
	char	*sql;
	int	 rc;

	if (sqlite3_get_autocommit(s->db)) {
		/* SQLite rolled back on its own (disk full, I/O error). */
		s->depth = 0;
		*cause = xprintf("%s: transaction was rolled back",
		    s->path);
		return (-1);
	}
	if (s->depth <= 1) {
		if ((rc = exec(s, "COMMIT", cause)) != 0) {
			store_rollback(s);
			return (rc);
		}
		s->depth = 0;
		return (0);
	}
	s->depth--;
	sql = xprintf("RELEASE store_%d", s->depth);
	rc = exec(s, sql, cause);
	free(sql);
	return (rc);
}

/* Undoes the innermost level; nothing happens if no transaction is open. */
void
store_rollback(struct store *s)
{
	char	*sql;

	if (sqlite3_get_autocommit(s->db)) {
		s->depth = 0;
		return;
	}
	if (s->depth <= 1) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->depth = 0;
		return;
	}
	s->depth--;
	sql = xprintf("ROLLBACK TO store_%d; RELEASE store_%d", s->depth,
	    s->depth);
	sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	free(sql);
}

/* One indexed read validates every cached playlist and guide.  Returns
 * -1 on a database error. */
int64_t
store_generation(struct store *s)
{
	sqlite3_stmt	*st;
	char		*cause = NULL;
	int64_t		 v = -1;

	st = store_prepare(s, "SELECT value FROM generation WHERE id = 1",
	    &cause);
	if (st == NULL) {
		free(cause);
		return (-1);
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return (v);
}

/* Settings hold the server and auth blocks and bookkeeping. */
int
store_setting_get(struct store *s, const char *key, char **value,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	*value = NULL;
	st = store_prepare(s, "SELECT value FROM settings WHERE key = ?",
	    cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
		rc = 0;
		break;
	case SQLITE_DONE:
		*cause = xprintf("no setting '%s'", key);
		rc = ENOENT;
		break;
	default:
		*cause = db_cause(s->db, s->path);
		rc = -1;
		break;
	}
	sqlite3_reset(st);
	return (rc);
}

/* Writes only a changed value (the upsert's WHERE), so that importing an
 * unchanged file leaves the generation alone. */
int
store_setting_set(struct store *s, const char *key, const char *value,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	if (value == NULL)
		st = store_prepare(s, "DELETE FROM settings WHERE key = ?",
		    cause);
	else {
		st = store_prepare(s, "INSERT INTO settings (key, value) "
		    "VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
		    "value = excluded.value WHERE value IS NOT excluded.value",
		    cause);
	}
	if (st == NULL)
		return (-1);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value != NULL)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		*cause = db_cause(s->db, s->path);
		rc = -1;
	}
	sqlite3_reset(st);
	return (rc);
}

static unsigned
hash_sql(const char *sql)
{
	unsigned	h = 2166136261u;

	for (; *sql != '\0'; sql++)
		h = (h ^ (unsigned char)*sql) * 16777619u;
	return (h);
}

/* Preparing costs more than running most amps queries, and a FastCGI
 * process runs the same few statements thousands of times. */
char *
store_column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	return (t != NULL ? xstrdup((const char *)t) : NULL);
}

sqlite3_stmt *
store_prepare(struct store *s, const char *sql, char **cause)
{
	struct cached_stmt	*c;
	sqlite3_stmt		*st;
	unsigned		 h = hash_sql(sql);

	for (c = s->cache[h % CACHE_BUCKETS]; c != NULL; c = c->next) {
		if (c->hash == h && strcmp(c->sql, sql) == 0) {
			sqlite3_reset(c->stmt);
			sqlite3_clear_bindings(c->stmt);
			return (c->stmt);
		}
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	    NULL) != SQLITE_OK) {
		*cause = db_cause(s->db, s->path);
		return (NULL);
	}
	c = xmalloc(sizeof *c);
	c->sql = xstrdup(sql);
	c->hash = h;
	c->stmt = st;
	c->next = s->cache[h % CACHE_BUCKETS];
	s->cache[h % CACHE_BUCKETS] = c;
	return (st);
}

/* Built once per schema: the text is used in every SELECT of its table. */
const char *
store_columns(const struct schema *sc)
{
	const struct schema_field	*f;
	struct columns			*c;
	struct buf			 b = BUF_INIT;
	const char			*text;

	pthread_mutex_lock(&columns_mutex);
	for (c = columns_list; c != NULL; c = c->next) {
		if (c->sc == sc)
			break;
	}
	if (c == NULL) {
		for (f = sc->fields; f->name != NULL; f++) {
			if (!is_column(f))
				continue;
			if (b.len != 0)
				buf_adds(&b, ", ");
			quote_ident(&b, f->name);
		}
		c = xmalloc(sizeof *c);
		c->sc = sc;
		c->text = buf_detach(&b);
		c->next = columns_list;
		columns_list = c;
	}
	text = c->text;
	pthread_mutex_unlock(&columns_mutex);
	return (text);
}

/* The primary key columns of table, from the database's own schema, for
 * the upsert's conflict target.  Returns 0, or -1 with *cause. */
static int
primary_key(struct store *s, const char *table, struct strlist *pk,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = store_prepare(s, "SELECT name FROM pragma_table_info(?) "
	    "WHERE pk > 0 ORDER BY pk", cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		strlist_add(pk, (const char *)sqlite3_column_text(st, 0));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = db_cause(s->db, s->path);
		return (-1);
	}
	if (pk->n == 0) {
		*cause = xprintf("%s: no such table", table);
		return (-1);
	}
	return (0);
}

static int
bind_field(sqlite3_stmt *st, int idx, const struct schema_field *f,
    const void *obj)
{
	const char	*p = (const char *)obj + f->offset;
	json_object	*j;
	int		 rc;

	switch (f->type) {
	case SCHEMA_STRING:
		if (*(char *const *)p == NULL)
			return (sqlite3_bind_null(st, idx));
		return (sqlite3_bind_text(st, idx, *(char *const *)p, -1,
		    SQLITE_STATIC));
	case SCHEMA_INT:
	case SCHEMA_BITRATE:
		return (sqlite3_bind_int64(st, idx, *(const long long *)p));
	case SCHEMA_BOOL:
		return (sqlite3_bind_int(st, idx, *(const int *)p != 0));
	case SCHEMA_TIME:
		return (sqlite3_bind_int64(st, idx, *(const int64_t *)p));
	default:
		if ((j = schema_field_to_json(f, obj)) == NULL)
			return (sqlite3_bind_null(st, idx));
		rc = sqlite3_bind_text(st, idx,
		    json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
		    JSON_C_TO_STRING_NOSLASHESCAPE), -1, SQLITE_TRANSIENT);
		json_object_put(j);
		return (rc);
	}
}

/* Adds one column to the upsert's SET list and to the WHERE that makes
 * it skip an unchanged row. */
static void
add_update(struct buf *set, struct buf *differ, const char *name,
    const struct strlist *pk)
{
	struct buf	q = BUF_INIT;

	if (strlist_contains(pk, name, 0))
		return;
	quote_ident(&q, name);
	buf_addf(set, "%s%s = excluded.%s", set->len != 0 ? ", " : "",
	    q.data, q.data);
	buf_addf(differ, "%s%s IS NOT excluded.%s",
	    differ->len != 0 ? " OR " : "", q.data, q.data);
	buf_free(&q);
}

/* An upsert on the table's primary key rather than INSERT OR REPLACE:
 * REPLACE deletes the old row first, which would cascade to its children
 * (a channel's variants, programmes and status).  The update only happens
 * when a column differs, so an unchanged write bumps no generation.  A
 * table whose key is not written (an INTEGER PRIMARY KEY left to SQLite)
 * gets a plain INSERT. */
int
store_put_object(struct store *s, const char *table, const struct schema *sc,
    const void *obj, const struct store_col *extra, size_t nextra,
    char **cause)
{
	const struct schema_field	*f;
	struct strlist			 pk = { NULL, 0 };
	struct strlist			 written = { NULL, 0 };
	struct buf			 sql = BUF_INIT, set = BUF_INIT;
	struct buf			 differ = BUF_INIT;
	sqlite3_stmt			*st;
	size_t				 i;
	int				 idx, upsert = 1, rc = -1;

	for (f = sc->fields; f->name != NULL; f++) {
		if (is_column(f))
			strlist_add(&written, f->name);
	}
	for (i = 0; i < nextra; i++)
		strlist_add(&written, extra[i].name);
	if (written.n == 0) {
		*cause = xprintf("%s: nothing to store", table);
		goto out;
	}
	if (primary_key(s, table, &pk, cause) != 0)
		goto out;

	buf_adds(&sql, "INSERT INTO ");
	quote_ident(&sql, table);
	buf_adds(&sql, " (");
	for (i = 0; i < written.n; i++) {
		if (i != 0)
			buf_adds(&sql, ", ");
		quote_ident(&sql, written.v[i]);
	}
	buf_adds(&sql, ") VALUES (");
	for (i = 0; i < written.n; i++)
		buf_adds(&sql, i == 0 ? "?" : ", ?");
	buf_addc(&sql, ')');

	for (i = 0; i < pk.n; i++) {
		if (!strlist_contains(&written, pk.v[i], 0))
			upsert = 0;
	}
	if (upsert) {
		buf_adds(&sql, " ON CONFLICT (");
		for (i = 0; i < pk.n; i++) {
			if (i != 0)
				buf_adds(&sql, ", ");
			quote_ident(&sql, pk.v[i]);
		}
		buf_adds(&sql, ") DO ");
		for (i = 0; i < written.n; i++)
			add_update(&set, &differ, written.v[i], &pk);
		if (set.len == 0)
			buf_adds(&sql, "NOTHING");
		else
			buf_addf(&sql, "UPDATE SET %s WHERE %s", set.data,
			    differ.data);
	}

	if ((st = store_prepare(s, sql.data, cause)) == NULL)
		goto out;
	idx = 1;
	for (f = sc->fields; f->name != NULL; f++) {
		if (is_column(f))
			bind_field(st, idx++, f, obj);
	}
	for (i = 0; i < nextra; i++, idx++) {
		if (extra[i].text != NULL)
			sqlite3_bind_text(st, idx, extra[i].text, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, idx, extra[i].num);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		*cause = xprintf("%s: %s", table, sqlite3_errmsg(s->db));
	else
		rc = 0;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);

out:
	buf_free(&differ);
	buf_free(&set);
	buf_free(&sql);
	strlist_free(&written);
	strlist_free(&pk);
	return (rc);
}

/* Scalars are set directly; the JSON columns go through schema_from_json
 * together, so that they load exactly as an API body would (without the
 * cross-field check, which judged the object when it was written). */
int
store_row_object(sqlite3_stmt *stmt, const struct schema *sc, void *obj,
    char **cause)
{
	const struct schema_field	*f;
	struct schema			 loose;
	struct schema_error		 err = { NULL, NULL };
	json_object			*row = NULL, *v;
	enum json_tokener_error		 jerr;
	const char			*name, *text;
	char				*p;
	int				 i, n, rc = -1;

	n = sqlite3_column_count(stmt);
	for (i = 0; i < n; i++) {
		name = sqlite3_column_name(stmt, i);
		if (name == NULL || (f = schema_field(sc, name)) == NULL ||
		    !is_column(f))
			continue;
		p = (char *)obj + f->offset;
		switch (f->type) {
		case SCHEMA_STRING:
			text = (const char *)sqlite3_column_text(stmt, i);
			free(*(char **)p);
			*(char **)p = xstrdup(text);
			break;
		case SCHEMA_INT:
		case SCHEMA_BITRATE:
			*(long long *)p = sqlite3_column_int64(stmt, i);
			break;
		case SCHEMA_BOOL:
			*(int *)p = sqlite3_column_int64(stmt, i) != 0;
			break;
		case SCHEMA_TIME:
			*(int64_t *)p = sqlite3_column_int64(stmt, i);
			break;
		default:
			if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
				break;
			text = (const char *)sqlite3_column_text(stmt, i);
			v = json_tokener_parse_verbose(text != NULL ? text : "",
			    &jerr);
			if (v == NULL) {
				*cause = xprintf("%s.%s: stored JSON does not "
				    "parse: %s", sc->name, name,
				    json_tokener_error_desc(jerr));
				goto out;
			}
			if (row == NULL)
				row = json_object_new_object();
			json_object_object_add(row, name, v);
			break;
		}
	}
	if (row != NULL) {
		loose = *sc;
		loose.check = NULL;
		if (schema_from_json(&loose, row, obj, 1, sc->name,
		    &err) != 0) {
			*cause = xprintf("%s: stored value does not load: %s",
			    err.path != NULL ? err.path : sc->name,
			    err.message != NULL ? err.message : "?");
			goto out;
		}
	}
	rc = 0;

out:
	schema_error_clear(&err);
	json_object_put(row);
	return (rc);
}

static int
identity_column(struct store *s, const char *sql, char **value,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_prepare(s, sql, cause)) == NULL)
		return (-1);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
		*value = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
		return (0);
	}
	sqlite3_reset(st);
	*cause = xprintf("%s: no identity row", s->path);
	return (-1);
}

int
store_identity(struct store *s, char **value, char **cause)
{
	return (identity_column(s, "SELECT value FROM identity WHERE id = 1",
	    value, cause));
}

int
store_secret(struct store *s, char **value, char **cause)
{
	return (identity_column(s, "SELECT secret FROM identity WHERE id = 1",
	    value, cause));
}
