#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/eventfd.h>
#include <sys/stat.h>

#include <time.h>

#include <libavdevice/avdevice.h>

#include "conf.h"
#include "epgjob.h"
#include "fsutil.h"
#include "log.h"
#include "store.h"
#include "streamd.h"
#include "sync.h"
#include "webhook.h"
#include "ws.h"
#include "xmalloc.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: streamd [-c FILE] [-l LEVEL] [-V]\n");
}

/* mkdir -p of path, or with parent of its folder (a database's, a
 * socket's); a failure is logged, and whatever needs the folder reports
 * it again when it cannot write there. */
static void
make_dirs(const char *path, int parent)
{
	char	*d, *slash, *failed = NULL;

	d = xstrdup(path);
	if (parent) {
		if ((slash = strrchr(d, '/')) == NULL || slash == d) {
			free(d);
			return;
		}
		*slash = '\0';
	}
	if (fs_mkdirs(d, 0755, &failed) != 0) {
		log_warn("main", "%s: %s", failed, strerror(errno));
		free(failed);
	}
	free(d);
}

/* Reads the config and imports it (the merge rule of sync.h), as amps init
 * does.  A bad config is logged and changes nothing: streamd keeps
 * running on what the database holds. */
static int
reload(const char *path, struct store **s, struct config **keep)
{
	struct config		*cfg;
	struct conf_error	 err;
	struct sync_report	 r;
	char			*line, *cause = NULL;
	int			 level;

	if (conf_load(path, &cfg, &err) != 0) {
		line = conf_error_string(&err);
		log_error("config", "%s", line);
		free(line);
		conf_error_clear(&err);
		return (-1);
	}
	level = log_level_from_name(cfg->server.log_level);
	if (level >= 0)
		log_set_level((enum log_level)level);
	if (*s != NULL && strcmp(store_path(*s), cfg->server.database) != 0) {
		log_warn("config", "database moved to %s; restart streamd to "
		    "use it", cfg->server.database);
		conf_free(cfg);
		return (-1);
	}
	if (*s == NULL)
		make_dirs(cfg->server.database, 1);
	if (*s == NULL && store_open(cfg->server.database,
	    STORE_CREATE | STORE_MIGRATE, s, &cause) != 0) {
		log_error("store", "%s", cause);
		free(cause);
		conf_free(cfg);
		return (-1);
	}
	if (sync_import(*s, cfg, 0, &r, &cause) != 0) {
		log_error("store", "import of %s: %s", cfg->file, cause);
		free(cause);
		conf_free(cfg);
		return (-1);
	}
	log_info("config", "%s: %u added, %u updated, %u removed, %u kept, "
	    "%u unchanged (generation %lld)", cfg->file, r.added, r.updated,
	    r.removed, r.kept, r.unchanged, (long long)store_generation(*s));
	if (*keep != NULL && strcmp((*keep)->server.control_socket,
	    cfg->server.control_socket) != 0)
		log_warn("config", "control_socket moved to %s; restart "
		    "streamd to use it", cfg->server.control_socket);
	conf_free(*keep);
	*keep = cfg;
	return (0);
}

static void
media_dirs(const struct config *cfg)
{
	char	*d;

	make_dirs(cfg->server.control_socket, 1);
	d = xprintf("%s/hls", cfg->server.media_root);
	make_dirs(d, 0);
	free(d);
	d = xprintf("%s/dash", cfg->server.media_root);
	make_dirs(d, 0);
	free(d);
}

static void
apply_reload(const char *conf, struct store **s, struct config **cfg,
    struct manager *m, int level)
{
	char	*cause = NULL;

