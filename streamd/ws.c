#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "access.h"
#include "buf.h"
#include "catalog.h"
#include "channel.h"
#include "conf.h"
#include "ctl.h"
#include "escape.h"
#include "log.h"
#include "region.h"
#include "schema.h"
#include "store.h"
#include "streamd.h"
#include "timefmt.h"
#include "ws.h"
#include "xmalloc.h"

/* The request line (either mode) and raw mode's line. */
#define LINE_MAX_BYTES	4096
/* An HTTP request head, cookies included. */
#define HEAD_MAX_BYTES	16384
#define MAX_HEADERS	64
#define MAX_QUERY	32
/* A connection without a whole request within this time is closed. */
#define HEAD_TIMEOUT_MS	10000
/* The largest payload of a frame, either way. */
#define FRAME_MAX	65536
/* A client that takes no byte for this long is dropped. */
#define STALL_MS	30000
/* A refusal: time to send it, then to let the client read it. */
#define REFUSE_MS	5000
#define LINGER_MS	500
/* ws_stop waits this long for connections to end, then cuts them. */
#define STOP_WAIT_MS	2000
#define STOP_CUT_MS	1000
/* A thread's stack: SQLite and json-c stay far below. */
#define STACK_SIZE	(1024 * 1024)
/* RFC 6455 1.3. */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* RFC 6455 5.2 opcodes and 7.4.1 status codes. */
#define OP_CONT		0x0
#define OP_TEXT		0x1
#define OP_BINARY	0x2
#define OP_CLOSE	0x8
#define OP_PING		0x9
#define OP_PONG		0xa
#define CLOSE_NORMAL	1000
#define CLOSE_AWAY	1001
#define CLOSE_PROTOCOL	1002
#define CLOSE_TOO_BIG	1009

enum mode {
	MODE_RAW,		/* lighttpd: payload bytes only */
	MODE_HTTP,		/* Apache: the client's own request */
};

struct conn {
	struct ws	*ws;
	int		 fd;
	int		 ctl_fd;	/* the attach's, -1 without (ws->lock) */
	struct conn	*prev, *next;
};

struct ws {
	char		*path;
	char		*database;
	char		*control;
	int		 ensure_timeout;	/* seconds */
	int		 listen_fd;
	int		 quit_fd;	/* readable once ws_stop began */
	pthread_t	 thread;

	pthread_mutex_t	 lock;		/* the fields below */
	pthread_cond_t	 done;		/* signalled as connections end */
	struct conn	*conns;
	size_t		 n;
	int		 stopping;
	int64_t		 full_logged;	/* now_ms() of the last warning */
	int64_t		 fds_logged;
	unsigned long	 full_refused;

	pthread_mutex_t	 store_lock;	/* the shared read connection */
	struct store	*store;
};

struct header {
	const char	*name;
	const char	*value;
};

/* One connection's request, whichever mode brought it. */
struct request {
	enum mode	 mode;
	char		*head;		/* the head's text, cut up in place */
	const char	*method;
	const char	*target;
	struct header	 h[MAX_HEADERS];
	size_t		 nh;
	char		*path;		/* decoded, without the query */
	struct kvlist	 query;		/* decoded */
	char		 addr[64];	/* the client, for the log */
	long long	 id;
	char		 region[3];	/* "" when unknown */
};

static struct ws	*running;

static int64_t
now_ms(void)
{
	return (timefmt_monotonic_us() / 1000);
}

static int
left_ms(int64_t deadline)
{
	int64_t	left = deadline - now_ms();

	return (left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left);
}

/* Waits for events on the connection or for ws_stop.  Returns 1 when fd
 * is ready, 0 on timeout, -1 when streamd stops or poll fails. */
static int
wait_io(struct conn *c, short events, int64_t deadline)
{
	struct pollfd	pfd[2];
	int		r;

	pfd[0].fd = c->fd;
	pfd[0].events = events;
	pfd[1].fd = c->ws->quit_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		r = poll(pfd, 2, left_ms(deadline));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || pfd[1].revents != 0)
			return (-1);
		return (r == 0 ? 0 : 1);
	}
}

/* Sends all of data within deadline; returns 0 or -1. */
static int
send_all(struct conn *c, const void *data, size_t len, int64_t deadline)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if (wait_io(c, POLLOUT, deadline) != 1)
			return (-1);
	}
	return (0);
}

/* Copies s for a log line: printable ASCII only, at most size - 1. */
static const char *
printable(const char *s, char *out, size_t size)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i < size - 1; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
	return (out);
}

static const char *
header(const struct request *r, const char *name)
{
	size_t	i;

	for (i = 0; i < r->nh; i++) {
		if (strcasecmp(r->h[i].name, name) == 0)
			return (r->h[i].value);
	}
	return (NULL);
}

/* Whether the comma-separated list value holds token (any case). */
static int
has_token(const char *value, const char *token)
{
	const char	*p = value;
	size_t		 len, tlen = strlen(token);

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == tlen && strncasecmp(p, token, len) == 0)
			return (1);
		p = strchr(p, ',');
	}
	return (0);
}

