/* What the amps commands share: messages, the config, folders, and the
 * import that init and serve both run. */
#ifndef AMPS_CLI_H
#define AMPS_CLI_H

#include <sys/types.h>

struct config;

#define EXIT_USAGE	2

/* "amps: <message>" on standard error. */
void	 cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Loads the config or prints its one error line.  Returns 0, or the exit
 * status (2). */
int	 cli_load_config(const char *path, struct config **cfg);
/* mkdir -p; prints the folder that failed.  Returns 0 or -1. */
int	 cli_make_dirs(const char *path, mode_t mode);
/* Creates the database's and the media folders, creates or migrates the
 * database and imports cfg (sync_import with flags), printing the
 * summary line.  Returns 0, or 1 after printing why. */
int	 cli_import(const struct config *cfg, int flags);

/* tuners.c: commands that talk to streamd's control socket. */
int	 cmd_tuners(const char *conf, int argc, char **argv);
int	 cmd_shutdown(const char *conf, int argc, char **argv);

/* epgrefresh.c: amps epg-refresh [NAME]. */
int	 cmd_epg_refresh(const char *conf, int argc, char **argv);

#endif
