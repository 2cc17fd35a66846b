#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "fsutil.h"
#include "jobs.h"
#include "log.h"
#include "streamd.h"
#include "xmalloc.h"

#define MAX_CLIENTS	4096
/* A viewer skipped forward this many times is too slow: dropped. */
#define MAX_SKIPS	5

volatile int	control_want_reload;
volatile int	control_want_shutdown;

struct lease {
	long long	 id;
	struct pipeline	*p;
};

struct client {
	int		 fd;
	struct buf	 in;
	struct buf	 out;
	size_t		 out_off;
	int		 closing;	/* close once out is sent */

	/* A waiting ensure or attach. */
	struct pipeline	*wp;
	int		 wrend;
	unsigned	 wout;
	int64_t		 wdeadline;
	unsigned	 wfails;
	int		 wattach;	/* counted on the feed's users */
	int		 woverlap;	/* wp is private to this client */
	long long	 wid;
	char		*wvariant;

	struct lease	*leases;
	size_t		 nleases;

	/* A waiting record-start (rstop 0) or record-stop (1). */
	struct recorder	*rec;
	struct pipeline	*rp;
	unsigned	 rfails;
	int		 rstop;
	int64_t		 rdeadline;

	/* Attached to a feed: raw bytes after the reply. */
	struct pipeline	*ap;
	int		 arend;
	unsigned	 aout;
	struct feed	*feed;
	struct feed_reader rd;
	struct feed_chunk *cur;
};

struct control {
	struct manager	*m;
	char		*path;
	int		 listen_fd;
	int		 wake_fd;
	int		 quit_fd;
	pthread_t	 thread;
	int		 started;
	struct client	**c;
	size_t		 n;
	long long	 next_lease;
	int		 ensure_timeout;
};

static void
send_line(struct client *cl, json_object *o)
{
	buf_adds(&cl->out, json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_addc(&cl->out, '\n');
	json_object_put(o);
}

static void
send_error(struct client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
send_error(struct client *cl, const char *fmt, ...)
{
	json_object	*o;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg ? msg :
	    "out of memory"));
	free(msg);
	send_line(cl, o);
}

static json_object *
ok_reply(void)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return (o);
}

static void
client_free(struct control *c, struct client *cl)
{
	size_t	i;

	for (i = 0; i < cl->nleases; i++) {
		manager_lease(c->m, cl->leases[i].p, -1);
		manager_put(c->m, cl->leases[i].p);
	}
	free(cl->leases);
	if (cl->wp != NULL) {
		if (cl->wattach)
			pipeline_feed_use(cl->wp, cl->wrend, cl->wout, -1);
		manager_put(c->m, cl->wp);
	}
	if (cl->ap != NULL) {
		feed_chunk_put(cl->feed, cl->cur);
		pipeline_feed_use(cl->ap, cl->arend, cl->aout, -1);
		manager_lease(c->m, cl->ap, -1);
		manager_put(c->m, cl->ap);
	}
	if (cl->rec != NULL)
		record_release(cl->rec);
	free(cl->wvariant);
	buf_free(&cl->in);
	buf_free(&cl->out);
	close(cl->fd);
	free(cl);
}

/* Request fields. */
static int
get_stream(json_object *req, long long *id)
{
	json_object	*v;

	if (!json_object_object_get_ex(req, "stream", &v) ||
	    !json_object_is_type(v, json_type_int))
		return (-1);
	*id = json_object_get_int64(v);
	return (0);
}

