/* Recordings and clips (A4):
 *   POST   /api/streams/<id>/recordings/start   record now, or a programme
 *   POST   /api/streams/<id>/recordings/stop    stop (and finalise)
 *   GET    /api/recordings[?channel=&state=&kind=]
 *   GET    /api/recordings/<id>
 *   DELETE /api/recordings/<id>                 the row and its file
 *   POST   /api/recordings/<id>/clip            a clip job (202)
 * The rows are the recordings table; streamd writes the files.  An
 * immediate recording is a row inserted here, then started by streamd
 * over its control socket ("record-start", answered once the first
 * keyframe is in the file); a refusal removes the row again, so that a
 * rejected request changes nothing.  A timed one is a 'scheduled' row
 * that streamd starts and stops itself.  Clips are rows too ('pending'),
 * cut by streamd's clip worker, which the "jobs" command wakes. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "access.h"
#include "catalog.h"
#include "channel.h"
#include "ctl.h"
#include "log.h"
#include "route.h"
#include "site.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"

#define COLUMNS "id, kind, channel_id, variant, format, file, state, " \
	"title, created, start_at, stop_at, started, stopped, bytes, " \
	"duration, error, parent_id, programme_id, clip_start, clip_end, exact"

/* The longest recording or clip bound accepted (seconds). */
#define MAX_SECONDS	(7 * 86400.0)

static const char *const states[] = { "scheduled", "recording", "stopped",
    "interrupted", "failed", "pending", "running", "ready", NULL };

static int
one_of(const char *s, const char *const *v)
{
	for (; *v != NULL; v++)
		if (strcmp(s, *v) == 0)
			return (1);
	return (0);
}

/* One row (the statement's columns are COLUMNS) as the API shows it:
 * times in ISO 8601, the file's URL beside its path. */
static json_object *
row_json(struct request *r, sqlite3_stmt *st)
{
	json_object	*o = json_object_new_object();
	const char	*name, *state;
	char		 t[TIMEFMT_BUFSIZE], token[ACCESS_TOKEN_MAX];
	char		*base, *url, *full;
	long long	 ch;
	int		 i, n = sqlite3_column_count(st), type;

	for (i = 0; i < n; i++) {
		name = sqlite3_column_name(st, i);
		type = sqlite3_column_type(st, i);
		if (strcmp(name, "channel_id") == 0)
			name = "channel";
		if (type == SQLITE_NULL) {
			json_object_object_add(o, name, NULL);
			continue;
		}
		if (strcmp(name, "exact") == 0)
			json_object_object_add(o, name,
			    json_object_new_boolean(sqlite3_column_int(st,
			    i)));
		else if (strcmp(name, "created") == 0 ||
		    strcmp(name, "start_at") == 0 ||
		    strcmp(name, "stop_at") == 0 ||
		    strcmp(name, "started") == 0 ||
		    strcmp(name, "stopped") == 0)
			json_object_object_add(o, name, json_object_new_string(
			    timefmt_format_iso8601(sqlite3_column_int64(st, i),
			    t, sizeof t)));
		else if (type == SQLITE_INTEGER)
			json_object_object_add(o, name, json_object_new_int64(
			    sqlite3_column_int64(st, i)));
		else if (type == SQLITE_FLOAT)
			json_object_object_add(o, name, json_object_new_double(
			    sqlite3_column_double(st, i)));
		else
			json_object_object_add(o, name, json_object_new_string(
			    (const char *)sqlite3_column_text(st, i)));
	}
	/* The web server serves media_root/rec/ itself, after the
	 * authorizer: with auth on (or a region to carry), the URL has the
	 * signed prefix of the file's channel, as playlists hand out. */
	state = (const char *)sqlite3_column_text(st, 6);
	if (sqlite3_column_type(st, 5) != SQLITE_NULL && state != NULL &&
	    (strcmp(state, "recording") == 0 || strcmp(state, "stopped") ==
	    0 || strcmp(state, "interrupted") == 0 || strcmp(state,
	    "ready") == 0)) {
		base = request_base_url(r);
		url = xprintf("/%s", sqlite3_column_text(st, 5));
		token[0] = '\0';
		if (r->site->secret != NULL && (r->site->auth_enabled ||
		    r->region != NULL) &&
		    access_media(url, &ch, NULL) == ACCESS_REC)
			access_sign(r->site->secret, ch, access_expiry(
			    time(NULL), r->site->media_url_ttl), r->region,
			    token);
		full = xprintf("%s%s%s%s", base, token[0] != '\0' ?
		    ACCESS_PREFIX : "", token, url);
		json_object_object_add(o, "url", json_object_new_string(full));
		free(full);
		free(url);
		free(base);
	} else
		json_object_object_add(o, "url", NULL);
	return (o);
}

