#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "epg.h"
#include "route.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"

/* G3: the EPG sources with their refresh state, and a refresh on
 * request.  Times in ISO 8601 (UTC) as everywhere in the API. */
#define SOURCE_SQL \
	"SELECT name, path, url, coalesce(match_on, 'epg_id'), " \
	"coalesce(refresh_interval_minutes, 0), last_refresh, last_success, " \
	"last_status, last_error, coalesce(programmes, 0), " \
	"coalesce(channels, 0), coalesce(skipped, 0) FROM epg_sources "

static json_object *
text_or_null(sqlite3_stmt *st, int i)
{
	const unsigned char	*t = sqlite3_column_text(st, i);

	return (t != NULL ? json_object_new_string((const char *)t) : NULL);
}

static json_object *
time_or_null(int64_t t)
{
	char	buf[TIMEFMT_BUFSIZE];

	if (t <= 0)
		return (NULL);
	return (json_object_new_string(timefmt_format_iso8601(t, buf,
	    sizeof buf)));
}

/* One source: its config, then what the last refresh did.  next_refresh
 * only for a source with an interval (streamd refreshes it then; one
 * never refreshed is due now). */
static json_object *
source_json(sqlite3_stmt *st)
{
	json_object	*j;
	long long	 interval;
	int64_t		 last, next;

	j = json_object_new_object();
	json_object_object_add(j, "name", text_or_null(st, 0));
	json_object_object_add(j, "path", text_or_null(st, 1));
	json_object_object_add(j, "url", text_or_null(st, 2));
	json_object_object_add(j, "match_on", text_or_null(st, 3));
	interval = sqlite3_column_int64(st, 4);
	json_object_object_add(j, "refresh_interval_minutes",
	    json_object_new_int64(interval));
	last = sqlite3_column_int64(st, 5);
	json_object_object_add(j, "last_refresh", time_or_null(last));
	json_object_object_add(j, "last_success",
	    time_or_null(sqlite3_column_int64(st, 6)));
	json_object_object_add(j, "last_status",
	    sqlite3_column_type(st, 7) == SQLITE_NULL ?
	    json_object_new_string("never") : text_or_null(st, 7));
	json_object_object_add(j, "last_error", text_or_null(st, 8));
	json_object_object_add(j, "programmes",
	    json_object_new_int64(sqlite3_column_int64(st, 9)));
	json_object_object_add(j, "channels",
	    json_object_new_int64(sqlite3_column_int64(st, 10)));
	json_object_object_add(j, "skipped",
	    json_object_new_int64(sqlite3_column_int64(st, 11)));
	if (interval > 0) {
		next = last > 0 ? last + interval * 60 : time(NULL);
		json_object_object_add(j, "next_refresh", time_or_null(next));
	} else
		json_object_object_add(j, "next_refresh", NULL);
	return (j);
}

/* One source's row as JSON; ENOENT when there is none. */
static int
source_get(struct store *s, const char *name, json_object **out,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 step;

	st = store_prepare(s, SOURCE_SQL "WHERE name = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*out = source_json(st);
	else if (step == SQLITE_DONE)
		*cause = xprintf("no EPG source '%s'", name);
	else
		*cause = xprintf("epg_sources: %s",
		    sqlite3_errmsg(store_db(s)));
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return (0);
	return (step == SQLITE_DONE ? ENOENT : EIO);
}

/* GET /api/epg/sources: every source, in the config's order. */
int
epg_sources_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	sqlite3_stmt	*st;
	json_object	*arr;
	int		 step;

	(void)resp;
	st = store_prepare(r->store, SOURCE_SQL "ORDER BY position, name",
	    cause);
	if (st == NULL)
		return (EIO);
	arr = json_object_new_array();
	while ((step = sqlite3_step(st)) == SQLITE_ROW)
		json_object_array_add(arr, source_json(st));
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		*cause = xprintf("epg_sources: %s",
		    sqlite3_errmsg(store_db(r->store)));
		json_object_put(arr);
		return (EIO);
	}
	*json = arr;
	return (0);
}

static int
stopping(void *arg)
{
	(void)arg;
	return (process_stopping());
}

/* POST /api/epg/sources/{name}/refresh (admin): refreshes now, in this
 * request (seconds for a large guide); 200 with the source's new row,
 * 502 with the row and the error when the fetch or the guide failed (the
 * previous guide is kept), 404 for no such source (nothing changes). */
int
epg_source_refresh(struct request *r, struct response *resp,
    json_object **json, char **cause)
{
	struct epg_opts		 o;
	struct epg_result	 res;
	json_object		*row = NULL;
	int			 rc;

	memset(&o, 0, sizeof o);
	o.cancel = stopping;
	rc = epg_refresh(r->store, &o, r->params[0], &res, cause);
	if (rc != 0) {
		epg_result_clear(&res);
		return (rc);
	}
	if ((rc = source_get(r->store, r->params[0], &row, cause)) != 0) {
		epg_result_clear(&res);
		return (rc);
	}
	json_object_object_add(row, "unmatched",
	    json_object_new_int64(res.unmatched));
	if (res.status == EPG_FAILED) {
		resp->status = 502;
		json_object_object_add(row, "error",
		    json_object_new_string(res.error));
	}
	*json = row;
	epg_result_clear(&res);
	return (0);
}
