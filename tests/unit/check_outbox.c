#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "crypto.h"
#include "outbox.h"
#include "store.h"
#include "testutil.h"
#include "timefmt.h"

/* A webhook receiver on 127.0.0.1: one thread that takes connections one
 * at a time, reads each request whole, records it and answers with the
 * next status of its script (0: say nothing until the client hangs up). */
#define RX_MAX		32

struct rxreq {
	char		 path[64];
	char		*head;		/* request line and headers */
	char		*body;
	size_t		 len;
};

static struct {
	int		 fd;
	int		 port;
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	int		 script[RX_MAX];
	int		 nscript;
	int		 status;	/* after the script */
	struct rxreq	 reqs[RX_MAX];
	int		 n;
	volatile int	 quit;
} rx;

static char		*dir;
static struct store	*st;
static char		*cause;
static struct outbox_opts opts;

static void
serve(int c)
{
	struct rxreq	 r;
	char		*buf, *end, *cl;
	size_t		 len = 0, size = 65536, want;
	ssize_t		 got;
	int		 status;
	char		 answer[128];
	struct pollfd	 pfd;

	memset(&r, 0, sizeof r);
	buf = malloc(size + 1);
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if ((got = read(c, buf + len, size - len)) <= 0)
			goto out;
		len += (size_t)got;
	}
	want = 0;
	if ((cl = strcasestr(buf, "\r\ncontent-length:")) != NULL && cl < end)
		want = strtoul(cl + 17, NULL, 10);
	while (len < (size_t)(end + 4 - buf) + want) {
		if ((got = read(c, buf + len, size - len)) <= 0)
			goto out;
		len += (size_t)got;
	}
	r.head = strndup(buf, (size_t)(end + 2 - buf));
	r.len = want;
	r.body = strndup(end + 4, want);
	sscanf(buf, "%*s %63s", r.path);

	pthread_mutex_lock(&rx.lock);
	status = rx.n < rx.nscript ? rx.script[rx.n] : rx.status;
	if (rx.n < RX_MAX)
		rx.reqs[rx.n++] = r;
	else {
		free(r.head);
		free(r.body);
	}
	pthread_mutex_unlock(&rx.lock);

	if (status == 0) {
		/* Hang until the client gives up. */
		pfd.fd = c;
		pfd.events = POLLIN;
		while (!rx.quit && (poll(&pfd, 1, 100) == 0 ||
		    read(c, buf, size) > 0))
			continue;
		goto out;
	}
	snprintf(answer, sizeof answer, "HTTP/1.1 %d X\r\nContent-Length: 2"
	    "\r\nLocation: http://127.0.0.1:%d/elsewhere\r\n"
	    "Connection: close\r\n\r\nok", status, rx.port);
	if (write(c, answer, strlen(answer)) < 0)
		goto out;
out:
	free(buf);
	close(c);
}

static void *
rx_main(void *arg)
{
	struct pollfd	pfd;
	int		c;

	(void)arg;
	pfd.fd = rx.fd;
	pfd.events = POLLIN;
	while (!rx.quit) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((c = accept(rx.fd, NULL, NULL)) >= 0)
			serve(c);
	}
	return (NULL);
}

static void
rx_start(void)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof sa;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(rx.fd, 0);
	ck_assert_int_eq(bind(rx.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(rx.fd, 16), 0);
	ck_assert_int_eq(getsockname(rx.fd, (struct sockaddr *)&sa, &len), 0);
	rx.port = ntohs(sa.sin_port);
	rx.status = 200;
	pthread_mutex_init(&rx.lock, NULL);
	ck_assert_int_eq(pthread_create(&rx.thread, NULL, rx_main, NULL), 0);
}

static void
rx_stop(void)
{
	int	i;

	rx.quit = 1;
	pthread_join(rx.thread, NULL);
	close(rx.fd);
	for (i = 0; i < rx.n; i++) {
		free(rx.reqs[i].head);
		free(rx.reqs[i].body);
	}
	pthread_mutex_destroy(&rx.lock);
	memset(&rx, 0, sizeof rx);
}

