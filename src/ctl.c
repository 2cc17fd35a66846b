#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "ctl.h"
#include "timefmt.h"
#include "xmalloc.h"

/* While the server's listen queue is full, connect is tried again this
 * often. */
#define CTL_RETRY_MS	5

struct ctl {
	int		fd;		/* non-blocking; every wait is a poll */
	struct buf	pending;	/* read, not yet taken */
};

static int64_t
now_ms(void)
{
	return (timefmt_monotonic_us() / 1000);
}

/* The deadline for a timeout in milliseconds; -1 = none. */
static int64_t
deadline_of(int timeout_ms)
{
	return (timeout_ms < 0 ? -1 : now_ms() + timeout_ms);
}

/* What is left until deadline, for poll: -1 = for ever. */
static int
left_of(int64_t deadline)
{
	int64_t	left;

	if (deadline < 0)
		return (-1);
	left = deadline - now_ms();
	return (left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left);
}

/* Waits for events on fd; returns 1, 0 on timeout, -1 on error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd;
	int		r;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		pfd.revents = 0;
		r = poll(&pfd, 1, left_of(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		return (r < 0 ? -1 : r);
	}
}

/* Connects the non-blocking fd; returns 0, ETIMEDOUT or an errno. */
static int
connect_by(int fd, const struct sockaddr_un *sun, int64_t deadline)
{
	socklen_t	len;
	int		err, r;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
			return (0);
		err = errno;
		if (err == EAGAIN) {
			/* A unix socket's listen queue is full: try again. */
			if ((r = left_of(deadline)) == 0)
				return (ETIMEDOUT);
			poll(NULL, 0, r < 0 || r > CTL_RETRY_MS ?
			    CTL_RETRY_MS : r);
			continue;
		}
		if (err != EINPROGRESS && err != EINTR)
			return (err);
		if ((r = wait_fd(fd, POLLOUT, deadline)) == 0)
			return (ETIMEDOUT);
		if (r == -1)
			return (errno);
		len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			return (errno);
		return (err);
	}
}

/* The CLI and the responder talk to streamd over a local socket; a
 * streamd that does not accept must not hang them. */
