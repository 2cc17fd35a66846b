/* The FastCGI authorizer role (FastCGI 1.0 section 6.3): the web server
 * asks before it serves a static media file (/hls/, /dash/, /rec/, and
 * /ws/ before a WebSocket upgrade), whatever its URL (a signed
 * /m/<token>/ prefix included).  lighttpd uses it through mod_fastcgi's
 * "mode" => "authorizer", Apache through mod_authnz_fcgi.  A 200 lets the
 * web server go on and send the file itself; any other answer goes to the
 * client as it is.
 *
 * The authorizer is also where a channel starts on demand: a playlist or
 * manifest of a channel asked for (and, on the way, the viewer's
 * activity that keeps it running) makes streamd ensure that output, and
 * the answer waits until the file is there.  An LL-HLS blocking playlist
 * reload (_HLS_msn, _HLS_part) waits here until the playlist has the
 * segment or part asked for; then the web server serves the new
 * playlist. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "catalog.h"
#include "channel.h"
#include "ctl.h"
#include "log.h"
#include "route.h"
#include "site.h"
#include "timefmt.h"
#include "xmalloc.h"

/* How often one process tells streamd that a channel's playlist is
 * being read (which keeps it from the idle stop), at most: every 5 s, or
 * a third of idle_timeout when that is shorter. */
#define ENSURE_EVERY_US	(5 * 1000000LL)
/* Remembered (channel, variant, output) triples. */
#define ENSURE_SLOTS	256
/* The largest playlist a blocking reload reads. */
#define PLAYLIST_MAX	(1024 * 1024)
/* How often a blocking reload looks at the playlist. */
#define POLL_US		10000

struct ensured {
	long long	 id;
	char		 variant[64];
	char		 output[8];
	int64_t		 at;		/* timefmt_monotonic_us */
};
static struct ensured	 ensured[ENSURE_SLOTS];
static pthread_mutex_t	 ensured_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether this triple was ensured recently (and, if not, claims it now,
 * so that a burst of requests asks streamd once). */
static int
recently_ensured(long long id, const char *variant, const char *output,
    long long idle_timeout)
{
	struct ensured	*e, *oldest = &ensured[0];
	int64_t		 now = timefmt_monotonic_us(), every = ENSURE_EVERY_US;
	size_t		 i;
	int		 recent = 0;

	if (idle_timeout * 1000000LL / 3 < every)
		every = idle_timeout * 1000000LL / 3;
	pthread_mutex_lock(&ensured_lock);
	for (i = 0; i < ENSURE_SLOTS; i++) {
		e = &ensured[i];
		if (e->id == id && strcmp(e->variant, variant) == 0 &&
		    strcmp(e->output, output) == 0)
			break;
		if (e->at < oldest->at)
			oldest = e;
	}
	if (i == ENSURE_SLOTS) {
		e = oldest;
		e->id = id;
		snprintf(e->variant, sizeof e->variant, "%s", variant);
		snprintf(e->output, sizeof e->output, "%s", output);
		e->at = 0;
	}
	if (e->at != 0 && now - e->at < every)
		recent = 1;
	else
		e->at = now;
	pthread_mutex_unlock(&ensured_lock);
	return (recent);
}

static void
forget_ensured(long long id, const char *variant, const char *output)
{
	size_t	i;

	pthread_mutex_lock(&ensured_lock);
	for (i = 0; i < ENSURE_SLOTS; i++) {
		if (ensured[i].id == id &&
		    strcmp(ensured[i].variant, variant) == 0 &&
		    strcmp(ensured[i].output, output) == 0)
			ensured[i].at = 0;
	}
	pthread_mutex_unlock(&ensured_lock);
}

/* Asks streamd to make the output playable (starting the channel if it
 * is not running), waiting at most timeout_ms.  Returns 0; 1 when
 * streamd answered no (not playable in time, the input failed), with
 * *cause; -1 with *cause when streamd cannot be reached. */
static int
ensure(const struct site *site, long long id, const char *variant,
    const char *output, int timeout_ms, char **cause)
{
	struct ctl	*c = NULL;
	json_object	*req, *reply = NULL;
	int		 rc = -1;

	if (site->control_socket == NULL) {
		*cause = xstrdup("streamd's control socket is not configured");
		return (-1);
	}
	if (ctl_connect(site->control_socket, 2000, &c, cause) != 0)
		return (-1);
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("ensure"));
	json_object_object_add(req, "stream", json_object_new_int64(id));
	json_object_object_add(req, "output", json_object_new_string(output));
	if (*variant != '\0')
		json_object_object_add(req, "variant",
		    json_object_new_string(variant));
	json_object_object_add(req, "timeout_ms",
	    json_object_new_int(timeout_ms));
	if (ctl_request(c, req, &reply, timeout_ms + 5000, cause) != 0)
		goto out;
	if (ctl_refused(reply, "ensure", cause)) {
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	json_object_put(req);
	json_object_put(reply);
	ctl_close(c);
	return (rc);
}