/* The answers to the next requests, then 200 (or what rx.status says). */
static void
rx_script(int n, const int *statuses)
{
	pthread_mutex_lock(&rx.lock);
	memcpy(rx.script + rx.n, statuses, (size_t)n * sizeof *statuses);
	rx.nscript = rx.n + n;
	pthread_mutex_unlock(&rx.lock);
}

static int
rx_count(void)
{
	int	n;

	pthread_mutex_lock(&rx.lock);
	n = rx.n;
	pthread_mutex_unlock(&rx.lock);
	return (n);
}

/* The value of header name in request i (a copy; caller frees), or NULL. */
static char *
rx_header(int i, const char *name)
{
	const char	*p = rx.reqs[i].head, *e;
	size_t		 n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			e = strstr(p, "\r\n");
			return (strndup(p, (size_t)(e - p)));
		}
	}
	return (NULL);
}

/* The "event" of request i's body. */
static const char *
rx_event(int i, json_object **keep)
{
	json_object	*v;

	*keep = json_tokener_parse(rx.reqs[i].body);
	ck_assert_msg(*keep != NULL, "body is no JSON: %s", rx.reqs[i].body);
	ck_assert(json_object_object_get_ex(*keep, "event", &v));
	return (json_object_get_string(v));
}

static void
setup(void)
{
	cause = NULL;
	dir = tu_tmpdir();
	st = tu_store(dir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rx_start();
	opts.timeout = 5;
	opts.retry_for = 3600;
	opts.backoff_max = 0;
}

static void
teardown(void)
{
	rx_stop();
	store_close(st);
	st = NULL;
	free(cause);
	cause = NULL;
	tu_rmtree(dir);
	free(dir);
	dir = NULL;
	curl_global_cleanup();
}

/* The SQL of a printf format (caller frees). */
static char *
sqlf(const char *fmt, va_list ap)
{
	char	*sql;

	if (vasprintf(&sql, fmt, ap) < 0)
		ck_abort_msg("vasprintf failed");
	return (sql);
}

static void
exec_ok(const char *fmt, ...)
{
	char	*sql;
	va_list	 ap;

	va_start(ap, fmt);
	sql = sqlf(fmt, ap);
	va_end(ap);
	tu_sql(st, sql);
	free(sql);
}

static long long
query_int(const char *fmt, ...)
{
	long long	 v;
	char		*sql;
	va_list		 ap;

	va_start(ap, fmt);
	sql = sqlf(fmt, ap);
	va_end(ap);
	v = tu_sql_int(st, sql);
	free(sql);
	return (v);
}

/* The text of a one-value query (caller frees), NULL for SQL NULL. */
static char *
query_text(const char *fmt, ...)
{
	char	*sql, *v;
	va_list	 ap;

	va_start(ap, fmt);
	sql = sqlf(fmt, ap);
	va_end(ap);
	v = tu_sql_text(st, sql);
	free(sql);
	return (v);
}

/* A webhook named name at /name on the receiver. */
static void
hook(int position, const char *name, const char *events, const char *secret)
{
	exec_ok("INSERT INTO webhooks (position, name, url, events, secret) "
	    "VALUES (%d, '%s', 'http://127.0.0.1:%d/%s', %s%s%s, %s%s%s)",
	    position, name, rx.port, name, events != NULL ? "'" : "",
	    events != NULL ? events : "NULL", events != NULL ? "'" : "",
	    secret != NULL ? "'" : "", secret != NULL ? secret : "NULL",
	    secret != NULL ? "'" : "");
}

static int
emit(const char *event, const char *subject)
{
	json_object	*j = NULL;
	int		 n;

	if (subject != NULL)
		ck_assert_ptr_nonnull(j = json_tokener_parse(subject));
	n = outbox_emit(st, event, j, &cause);
	ck_assert_msg(n >= 0, "outbox_emit: %s", cause);
	json_object_put(j);
	return (n);
}

static int
deliver(void)
{
	int	n;

	n = outbox_deliver(st, &opts, NULL, &cause);
	ck_assert_msg(n >= 0, "outbox_deliver: %s", cause);
	return (n);
}

/* Makes every waiting row due now, as if its backoff had passed. */
static void
due(void)
{
	exec_ok("UPDATE webhook_outbox SET next_attempt = 0");
}

START_TEST(test_filter)
{
	json_object	*b;
	int		 i, a = 0, all = 0;

	hook(0, "a", "[\"epg.refreshed\", \"clip.ready\"]", NULL);
	hook(1, "all", NULL, NULL);
	hook(2, "none", "[\"recording.failed\"]", NULL);
	ck_assert_int_eq(emit("stream.started", "{\"id\": 1}"), 1);
	ck_assert_int_eq(emit("epg.refreshed", NULL), 2);
	ck_assert_int_eq(emit("clip.ready", NULL), 2);
	ck_assert_int_eq(deliver(), 5);
	ck_assert_int_eq(rx_count(), 5);
	for (i = 0; i < rx.n; i++) {
		if (strcmp(rx.reqs[i].path, "/a") == 0) {
			ck_assert_str_ne(rx_event(i, &b), "stream.started");
			a++;
		} else {
			ck_assert_str_eq(rx.reqs[i].path, "/all");
			rx_event(i, &b);
			all++;
		}
		json_object_put(b);
	}
	ck_assert_int_eq(a, 2);
	ck_assert_int_eq(all, 3);
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE delivered IS NULL"), 0);
	/* Nothing left: nothing tried. */
	ck_assert_int_eq(deliver(), 0);
	ck_assert_int_eq(rx_count(), 5);
}
END_TEST

START_TEST(test_body_headers)
{
	json_object	*b, *v, *subj;
	char		*h, *text, big[4000];
	int64_t		 t;

	hook(0, "x", NULL, NULL);
	emit("recording.stopped", "{\"id\": 17, \"file\": \"rec/3/17.ts\"}");
	/* A larger body goes without curl's "Expect: 100-continue". */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	if (asprintf(&text, "{\"title\": \"%s\"}", big) < 0)
		ck_abort_msg("asprintf failed");
	emit("recording.started", text);
	free(text);
	ck_assert_int_eq(deliver(), 2);
	ck_assert_int_eq(rx_count(), 2);
	ck_assert_int_eq(strncmp(rx.reqs[0].head, "POST /x ", 8), 0);
	ck_assert_ptr_null(rx_header(1, "Expect"));
	ck_assert_int_gt(rx.reqs[1].len, sizeof big);
	ck_assert_str_eq(rx_event(1, &b), "recording.started");
	json_object_put(b);
	ck_assert_str_eq(rx_event(0, &b), "recording.stopped");
	ck_assert(json_object_object_get_ex(b, "id", &v));
	ck_assert_int_eq(strlen(json_object_get_string(v)), 32);
	ck_assert(json_object_object_get_ex(b, "time", &v));
	ck_assert_int_eq(timefmt_parse_iso8601(json_object_get_string(v), &t),
	    0);
	ck_assert_int_le(llabs((long long)(t - time(NULL))), 5);
	ck_assert(json_object_object_get_ex(b, "subject", &v));
	subj = json_tokener_parse("{\"id\": 17, \"file\": \"rec/3/17.ts\"}");
	ck_assert(json_object_equal(v, subj));
	json_object_put(subj);
	json_object_put(b);

	ck_assert_str_eq(h = rx_header(0, "Content-Type"), "application/json");
	free(h);
	ck_assert_str_eq(h = rx_header(0, "User-Agent"), "amps/"
	    PACKAGE_VERSION);
	free(h);
	ck_assert_str_eq(h = rx_header(0, "X-Amps-Event"),
	    "recording.stopped");
	free(h);
	ck_assert_ptr_nonnull(h = rx_header(0, "X-Amps-Delivery"));
	ck_assert_int_eq(atoll(h), query_int("SELECT min(id) FROM "
	    "webhook_outbox"));
	free(h);
	ck_assert_ptr_null(rx_header(0, "X-Amps-Signature"));
	ck_assert_ptr_null(rx_header(0, "Expect"));
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE attempts = 1"), 2);
	ck_assert_int_le(llabs(query_int("SELECT min(delivered) FROM "
	    "webhook_outbox") - (long long)time(NULL)), 5);
}
END_TEST

START_TEST(test_signature)
{
	char	 want[CRYPTO_SHA256_HEXLEN + 1], *h;
	int	 i;

	hook(0, "signed", NULL, "s3cret");
	hook(1, "plain", NULL, NULL);
	emit("epg.failed", "{\"source\": \"x\", \"error\": \"\\u00e9\\\"<\"}");
	/* The secret is the one configured when the POST is made. */
	exec_ok("UPDATE webhooks SET secret = 'n3w' WHERE name = 'signed'");
	ck_assert_int_eq(deliver(), 2);
	ck_assert_int_eq(rx_count(), 2);
	for (i = 0; i < 2; i++) {
		h = rx_header(i, "X-Amps-Signature");
		if (strcmp(rx.reqs[i].path, "/plain") == 0) {
			ck_assert_ptr_null(h);
			continue;
		}
		crypto_hmac_sha256_hex("n3w", 3, rx.reqs[i].body,
		    rx.reqs[i].len, want);
		ck_assert_ptr_nonnull(h);
		ck_assert_int_eq(strncmp(h, "sha256=", 7), 0);
		ck_assert_str_eq(h + 7, want);
		free(h);
	}
}
END_TEST

START_TEST(test_order_kept)
{
	static const int	 script[] = { 500, 200 };
	json_object		*b;
	char			*e;
	int			 i;

	hook(0, "x", NULL, NULL);
	hook(1, "y", NULL, NULL);
	emit("stream.started", "{\"n\": 1}");
	emit("stream.stopped", "{\"n\": 2}");
	rx_script(2, script);
	/* x's first fails, so x's second waits; y's go on. */
	ck_assert_int_eq(deliver(), 3);
	ck_assert_int_eq(rx_count(), 3);
	ck_assert_str_eq(rx.reqs[0].path, "/x");
	ck_assert_str_eq(rx.reqs[1].path, "/y");
	ck_assert_str_eq(rx.reqs[2].path, "/y");
	ck_assert_str_eq(rx_event(1, &b), "stream.started");
	json_object_put(b);
	ck_assert_str_eq(rx_event(2, &b), "stream.stopped");
	json_object_put(b);
	ck_assert_int_eq(query_int("SELECT attempts FROM webhook_outbox "
	    "WHERE webhook = 'x' AND event = 'stream.started'"), 1);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox WHERE webhook = 'x' AND event = 'stream.started'"),
	    "HTTP 500");
	free(e);
	/* Not yet due: nothing is sent. */
	ck_assert_int_eq(deliver(), 0);
	ck_assert_int_eq(rx_count(), 3);
	due();
	ck_assert_int_eq(deliver(), 2);
	ck_assert_int_eq(rx_count(), 5);
	for (i = 3; i < 5; i++)
		ck_assert_str_eq(rx.reqs[i].path, "/x");
	ck_assert_str_eq(rx_event(3, &b), "stream.started");
	json_object_put(b);
	ck_assert_str_eq(rx_event(4, &b), "stream.stopped");
	json_object_put(b);
	/* 500 then 200: delivered once, with two attempts. */
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE delivered IS NULL"), 0);
	ck_assert_int_eq(query_int("SELECT attempts FROM webhook_outbox "
	    "WHERE webhook = 'x' AND event = 'stream.started'"), 2);
	ck_assert_int_eq(deliver(), 0);
	ck_assert_int_eq(rx_count(), 5);
}
END_TEST

