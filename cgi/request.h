/* One HTTP request as the responder sees it (RFC 3875 meta-variables),
 * parsed once, and the response a handler fills.  Nothing here reads the
 * process environment: FastCGI passes each request's own. */
#ifndef AMPS_CGI_REQUEST_H
#define AMPS_CGI_REQUEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"
#include "schema.h"

struct store;

struct request {
	char		*method;	/* upper case */
	char		*path;		/* decoded, without the query */
	struct kvlist	 query;		/* decoded; repeated keys in order */
	char	*const	*envp;		/* the request's meta-variables */
	struct store	*store;		/* the process's store, or NULL */
	int		 head;		/* HEAD: headers only */
};

struct response {
	int		 status;
	const char	*content_type;
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	struct buf	 body;
};

/* Fills r from the meta-variables.  Returns 0, or 400 for a request that
 * cannot be parsed (a bad %-escape, a path with NUL or "..").  The
 * request is the caller's; free with request_free. */
int		 request_parse(struct request *r, char *const *envp);
void		 request_free(struct request *r);
/* A meta-variable ("REQUEST_METHOD", "HTTP_X_AMPS_TOKEN"), or NULL. */
const char	*request_env(const struct request *r, const char *name);
/* The first value of a query key, or NULL. */
const char	*request_query(const struct request *r, const char *key);

void		 response_init(struct response *resp);
void		 response_free(struct response *resp);
/* Sets the body to JSON (application/json). */
void		 response_json(struct response *resp, int status,
		    json_object *j);
/* {"error": message} with status. */
void		 response_error(struct response *resp, int status,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The whole CGI response: Status line, headers, blank line, body (left
 * out for HEAD).  Caller frees. */
char		*response_serialise(const struct response *resp, int head,
		    size_t *len);

#endif