static const char *
reason(int status)
{
	switch (status) {
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
	case 414:
		return ("URI Too Long");
	case 426:
		return ("Upgrade Required");
	case 431:
		return ("Request Header Fields Too Large");
	case 503:
		return ("Service Unavailable");
	default:
		return ("Internal Server Error");
	}
}

/* Answers a refused request in its mode and lets the client read it:
 * Apache mode a plain HTTP response (no upgrade), raw mode one JSON
 * line. */
static void
refuse(struct conn *c, const struct request *r, int status, const char *why)
{
	struct buf	 out = BUF_INIT;
	json_object	*o;
	const char	*body;
	char		 drain[4096];
	int64_t		 deadline;

	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(why));
	if (r->mode == MODE_RAW) {
		json_object_object_add(o, "status",
		    json_object_new_int(status));
		buf_adds(&out, json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		buf_addc(&out, '\n');
	} else {
		body = json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		buf_addf(&out, "HTTP/1.1 %d %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n"
		    "Cache-Control: no-store\r\n", status, reason(status),
		    strlen(body) + 1);
		if (status == 401)
			buf_adds(&out, "WWW-Authenticate: Bearer "
			    "realm=\"amps\"\r\n");
		if (status == 426)
			buf_adds(&out, "Sec-WebSocket-Version: 13\r\n");
		buf_addf(&out, "Connection: close\r\n\r\n%s\n", body);
	}
	json_object_put(o);
	deadline = now_ms() + REFUSE_MS;
	if (send_all(c, out.data, out.len, deadline) == 0) {
		/* Closing with unread input may reset the connection and
		 * lose the answer: read until the client closes, briefly. */
		shutdown(c->fd, SHUT_WR);
		deadline = now_ms() + LINGER_MS;
		while (wait_io(c, POLLIN, deadline) == 1 &&
		    read(c->fd, drain, sizeof drain) > 0)
			continue;
	}
	buf_free(&out);
}

/* "GET /ws/1?x HTTP/1.1": a request line of RFC 9112 3. */
static int
is_request_line(const char *line, size_t len)
{
	size_t	m, t;

	m = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (m == 0 || m > 16 || m >= len || line[m] != ' ')
		return (0);
	for (t = m + 1; t < len && line[t] > ' ' && line[t] != 0x7f; t++)
		continue;
	if (t == m + 1 || t >= len || line[t] != ' ')
		return (0);
	t++;
	return (len - t == 8 && strncmp(line + t, "HTTP/1.", 7) == 0 &&
	    line[t + 7] >= '0' && line[t + 7] <= '9');
}

/* Reads until the request is whole: raw mode's line or an HTTP head.
 * Returns 0 with r->mode, the head's length in *head_len and whatever
 * came after it left in in; an HTTP status with *why when the request
 * cannot be whole; -1 when the client went, said nothing in time or
 * streamd stops. */
static int
read_head(struct conn *c, struct request *r, struct buf *in,
    size_t *head_len, const char **why)
{
	char	 chunk[4096], *nl, *end;
	size_t	 line, want;
	ssize_t	 n;
	int64_t	 deadline = now_ms() + HEAD_TIMEOUT_MS;
	int	 w;

	for (;;) {
		want = HEAD_MAX_BYTES + 1 - in->len;
		n = read(c->fd, chunk, want < sizeof chunk ? want : sizeof chunk);
		if (n == 0)
			return (-1);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if (n < 0) {
			if ((w = wait_io(c, POLLIN, deadline)) == 0) {
				log_info("ws", "a connection sent no whole "
				    "request in %d s; closed",
				    HEAD_TIMEOUT_MS / 1000);
				return (-1);
			}
			if (w < 0)
				return (-1);
			continue;
		}
		buf_add(in, chunk, (size_t)n);

		if ((nl = memchr(in->data, '\n', in->len)) == NULL) {
			if (in->len > LINE_MAX_BYTES) {
				*why = "request line too long";
				return (414);
			}
			continue;
		}
		line = (size_t)(nl - in->data);
		if (line > LINE_MAX_BYTES) {
			*why = "request line too long";
			return (414);
		}
		if (line > 0 && in->data[line - 1] == '\r')
			line--;
		if (!is_request_line(in->data, line)) {
			r->mode = MODE_RAW;
			*head_len = (size_t)(nl - in->data) + 1;
			if (memchr(in->data, '\0', *head_len) != NULL) {
				*why = "a NUL byte in the request";
				return (400);
			}
			return (0);
		}
		r->mode = MODE_HTTP;
		if ((end = memmem(in->data, in->len, "\r\n\r\n", 4)) != NULL)
			*head_len = (size_t)(end - in->data) + 4;
		else if ((end = memmem(in->data, in->len, "\n\n", 2)) != NULL)
			*head_len = (size_t)(end - in->data) + 2;
		if (end != NULL && memchr(in->data, '\0', *head_len) != NULL) {
			*why = "a NUL byte in the request";
			return (400);
		}
		if (end != NULL)
			return (0);
		if (in->len > HEAD_MAX_BYTES) {
			*why = "request head too large";
			return (431);
		}
	}
}