START_TEST(test_backoff)
{
	long long	delay, last = 0;
	char		*e;
	int		i;

	hook(0, "x", NULL, NULL);
	emit("stream.failed", NULL);
	rx.status = 503;
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(deliver(), 1);
		delay = query_int("SELECT next_attempt FROM webhook_outbox") -
		    (long long)time(NULL);
		ck_assert_msg(delay >= (1LL << i) - 1 && delay <= (1LL << i),
		    "try %d: delay %lld", i + 1, delay);
		ck_assert_int_gt(delay, last - (i > 0));
		last = delay;
		due();
	}
	ck_assert_int_eq(rx_count(), 5);
	ck_assert_int_eq(query_int("SELECT attempts FROM webhook_outbox"), 5);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox"), "HTTP 503");
	free(e);
	/* Capped. */
	exec_ok("UPDATE webhook_outbox SET attempts = 40");
	ck_assert_int_eq(deliver(), 1);
	delay = query_int("SELECT next_attempt FROM webhook_outbox") -
	    (long long)time(NULL);
	ck_assert_int_ge(delay, OUTBOX_BACKOFF_MAX - 1);
	ck_assert_int_le(delay, OUTBOX_BACKOFF_MAX);
	opts.backoff_max = 20;
	due();
	ck_assert_int_eq(deliver(), 1);
	delay = query_int("SELECT next_attempt FROM webhook_outbox") -
	    (long long)time(NULL);
	ck_assert_int_ge(delay, 19);
	ck_assert_int_le(delay, 20);
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE delivered IS NOT NULL OR gave_up IS NOT NULL"), 0);
}
END_TEST

