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

/* Where a request's body comes from. */
typedef size_t (*body_read_cb)(void *buf, size_t len, void *arg);

static char		*database;	/* from the config, read once */
static int		 listen_fd;
static pthread_mutex_t	 accept_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int	 stopping;

static int
fcgi_sink(const void *data, size_t len, void *arg)
{
	return (FCGX_PutStr(data, (int)len, arg) == (int)len ? 0 : -1);
}

static int
stdout_sink(const void *data, size_t len, void *arg)
{
	return (fwrite(data, 1, len, stdout) == len ? 0 : -1);
}

static size_t
fcgi_read(void *buf, size_t len, void *arg)
{
	int	n;

	n = FCGX_GetStr(buf, (int)len, arg);
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
handle(char *const *envp, struct store *s, body_read_cb rd, void *rarg,
    response_sink_cb sink, void *sarg)
{
	struct request	 r;
	struct response	 resp;
	int		 status;

	response_init(&resp);
	resp.sink = sink;
	resp.sink_arg = sarg;
	status = request_parse(&r, envp);
	r.store = s;
	r.site = site_get(s);
	resp.head = r.head;
	resp.gzip_ok = request_accepts_gzip(&r);
	if (status != 0)
		response_error(&resp, status, "malformed request");
	else if (read_body(&r, &resp, rd, rarg) == 0)
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

/* Each worker owns a store connection and accepts in turn (libfcgi's
 * threaded example serialises accept()). */
static void *
worker(void *arg)
{
	FCGX_Request	 req;
	struct store	*s;
	int		 rc;

	s = open_store();
	FCGX_InitRequest(&req, listen_fd, 0);
	for (;;) {
		pthread_mutex_lock(&accept_lock);
		rc = FCGX_Accept_r(&req);
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0)
			break;
		if (s == NULL)
			s = open_store();	/* amps init may have run */
		handle(req.envp, s, fcgi_read, req.in, fcgi_sink, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	store_close(s);
	site_free_thread();
	/* A worker that ends on its own (accept failed) stops the process:
	 * the web server starts a new one. */
	if (!stopping)
		kill(getpid(), SIGTERM);
	return (NULL);
}

/* The database's path: AMPS_DATABASE when the web server's config gives
 * it (amps serve does), else the server block of amps.conf.  Parsing a
 * large amps.conf costs its whole tree once, so the heap is trimmed
 * after it. */
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
	sigset_t		 mask;
	struct store		*s;
	const char		*sock = NULL;
	char			*end;
	long			 mode = 0660, nthreads = THREADS_DEFAULT, i;
	int			 ch, sig;

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
		handle(environ, s, stdin_read, NULL, stdout_sink, NULL);
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
	if (sock != NULL) {
		unlink(sock);
		listen_fd = FCGX_OpenSocket(sock, 128);
		if (listen_fd < 0 || chmod(sock, (mode_t)mode) != 0) {
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
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker, NULL) != 0) {
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
	if (sock != NULL)
		unlink(sock);
	free(database);
	response_cache_init(NULL, 0);
	xmlCleanupParser();
	log_info("main", "stopped");
	log_close();
	return (0);
}
