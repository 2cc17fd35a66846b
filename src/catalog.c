#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "buf.h"
#include "catalog.h"
#include "channel.h"
#include "conf.h"
#include "crypto.h"
#include "profile.h"
#include "schema.h"
#include "store.h"
#include "xmalloc.h"

#define HASH_PREFIX	"sha256:"

/* The last database error as an errno: a constraint names bad input (or
 * a duplicate), anything else is EIO. */
static int
last_errno(struct store *s)
{
	int	code = sqlite3_extended_errcode(store_db(s));

	if (code == SQLITE_CONSTRAINT_UNIQUE ||
	    code == SQLITE_CONSTRAINT_PRIMARYKEY)
		return (EEXIST);
	if ((code & 0xff) == SQLITE_CONSTRAINT)
		return (EINVAL);
	return (EIO);
}

static int
db_errno(struct store *s, const char *what, char **cause)
{
	*cause = xprintf("%s: %s", what, sqlite3_errmsg(store_db(s)));
	return (last_errno(s));
}

/* Runs a statement that returns no rows and resets it. */
static int
run(struct store *s, sqlite3_stmt *st, const char *what, char **cause)
{
	int	rc = 0;

	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_errno(s, what, cause);
	sqlite3_reset(st);
	return (rc);
}

/* Binds a list of strings as one JSON array, for json_each(?). */
static void
bind_strings(sqlite3_stmt *st, int idx, char *const *v, size_t n)
{
	json_object	*a;
	size_t		 i;

	a = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	sqlite3_bind_text(st, idx, json_object_to_json_string_ext(a,
	    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	json_object_put(a);
}

/* Ends a write: commits when rc is 0, else rolls back (only this level,
 * when the caller holds a transaction). */
static int
finish(struct store *s, int rc, char **cause)
{
	if (rc != 0) {
		store_rollback(s);
		return (rc);
	}
	if (store_commit(s, cause) != 0)
		return (EIO);
	return (0);
}

static int
begin(struct store *s, char **cause)
{
	return (store_begin(s, cause) != 0 ? EIO : 0);
}

/* The store is the last gate before the database: an object is written
 * only if it loads through its schema (the one validator of amps), so a
 * caller that built a struct by hand cannot store what a file or an API
 * body could not hold.  what names the object in the cause. */
static int
validate(const struct schema *sc, const void *obj, const char *what,
    char **cause)
{
	struct schema_error	 err = { NULL, NULL };

	if (schema_validate(sc, obj, &err) == 0)
		return (0);
	if (err.path != NULL && *err.path != '\0')
		*cause = xprintf("%s: %s: %s", what, err.path, err.message);
	else
		*cause = xprintf("%s: %s", what, err.message);
	schema_error_clear(&err);
	return (EINVAL);
}

/* Each element of a list, as validate. */
static int
validate_list(const struct schema *sc, const struct objlist *l,
    const char *what, char **cause)
{
	char	*name;
	size_t	 i;
	int	 rc = 0;

	for (i = 0; i < l->n && rc == 0; i++) {
		name = xprintf("%s[%zu]", what, i);
		rc = validate(sc, schema_list_at(sc, l, i), name, cause);
		free(name);
	}
	return (rc);
}

/* Reads the bookkeeping columns (origin, dirty, deleted, position) of a
 * prepared and bound statement.  Returns 0 with *found, or an errno. */
static int
read_meta(struct store *s, sqlite3_stmt *st, struct catalog_meta *m,
    int *found, char **cause)
{
	const char	*origin;
	int		 rc = 0;

	memset(m, 0, sizeof *m);
	*found = 0;
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*found = 1;
		origin = (const char *)sqlite3_column_text(st, 0);
		m->api = origin != NULL && strcmp(origin, "api") == 0;
		m->dirty = sqlite3_column_int(st, 1) != 0;
		m->deleted = sqlite3_column_int(st, 2) != 0;
		m->position = sqlite3_column_int64(st, 3);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = db_errno(s, "reading bookkeeping", cause);
		break;
	}
	sqlite3_reset(st);
	return (rc);
}

static int
channel_row(struct store *s, long long id, struct catalog_meta *m,
    int *found, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "SELECT origin, dirty, deleted, position "
	    "FROM channels WHERE id = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, id);
	return (read_meta(s, st, m, found, cause));
}

static int
key_row(struct store *s, const char *name, struct catalog_meta *m,
    int *found, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "SELECT origin, dirty, deleted, 0 "
	    "FROM api_keys WHERE name = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return (read_meta(s, st, m, found, cause));
}

/* Loads the rows of "SELECT <sc's columns> FROM table rest" into l
 * (appending); id binds to the first parameter when non-negative. */
static int
load_list(struct store *s, const struct schema *sc, const char *table,
    const char *rest, long long id, struct objlist *l, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	void		*obj;
	int		 step, rc = 0;

	sql = xprintf("SELECT %s FROM \"%s\" %s", store_columns(sc), table,
	    rest);
	st = store_prepare(s, sql, cause);
	free(sql);
	if (st == NULL)
		return (EIO);
	if (id >= 0)
		sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		obj = schema_list_add(sc, l);
		if (store_row_object(st, sc, obj, cause) != 0) {
			rc = EIO;
			break;
		}
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_errno(s, sc->name, cause);
	sqlite3_reset(st);
	return (rc);
}

/* A channel's rows in a child table: its variants, and the programmes of
 * its own next_programs (an EPG source's programmes have a source). */
struct child {
	const char		*table;
	const struct schema	*sc;
	const char		*where;
};

static const struct child variant_rows = {
	"variants", &variant_schema, "WHERE channel_id = ?"
};
static const struct child program_rows = {
	"programmes", &program_schema, "WHERE channel_id = ? AND source IS NULL"
};

static int
load_children(struct store *s, const struct child *c, long long id,
    struct objlist *l, char **cause)
{
	char	*rest;
	int	 rc;

	rest = xprintf("%s ORDER BY position", c->where);
	rc = load_list(s, c->sc, c->table, rest, id, l, cause);
	free(rest);
	return (rc);
}

/* The channel columns of every channel SELECT: scheduled and id first, at
 * fixed indexes, then the schema's columns. */
static char *
channel_select(const char *rest)
{
	return (xprintf("SELECT scheduled, id, %s FROM channels AS c %s",
	    store_columns(&channel_schema), rest));
}

/* Builds a channel from the current row of a channel_select statement,
 * with its variants and, unless no_programmes, its programmes. */
static int
load_channel(struct store *s, sqlite3_stmt *st, int no_programmes,
    struct channel **out, char **cause)
{
	struct channel	*ch;
	int		 rc = EIO;

	ch = channel_new();
	if (store_row_object(st, &channel_schema, ch, cause) != 0)
		goto out;
	ch->scheduled = sqlite3_column_int(st, 0) != 0;
	ch->id = sqlite3_column_int64(st, 1);
	if ((rc = load_children(s, &variant_rows, ch->id,
	    &ch->adaptive_bitrates, cause)) != 0)
		goto out;
	if (!no_programmes)
		rc = load_children(s, &program_rows, ch->id,
		    &ch->next_programs, cause);

out:
	if (rc != 0) {
		channel_free(ch);
		ch = NULL;
	}
	*out = ch;
	return (rc);
}

/* One channel by id, as the API's GET /api/streams/<id> shows it. */
int
catalog_channel_get(struct store *s, long long id, struct channel **out,
    char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	*out = NULL;
	sql = channel_select("WHERE id = ? AND deleted = 0");
	st = store_prepare(s, sql, cause);
	free(sql);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		rc = load_channel(s, st, 0, out, cause);
		break;
	case SQLITE_DONE:
		*cause = xprintf("no channel %lld", id);
		rc = ENOENT;
		break;
	default:
		rc = db_errno(s, "channels", cause);
		break;
	}
	sqlite3_reset(st);
	return (rc);
}