START_TEST(test_timeout)
{
	static const int	 hang[] = { 0 };
	int64_t			 t0, ms;
	char			*e;

	hook(0, "x", NULL, NULL);
	emit("stream.started", NULL);
	rx_script(1, hang);
	opts.timeout = 1;
	t0 = timefmt_monotonic_us();
	ck_assert_int_eq(deliver(), 1);
	ms = (timefmt_monotonic_us() - t0) / 1000;
	ck_assert_msg(ms >= 900 && ms < 2500, "took %lld ms", (long long)ms);
	ck_assert_int_eq(rx_count(), 1);
	ck_assert_int_eq(query_int("SELECT attempts FROM webhook_outbox"), 1);
	ck_assert_int_eq(query_int("SELECT delivered IS NULL FROM "
	    "webhook_outbox"), 1);
	e = query_text("SELECT last_error FROM webhook_outbox");
	ck_assert_msg(e != NULL && strcasestr(e, "timed out") != NULL,
	    "last_error %s", e != NULL ? e : "NULL");
	free(e);
	due();
	ck_assert_int_eq(deliver(), 1);
	ck_assert_int_eq(query_int("SELECT delivered IS NOT NULL FROM "
	    "webhook_outbox"), 1);
}
END_TEST

static volatile int	stop_flag;

