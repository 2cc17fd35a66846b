#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"
#include "outbox.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"

/* A3 from the store: the pipeline status that streamd writes (a channel
 * without a row is idle), the EPG sources' refresh state, and /metrics.
 * The states are those of the pipeline_status table. */
static const char *const states[] = {
	"idle", "starting", "running", "backoff", "failed", "stopped", NULL
};

#define STATUS_SQL \
	"SELECT c.id, c.name, coalesce(p.state, 'idle'), p.since, " \
	"coalesce(p.restarts, 0), p.last_error, coalesce(p.viewers, 0), " \
	"p.input_bitrate, p.fps, p.variant, " \
	"EXISTS (SELECT 1 FROM recordings r WHERE r.channel_id = c.id " \
	"AND r.state = 'recording') " \
	"FROM channels c LEFT JOIN pipeline_status p ON p.channel_id = c.id " \
	"WHERE c.deleted = 0 "

static const char *
col_text(sqlite3_stmt *st, int i)
{
	return ((const char *)sqlite3_column_text(st, i));
}

static void
add_time(json_object *j, const char *key, sqlite3_stmt *st, int i)
{
	char	buf[TIMEFMT_BUFSIZE];

	if (sqlite3_column_type(st, i) == SQLITE_NULL ||
	    sqlite3_column_int64(st, i) == 0)
		json_object_object_add(j, key, NULL);
	else
		json_object_object_add(j, key, json_object_new_string(
		    timefmt_format_iso8601(sqlite3_column_int64(st, i), buf,
		    sizeof buf)));
}

static json_object *
row_json(sqlite3_stmt *st)
{
	json_object	*j;
	const char	*t;

	j = json_object_new_object();
	json_object_object_add(j, "id",
	    json_object_new_int64(sqlite3_column_int64(st, 0)));
	json_object_object_add(j, "name",
	    json_object_new_string(col_text(st, 1)));
	t = col_text(st, 9);
	json_object_object_add(j, "variant", t != NULL && *t != '\0' ?
	    json_object_new_string(t) : NULL);
	json_object_object_add(j, "state",
	    json_object_new_string(col_text(st, 2)));
	json_object_object_add(j, "healthy", json_object_new_boolean(
	    strcmp(col_text(st, 2), "running") == 0 ||
	    strcmp(col_text(st, 2), "idle") == 0));
	add_time(j, "since", st, 3);
	json_object_object_add(j, "restarts",
	    json_object_new_int64(sqlite3_column_int64(st, 4)));
	t = col_text(st, 5);
	json_object_object_add(j, "last_error", t != NULL ?
	    json_object_new_string(t) : NULL);
	json_object_object_add(j, "viewers",
	    json_object_new_int64(sqlite3_column_int64(st, 6)));
	json_object_object_add(j, "input_bitrate",
	    sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL :
	    json_object_new_int64(sqlite3_column_int64(st, 7)));
	json_object_object_add(j, "fps",
	    sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL :
	    json_object_new_double(sqlite3_column_double(st, 8)));
	json_object_object_add(j, "recording",
	    json_object_new_boolean(sqlite3_column_int(st, 10)));
	return (j);
}

static json_object *
epg_sources(struct store *s, char **cause)
{
	sqlite3_stmt	*st;
	json_object	*arr, *j;
	const char	*t;
	int		 rc;

	st = store_prepare(s, "SELECT name, last_refresh, last_status, "
	    "last_error, coalesce(programmes, 0) FROM epg_sources "
	    "ORDER BY position", cause);
	if (st == NULL)
		return (NULL);
	arr = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		j = json_object_new_object();
		json_object_object_add(j, "name",
		    json_object_new_string(col_text(st, 0)));
		add_time(j, "last_refresh", st, 1);
		t = col_text(st, 2);
		json_object_object_add(j, "state", json_object_new_string(
		    t != NULL ? t : "never"));
		t = col_text(st, 3);
		json_object_object_add(j, "last_error", t != NULL ?
		    json_object_new_string(t) : NULL);
		json_object_object_add(j, "programmes",
		    json_object_new_int64(sqlite3_column_int64(st, 4)));
		json_object_array_add(arr, j);
	}
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(s)));
		json_object_put(arr);
		return (NULL);
	}
	return (arr);
}

