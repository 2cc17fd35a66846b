#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "crypto.h"
#include "outbox.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"

/* A webhook without an event list takes every event. */
#define WANTS_EVENT \
	"(events IS NULL OR json_array_length(events) = 0 OR " \
	"EXISTS (SELECT 1 FROM json_each(webhooks.events) " \
	"WHERE json_each.value = ?1))"

int
outbox_emit(struct store *s, const char *event, json_object *subject,
    char **cause)
{
	json_object	*body;
	sqlite3_stmt	*st;
	char		 id[33], when[32];
	int64_t		 now = time(NULL);
	int		 n = -1;

	if (crypto_random_hex(16, id) != 0) {
		*cause = xstrdup("no random bytes for an event id");
		return (-1);
	}
	body = json_object_new_object();
	json_object_object_add(body, "id", json_object_new_string(id));
	json_object_object_add(body, "event", json_object_new_string(event));
	json_object_object_add(body, "time", json_object_new_string(
	    timefmt_format_iso8601(now, when, sizeof when)));
	json_object_object_add(body, "subject", subject != NULL ?
	    json_object_get(subject) : json_object_new_object());

	/* The webhook's name, or its URL when it has none, names the
	 * target: positions change when the file is edited. */
	st = store_prepare(s, "INSERT INTO webhook_outbox (webhook, url, "
	    "event, body, created, next_attempt) "
	    "SELECT coalesce(name, url), url, ?1, ?2, ?3, ?3 FROM webhooks "
	    "WHERE url IS NOT NULL AND " WANTS_EVENT " ORDER BY position",
	    cause);
	if (st == NULL)
		goto out;
	sqlite3_bind_text(st, 1, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		*cause = xprintf("webhook_outbox: %s",
		    sqlite3_errmsg(store_db(s)));
		sqlite3_reset(st);
		goto out;
	}
	n = sqlite3_changes(store_db(s));
	sqlite3_reset(st);
out:
	json_object_put(body);
	return (n);
}

/* One row to look at: the head of its webhook's queue. */
struct job {
	int64_t		 id;
	char		*webhook;
	char		*url;		/* the webhook's, now; NULL if removed */
	char		*secret;
	char		*event;
	char		*body;
	int64_t		 created;
	int64_t		 attempts;
	int64_t		 next_attempt;
	struct job	*next;
};

/* At most this many POSTs per outbox_deliver: the caller gets control
 * back now and then, whatever the backlog. */
#define MAX_TRIES	64
/* The most of an answer read: none of it is needed. */
#define MAX_ANSWER	65536

static void
jobs_free(struct job *j)
{
	struct job	*next;

	for (; j != NULL; j = next) {
		next = j->next;
		free(j->webhook);
		free(j->url);
		free(j->secret);
		free(j->event);
		free(j->body);
		free(j);
	}
}

/* The head of every webhook's queue, oldest first, with its webhook's
 * url and secret as configured now (NULL when it is gone). */
static int
heads(struct store *s, struct job **out, char **cause)
{
	sqlite3_stmt	*st;
	struct job	*j, **tail = out;
	int		 rc;

	*out = NULL;
	st = store_prepare(s, "SELECT o.id, o.webhook, w.url, w.secret, "
	    "o.event, o.body, o.created, o.attempts, o.next_attempt "
	    "FROM webhook_outbox o LEFT JOIN webhooks w "
	    "ON w.position = (SELECT min(position) FROM webhooks "
	    "WHERE url IS NOT NULL AND coalesce(name, url) = o.webhook) "
	    "WHERE o.id IN (SELECT min(id) FROM webhook_outbox "
	    "WHERE delivered IS NULL AND gave_up IS NULL GROUP BY webhook) "
	    "ORDER BY o.id", cause);
	if (st == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		j = xcalloc(1, sizeof *j);
		j->id = sqlite3_column_int64(st, 0);
		j->webhook = store_column_dup(st, 1);
		j->url = store_column_dup(st, 2);
		j->secret = store_column_dup(st, 3);
		j->event = store_column_dup(st, 4);
		j->body = store_column_dup(st, 5);
		j->created = sqlite3_column_int64(st, 6);
		j->attempts = sqlite3_column_int64(st, 7);
		j->next_attempt = sqlite3_column_int64(st, 8);
		*tail = j;
		tail = &j->next;
	}
	/* Reset before anything else: a statement left stepping holds a
	 * read transaction open. */
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = xprintf("webhook_outbox: %s",
		    sqlite3_errmsg(store_db(s)));
		jobs_free(*out);
		*out = NULL;
		return (-1);
	}
	return (0);
}