/* Splits the target into the decoded path and query. */
static int
parse_target(struct request *r, const char **why)
{
	const char	*t = r->target, *q, *p, *amp, *eq;
	char		*key, *value;
	size_t		 len, klen, vlen;

	if (t[0] != '/') {
		*why = "the request target must start with /";
		return (400);
	}
	for (p = t; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			*why = "a space or control character in the request "
			    "target";
			return (400);
		}
	}
	q = strchr(t, '?');
	len = q != NULL ? (size_t)(q - t) : strlen(t);
	r->path = escape_url_decode(t, len, 0, &vlen);
	if (r->path == NULL || strlen(r->path) != vlen) {
		*why = "malformed request target";
		return (400);
	}
	for (p = q != NULL ? q + 1 : NULL; p != NULL && *p != '\0';
	    p = *amp == '&' ? amp + 1 : NULL) {
		if ((amp = strchr(p, '&')) == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		if (r->query.n == MAX_QUERY) {
			*why = "too many query parameters";
			return (400);
		}
		eq = memchr(p, '=', (size_t)(amp - p));
		key = escape_url_decode(p, (size_t)((eq != NULL ? eq : amp) -
		    p), 1, &klen);
		value = eq != NULL ? escape_url_decode(eq + 1,
		    (size_t)(amp - eq - 1), 1, &vlen) : xstrdup("");
		if (key == NULL || value == NULL || strlen(key) != klen ||
		    (eq != NULL && strlen(value) != vlen)) {
			free(key);
			free(value);
			*why = "malformed query string";
			return (400);
		}
		r->query.v = xreallocarray(r->query.v, r->query.n + 1,
		    sizeof *r->query.v);
		r->query.v[r->query.n].key = key;
		r->query.v[r->query.n].value = value;
		r->query.n++;
	}
	return (0);
}

/* Raw mode: "[GET ]/ws/12?token=abc". */
static int
parse_raw(struct request *r, const char **why)
{
	char	*line = r->head;
	size_t	 len = strlen(line);

	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (strncmp(line, "GET ", 4) == 0)
		line += 4;
	r->method = "GET";
	r->target = line;
	snprintf(r->addr, sizeof r->addr, "lighttpd");
	return (parse_target(r, why));
}

/* Apache mode: the request line and headers of RFC 9112, then the
 * opening handshake of RFC 6455 4.2.1. */
static int
parse_http(struct request *r, const char **why)
{
	char		*line, *next, *colon, *v, *end, *sp;
	const char	*key, *fwd, *hv;
	unsigned char	 raw[32];
	size_t		 n;

	line = r->head;
	for (n = 0; line != NULL && *line != '\0'; line = next, n++) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((end = strchr(line, '\r')) != NULL)
			*end = '\0';
		if (n == 0) {
			sp = strchr(line, ' ');
			*sp = '\0';
			r->method = line;
			r->target = sp + 1;
			*strchr(sp + 1, ' ') = '\0';
			continue;
		}
		if (*line == '\0')
			break;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line || strcspn(line, " \t") <
		    (size_t)(colon - line)) {
			*why = "malformed header line";
			return (400);
		}
		if (r->nh == MAX_HEADERS) {
			*why = "too many header lines";
			return (431);
		}
		*colon = '\0';
		v = colon + 1;
		v += strspn(v, " \t");
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		r->h[r->nh].name = line;
		r->h[r->nh].value = v;
		r->nh++;
	}
	fwd = header(r, "X-Forwarded-For");
	if (fwd != NULL) {
		n = strcspn(fwd, ", ");
		if (n >= sizeof r->addr)
			n = sizeof r->addr - 1;
		memcpy(r->addr, fwd, n);
		r->addr[n] = '\0';
	} else
		snprintf(r->addr, sizeof r->addr, "apache");

	if (strcmp(r->method, "GET") != 0) {
		*why = "a WebSocket opens with GET";
		return (405);
	}
	if ((hv = header(r, "Upgrade")) == NULL ||
	    !has_token(hv, "websocket") ||
	    (hv = header(r, "Connection")) == NULL ||
	    !has_token(hv, "upgrade")) {
		*why = "not a WebSocket handshake (Upgrade: websocket)";
		return (426);
	}
	if ((hv = header(r, "Sec-WebSocket-Version")) == NULL ||
	    strcmp(hv, "13") != 0) {
		*why = "WebSocket version 13 only";
		return (426);
	}
	key = header(r, "Sec-WebSocket-Key");
	if (key == NULL || strlen(key) != 24 ||
	    EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
	    key[22] != '=' || key[23] != '=') {
		*why = "missing or malformed Sec-WebSocket-Key";
		return (400);
	}
	return (parse_target(r, why));
}

static const char *
header_of(void *arg, const char *name)
{
	return (header(arg, name));
}

