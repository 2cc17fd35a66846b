/* GET /stream/<id> (S1) and GET /audio/<id> (S3): the live MPEG-TS or
 * ADTS of a channel.  The responder asks streamd to attach a viewer
 * (which starts the channel when nobody watches it, and holds a viewer
 * lease while the connection lasts) and copies the bytes it sends to the
 * client as they come.  Nothing is buffered here beyond one read: when
 * the client is slow, the web server stops reading from us, we stop
 * reading from streamd, and streamd's feed skips this viewer forward or
 * drops it (and logs it), without slowing anyone else. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "catalog.h"
#include "channel.h"
#include "ctl.h"
#include "log.h"
#include "route.h"
#include "site.h"
#include "xmalloc.h"

#define RELAY_CHUNK	65536

/* Viewers whose bytes have not left yet, and the bytes they moved: for
 * /metrics. */
static long long	 relay_viewers;
static pthread_mutex_t	 relay_lock = PTHREAD_MUTEX_INITIALIZER;

long long
stream_viewers(void)
{
	long long	n;

	pthread_mutex_lock(&relay_lock);
	n = relay_viewers;
	pthread_mutex_unlock(&relay_lock);
	return (n);
}

static void
count_viewer(int delta)
{
	pthread_mutex_lock(&relay_lock);
	relay_viewers += delta;
	pthread_mutex_unlock(&relay_lock);
}

/* A yes/no query value: 0 with *out, or EINVAL. */
static int
query_bool(const struct request *r, const char *key, int *out, char **cause)
{
	const char	*v = request_query(r, key);

	*out = 0;
	if (v == NULL || strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	    strcasecmp(v, "no") == 0)
		return (0);
	if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "yes") == 0 || *v == '\0') {
		*out = 1;
		return (0);
	}
	*cause = xprintf("%s: expected true or false", key);
	return (EINVAL);
}

int
stream_channel(struct request *r, long long id, const char *variant,
    char **cause)
{
	struct channel		*ch = NULL;
	const struct variant	*v;
	size_t			 i;
	int			 error;

	if ((error = catalog_channel_get(r->store, id, &ch, cause)) != 0)
		return (error);
	if ((error = access_channel(ch, r->region, time(NULL), cause)) != 0) {
		if (error == EACCES)
			log_warn("auth", "%s %s: %s", r->method, r->path,
			    *cause);
		goto out;
	}
	if (variant != NULL) {
		for (i = 0; i < ch->adaptive_bitrates.n; i++) {
			v = schema_list_at(&variant_schema,
			    &ch->adaptive_bitrates, i);
			if (strcmp(v->name, variant) == 0)
				break;
		}
		if (i == ch->adaptive_bitrates.n) {
			*cause = xprintf("stream %lld has no variant '%s'", id,
			    variant);
			error = ENOENT;
		}
	}
out:
	channel_free(ch);
	return (error);
}

/* Asks streamd for the feed.  Returns the connection with the reply
 * read, or NULL with *cause and *status (503: streamd is not there or
 * the channel does not start). */
static struct ctl *
attach(const struct request *r, long long id, const char *variant,
    int audio, int overlap, int *status, char **cause)
{
	struct ctl	*c = NULL;
	json_object	*req, *reply = NULL;
	char		*why = NULL;
	int		 timeout_ms;

	*status = 503;
	if (r->site->control_socket == NULL) {
		*cause = xstrdup("streamd's control socket is not configured");
		return (NULL);
	}
	if (ctl_connect(r->site->control_socket, 2000, &c, &why) != 0) {
		log_error("stream", "streamd: %s", why);
		free(why);
		*cause = xstrdup("streamd is not running");
		return (NULL);
	}
	timeout_ms = (int)r->site->ensure_timeout * 1000;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("attach"));
	json_object_object_add(req, "stream", json_object_new_int64(id));
	json_object_object_add(req, "output",
	    json_object_new_string(audio ? "audio" : "ts"));
	if (variant != NULL)
		json_object_object_add(req, "variant",
		    json_object_new_string(variant));
	if (overlap)
		json_object_object_add(req, "overlap",
		    json_object_new_boolean(1));
	json_object_object_add(req, "timeout_ms",
	    json_object_new_int(timeout_ms));
	if (ctl_request(c, req, &reply, timeout_ms + 5000, &why) != 0) {
		log_error("stream", "streamd: %s", why);
		free(why);
		*cause = xprintf("stream %lld: streamd did not answer", id);
		goto fail;
	}
	if (ctl_refused(reply, "attach", cause)) {
		goto fail;
	}
	json_object_put(req);
	json_object_put(reply);
	return (c);
fail:
	json_object_put(req);
	json_object_put(reply);
	ctl_close(c);
	return (NULL);
}

/* Copies the feed to the client until either side ends. */
static void
relay(struct ctl *c, struct response *resp)
{
	struct pollfd	 pfd;
	struct buf	*pending = ctl_pending(c);
	char		*chunk;
	ssize_t		 n;

	if (pending->len > 0 && (response_write(resp, pending->data,
	    pending->len) != 0 || response_flush(resp) != 0))
		return;
	chunk = xmalloc(RELAY_CHUNK);
	pfd.fd = ctl_fd(c);
	pfd.events = POLLIN;
	while (!process_stopping()) {
		if (poll(&pfd, 1, 1000) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd.revents == 0)
			continue;
		n = read(pfd.fd, chunk, RELAY_CHUNK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;		/* the channel ended */
		if (response_write(resp, chunk, (size_t)n) != 0 ||
		    response_flush(resp) != 0)
			break;		/* the viewer left */
	}
	free(chunk);
}

int
stream_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct ctl	*c;
	const char	*variant;
	long long	 id;
	time_t		 start;
	int		 error, audio, overlap, status;

	if ((error = request_param_id(r, 0, &id, cause)) != 0)
		return (error);
	audio = strncmp(r->path, "/audio/", 7) == 0;
	variant = request_query(r, "variant");
	if (variant != NULL && *variant == '\0')
		variant = NULL;
	if ((error = query_bool(r, "overlap", &overlap, cause)) != 0)
		return (error);
	if ((error = stream_channel(r, id, variant, cause)) != 0)
		return (error);
	if (r->head) {
		response_header(resp, "Cache-Control", "no-store");
		response_begin(resp, audio ? "audio/aac" : "video/mp2t", 0);
		return (0);
	}

	/* From here on the thread is this viewer's, and the store is not
	 * ours any more. */
	long_request();
	if ((c = attach(r, id, variant, audio, overlap, &status, cause)) ==
	    NULL) {
		response_error(resp, status, "%s", *cause);
		response_header(resp, "Retry-After", "5");
		free(*cause);
		*cause = NULL;
		return (0);
	}
	response_header(resp, "Cache-Control", "no-store");
	count_viewer(1);
	start = time(NULL);
	log_info("stream", "stream %lld%s%s: viewer from %s%s", id,
	    variant != NULL ? " variant " : "", variant != NULL ? variant : "",
	    request_env(r, "REMOTE_ADDR") != NULL ?
	    request_env(r, "REMOTE_ADDR") : "?", audio ? " (audio)" : "");
	if (response_begin(resp, audio ? "audio/aac" : "video/mp2t", 0) == 0)
		relay(c, resp);
	ctl_close(c);
	count_viewer(-1);
	log_info("stream", "stream %lld: viewer left after %lld s, %zu bytes",
	    id, (long long)(time(NULL) - start), resp->bytes);
	return (0);
}