/* What a blocking reload needs from a media playlist. */
struct plstate {
	long long	 last_msn;	/* of the last whole segment; -1 if
					   none */
	int		 parts;		/* parts of the next segment listed */
	int		 target;	/* EXT-X-TARGETDURATION, seconds */
	int		 ended;		/* EXT-X-ENDLIST */
};

static int
read_playlist(const char *path, struct plstate *st)
{
	FILE		*f;
	char		 line[4096];
	long long	 seq = 0, segments = 0;
	size_t		 total = 0;

	memset(st, 0, sizeof *st);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL && total < PLAYLIST_MAX) {
		total += strlen(line);
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0)
			seq = strtoll(line + 22, NULL, 10);
		else if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0)
			st->target = atoi(line + 22);
		else if (strncmp(line, "#EXT-X-PART:", 12) == 0)
			st->parts++;
		else if (strcmp(line, "#EXT-X-ENDLIST") == 0)
			st->ended = 1;
		else if (line[0] != '#' && line[0] != '\0') {
			segments++;
			st->parts = 0;	/* parts of the next one follow */
		}
	}
	fclose(f);
	st->last_msn = seq + segments - 1;
	return (0);
}

/* Holds an LL-HLS blocking playlist reload (RFC 8216bis 6.2.5.2) until
 * the playlist at path has segment msn (part part, when part >= 0).
 * Returns 0 (serve it now), 400 (asked too far ahead) or 503 (not within
 * three target durations). */
static int
block_reload(const char *path, long long msn, long long part, char **cause)
{
	struct plstate	 st;
	struct stat	 sb;
	ino_t		 ino = 0;
	struct timespec	 mtime = { 0, 0 };
	int64_t		 deadline = 0;
	off_t		 size = -1;

	for (;;) {
		if (stat(path, &sb) == 0 && (sb.st_ino != ino ||
		    sb.st_size != size ||
		    sb.st_mtim.tv_sec != mtime.tv_sec ||
		    sb.st_mtim.tv_nsec != mtime.tv_nsec)) {
			ino = sb.st_ino;
			size = sb.st_size;
			mtime = sb.st_mtim;
			if (read_playlist(path, &st) == 0) {
				if (st.ended || st.last_msn >= msn ||
				    (part >= 0 && st.last_msn + 1 == msn &&
				    st.parts > part))
					return (0);
				if (msn > st.last_msn + 2) {
					*cause = xprintf("_HLS_msn %lld is "
					    "beyond the next segments (the "
					    "last is %lld)", msn,
					    st.last_msn);
					return (400);
				}
				if (deadline == 0)
					deadline = timefmt_monotonic_us() +
					    3000000LL * (st.target > 0 ?
					    st.target : 2);
			}
		}
		if (deadline != 0 && timefmt_monotonic_us() >= deadline)
			break;
		if (deadline == 0 && size == -1) {
			*cause = xstrdup("the playlist is not there");
			return (503);
		}
		if (process_stopping())
			break;
		usleep(POLL_US);
	}
	*cause = xprintf("segment %lld%s did not come in time", msn,
	    part >= 0 ? " (part)" : "");
	return (503);
}

/* A non-negative decimal query value: 0 with *out (-1 when absent), or
 * -1 when malformed. */
static int
query_number(const struct request *r, const char *key, long long *out)
{
	const char	*v = request_query(r, key);
	char		*end;

	*out = -1;
	if (v == NULL)
		return (0);
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (*v < '0' || *v > '9' || *end != '\0' || errno != 0)
		return (-1);
	return (0);
}

/* Lets the web server go on.  AMPS_VIEWER becomes a variable of the
 * request (FastCGI's "Variable-" headers): Apache's mod_authnz_fcgi
 * takes it as the user name. */
static void
allow(const struct request *r, struct response *resp)
{
	resp->status = 200;
	resp->content_type = "text/plain";
	response_header(resp, "Variable-AMPS_VIEWER", "%s",
	    r->role == AUTH_ADMIN ? "admin" : "viewer");
}

/* A recording or clip of channel id: whenever it was made, but under
 * the channel's region rules while the channel exists. */
static void
recording(struct request *r, struct response *resp, long long id)
{
	struct channel	*ch = NULL;
	char		*cause = NULL;
	int		 error;

	error = catalog_channel_get(r->store, id, &ch, &cause);
	if (error == 0)
		error = access_channel(ch, r->region, -1, &cause);
	channel_free(ch);
	if (error != 0 && error != ENOENT) {
		if (error == EACCES)
			log_warn("auth", "%s %s: %s", r->method, r->path,
			    cause);
		response_error(resp, route_status(error), "%s", cause);
		free(cause);
		return;
	}
	free(cause);
	allow(r, resp);
}

