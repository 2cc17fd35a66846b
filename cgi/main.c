#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libxml/parser.h>

#include "conf.h"
#include "log.h"
#include "route.h"
#include "site.h"
#include "store.h"
#include "xmalloc.h"

extern char **environ;

#define THREADS_DEFAULT	4
#define THREADS_MAX	64
/* Threads in all, long requests included: one per viewer of /stream. */
#define THREADS_LONG_MAX 4096

/* Where a request's body comes from. */
typedef size_t (*body_read_cb)(void *buf, size_t len, void *arg);

static char		*database;	/* from the config, read once */
static int		 listen_fd;
static pthread_mutex_t	 accept_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int	 stopping;

static int
fcgi_sink(const void *data, size_t len, void *arg)
{
	FCGX_Request	*req = arg;

	return (FCGX_PutStr(data, (int)len, req->out) == (int)len ? 0 : -1);
}

static int
fcgi_flush(void *arg)
{
	FCGX_Request	*req = arg;

	return (FCGX_FFlush(req->out) == 0 ? 0 : -1);
}

static int
stdout_sink(const void *data, size_t len, void *arg)
{
	return (fwrite(data, 1, len, stdout) == len ? 0 : -1);
}

static int
stdout_flush(void *arg)
{
	return (fflush(stdout) == 0 ? 0 : -1);
}

static size_t
fcgi_read(void *buf, size_t len, void *arg)
{
	FCGX_Request	*req = arg;
	int		 n;

	n = FCGX_GetStr(buf, (int)len, req->in);
	return (n > 0 ? (size_t)n : 0);
}

static size_t
stdin_read(void *buf, size_t len, void *arg)
{
	return (fread(buf, 1, len, stdin));
}

/* Reads CONTENT_LENGTH bytes, refusing more than the configured limit
 * before reading any (413). */
static int
read_body(struct request *r, struct response *resp, body_read_cb rd,
    void *arg)
{
	const char	*cl = request_env(r, "CONTENT_LENGTH");
	long long	 want, max;
	char		*end, chunk[8192];
	size_t		 n;

	if (cl == NULL || *cl == '\0')
		return (0);
	want = strtoll(cl, &end, 10);
	if (*end != '\0' || want < 0) {
		response_error(resp, 400, "bad Content-Length");
		return (-1);
	}
	max = r->site != NULL ? r->site->max_body_size : 1048576;
	if (want > max) {
		response_error(resp, 413, "the body is larger than %lld bytes",
		    max);
		return (-1);
	}
	while (want > 0) {
		n = rd(chunk, want < (long long)sizeof chunk ? (size_t)want :
		    sizeof chunk, arg);
		if (n == 0)
			break;
		buf_add(&r->body, chunk, n);
		want -= (long long)n;
	}
	if (want > 0) {
		response_error(resp, 400, "the body is shorter than "
		    "Content-Length");
		return (-1);
	}
	return (0);
}

/* One request, whatever the transport: parse, route, answer.  Everything
 * it allocates is freed before it returns. */
static void
handle(char *const *envp, struct store *s, body_read_cb rd,
    response_sink_cb sink, response_flush_cb flush, void *arg)
{
	struct request	 r;
	struct response	 resp;
	int		 status;

	response_init(&resp);
	resp.sink = sink;
	resp.flush = flush;
	resp.sink_arg = arg;
	status = request_parse(&r, envp);
	r.store = s;
	r.site = site_get(s);
	resp.head = r.head;
	resp.gzip_ok = request_accepts_gzip(&r);
	if (status != 0)
		response_error(&resp, status, "malformed request");
	else if (r.authorizer) {
		authz_process(&r, &resp);
		r.route = "(authorizer)";
	} else if (read_body(&r, &resp, rd, arg) == 0)
		route_process(&r, &resp);
	route_count(r.method, r.route != NULL ? r.route : "(none)",
	    resp.status);
	response_finish(&resp);
	response_free(&resp);
	request_free(&r);
}

static struct store *
open_store(void)
{
	struct store	*s = NULL;
	char		*cause = NULL;

	if (database == NULL)
		return (NULL);
	if (store_open(database, 0, &s, &cause) != 0) {
		log_error("store", "%s", cause);
		free(cause);
		return (NULL);
	}
	/* A responder reads catalogue rows once per cache miss, and the
	 * kernel caches the file anyway: 256 KiB of page cache per
	 * connection (SQLite's default is 2 MiB) keeps the process small
	 * with several workers. */
	sqlite3_exec(store_db(s), "PRAGMA cache_size = -256", NULL, NULL,
	    NULL);
	return (s);
}