/* The row id: 0 and *out, ENOENT, or EIO. */
static int
get_row(struct request *r, long long id, json_object **out, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_prepare(r->store, "SELECT " COLUMNS " FROM recordings "
	    "WHERE id = ?", cause)) == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = row_json(r, st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return (0);
	if (rc == SQLITE_DONE) {
		*cause = xprintf("no recording %lld", id);
		return (ENOENT);
	}
	*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
	return (EIO);
}

/* A parameter that is not a positive id is no such recording. */
static int
param_id(struct request *r, long long *id, char **cause)
{
	const char	*s = r->params[0];
	char		*end;

	errno = 0;
	*id = s != NULL ? strtoll(s, &end, 10) : 0;
	if (s == NULL || *s == '\0' || *end != '\0' || errno != 0 ||
	    *id <= 0) {
		*cause = xprintf("no recording %s", s != NULL ? s : "");
		return (ENOENT);
	}
	return (0);
}

/* Runs st (bound) to its end: 0 or EIO. */
static int
exec(struct request *r, sqlite3_stmt *st, char **cause)
{
	int	rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return (0);
	*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
	return (EIO);
}

int
recordings_list(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	sqlite3_stmt	*st;
	const char	*channel, *state, *kind;
	char		*end;
	long long	 ch = 0;
	int		 rc;

	(void)resp;
	channel = request_query(r, "channel");
	state = request_query(r, "state");
	kind = request_query(r, "kind");
	if (channel != NULL) {
		errno = 0;
		ch = strtoll(channel, &end, 10);
		if (*channel == '\0' || *end != '\0' || errno != 0 || ch <= 0) {
			*cause = xstrdup("channel: expected a stream id");
			return (EINVAL);
		}
	}
	if (state != NULL && !one_of(state, states)) {
		*cause = xprintf("state: expected one of scheduled, recording, "
		    "stopped, interrupted, failed, pending, running, ready");
		return (EINVAL);
	}
	if (kind != NULL && strcmp(kind, "recording") != 0 &&
	    strcmp(kind, "clip") != 0) {
		*cause = xstrdup("kind: expected recording or clip");
		return (EINVAL);
	}
	if ((st = store_prepare(r->store, "SELECT " COLUMNS " FROM recordings "
	    "WHERE (?1 IS NULL OR channel_id = ?1) AND "
	    "(?2 IS NULL OR state = ?2) AND (?3 IS NULL OR kind = ?3) "
	    "ORDER BY id DESC", cause)) == NULL)
		return (EIO);
	if (channel != NULL)
		sqlite3_bind_int64(st, 1, ch);
	if (state != NULL)
		sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
	if (kind != NULL)
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
	*json = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_array_add(*json, row_json(r, st));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_object_put(*json);
		*json = NULL;
		*cause = xstrdup(sqlite3_errmsg(store_db(r->store)));
		return (EIO);
	}
	return (0);
}

int
recordings_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	long long	id;
	int		rc;

	(void)resp;
	if ((rc = param_id(r, &id, cause)) != 0)
		return (rc);
	return (get_row(r, id, json, cause));
}

int
recordings_delete(struct request *r, struct response *resp,
    json_object **json, char **cause)
{
	sqlite3_stmt	*st;
	long long	 id;
	char		*file = NULL, *kind = NULL, *state = NULL, *path, *c;
	int		 rc, step;

	(void)json;
	if ((rc = param_id(r, &id, cause)) != 0)
		return (rc);
	if (store_begin(r->store, &c) != 0) {
		*cause = c;
		return (EIO);
	}
	if ((st = store_prepare(r->store, "SELECT kind, state, file FROM "
	    "recordings WHERE id = ?", cause)) == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		kind = store_column_dup(st, 0);
		state = store_column_dup(st, 1);
		file = store_column_dup(st, 2);
	}
	sqlite3_reset(st);
	if (step != SQLITE_ROW) {
		*cause = xprintf("no recording %lld", id);
		rc = step == SQLITE_DONE ? ENOENT : EIO;
		goto out;
	}
	if (strcmp(state, "recording") == 0) {
		*cause = xprintf("recording %lld is recording: stop it first",
		    id);
		rc = EEXIST;
		goto out;
	}
	if (strcmp(state, "running") == 0) {
		*cause = xprintf("clip %lld is being cut: delete it when it is "
		    "ready", id);
		rc = EEXIST;
		goto out;
	}
	if ((st = store_prepare(r->store, "DELETE FROM recordings WHERE id = ?",
	    cause)) == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if ((rc = exec(r, st, cause)) != 0)
		goto out;
	if (store_commit(r->store, cause) != 0) {
		rc = EIO;
		goto out;
	}
	/* The row is gone: its file follows (a scheduled one has none). */
	if (file != NULL && r->site->media_root != NULL &&
	    strstr(file, "..") == NULL) {
		path = xprintf("%s/%s", r->site->media_root, file);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("recordings", "%s: %s", path, strerror(errno));
		free(path);
	}
	log_info("recordings", "%s %lld (%s) deleted", kind, id, state);
	resp->status = 204;
out:
	if (rc != 0)
		store_rollback(r->store);
	free(file);
	free(kind);
	free(state);
	return (rc);
}

/* The body as a JSON object, {} when there is none. */
static int
body_object(struct request *r, json_object **out, char **cause)
{
	int	rc;

	if (r->body.len == 0) {
		*out = json_object_new_object();
		return (0);
	}
	if ((rc = request_json(r, out, cause)) != 0)
		return (rc);
	if (!json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		*cause = xstrdup("expected a JSON object");
		return (EINVAL);
	}
	return (0);
}

/* Every key of o is one of keys. */
static int
known_keys(json_object *o, const char *const *keys, char **cause)
{
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (!one_of(key, keys)) {
			*cause = xprintf("%s: unknown key", key);
			return (EINVAL);
		}
	}
	return (0);
}

