#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"
#include "xmalloc.h"

static const struct route routes[] = {
	{ "GET", "/api/health", health_get },
	{ NULL, NULL, NULL }
};

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

void
route_process(struct request *r, struct response *resp)
{
	const struct route	*rt, *found = NULL;
	const char		*method;
	struct buf		 allow = BUF_INIT;
	json_object		*json = NULL;
	char			*cause = NULL;
	int			 error;

	method = r->head ? "GET" : r->method;
	for (rt = routes; rt->path != NULL; rt++) {
		if (strcmp(rt->path, r->path) != 0)
			continue;
		buf_addf(&allow, "%s%s", allow.len > 0 ? ", " : "",
		    rt->method);
		if (strcmp(rt->method, "GET") == 0)
			buf_adds(&allow, ", HEAD");
		if (strcmp(rt->method, method) == 0)
			found = rt;
	}
	if (found == NULL && allow.len > 0) {
		response_error(resp, 405, "method %s not allowed on %s",
		    r->method, r->path);
		buf_addf(&resp->headers, "Allow: %s\r\n", allow.data);
		buf_free(&allow);
		return;
	}
	buf_free(&allow);
	if (found == NULL) {
		response_error(resp, 404, "no such resource: %s", r->path);
		return;
	}
	error = found->handler(r, resp, &json, &cause);
	if (error != 0) {
		response_error(resp, route_status(error), "%s",
		    cause != NULL ? cause : strerror(error));
		free(cause);
	} else if (json != NULL)
		response_json(resp, resp->status, json);
	json_object_put(json);
}