int
ctl_connect(const char *path, int timeout_ms, struct ctl **out, char **cause)
{
	struct sockaddr_un	 sun;
	struct ctl		*c;
	size_t			 plen;
	int			 fd, err;

	*out = NULL;
	plen = strlen(path);
	if (plen == 0) {
		*cause = xstrdup("empty control socket path");
		return (-1);
	}
	if (plen > sizeof sun.sun_path - 1) {
		*cause = xprintf("control socket path too long (%zu bytes, at "
		    "most %zu)", plen, sizeof sun.sun_path - 1);
		return (-1);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		*cause = xprintf("socket: %s", strerror(errno));
		return (-1);
	}
	if ((err = connect_by(fd, &sun, deadline_of(timeout_ms))) != 0) {
		if (err == ETIMEDOUT)
			*cause = xprintf("connect %s: timed out after %d ms",
			    path, timeout_ms);
		else
			*cause = xprintf("connect %s: %s", path,
			    strerror(err));
		close(fd);
		return (-1);
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	buf_init(&c->pending);
	*out = c;
	return (0);
}

/* Closes the socket; NULL is ignored. */
void
ctl_close(struct ctl *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	buf_free(&c->pending);
	free(c);
}

/* Writes all of data; MSG_NOSIGNAL, so that a streamd gone away is an
 * error here and never a SIGPIPE in the caller. */
static int
send_all(int fd, const char *data, size_t len, int64_t deadline,
    int timeout_ms, char **cause)
{
	ssize_t	n;
	int	r;

	while (len > 0) {
		n = send(fd, data, len, MSG_NOSIGNAL);
		if (n >= 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			*cause = xprintf("writing to control socket: %s",
			    strerror(errno));
			return (-1);
		}
		if ((r = wait_fd(fd, POLLOUT, deadline)) == 0) {
			*cause = xprintf("writing to control socket: timed "
			    "out after %d ms", timeout_ms);
			return (-1);
		}
		if (r == -1) {
			*cause = xprintf("poll: %s", strerror(errno));
			return (-1);
		}
	}
	return (0);
}

/* ctl_take_line, with the line's length. */
static char *
take_line(struct buf *b, size_t *lenp, int *too_long)
{
	char	*nl, *line;
	size_t	 len, scan;

	if (too_long != NULL)
		*too_long = 0;
	if (b->data == NULL || b->len == 0)
		return (NULL);
	scan = b->len < CTL_LINE_MAX + 1 ? b->len : CTL_LINE_MAX + 1;
	if ((nl = memchr(b->data, '\n', scan)) == NULL) {
		if (b->len > CTL_LINE_MAX && too_long != NULL)
			*too_long = 1;
		return (NULL);
	}
	len = (size_t)(nl - b->data);
	line = xmalloc(len + 1);
	memcpy(line, b->data, len);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	scan = (size_t)(nl - b->data) + 1;
	memmove(b->data, b->data + scan, b->len - scan);
	b->len -= scan;
	b->data[b->len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (line);
}

/* One framing for both sides of the socket, so that they agree on CR LF
 * and on the longest line. */
char *
ctl_take_line(struct buf *b, int *too_long)
{
	return (take_line(b, NULL, too_long));
}

/* How far the tokener read. */
static size_t
parse_end(json_tokener *tok)
{
#if JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	return (json_tokener_get_parse_end(tok));
#else
	return ((size_t)tok->char_offset);
#endif
}

/* json-c takes '...' strings even in strict mode; RFC 8259 does not. */
static int
single_quoted(const char *s)
{
	int	instr = 0;

	for (; *s != '\0'; s++) {
		if (instr && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			instr = !instr;
		else if (!instr && *s == '\'')
			return (1);
	}
	return (0);
}

json_object *
ctl_parse_line(const char *line, size_t len, const char *what,
    char **cause)
{
	json_tokener		*tok;
	json_object		*j;
	enum json_tokener_error	 err;
	size_t			 end;

	if (memchr(line, '\0', len) != NULL) {
		*cause = xprintf("%s holds a NUL byte", what);
		return (NULL);
	}
	if (single_quoted(line)) {
		*cause = xprintf("%s is not JSON: single quotes", what);
		return (NULL);
	}
	/* With its NUL, so that a bare number or literal is complete. */
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	j = json_tokener_parse_ex(tok, line, (int)len + 1);
	err = json_tokener_get_error(tok);
	end = parse_end(tok);
	json_tokener_free(tok);
	if (err != json_tokener_success) {
		json_object_put(j);
		*cause = xprintf("%s is not JSON: %s", what,
		    json_tokener_error_desc(err));
		return (NULL);
	}
	if (line[end + strspn(line + end, " \t")] != '\0') {
		json_object_put(j);
		*cause = xprintf("%s is not JSON: trailing text", what);
		return (NULL);
	}
	if (j == NULL || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		*cause = xprintf("%s is not a JSON object", what);
		return (NULL);
	}
	return (j);
}

/* ctl_request until deadline; timeout_ms is for messages. */
static int
request(struct ctl *c, json_object *req, json_object **reply,
    int64_t deadline, int timeout_ms, char **cause)
{
	struct buf	 out = BUF_INIT;
	char		 chunk[8192], *line = NULL;
	size_t		 len;
	ssize_t		 n;
	int		 too_long, r, rc = -1;

	*reply = NULL;
	buf_adds(&out, json_object_to_json_string_ext(req,
	    JSON_C_TO_STRING_PLAIN));
	buf_addc(&out, '\n');
	if (send_all(c->fd, out.data, out.len, deadline, timeout_ms,
	    cause) != 0)
		goto out;

	while ((line = take_line(&c->pending, &len, &too_long)) == NULL) {
		if (too_long) {
			*cause = xprintf("control socket reply longer than %d "
			    "bytes", CTL_LINE_MAX);
			goto out;
		}
		if ((r = wait_fd(c->fd, POLLIN, deadline)) == 0) {
			*cause = xprintf("no reply on control socket: timed "
			    "out after %d ms", timeout_ms);
			goto out;
		}
		if (r == -1) {
			*cause = xprintf("poll: %s", strerror(errno));
			goto out;
		}
		n = recv(c->fd, chunk, sizeof chunk, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n == -1) {
			*cause = xprintf("reading from control socket: %s",
			    strerror(errno));
			goto out;
		}
		if (n == 0) {
			*cause = xstrdup("control socket closed before a "
			    "reply");
			goto out;
		}
		buf_add(&c->pending, chunk, (size_t)n);
	}
	if ((*reply = ctl_parse_line(line, len, "control socket reply",
	    cause)) == NULL)
		goto out;
	rc = 0;
out:
	free(line);
	buf_free(&out);
	return (rc);
}

/* One request, one reply: the protocol of streamd(8). */
int
ctl_request(struct ctl *c, json_object *req, json_object **reply,
    int timeout_ms, char **cause)
{
	return (request(c, req, reply, deadline_of(timeout_ms), timeout_ms,
	    cause));
}

/* The CLI's commands are one request each; timeout_ms bounds the whole
 * exchange. */
int
ctl_call(const char *path, json_object *req, json_object **reply,
    int timeout_ms, char **cause)
{
	struct ctl	*c;
	int64_t		 deadline;
	int		 rc;

	*reply = NULL;
	deadline = deadline_of(timeout_ms);
	if (ctl_connect(path, timeout_ms, &c, cause) != 0)
		return (-1);
	rc = request(c, req, reply, deadline, timeout_ms, cause);
	ctl_close(c);
	return (rc);
}

/* For a caller that goes on with the socket after an "attach" reply. */
int
ctl_fd(const struct ctl *c)
{
	return (c->fd);
}

/* Bytes after the reply line belong to whatever the reply started. */
struct buf *
ctl_pending(struct ctl *c)
{
	return (&c->pending);
}

int
ctl_refused(json_object *reply, const char *what, char **cause)
{
	json_object	*v;

	if (json_object_object_get_ex(reply, "ok", &v) &&
	    json_object_get_boolean(v))
		return (0);
	if (json_object_object_get_ex(reply, "error", &v) &&
	    json_object_is_type(v, json_type_string))
		*cause = xstrdup(json_object_get_string(v));
	else
		*cause = xprintf("streamd refused the %s", what);
	return (1);
}