static void *
stopper(void *arg)
{
	(void)arg;
	usleep(300000);
	stop_flag = 1;
	return (NULL);
}

START_TEST(test_stop_aborts)
{
	static const int	 hang[] = { 0 };
	pthread_t		 t;
	int64_t			 t0, ms;
	int			 n;

	hook(0, "x", NULL, NULL);
	emit("stream.started", NULL);
	emit("stream.stopped", NULL);
	rx_script(1, hang);
	opts.timeout = 30;
	stop_flag = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, stopper, NULL), 0);
	t0 = timefmt_monotonic_us();
	n = outbox_deliver(st, &opts, &stop_flag, &cause);
	ms = (timefmt_monotonic_us() - t0) / 1000;
	pthread_join(t, NULL);
	ck_assert_int_eq(n, 1);
	ck_assert_msg(ms < 1500, "took %lld ms", (long long)ms);
	ck_assert_int_eq(rx_count(), 1);
	/* The aborted one is still to deliver, first. */
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE delivered IS NULL AND gave_up IS NULL"), 2);
	ck_assert_int_eq(outbox_deliver(st, &opts, &stop_flag, &cause), 0);
}
END_TEST

START_TEST(test_refused_redirect_protocol)
{
	static const int	 moved[] = { 302 };
	char			*e;

	hook(0, "x", NULL, NULL);
	rx_script(1, moved);
	emit("clip.ready", NULL);
	ck_assert_int_eq(deliver(), 1);
	/* The redirect is not followed: one request, a failure. */
	ck_assert_int_eq(rx_count(), 1);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox"), "HTTP 302");
	free(e);

	/* Nobody listens: curl's message. */
	exec_ok("UPDATE webhooks SET url = 'http://127.0.0.1:1/x'");
	due();
	ck_assert_int_eq(deliver(), 1);
	e = query_text("SELECT last_error FROM webhook_outbox");
	ck_assert_msg(e != NULL && strcasestr(e, "connect") != NULL,
	    "last_error %s", e != NULL ? e : "NULL");
	free(e);

	/* Only http and https. */
	exec_ok("UPDATE webhooks SET url = 'file:///etc/passwd'");
	due();
	ck_assert_int_eq(deliver(), 1);
	e = query_text("SELECT last_error FROM webhook_outbox");
	ck_assert_msg(e != NULL && strcasestr(e, "protocol") != NULL,
	    "last_error %s", e != NULL ? e : "NULL");
	free(e);
	ck_assert_int_eq(query_int("SELECT attempts FROM webhook_outbox"), 3);
	ck_assert_int_eq(query_int("SELECT delivered IS NULL FROM "
	    "webhook_outbox"), 1);
}
END_TEST