/* The workers.  Each owns a store connection and accepts in turn
 * (libfcgi's threaded example serialises accept()).  A request that
 * holds its thread for long (a live stream, a blocking playlist reload)
 * calls long_request(): its store goes to a new worker that takes its
 * place at accept(), so that however many viewers watch, "threads"
 * workers are free for everything else.  When the long request ends, the
 * thread stays a worker only if fewer than that are free. */
struct worker {
	struct store	*store;
	int		 long_request;	/* gave its place away */
	int		 initial;	/* joined by main(); others detach */
};
static __thread struct worker	*self;
static pthread_mutex_t	 pool_lock = PTHREAD_MUTEX_INITIALIZER;
static long		 pool_size;	/* workers meant to be free */
static long		 pool_short;	/* threads not in a long request */
static long		 pool_threads;	/* all worker threads */

static void *worker(void *arg);

static int
spawn_worker(struct store *s)
{
	pthread_attr_t	 attr;
	pthread_t	 t;
	struct worker	*w;
	int		 rc;

	w = xcalloc(1, sizeof *w);
	w->store = s;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Most of these threads only relay bytes; 1 MiB is plenty for
	 * the other requests they may serve afterwards. */
	pthread_attr_setstacksize(&attr, 1024 * 1024);
	rc = pthread_create(&t, &attr, worker, w);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(w);
		return (-1);
	}
	return (0);
}

void
long_request(void)
{
	int	spawn;

	if (self == NULL || self->long_request)
		return;		/* plain CGI, or said already */
	self->long_request = 1;
	pthread_mutex_lock(&pool_lock);
	pool_short--;
	spawn = !stopping && pool_short < pool_size &&
	    pool_threads < THREADS_LONG_MAX;
	if (spawn) {
		pool_threads++;
		pool_short++;
	}
	pthread_mutex_unlock(&pool_lock);
	if (!spawn)
		return;
	if (spawn_worker(self->store) != 0) {
		log_error("main", "cannot start a worker: %s",
		    strerror(errno));
		pthread_mutex_lock(&pool_lock);
		pool_threads--;
		pool_short--;
		pthread_mutex_unlock(&pool_lock);
		return;
	}
	self->store = NULL;	/* the new worker's now */
}

/* After a long request: whether this thread should end (enough others
 * are free); if not, it is a plain worker again. */
static int
long_request_done(void)
{
	int	leave;

	self->long_request = 0;
	pthread_mutex_lock(&pool_lock);
	leave = !self->initial && pool_short >= pool_size;
	if (leave)
		pool_threads--;
	else
		pool_short++;
	pthread_mutex_unlock(&pool_lock);
	return (leave);
}

static void *
worker(void *arg)
{
	FCGX_Request	 req;
	struct worker	*w = arg;
	int		 rc = 0, leave = 0;

	self = w;
	if (w->store == NULL)
		w->store = open_store();
	FCGX_InitRequest(&req, listen_fd, 0);
	while (!leave) {
		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&req);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			break;
		if (w->store == NULL)
			w->store = open_store();  /* amps init may have run */
		handle(req.envp, w->store, fcgi_read, fcgi_sink,
		    fcgi_flush, &req);
		FCGX_Finish_r(&req);
		if (w->long_request)
			leave = long_request_done();
	}
	FCGX_Free(&req, 1);
	store_close(w->store);
	site_free_thread();
	if (!leave) {
		pthread_mutex_lock(&pool_lock);
		pool_threads--;
		pthread_mutex_unlock(&pool_lock);
	}
	/* A worker that ends on its own (accept failed) stops the process:
	 * the web server starts a new one. */
	if (rc < 0 && !stopping)
		kill(getpid(), SIGTERM);
	if (!w->initial)
		free(w);
	return (NULL);
}

/* The database's path: AMPS_DATABASE when the web server's config gives
 * it (amps serve does), else the server block of amps.conf.  Parsing a
 * large amps.conf costs its whole tree once, so the heap is trimmed
 * after it. */
int
process_stopping(void)
{
	return (stopping);
}