/* A number of seconds in [min, max]: 0 with *out (unchanged when the key
 * is absent), or EINVAL. */
static int
get_seconds(json_object *o, const char *key, double min, double max,
    double *out, char **cause)
{
	json_object	*v;
	double		 d;

	if (!json_object_object_get_ex(o, key, &v))
		return (0);
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		*cause = xprintf("%s: expected a number of seconds", key);
		return (EINVAL);
	}
	d = json_object_get_double(v);
	if (d != d || d < min || d > max) {
		*cause = xprintf("%s: expected %g to %g seconds", key, min,
		    max);
		return (EINVAL);
	}
	*out = d;
	return (0);
}

/* A string (non-empty, at most max bytes): 0 with *out (borrowed, NULL
 * when absent), or EINVAL. */
static int
get_text(json_object *o, const char *key, size_t max, const char **out,
    char **cause)
{
	json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return (0);
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 ||
	    (size_t)json_object_get_string_len(v) > max) {
		*cause = xprintf("%s: expected a string of 1 to %zu bytes",
		    key, max);
		return (EINVAL);
	}
	*out = json_object_get_string(v);
	return (0);
}

/* A time in ISO 8601: 0 with *out (unchanged when absent), or EINVAL. */
static int
get_time(json_object *o, const char *key, int64_t *out, char **cause)
{
	const char	*s;
	int		 rc;

	if ((rc = get_text(o, key, 64, &s, cause)) != 0)
		return (rc);
	if (s != NULL && timefmt_parse_iso8601(s, out) != 0) {
		*cause = xprintf("%s: expected an ISO 8601 time with a zone",
		    key);
		return (EINVAL);
	}
	return (0);
}

/* Seconds rounded up (no libm in the responder). */
static int64_t
whole(double d)
{
	return ((int64_t)d + ((double)(int64_t)d < d));
}

static long long
setting_num(struct store *s, const char *key, long long def)
{
	char		*v = NULL, *c = NULL;
	long long	 n = def;

	if (store_setting_get(s, key, &v, &c) == 0 && v != NULL)
		n = strtoll(v, NULL, 10);
	free(v);
	free(c);
	return (n < 0 ? def : n);
}

/* Asks streamd; returns 0 with *reply, 1 when it said no (*cause), -1
 * when it cannot be reached (*cause). */
static int
ask_streamd(struct request *r, json_object *req, int timeout_ms,
    json_object **reply, char **cause)
{
	struct ctl	*c = NULL;
	char		*why = NULL;
	int		 rc = -1;

	*reply = NULL;
	if (r->site->control_socket == NULL) {
		*cause = xstrdup("streamd's control socket is not configured");
		return (-1);
	}
	if (ctl_connect(r->site->control_socket, 2000, &c, &why) != 0) {
		log_error("recordings", "streamd: %s", why);
		free(why);
		*cause = xstrdup("streamd is not running");
		return (-1);
	}
	if (ctl_request(c, req, reply, timeout_ms, &why) != 0) {
		log_error("recordings", "streamd: %s", why);
		free(why);
		*cause = xstrdup("streamd did not answer");
		goto out;
	}
	rc = ctl_refused(*reply, "request", cause) ? 1 : 0;
out:
	ctl_close(c);
	return (rc);
}