START_TEST(test_give_up)
{
	static const int	 fail[] = { 500 };
	json_object		*b;
	char			*e;

	hook(0, "x", NULL, NULL);
	opts.retry_for = 60;
	emit("stream.started", NULL);
	emit("stream.stopped", NULL);
	rx_script(1, fail);
	ck_assert_int_eq(deliver(), 1);
	/* The first is past retry_for: given up with its error kept, and
	 * the second goes at once. */
	exec_ok("UPDATE webhook_outbox SET created = created - 61 "
	    "WHERE event = 'stream.started'");
	ck_assert_int_eq(deliver(), 1);
	ck_assert_int_eq(rx_count(), 2);
	ck_assert_str_eq(rx_event(1, &b), "stream.stopped");
	json_object_put(b);
	ck_assert_int_eq(query_int("SELECT gave_up IS NOT NULL AND "
	    "delivered IS NULL AND attempts = 1 FROM webhook_outbox "
	    "WHERE event = 'stream.started'"), 1);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox WHERE event = 'stream.started'"), "HTTP 500");
	free(e);
	ck_assert_int_eq(query_int("SELECT delivered IS NOT NULL FROM "
	    "webhook_outbox WHERE event = 'stream.stopped'"), 1);

	/* One never tried is given up too, without a POST. */
	emit("stream.failed", NULL);
	exec_ok("UPDATE webhook_outbox SET created = created - 3600 "
	    "WHERE event = 'stream.failed'");
	ck_assert_int_eq(deliver(), 0);
	ck_assert_int_eq(rx_count(), 2);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox WHERE event = 'stream.failed'"),
	    "not delivered in time");
	free(e);
}
END_TEST

START_TEST(test_removed)
{
	char	*e;

	hook(0, "gone", NULL, NULL);
	hook(1, "kept", NULL, NULL);
	emit("stream.started", NULL);
	emit("stream.stopped", NULL);
	exec_ok("DELETE FROM webhooks WHERE name = 'gone'");
	ck_assert_int_eq(deliver(), 2);
	ck_assert_int_eq(rx_count(), 2);
	ck_assert_str_eq(rx.reqs[0].path, "/kept");
	ck_assert_str_eq(rx.reqs[1].path, "/kept");
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE webhook = 'gone' AND gave_up IS NOT NULL AND "
	    "delivered IS NULL"), 2);
	ck_assert_str_eq(e = query_text("SELECT last_error FROM "
	    "webhook_outbox WHERE webhook = 'gone' LIMIT 1"),
	    "webhook removed");
	free(e);
}
END_TEST

START_TEST(test_same_url)
{
	json_object	*j, *v;

	/* Two webhooks without names on one URL are one target. */
	exec_ok("INSERT INTO webhooks (position, url) VALUES "
	    "(0, 'http://127.0.0.1:%d/u'), (1, 'http://127.0.0.1:%d/u')",
	    rx.port, rx.port);
	ck_assert_int_eq(emit("stream.started", NULL), 2);
	ck_assert_int_eq(deliver(), 2);
	ck_assert_int_eq(rx_count(), 2);
	ck_assert_int_eq(query_int("SELECT count(*) FROM webhook_outbox "
	    "WHERE delivered IS NOT NULL AND attempts = 1"), 2);
	ck_assert_ptr_nonnull(j = outbox_status(st, &cause));
	ck_assert(json_object_object_get_ex(j, "targets", &v));
	ck_assert_int_eq(json_object_array_length(v), 1);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(
	    json_object_array_get_idx(v, 0), "delivered")), 2);
	json_object_put(j);
}
END_TEST