/* Steps a prepared write and resets it.  Returns the rows changed, or -1
 * with *cause. */
static int
step_write(struct store *s, sqlite3_stmt *st, char **cause)
{
	int	n;

	if (sqlite3_step(st) != SQLITE_DONE) {
		*cause = xprintf("webhook_outbox: %s",
		    sqlite3_errmsg(store_db(s)));
		sqlite3_reset(st);
		return (-1);
	}
	n = sqlite3_changes(store_db(s));
	sqlite3_reset(st);
	return (n);
}

/* Gives up the rows of j's webhook queued before before (every one when
 * the webhook is gone), keeping each one's last error. */
static int
give_up(struct store *s, const struct job *j, int64_t now, int64_t before,
    const char *why, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "UPDATE webhook_outbox SET gave_up = ?1, "
	    "last_error = coalesce(last_error, ?3) WHERE webhook = ?2 AND "
	    "delivered IS NULL AND gave_up IS NULL AND created < ?4", cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, j->webhook, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, why, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, before);
	return (step_write(s, st, cause));
}

static int
delivered(struct store *s, const struct job *j, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "UPDATE webhook_outbox SET delivered = ?1, "
	    "attempts = attempts + 1 WHERE id = ?2", cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_int64(st, 1, time(NULL));
	sqlite3_bind_int64(st, 2, j->id);
	return (step_write(s, st, cause));
}

/* The delay before the next try after attempts failures: 1, 2, 4 ... s,
 * at most the cap. */
static int64_t
backoff(int64_t attempts, const struct outbox_opts *o)
{
	int64_t	max = o->backoff_max > 0 ? o->backoff_max : OUTBOX_BACKOFF_MAX;
	int64_t	d = 1;

	while (--attempts > 0 && d < max)
		d *= 2;
	return (d < max ? d : max);
}

static int
failed(struct store *s, const struct job *j, const struct outbox_opts *o,
    const char *error, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "UPDATE webhook_outbox SET attempts = ?1, "
	    "next_attempt = ?2, last_error = ?3 WHERE id = ?4", cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_int64(st, 1, j->attempts + 1);
	sqlite3_bind_int64(st, 2, time(NULL) + backoff(j->attempts + 1, o));
	sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, j->id);
	return (step_write(s, st, cause));
}

/* The answer's body is of no use: read and dropped, within a bound. */
static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	size_t	*total = arg;

	(void)data;
	*total += size * n;
	return (*total > MAX_ANSWER ? 0 : size * n);
}

/* Aborts a transfer in progress when the caller stops. */
static int
progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	volatile int	*stop = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return (stop != NULL && *stop);
}

/* Adds "name: value" to h ("name:" without a value drops curl's own).
 * Returns the list, or NULL (h freed) when out of memory. */
static struct curl_slist *
header(struct curl_slist *h, const char *name, const char *value)
{
	struct curl_slist	*n;
	char			*line;

	line = xprintf("%s:%s%s", name, value != NULL ? " " : "",
	    value != NULL ? value : "");
	n = curl_slist_append(h, line);
	free(line);
	if (n == NULL) {
		curl_slist_free_all(h);
		return (NULL);
	}
	return (n);
}

/* POSTs j's body to its url, never following a redirect.  Returns 0 on a
 * 2xx answer, else -1 with *error ("HTTP 500", curl's message; caller
 * frees). */