/* The merge rule of sync.h needs to see tombstones too. */
int
catalog_channel_meta(struct store *s, long long id,
    struct catalog_meta *meta, char **cause)
{
	int	found, rc;

	if ((rc = channel_row(s, id, meta, &found, cause)) != 0)
		return (rc);
	if (!found) {
		*cause = xprintf("no channel %lld", id);
		return (ENOENT);
	}
	return (0);
}

static int
lists_equal(const struct schema *sc, const struct objlist *a,
    const struct objlist *b)
{
	size_t	i;

	if (a->n != b->n)
		return (0);
	for (i = 0; i < a->n; i++) {
		if (!schema_equal(sc, schema_list_at(sc, a, i),
		    schema_list_at(sc, b, i)))
			return (0);
	}
	return (1);
}

static struct store_col
num_col(const char *name, long long num)
{
	struct store_col	c = { name, NULL, num };

	return (c);
}

static struct store_col
text_col(const char *name, const char *text)
{
	struct store_col	c = { name, text, 0 };

	return (c);
}

/* Replaces a channel's rows in a child table unless they are unchanged,
 * so that rewriting an unchanged channel bumps no generation. */
static int
put_children(struct store *s, const struct child *c, long long id,
    const struct objlist *l, char **cause)
{
	struct objlist		 old = { NULL, 0 };
	struct store_col	 extra[2];
	sqlite3_stmt		*st;
	char			*sql;
	size_t			 i;
	int			 rc;

	if ((rc = load_children(s, c, id, &old, cause)) != 0)
		goto out;
	if (lists_equal(c->sc, &old, l))
		goto out;

	sql = xprintf("DELETE FROM \"%s\" %s", c->table, c->where);
	st = store_prepare(s, sql, cause);
	free(sql);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((rc = run(s, st, c->table, cause)) != 0)
		goto out;
	for (i = 0; i < l->n; i++) {
		extra[0] = num_col("channel_id", id);
		extra[1] = num_col("position", (long long)i);
		if (store_put_object(s, c->table, c->sc,
		    schema_list_at(c->sc, l, i), extra, 2, cause) != 0) {
			rc = last_errno(s);
			goto out;
		}
	}

out:
	schema_list_free(c->sc, &old);
	return (rc);
}