void
authz_process(struct request *r, struct response *resp)
{
	enum access_kind kind;
	const char	*tail, *base, *output = NULL;
	char		 variant[64], *cause = NULL, *file = NULL;
	long long	 id = 0, msn, part;
	int		 error, status, exists, rc;
	size_t		 len;

	if (r->store == NULL || r->site == NULL) {
		response_error(resp, 503, "the database is not available");
		return;
	}
	if (request_strip_signed(r) != 0) {
		response_error(resp, 404, "malformed signed URL");
		return;
	}
	kind = access_media(r->path, &id, &tail);
	if (kind == ACCESS_NONE) {
		/* Other files under /rec/ (put there by the operator):
		 * credentials only. */
		if (strncmp(r->path, "/rec/", 5) != 0) {
			response_error(resp, 404, "not a media path: %s",
			    r->path);
			return;
		}
		if (route_auth(r, resp, 0) == 0)
			allow(r, resp);
		return;
	}
	if (route_auth(r, resp, id) != 0)
		return;
	if (kind == ACCESS_REC) {
		recording(r, resp, id);
		return;
	}

	/* "index.m3u8", "hd/index.m3u8": the folder is the variant. */
	variant[0] = '\0';
	base = strrchr(tail, '/');
	if (base != NULL) {
		len = (size_t)(base - tail);
		if (len == 0 || len >= sizeof variant ||
		    memchr(tail, '/', len) != NULL) {
			response_error(resp, 404, "no such file: %s", r->path);
			return;
		}
		memcpy(variant, tail, len);
		variant[len] = '\0';
		base++;
	} else
		base = tail;
	if (kind == ACCESS_HLS && strcmp(base, "master.m3u8") == 0 &&
	    variant[0] == '\0')
		output = "master";
	else if (kind == ACCESS_HLS && strcmp(base, "index.m3u8") == 0)
		output = "hls";
	else if (kind == ACCESS_DASH && strcmp(base, "manifest.mpd") == 0)
		output = "dash";
	error = stream_channel(r, id, output != NULL && variant[0] != '\0' ?
	    variant : NULL, &cause);
	if (error != 0) {
		response_error(resp, route_status(error), "%s", cause);
		free(cause);
		return;
	}
	if (output == NULL || kind == ACCESS_WS) {
		allow(r, resp);	/* a segment: the web server knows */
		return;
	}

	if (query_number(r, "_HLS_msn", &msn) != 0 ||
	    query_number(r, "_HLS_part", &part) != 0 ||
	    (part >= 0 && msn < 0)) {
		response_error(resp, 400, "_HLS_msn and _HLS_part must be "
		    "numbers, and _HLS_part needs _HLS_msn");
		return;
	}
	file = xprintf("%s%s", r->site->media_root != NULL ?
	    r->site->media_root : "", r->path);
	exists = access(file, F_OK) == 0;
	if (!exists || !recently_ensured(id, variant, output,
	    r->site->idle_timeout)) {
		/* A running channel answers at once; this also tells
		 * streamd that someone still watches. */
		rc = ensure(r->site, id, variant, output, 0, &cause);
		if (rc == 1) {
			/* Not running, or not playable yet: wait for it. */
			free(cause);
			cause = NULL;
			long_request();
			rc = ensure(r->site, id, variant, output,
			    (int)r->site->ensure_timeout * 1000, &cause);
		}
		if (rc != 0) {
			forget_ensured(id, variant, output);
			log_warn("stream", "%s: %s", r->path, cause);
		}
		if (rc != 0 && !exists) {
			response_error(resp, 503, "%s", cause);
			response_header(resp, "Retry-After", "2");
			goto out;
		}
		/* What is there is served even when streamd is away. */
		free(cause);
		cause = NULL;
		if (!exists && request_env(r, "FCGI_APACHE_ROLE") != NULL) {
			/* Apache looked for the file before it asked, and
			 * would answer 404 now: send the player back for
			 * the playlist that is there now. */
			response_error(resp, 307, "the stream has started");
			response_header(resp, "Location", "%s",
			    request_env(r, "REQUEST_URI"));
			response_header(resp, "Cache-Control", "no-store");
			goto out;
		}
	}
	if (msn >= 0 && strcmp(output, "hls") == 0) {
		long_request();
		if ((status = block_reload(file, msn, part, &cause)) != 0) {
			response_error(resp, status, "%s", cause);
			goto out;
		}
	}
	allow(r, resp);
out:
	free(cause);
	free(file);
}