static int
post(const struct job *j, const struct outbox_opts *o, volatile int *stop,
    char **error)
{
	CURL			*c;
	struct curl_slist	*h = NULL;
	char			 ebuf[CURL_ERROR_SIZE], id[32];
	char			 sig[sizeof "sha256=" + CRYPTO_SHA256_HEXLEN];
	size_t			 len = strlen(j->body), answer = 0;
	long			 code = 0;
	CURLcode		 rc;
	int			 ret = -1;

	*error = NULL;
	if ((c = curl_easy_init()) == NULL) {
		*error = xstrdup("curl_easy_init failed");
		return (-1);
	}
	snprintf(id, sizeof id, "%lld", (long long)j->id);
	h = header(h, "Content-Type", "application/json");
	if (h != NULL)
		h = header(h, "User-Agent", "amps/" PACKAGE_VERSION);
	/* No "Expect: 100-continue" round trip for a larger body. */
	if (h != NULL)
		h = header(h, "Expect", NULL);
	if (h != NULL)
		h = header(h, "X-Amps-Event", j->event);
	if (h != NULL)
		h = header(h, "X-Amps-Delivery", id);
	if (h != NULL && j->secret != NULL && *j->secret != '\0') {
		memcpy(sig, "sha256=", 7);
		crypto_hmac_sha256_hex(j->secret, strlen(j->secret), j->body,
		    len, sig + 7);
		h = header(h, "X-Amps-Signature", sig);
	}
	if (h == NULL) {
		*error = xstrdup("out of memory for the headers");
		goto out;
	}

	ebuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, j->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);

	rc = curl_easy_perform(c);
	if (rc == CURLE_WRITE_ERROR && answer > MAX_ANSWER)
		rc = CURLE_OK;	/* the status line came: enough */
	if (rc != CURLE_OK) {
		*error = xstrdup(ebuf[0] != '\0' ? ebuf :
		    curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		*error = xprintf("HTTP %ld", code);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (ret);
}

/* Rounds over the heads of the queues until nothing more is due: a row
 * delivered or given up lets the next one of its webhook go at once. */
int
outbox_deliver(struct store *s, const struct outbox_opts *o,
    volatile int *stop, char **cause)
{
	struct job	*list = NULL, *j;
	char		*error;
	int64_t		 now;
	int		 tried = 0, moved, n;

	do {
		moved = 0;
		if (heads(s, &list, cause) != 0)
			return (-1);
		for (j = list; j != NULL; j = j->next) {
			if ((stop != NULL && *stop) || tried >= MAX_TRIES)
				break;
			now = time(NULL);
			if (j->url == NULL)
				n = give_up(s, j, now, INT64_MAX,
				    "webhook removed", cause);
			else if (j->created + o->retry_for <= now)
				n = give_up(s, j, now, now - o->retry_for + 1,
				    "not delivered in time", cause);
			else if (j->next_attempt > now)
				continue;
			else {
				tried++;
				if (post(j, o, stop, &error) == 0)
					n = delivered(s, j, cause);
				else {
					/* Its webhook waits: no progress. */
					n = failed(s, j, o, error, cause);
					free(error);
					if (n > 0)
						n = 0;
				}
			}
			if (n < 0) {
				jobs_free(list);
				return (-1);
			}
			moved += n > 0;
		}
		jobs_free(list);
		list = NULL;
	} while (moved > 0 && tried < MAX_TRIES && (stop == NULL || !*stop));
	return (tried);
}

/* Finished rows are of no use after a while but in /api/status's counts,
 * which then cover the last days only. */
int
outbox_prune(struct store *s, int64_t before, char **cause)
{
	sqlite3_stmt	*st;

	st = store_prepare(s, "DELETE FROM webhook_outbox "
	    "WHERE (delivered IS NOT NULL AND delivered < ?1) OR "
	    "(gave_up IS NOT NULL AND gave_up < ?1)", cause);
	if (st == NULL)
		return (-1);
	sqlite3_bind_int64(st, 1, before);
	return (step_write(s, st, cause));
}

/* A time column as ISO 8601, or JSON null. */
static json_object *
column_time(sqlite3_stmt *st, int i)
{
	char	buf[TIMEFMT_BUFSIZE];

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return (NULL);
	return (json_object_new_string(timefmt_format_iso8601(
	    sqlite3_column_int64(st, i), buf, sizeof buf)));
}

static json_object *
column_string(sqlite3_stmt *st, int i)
{
	const unsigned char	*v = sqlite3_column_text(st, i);

	return (v != NULL ? json_object_new_string((const char *)v) : NULL);
}

/* One query over the (pruned, small) outbox: the configured webhooks in
 * file order, then the removed ones that still have rows. */
json_object *
outbox_status(struct store *s, char **cause)
{
	json_object	*out, *targets, *t;
	sqlite3_stmt	*st;
	int64_t		 pending = 0, done = 0, gone = 0, n;
	int		 rc;

	st = store_prepare(s, "WITH t (webhook, url, position) AS ("
	    "SELECT coalesce(name, url), url, min(position) FROM webhooks "
	    "WHERE url IS NOT NULL GROUP BY coalesce(name, url) UNION ALL "
	    "SELECT DISTINCT webhook, NULL, NULL FROM webhook_outbox "
	    "WHERE webhook NOT IN (SELECT coalesce(name, url) FROM webhooks "
	    "WHERE url IS NOT NULL)) "
	    "SELECT t.webhook, coalesce(t.url, (SELECT url FROM webhook_outbox "
	    "WHERE webhook = t.webhook ORDER BY id DESC LIMIT 1)), "
	    "(SELECT count(*) FROM webhook_outbox WHERE webhook = t.webhook "
	    "AND delivered IS NULL AND gave_up IS NULL), "
	    "(SELECT count(*) FROM webhook_outbox WHERE webhook = t.webhook "
	    "AND delivered IS NOT NULL), "
	    "(SELECT count(*) FROM webhook_outbox WHERE webhook = t.webhook "
	    "AND gave_up IS NOT NULL), "
	    "(SELECT max(delivered) FROM webhook_outbox "
	    "WHERE webhook = t.webhook), "
	    "(SELECT last_error FROM webhook_outbox WHERE webhook = t.webhook "
	    "AND delivered IS NULL AND last_error IS NOT NULL "
	    "ORDER BY id DESC LIMIT 1), "
	    "(SELECT next_attempt FROM webhook_outbox "
	    "WHERE webhook = t.webhook AND delivered IS NULL AND "
	    "gave_up IS NULL ORDER BY id LIMIT 1) "
	    "FROM t ORDER BY t.position IS NULL, t.position, t.webhook",
	    cause);
	if (st == NULL)
		return (NULL);
	out = json_object_new_object();
	targets = json_object_new_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = json_object_new_object();
		json_object_object_add(t, "webhook", column_string(st, 0));
		json_object_object_add(t, "url", column_string(st, 1));
		n = sqlite3_column_int64(st, 2);
		pending += n;
		json_object_object_add(t, "pending", json_object_new_int64(n));
		n = sqlite3_column_int64(st, 3);
		done += n;
		json_object_object_add(t, "delivered",
		    json_object_new_int64(n));
		n = sqlite3_column_int64(st, 4);
		gone += n;
		json_object_object_add(t, "failed", json_object_new_int64(n));
		json_object_object_add(t, "last_delivery", column_time(st, 5));
		json_object_object_add(t, "last_error", column_string(st, 6));
		json_object_object_add(t, "next_attempt", column_time(st, 7));
		json_object_array_add(targets, t);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = xprintf("webhook_outbox: %s",
		    sqlite3_errmsg(store_db(s)));
		json_object_put(targets);
		json_object_put(out);
		return (NULL);
	}
	json_object_object_add(out, "pending", json_object_new_int64(pending));
	json_object_object_add(out, "delivered", json_object_new_int64(done));
	json_object_object_add(out, "failed", json_object_new_int64(gone));
	json_object_object_add(out, "targets", targets);
	return (out);
}
