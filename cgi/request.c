#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "request.h"
#include "xmalloc.h"

const char *
request_env(const struct request *r, const char *name)
{
	size_t		 len = strlen(name);
	char *const	*e;

	for (e = r->envp; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return (*e + len + 1);
	}
	return (NULL);
}

const char *
request_query(const struct request *r, const char *key)
{
	return (kvlist_get(&r->query, key));
}

/* Splits a query string into decoded pairs.  kvlist_set would fold
 * repeated keys, so pairs are appended. */
static int
parse_query(struct kvlist *q, const char *qs)
{
	const char	*p = qs, *amp, *eq;
	char		*key, *value;
	size_t		 klen, vlen;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		eq = memchr(p, '=', (size_t)(amp - p));
		if (amp != p) {
			key = escape_url_decode(p, (size_t)((eq != NULL ? eq :
			    amp) - p), 1, &klen);
			value = eq != NULL ? escape_url_decode(eq + 1,
			    (size_t)(amp - eq - 1), 1, &vlen) : xstrdup("");
			if (key == NULL || value == NULL ||
			    strlen(key) != klen || (eq != NULL &&
			    strlen(value) != vlen)) {
				free(key);
				free(value);
				return (-1);
			}
			q->v = xreallocarray(q->v, q->n + 1, sizeof *q->v);
			q->v[q->n].key = key;
			q->v[q->n].value = value;
			q->n++;
		}
		p = *amp == '&' ? amp + 1 : NULL;
	}
	return (0);
}

int
request_parse(struct request *r, char *const *envp)
{
	const char	*method, *path, *uri;
	char		*m;
	size_t		 len;

	memset(r, 0, sizeof *r);
	r->envp = envp;
	method = request_env(r, "REQUEST_METHOD");
	r->method = xstrdup(method != NULL ? method : "GET");
	for (m = r->method; *m != '\0'; m++)
		*m = toupper((unsigned char)*m);
	r->head = strcmp(r->method, "HEAD") == 0;

	/* PATH_INFO where the server gives it (lighttpd, CGI), else the
	 * decoded REQUEST_URI path (Apache mod_proxy_fcgi). */
	path = request_env(r, "PATH_INFO");
	if (path != NULL && *path != '\0')
		r->path = xstrdup(path);
	else {
		uri = request_env(r, "REQUEST_URI");
		if (uri == NULL)
			uri = "/";
		r->path = escape_url_decode(uri, strcspn(uri, "?"), 0, &len);
		if (r->path == NULL || strlen(r->path) != len)
			return (400);
	}
	if (r->path[0] != '/' || strstr(r->path, "/../") != NULL ||
	    (strlen(r->path) >= 3 &&
	    strcmp(r->path + strlen(r->path) - 3, "/..") == 0))
		return (400);
	if (parse_query(&r->query, request_env(r, "QUERY_STRING")) != 0)
		return (400);
	return (0);
}

void
request_free(struct request *r)
{
	free(r->method);
	free(r->path);
	kvlist_free(&r->query);
	memset(r, 0, sizeof *r);
}

void
response_init(struct response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->content_type = "application/json";
}

void
response_free(struct response *resp)
{
	buf_free(&resp->headers);
	buf_free(&resp->body);
}

void
response_json(struct response *resp, int status, json_object *j)
{
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	buf_adds(&resp->body, json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_addc(&resp->body, '\n');
}

void
response_error(struct response *resp, int status, const char *fmt, ...)
{
	json_object	*j;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	j = json_object_new_object();
	json_object_object_add(j, "error", json_object_new_string(msg));
	response_json(resp, status, j);
	json_object_put(j);
	free(msg);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 201:
		return ("Created");
	case 204:
		return ("No Content");
	case 304:
		return ("Not Modified");
	case 400:
		return ("Bad Request");
	case 401:
		return ("Unauthorized");
	case 403:
		return ("Forbidden");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 409:
		return ("Conflict");
	case 413:
		return ("Payload Too Large");
	case 503:
		return ("Service Unavailable");
	default:
		return (status >= 500 ? "Internal Server Error" : "Error");
	}
}

char *
response_serialise(const struct response *resp, int head, size_t *len)
{
	struct buf	out = BUF_INIT;

	buf_addf(&out, "Status: %d %s\r\n", resp->status, reason(resp->status));
	buf_addf(&out, "Content-Type: %s\r\n", resp->content_type);
	buf_addf(&out, "Content-Length: %zu\r\n", resp->body.len);
	if (resp->headers.len > 0)
		buf_add(&out, resp->headers.data, resp->headers.len);
	buf_adds(&out, "\r\n");
	if (!head && resp->body.len > 0)
		buf_add(&out, resp->body.data, resp->body.len);
	*len = out.len;
	return (buf_detach(&out));
}
