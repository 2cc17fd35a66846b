/* One HTTP request as the responder sees it (RFC 3875 meta-variables),
 * parsed once by route_process() and passed to the handler.  Nothing here
 * reads the process environment: FastCGI passes each request's own.
 * Everything a request allocates is freed by request_free(). */
#ifndef AMPS_CGI_REQUEST_H
#define AMPS_CGI_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "access.h"
#include "buf.h"
#include "schema.h"

struct store;
struct site;

enum auth_role {
	AUTH_NONE = 0,		/* no valid credential (auth off: ADMIN) */
	AUTH_VIEWER,
	AUTH_ADMIN,
};

#define REQUEST_MAX_PARAMS 4

struct request {
	char		*method;	/* upper case */
	char		*path;		/* decoded, without the query */
	struct kvlist	 query;		/* decoded; repeated keys in order */
	char	*const	*envp;		/* the request's meta-variables */
	int		 head;		/* HEAD: headers only */
	int		 authorizer;	/* FCGI_ROLE=AUTHORIZER */
	char		 signed_token[ACCESS_TOKEN_MAX];
					/* from a /m/<token>/ path, after
					   request_strip_signed; "" if none */
	struct buf	 body;		/* the request body (POST, PUT, PATCH) */

	/* Filled by route_process before the handler runs. */
	struct store	*store;		/* the process's store, or NULL */
	const struct site *site;	/* settings snapshot (site.h) */
	char		*params[REQUEST_MAX_PARAMS];	/* {id} of the route */
	size_t		 nparams;
	enum auth_role	 role;
	char		*credential;	/* the token or key the client used, to
					   carry into URLs; NULL if none */
	char		*region;	/* the viewer's normalised region or
					   NULL */
	const char	*route;		/* the route's pattern, for metrics */
};

/* Reads the request line and meta-variables.  Returns 0, or an HTTP status
 * (400) for a request that cannot be parsed: a bad %-escape, a path with
 * NUL or "..".  Free with request_free in every case. */
int		 request_parse(struct request *r, char *const *envp);
void		 request_free(struct request *r);
/* Takes a signed media prefix (access.h) off r->path into
 * r->signed_token.  Returns 0, or -1 for a malformed one. */
int		 request_strip_signed(struct request *r);
/* A meta-variable ("REQUEST_METHOD", "CONTENT_LENGTH"), or NULL. */
const char	*request_env(const struct request *r, const char *name);
/* A request header by its HTTP name ("X-Amps-Token", "If-None-Match"):
 * the HTTP_* meta-variable.  NULL if absent. */
const char	*request_header(const struct request *r, const char *name);
/* The first value of a query key, or NULL. */
const char	*request_query(const struct request *r, const char *key);
/* Whether the client takes gzip (RFC 9110 12.5.3): "gzip" or "x-gzip"
 * (or "*") in Accept-Encoding with a q-value above 0. */
int		 request_accepts_gzip(const struct request *r);
/* The body as JSON: 0 and *out (caller puts), or EINVAL with *cause. */
int		 request_json(const struct request *r, json_object **out,
		    char **cause);
/* "http://host" or the configured base_url, without a trailing slash
 * (caller frees). */
char		*request_base_url(const struct request *r);
/* Parses a path parameter as a positive channel id: 0 and *id, or
 * EINVAL/ENOENT-style errno with *cause. */
int		 request_param_id(const struct request *r, size_t i,
		    long long *id, char **cause);

#endif