static const char *
get_string(json_object *req, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(req, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return (NULL);
	return (json_object_get_string(v));
}

/* Starts waiting for an output of a pipeline: ensure and attach. */
static void
cmd_ensure(struct control *c, struct client *cl, json_object *req,
    int attach)
{
	json_object	*v;
	const char	*variant, *oname;
	unsigned	 out;
	long long	 id;
	int		 timeout_ms = c->ensure_timeout * 1000, overlap = 0, rc;
	char		*cause = NULL;

	if (get_stream(req, &id) != 0) {
		send_error(cl, "'stream' must be a stream id");
		return;
	}
	variant = get_string(req, "variant");
	oname = get_string(req, "output");
	if (oname == NULL)
		oname = attach ? "ts" : "hls";
	if ((out = output_from_name(oname)) == 0 || (attach &&
	    out != OUTPUT_TS && out != OUTPUT_AUDIO)) {
		send_error(cl, "unknown output '%s'%s", oname, attach ?
		    " (attach takes ts or audio)" : "");
		return;
	}
	if (json_object_object_get_ex(req, "timeout_ms", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 600000) {
			send_error(cl, "'timeout_ms' must be 0 to 600000");
			return;
		}
		timeout_ms = (int)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(req, "overlap", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			send_error(cl, "'overlap' must be true or false");
			return;
		}
		overlap = json_object_get_boolean(v);
		if (overlap && !attach) {
			send_error(cl, "'overlap' is for attach only");
			return;
		}
	}
	if (cl->wp != NULL || cl->ap != NULL) {
		send_error(cl, "one request at a time on a connection");
		return;
	}
	if (overlap)
		rc = manager_ensure_private(c->m, id, variant, out, &cl->wp,
		    &cl->wrend, &cause);
	else
		rc = manager_ensure(c->m, id, variant, out, &cl->wp,
		    &cl->wrend, &cause);
	if (rc != 0) {
		send_error(cl, "%s", cause);
		free(cause);
		return;
	}
	/* The feed's output stays while someone attaches to it. */
	if (attach)
		pipeline_feed_use(cl->wp, cl->wrend, out, 1);
	pthread_mutex_lock(&cl->wp->lock);
	cl->wfails = cl->wp->failed_runs;
	pthread_mutex_unlock(&cl->wp->lock);
	cl->wout = out;
	cl->wattach = attach;
	cl->woverlap = overlap;
	cl->wid = id;
	free(cl->wvariant);
	cl->wvariant = xstrdup(variant ? variant : "");
	cl->wdeadline = now_us() + (int64_t)timeout_ms * 1000;
}

/* Answers a waiting ensure when its output is ready, its input failed,
 * or its time is up. */
static void
check_wait(struct control *c, struct client *cl)
{
	struct pipeline	*p = cl->wp;
	json_object	*o;
	char		*path, *err = NULL;
	int		 ready, failed;

	ready = pipeline_ready(p, cl->wrend, cl->wout);
	pthread_mutex_lock(&p->lock);
	failed = p->failed_runs != cl->wfails || p->state ==
	    PIPELINE_STOPPED;
	if (failed || !ready)
		err = xstrdup(p->last_error ? p->last_error : "");
	pthread_mutex_unlock(&p->lock);
	if (!ready && !failed && now_us() < cl->wdeadline) {
		free(err);
		return;
	}
	if (!ready) {
		send_error(cl, "stream %lld: %s%s%s", cl->wid, failed ?
		    "the input failed" : "not playable in time",
		    err[0] ? ": " : "", err);
		free(err);
		if (cl->wattach)
			pipeline_feed_use(p, cl->wrend, cl->wout, -1);
		manager_put(c->m, p);
		cl->wp = NULL;
		return;
	}
	free(err);
	manager_lease(c->m, p, 0);	/* the idle time starts now */
	o = ok_reply();
	json_object_object_add(o, "stream", json_object_new_int64(cl->wid));
	json_object_object_add(o, "variant",
	    json_object_new_string(cl->wvariant));
	json_object_object_add(o, "output",
	    json_object_new_string(output_name(cl->wout)));
	if (cl->wattach) {
		json_object_object_add(o, "content_type",
		    json_object_new_string(cl->wout == OUTPUT_TS ?
		    "video/mp2t" : "audio/aac"));
		json_object_object_add(o, "overlap",
		    json_object_new_boolean(cl->woverlap));
		cl->ap = p;
		cl->arend = cl->wrend;
		cl->aout = cl->wout;
		cl->feed = p->rend[cl->wrend].feed;
		memset(&cl->rd, 0, sizeof cl->rd);
		manager_lease(c->m, p, 1);
		log_info("control", "stream %lld: viewer attached (%s%s%s%s)",
		    cl->wid, output_name(cl->wout), cl->wvariant[0] ? " " :
		    "", cl->wvariant, cl->woverlap ? ", overlap" : "");
	} else {
		if ((path = pipeline_output_path(p, cl->wrend, cl->wout)) !=
		    NULL) {
			json_object_object_add(o, "path",
			    json_object_new_string(path));
			free(path);
		}
		manager_put(c->m, p);
	}
	cl->wp = NULL;
	send_line(cl, o);
}

static void
cmd_lease(struct control *c, struct client *cl, json_object *req)
{
	struct pipeline	*p;
	json_object	*o;
	const char	*oname;
	unsigned	 out = 0;
	long long	 id;
	char		*cause = NULL;
	int		 rend;

	if (get_stream(req, &id) != 0) {
		send_error(cl, "'stream' must be a stream id");
		return;
	}
	if ((oname = get_string(req, "output")) != NULL &&
	    (out = output_from_name(oname)) == 0) {
		send_error(cl, "unknown output '%s'", oname);
		return;
	}
	if (manager_ensure(c->m, id, get_string(req, "variant"), out, &p,
	    &rend, &cause) != 0) {
		send_error(cl, "%s", cause);
		free(cause);
		return;
	}
	manager_lease(c->m, p, 1);
	cl->leases = xreallocarray(cl->leases, cl->nleases + 1,
	    sizeof *cl->leases);
	cl->leases[cl->nleases].id = ++c->next_lease;
	cl->leases[cl->nleases].p = p;
	cl->nleases++;
	o = ok_reply();
	json_object_object_add(o, "lease", json_object_new_int64(
	    c->next_lease));
	send_line(cl, o);
}

static void
cmd_release(struct control *c, struct client *cl, json_object *req)
{
	json_object	*v;
	long long	 id;
	size_t		 i;

	if (!json_object_object_get_ex(req, "lease", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		send_error(cl, "'lease' must be a lease id");
		return;
	}
	id = json_object_get_int64(v);
	for (i = 0; i < cl->nleases; i++) {
		if (cl->leases[i].id != id)
			continue;
		manager_lease(c->m, cl->leases[i].p, -1);
		manager_put(c->m, cl->leases[i].p);
		cl->leases[i] = cl->leases[--cl->nleases];
		send_line(cl, ok_reply());
		return;
	}
	send_error(cl, "no lease %lld on this connection", id);
}

static void
cmd_restart_stop(struct control *c, struct client *cl, json_object *req,
    int stop)
{
	const char	*oname;
	unsigned	 out = 0;
	long long	 id;
	char		*cause = NULL;
	int		 rc;

	if (get_stream(req, &id) != 0) {
		send_error(cl, "'stream' must be a stream id");
		return;
	}
	if (stop && (oname = get_string(req, "output")) != NULL &&
	    (out = output_from_name(oname)) == 0) {
		send_error(cl, "unknown output '%s'", oname);
		return;
	}
	if (stop)
		rc = manager_stop(c->m, id, get_string(req, "variant"), out,
		    &cause);
	else
		rc = manager_restart(c->m, id, get_string(req, "variant"),
		    &cause);
	if (rc != 0) {
		send_error(cl, "%s", cause);
		free(cause);
		return;
	}
	send_line(cl, ok_reply());
}

/* record-start: starts recording row "recording" of "stream" (and
 * "variant") in "format" (ts or mp4), until "stop_at" (epoch s) if
 * given; answers once the first keyframe is in the file, or no when the
 * input fails or "timeout_ms" passes (the recording is then dropped).
 * record-stop: stops recording "recording" and answers once its file is
 * finalised. */
static void
cmd_record(struct control *c, struct client *cl, json_object *req, int stop)
{
	struct recorder	*rec;
	json_object	*v;
	const char	*format;
	long long	 id = 0, rec_id;
	double		 stop_at = 0;
	int		 timeout_ms = c->ensure_timeout * 1000;
	char		*cause = NULL;

	if (!json_object_object_get_ex(req, "recording", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (rec_id = json_object_get_int64(v)) <= 0) {
		send_error(cl, "'recording' must be a recording id");
		return;
	}
	if (json_object_object_get_ex(req, "timeout_ms", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 600000) {
			send_error(cl, "'timeout_ms' must be 0 to 600000");
			return;
		}
		timeout_ms = (int)json_object_get_int64(v);
	}
	if (stop) {
		if ((rec = manager_record_find(c->m, rec_id)) == NULL) {
			send_error(cl, "no recording %lld", rec_id);
			return;
		}
		record_stop(rec, NULL);
		if (timeout_ms < 30000)
			timeout_ms = 30000;
	} else {
		if (get_stream(req, &id) != 0) {
			send_error(cl, "'stream' must be a stream id");
			return;
		}
		format = get_string(req, "format");
		if (format == NULL)
			format = "ts";
		if (strcmp(format, "ts") != 0 && strcmp(format, "mp4") != 0) {
			send_error(cl, "'format' must be ts or mp4");
			return;
		}
		if (json_object_object_get_ex(req, "stop_at", &v)) {
			if (!json_object_is_type(v, json_type_int) ||
			    json_object_get_int64(v) <= 0) {
				send_error(cl, "'stop_at' must be a time in "
				    "epoch seconds");
				return;
			}
			stop_at = (double)json_object_get_int64(v);
		}
		if (manager_record_start(c->m, id, get_string(req, "variant"),
		    rec_id, format, 0, stop_at, 1, &rec, &cause) != 0) {
			send_error(cl, "%s", cause);
			free(cause);
			return;
		}
	}
	cl->rec = rec;
	cl->rp = NULL;
	cl->rstop = stop;
	cl->rdeadline = now_us() + (int64_t)timeout_ms * 1000;
}

/* Answers a waiting record-start or record-stop when its recorder is
 * there, or its input failed, or its time is up. */
static void
check_record(struct control *c, struct client *cl)
{
	struct recorder	*rec = cl->rec;
	struct pipeline	*p;
	json_object	*o = NULL;
	const char	*why = NULL;
	char		*msg = NULL;
	int		 failed;

	(void)c;
	p = record_lock(rec);
	if (cl->rp != p) {
		cl->rp = p;
		cl->rfails = p->failed_runs;
	}
	failed = p->failed_runs != cl->rfails;
	if (!cl->rstop && rec->state == RECORD_RUNNING) {
		o = ok_reply();
		json_object_object_add(o, "started",
		    json_object_new_int64(rec->started));
	} else if (!cl->rstop && rec->state == RECORD_DONE) {
		rec->quiet = 1;
		msg = xprintf("recording %lld: %s", rec->id, rec->error ?
		    rec->error : "ended");
	} else if (!cl->rstop && (failed || now_us() >= cl->rdeadline)) {
		why = failed ? "the input failed" : "not started in time";
		msg = xprintf("stream %lld: %s%s%s", rec->channel, why,
		    p->last_error ? ": " : "", p->last_error ? p->last_error :
		    "");
		rec->quiet = 1;
		record_stop_locked(rec, why);
	} else if (cl->rstop && rec->state == RECORD_DONE) {
		o = ok_reply();
		json_object_object_add(o, "state", json_object_new_string(
		    rec->error == NULL ? "stopped" : rec->started ?
		    "interrupted" : "failed"));
		json_object_object_add(o, "started",
		    json_object_new_int64(rec->started));
		json_object_object_add(o, "stopped",
		    json_object_new_int64(rec->stopped));
		json_object_object_add(o, "bytes",
		    json_object_new_int64(rec->bytes));
		json_object_object_add(o, "duration",
		    json_object_new_double(rec->duration));
		json_object_object_add(o, "error", rec->error ?
		    json_object_new_string(rec->error) : NULL);
	} else if (cl->rstop && now_us() >= cl->rdeadline)
		msg = xprintf("recording %lld: not finalised in time",
		    rec->id);
	if (o != NULL) {
		json_object_object_add(o, "recording",
		    json_object_new_int64(rec->id));
		json_object_object_add(o, "stream",
		    json_object_new_int64(rec->channel));
		json_object_object_add(o, "file",
		    json_object_new_string(rec->file));
	}
	pthread_mutex_unlock(&p->lock);
	if (o == NULL && msg == NULL)
		return;
	record_release(rec);
	cl->rec = NULL;
	if (o != NULL)
		send_line(cl, o);
	else {
		send_error(cl, "%s", msg);
		free(msg);
	}
}

static void
handle_line(struct control *c, struct client *cl, const char *line)
{
	json_object	*req, *o, *v;
	const char	*cmd;
	char		*cause = NULL;

	if (line[0] == '\0')
		return;
	if ((req = ctl_parse_line(line, strlen(line), "request",
	    &cause)) == NULL) {
		free(cause);
		send_error(cl, "malformed request: expected one JSON object "
		    "per line");
		return;
	}
	if (!json_object_object_get_ex(req, "cmd", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		send_error(cl, "malformed request: no \"cmd\"");
		json_object_put(req);
		return;
	}
	cmd = json_object_get_string(v);
	if (strcmp(cmd, "ensure") == 0)
		cmd_ensure(c, cl, req, 0);
	else if (strcmp(cmd, "attach") == 0)
		cmd_ensure(c, cl, req, 1);
	else if (strcmp(cmd, "lease") == 0)
		cmd_lease(c, cl, req);
	else if (strcmp(cmd, "release") == 0)
		cmd_release(c, cl, req);
	else if (strcmp(cmd, "restart") == 0)
		cmd_restart_stop(c, cl, req, 0);
	else if (strcmp(cmd, "stop") == 0)
		cmd_restart_stop(c, cl, req, 1);
	else if (strcmp(cmd, "record-start") == 0)
		cmd_record(c, cl, req, 0);
	else if (strcmp(cmd, "record-stop") == 0)
		cmd_record(c, cl, req, 1);
	else if (strcmp(cmd, "jobs") == 0) {
		clip_wake();
		send_line(cl, ok_reply());
	}
	else if (strcmp(cmd, "status") == 0) {
		o = manager_status(c->m);
		json_object_object_add(o, "ok", json_object_new_boolean(1));
		json_object_object_add(o, "pid",
		    json_object_new_int64(getpid()));
		send_line(cl, o);
	} else if (strcmp(cmd, "reload") == 0) {
		control_want_reload = 1;
		send_line(cl, ok_reply());
	} else if (strcmp(cmd, "shutdown") == 0) {
		control_want_shutdown = 1;
		send_line(cl, ok_reply());
	} else
		send_error(cl, "unknown command '%.64s'", cmd);
	json_object_put(req);
}

/* Reads what the client sent; returns -1 when it is gone. */
static int
client_read(struct control *c, struct client *cl)
{
	char	 data[4096], *line;
	ssize_t	 n;
	int	 too_long = 0;

	n = read(cl->fd, data, sizeof data);
	if (n == 0)
		return (-1);
	if (n < 0)
		return (errno == EAGAIN || errno == EINTR ? 0 : -1);
	if (cl->ap != NULL || cl->closing)
		return (0);	/* attached: input is ignored */
	buf_add(&cl->in, data, (size_t)n);
	while ((line = ctl_take_line(&cl->in, &too_long)) != NULL) {
		if (cl->wp == NULL && cl->ap == NULL && cl->rec == NULL)
			handle_line(c, cl, line);
		else
			send_error(cl, "one request at a time on a "
			    "connection");
		free(line);
	}
	if (too_long) {
		send_error(cl, "request line longer than %d bytes",
		    CTL_LINE_MAX);
		cl->closing = 1;
		buf_reset(&cl->in);
	}
	return (0);
}

/* Takes the viewer's next chunk into cl->cur (kept until sent).
 * Returns -1 when the viewer must go: the feed ended, or it fell behind
 * too often. */
static int
take_chunk(struct client *cl)
{
	int	eof, skipped;

	if (cl->cur != NULL)
		return (0);
	cl->cur = feed_next(cl->feed, &cl->rd, &eof, &skipped);
	if (skipped) {
		log_warn("control", "stream %lld: a viewer fell behind; "
		    "skipped to the newest keyframe", cl->wid);
		if (cl->rd.skips >= MAX_SKIPS) {
			log_warn("control", "stream %lld: dropping a viewer "
			    "too slow for the stream", cl->wid);
			return (-1);
		}
	}
	return (cl->cur == NULL && eof ? -1 : 0);
}

/* Writes replies, then feed bytes; returns -1 when the client is gone or
 * dropped. */
static int
client_write(struct control *c, struct client *cl)
{
	ssize_t	n;

	(void)c;
	while (cl->out_off < cl->out.len) {
		n = send(cl->fd, cl->out.data + cl->out_off, cl->out.len -
		    cl->out_off, MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR ? 0 : -1);
		cl->out_off += (size_t)n;
	}
	buf_reset(&cl->out);
	cl->out_off = 0;
	if (cl->closing)
		return (-1);
	if (cl->ap == NULL)
		return (0);
	for (;;) {
		if (take_chunk(cl) != 0)
			return (-1);
		if (cl->cur == NULL)
			return (0);
		n = send(cl->fd, cl->cur->data + cl->rd.off, cl->cur->len -
		    cl->rd.off, MSG_NOSIGNAL);
		if (n < 0)
			return (errno == EAGAIN || errno == EINTR ? 0 : -1);
		cl->rd.off += (size_t)n;
		if (cl->rd.off < cl->cur->len)
			return (0);
		feed_advance(&cl->rd, cl->cur);
		feed_chunk_put(cl->feed, cl->cur);
		cl->cur = NULL;
	}
}

/* 1 if the client has something to write now. */
static int
wants_out(struct client *cl)
{
	if (cl->out.len > cl->out_off || cl->closing)
		return (1);
	if (cl->ap == NULL)
		return (0);
	if (take_chunk(cl) != 0) {
		cl->closing = 1;
		return (1);
	}
	return (cl->cur != NULL);
}

static void
accept_clients(struct control *c)
{
	struct client	*cl;
	int		 fd;

	while ((fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		if (c->n >= MAX_CLIENTS) {
			log_warn("control", "too many connections; refusing "
			    "one");
			close(fd);
			continue;
		}
		cl = xcalloc(1, sizeof *cl);
		cl->fd = fd;
		c->c = xreallocarray(c->c, c->n + 1, sizeof *c->c);
		c->c[c->n++] = cl;
	}
}

static void *
control_main(void *arg)
{
	struct control	*c = arg;
	struct pollfd	*pfd = NULL;
	uint64_t	 v;
	size_t		 i, n;
	ssize_t		 r;
	int		 timeout;

	for (;;) {
		pfd = xreallocarray(pfd, c->n + 3, sizeof *pfd);
		pfd[0].fd = c->listen_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->wake_fd;
		pfd[1].events = POLLIN;
		pfd[2].fd = c->quit_fd;
		pfd[2].events = POLLIN;
		timeout = 1000;
		for (i = 0; i < c->n; i++) {
			pfd[i + 3].fd = c->c[i]->fd;
			pfd[i + 3].events = POLLIN;
			if (wants_out(c->c[i]))
				pfd[i + 3].events |= POLLOUT;
			if (c->c[i]->wp != NULL || c->c[i]->rec != NULL)
				timeout = 50;
			if (c->c[i]->ap != NULL && timeout > 20)
				timeout = 20;
		}
		n = c->n;
		if (poll(pfd, n + 3, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents)
			break;
		if (pfd[1].revents)
			r = read(c->wake_fd, &v, sizeof v);
		(void)r;
		for (i = n; i > 0; i--) {
			struct client *cl = c->c[i - 1];
			short re = pfd[i + 2].revents;
			int gone = 0;

			if (re & (POLLIN | POLLHUP | POLLERR))
				gone = client_read(c, cl) != 0;
			if (!gone && cl->wp != NULL)
				check_wait(c, cl);
			if (!gone && cl->rec != NULL)
				check_record(c, cl);
			if (!gone && (cl->out.len > cl->out_off ||
			    cl->closing || cl->ap != NULL))
				gone = client_write(c, cl) != 0;
			if (gone) {
				client_free(c, cl);
				c->c[i - 1] = c->c[--c->n];
			}
		}
		if (pfd[0].revents & POLLIN)
			accept_clients(c);
	}
	free(pfd);
	return (NULL);
}

/* Binds the socket: a stale one left by a crash is replaced, a live one
 * (another streamd) is an error. */
int
control_listen(const char *path, const char *what, const struct config *cfg,
    char **cause)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 mode;
	char			*dir, *slash, *failed = NULL;
	int			 fd, probe;

	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xprintf("%s %s: path too long (%zu bytes, at most "
		    "%zu)", what, path, strlen(path), sizeof sun.sun_path - 1);
		return (-1);
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (fs_mkdirs(dir, 0755, &failed) != 0) {
			log_warn("control", "%s: %s", failed, strerror(errno));
			free(failed);
		}
	}
	free(dir);

	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
	    sizeof sun) == 0) {
		close(probe);
		*cause = xprintf("%s %s: another streamd is listening there",
		    what, path);
		return (-1);
	}
	if (probe >= 0)
		close(probe);
	unlink(path);

	/* A long queue: a web server's non-blocking connect fails at once
	 * (EAGAIN) while the queue is full, and a burst of players arrives
	 * faster than threads start. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 ||
	    listen(fd, SOMAXCONN) != 0) {
		*cause = xprintf("%s %s: %s", what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return (-1);
	}
	mode = (mode_t)strtol(cfg->server.control_socket_mode, NULL, 8);
	if (chmod(path, mode) != 0)
		log_warn("control", "chmod %s: %s", path, strerror(errno));
	if (cfg->server.control_socket_group != NULL) {
		if ((gr = getgrnam(cfg->server.control_socket_group)) == NULL)
			log_warn("control", "control_socket_group %s: no such "
			    "group", cfg->server.control_socket_group);
		else if (chown(path, (uid_t)-1, gr->gr_gid) != 0)
			log_warn("control", "chown %s: %s", path,
			    strerror(errno));
	}
	return (fd);
}

int
control_open(struct control **out, const struct config *cfg,
    struct manager *m, int wake_fd, char **cause)
{
	struct control		*c;
	const char		*path = cfg->server.control_socket;
	int			 fd;

	if ((fd = control_listen(path, "control_socket", cfg, cause)) < 0)
		return (-1);
	c = xcalloc(1, sizeof *c);
	c->m = m;
	c->path = xstrdup(path);
	c->listen_fd = fd;
	c->wake_fd = wake_fd;
	c->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->ensure_timeout = (int)cfg->server.ensure_timeout;
	*out = c;
	log_info("control", "listening on %s", path);
	return (0);
}

int
control_start(struct control *c, char **cause)
{
	int	err;

	if ((err = pthread_create(&c->thread, NULL, control_main, c)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		return (-1);
	}
	c->started = 1;
	return (0);
}

void
control_close(struct control *c)
{
	uint64_t	one = 1;
	size_t		i;
	ssize_t		n;

	if (c == NULL)
		return;
	if (c->started) {
		n = write(c->quit_fd, &one, sizeof one);
		(void)n;
		pthread_join(c->thread, NULL);
	}
	for (i = 0; i < c->n; i++)
		client_free(c, c->c[i]);
	free(c->c);
	close(c->listen_fd);
	close(c->quit_fd);
	unlink(c->path);
	free(c->path);
	free(c);
}
