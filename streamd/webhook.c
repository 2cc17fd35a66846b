#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "webhook.h"
#include "xmalloc.h"

/* Seconds between looks at the outbox, and between prunes. */
#define POLL_S		1
#define PRUNE_S		3600

struct webhook_thread {
	char			*database;
	pthread_t		 thread;
	pthread_mutex_t		 lock;		/* the fields below */
	pthread_cond_t		 wake;
	struct outbox_opts	 opts;
	int			 woken;
	volatile int		 stop;		/* also read by curl */
};

static struct webhook_thread	*running;

static void
take_opts(struct outbox_opts *o, const struct config *cfg)
{
	o->timeout = cfg->server.webhook_timeout;
	o->retry_for = cfg->server.webhook_retry_for;
	o->backoff_max = 0;
}

/* Logs a store error once, not once a second while it lasts. */
static void
store_error(char **last, char *cause)
{
	if (*last == NULL || strcmp(*last, cause) != 0)
		log_error("webhook", "%s", cause);
	free(*last);
	*last = cause;
}

/* Waits up to POLL_S seconds, or until woken or stopped; w->lock held. */
static void
nap(struct webhook_thread *w)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += POLL_S;
	while (!w->woken && !w->stop &&
	    pthread_cond_timedwait(&w->wake, &w->lock, &ts) != ETIMEDOUT)
		continue;
	w->woken = 0;
}

static void *
webhook_main(void *arg)
{
	struct webhook_thread	*w = arg;
	struct store		*s = NULL;
	struct outbox_opts	 o;
	char			*cause = NULL, *last = NULL;
	time_t			 prune = 0, now;
	int			 n = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		o = w->opts;
		pthread_mutex_unlock(&w->lock);

		if (s == NULL && store_open(w->database, 0, &s, &cause) != 0) {
			s = NULL;
			store_error(&last, cause);
			n = 0;
		} else if ((n = outbox_deliver(s, &o, &w->stop,
		    &cause)) < 0) {
			store_error(&last, cause);
			n = 0;
		} else if ((now = time(NULL)) >= prune) {
			if (outbox_prune(s, now - OUTBOX_KEEP, &cause) < 0)
				store_error(&last, cause);
			prune = now + PRUNE_S;
		}
		cause = NULL;
		if (n > 0)
			log_debug("webhook", "%d deliveries tried", n);

		pthread_mutex_lock(&w->lock);
		/* After POSTs, look again at once: the next rows of those
		 * webhooks may be due. */
		if (n == 0)
			nap(w);
	}
	pthread_mutex_unlock(&w->lock);
	store_close(s);
	free(last);
	return (NULL);
}

static void
webhook_free(struct webhook_thread *w)
{
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->database);
	free(w);
}

/* The thread opens its own store: a connection is not shared between
 * threads that write. */
int
webhook_start(const char *database, const struct config *cfg, char **cause)
{
	pthread_condattr_t	 ca;
	struct webhook_thread	*w;
	CURLcode		 rc;
	int			 err;

	if (running != NULL) {
		*cause = xstrdup("webhook delivery already started");
		return (-1);
	}
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		*cause = xprintf("curl_global_init: %s",
		    curl_easy_strerror(rc));
		return (-1);
	}
	w = xcalloc(1, sizeof *w);
	w->database = xstrdup(database);
	take_opts(&w->opts, cfg);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->wake, &ca);
	pthread_condattr_destroy(&ca);
	if ((err = pthread_create(&w->thread, NULL, webhook_main, w)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		webhook_free(w);
		curl_global_cleanup();
		return (-1);
	}
	running = w;
	log_info("webhook", "delivering from %s", database);
	return (0);
}

void
webhook_configure(const struct config *cfg)
{
	struct webhook_thread	*w = running;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	take_opts(&w->opts, cfg);
	pthread_mutex_unlock(&w->lock);
}

void
webhook_wake(void)
{
	struct webhook_thread	*w = running;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->woken = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void
webhook_stop(void)
{
	struct webhook_thread	*w = running;

	if (w == NULL)
		return;
	running = NULL;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	webhook_free(w);
	curl_global_cleanup();
	log_info("webhook", "stopped");
}
