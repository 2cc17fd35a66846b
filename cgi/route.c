#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "access.h"
#include "catalog.h"
#include "crypto.h"
#include "log.h"
#include "region.h"
#include "route.h"
#include "site.h"
#include "xmalloc.h"

static const struct route routes[] = {
	{ "GET", "/api/health", health_get, ROUTE_PUBLIC },
	{ "GET", "/playlist.m3u", playlist_get, 0 },
	{ "GET", "/playlist.m3u8", playlist_get, 0 },
	{ "GET", "/epg.xml", epg_xml_get, 0 },
	{ "GET", "/api/epg", epg_json_get, 0 },
	{ "GET", "/api/streams", streams_list, 0 },
	{ "POST", "/api/streams", streams_post, ROUTE_WRITE },
	{ "GET", "/api/streams/{id}", streams_get, 0 },
	{ "PUT", "/api/streams/{id}", streams_put, ROUTE_WRITE },
	{ "PATCH", "/api/streams/{id}", streams_patch, ROUTE_WRITE },
	{ "DELETE", "/api/streams/{id}", streams_delete, ROUTE_WRITE },
	{ "GET", "/api/streams/{id}/programs", programs_get, 0 },
	{ "PUT", "/api/streams/{id}/programs", programs_put, ROUTE_WRITE },
	{ "GET", "/api/streams/{id}/status", stream_status_get, 0 },
	{ "GET", "/api/status", status_get, 0 },
	{ "GET", "/metrics", metrics_get, 0 },
	{ "POST", "/api/admin/save", admin_save, ROUTE_WRITE },
	{ "GET", "/stream/{id}", stream_get, ROUTE_MEDIA },
	{ "GET", "/audio/{id}", stream_get, ROUTE_MEDIA },
	{ "POST", "/api/streams/{id}/recordings/start", recordings_start,
	  ROUTE_WRITE },
	{ "POST", "/api/streams/{id}/recordings/stop", recordings_stop,
	  ROUTE_WRITE },
	{ "GET", "/api/recordings", recordings_list, 0 },
	{ "GET", "/api/recordings/{id}", recordings_get, 0 },
	{ "DELETE", "/api/recordings/{id}", recordings_delete, ROUTE_WRITE },
	{ "POST", "/api/recordings/{id}/clip", recordings_clip, ROUTE_WRITE },
	{ "GET", "/api/epg/sources", epg_sources_get, 0 },
	{ "POST", "/api/epg/sources/{name}/refresh", epg_source_refresh,
	  ROUTE_WRITE },
	{ NULL, NULL, NULL, 0 }
};

/* Requests by route and status, for /metrics.  One process serves all
 * requests with threads, so in-process counters are the whole truth. */
struct count {
	const char		*method;
	const char		*pattern;
	int			 status;
	unsigned long long	 n;
};
static struct count	*counts;
static size_t		 ncounts;
static pthread_mutex_t	 counts_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t		 started;

/* Counters keep static names only: a request's own method string dies
 * with the request. */
static const char *
method_name(const char *m)
{
	static const char *const known[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
		NULL
	};
	const char *const	*k;

	for (k = known; *k != NULL; k++) {
		if (strcmp(*k, m) == 0)
			return (*k);
	}
	return ("OTHER");
}

void
route_count(const char *method, const char *pattern, int status)
{
	size_t	i;

	method = method_name(method);
	pthread_mutex_lock(&counts_lock);
	if (started == 0)
		started = time(NULL);
	for (i = 0; i < ncounts; i++) {
		if (counts[i].status == status &&
		    strcmp(counts[i].pattern, pattern) == 0 &&
		    strcmp(counts[i].method, method) == 0)
			break;
	}
	if (i == ncounts) {
		counts = xreallocarray(counts, ncounts + 1, sizeof *counts);
		counts[i].method = method;
		counts[i].pattern = pattern;
		counts[i].status = status;
		counts[i].n = 0;
		ncounts++;
	}
	counts[i].n++;
	pthread_mutex_unlock(&counts_lock);
}

void
route_counts(route_count_cb cb, void *arg)
{
	size_t	i;

	pthread_mutex_lock(&counts_lock);
	for (i = 0; i < ncounts; i++)
		cb(counts[i].method, counts[i].pattern, counts[i].status,
		    counts[i].n, arg);
	pthread_mutex_unlock(&counts_lock);
}