/* The status of a refusal by streamd of a stream's recording. */
static int
refusal_status(const char *why)
{
	if (strncmp(why, "no stream", 9) == 0 || strstr(why, "has no variant")
	    != NULL || strstr(why, "no rendition") != NULL)
		return (404);
	if (strstr(why, "outside its schedule") != NULL)
		return (409);
	return (503);
}

/* Inserts a recording row; 0 with *id, or EIO. */
static int
insert_recording(struct request *r, long long channel, const char *variant,
    const char *format, const char *title, int64_t start_at, int64_t stop_at,
    long long programme, long long *id, char **cause)
{
	sqlite3_stmt	*st;
	char		*c = NULL, *file;
	int		 rc;

	if (store_begin(r->store, &c) != 0) {
		*cause = c;
		return (EIO);
	}
	if ((st = store_prepare(r->store, "INSERT INTO recordings (kind, "
	    "channel_id, variant, format, state, title, created, start_at, "
	    "stop_at, programme_id) VALUES ('recording', ?, ?, ?, "
	    "'scheduled', ?, ?, ?, ?, ?)", cause)) == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, channel);
	if (variant != NULL)
		sqlite3_bind_text(st, 2, variant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, format, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, time(NULL));
	if (start_at > 0)
		sqlite3_bind_int64(st, 6, start_at);
	if (stop_at > 0)
		sqlite3_bind_int64(st, 7, stop_at);
	if (programme > 0)
		sqlite3_bind_int64(st, 8, programme);
	if ((rc = exec(r, st, cause)) != 0)
		goto out;
	*id = sqlite3_last_insert_rowid(store_db(r->store));
	/* The name streamd writes (record.c). */
	file = xprintf("rec/%lld/%lld.%s", channel, *id, format);
	st = store_prepare(r->store, "UPDATE recordings SET file = ? WHERE "
	    "id = ?", cause);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, file, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, *id);
	}
	free(file);
	if (st == NULL || (rc = exec(r, st, cause)) != 0) {
		rc = EIO;
		goto out;
	}
	if (store_commit(r->store, cause) != 0)
		rc = EIO;
out:
	if (rc != 0)
		store_rollback(r->store);
	return (rc);
}

/* Removes a row that streamd refused (nothing else refers to it). */
static void
remove_row(struct request *r, long long id)
{
	sqlite3_stmt	*st;
	char		*c = NULL;

	if ((st = store_prepare(r->store, "DELETE FROM recordings WHERE id = ?",
	    &c)) == NULL || (sqlite3_bind_int64(st, 1, id), exec(r, st,
	    &c)) != 0) {
		log_error("recordings", "recording %lld: %s", id, c);
		free(c);
	}
}

/* The programme's times and title: 0, ENOENT, EINVAL or EIO. */
static int
programme(struct request *r, long long channel, long long pid,
    int64_t *start, int64_t *stop, char **title, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = store_prepare(r->store, "SELECT start, \"end\", title FROM "
	    "programmes WHERE id = ? AND channel_id = ?", cause)) == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int64(st, 2, channel);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		*cause = xprintf("stream %lld has no programme %lld", channel,
		    pid);
		return (rc == SQLITE_DONE ? ENOENT : EIO);
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL ||
	    sqlite3_column_type(st, 1) == SQLITE_NULL) {
		sqlite3_reset(st);
		*cause = xprintf("programme %lld has no start or no end", pid);
		return (EINVAL);
	}
	*start = sqlite3_column_int64(st, 0);
	*stop = sqlite3_column_int64(st, 1);
	*title = store_column_dup(st, 2);
	sqlite3_reset(st);
	return (0);
}