	if (reload(conf, s, cfg) != 0)
		return;
	if (level >= 0)
		log_set_level((enum log_level)level);
	media_dirs(*cfg);
	webhook_configure(*cfg);
	epgjob_configure(*cfg);
	manager_configure(m, *cfg);
	if (manager_load(m, *s, &cause) != 0) {
		log_error("manager", "%s", cause);
		free(cause);
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct store		*s = NULL;
	struct config		*cfg = NULL;
	struct manager		*m;
	struct control		*ctl = NULL;
	struct timespec		 ts;
	char			*cause = NULL;
	int			 wake_fd, sig;
	const char		*conf = NULL;
	int			 ch, level = -1;
	sigset_t		 mask;
	struct sigaction	 old;

	while ((ch = getopt_long(argc, argv, "c:l:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'l':
			level = log_level_from_name(optarg);
			if (level < 0) {
				fprintf(stderr, "streamd: unknown log level "
				    "'%s'\n", optarg);
				return (2);
			}
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("streamd %s\n", PACKAGE_VERSION);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return (2);
	}
	if (conf == NULL)
		conf = conf_default_path();

	/* Every pipeline thread would get its own malloc arena; two keep
	 * the memory of fifty channels close to what they use. */
	mallopt(M_ARENA_MAX, 2);
	log_open(NULL, "streamd", NULL);
	log_hook_libav();
	/* Device inputs: lavfi (the demo's test pattern), v4l2, alsa. */
	avdevice_register_all();

	/* Signals go to this thread alone (pipelines and the socket run in
	 * threads that inherit the mask) and are taken with sigtimedwait,
	 * between housekeeping rounds. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	/* A SIGINT ignored by whoever started us (a background job of a
	 * shell) stays ignored. */
	if (sigaction(SIGINT, NULL, &old) != 0 || old.sa_handler != SIG_IGN)
		sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (reload(conf, &s, &cfg) != 0 && s == NULL) {
		log_close();
		return (1);
	}
	if (cfg == NULL) {
		/* The file broke after the database was opened: cannot
		 * happen at start, but keep the rule simple. */
		log_close();
		return (1);
	}
	if (level >= 0)
		log_set_level((enum log_level)level);
	media_dirs(cfg);
	if ((wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		log_error("main", "eventfd: %s", strerror(errno));
		return (1);
	}
	m = manager_new(cfg, wake_fd);
	if (control_open(&ctl, cfg, m, wake_fd, &cause) != 0) {
		log_error("control", "%s", cause);
		free(cause);
		manager_free(m);
		store_close(s);
		conf_free(cfg);
		log_close();
		return (1);
	}
	if (ws_start(cfg, store_path(s), &cause) != 0) {
		log_error("ws", "%s", cause);
		free(cause);
		control_close(ctl);
		manager_free(m);
		store_close(s);
		conf_free(cfg);
		log_close();
		return (1);
	}
	if (webhook_start(store_path(s), cfg, &cause) != 0) {
		log_error("webhook", "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (epgjob_start(store_path(s), cfg, &cause) != 0) {
		log_error("epg", "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (manager_load(m, s, &cause) != 0) {
		log_error("manager", "%s", cause);
		free(cause);
		cause = NULL;
	}
	if (control_start(ctl, &cause) != 0) {
		log_error("control", "%s", cause);
		free(cause);
		return (1);
	}
	log_info("main", "streamd %s started (pid %ld)", PACKAGE_VERSION,
	    (long)getpid());

	ts.tv_sec = 0;
	ts.tv_nsec = 250000000;
	for (;;) {
		sig = sigtimedwait(&mask, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT || control_want_shutdown)
			break;
		if (sig == SIGHUP || control_want_reload) {
			control_want_reload = 0;
			log_info("main", "%s: reloading %s", sig == SIGHUP ?
			    "SIGHUP" : "reload", conf);
			apply_reload(conf, &s, &cfg, m, level);
		}
		manager_housekeep(m, s);
	}
	log_info("main", "stopping");
	epgjob_stop();
	webhook_stop();
	ws_stop();
	manager_shutdown(m, s);
	control_close(ctl);
	manager_free(m);
	close(wake_fd);
	store_close(s);
	conf_free(cfg);
	log_info("main", "stopped");
	log_close();
	return (0);
}