static int
next_position(struct store *s, long long *pos, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	st = store_prepare(s, "SELECT coalesce(max(position), 0) + 1 "
	    "FROM channels", cause);
	if (st == NULL)
		return (EIO);
	if (sqlite3_step(st) == SQLITE_ROW)
		*pos = sqlite3_column_int64(st, 0);
	else
		rc = db_errno(s, "channels", cause);
	sqlite3_reset(st);
	return (rc);
}

/* The channel row with its bookkeeping (origin and dirty per the merge
 * rule of sync.h), then its children.  A new channel goes last in the
 * playlist; an existing one keeps its place (catalog_channel_set_position
 * moves it). */
int
catalog_channel_put(struct store *s, const struct channel *ch, int flags,
    char **cause)
{
	struct catalog_meta	 m;
	struct store_col	 extra[7];
	const char		*origin;
	char			*what;
	long long		 position = 0;
	int			 found, exists, rc;

	what = xprintf("channel %lld", ch->id);
	rc = validate(&channel_schema, ch, what, cause);
	free(what);
	if (rc != 0)
		return (rc);
	if ((rc = begin(s, cause)) != 0)
		return (rc);
	if ((rc = channel_row(s, ch->id, &m, &found, cause)) != 0)
		goto out;
	exists = found && !m.deleted;
	if ((flags & CATALOG_CREATE) && exists) {
		*cause = xprintf("channel %lld already exists", ch->id);
		rc = EEXIST;
		goto out;
	}
	if ((flags & CATALOG_UPDATE) && !exists) {
		*cause = xprintf("no channel %lld", ch->id);
		rc = ENOENT;
		goto out;
	}
	if (found)
		position = m.position;
	else if ((rc = next_position(s, &position, cause)) != 0)
		goto out;

	if (flags & CATALOG_API)
		origin = found && !m.api ? "config" : "api";
	else
		origin = "config";
	extra[0] = num_col("scheduled", ch->scheduled != 0);
	extra[1] = text_col("origin", origin);
	extra[2] = num_col("dirty", (flags & CATALOG_API) ? 1 : 0);
	extra[3] = num_col("deleted", 0);
	extra[4] = num_col("position", position);
	extra[5] = num_col("sched_start", ch->schedule.start);
	extra[6] = num_col("sched_end", ch->schedule.end);
	if (store_put_object(s, "channels", &channel_schema, ch, extra, 7,
	    cause) != 0) {
		rc = last_errno(s);
		goto out;
	}
	if ((rc = put_children(s, &variant_rows, ch->id,
	    &ch->adaptive_bitrates, cause)) != 0)
		goto out;
	rc = put_children(s, &program_rows, ch->id, &ch->next_programs,
	    cause);

out:
	return (finish(s, rc, cause));
}

/* A tombstone keeps an API deletion until the next save, so that a
 * reimport of the file does not bring the channel back. */
int
catalog_channel_delete(struct store *s, long long id, int flags,
    char **cause)
{
	static const char *const tombstone[] = {
		"UPDATE channels SET deleted = 1, dirty = 1 WHERE id = ?",
		"DELETE FROM variants WHERE channel_id = ?",
		"DELETE FROM programmes WHERE channel_id = ?",
		NULL
	};
	static const char *const removal[] = {
		"DELETE FROM channels WHERE id = ?",	/* cascades */
		NULL
	};
	const char *const	*sql;
	struct catalog_meta	 m;
	sqlite3_stmt		*st;
	int			 found, rc;

	if ((rc = begin(s, cause)) != 0)
		return (rc);
	if ((rc = channel_row(s, id, &m, &found, cause)) != 0)
		goto out;
	if (!found || ((flags & CATALOG_API) && m.deleted)) {
		*cause = xprintf("no channel %lld", id);
		rc = ENOENT;
		goto out;
	}
	for (sql = (flags & CATALOG_API) ? tombstone : removal; *sql != NULL;
	    sql++) {
		if ((st = store_prepare(s, *sql, cause)) == NULL) {
			rc = EIO;
			goto out;
		}
		sqlite3_bind_int64(st, 1, id);
		if ((rc = run(s, st, "channels", cause)) != 0)
			goto out;
	}

out:
	return (finish(s, rc, cause));
}

/* Where the importer puts a channel: the file's order is the playlist's. */
int
catalog_channel_set_position(struct store *s, long long id,
    long long position, char **cause)
{
	struct catalog_meta	 m;
	sqlite3_stmt		*st;
	int			 found, rc;

	if ((rc = channel_row(s, id, &m, &found, cause)) != 0)
		return (rc);
	if (!found) {
		*cause = xprintf("no channel %lld", id);
		return (ENOENT);
	}
	if (m.position == position)
		return (0);
	st = store_prepare(s, "UPDATE channels SET position = ? WHERE id = ?",
	    cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, position);
	sqlite3_bind_int64(st, 2, id);
	return (run(s, st, "channels", cause));
}