/* A setting, NULL when absent; -1 when the store cannot answer. */
static int
setting(struct store *s, const char *key, char **value)
{
	char	*cause = NULL;
	int	 rc;

	*value = NULL;
	rc = store_setting_get(s, key, value, &cause);
	free(cause);
	if (rc == ENOENT)
		return (0);
	return (rc == 0 ? 0 : -1);
}

/* Decides as the responder does for every media URL (access.h): the
 * signed token or a credential when auth is on, the viewer's region, the
 * channel's existence, region rules and window.  Returns 0 with r->id and
 * r->region, or an HTTP status with *why (caller frees). */
static int
authorize(struct ws *ws, struct request *r, char **why)
{
	struct channel		*ch = NULL;
	const char		*rest, *cred, *v;
	char			 token[ACCESS_TOKEN_MAX], treg[3] = "";
	char			*enabled = NULL, *hash = NULL, *secret = NULL;
	char			*cause = NULL, *token_why = NULL;
	int64_t			 now = time(NULL);
	int			 status = 0, signed_ok = 0, role, rc;

	if (access_split(r->path, token, &rest) != 0 ||
	    access_media(rest, &r->id, NULL) != ACCESS_WS) {
		*why = xstrdup("no such resource");
		return (404);
	}
	pthread_mutex_lock(&ws->store_lock);
	if (ws->store == NULL && store_open(ws->database, 0, &ws->store,
	    &cause) != 0) {
		log_error("ws", "%s", cause);
		ws->store = NULL;
		status = 503;
		goto out;
	}
	/* Without the settings there is no telling whether auth is on:
	 * refuse rather than fail open. */
	if (setting(ws->store, "auth.enabled", &enabled) != 0 ||
	    setting(ws->store, "auth.token_hash", &hash) != 0) {
		status = 503;
		goto out;
	}
	if (token[0] != '\0') {
		if (store_secret(ws->store, &secret, &cause) != 0) {
			log_error("ws", "%s", cause);
			status = 503;
			goto out;
		}
		if (access_verify(secret, token, r->id, now, treg,
		    &token_why) == 0)
			signed_ok = 1;
	}
	if (enabled != NULL && strcmp(enabled, "true") == 0 && !signed_ok) {
		if ((cred = access_find_credential(header_of, r,
		    kvlist_get(&r->query, "token"))) == NULL) {
			*why = token_why != NULL ? token_why :
			    xstrdup("authentication required");
			token_why = NULL;
			status = 401;
			goto out;
		}
		role = access_credential(ws->store, hash, cred, &cause);
		if (role < 0) {
			log_error("ws", "%s", cause);
			status = 503;
			goto out;
		}
		if (role == ACCESS_ROLE_NONE) {
			*why = xstrdup("invalid credentials");
			status = 401;
			goto out;
		}
	}

	/* P3: ?region=, else the CDN headers, else the signed token's. */
	v = kvlist_get(&r->query, "region");
	if (v != NULL && *v != '\0') {
		if (region_normalise(v, r->region) != 0) {
			*why = xprintf("region: '%.16s' is not an ISO 3166-1 "
			    "alpha-2 code", v);
			status = 400;
			goto out;
		}
	} else if (access_header_region(header_of, r, r->region) != 0 &&
	    signed_ok)
		memcpy(r->region, treg, sizeof r->region);

	if ((rc = catalog_channel_get(ws->store, r->id, &ch, &cause)) != 0) {
		if (rc != ENOENT) {
			log_error("ws", "stream %lld: %s", r->id, cause);
			status = 503;
			goto out;
		}
		*why = xprintf("no such stream: %lld", r->id);
		status = 404;
		goto out;
	}
	rc = access_channel(ch, r->region[0] != '\0' ? r->region : NULL, now,
	    why);
	if (rc != 0)
		status = rc == EACCES ? 403 : 404;
out:
	pthread_mutex_unlock(&ws->store_lock);
	if (status == 503 && *why == NULL)
		*why = xstrdup("the database is not available");
	channel_free(ch);
	free(cause);
	free(token_why);
	free(enabled);
	free(hash);
	free(secret);
	return (status);
}

/* The query keys passed on to attach. */
static int
check_query(const struct request *r, const char **why)
{
	const char	*v;

	v = kvlist_get(&r->query, "overlap");
	if (v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		*why = "overlap: true or false";
		return (400);
	}
	v = kvlist_get(&r->query, "variant");
	if (v != NULL && strlen(v) > 64) {
		*why = "variant: at most 64 characters";
		return (400);
	}
	return (0);
}

/* Remembers the attach's socket so that ws_stop can cut a wait for it;
 * -1 forgets it.  Returns -1 when streamd is stopping. */
static int
set_ctl_fd(struct conn *c, int fd)
{
	int	stopping;

	pthread_mutex_lock(&c->ws->lock);
	c->ctl_fd = fd;
	stopping = c->ws->stopping;
	pthread_mutex_unlock(&c->ws->lock);
	return (stopping && fd >= 0 ? -1 : 0);
}

/* Attaches to the channel's live MPEG-TS on streamd's own control
 * socket.  Returns 0 with *out, or -1 with *why (caller frees). */
