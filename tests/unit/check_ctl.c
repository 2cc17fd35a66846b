#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "buf.h"
#include "ctl.h"
#include "testutil.h"
#include "xmalloc.h"

/* How late a timeout may fire on a busy machine. */
#define SLACK_MS	200

/* What the scripted server does once a client is connected. */
enum srv_mode {
	SRV_REPLY,	/* reads a line, writes the reply, waits for EOF */
	SRV_REPLY_CLOSE, /* reads a line, writes the reply, closes */
	SRV_SILENT,	/* reads a line, answers nothing until released */
	SRV_CLOSE,	/* reads a line, then closes */
	SRV_CLOSE_NOW	/* closes before reading anything */
};

struct server {
	char		*dir;
	char		*path;
	int		 lfd;
	int		 release[2];	/* SRV_SILENT waits for [1] to close */
	pthread_t	 thread;
	int		 running;
	enum srv_mode	 mode;
	const char	*reply;
	size_t		 reply_len;
	size_t		 chunk;		/* bytes per write; 0 = one write */
	struct buf	 request;	/* what it read */
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void *
serve(void *arg)
{
	struct server	*s = arg;
	struct pollfd	 pfd;
	char		 chunk[65536];
	size_t		 off, len;
	ssize_t		 n;
	int		 fd;

	if ((fd = accept(s->lfd, NULL, NULL)) == -1)
		return (NULL);
	if (s->mode == SRV_CLOSE_NOW) {
		close(fd);
		return (NULL);
	}
	while (s->request.len == 0 ||
	    memchr(s->request.data, '\n', s->request.len) == NULL) {
		if ((n = read(fd, chunk, sizeof chunk)) <= 0)
			break;
		buf_add(&s->request, chunk, (size_t)n);
	}
	switch (s->mode) {
	case SRV_REPLY:
	case SRV_REPLY_CLOSE:
		for (off = 0; off < s->reply_len; off += (size_t)n) {
			len = s->reply_len - off;
			if (s->chunk != 0 && len > s->chunk)
				len = s->chunk;
			n = send(fd, s->reply + off, len, MSG_NOSIGNAL);
			if (n <= 0)
				break;
			if (s->chunk != 0)
				usleep(1000);
		}
		while (s->mode == SRV_REPLY &&
		    read(fd, chunk, sizeof chunk) > 0)
			;
		break;
	case SRV_SILENT:
		pfd.fd = s->release[0];
		pfd.events = POLLIN;
		poll(&pfd, 1, 30000);
		break;
	case SRV_CLOSE:
	case SRV_CLOSE_NOW:
		break;
	}
	close(fd);
	return (NULL);
}

/* A socket path in a scratch directory, short enough for sun_path even
 * when the build tree is deep. */
static void
socket_path(struct server *s)
{
	char	tmpl[] = "/tmp/amps-ctl.XXXXXX";

	s->dir = tu_tmpdir();
	s->path = xprintf("%s/ctl.sock", s->dir);
	if (strlen(s->path) < 100)
		return;
	tu_rmtree(s->dir);
	free(s->dir);
	free(s->path);
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	s->dir = xstrdup(tmpl);
	s->path = xprintf("%s/ctl.sock", s->dir);
}

/* Binds the socket; with backlog >= 0 listens, and with a mode starts
 * the thread that serves one client. */
static void
server_open(struct server *s, int backlog)
{
	struct sockaddr_un	sun;

	memset(s, 0, sizeof *s);
	buf_init(&s->request);
	s->release[0] = s->release[1] = -1;
	socket_path(s);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, s->path);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sun, sizeof sun),
	    0);
	if (backlog >= 0)
		ck_assert_int_eq(listen(s->lfd, backlog), 0);
	ck_assert_int_eq(pipe(s->release), 0);
}

static void
server_start(struct server *s, enum srv_mode mode, const char *reply,
    size_t reply_len, size_t chunk)
{
	server_open(s, 4);
	s->mode = mode;
	s->reply = reply;
	s->reply_len = reply_len;
	s->chunk = chunk;
	ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
	s->running = 1;
}

