#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#include "conf.h"
#include "epg.h"
#include "epgjob.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* The longest sleep: sources that an import added are seen this soon,
 * and a store that could not be opened is tried again. */
#define EPGJOB_POLL	60

static struct {
	pthread_t	 thread;
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	int		 started;
	int		 stop;
	int		 changed;
	char		*database;
	long long	 timeout;
	long long	 max_size;
} job = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* epg_cancel_cb: polled by the download and the parser. */
static int
stopping(void *arg)
{
	int	stop;

	(void)arg;
	pthread_mutex_lock(&job.lock);
	stop = job.stop;
	pthread_mutex_unlock(&job.lock);
	return (stop);
}

static void
logged(const struct epg_result *res, void *arg)
{
	(void)arg;
	switch (res->status) {
	case EPG_OK:
		log_info("epg", "%s: %lld programmes for %lld channels, %lld "
		    "skipped, %lld unmatched, %.1f s", res->name,
		    res->programmes, res->channels, res->skipped,
		    res->unmatched, (double)res->elapsed_us / 1e6);
		break;
	case EPG_NOT_MODIFIED:
		log_info("epg", "%s: not modified", res->name);
		break;
	default:
		log_warn("epg", "%s: %s (the previous guide is kept)",
		    res->name, res->error);
		break;
	}
}

/* Sleeps until the monotonic deadline, a stop or a configure. */
static void
sleep_until(const struct timespec *deadline)
{
	pthread_mutex_lock(&job.lock);
	while (!job.stop && !job.changed) {
		if (pthread_cond_timedwait(&job.wake, &job.lock,
		    deadline) == ETIMEDOUT)
			break;
	}
	job.changed = 0;
	pthread_mutex_unlock(&job.lock);
}

static void *
epgjob_main(void *arg)
{
	struct store	*s = NULL;
	struct epg_opts	 o;
	struct timespec	 deadline;
	char		*cause = NULL;
	int64_t		 now, when, wait;
	int		 failed;

	(void)arg;
	while (!stopping(NULL)) {
		wait = EPGJOB_POLL;
		if (s == NULL && store_open(job.database, 0, &s,
		    &cause) != 0) {
			log_error("epg", "%s", cause);
			free(cause);
			cause = NULL;
			s = NULL;
			goto sleep;
		}
		memset(&o, 0, sizeof o);
		pthread_mutex_lock(&job.lock);
		o.timeout = job.timeout;
		o.max_size = job.max_size;
		pthread_mutex_unlock(&job.lock);
		o.cancel = stopping;
		if (epg_refresh_all(s, &o, 1, (int64_t)time(NULL), logged,
		    NULL, &failed, &cause) != 0) {
			if (!stopping(NULL))
				log_error("epg", "%s", cause);
			free(cause);
			cause = NULL;
			goto sleep;
		}
		if (epg_next_due(s, &when, &cause) != 0) {
			log_error("epg", "%s", cause);
			free(cause);
			cause = NULL;
			goto sleep;
		}
		now = (int64_t)time(NULL);
		if (when >= 0 && when - now < wait)
			wait = when - now > 1 ? when - now : 1;
sleep:
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += wait;
		sleep_until(&deadline);
	}
	store_close(s);
	return (NULL);
}

int
epgjob_start(const char *database, const struct config *cfg, char **cause)
{
	pthread_condattr_t	 attr;
	int			 err;

	if (job.started) {
		*cause = xstrdup("the guide refresher runs already");
		return (-1);
	}
	/* Both libraries' global setup is not for threads to race on. */
	xmlInitParser();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&job.wake, &attr);
	pthread_condattr_destroy(&attr);
	job.database = xstrdup(database);
	job.timeout = cfg->server.epg_timeout;
	job.max_size = cfg->server.epg_max_size;
	job.stop = job.changed = 0;
	if ((err = pthread_create(&job.thread, NULL, epgjob_main,
	    NULL)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		pthread_cond_destroy(&job.wake);
		free(job.database);
		job.database = NULL;
		curl_global_cleanup();
		return (-1);
	}
	job.started = 1;
	return (0);
}

void
epgjob_configure(const struct config *cfg)
{
	if (!job.started)
		return;
	pthread_mutex_lock(&job.lock);
	job.timeout = cfg->server.epg_timeout;
	job.max_size = cfg->server.epg_max_size;
	job.changed = 1;
	pthread_cond_signal(&job.wake);
	pthread_mutex_unlock(&job.lock);
}

void
epgjob_stop(void)
{
	if (!job.started)
		return;
	pthread_mutex_lock(&job.lock);
	job.stop = 1;
	pthread_cond_signal(&job.wake);
	pthread_mutex_unlock(&job.lock);
	pthread_join(job.thread, NULL);
	pthread_cond_destroy(&job.wake);
	free(job.database);
	job.database = NULL;
	job.started = 0;
	curl_global_cleanup();
}