/*
 * The filter is one SELECT, so that a playlist of thousands of channels
 * reads only the rows it shows.  The rules are those of the C functions
 * they stand for:
 *   window  channel_in_window: start <= now < end, 0 an open end;
 *   region  region_permits: a viewer in the block list is refused; a
 *           non-empty allow list needs the viewer in it, so an unknown
 *           viewer (NULL) sees only channels without an allow list.  The
 *           rules apply when filter->region is set or filter->region_known
 *           says to judge an unknown viewer; otherwise regions are not
 *           looked at (admin views);
 *   groups  case-insensitive, a channel without a group matches none;
 *   ids     exact.
 * NULL groups or ids mean any; a list with no entries matches nothing.
 */
static char *
filter_sql(const struct catalog_filter *f)
{
	struct buf	 b = BUF_INIT;
	char		*where, *sql;

	buf_adds(&b, "WHERE deleted = 0");
	if (f != NULL && f->ids != NULL)
		buf_adds(&b, " AND id IN (SELECT value FROM json_each(:ids))");
	if (f != NULL && f->groups != NULL)
		buf_adds(&b, " AND lower(\"group\") IN "
		    "(SELECT lower(value) FROM json_each(:groups))");
	if (f != NULL && f->now != 0)
		buf_adds(&b, " AND (sched_start = 0 OR sched_start <= :now)"
		    " AND (sched_end = 0 OR :now < sched_end)");
	if (f != NULL && (f->region != NULL || f->region_known))
		buf_adds(&b, " AND NOT EXISTS (SELECT 1 FROM "
		    "json_each(c.regions_blocked) "
		    "WHERE upper(value) = upper(:region))"
		    " AND (coalesce(json_array_length(c.regions_allowed), 0)"
		    " = 0 OR EXISTS (SELECT 1 FROM"
		    " json_each(c.regions_allowed)"
		    " WHERE upper(value) = upper(:region)))");
	buf_adds(&b, " ORDER BY position, id");
	where = buf_detach(&b);
	sql = channel_select(where);
	free(where);
	return (sql);
}

static void
filter_bind(sqlite3_stmt *st, const struct catalog_filter *f)
{
	struct buf	b = BUF_INIT;
	size_t		i;
	int		idx;

	if (f == NULL)
		return;
	if ((idx = sqlite3_bind_parameter_index(st, ":ids")) != 0) {
		buf_addc(&b, '[');
		for (i = 0; i < f->nids; i++)
			buf_addf(&b, "%s%lld", i == 0 ? "" : ",", f->ids[i]);
		buf_addc(&b, ']');
		sqlite3_bind_text(st, idx, b.data, (int)b.len,
		    SQLITE_TRANSIENT);
		buf_free(&b);
	}
	if ((idx = sqlite3_bind_parameter_index(st, ":groups")) != 0)
		bind_strings(st, idx, f->groups->v, f->groups->n);
	if ((idx = sqlite3_bind_parameter_index(st, ":now")) != 0)
		sqlite3_bind_int64(st, idx, f->now);
	if ((idx = sqlite3_bind_parameter_index(st, ":region")) != 0) {
		if (f->region != NULL)
			sqlite3_bind_text(st, idx, f->region, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(st, idx);
	}
}

/* Calls cb with each channel, which cb then owns. */
static int
each(struct store *s, const struct catalog_filter *filter,
    catalog_channel_cb cb, void *arg, char **cause)
{
	struct channel	*ch;
	sqlite3_stmt	*st = NULL;
	char		*sql;
	int		 step, rc = 0;

	/*
	 * Not from the statement cache: cb may run catalogue queries,
	 * this one included, and a cached statement would be reset under
	 * this loop.
	 */
	sql = filter_sql(filter);
	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) !=
	    SQLITE_OK) {
		rc = db_errno(s, "channels", cause);
		goto out;
	}
	filter_bind(st, filter);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = load_channel(s, st, filter != NULL &&
		    filter->no_programmes, &ch, cause)) != 0)
			goto out;
		if ((rc = cb(ch, arg)) != 0)
			goto out;
	}
	if (step != SQLITE_DONE)
		rc = db_errno(s, "channels", cause);

out:
	sqlite3_finalize(st);
	free(sql);
	return (rc);
}

struct each_arg {
	catalog_channel_cb	 cb;
	void			*arg;
};

static int
each_free(struct channel *ch, void *arg)
{
	struct each_arg	*ea = arg;
	int		 rc;

	rc = ea->cb(ch, ea->arg);
	channel_free(ch);
	return (rc);
}

/* Playlists and guides stream channels one at a time: memory stays flat
 * however many channels there are. */