int
recordings_start(struct request *r, struct response *resp,
    json_object **json, char **cause)
{
	static const char *const keys[] = { "programme_id", "start", "stop",
	    "title", "padding_before", "padding_after", "format", "variant",
	    "duration", NULL };
	struct channel	*ch = NULL;
	json_object	*body = NULL, *req = NULL, *reply = NULL, *v;
	const char	*format = NULL, *variant = NULL, *title = NULL;
	char		*deftitle = NULL, *ptitle = NULL, *fmt = NULL, *c = NULL;
	char		 t[TIMEFMT_BUFSIZE];
	double		 before, after, duration = 0;
	int64_t		 start = 0, stop = 0, now = time(NULL), started;
	long long	 id, rec = 0, pid = 0;
	sqlite3_stmt	*st;
	int		 rc, timed, status, timeout_ms;

	if ((rc = request_param_id(r, 0, &id, cause)) != 0)
		return (rc);
	if ((rc = catalog_channel_get(r->store, id, &ch, cause)) != 0) {
		if (rc == ENOENT) {
			free(*cause);
			*cause = xprintf("no stream %lld", id);
		}
		return (rc);
	}
	before = (double)setting_num(r->store,
	    "server.recording_padding_before", 60);
	after = (double)setting_num(r->store,
	    "server.recording_padding_after", 300);
	if ((rc = body_object(r, &body, cause)) != 0 ||
	    (rc = known_keys(body, keys, cause)) != 0 ||
	    (rc = get_text(body, "format", 8, &format, cause)) != 0 ||
	    (rc = get_text(body, "variant", 64, &variant, cause)) != 0 ||
	    (rc = get_text(body, "title", 1000, &title, cause)) != 0 ||
	    (rc = get_seconds(body, "padding_before", 0, 86400, &before,
	    cause)) != 0 ||
	    (rc = get_seconds(body, "padding_after", 0, 86400, &after,
	    cause)) != 0 ||
	    (rc = get_seconds(body, "duration", 1, MAX_SECONDS, &duration,
	    cause)) != 0 ||
	    (rc = get_time(body, "start", &start, cause)) != 0 ||
	    (rc = get_time(body, "stop", &stop, cause)) != 0)
		goto out;
	if (json_object_object_get_ex(body, "programme_id", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    (pid = json_object_get_int64(v)) <= 0) {
			*cause = xstrdup("programme_id: expected a programme "
			    "id");
			rc = EINVAL;
			goto out;
		}
		if (start != 0 || stop != 0) {
			*cause = xstrdup("programme_id: not with start and "
			    "stop");
			rc = EINVAL;
			goto out;
		}
		if ((rc = programme(r, id, pid, &start, &stop, &ptitle,
		    cause)) != 0)
			goto out;
		if (title == NULL)
			title = ptitle;
	}
	timed = start != 0 || stop != 0;
	if (timed && (start == 0 || stop == 0 || stop <= start)) {
		*cause = xstrdup("start and stop: both, stop after start");
		rc = EINVAL;
		goto out;
	}
	if (timed && duration > 0) {
		*cause = xstrdup("duration: not with a programme or start and "
		    "stop");
		rc = EINVAL;
		goto out;
	}
	if (format == NULL) {
		if (store_setting_get(r->store, "server.recording_format",
		    &fmt, &c) != 0) {
			free(c);
			fmt = NULL;
		}
		format = fmt != NULL ? fmt : "ts";
	}
	if (strcmp(format, "ts") != 0 && strcmp(format, "mp4") != 0) {
		*cause = xstrdup("format: expected ts or mp4");
		rc = EINVAL;
		goto out;
	}
	if (variant != NULL && channel_variant(ch, variant) == NULL) {
		*cause = xprintf("stream %lld has no variant '%s'", id, variant);
		rc = ENOENT;
		goto out;
	}
	if (timed) {
		start -= (int64_t)before;
		stop += (int64_t)after;
		if (stop <= now) {
			*cause = xprintf("%s is over", pid > 0 ?
			    "the programme" : "that time");
			rc = EEXIST;
			goto out;
		}
	}
	if (title == NULL) {
		deftitle = xprintf("%s %s", ch->name != NULL ? ch->name :
		    "Recording", timefmt_format_iso8601(timed ? start : now, t,
		    sizeof t));
		title = deftitle;
	}
	if ((rc = insert_recording(r, id, variant, format, title, timed ?
	    (start > now ? start : now) : 0, timed ? stop : duration > 0 ?
	    now + whole(duration) : 0, pid, &rec, cause)) != 0)
		goto out;
	if (timed) {
		log_info("recordings", "stream %lld: recording %lld scheduled",
		    id, rec);
		resp->status = 201;
		response_header(resp, "Location", "/api/recordings/%lld", rec);
		rc = get_row(r, rec, json, cause);
		goto out;
	}

	/* Now: streamd starts it, or the row goes again. */
	timeout_ms = (int)r->site->ensure_timeout * 1000;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(
	    "record-start"));
	json_object_object_add(req, "stream", json_object_new_int64(id));
	if (variant != NULL)
		json_object_object_add(req, "variant",
		    json_object_new_string(variant));
	json_object_object_add(req, "recording", json_object_new_int64(rec));
	json_object_object_add(req, "format", json_object_new_string(format));
	if (duration > 0)
		json_object_object_add(req, "stop_at", json_object_new_int64(
		    now + whole(duration)));
	json_object_object_add(req, "timeout_ms",
	    json_object_new_int(timeout_ms));
	if ((rc = ask_streamd(r, req, timeout_ms + 5000, &reply, cause)) !=
	    0) {
		remove_row(r, rec);
		status = rc < 0 ? 503 : refusal_status(*cause);
		log_warn("recordings", "stream %lld: recording refused: %s",
		    id, *cause);
		response_error(resp, status, "%s", *cause);
		if (status == 503)
			response_header(resp, "Retry-After", "5");
		free(*cause);
		*cause = NULL;
		rc = 0;
		goto out;
	}
	started = json_object_object_get_ex(reply, "started", &v) ?
	    json_object_get_int64(v) : now;
	if ((st = store_prepare(r->store, "UPDATE recordings SET state = "
	    "'recording', started = ?2, start_at = ?2 WHERE id = ?1 AND "
	    "state = 'scheduled'", cause)) == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, rec);
	sqlite3_bind_int64(st, 2, started);
	if ((rc = exec(r, st, cause)) != 0)
		goto out;
	log_info("recordings", "stream %lld: recording %lld started", id, rec);
	resp->status = 201;
	response_header(resp, "Location", "/api/recordings/%lld", rec);
	rc = get_row(r, rec, json, cause);
