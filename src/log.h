/* One logger for every program: levels, a subsystem tag on each line, and
 * a hook that sends libav's log into it.  Library code logs here and never
 * writes to stdout. */
#ifndef AMPS_LOG_H
#define AMPS_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Where log lines go: stderr by default.  path NULL means stderr; a
 * file is opened for append.  Returns 0, or -1 with *cause set (caller
 * frees). */
int	 log_open(const char *path, const char *progname, char **cause);
void	 log_close(void);
void	 log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level; returns -1 if unknown. */
int	 log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);

/* Writes "<time> <prog>[pid] <level> <tag>: <message>". */
void	 log_msg(enum log_level level, const char *tag, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 log_vmsg(enum log_level level, const char *tag, const char *fmt,
	    va_list ap) __attribute__((format(printf, 3, 0)));

#define log_error(tag, ...)	log_msg(LOG_LEVEL_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...)	log_msg(LOG_LEVEL_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...)	log_msg(LOG_LEVEL_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...)	log_msg(LOG_LEVEL_DEBUG, tag, __VA_ARGS__)

/* Routes av_log() output into this logger (tag "libav"), mapping libav's
 * levels onto ours.  Call once at program start in programs that use
 * libav. */
void	 log_hook_libav(void);

/* Test hook: when set, every formatted line (without trailing newline) is
 * passed here as well.  NULL removes it. */
typedef void (*log_sink_cb)(enum log_level level, const char *tag,
    const char *line, void *arg);
void	 log_set_sink(log_sink_cb cb, void *arg);

#endif