static int
attach(struct conn *c, const struct request *r, struct ctl **out,
    char **why)
{
	struct ws	*ws = c->ws;
	struct ctl	*ctl = NULL;
	json_object	*req, *reply = NULL;
	const char	*variant, *overlap;
	char		*cause = NULL;
	int		 rc = -1;

	*out = NULL;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("attach"));
	json_object_object_add(req, "stream", json_object_new_int64(r->id));
	json_object_object_add(req, "output", json_object_new_string("ts"));
	variant = kvlist_get(&r->query, "variant");
	if (variant != NULL && *variant != '\0')
		json_object_object_add(req, "variant",
		    json_object_new_string(variant));
	overlap = kvlist_get(&r->query, "overlap");
	if (overlap != NULL && *overlap != '\0')
		json_object_object_add(req, "overlap",
		    json_object_new_boolean(strcmp(overlap, "true") == 0));

	if (ctl_connect(ws->control, 5000, &ctl, &cause) != 0) {
		log_error("ws", "stream %lld: %s", r->id, cause);
		*why = xstrdup("streamd's control socket does not answer");
		goto out;
	}
	if (set_ctl_fd(c, ctl_fd(ctl)) != 0) {
		*why = xstrdup("streamd is stopping");
		goto out;
	}
	if (ctl_request(ctl, req, &reply, (ws->ensure_timeout + 5) * 1000,
	    &cause) != 0) {
		*why = xprintf("attach: %s", cause);
		goto out;
	}
	if (ctl_refused(reply, "attach", why))
		goto out;
	*out = ctl;
	ctl = NULL;
	rc = 0;
out:
	if (ctl != NULL) {
		set_ctl_fd(c, -1);
		ctl_close(ctl);
	}
	json_object_put(reply);
	json_object_put(req);
	free(cause);
	return (rc);
}

