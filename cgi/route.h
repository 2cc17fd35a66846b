/* The responder's one routing table and the policy around it: 404 and 405
 * as JSON, HEAD on every GET route, and the errno-to-status adapter of
 * the API (EINVAL 400, EACCES 403, ENOENT 404, EEXIST 409, else 500).
 * (cgit cmd.c; tvheadend webui_api.c) */
#ifndef AMPS_CGI_ROUTE_H
#define AMPS_CGI_ROUTE_H

#include "request.h"

/* A handler fills resp (or json) and returns 0 or an errno value; *json
 * becomes the body when set.  With an error, *cause is the message. */
typedef int (*route_handler_cb)(struct request *r, struct response *resp,
    json_object **json, char **cause);

struct route {
	const char	*method;
	const char	*path;
	route_handler_cb handler;
};

/* Runs the request through the table into resp. */
void	 route_process(struct request *r, struct response *resp);
/* Maps an errno value to an HTTP status. */
int	 route_status(int error);

/* The handlers (one file each). */
int	 health_get(struct request *, struct response *, json_object **,
	    char **);

#endif
