#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

/* Signal handlers only set flags; the main loop acts on them. */
static volatile sig_atomic_t	got_term;
static volatile sig_atomic_t	got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: streamd [-c FILE] [-l LEVEL] [-V]\n");
}

/* Reads the config and imports it (the merge rule of sync.h), as amps init
 * does.  A bad config is logged and changes nothing: streamd keeps
 * running on what the database holds. */
static int
reload(const char *path, struct store **s)
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
	conf_free(cfg);
	return (0);
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
	struct sigaction	 sa;
	struct store		*s = NULL;
	const char		*conf = NULL;
	int			 ch, level = -1;
	sigset_t		 mask, old;

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

	log_open(NULL, "streamd", NULL);
	log_hook_libav();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (reload(conf, &s) != 0 && s == NULL) {
		log_close();
		return (1);
	}
	if (level >= 0)
		log_set_level((enum log_level)level);
	log_info("main", "streamd %s started (pid %ld)", PACKAGE_VERSION,
	    (long)getpid());

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	while (!got_term) {
		/* Wait for a signal without a race between the check and the
		 * wait. */
		sigprocmask(SIG_BLOCK, &mask, &old);
		if (!got_term && !got_hup)
			sigsuspend(&old);
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (got_hup) {
			got_hup = 0;
			log_info("main", "SIGHUP: reloading %s", conf);
			reload(conf, &s);
			if (level >= 0)
				log_set_level((enum log_level)level);
		}
	}
	log_info("main", "stopping");
	store_close(s);
	log_close();
	return (0);
}
