#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "conf.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

void
cli_warn(const char *fmt, ...)
{
	va_list	ap;

	fputs("amps: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_load_config(const char *path, struct config **cfg)
{
	struct conf_error	 err;
	char			*line;

	if (conf_load(path, cfg, &err) != 0) {
		line = conf_error_string(&err);
		fprintf(stderr, "%s\n", line);
		free(line);
		conf_error_clear(&err);
		return (EXIT_USAGE);
	}
	return (0);
}

int
cli_make_dirs(const char *path, mode_t mode)
{
	char	*failed = NULL;

	if (fs_mkdirs(path, mode, &failed) == 0)
		return (0);
	cli_warn("%s: %s", failed, strerror(errno));
	free(failed);
	return (-1);
}

int
cli_import(const struct config *cfg, int flags)
{
	struct store		*s = NULL;
	struct sync_report	 r;
	char			*dir, *cause = NULL;
	int			 rc;

	dir = xstrdup(cfg->server.database);
	rc = cli_make_dirs(dirname(dir), 0750) != 0 ||
	    cli_make_dirs(cfg->server.media_root, 0755) != 0;
	free(dir);
	if (rc != 0)
		return (1);
	if (store_open(cfg->server.database, STORE_CREATE | STORE_MIGRATE, &s,
	    &cause) != 0 || sync_import(s, cfg, flags, &r, &cause) != 0) {
		cli_warn("%s: %s", cfg->server.database, cause);
		free(cause);
		store_close(s);
		return (1);
	}
	printf("amps: %s: %u added, %u updated, %u removed, %u kept, "
	    "%u unchanged (generation %lld)\n", cfg->server.database,
	    r.added, r.updated, r.removed, r.kept, r.unchanged,
	    (long long)store_generation(s));
	if (r.kept > 0)
		printf("amps: %u API change(s) kept over the file; amps save "
		    "writes them to it, init --force drops them\n", r.kept);
	store_close(s);
	return (0);
}