static void
load_config(void)
{
	struct config		*cfg;
	struct conf_error	 err;
	const char		*env;
	char			*line, *cache, *dir;

	env = getenv("AMPS_DATABASE");
	if (env != NULL && *env == '/')
		database = xstrdup(env);
	else if (conf_load_server(conf_default_path(), &cfg, &err) != 0) {
		line = conf_error_string(&err);
		log_error("config", "%s", line);
		free(line);
		conf_error_clear(&err);
		return;
	} else {
		database = xstrdup(cfg->server.database);
		conf_free(cfg);
		malloc_trim(0);
	}
	cache = xprintf("%s", database);
	dir = strrchr(cache, '/');
	if (dir != NULL)
		*dir = '\0';
	dir = xprintf("%s/cache", cache);
	/* AMPS_SENDFILE comes from the web server's config (lighttpd's
	 * bin-environment): it serves X-Sendfile answers itself. */
	response_cache_init(dir, getenv("AMPS_SENDFILE") != NULL);
	free(dir);
	free(cache);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: amps.fcgi [--socket PATH [--mode MODE]] "
	    "[--threads N] [-V]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "threads", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	pthread_t		 threads[THREADS_MAX];
	static struct worker	 workers[THREADS_MAX];
	sigset_t		 mask;
	struct store		*s;
	const char		*sock = NULL;
	char			*end;
	long			 mode = 0660, nthreads = THREADS_DEFAULT, i, left;
	int			 ch, sig, tcp;

	while ((ch = getopt_long(argc, argv, "s:m:t:Vh", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'm':
			mode = strtol(optarg, &end, 8);
			if (*end != '\0' || mode < 0 || mode > 0777) {
				usage(stderr);
				return (2);
			}
			break;
		case 't':
			nthreads = strtol(optarg, &end, 10);
			if (*end != '\0' || nthreads < 1 ||
			    nthreads > THREADS_MAX) {
				usage(stderr);
				return (2);
			}
			break;
		case 'V':
			printf("amps.fcgi %s\n", PACKAGE_VERSION);
			return (0);
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	/* Two malloc arenas for all the workers: glibc's default of one per
	 * thread lets each keep the peak of its largest answer. */
	mallopt(M_ARENA_MAX, 2);
	log_open(NULL, "amps.fcgi", NULL);
	load_config();

	if (sock == NULL && FCGX_IsCGI()) {
		/* Plain CGI (RFC 3875), for shared hosting: one request. */
		s = open_store();
		handle(environ, s, stdin_read, stdout_sink, stdout_flush, NULL);
		fflush(stdout);
		store_close(s);
		site_free_thread();
		free(database);
		response_cache_init(NULL, 0);
		log_close();
		return (0);
	}

	FCGX_Init();
	/* libxml2 2.9 sets up its globals here, once, before any thread. */
	xmlInitParser();
	/* "--socket PATH", or "--socket HOST:PORT" (Apache's FastCGI
	 * authorizer reaches FastCGI over TCP only). */
	tcp = sock != NULL && sock[0] != '/' && strchr(sock, ':') != NULL;
	if (sock != NULL) {
		if (!tcp)
			unlink(sock);
		listen_fd = FCGX_OpenSocket(sock, 1024);
		if (listen_fd < 0 || (!tcp && chmod(sock, (mode_t)mode) != 0)) {
			log_error("main", "%s: %s", sock, strerror(errno));
			return (1);
		}
	}
	/* The workers never see the stop signals; this thread waits for
	 * them, then wakes the worker blocked in accept() by shutting the
	 * listening socket down (the others then find shutdown pending). */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	pool_size = nthreads;
	for (i = 0; i < nthreads; i++) {
		workers[i].initial = 1;
		pthread_mutex_lock(&pool_lock);
		pool_threads++;
		pool_short++;
		pthread_mutex_unlock(&pool_lock);
		if (pthread_create(&threads[i], NULL, worker, &workers[i]) !=
		    0) {
			log_error("main", "cannot start worker %ld", i);
			nthreads = i;
			break;
		}
	}
	if (nthreads > 0)
		sigwait(&mask, &sig);
	stopping = 1;
	FCGX_ShutdownPending();
	shutdown(listen_fd, SHUT_RDWR);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	/* Viewers' threads notice the stop within a second (stream.c). */
	for (i = 0; i < 30; i++) {
		pthread_mutex_lock(&pool_lock);
		left = pool_threads;
		pthread_mutex_unlock(&pool_lock);
		if (left <= 0)
			break;
		usleep(100000);
	}
	if (sock != NULL && !tcp)
		unlink(sock);
	free(database);
	response_cache_init(NULL, 0);
	xmlCleanupParser();
	log_info("main", "stopped");
	log_close();
	return (0);
}