long long
route_uptime(void)
{
	long long	up;

	pthread_mutex_lock(&counts_lock);
	if (started == 0)
		started = time(NULL);
	up = (long long)(time(NULL) - started);
	pthread_mutex_unlock(&counts_lock);
	return (up);
}

int
route_status(int error)
{
	switch (error) {
	case 0:
		return (200);
	case EINVAL:
		return (400);
	case EACCES:
		return (403);
	case ENOENT:
		return (404);
	case EEXIST:
		return (409);
	default:
		return (500);
	}
}

/* Matches path against a pattern whose "{x}" segments match one
 * non-empty segment each; the segments are stored in r->params (they
 * point into r->path, which is split in place only on success). */
static int
match(const char *pattern, const char *path, const char **params,
    size_t *nparams)
{
	const char	*p = pattern, *q = path;
	size_t		 n = 0, len;

	while (*p != '\0' && *q != '\0') {
		if (*p == '{') {
			len = strcspn(q, "/");
			if (len == 0 || n == REQUEST_MAX_PARAMS)
				return (0);
			params[n++] = q;
			q += len;
			p = strchr(p, '}');
			if (p == NULL)
				return (0);
			p++;
			continue;
		}
		if (*p != *q)
			return (0);
		p++;
		q++;
	}
	if (*p != '\0' || *q != '\0')
		return (0);
	*nparams = n;
	return (1);
}

static const char *
header_of(void *arg, const char *name)
{
	return (request_header(arg, name));
}

/* P3: the viewer's region from ?region=, else from the CDN headers.  A bad
 * query value is the client's error; a bad header is only unknown. */
static int
find_region(struct request *r, char **cause)
{
	const char		*v;
	char			 code[3];

	v = request_query(r, "region");
	if (v != NULL && *v != '\0') {
		if (region_normalise(v, code) != 0) {
			*cause = xprintf("region: '%s' is not an ISO 3166-1 "
			    "alpha-2 code", v);
			return (EINVAL);
		}
		r->region = xstrdup(code);
		return (0);
	}
	if (access_header_region(header_of, r, code) == 0)
		r->region = xstrdup(code);
	return (0);
}

static void
log_refusal(const struct request *r, const char *why)
{
	const char	*addr = request_env(r, "REMOTE_ADDR");

	log_warn("auth", "%s %s from %s: %s", r->method, r->path,
	    addr != NULL ? addr : "?", why);
}

int
route_auth(struct request *r, struct response *resp, long long media_id)
{
	const char	*cred;
	char		 region[3], *cause = NULL;
	int		 role, error;

	if ((error = find_region(r, &cause)) != 0) {
		response_error(resp, route_status(error), "%s", cause);
		free(cause);
		return (-1);
	}
	if (r->signed_token[0] != '\0') {
		if (media_id <= 0) {
			cause = xstrdup("a signed URL is only valid for media");
			role = -1;
		} else
			role = access_verify(r->site->secret, r->signed_token,
			    media_id, time(NULL), region, &cause);
		if (role == 0) {
			/* The region of the viewer the URL was made for,
			 * unless this request says its own. */
			if (r->region == NULL && region[0] != '\0')
				r->region = xstrdup(region);
			r->role = r->site->auth_enabled ? AUTH_VIEWER :
			    AUTH_ADMIN;
			return (0);
		}
		if (r->site->auth_enabled) {
			log_refusal(r, cause);
			response_error(resp, 401, "%s", cause);
			response_header(resp, "WWW-Authenticate",
			    "Bearer realm=\"amps\", error=\"invalid_token\"");
			free(cause);
			return (-1);
		}
		free(cause);	/* auth is off: it only carried a region */
		cause = NULL;
	}
	if (!r->site->auth_enabled) {
		r->role = AUTH_ADMIN;
		return (0);
	}
	if ((cred = access_find_credential(header_of, r,
	    request_query(r, "token"))) == NULL) {
		log_refusal(r, "no credentials");
		response_error(resp, 401, "authentication required");
		response_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"amps\"");
		return (-1);
	}
	role = access_credential(r->store, r->site->token_hash, cred, &cause);
	if (role < 0) {
		log_error("auth", "%s", cause);
		response_error(resp, 503, "credentials cannot be checked now");
		free(cause);
		return (-1);
	}
	if (role == ACCESS_ROLE_NONE) {
		log_refusal(r, "invalid credentials");
		response_error(resp, 401, "invalid credentials");
		response_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"amps\", error=\"invalid_token\"");
		return (-1);
	}
	r->role = role == ACCESS_ROLE_ADMIN ? AUTH_ADMIN : AUTH_VIEWER;
	r->credential = xstrdup(cred);
	return (0);
}

