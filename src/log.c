#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "buf.h"
#include "log.h"
#include "xmalloc.h"

#define LOG_AV_LINEMAX 1024

static const char *const level_names[] = {
	"error", "warn", "info", "debug"
};

/* Everything below is guarded by log_mutex, except log_level, which is
 * read before a message is formatted. */
static pthread_mutex_t	 log_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_int	 log_level = LOG_LEVEL_INFO;
static FILE		*log_file;	/* NULL means stderr */
static char		*log_progname;	/* NULL means the program's name */
static log_sink_cb	 log_sink;
static void		*log_sink_arg;

/* libav may log a line in pieces and from its own threads: each thread
 * gathers its pieces until the newline. */
static _Thread_local int	 av_print_prefix = 1;
static _Thread_local char	 av_pending[LOG_AV_LINEMAX];
static _Thread_local size_t	 av_pending_len;

/* Appends the message with control characters escaped, so that outside
 * data in a message cannot forge a log line. */
static void
add_escaped(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*p, *end;

	end = (const unsigned char *)s + len;
	for (p = (const unsigned char *)s; p < end; p++) {
		if (*p == '\n')
			buf_adds(b, "\\n");
		else if (*p == '\r')
			buf_adds(b, "\\r");
		else if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			buf_addf(b, "\\x%02x", *p);
		else
			buf_addc(b, (char)*p);
	}
}

/* Adds the UTC time stamp, ISO 8601 with milliseconds.  gmtime_r does
 * not depend on TZ. */
static void
add_time(struct buf *b)
{
	struct timespec	ts;
	struct tm	tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL) {
		buf_adds(b, "-");
		return;
	}
	buf_addf(b, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    ts.tv_nsec / 1000000L);
}

/* Builds the whole line, then writes it and feeds the sink under the lock
 * so that lines from several threads never interleave. */
static void
emit(enum log_level level, const char *tag, const char *msg)
{
	struct buf	 line = BUF_INIT;
	size_t		 n;
	FILE		*fp;

	if (tag == NULL)
		tag = "-";
	pthread_mutex_lock(&log_mutex);
	add_time(&line);
	buf_addf(&line, " %s[%ld] %s %s: ",
	    log_progname != NULL ? log_progname : program_invocation_short_name,
	    (long)getpid(), log_level_name(level), tag);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	add_escaped(&line, msg, n);

	fp = log_file != NULL ? log_file : stderr;
	fprintf(fp, "%s\n", line.data);
	/* The sink runs under the lock, so it must not log itself. */
	if (log_sink != NULL)
		log_sink(level, tag, line.data, log_sink_arg);
	pthread_mutex_unlock(&log_mutex);
	buf_free(&line);
}

/* Daemons log to a file named in the config; everything else to stderr. */
int
log_open(const char *path, const char *progname, char **cause)
{
	FILE	*fp = NULL;

	if (path != NULL) {
		if ((fp = fopen(path, "ae")) == NULL) {
			if (cause != NULL)
				*cause = xprintf("%s: %s", path,
				    strerror(errno));
			return (-1);
		}
		setvbuf(fp, NULL, _IOLBF, 0);
	}

	pthread_mutex_lock(&log_mutex);
	if (log_file != NULL)
		fclose(log_file);
	log_file = fp;
	if (progname != NULL) {
		free(log_progname);
		log_progname = xstrdup(progname);
	}
	pthread_mutex_unlock(&log_mutex);
	return (0);
}

/* Closes a log file (logrotate, exit) and falls back to stderr. */
void
log_close(void)
{
	pthread_mutex_lock(&log_mutex);
	if (log_file != NULL)
		fclose(log_file);
	log_file = NULL;
	free(log_progname);
	log_progname = NULL;
	pthread_mutex_unlock(&log_mutex);
}

/* The config and -v options choose how much is logged. */
void
log_set_level(enum log_level level)
{
	if ((int)level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store(&log_level, (int)level);
}

/* Lets callers skip building expensive debug messages. */
enum log_level
log_get_level(void)
{
	return ((enum log_level)atomic_load(&log_level));
}

/* Maps the config's log_level string; "warning" is taken as "warn". */
int
log_level_from_name(const char *name)
{
	size_t	i;

	if (name == NULL)
		return (-1);
	for (i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(name, level_names[i]) == 0)
			return ((int)i);
	}
	if (strcasecmp(name, "warning") == 0)
		return (LOG_LEVEL_WARN);
	return (-1);
}

/* The names written into each line, matching log_level_from_name. */
const char *
log_level_name(enum log_level level)
{
	if ((int)level < 0 ||
	    (size_t)level >= sizeof level_names / sizeof level_names[0])
		return ("unknown");
	return (level_names[level]);
}

/* The entry point for all logging; see log.h for the line format. */
void
log_msg(enum log_level level, const char *tag, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, tag, fmt, ap);
	va_end(ap);
}

/* The va_list form of log_msg; filtered by level before formatting. */
void
log_vmsg(enum log_level level, const char *tag, const char *fmt, va_list ap)
{
	char	*msg;

	if ((int)level > atomic_load(&log_level))
		return;
	xvasprintf(&msg, fmt, ap);
	emit(level, tag, msg);
	free(msg);
}

/* libav has eight levels, we have four.  libav's info is chatter for an
 * operator (every file a muxer opens), so it goes to debug. */
static enum log_level
map_av_level(int level)
{
	if (level <= AV_LOG_ERROR)
		return (LOG_LEVEL_ERROR);
	if (level <= AV_LOG_WARNING)
		return (LOG_LEVEL_WARN);
	return (LOG_LEVEL_DEBUG);
}

/* av_log_set_callback's callback; must be thread safe (libavutil/log.h). */
static void
av_callback(void *avcl, int level, const char *fmt, va_list vl)
{
	char	line[LOG_AV_LINEMAX];
	va_list	vq;
	size_t	n;
	int	r;

	if (level >= 0)
		level &= 0xff;	/* drop the colour bits, as libav does */
	if (level < 0 || level > av_log_get_level())
		return;

	va_copy(vq, vl);
	r = av_log_format_line2(avcl, level, fmt, vq, line, sizeof line,
	    &av_print_prefix);
	va_end(vq);
	if (r < 0)
		return;

	n = strlen(line);
	if (n > sizeof av_pending - 1 - av_pending_len)
		n = sizeof av_pending - 1 - av_pending_len;
	memcpy(av_pending + av_pending_len, line, n);
	av_pending_len += n;
	av_pending[av_pending_len] = '\0';

	/* av_log_format_line2 sets print_prefix once the line is complete. */
	if (!av_print_prefix)
		return;
	while (av_pending_len > 0 && (av_pending[av_pending_len - 1] == '\n' ||
	    av_pending[av_pending_len - 1] == '\r'))
		av_pending[--av_pending_len] = '\0';
	if (av_pending_len > 0 &&
	    (int)map_av_level(level) <= atomic_load(&log_level))
		emit(map_av_level(level), "libav", av_pending);
	av_pending_len = 0;
	av_pending[0] = '\0';
}

/* Sends libav's messages through our levels, tag and destination instead
 * of its own unprefixed writes to stderr. */
void
log_hook_libav(void)
{
	av_log_set_callback(av_callback);
}

/* Lets the unit tests see exactly what would be written. */
void
log_set_sink(log_sink_cb cb, void *arg)
{
	pthread_mutex_lock(&log_mutex);
	log_sink = cb;
	log_sink_arg = arg;
	pthread_mutex_unlock(&log_mutex);
}