/* A server frame (RFC 6455 5.2: FIN set, never masked). */
static void
frame_add(struct buf *out, int opcode, const void *data, size_t len)
{
	unsigned char	h[10];
	size_t		n = 0;
	int		i;

	h[n++] = (unsigned char)(0x80 | opcode);
	if (len < 126)
		h[n++] = (unsigned char)len;
	else if (len <= 0xffff) {
		h[n++] = 126;
		h[n++] = (unsigned char)(len >> 8);
		h[n++] = (unsigned char)len;
	} else {
		h[n++] = 127;
		for (i = 7; i >= 0; i--)
			h[n++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	buf_add(out, h, n);
	buf_add(out, data, len);
}

static void
close_add(struct buf *out, unsigned code)
{
	unsigned char	p[2];

	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	frame_add(out, OP_CLOSE, p, sizeof p);
}

/* One frame of the client at the start of p (len bytes).  Returns 0 while
 * it is not whole, its length once it is (a control frame's payload
 * unmasked into payload[125], its size in *plen), or -1 with the close
 * code to answer a frame that breaks RFC 6455 5 or our bounds. */
static long
take_frame(const unsigned char *p, size_t len, int *opcode,
    unsigned char *payload, size_t *plen, unsigned *code)
{
	uint64_t	n;
	size_t		hl = 2, i;
	int		op;

	if (len < 2)
		return (0);
	op = p[0] & 0x0f;
	*code = CLOSE_PROTOCOL;
	if ((p[0] & 0x70) != 0 || (p[1] & 0x80) == 0)
		return (-1);	/* extension bits; unmasked */
	n = p[1] & 0x7f;
	if (n == 126) {
		if (len < 4)
			return (0);
		n = (uint64_t)p[2] << 8 | p[3];
		hl = 4;
	} else if (n == 127) {
		if (len < 10)
			return (0);
		for (n = 0, i = 2; i < 10; i++)
			n = n << 8 | p[i];
		hl = 10;
	}
	hl += 4;
	if (op >= 0x8) {
		if (n > 125 || (p[0] & 0x80) == 0 || op > OP_PONG ||
		    (op == OP_CLOSE && n == 1))
			return (-1);
	} else {
		if (op > OP_BINARY)
			return (-1);
		if (n > FRAME_MAX) {
			*code = CLOSE_TOO_BIG;
			return (-1);
		}
	}
	if (len < hl + n)
		return (0);
	*opcode = op;
	*plen = 0;
	if (op >= 0x8) {
		for (i = 0; i < n; i++)
			payload[i] = p[hl + i] ^ p[hl - 4 + i % 4];
		*plen = (size_t)n;
	}
	return ((long)(hl + n));
}

/* The client's frames in in (Apache mode): pings get a pong, a close its
 * answer; data is ignored.  Returns the close code to send, 0 for none. */
static unsigned
client_frames(struct buf *in, unsigned char *pong, size_t *npong,
    int *want_pong, int *closed)
{
	unsigned char	 payload[125];
	size_t		 off = 0, plen;
	unsigned	 code = 0;
	long		 n;
	int		 op;

	while (off < in->len) {
		n = take_frame((unsigned char *)in->data + off, in->len - off,
		    &op, payload, &plen, &code);
		if (n == 0)
			break;
		if (n < 0) {
			buf_reset(in);
			return (code);
		}
		off += (size_t)n;
		if (op == OP_PING) {
			memcpy(pong, payload, plen);
			*npong = plen;
			*want_pong = 1;
		} else if (op == OP_CLOSE) {
			*closed = 1;
			code = plen >= 2 ? (unsigned)payload[0] << 8 |
			    payload[1] : CLOSE_NORMAL;
			if (code < 1000 || code >= 5000 || code == 1005 ||
			    code == 1006)
				code = CLOSE_PROTOCOL;
			buf_reset(in);
			return (code);
		}
	}
	if (off > 0) {
		memmove(in->data, in->data + off, in->len - off);
		in->len -= off;
	}
	return (0);
}

/* Adds bytes of the stream to out: in frames of FRAME_MAX at most in
 * Apache mode, as they are in raw mode. */
static void
data_add(const struct request *r, struct buf *out, const char *data,
    size_t len)
{
	size_t	n;

	if (r->mode == MODE_RAW) {
		buf_add(out, data, len);
		return;
	}
	while (len > 0) {
		n = len > FRAME_MAX ? FRAME_MAX : len;
		frame_add(out, OP_BINARY, data, n);
		data += n;
		len -= n;
	}
}

/* Moves the stream to the client until either side ends.  Bytes are read
 * from the attach only when the client took everything before them, so
 * at most one frame waits here and a slow client is streamd's feed's
 * business (it skips, then drops, that reader); a client that takes
 * nothing for STALL_MS is dropped here.  Control frames go between data
 * frames, never inside one.  Returns what ended it, for the log. */
static const char *
relay(struct conn *c, const struct request *r, struct ctl *ctl,
    struct buf *in, struct buf *out, long long *sent)
{
	struct pollfd	 pfd[3];
	struct buf	*pend = ctl_pending(ctl);
	unsigned char	 pong[125];
	char		*chunk, rbuf[16384];
	const char	*end = NULL, *after = NULL;
	size_t		 off = 0, npong = 0;
	unsigned	 code = 0;
	ssize_t		 n;
	int64_t		 progress = now_ms();
	int		 want_pong = 0, closed = 0, ctl_eof = 0, timeout;

	chunk = xmalloc(FRAME_MAX);
	if (pend->len > 0) {
		*sent += (long long)pend->len;
		data_add(r, out, pend->data, pend->len);
		buf_reset(pend);
	}
	if (r->mode == MODE_HTTP && in->len > 0)
		code = client_frames(in, pong, &npong, &want_pong, &closed);
	for (;;) {
		if (off == out->len) {
			buf_reset(out);
			off = 0;
			if (after != NULL) {
				end = after;	/* the last frame is out */
				break;
			}
			if (code != 0) {
				close_add(out, code);
				after = closed ? "the client closed" :
				    "the client broke the protocol";
			} else if (want_pong) {
				frame_add(out, OP_PONG, pong, npong);
				want_pong = 0;
			} else if (ctl_eof) {
				if (r->mode == MODE_RAW) {
					end = "the stream ended";
					break;
				}
				close_add(out, CLOSE_AWAY);
				after = "the stream ended";
			}
			if (out->len > 0)
				progress = now_ms();
		}
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		if (off < out->len)
			pfd[0].events |= POLLOUT;
		pfd[1].fd = out->len == 0 && after == NULL ? ctl_fd(ctl) : -1;
		pfd[1].events = POLLIN;
		pfd[2].fd = c->ws->quit_fd;
		pfd[2].events = POLLIN;
		timeout = off < out->len ? left_ms(progress + STALL_MS) : -1;
		if (poll(pfd, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			end = "poll failed";
			break;
		}
		if (pfd[2].revents != 0) {
			/* A courtesy: the connection ends either way. */
			if (r->mode == MODE_HTTP && out->len == 0) {
				close_add(out, CLOSE_AWAY);
				n = send(c->fd, out->data, out->len,
				    MSG_NOSIGNAL | MSG_DONTWAIT);
				(void)n;
			}
			end = "streamd stops";
			break;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(c->fd, rbuf, sizeof rbuf);
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR)) {
				end = "the client went";
				break;
			}
			/* Raw mode's later messages, and anything after a
			 * close, are ignored. */
			if (n > 0 && r->mode == MODE_HTTP && code == 0) {
				buf_add(in, rbuf, (size_t)n);
				code = client_frames(in, pong, &npong,
				    &want_pong, &closed);
			}
		}
		if (off < out->len && (pfd[0].revents & POLLOUT)) {
			n = send(c->fd, out->data + off, out->len - off,
			    MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				end = "the client went";
				break;
			}
			if (n > 0) {
				off += (size_t)n;
				progress = now_ms();
			}
		}
		if (off < out->len && now_ms() - progress >= STALL_MS) {
			end = "the client took nothing for 30 s";
			break;
		}
		if (pfd[1].fd >= 0 && pfd[1].revents != 0) {
			n = read(pfd[1].fd, chunk, FRAME_MAX);
			if (n == 0 || (n < 0 && errno != EAGAIN &&
			    errno != EINTR))
				ctl_eof = 1;
			else if (n > 0) {
				*sent += n;
				data_add(r, out, chunk, (size_t)n);
				progress = now_ms();
			}
		}
	}
	free(chunk);
	return (end);
}

/* The Sec-WebSocket-Accept of a key (RFC 6455 4.2.2), base64 into
 * out[29]. */
static void
accept_key(const char *key, char out[29])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	char		*text;

	text = xprintf("%s%s", key, WS_GUID);
	EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha1(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
	free(text);
}

static void
log_refusal(const struct request *r, int status, const char *why)
{
	char	path[256];

	printable(r->path != NULL ? r->path : r->target != NULL ? r->target :
	    "?", path, sizeof path);
	if (status == 401 || status == 403)
		log_warn("auth", "%s %s from %s: %s", r->method != NULL ?
		    r->method : "GET", path, r->addr, why);
	else
		log_info("ws", "%s %s from %s: %d %s", r->method != NULL ?
		    r->method : "GET", path, r->addr, status, why);
}

static void
conn_end(struct conn *c)
{
	struct ws	*ws = c->ws;

	pthread_mutex_lock(&ws->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ws->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ws->n--;
	close(c->fd);
	pthread_cond_broadcast(&ws->done);
	pthread_mutex_unlock(&ws->lock);
	free(c);
}

static void *
conn_main(void *arg)
{
	struct conn	*c = arg;
	struct request	 r;
	struct buf	 in = BUF_INIT, out = BUF_INIT;
	struct ctl	*ctl = NULL;
	const char	*why = NULL, *end;
	char		*cause = NULL, key[29], addr[64];
	size_t		 head_len = 0;
	long long	 sent = 0;
	int		 status;

	memset(&r, 0, sizeof r);
	snprintf(r.addr, sizeof r.addr, "?");
	status = read_head(c, &r, &in, &head_len, &why);
	if (status < 0)
		goto out;
	if (status == 0) {
		r.head = xstrndup(in.data, head_len);
		memmove(in.data, in.data + head_len, in.len - head_len);
		in.len -= head_len;
		if (r.mode == MODE_RAW)
			buf_reset(&in);
		status = r.mode == MODE_RAW ? parse_raw(&r, &why) :
		    parse_http(&r, &why);
	}
	printable(r.addr, addr, sizeof addr);
	memcpy(r.addr, addr, sizeof r.addr);
	if (status != 0) {
		log_refusal(&r, status, why);
		refuse(c, &r, status, why);
		goto out;
	}
	if ((status = authorize(c->ws, &r, &cause)) != 0) {
		log_refusal(&r, status, cause);
		refuse(c, &r, status, cause);
		goto out;
	}
	if ((status = check_query(&r, &why)) != 0) {
		log_refusal(&r, status, why);
		refuse(c, &r, status, why);
		goto out;
	}
	if (attach(c, &r, &ctl, &cause) != 0) {
		/* The reason may name the source (a URL with its password):
		 * it goes to the log only. */
		log_warn("ws", "stream %lld from %s: %s", r.id, r.addr, cause);
		free(cause);
		cause = xprintf("stream %lld cannot be played now", r.id);
		refuse(c, &r, 503, cause);
		goto out;
	}
	if (r.mode == MODE_HTTP) {
		accept_key(header(&r, "Sec-WebSocket-Key"), key);
		buf_addf(&out, "HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n\r\n", key);
	}
	log_info("ws", "stream %lld: viewer connected from %s (%s)", r.id,
	    r.addr, r.mode == MODE_HTTP ? "WebSocket" : "wstunnel");
	end = relay(c, &r, ctl, &in, &out, &sent);
	log_info("ws", "stream %lld: viewer from %s left after %lld bytes: "
	    "%s", r.id, r.addr, sent, end);
out:
	if (ctl != NULL) {
		set_ctl_fd(c, -1);
		ctl_close(ctl);
	}
	free(cause);
	free(r.head);
	free(r.path);
	kvlist_free(&r.query);
	buf_free(&in);
	buf_free(&out);
	conn_end(c);
	return (NULL);
}

/* Takes the waiting connections, each into a thread of its own.
 * Returns -1 when out of file descriptors: the caller waits a little
 * rather than spin on a listen queue it cannot take from. */
static int
accept_conns(struct ws *ws)
{
	pthread_attr_t	 attr;
	struct conn	*c;
	int64_t		 now;
	int		 fd, err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	while ((fd = accept4(ws->listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		pthread_mutex_lock(&ws->lock);
		if (ws->n >= WS_MAX_CONNECTIONS) {
			ws->full_refused++;
			now = now_ms();
			if (ws->full_logged == 0 ||
			    now - ws->full_logged >= 10000) {
				log_warn("ws", "%d connections already: "
				    "refused %lu since the last warning",
				    WS_MAX_CONNECTIONS, ws->full_refused);
				ws->full_logged = now;
				ws->full_refused = 0;
			}
			pthread_mutex_unlock(&ws->lock);
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->ws = ws;
		c->fd = fd;
		c->ctl_fd = -1;
		c->next = ws->conns;
		if (ws->conns != NULL)
			ws->conns->prev = c;
		ws->conns = c;
		ws->n++;
		pthread_mutex_unlock(&ws->lock);
		if ((err = pthread_create(&(pthread_t){ 0 }, &attr, conn_main,
		    c)) != 0) {
			log_error("ws", "pthread_create: %s", strerror(err));
			conn_end(c);
		}
	}
	err = errno;
	pthread_attr_destroy(&attr);
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return (0);
	now = now_ms();
	pthread_mutex_lock(&ws->lock);
	if (ws->fds_logged == 0 || now - ws->fds_logged >= 10000) {
		log_warn("ws", "accept: %s (%zu connections)", strerror(err),
		    ws->n);
		ws->fds_logged = now;
	}
	pthread_mutex_unlock(&ws->lock);
	return (-1);
}

static void *
ws_main(void *arg)
{
	struct ws	*ws = arg;
	struct pollfd	 pfd[2];
	int		 starved = 0;

	pfd[0].fd = ws->listen_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ws->quit_fd;
	pfd[1].events = POLLIN;
	for (;;) {
		pfd[0].fd = starved ? -1 : ws->listen_fd;
		pfd[0].revents = 0;
		if (poll(pfd, 2, starved ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("ws", "poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents != 0)
			break;
		starved = 0;
		if (pfd[0].revents != 0 || pfd[0].fd < 0)
			starved = accept_conns(ws) != 0;
	}
	return (NULL);
}

static void
ws_free(struct ws *ws)
{
	if (ws->listen_fd >= 0)
		close(ws->listen_fd);
	if (ws->quit_fd >= 0)
		close(ws->quit_fd);
	store_close(ws->store);
	pthread_mutex_destroy(&ws->store_lock);
	pthread_cond_destroy(&ws->done);
	pthread_mutex_destroy(&ws->lock);
	free(ws->path);
	free(ws->database);
	free(ws->control);
	free(ws);
}

/* Binds as control_open binds the control socket: the web server's user
 * reaches both through the same mode and group. */
int
ws_start(const struct config *cfg, const char *database, char **cause)
{
	pthread_condattr_t	 ca;
	struct ws		*ws;
	const char		*path = cfg->server.ws_socket;
	int			 fd, err;

	if (running != NULL) {
		*cause = xstrdup("ws_socket: already listening");
		return (-1);
	}
	if ((fd = control_listen(path, "ws_socket", cfg, cause)) < 0)
		return (-1);

	ws = xcalloc(1, sizeof *ws);
	ws->path = xstrdup(path);
	ws->database = xstrdup(database);
	ws->control = xstrdup(cfg->server.control_socket);
	ws->ensure_timeout = (int)cfg->server.ensure_timeout;
	ws->listen_fd = fd;
	pthread_mutex_init(&ws->lock, NULL);
	pthread_mutex_init(&ws->store_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ws->done, &ca);
	pthread_condattr_destroy(&ca);
	if ((ws->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		*cause = xprintf("eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((err = pthread_create(&ws->thread, NULL, ws_main, ws)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		goto fail;
	}
	running = ws;
	log_info("ws", "listening on %s", path);
	return (0);
fail:
	unlink(path);
	ws_free(ws);
	return (-1);
}

/* Waits until every connection ended or ms passed; ws->lock held. */
static void
wait_conns(struct ws *ws, int ms)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (ws->n > 0 && pthread_cond_timedwait(&ws->done, &ws->lock,
	    &ts) != ETIMEDOUT)
		continue;
}

void
ws_stop(void)
{
	struct ws	*ws = running;
	struct conn	*c;
	uint64_t	 one = 1;
	ssize_t		 n;

	if (ws == NULL)
		return;
	running = NULL;
	n = write(ws->quit_fd, &one, sizeof one);
	(void)n;
	pthread_join(ws->thread, NULL);
	close(ws->listen_fd);
	ws->listen_fd = -1;
	unlink(ws->path);

	/* Every connection sees quit_fd; one waiting for its attach's reply
	 * is woken by cutting that socket. */
	pthread_mutex_lock(&ws->lock);
	ws->stopping = 1;
	for (c = ws->conns; c != NULL; c = c->next) {
		if (c->ctl_fd >= 0)
			shutdown(c->ctl_fd, SHUT_RDWR);
	}
	wait_conns(ws, STOP_WAIT_MS);
	for (c = ws->conns; c != NULL; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	wait_conns(ws, STOP_CUT_MS);
	if (ws->n > 0) {
		/* Their threads still use ws: left as it is. */
		log_warn("ws", "%zu connections did not end", ws->n);
		pthread_mutex_unlock(&ws->lock);
		return;
	}
	pthread_mutex_unlock(&ws->lock);
	log_info("ws", "stopped");
	ws_free(ws);
}