int
status_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	sqlite3_stmt	*st;
	json_object	*out, *streams, *bystate, *row, *v, *epg, *hooks;
	long long	 viewers = 0, n = 0;
	const char *const *sp;
	int		 rc;

	st = store_prepare(r->store, STATUS_SQL "ORDER BY c.position, c.id",
	    cause);
	if (st == NULL)
		return (EIO);
	streams = json_object_new_array();
	bystate = json_object_new_object();
	for (sp = states; *sp != NULL; sp++)
		json_object_object_add(bystate, *sp, json_object_new_int(0));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row = row_json(st);
		viewers += sqlite3_column_int64(st, 6);
		n++;
		if (json_object_object_get_ex(bystate, col_text(st, 2), &v))
			json_object_set_int(v, json_object_get_int(v) + 1);
		json_object_array_add(streams, row);
	}
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
		json_object_put(streams);
		json_object_put(bystate);
		return (EIO);
	}
	if ((epg = epg_sources(r->store, cause)) == NULL) {
		json_object_put(streams);
		json_object_put(bystate);
		return (EIO);
	}
	if ((hooks = outbox_status(r->store, cause)) == NULL) {
		json_object_put(epg);
		json_object_put(streams);
		json_object_put(bystate);
		return (EIO);
	}
	out = json_object_new_object();
	json_object_object_add(out, "channels", json_object_new_int64(n));
	json_object_object_add(out, "viewers", json_object_new_int64(viewers));
	json_object_object_add(out, "pipelines", bystate);
	json_object_object_add(out, "generation",
	    json_object_new_int64(store_generation(r->store)));
	json_object_object_add(out, "streams", streams);
	json_object_object_add(out, "epg_sources", epg);
	json_object_object_add(out, "webhooks", hooks);
	*json = out;
	return (0);
}

int
stream_status_get(struct request *r, struct response *resp,
    json_object **json, char **cause)
{
	sqlite3_stmt	*st;
	json_object	*arr = NULL, *first = NULL;
	long long	 id;
	int		 rc;

	if ((rc = request_param_id(r, 0, &id, cause)) != 0)
		return (rc);
	st = store_prepare(r->store, STATUS_SQL "AND c.id = ? ORDER BY "
	    "p.variant", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (first == NULL)
			first = row_json(st);
		else {
			/* Variants beyond the main pipeline. */
			if (arr == NULL)
				arr = json_object_new_array();
			json_object_array_add(arr, row_json(st));
		}
	}
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
		json_object_put(first);
		json_object_put(arr);
		return (EIO);
	}
	if (first == NULL) {
		*cause = xprintf("no stream %lld", id);
		return (ENOENT);
	}
	if (arr != NULL)
		json_object_object_add(first, "variants", arr);
	*json = first;
	return (0);
}

/* Prometheus label values escape backslash, quote and newline. */
static void
label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_addc(b, '\\');
		if (*s == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *s);
	}
}

static void
add_count(const char *method, const char *pattern, int status,
    unsigned long long n, void *arg)
{
	struct buf	*b = arg;

	buf_adds(b, "amps_http_requests_total{method=\"");
	label(b, method);
	buf_adds(b, "\",route=\"");
	label(b, pattern);
	buf_addf(b, "\",status=\"%d\"} %llu\n", status, n);
}

/* Recordings by state, guide sources and the webhook outbox, for
 * /metrics.  Returns 0, or -1 with *cause. */
