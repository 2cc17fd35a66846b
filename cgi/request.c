#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "request.h"
#include "site.h"
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
	const char	*method, *path, *uri, *role;
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
	 * decoded REQUEST_URI path (Apache mod_proxy_fcgi).  An authorizer
	 * judges the URL the client asked for: REQUEST_URI, before any
	 * rewrite of the web server. */
	role = request_env(r, "FCGI_ROLE");
	r->authorizer = role != NULL && strcmp(role, "AUTHORIZER") == 0;
	path = r->authorizer ? NULL : request_env(r, "PATH_INFO");
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

int
request_strip_signed(struct request *r)
{
	const char	*rest;

	if (access_split(r->path, r->signed_token, &rest) != 0)
		return (-1);
	if (rest != r->path)
		memmove(r->path, rest, strlen(rest) + 1);
	return (0);
}

void
request_free(struct request *r)
{
	free(r->method);
	free(r->path);
	kvlist_free(&r->query);
	buf_free(&r->body);
	free(r->credential);
	free(r->region);
	memset(r, 0, sizeof *r);
}

/* RFC 3875 4.1.18: a header is HTTP_ and its name upper-cased with '-'
 * as '_'. */
const char *
request_header(const struct request *r, const char *name)
{
	char	 var[128];
	size_t	 i, n;

	n = strlen(name);
	if (n + 6 > sizeof var)
		return (NULL);
	memcpy(var, "HTTP_", 5);
	for (i = 0; i < n; i++)
		var[5 + i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	var[5 + n] = '\0';
	return (request_env(r, var));
}

int
request_json(const struct request *r, json_object **out, char **cause)
{
	struct json_tokener	*tok;
	enum json_tokener_error	 jerr;
	json_object		*j;

	if (r->body.len == 0) {
		*cause = xstrdup("a JSON body is required");
		return (EINVAL);
	}
	if (strlen(r->body.data) != r->body.len) {
		*cause = xstrdup("the body holds a NUL byte");
		return (EINVAL);
	}
	/* RFC 8259 exactly: json-c's default also takes single quotes and
	 * other leniencies. */
	tok = json_tokener_new_ex(32);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	/* With its NUL, so that a bare number at the end is complete. */
	j = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len + 1);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_success && j != NULL &&
	    json_tokener_get_parse_end(tok) < r->body.len) {
		/* Only white space may follow the value. */
		const char	*p = r->body.data + json_tokener_get_parse_end(tok);

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '\0')
			jerr = json_tokener_error_parse_unexpected;
	}
	if (jerr == json_tokener_success && j == NULL) {
		*cause = xstrdup("the body is JSON null");
		json_tokener_free(tok);
		return (EINVAL);
	}
	if (jerr != json_tokener_success || j == NULL) {
		*cause = xprintf("malformed JSON body: %s",
		    jerr == json_tokener_continue ? "unexpected end" :
		    json_tokener_error_desc(jerr));
		json_object_put(j);
		json_tokener_free(tok);
		return (EINVAL);
	}
	json_tokener_free(tok);
	*out = j;
	return (0);
}

char *
request_base_url(const struct request *r)
{
	const char	*host, *https;
	char		*url;
	size_t		 n;

	if (r->site != NULL && r->site->base_url != NULL) {
		url = xstrdup(r->site->base_url);
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			url[--n] = '\0';
		return (url);
	}
	host = request_header(r, "Host");
	if (host == NULL || *host == '\0' || strpbrk(host, " \t\r\n\"'<>/\\"))
		host = request_env(r, "SERVER_NAME");
	if (host == NULL || *host == '\0' || strpbrk(host, " \t\r\n\"'<>/\\"))
		host = "localhost";
	https = request_env(r, "HTTPS");
	return (xprintf("%s://%s", https != NULL && strcasecmp(https, "on") == 0 ?
	    "https" : "http", host));
}

int
request_param_id(const struct request *r, size_t i, long long *id,
    char **cause)
{
	const char	*s;
	char		*end;
	long long	 v;

	s = i < r->nparams ? r->params[i] : NULL;
	if (s == NULL || *s < '0' || *s > '9') {
		*cause = xprintf("'%s' is not a channel id", s != NULL ? s : "");
		return (EINVAL);
	}
	v = strtoll(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 2147483647) {
		*cause = xprintf("'%s' is not a channel id", s);
		return (EINVAL);
	}
	*id = v;
	return (0);
}


int
request_accepts_gzip(const struct request *r)
{
	const char	*ae, *p, *end, *semi, *q;
	size_t		 n;
	double		 qv;
	int		 gzip = -1, star = -1, *slot;

	if ((ae = request_header(r, "Accept-Encoding")) == NULL)
		return (0);
	for (p = ae; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		semi = memchr(p, ';', (size_t)(end - p));
		n = (size_t)((semi != NULL ? semi : end) - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) ||
		    (n == 6 && strncasecmp(p, "x-gzip", 6) == 0))
			slot = &gzip;
		else if (n == 1 && *p == '*')
			slot = &star;
		else
			continue;
		qv = 1;
		if (semi != NULL && (q = strstr(semi, "q=")) != NULL && q < end)
			qv = strtod(q + 2, NULL);
		*slot = qv > 0;
	}
	return (gzip != -1 ? gzip : star == 1);
}
