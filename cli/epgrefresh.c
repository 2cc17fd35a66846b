#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "conf.h"
#include "epg.h"
#include "store.h"

/* One line per source: what cron mails home.  Successes go to standard
 * output, failures to standard error. */
static void
summary(const struct epg_result *res, void *arg)
{
	double	secs = (double)res->elapsed_us / 1e6;

	(void)arg;
	switch (res->status) {
	case EPG_OK:
		printf("%s: %lld programmes for %lld channels, %lld skipped, "
		    "%lld unmatched, %.1f s\n", res->name, res->programmes,
		    res->channels, res->skipped, res->unmatched, secs);
		break;
	case EPG_NOT_MODIFIED:
		printf("%s: not modified, %.1f s\n", res->name, secs);
		break;
	default:
		cli_warn("%s: error: %s", res->name, res->error);
		break;
	}
	fflush(stdout);
}

/* amps epg-refresh [NAME] (G3): refreshes one source or all of them,
 * now, whatever their interval.  Exits 0 when every refresh succeeded
 * (a 304 is a success), 1 when one failed or NAME is no source, 2 for a
 * usage or config error. */
int
cmd_epg_refresh(const char *conf, int argc, char **argv)
{
	struct config		*cfg;
	struct store		*s = NULL;
	struct epg_opts		 o;
	struct epg_result	 res;
	char			*cause = NULL;
	int			 rc, failed = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		cli_warn("usage: amps epg-refresh [NAME]");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if (access(cfg->server.database, F_OK) != 0) {
		cli_warn("%s: no database; run amps init first",
		    cfg->server.database);
		conf_free(cfg);
		return (1);
	}
	if (store_open(cfg->server.database, 0, &s, &cause) != 0) {
		cli_warn("%s", cause);
		free(cause);
		conf_free(cfg);
		return (1);
	}
	memset(&o, 0, sizeof o);
	o.timeout = cfg->server.epg_timeout;
	o.max_size = cfg->server.epg_max_size;
	if (argc == 2) {
		rc = epg_refresh(s, &o, argv[1], &res, &cause);
		if (rc == 0) {
			summary(&res, NULL);
			failed = res.status == EPG_FAILED;
		}
		epg_result_clear(&res);
	} else
		rc = epg_refresh_all(s, &o, 0, (int64_t)time(NULL), summary,
		    NULL, &failed, &cause);
	if (rc != 0) {
		cli_warn("%s", cause);
		free(cause);
	}
	store_close(s);
	conf_free(cfg);
	return (rc != 0 || failed > 0 ? 1 : 0);
}