static int
metrics_operations(struct store *s, struct buf *b, char **cause)
{
	static const char *const rstates[] = {
		"scheduled", "recording", "stopped", "interrupted", "failed",
		"pending", "running", "ready", NULL
	};
	const char *const *sp;
	sqlite3_stmt	*st;
	json_object	*o, *v;
	long long	 n[sizeof rstates / sizeof rstates[0]];
	size_t		 i;
	int		 rc;

	memset(n, 0, sizeof n);
	st = store_prepare(s, "SELECT state, count(*) FROM recordings "
	    "GROUP BY state", cause);
	if (st == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; rstates[i] != NULL; i++)
			if (strcmp(rstates[i], col_text(st, 0)) == 0)
				n[i] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(s)));
		return (-1);
	}
	buf_adds(b, "# HELP amps_recordings Recordings and clips by state.\n"
	    "# TYPE amps_recordings gauge\n");
	for (i = 0; rstates[i] != NULL; i++)
		buf_addf(b, "amps_recordings{state=\"%s\"} %lld\n", rstates[i],
		    n[i]);

	buf_adds(b, "# HELP amps_epg_source_last_success_seconds When each "
	    "guide source last refreshed well (Unix time; 0 = never).\n"
	    "# TYPE amps_epg_source_last_success_seconds gauge\n");
	st = store_prepare(s, "SELECT name, coalesce(last_success, 0), "
	    "coalesce(programmes, 0) FROM epg_sources ORDER BY position",
	    cause);
	if (st == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		buf_adds(b, "amps_epg_source_last_success_seconds{source=\"");
		label(b, col_text(st, 0));
		buf_addf(b, "\"} %lld\n", (long long)sqlite3_column_int64(st, 1));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(s)));
		return (-1);
	}

	if ((o = outbox_status(s, cause)) == NULL)
		return (-1);
	buf_adds(b, "# HELP amps_webhook_events Webhook events by delivery "
	    "state (failed: given up).\n# TYPE amps_webhook_events gauge\n");
	for (sp = (const char *const []){ "pending", "delivered", "failed",
	    NULL }; *sp != NULL; sp++)
		buf_addf(b, "amps_webhook_events{state=\"%s\"} %lld\n", *sp,
		    json_object_object_get_ex(o, *sp, &v) ?
		    (long long)json_object_get_int64(v) : 0LL);
	json_object_put(o);
	return (0);
}

/* GET /metrics: the Prometheus text exposition format, version 0.0.4. */
int
metrics_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	sqlite3_stmt	*st;
	struct buf	 b = BUF_INIT;
	long long	 channels = 0, viewers = 0, bystate[8];
	const char *const *sp;
	size_t		 i;
	int		 rc;

	memset(bystate, 0, sizeof bystate);
	st = store_prepare(r->store, STATUS_SQL, cause);
	if (st == NULL)
		return (EIO);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		channels++;
		viewers += sqlite3_column_int64(st, 6);
		for (i = 0, sp = states; *sp != NULL; sp++, i++) {
			if (strcmp(*sp, col_text(st, 2)) == 0)
				bystate[i]++;
		}
	}
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
		return (EIO);
	}
	buf_adds(&b, "# HELP amps_channels Channels in the catalogue.\n"
	    "# TYPE amps_channels gauge\n");
	buf_addf(&b, "amps_channels %lld\n", channels);
	buf_adds(&b, "# HELP amps_viewers Viewers watching now.\n"
	    "# TYPE amps_viewers gauge\n");
	buf_addf(&b, "amps_viewers %lld\n", viewers);
	buf_adds(&b, "# HELP amps_pipelines Pipelines by state.\n"
	    "# TYPE amps_pipelines gauge\n");
	for (i = 0, sp = states; *sp != NULL; sp++, i++)
		buf_addf(&b, "amps_pipelines{state=\"%s\"} %lld\n", *sp,
		    bystate[i]);
	buf_adds(&b, "# HELP amps_catalog_generation Catalogue generation.\n"
	    "# TYPE amps_catalog_generation gauge\n");
	buf_addf(&b, "amps_catalog_generation %lld\n",
	    (long long)store_generation(r->store));
	if (metrics_operations(r->store, &b, cause) != 0) {
		buf_free(&b);
		return (EIO);
	}
	buf_adds(&b, "# HELP amps_http_requests_total Requests served by "
	    "this responder, by route and status.\n"
	    "# TYPE amps_http_requests_total counter\n");
	route_counts(add_count, &b);
	buf_adds(&b, "# HELP amps_relayed_viewers /stream and /audio "
	    "viewers this responder relays now.\n"
	    "# TYPE amps_relayed_viewers gauge\n");
	buf_addf(&b, "amps_relayed_viewers %lld\n", stream_viewers());
	buf_adds(&b, "# HELP amps_uptime_seconds Seconds since the "
	    "responder started.\n# TYPE amps_uptime_seconds gauge\n");
	buf_addf(&b, "amps_uptime_seconds %lld\n", route_uptime());

	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	buf_add(&resp->body, b.data, b.len);
	buf_free(&b);
	return (0);
}