int
catalog_channels_each(struct store *s, const struct catalog_filter *filter,
    catalog_channel_cb cb, void *arg, char **cause)
{
	struct each_arg	ea;

	ea.cb = cb;
	ea.arg = arg;
	return (each(s, filter, each_free, &ea, cause));
}

struct collect {
	struct channel	**v;
	size_t		  n;
};

static int
collect(struct channel *ch, void *arg)
{
	struct collect	*c = arg;

	c->v = xreallocarray(c->v, c->n + 1, sizeof *c->v);
	c->v[c->n++] = ch;
	return (0);
}

/* For callers that need every channel at once (sync, the API's list). */
int
catalog_channels(struct store *s, const struct catalog_filter *filter,
    struct channel ***out, size_t *n, char **cause)
{
	struct collect	c = { NULL, 0 };
	int		rc;

	*out = NULL;
	*n = 0;
	if ((rc = each(s, filter, collect, &c, cause)) != 0) {
		catalog_channels_free(c.v, c.n);
		return (rc);
	}
	*out = c.v;
	*n = c.n;
	return (0);
}

/* The array of catalog_channels, channels and all. */
void
catalog_channels_free(struct channel **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		channel_free(v[i]);
	free(v);
}

/* The importer compares the file's ids with every stored row. */
int
catalog_channel_ids(struct store *s, long long **ids, size_t *n,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 step, rc = 0;

	*ids = NULL;
	*n = 0;
	st = store_prepare(s, "SELECT id FROM channels ORDER BY position, id",
	    cause);
	if (st == NULL)
		return (EIO);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		*ids = xreallocarray(*ids, *n + 1, sizeof **ids);
		(*ids)[(*n)++] = sqlite3_column_int64(st, 0);
	}
	if (step != SQLITE_DONE) {
		rc = db_errno(s, "channels", cause);
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	sqlite3_reset(st);
	return (rc);
}

/* PUT /api/streams/<id>/programs: an API write like any other, so the
 * channel becomes dirty. */
int
catalog_programs_put(struct store *s, long long id,
    const struct objlist *programs, int flags, char **cause)
{
	const struct schema_field	*f;
	struct catalog_meta		 m;
	sqlite3_stmt			*st;
	int				 found, rc;

	/* The list's own limit, as a whole channel would be checked. */
	f = schema_field(&channel_schema, "next_programs");
	if (f != NULL && f->max > 0 && (long long)programs->n > f->max) {
		*cause = xprintf("next_programs: may have at most %lld entries",
		    f->max);
		return (EINVAL);
	}
	if ((rc = validate_list(&program_schema, programs, "next_programs",
	    cause)) != 0)
		return (rc);
	if ((rc = begin(s, cause)) != 0)
		return (rc);
	if ((rc = channel_row(s, id, &m, &found, cause)) != 0)
		goto out;
	if (!found || m.deleted) {
		*cause = xprintf("no channel %lld", id);
		rc = ENOENT;
		goto out;
	}
	if ((rc = put_children(s, &program_rows, id, programs, cause)) != 0)
		goto out;
	if ((flags & CATALOG_API) && !m.dirty) {
		st = store_prepare(s, "UPDATE channels SET dirty = 1 "
		    "WHERE id = ?", cause);
		if (st == NULL) {
			rc = EIO;
			goto out;
		}
		sqlite3_bind_int64(st, 1, id);
		rc = run(s, st, "channels", cause);
	}

out:
	return (finish(s, rc, cause));
}

/* Profiles of the config; the built-ins live in profile.c. */
int
catalog_profile_get(struct store *s, const char *name,
    struct profile **out, char **cause)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 rc;

	*out = NULL;
	sql = xprintf("SELECT %s FROM profiles WHERE name = ?",
	    store_columns(&profile_schema));
	st = store_prepare(s, sql, cause);
	free(sql);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		*out = xcalloc(1, sizeof **out);
		schema_defaults(&profile_schema, *out);
		if (store_row_object(st, &profile_schema, *out, cause) != 0) {
			schema_free(&profile_schema, *out);
			free(*out);
			*out = NULL;
			rc = EIO;
		} else
			rc = 0;
		break;
	case SQLITE_DONE:
		*cause = xprintf("no profile '%s'", name);
		rc = ENOENT;
		break;
	default:
		rc = db_errno(s, "profiles", cause);
		break;
	}
	sqlite3_reset(st);
	return (rc);
}

/* Profiles follow the file only (sync.h), so there is no bookkeeping. */
int
catalog_profile_put(struct store *s, const struct profile *p, char **cause)
{
	int	rc;

	if ((rc = validate(&profile_schema, p, "profile", cause)) != 0)
		return (rc);
	if (store_put_object(s, "profiles", &profile_schema, p, NULL, 0,
	    cause) != 0)
		return (last_errno(s));
	return (0);
}