void
route_process(struct request *r, struct response *resp)
{
	const struct route	*rt, *found = NULL;
	const char		*method, *params[REQUEST_MAX_PARAMS];
	char			*param;
	struct buf		 allow = BUF_INIT;
	json_object		*json = NULL;
	char			*cause = NULL;
	size_t			 nparams = 0, i;
	long long		 media_id;
	int			 error, any = 0;

	method = r->head ? "GET" : r->method;
	/* A signed media URL: /m/<token>/stream/12 routes as /stream/12. */
	if (request_strip_signed(r) != 0) {
		response_error(resp, 404, "no such resource: malformed signed "
		    "URL");
		return;
	}
	for (rt = routes; rt->pattern != NULL; rt++) {
		if (!match(rt->pattern, r->path, params, &nparams))
			continue;
		any = 1;
		if (strstr(allow.data != NULL ? allow.data : "", rt->method) ==
		    NULL) {
			buf_addf(&allow, "%s%s", allow.len > 0 ? ", " : "",
			    rt->method);
			if (strcmp(rt->method, "GET") == 0)
				buf_adds(&allow, ", HEAD");
		}
		if (found == NULL && strcmp(rt->method, method) == 0) {
			found = rt;
			/* A parameter ends at the next '/'. */
			for (i = 0; i < nparams; i++) {
				param = xstrndup(params[i],
				    strcspn(params[i], "/"));
				r->params[i] = param;
			}
			r->nparams = nparams;
		}
	}
	if (found == NULL) {
		if (any) {
			response_error(resp, 405, "method %s not allowed on %s",
			    r->method, r->path);
			response_header(resp, "Allow", "%s", allow.data);
		} else
			response_error(resp, 404, "no such resource: %s",
			    r->path);
		buf_free(&allow);
		return;
	}
	buf_free(&allow);
	r->route = found->pattern;
	if (r->signed_token[0] != '\0' && !(found->flags & ROUTE_MEDIA)) {
		response_error(resp, 404, "no such resource: /m/.../%s",
		    r->path + 1);
		goto out;
	}

	/* Without the settings there is no telling whether auth is on:
	 * refuse rather than fail open. */
	if (!(found->flags & ROUTE_PUBLIC) && (r->store == NULL ||
	    r->site == NULL)) {
		response_error(resp, 503, "the database is not available");
		goto out;
	}
	if (found->flags & ROUTE_PUBLIC) {
		r->role = AUTH_ADMIN;
		if ((error = find_region(r, &cause)) != 0) {
			response_error(resp, route_status(error), "%s", cause);
			free(cause);
			goto out;
		}
	} else {
		media_id = 0;
		if ((found->flags & ROUTE_MEDIA) &&
		    access_media(r->path, &media_id, NULL) == ACCESS_NONE) {
			response_error(resp, 404, "no such stream: %s",
			    r->path);
			goto out;
		}
		if (route_auth(r, resp, media_id) != 0)
			goto out;
	}
	if ((found->flags & ROUTE_WRITE) && r->role != AUTH_ADMIN) {
		log_refusal(r, "a viewer may not write");
		response_error(resp, 403, "this needs an admin key");
		goto out;
	}
	error = found->handler(r, resp, &json, &cause);
	if (error != 0 && !resp->started) {
		response_error(resp, route_status(error), "%s",
		    cause != NULL ? cause : strerror(error));
		if (route_status(error) >= 500)
			log_error("api", "%s %s: %s", r->method, r->path,
			    cause != NULL ? cause : strerror(error));
	} else if (error != 0) {
		/* The answer is cut: it must not be cached as whole. */
		resp->failed = 1;
		log_error("api", "%s %s: %s (after the headers were sent)",
		    r->method, r->path, cause != NULL ? cause :
		    strerror(error));
	} else if (json != NULL)
		response_json(resp, resp->status, json);
	free(cause);
	json_object_put(json);
out:
	for (i = 0; i < r->nparams; i++)
		free(r->params[i]);
	r->nparams = 0;
}