static void
server_join(struct server *s)
{
	if (!s->running)
		return;
	if (s->release[1] != -1) {
		close(s->release[1]);
		s->release[1] = -1;
	}
	ck_assert_int_eq(pthread_join(s->thread, NULL), 0);
	s->running = 0;
}

static void
server_stop(struct server *s)
{
	server_join(s);
	if (s->release[0] != -1)
		close(s->release[0]);
	if (s->release[1] != -1)
		close(s->release[1]);
	close(s->lfd);
	tu_rmtree(s->dir);
	free(s->dir);
	free(s->path);
	buf_free(&s->request);
}

static json_object *
status_request(void)
{
	json_object	*req;

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	return (req);
}

/* Sends a request to a server that answers reply; expects an error
 * whose text holds want. */
static void
reply_fails(const char *reply, size_t chunk, const char *want)
{
	struct server	 s;
	struct ctl	*c;
	json_object	*req, *rep = NULL;
	char		*cause = NULL;

	server_start(&s, SRV_REPLY, reply, strlen(reply), chunk);
	ck_assert_int_eq(ctl_connect(s.path, 2000, &c, &cause), 0);
	req = status_request();
	ck_assert_int_eq(ctl_request(c, req, &rep, 2000, &cause), -1);
	ck_assert_ptr_null(rep);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "%s: cause [%s] lacks [%s]",
	    reply, cause, want);
	free(cause);
	json_object_put(req);
	ctl_close(c);
	server_stop(&s);
}

START_TEST(test_take_line)
{
	struct buf	 b = BUF_INIT;
	char		*line;
	int		 too_long = -1;

	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 0);

	buf_adds(&b, "abc\ndef\r\nxyz");
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "abc");
	free(line);
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "def");
	free(line);
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 0);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_str_eq(b.data, "xyz");

	/* A line split across reads. */
	buf_adds(&b, "1");
	ck_assert_ptr_null(ctl_take_line(&b, NULL));
	buf_adds(&b, "2\r");
	ck_assert_ptr_null(ctl_take_line(&b, NULL));
	buf_adds(&b, "\n\n\r\nrest");
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "xyz12");
	free(line);
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "");
	free(line);
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "");
	free(line);
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_str_eq(b.data, "rest");
	/* Only a CR right before the newline goes. */
	buf_adds(&b, "\ra\r\r\n");
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "rest\ra\r");
	free(line);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_take_line_long)
{
	struct buf	 b = BUF_INIT;
	char		*big, *line;
	int		 too_long = -1;

	big = xmalloc(CTL_LINE_MAX + 2);
	memset(big, 'a', CTL_LINE_MAX + 1);

	/* Exactly the limit, newline not yet there: wait for more. */
	buf_add(&b, big, CTL_LINE_MAX);
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 0);
	buf_addc(&b, '\n');
	line = ctl_take_line(&b, &too_long);
	ck_assert_ptr_nonnull(line);
	ck_assert_uint_eq(strlen(line), CTL_LINE_MAX);
	free(line);
	ck_assert_uint_eq(b.len, 0);

	/* One more, with or without its newline in the buffer. */
	buf_add(&b, big, CTL_LINE_MAX + 1);
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 1);
	ck_assert_ptr_null(ctl_take_line(&b, NULL));
	buf_addc(&b, '\n');
	too_long = 0;
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 1);
	buf_free(&b);

	/* A short line ahead of a long one is still taken. */
	buf_adds(&b, "ok\n");
	buf_add(&b, big, CTL_LINE_MAX + 1);
	line = ctl_take_line(&b, &too_long);
	ck_assert_str_eq(line, "ok");
	ck_assert_int_eq(too_long, 0);
	free(line);
	ck_assert_ptr_null(ctl_take_line(&b, &too_long));
	ck_assert_int_eq(too_long, 1);
	buf_free(&b);
	free(big);
}
END_TEST