/* An import removes the profiles the file no longer has. */
int
catalog_profile_delete(struct store *s, const char *name, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	st = store_prepare(s, "DELETE FROM profiles WHERE name = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((rc = run(s, st, "profiles", cause)) != 0)
		return (rc);
	if (sqlite3_changes(store_db(s)) == 0) {
		*cause = xprintf("no profile '%s'", name);
		return (ENOENT);
	}
	return (0);
}

/* The export writes them back to the file in a stable order. */
int
catalog_profiles(struct store *s, struct objlist *out, char **cause)
{
	int	rc;

	out->v = NULL;
	out->n = 0;
	rc = load_list(s, &profile_schema, "profiles", "ORDER BY name", -1,
	    out, cause);
	if (rc != 0)
		schema_list_free(&profile_schema, out);
	return (rc);
}

/* Only the hash of a key is kept: a stolen database gives no key away. */
void
catalog_hash_key(const char *key, char *out)
{
	memcpy(out, HASH_PREFIX, strlen(HASH_PREFIX));
	crypto_sha256_hex(key, strlen(key), out + strlen(HASH_PREFIX));
}

/* Keys follow the same merge rule as channels.  The key is given either
 * as k->key (hashed here) or as k->key_hash, as api_key_schema requires;
 * the role defaults to "viewer".  created is the time of an API write (0
 * for a key from the file, so that an import takes no time of its own). */
int
catalog_key_put(struct store *s, const struct api_key *k, int flags,
    char **cause)
{
	struct catalog_meta	 m;
	sqlite3_stmt		*st;
	char			 hash[CATALOG_HASH_SIZE];
	const char		*role, *origin;
	int			 found, exists, rc;

	if ((rc = validate(&api_key_schema, k, "key", cause)) != 0)
		return (rc);
	/* The schema holds key_hash to its exact form and length. */
	if (k->key_hash != NULL)
		snprintf(hash, sizeof hash, "%s", k->key_hash);
	else
		catalog_hash_key(k->key, hash);
	role = k->role != NULL ? k->role : "viewer";

	if ((rc = begin(s, cause)) != 0)
		return (rc);
	if ((rc = key_row(s, k->name, &m, &found, cause)) != 0)
		goto out;
	exists = found && !m.deleted;
	if ((flags & CATALOG_CREATE) && exists) {
		*cause = xprintf("key '%s' already exists", k->name);
		rc = EEXIST;
		goto out;
	}
	if ((flags & CATALOG_UPDATE) && !exists) {
		*cause = xprintf("no key '%s'", k->name);
		rc = ENOENT;
		goto out;
	}

	st = store_prepare(s, "SELECT 1 FROM api_keys WHERE key_hash = ? "
	    "AND name <> ?", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW) {
		*cause = xprintf("key '%s': another key has the same value",
		    k->name);
		rc = EEXIST;
		goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = db_errno(s, "api_keys", cause);
		goto out;
	}

	if (flags & CATALOG_API)
		origin = found && !m.api ? "config" : "api";
	else
		origin = "config";
	st = store_prepare(s, "INSERT INTO api_keys (name, key_hash, role, "
	    "created, origin, dirty, deleted) VALUES (?, ?, ?, ?, ?, ?, 0) "
	    "ON CONFLICT (name) DO UPDATE SET key_hash = excluded.key_hash, "
	    "role = excluded.role, origin = excluded.origin, "
	    "dirty = excluded.dirty, deleted = 0 "
	    "WHERE key_hash IS NOT excluded.key_hash "
	    "OR role IS NOT excluded.role OR origin IS NOT excluded.origin "
	    "OR dirty IS NOT excluded.dirty OR deleted <> 0", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (flags & CATALOG_API) ?
	    (sqlite3_int64)time(NULL) : 0);
	sqlite3_bind_text(st, 5, origin, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, (flags & CATALOG_API) ? 1 : 0);
	rc = run(s, st, "api_keys", cause);

out:
	return (finish(s, rc, cause));
}

/* Revoking a key: the tombstone also loses its hash, so that the key stops
 * working at once and its value may be used again. */
int
catalog_key_delete(struct store *s, const char *name, int flags,
    char **cause)
{
	struct catalog_meta	 m;
	sqlite3_stmt		*st;
	int			 found, rc;

	if ((rc = begin(s, cause)) != 0)
		return (rc);
	if ((rc = key_row(s, name, &m, &found, cause)) != 0)
		goto out;
	if (!found || ((flags & CATALOG_API) && m.deleted)) {
		*cause = xprintf("no key '%s'", name);
		rc = ENOENT;
		goto out;
	}
	if (flags & CATALOG_API)
		st = store_prepare(s, "UPDATE api_keys SET deleted = 1, "
		    "dirty = 1, key_hash = 'revoked:' || name WHERE name = ?",
		    cause);
	else
		st = store_prepare(s, "DELETE FROM api_keys WHERE name = ?",
		    cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = run(s, st, "api_keys", cause);

out:
	return (finish(s, rc, cause));
}

static void
set_string(char **p, const unsigned char *v)
{
	free(*p);
	*p = xstrdup((const char *)v);
}

/* What GET /api/keys and the export show: never a key, only its hash. */
int
catalog_keys(struct store *s, struct objlist *out, char **cause)
{
	struct api_key	*k;
	sqlite3_stmt	*st;
	int		 step, rc = 0;

	out->v = NULL;
	out->n = 0;
	st = store_prepare(s, "SELECT name, key_hash, role FROM api_keys "
	    "WHERE deleted = 0 ORDER BY name", cause);
	if (st == NULL)
		return (EIO);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		k = schema_list_add(&api_key_schema, out);
		set_string(&k->name, sqlite3_column_text(st, 0));
		set_string(&k->key_hash, sqlite3_column_text(st, 1));
		set_string(&k->role, sqlite3_column_text(st, 2));
		free(k->key);
		k->key = NULL;
	}
	if (step != SQLITE_DONE) {
		rc = db_errno(s, "api_keys", cause);
		schema_list_free(&api_key_schema, out);
	}
	sqlite3_reset(st);
	return (rc);
}

/* Every authenticated request comes here: one indexed lookup by the hash,
 * then a constant-time comparison of what was found. */
int
catalog_key_check(struct store *s, const char *key, char **role,
    char **cause)
{
	sqlite3_stmt	*st;
	char		 hash[CATALOG_HASH_SIZE];
	const char	*stored;
	int		 rc = ENOENT;

	*role = NULL;
	if (key == NULL || *key == '\0') {
		*cause = xstrdup("no API key");
		return (ENOENT);
	}
	catalog_hash_key(key, hash);
	st = store_prepare(s, "SELECT key_hash, role FROM api_keys "
	    "WHERE key_hash = ? AND deleted = 0", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		stored = (const char *)sqlite3_column_text(st, 0);
		if (stored != NULL && crypto_equal(stored, hash)) {
			*role = xstrdup((const char *)
			    sqlite3_column_text(st, 1));
			rc = 0;
		}
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = db_errno(s, "api_keys", cause);
		break;
	}
	sqlite3_reset(st);
	if (rc == ENOENT)
		*cause = xstrdup("unknown API key");
	return (rc);
}

/* The merge rule of sync.h, for keys: tombstones included. */
int
catalog_key_meta(struct store *s, const char *name,
    struct catalog_meta *meta, char **cause)
{
	int	found, rc;

	if ((rc = key_row(s, name, meta, &found, cause)) != 0)
		return (rc);
	if (!found) {
		*cause = xprintf("no key '%s'", name);
		return (ENOENT);
	}
	return (0);
}

/* EPG sources are keyed by name: the refresher's status columns stay with
 * a source that the file still names. */
int
catalog_epg_sources(struct store *s, struct objlist *out, char **cause)
{
	int	rc;

	out->v = NULL;
	out->n = 0;
	rc = load_list(s, &epg_source_schema, "epg_sources",
	    "ORDER BY position, name", -1, out, cause);
	if (rc != 0)
		schema_list_free(&epg_source_schema, out);
	return (rc);
}

/* Upserts by name (keeping status columns, but forgetting the ETag and
 * date of a source whose file or URL changed), then drops the sources the
 * list no longer has, with the programmes they brought. */
int
catalog_epg_sources_set(struct store *s, const struct objlist *l,
    char **cause)
{
	const struct epg_source	*e, *f;
	struct store_col	 extra;
	sqlite3_stmt		*st;
	char			**names;
	size_t			 i, j;
	int			 rc;

	if ((rc = validate_list(&epg_source_schema, l, "epg_sources",
	    cause)) != 0)
		return (rc);
	names = xcalloc(l->n + 1, sizeof *names);
	for (i = 0; i < l->n; i++) {
		e = schema_list_at(&epg_source_schema, l, i);
		for (j = 0; j < i; j++) {
			f = schema_list_at(&epg_source_schema, l, j);
			if (strcmp(e->name, f->name) == 0) {
				*cause = xprintf("epg_sources[%zu]: a second "
				    "source named '%s'", i, e->name);
				free(names);
				return (EINVAL);
			}
		}
		names[i] = e->name;
	}

	if ((rc = begin(s, cause)) != 0) {
		free(names);
		return (rc);
	}
	for (i = 0; i < l->n; i++) {
		e = schema_list_at(&epg_source_schema, l, i);
		/* A source that now reads another file or URL must not send
		 * the old one's ETag or date: a 304 would keep the old
		 * guide. */
		st = store_prepare(s, "UPDATE epg_sources SET etag = NULL, "
		    "last_modified = NULL WHERE name = ?1 AND "
		    "(url IS NOT ?2 OR path IS NOT ?3)", cause);
		if (st == NULL) {
			rc = EIO;
			goto out;
		}
		sqlite3_bind_text(st, 1, e->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->url, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->path, -1, SQLITE_STATIC);
		if ((rc = run(s, st, "epg_sources", cause)) != 0)
			goto out;
		extra = num_col("position", (long long)i);
		if (store_put_object(s, "epg_sources", &epg_source_schema, e,
		    &extra, 1, cause) != 0) {
			rc = last_errno(s);
			goto out;
		}
	}
	/* The sources that went, with the programmes they brought. */
	st = store_prepare(s, "DELETE FROM epg_sources WHERE name NOT IN "
	    "(SELECT value FROM json_each(?))", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	bind_strings(st, 1, names, l->n);
	if ((rc = run(s, st, "epg_sources", cause)) != 0)
		goto out;
	st = store_prepare(s, "DELETE FROM programmes WHERE source IS NOT NULL "
	    "AND source NOT IN (SELECT value FROM json_each(?))", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	bind_strings(st, 1, names, l->n);
	if ((rc = run(s, st, "programmes", cause)) != 0)
		goto out;
	/* Guide rows bump no generation one by one (store.c). */
	st = store_prepare(s, "UPDATE generation SET value = value + 1 "
	    "WHERE changes() > 0", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	rc = run(s, st, "generation", cause);

out:
	free(names);
	return (finish(s, rc, cause));
}

/* Lists kept by position: element i is row i; rows past the end go.
 * Unchanged rows are not written (store_put_object's upsert). */
static int
list_set(struct store *s, const char *table, const struct schema *sc,
    const struct objlist *l, char **cause)
{
	struct store_col	 extra;
	sqlite3_stmt		*st;
	char			*sql;
	size_t			 i;
	int			 rc;

	if ((rc = validate_list(sc, l, table, cause)) != 0)
		return (rc);
	if ((rc = begin(s, cause)) != 0)
		return (rc);
	for (i = 0; i < l->n; i++) {
		extra = num_col("position", (long long)i);
		if (store_put_object(s, table, sc, schema_list_at(sc, l, i),
		    &extra, 1, cause) != 0) {
			rc = last_errno(s);
			goto out;
		}
	}
	sql = xprintf("DELETE FROM \"%s\" WHERE position >= ?", table);
	st = store_prepare(s, sql, cause);
	free(sql);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->n);
	rc = run(s, st, table, cause);

out:
	return (finish(s, rc, cause));
}

static int
list_get(struct store *s, const char *table, const struct schema *sc,
    struct objlist *out, char **cause)
{
	int	rc;

	out->v = NULL;
	out->n = 0;
	rc = load_list(s, sc, table, "ORDER BY position", -1, out, cause);
	if (rc != 0)
		schema_list_free(sc, out);
	return (rc);
}

/* Webhooks and plugins follow the file, in its order (sync.h). */
int
catalog_webhooks(struct store *s, struct objlist *out, char **cause)
{
	return (list_get(s, "webhooks", &webhook_schema, out, cause));
}

/* Replaces the list; rows that did not change are not written. */
int
catalog_webhooks_set(struct store *s, const struct objlist *l, char **cause)
{
	return (list_set(s, "webhooks", &webhook_schema, l, cause));
}

/* Plugins in load order. */
int
catalog_plugins(struct store *s, struct objlist *out, char **cause)
{
	return (list_get(s, "plugins", &plugin_schema, out, cause));
}

/* Replaces the list, as catalog_webhooks_set. */
int
catalog_plugins_set(struct store *s, const struct objlist *l, char **cause)
{
	return (list_set(s, "plugins", &plugin_schema, l, cause));
}

/* After an export the file holds everything: from then on it is the
 * truth again (sync.h).  Rows already clean are not touched. */
int
catalog_mark_saved(struct store *s, char **cause)
{
	static const char *const sql[] = {
		"DELETE FROM channels WHERE deleted <> 0",
		"UPDATE channels SET dirty = 0, origin = 'config' "
		    "WHERE dirty <> 0 OR origin <> 'config'",
		"DELETE FROM api_keys WHERE deleted <> 0",
		"UPDATE api_keys SET dirty = 0, origin = 'config' "
		    "WHERE dirty <> 0 OR origin <> 'config'",
		NULL
	};
	const char *const	*q;
	sqlite3_stmt		*st;
	int			 rc;

	if ((rc = begin(s, cause)) != 0)
		return (rc);
	for (q = sql; *q != NULL; q++) {
		if ((st = store_prepare(s, *q, cause)) == NULL) {
			rc = EIO;
			break;
		}
		if ((rc = run(s, st, "mark saved", cause)) != 0)
			break;
	}
	return (finish(s, rc, cause));
}

int
catalog_window_epoch(struct store *s, int64_t now, int64_t *out,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 rc = 0;

	/* Two lookups on the partial indexes of migration 6. */
	st = store_prepare(s, "SELECT max(coalesce((SELECT max(sched_start) "
	    "FROM channels WHERE sched_start <> 0 AND sched_start <= ?1), 0), "
	    "coalesce((SELECT max(sched_end) FROM channels WHERE "
	    "sched_end <> 0 AND sched_end <= ?1), 0))", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_errno(s, "channels", cause);
	sqlite3_reset(st);
	return (rc);
}
