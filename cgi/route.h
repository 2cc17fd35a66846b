/* The responder's one routing table and the policy around it (cgit
 * cmd.c): 404 and 405 as JSON, HEAD on every GET route, 413 for a body
 * over server.max_body_size, authentication (401 without a valid
 * credential, 403 for a viewer that writes), the viewer's region, and the
 * errno-to-status adapter of the API (tvheadend webui_api.c): EINVAL 400,
 * EACCES 403, ENOENT 404, EEXIST 409, anything else 500. */
#ifndef AMPS_CGI_ROUTE_H
#define AMPS_CGI_ROUTE_H

#include "request.h"
#include "response.h"

/* A handler either streams into resp itself (playlists, guides) and
 * returns 0, or returns 0 with *json set (the body; resp->status may be
 * changed, 200 by default), or an errno value with *cause set (the error
 * message, caller frees). */
typedef int (*route_handler_cb)(struct request *r, struct response *resp,
    json_object **json, char **cause);

/* Route flags. */
#define ROUTE_PUBLIC	0x01	/* no credentials needed, even with auth */
#define ROUTE_WRITE	0x02	/* admins only */
#define ROUTE_MEDIA	0x04	/* a live stream: a signed URL for its
				   channel is a credential too */

struct route {
	const char	*method;
	const char	*pattern;	/* "/api/streams/{id}/programs" */
	route_handler_cb handler;
	int		 flags;
};

/* Runs the request through the table into resp (which route_process does
 * not finish: the caller calls response_finish). */
void	 route_process(struct request *r, struct response *resp);
/* Authentication and the viewer's region, for routes and for the
 * authorizer: sets r->role, r->credential and r->region.  media_id > 0
 * names the channel that a signed URL (r->signed_token) must be for.
 * Returns 0, or -1 with the refusal (400, 401, 503) written into resp. */
int	 route_auth(struct request *r, struct response *resp,
	    long long media_id);
/* Maps an errno value to an HTTP status. */
int	 route_status(int error);

/* Counts a request served, by its route pattern ("(none)" when no route
 * matched), for /metrics. */
void	 route_count(const char *method, const char *pattern, int status);
/* Requests served by this process, by route and status, for /metrics. */
typedef void (*route_count_cb)(const char *method, const char *pattern,
    int status, unsigned long long count, void *arg);
void	 route_counts(route_count_cb cb, void *arg);
/* Seconds since the process started. */
long long route_uptime(void);

/* The process (main.c).  A handler that will hold its thread for long (a
 * live stream, a blocking playlist reload) calls long_request() first,
 * after its last use of r->store: the store connection then belongs to
 * the worker that takes its place.  process_stopping() says that the
 * process is shutting down: long requests end. */
void	 long_request(void);
int	 process_stopping(void);

/* The handlers, one file each. */
int	 health_get(struct request *, struct response *, json_object **,
	    char **);
int	 playlist_get(struct request *, struct response *, json_object **,
	    char **);
int	 epg_xml_get(struct request *, struct response *, json_object **,
	    char **);
int	 epg_json_get(struct request *, struct response *, json_object **,
	    char **);
int	 streams_list(struct request *, struct response *, json_object **,
	    char **);
int	 streams_get(struct request *, struct response *, json_object **,
	    char **);
int	 streams_post(struct request *, struct response *, json_object **,
	    char **);
int	 streams_put(struct request *, struct response *, json_object **,
	    char **);
int	 streams_patch(struct request *, struct response *, json_object **,
	    char **);
int	 streams_delete(struct request *, struct response *, json_object **,
	    char **);
int	 programs_get(struct request *, struct response *, json_object **,
	    char **);
int	 programs_put(struct request *, struct response *, json_object **,
	    char **);
int	 status_get(struct request *, struct response *, json_object **,
	    char **);
int	 stream_status_get(struct request *, struct response *,
	    json_object **, char **);
int	 metrics_get(struct request *, struct response *, json_object **,
	    char **);
int	 admin_save(struct request *, struct response *, json_object **,
	    char **);
int	 stream_get(struct request *, struct response *, json_object **,
	    char **);
/* Recordings and clips (recordings.c). */
int	 recordings_start(struct request *, struct response *,
	    json_object **, char **);
int	 recordings_stop(struct request *, struct response *,
	    json_object **, char **);
int	 recordings_list(struct request *, struct response *,
	    json_object **, char **);
int	 recordings_get(struct request *, struct response *,
	    json_object **, char **);
int	 recordings_delete(struct request *, struct response *,
	    json_object **, char **);
int	 recordings_clip(struct request *, struct response *,
	    json_object **, char **);
/* Guide sources (epgsrc.c). */
int	 epg_sources_get(struct request *, struct response *,
	    json_object **, char **);
int	 epg_source_refresh(struct request *, struct response *,
	    json_object **, char **);
/* Whether the viewer of r may watch channel id (and its variant, when
 * not NULL) now: 0, or ENOENT (no such channel or variant, or outside its
 * window) or EACCES (region) with *cause. */
int	 stream_channel(struct request *r, long long id, const char *variant,
	    char **cause);
/* Viewers this process relays /stream and /audio to now. */
long long stream_viewers(void);

/* The FastCGI authorizer role (authz.c): answers whether the web server
 * may serve a static media file (200, with nothing else) or the refusal,
 * starting the channel first when a playlist of a channel that is not
 * running is asked for, and holding LL-HLS blocking playlist reloads
 * until the playlist has what they ask for. */
void	 authz_process(struct request *r, struct response *resp);

#endif