START_TEST(test_request)
{
	static const char	 reply[] =
	    "{\"ok\": true, \"n\": 1, \"s\": \"it's \\\"'\\\"\"}\n";
	struct server		 s;
	struct ctl		*c;
	json_object		*req, *rep = NULL, *v;
	char			*cause = NULL;

	server_start(&s, SRV_REPLY, reply, strlen(reply), 0);
	ck_assert_int_eq(ctl_connect(s.path, 2000, &c, &cause), 0);
	ck_assert_int_ge(ctl_fd(c), 0);
	ck_assert_int_ne(fcntl(ctl_fd(c), F_GETFD) & FD_CLOEXEC, 0);
	req = status_request();
	ck_assert_msg(ctl_request(c, req, &rep, 2000, &cause) == 0, "%s",
	    cause);
	ck_assert(json_object_object_get_ex(rep, "ok", &v));
	ck_assert(json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(rep, "n", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(rep, "s", &v));
	ck_assert_str_eq(json_object_get_string(v), "it's \"'\"");
	ck_assert_uint_eq(ctl_pending(c)->len, 0);
	json_object_put(rep);
	ctl_close(c);
	server_join(&s);
	ck_assert_str_eq(s.request.data, "{\"cmd\":\"status\"}\n");
	json_object_put(req);
	server_stop(&s);
}
END_TEST

/* A reply that arrives a byte at a time, ending in CR LF. */
START_TEST(test_request_split)
{
	static const char	 reply[] = "{\"ok\":true,\"split\":\"yes\"}\r\n";
	struct server		 s;
	json_object		*req, *rep = NULL, *v;
	char			*cause = NULL;

	server_start(&s, SRV_REPLY, reply, strlen(reply), 1);
	req = status_request();
	ck_assert_msg(ctl_call(s.path, req, &rep, 5000, &cause) == 0, "%s",
	    cause);
	ck_assert(json_object_object_get_ex(rep, "split", &v));
	ck_assert_str_eq(json_object_get_string(v), "yes");
	json_object_put(rep);
	json_object_put(req);
	server_stop(&s);
}
END_TEST

/* What follows the reply line stays for the caller (attach). */
START_TEST(test_request_pending)
{
	static const char	 reply[] =
	    "{\"ok\":true,\"n\":1}\n{\"ok\":false,\"error\":\"x\"}\nRAW\0BYTES";
	struct server		 s;
	struct ctl		*c;
	struct buf		*p;
	json_object		*req, *rep = NULL, *v;
	char			*cause = NULL, *line;

	server_start(&s, SRV_REPLY, reply, sizeof reply - 1, 0);
	ck_assert_int_eq(ctl_connect(s.path, 2000, &c, &cause), 0);
	req = status_request();
	ck_assert_int_eq(ctl_request(c, req, &rep, 2000, &cause), 0);
	ck_assert(json_object_object_get_ex(rep, "n", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	json_object_put(rep);
	p = ctl_pending(c);
	ck_assert_uint_eq(p->len, sizeof reply - 1 - 18);
	ck_assert(memcmp(p->data, reply + 18, p->len) == 0);
	line = ctl_take_line(p, NULL);
	ck_assert_str_eq(line, "{\"ok\":false,\"error\":\"x\"}");
	free(line);
	ck_assert_uint_eq(p->len, 9);
	ck_assert(memcmp(p->data, "RAW\0BYTES", 9) == 0);

	/* A second request takes a line already pending, without reading. */
	buf_reset(p);
	buf_adds(p, "{\"ok\":true,\"n\":2}\nmore");
	ck_assert_int_eq(ctl_request(c, req, &rep, 2000, &cause), 0);
	ck_assert(json_object_object_get_ex(rep, "n", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	ck_assert_str_eq(ctl_pending(c)->data, "more");
	json_object_put(rep);
	json_object_put(req);
	ctl_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(test_request_not_json)
{
	reply_fails("hello\n", 0, "not JSON");
	reply_fails("\n", 0, "not JSON");
	reply_fails("{\"ok\": true\n", 0, "not JSON");
	reply_fails("{\"ok\": true} x\n", 0, "not JSON");
	reply_fails("{\"ok\": true}{}\n", 0, "not JSON");
	reply_fails("{'ok': true}\n", 0, "not JSON");
	reply_fails("{\"ok\": 'x'}\n", 0, "not JSON");
	reply_fails("{\"a\\\"\": 'x'}\n", 0, "not JSON");
	reply_fails("{\"ok\": true,}\n", 0, "not JSON");
	reply_fails("{\"ok\": tru}\n", 0, "not JSON");
}
END_TEST

START_TEST(test_request_not_object)
{
	reply_fails("[1, 2]\n", 0, "not a JSON object");
	reply_fails("\"ok\"\n", 0, "not a JSON object");
	reply_fails("42 \n", 0, "not a JSON object");
	reply_fails("null\n", 0, "not a JSON object");
	reply_fails("true\r\n", 1, "not a JSON object");
}
END_TEST

START_TEST(test_request_long)
{
	struct server	 s;
	json_object	*req, *rep = NULL;
	char		*big, *cause = NULL;
	size_t		 len;

	/* A reply line of exactly CTL_LINE_MAX bytes is taken ... */
	big = xmalloc(CTL_LINE_MAX + 16);
	memset(big, 'x', CTL_LINE_MAX + 15);
	memcpy(big, "{\"s\":\"", 6);
	memcpy(big + CTL_LINE_MAX - 2, "\"}\n", 4);
	server_start(&s, SRV_REPLY, big, CTL_LINE_MAX + 1, 0);
	req = status_request();
	ck_assert_msg(ctl_call(s.path, req, &rep, 5000, &cause) == 0, "%s",
	    cause);
	json_object_put(rep);
	server_stop(&s);

	/* ... one byte more is not, newline or not. */
	memcpy(big + CTL_LINE_MAX - 2, "x\"}\n", 5);
	server_start(&s, SRV_REPLY, big, CTL_LINE_MAX + 2, 0);
	ck_assert_int_eq(ctl_call(s.path, req, &rep, 5000, &cause), -1);
	ck_assert_str_eq(cause, "control socket reply longer than 65536 "
	    "bytes");
	free(cause);
	server_stop(&s);
	memset(big, 'x', CTL_LINE_MAX + 15);
	server_start(&s, SRV_REPLY, big, CTL_LINE_MAX + 15, 0);
	ck_assert_int_eq(ctl_call(s.path, req, &rep, 5000, &cause), -1);
	ck_assert_str_eq(cause, "control socket reply longer than 65536 "
	    "bytes");
	free(cause);
	server_stop(&s);
	json_object_put(req);
	free(big);

	/* A request far larger than the socket buffer is written whole. */
	len = 4 * 1024 * 1024;
	big = xmalloc(len + 1);
	memset(big, 'y', len);
	memcpy(big, "a\"b\\c\nd", 7);
	big[len] = '\0';
	req = json_object_new_object();
	json_object_object_add(req, "blob", json_object_new_string(big));
	server_start(&s, SRV_REPLY, "{\"ok\":true}\n", 12, 0);
	ck_assert_msg(ctl_call(s.path, req, &rep, 10000, &cause) == 0, "%s",
	    cause);
	json_object_put(rep);
	server_join(&s);
	ck_assert_uint_eq(s.request.len, strlen(json_object_to_json_string_ext(
	    req, JSON_C_TO_STRING_PLAIN)) + 1);
	ck_assert(memcmp(s.request.data, json_object_to_json_string_ext(req,
	    JSON_C_TO_STRING_PLAIN), s.request.len - 1) == 0);
	ck_assert_int_eq(s.request.data[s.request.len - 1], '\n');
	server_stop(&s);
	json_object_put(req);
	free(big);
}
END_TEST

START_TEST(test_request_timeout)
{
	struct server	 s;
	struct ctl	*c;
	json_object	*req, *rep = NULL;
	char		*cause = NULL;
	int64_t		 t0, elapsed;

	server_start(&s, SRV_SILENT, NULL, 0, 0);
	ck_assert_int_eq(ctl_connect(s.path, 2000, &c, &cause), 0);
	req = status_request();
	t0 = now_ms();
	ck_assert_int_eq(ctl_request(c, req, &rep, 300, &cause), -1);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 295);
	ck_assert_int_lt(elapsed, 300 + SLACK_MS);
	ck_assert_str_eq(cause, "no reply on control socket: timed out "
	    "after 300 ms");
	ck_assert_ptr_null(rep);
	free(cause);
	ctl_close(c);
	server_join(&s);
	ck_assert_str_eq(s.request.data, "{\"cmd\":\"status\"}\n");
	server_stop(&s);

	/* ctl_call: one bound for connect and reply together. */
	server_start(&s, SRV_SILENT, NULL, 0, 0);
	t0 = now_ms();
	ck_assert_int_eq(ctl_call(s.path, req, &rep, 300, &cause), -1);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 295);
	ck_assert_int_lt(elapsed, 300 + SLACK_MS);
	ck_assert_ptr_nonnull(strstr(cause, "timed out"));
	free(cause);
	server_stop(&s);
	json_object_put(req);
}
END_TEST

START_TEST(test_request_closed)
{
	struct server	 s;
	struct ctl	*c;
	json_object	*req, *rep = NULL;
	char		*cause = NULL;

	/* The server reads the request and hangs up. */
	server_start(&s, SRV_CLOSE, NULL, 0, 0);
	req = status_request();
	ck_assert_int_eq(ctl_call(s.path, req, &rep, 2000, &cause), -1);
	ck_assert_str_eq(cause, "control socket closed before a reply");
	free(cause);
	server_stop(&s);

	/* ... or after half a line. */
	server_start(&s, SRV_REPLY_CLOSE, "{\"ok\": true}", 12, 0);
	ck_assert_int_eq(ctl_call(s.path, req, &rep, 2000, &cause), -1);
	ck_assert_str_eq(cause, "control socket closed before a reply");
	free(cause);
	server_stop(&s);

	/* The server is gone before the request: EPIPE, not SIGPIPE. */
	server_start(&s, SRV_CLOSE_NOW, NULL, 0, 0);
	ck_assert_int_eq(ctl_connect(s.path, 2000, &c, &cause), 0);
	server_join(&s);
	ck_assert_int_eq(ctl_request(c, req, &rep, 2000, &cause), -1);
	ck_assert_msg(strcmp(cause, "writing to control socket: Broken "
	    "pipe") == 0 || strcmp(cause, "writing to control socket: "
	    "Connection reset by peer") == 0, "%s", cause);
	free(cause);
	ctl_close(c);
	server_stop(&s);
	json_object_put(req);
}
END_TEST

START_TEST(test_connect_errors)
{
	struct server	 s;
	struct ctl	*c = (struct ctl *)&c;
	json_object	*req, *rep = (json_object *)&rep;
	char		*dir, *path, *cause = NULL, *want;
	size_t		 len;

	path = xmalloc(201);
	memset(path, 'a', 200);
	path[0] = '/';
	path[200] = '\0';
	ck_assert_int_eq(ctl_connect(path, 1000, &c, &cause), -1);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(cause, "control socket path too long (200 bytes, "
	    "at most 107)");
	free(cause);
	path[108] = '\0';
	ck_assert_int_eq(ctl_connect(path, 1000, &c, &cause), -1);
	ck_assert_str_eq(cause, "control socket path too long (108 bytes, "
	    "at most 107)");
	free(cause);
	/* 107 bytes fit: the error is about the file. */
	path[107] = '\0';
	ck_assert_int_eq(ctl_connect(path, 1000, &c, &cause), -1);
	ck_assert_ptr_null(strstr(cause, "too long"));
	ck_assert_ptr_nonnull(strstr(cause, "No such file or directory"));
	free(cause);
	free(path);

	req = status_request();
	ck_assert_int_eq(ctl_call("", req, &rep, 1000, &cause), -1);
	ck_assert_ptr_null(rep);
	ck_assert_str_eq(cause, "empty control socket path");
	free(cause);

	dir = tu_tmpdir();
	path = xprintf("%s/missing.sock", dir);
	len = strlen(path);
	ck_assert_int_eq(ctl_call(path, req, &rep, 1000, &cause), -1);
	want = xprintf("connect %s: No such file or directory", path);
	if (len <= 107)
		ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	tu_rmtree(dir);
	free(dir);
	free(path);

	/* Bound but not listening: streamd is not running. */
	server_open(&s, -1);
	ck_assert_int_eq(ctl_connect(s.path, 1000, &c, &cause), -1);
	want = xprintf("connect %s: Connection refused", s.path);
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	server_stop(&s);
	json_object_put(req);
}
END_TEST

/* A streamd that never accepts: its listen queue fills up. */
START_TEST(test_connect_timeout)
{
	struct server		 s;
	struct sockaddr_un	 sun;
	struct ctl		*c;
	char			*cause = NULL;
	int64_t			 t0, elapsed;
	int			 fds[8], i, n = 0;

	server_open(&s, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, s.path);
	for (i = 0; i < 8; i++) {
		fds[n] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ck_assert_int_ge(fds[n], 0);
		if (connect(fds[n], (struct sockaddr *)&sun, sizeof sun) != 0) {
			ck_assert_int_eq(errno, EAGAIN);
			close(fds[n]);
			break;
		}
		n++;
	}
	ck_assert_int_lt(n, 8);

	t0 = now_ms();
	ck_assert_int_eq(ctl_connect(s.path, 300, &c, &cause), -1);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 295);
	ck_assert_int_lt(elapsed, 300 + SLACK_MS);
	ck_assert_ptr_nonnull(strstr(cause, "timed out after 300 ms"));
	free(cause);
	for (i = 0; i < n; i++)
		close(fds[i]);
	server_stop(&s);
}
END_TEST

/* ok: true is the only yes; the error travels, or what was refused. */
START_TEST(test_refused)
{
	json_object	*r;
	char		*cause = NULL;

	r = json_tokener_parse("{\"ok\": true}");
	ck_assert_int_eq(ctl_refused(r, "attach", &cause), 0);
	ck_assert_ptr_null(cause);
	json_object_put(r);
	r = json_tokener_parse("{\"ok\": false, \"error\": \"no stream 9\"}");
	ck_assert_int_eq(ctl_refused(r, "attach", &cause), 1);
	ck_assert_str_eq(cause, "no stream 9");
	free(cause);
	json_object_put(r);
	r = json_tokener_parse("{\"error\": 5}");
	ck_assert_int_eq(ctl_refused(r, "ensure", &cause), 1);
	ck_assert_str_eq(cause, "streamd refused the ensure");
	free(cause);
	json_object_put(r);
}
END_TEST

static Suite *
ctl_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("ctl");
	tc = tcase_create("framing");
	tcase_add_test(tc, test_take_line);
	tcase_add_test(tc, test_take_line_long);
	suite_add_tcase(s, tc);
	tc = tcase_create("request");
	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_request_split);
	tcase_add_test(tc, test_request_pending);
	tcase_add_test(tc, test_request_not_json);
	tcase_add_test(tc, test_request_not_object);
	tcase_add_test(tc, test_request_long);
	tcase_add_test(tc, test_request_timeout);
	tcase_add_test(tc, test_request_closed);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("connect");
	tcase_add_test(tc, test_connect_errors);
	tcase_add_test(tc, test_connect_timeout);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(ctl_suite()));
}