out:
	json_object_put(req);
	json_object_put(reply);
	json_object_put(body);
	channel_free(ch);
	free(deftitle);
	free(ptitle);
	free(fmt);
	return (rc);
}

/* The final row of a recording that streamd stopped, as it said. */
static int
write_stopped(struct request *r, long long rec, json_object *reply,
    char **cause)
{
	sqlite3_stmt	*st;
	json_object	*v;

	if ((st = store_prepare(r->store, "UPDATE recordings SET state = ?2, "
	    "stopped = ?3, bytes = ?4, duration = ?5, error = ?6 "
	    "WHERE id = ?1 AND state = 'recording'", cause)) == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, rec);
	if (reply == NULL) {
		/* streamd does not know it: it was lost. */
		sqlite3_bind_text(st, 2, "interrupted", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, time(NULL));
		sqlite3_bind_int64(st, 4, 0);
		sqlite3_bind_null(st, 5);
		sqlite3_bind_text(st, 6, "streamd was not recording it", -1,
		    SQLITE_STATIC);
		return (exec(r, st, cause));
	}
	sqlite3_bind_text(st, 2, json_object_object_get_ex(reply, "state", &v) ?
	    json_object_get_string(v) : "stopped", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, json_object_object_get_ex(reply, "stopped",
	    &v) ? json_object_get_int64(v) : time(NULL));
	sqlite3_bind_int64(st, 4, json_object_object_get_ex(reply, "bytes",
	    &v) ? json_object_get_int64(v) : 0);
	sqlite3_bind_double(st, 5, json_object_object_get_ex(reply,
	    "duration", &v) ? json_object_get_double(v) : 0);
	if (json_object_object_get_ex(reply, "error", &v) && v != NULL)
		sqlite3_bind_text(st, 6, json_object_get_string(v), -1,
		    SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
	return (exec(r, st, cause));
}

int
recordings_stop(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	static const char *const keys[] = { "id", NULL };
	json_object	*body = NULL, *v, *req, *reply = NULL, *row;
	sqlite3_stmt	*st;
	long long	 id, want = 0, *ids = NULL;
	size_t		 n = 0, i;
	char		*state = NULL, *why = NULL;
	int		 rc, step, asked;

	if ((rc = request_param_id(r, 0, &id, cause)) != 0)
		return (rc);
	if ((rc = body_object(r, &body, cause)) != 0 ||
	    (rc = known_keys(body, keys, cause)) != 0)
		goto out;
	if (json_object_object_get_ex(body, "id", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    (want = json_object_get_int64(v)) <= 0) {
			*cause = xstrdup("id: expected a recording id");
			rc = EINVAL;
			goto out;
		}
		if ((st = store_prepare(r->store, "SELECT state FROM recordings "
		    "WHERE id = ? AND channel_id = ? AND kind = 'recording'",
		    cause)) == NULL) {
			rc = EIO;
			goto out;
		}
		sqlite3_bind_int64(st, 1, want);
		sqlite3_bind_int64(st, 2, id);
		if ((step = sqlite3_step(st)) == SQLITE_ROW)
			state = store_column_dup(st, 0);
		sqlite3_reset(st);
		if (step != SQLITE_ROW) {
			*cause = xprintf("stream %lld has no recording %lld",
			    id, want);
			rc = ENOENT;
			goto out;
		}
		if (strcmp(state, "recording") != 0) {
			*cause = xprintf("recording %lld is not recording "
			    "(%s)", want, state);
			rc = EEXIST;
			goto out;
		}
	}
	if ((st = store_prepare(r->store, "SELECT id FROM recordings WHERE "
	    "kind = 'recording' AND state = 'recording' AND channel_id = ?1 "
	    "AND (?2 = 0 OR id = ?2) ORDER BY id", cause)) == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, want);
	while (sqlite3_step(st) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (n == 0) {
		*cause = xprintf("stream %lld is not recording", id);
		rc = EEXIST;
		goto out;
	}
	*json = json_object_new_array();
	for (i = 0; i < n; i++) {
		req = json_object_new_object();
		json_object_object_add(req, "cmd",
		    json_object_new_string("record-stop"));
		json_object_object_add(req, "recording",
		    json_object_new_int64(ids[i]));
		asked = ask_streamd(r, req, 40000, &reply, &why);
		json_object_put(req);
		if (asked < 0) {
			response_error(resp, 503, "%s", why);
			response_header(resp, "Retry-After", "5");
			free(why);
			json_object_put(*json);
			*json = NULL;
			rc = 0;
			goto out;
		}
		if (asked > 0)
			log_warn("recordings", "recording %lld: %s", ids[i],
			    why);
		free(why);
		why = NULL;
		rc = write_stopped(r, ids[i], asked == 0 ? reply : NULL,
		    cause);
		json_object_put(reply);
		reply = NULL;
		if (rc != 0 || (rc = get_row(r, ids[i], &row, cause)) != 0) {
			json_object_put(*json);
			*json = NULL;
			goto out;
		}
		json_object_array_add(*json, row);
	}
out:
	json_object_put(body);
	free(ids);
	free(state);
	return (rc);
}

/* A clip bound: seconds into the recording, or an ISO 8601 time taken
 * against its start. */
static int
clip_bound(json_object *body, const char *key, int64_t started,
    double *out, char **cause)
{
	json_object	*v;
	int64_t		 t;

	if (!json_object_object_get_ex(body, key, &v)) {
		*cause = xprintf("%s: required", key);
		return (EINVAL);
	}
	if (json_object_is_type(v, json_type_string)) {
		if (timefmt_parse_iso8601(json_object_get_string(v), &t) != 0) {
			*cause = xprintf("%s: expected seconds or an ISO 8601 "
			    "time with a zone", key);
			return (EINVAL);
		}
		if (started == 0) {
			*cause = xprintf("%s: the recording has no start time "
			    "to count from", key);
			return (EINVAL);
		}
		*out = (double)(t - started);
	} else
		return (get_seconds(body, key, -MAX_SECONDS, MAX_SECONDS, out,
		    cause));
	return (0);
}

int
recordings_clip(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	static const char *const keys[] = { "start", "end", "recording_file",
	    "exact", "format", NULL };
	json_object	*body = NULL, *v, *req, *reply = NULL;
	sqlite3_stmt	*st;
	struct stat	 sb;
	const char	*given, *format = NULL, *base;
	char		*file = NULL, *state = NULL, *pformat = NULL, *title = NULL;
	char		*variant = NULL, *path = NULL, *cfile, *why = NULL, *c;
	long long	 id, channel = 0, clip;
	int64_t		 started = 0;
	double		 start, end, duration = -1;
	int		 rc, step, exact = 0;

	if ((rc = param_id(r, &id, cause)) != 0)
		return (rc);
	if ((st = store_prepare(r->store, "SELECT state, file, format, "
	    "coalesce(started, 0), duration, coalesce(channel_id, 0), title, "
	    "variant FROM recordings WHERE id = ?", cause)) == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, id);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		state = store_column_dup(st, 0);
		file = store_column_dup(st, 1);
		pformat = store_column_dup(st, 2);
		started = sqlite3_column_int64(st, 3);
		if (sqlite3_column_type(st, 4) != SQLITE_NULL)
			duration = sqlite3_column_double(st, 4);
		channel = sqlite3_column_int64(st, 5);
		if (sqlite3_column_type(st, 6) != SQLITE_NULL)
			title = xprintf("%s (clip)", sqlite3_column_text(st,
			    6));
		variant = store_column_dup(st, 7);
	}
	sqlite3_reset(st);
	if (step != SQLITE_ROW) {
		*cause = xprintf("no recording %lld", id);
		rc = step == SQLITE_DONE ? ENOENT : EIO;
		goto out;
	}
	if ((rc = body_object(r, &body, cause)) != 0 ||
	    (rc = known_keys(body, keys, cause)) != 0 ||
	    (rc = clip_bound(body, "start", started, &start, cause)) != 0 ||
	    (rc = clip_bound(body, "end", started, &end, cause)) != 0 ||
	    (rc = get_text(body, "recording_file", 4096, &given, cause)) != 0 ||
	    (rc = get_text(body, "format", 8, &format, cause)) != 0)
		goto out;
	if (json_object_object_get_ex(body, "exact", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*cause = xstrdup("exact: expected true or false");
			rc = EINVAL;
			goto out;
		}
		exact = json_object_get_boolean(v);
	}
	if (format != NULL && strcmp(format, "ts") != 0 &&
	    strcmp(format, "mp4") != 0) {
		*cause = xstrdup("format: expected ts or mp4");
		rc = EINVAL;
		goto out;
	}
	if (format == NULL)
		format = pformat;
	if (start < 0 || end <= start) {
		*cause = xprintf("start and end: expected 0 <= start < end "
		    "(got %g and %g)", start, end);
		rc = EINVAL;
		goto out;
	}
	if (duration >= 0 && strcmp(state, "recording") != 0 &&
	    end > duration + 0.5) {
		*cause = xprintf("end: %g s is past the recording's end "
		    "(%.3f s)", end, duration);
		rc = EINVAL;
		goto out;
	}
	/* The seed's recording_file names the recording's own file: by
	 * its name, or its path under media_root; nothing else. */
	if (given != NULL) {
		base = file != NULL ? strrchr(file, '/') : NULL;
		base = base != NULL ? base + 1 : file;
		if (strstr(given, "..") != NULL || given[0] == '/' ||
		    file == NULL || (strcmp(given, file) != 0 &&
		    strcmp(given, base) != 0)) {
			*cause = xprintf("recording_file: not the file of "
			    "recording %lld", id);
			rc = EINVAL;
			goto out;
		}
	}
	if (file == NULL || (strcmp(state, "recording") != 0 &&
	    strcmp(state, "stopped") != 0 && strcmp(state, "interrupted") !=
	    0 && strcmp(state, "ready") != 0)) {
		*cause = xprintf("recording %lld has nothing to cut (%s)", id,
		    state);
		rc = EEXIST;
		goto out;
	}
	path = xprintf("%s/%s", r->site->media_root != NULL ?
	    r->site->media_root : ".", file);
	if (strstr(file, "..") != NULL || stat(path, &sb) != 0 ||
	    !S_ISREG(sb.st_mode)) {
		*cause = xprintf("recording %lld: its file %s is missing", id,
		    file);
		rc = EEXIST;
		goto out;
	}

	if (store_begin(r->store, &c) != 0) {
		*cause = c;
		rc = EIO;
		goto out;
	}
	if ((st = store_prepare(r->store, "INSERT INTO recordings (kind, "
	    "channel_id, variant, format, state, title, created, parent_id, "
	    "clip_start, clip_end, exact) VALUES ('clip', ?, ?, ?, 'pending', "
	    "?, ?, ?, ?, ?, ?)", cause)) == NULL) {
		store_rollback(r->store);
		rc = EIO;
		goto out;
	}
	if (channel > 0)
		sqlite3_bind_int64(st, 1, channel);
	if (variant != NULL)
		sqlite3_bind_text(st, 2, variant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, format, -1, SQLITE_TRANSIENT);
	if (title != NULL)
		sqlite3_bind_text(st, 4, title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, time(NULL));
	sqlite3_bind_int64(st, 6, id);
	sqlite3_bind_double(st, 7, start);
	sqlite3_bind_double(st, 8, end);
	sqlite3_bind_int(st, 9, exact);
	if ((rc = exec(r, st, cause)) != 0) {
		store_rollback(r->store);
		goto out;
	}
	clip = sqlite3_last_insert_rowid(store_db(r->store));
	cfile = xprintf("rec/%lld/%lld-clip.%s", channel, clip, format);
	st = store_prepare(r->store, "UPDATE recordings SET file = ? WHERE "
	    "id = ?", cause);
	if (st != NULL) {
		sqlite3_bind_text(st, 1, cfile, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, clip);
	}
	free(cfile);
	if (st == NULL || (rc = exec(r, st, cause)) != 0 ||
	    store_commit(r->store, cause) != 0) {
		store_rollback(r->store);
		rc = EIO;
		goto out;
	}
	/* The worker looks every few seconds anyway. */
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("jobs"));
	if (ask_streamd(r, req, 2000, &reply, &why) != 0) {
		log_warn("recordings", "clip %lld: %s", clip, why);
		free(why);
	}
	json_object_put(req);
	json_object_put(reply);
	resp->status = 202;
	response_header(resp, "Location", "/api/recordings/%lld", clip);
	rc = get_row(r, clip, json, cause);
out:
	json_object_put(body);
	free(file);
	free(state);
	free(pformat);
	free(title);
	free(variant);
	free(path);
	return (rc);
}
