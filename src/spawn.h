/* External programs: custom_ffmpeg commands (S6) and yt-dlp (S7).  They
 * run with execve and an argv built here, never through a shell unless
 * the operator set shell = true, and every value put into a command is
 * expanded inside one argument (or quoted for /bin/sh). (tmux job.c) */
#ifndef AMPS_SPAWN_H
#define AMPS_SPAWN_H

#include <sys/types.h>

#include "channel.h"
#include "schema.h"

/* Splits command into words the way a POSIX shell would for quoting
 * alone ('...', "...", backslash), with no expansion of any kind, then
 * replaces {source}, {id} and {name} inside each word ("{{" and "}}"
 * stand for braces).  With shell set, the result is
 * {"/bin/sh", "-c", command} where each placeholder is replaced by its
 * value quoted for the place it stands in ('...', inside '...' or
 * "..."); {source} and {name} inside `...`, ${...}, $((...)), a comment
 * or after a here-document are refused, as no quoting holds there.  A
 * command that evaluates its arguments (eval, let, [[ -eq ]]) can still
 * be made to run a value.  Returns a NULL-terminated argv
 * (caller frees with spawn_argv_free), or NULL with *cause (unbalanced
 * quotes, an unknown placeholder, an empty command). */
char		**spawn_command_argv(const char *command, int shell,
		    const char *source, long long id, const char *name,
		    char **cause);
void		 spawn_argv_free(char **argv);

struct spawn {
	char *const	*argv;		/* argv[0] is searched in PATH */
	const char	*cwd;		/* NULL = inherit; a chdir failure is
					   reported like an exec failure */
	const struct kvlist *env;	/* added to (or replacing in) the
					   environment; may be NULL; its PATH,
					   if any, is the one searched */
	int		 want_stdout;	/* 1: *out_fd reads its stdout */
	int		 want_stdin_null; /* 1: stdin is /dev/null */
};

/* Starts the program in its own process group, with every other
 * descriptor closed, stderr inherited (streamd's log).  Returns the pid
 * and, with want_stdout, a read end (close-on-exec) in *out_fd; or -1
 * with *cause (a program that cannot be executed is reported here, not
 * as a child that exits 127). */
pid_t		 spawn_start(const struct spawn *sp, int *out_fd,
		    char **cause);
/* Stops a child: SIGTERM to its process group, then SIGKILL to the group
 * if the child outlives grace_ms, and reaps it.  Returns its wait status,
 * or -1 when pid is not an unreaped child. */
int		 spawn_stop(pid_t pid, int grace_ms);
/* Waits up to timeout_ms for the child to exit and reaps it; returns 1
 * and *status when it did, 0 on timeout (-1 = wait for ever), -1 when
 * pid is not an unreaped child. */
int		 spawn_wait(pid_t pid, int timeout_ms, int *status);

/* What yt-dlp resolved a page URL to. */
struct ytdlp_result {
	char		*url;		/* the media URL */
	struct kvlist	 headers;	/* http_headers to send with it */
};

/* Runs `yt-dlp` (found in PATH, or $AMPS_YTDLP) with --dump-json
 * --no-playlist, -f format when given, and each option as --key value
 * (a key of one letter as -k; leading dashes of a key are ignored; an
 * empty value adds the flag alone), then -- and url; waits at most
 * timeout_ms (<= 0: no limit; the program is killed after that), reads
 * the JSON it prints: "url", or for merged formats the first entry of
 * "requested_formats", and "http_headers".  Returns 0, or -1 with
 * *cause (the last line yt-dlp wrote to stderr when it failed). */
int		 spawn_ytdlp(const char *url, const char *format,
		    const struct kvlist *options, int timeout_ms,
		    struct ytdlp_result *out, char **cause);
void		 spawn_ytdlp_free(struct ytdlp_result *r);

#endif