START_TEST(test_prune)
{
	int64_t	now = time(NULL);

	hook(0, "x", NULL, NULL);
	emit("stream.started", NULL);
	emit("stream.stopped", NULL);
	emit("stream.failed", NULL);
	emit("clip.ready", NULL);
	exec_ok("UPDATE webhook_outbox SET delivered = %lld "
	    "WHERE event = 'stream.started'", (long long)now - 8 * 86400);
	exec_ok("UPDATE webhook_outbox SET gave_up = %lld "
	    "WHERE event = 'stream.stopped'", (long long)now - 8 * 86400);
	exec_ok("UPDATE webhook_outbox SET delivered = %lld "
	    "WHERE event = 'stream.failed'", (long long)now - 86400);
	ck_assert_int_eq(outbox_prune(st, now - OUTBOX_KEEP, &cause), 2);
	ck_assert_int_eq(query_int("SELECT group_concat(event) = "
	    "'stream.failed,clip.ready' FROM (SELECT event FROM "
	    "webhook_outbox ORDER BY id)"), 1);
}
END_TEST

START_TEST(test_status)
{
	static const int	 fail2[] = { 500, 500, 500 };
	json_object		*j, *t, *v;

	hook(0, "b", NULL, NULL);
	hook(1, "a", "[\"clip.ready\"]", NULL);
	hook(2, "old", NULL, NULL);
	emit("stream.started", NULL);
	emit("clip.ready", NULL);
	exec_ok("DELETE FROM webhooks WHERE name = 'old'");
	rx_script(3, fail2);
	ck_assert_int_eq(deliver(), 2);
	due();
	/* b fails again, a gets through: its old error is no news. */
	ck_assert_int_eq(deliver(), 2);

	ck_assert_ptr_nonnull(j = outbox_status(st, &cause));
	ck_assert(json_object_object_get_ex(j, "pending", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	ck_assert(json_object_object_get_ex(j, "delivered", &v));
	ck_assert_int_eq(json_object_get_int(v), 1);
	ck_assert(json_object_object_get_ex(j, "failed", &v));
	ck_assert_int_eq(json_object_get_int(v), 2);
	ck_assert(json_object_object_get_ex(j, "targets", &v));
	ck_assert_int_eq(json_object_array_length(v), 3);

	/* b: its first failed, both pending. */
	t = json_object_array_get_idx(v, 0);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(t,
	    "webhook")), "b");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(t,
	    "pending")), 2);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(t,
	    "last_error")), "HTTP 500");
	ck_assert_ptr_nonnull(json_object_object_get(t, "next_attempt"));
	ck_assert_ptr_null(json_object_object_get(t, "last_delivery"));
	/* a: delivered. */
	t = json_object_array_get_idx(v, 1);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(t,
	    "webhook")), "a");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(t,
	    "delivered")), 1);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(t,
	    "pending")), 0);
	ck_assert_ptr_nonnull(json_object_object_get(t, "last_delivery"));
	ck_assert_ptr_null(json_object_object_get(t, "next_attempt"));
	ck_assert_ptr_null(json_object_object_get(t, "last_error"));
	/* old: removed, its rows given up, its url from the outbox. */
	t = json_object_array_get_idx(v, 2);
	ck_assert_str_eq(json_object_get_string(json_object_object_get(t,
	    "webhook")), "old");
	ck_assert_int_eq(json_object_get_int(json_object_object_get(t,
	    "failed")), 2);
	ck_assert_ptr_nonnull(strstr(json_object_get_string(
	    json_object_object_get(t, "url")), "/old"));
	json_object_put(j);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite	*s = suite_create("outbox");
	TCase	*tc;

	tc = tcase_create("deliver");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_body_headers);
	tcase_add_test(tc, test_signature);
	tcase_add_test(tc, test_order_kept);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_stop_aborts);
	tcase_add_test(tc, test_refused_redirect_protocol);
	tcase_add_test(tc, test_give_up);
	tcase_add_test(tc, test_removed);
	tcase_add_test(tc, test_same_url);
	suite_add_tcase(s, tc);

	tc = tcase_create("state");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_prune);
	tcase_add_test(tc, test_status);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(outbox_suite()));
}
