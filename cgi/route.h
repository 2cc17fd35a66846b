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

struct route {
	const char	*method;
	const char	*pattern;	/* "/api/streams/{id}/programs" */
	route_handler_cb handler;
	int		 flags;
};

/* Runs the request through the table into resp (which route_process does
 * not finish: the caller calls response_finish). */
void	 route_process(struct request *r, struct response *resp);
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

#endif
