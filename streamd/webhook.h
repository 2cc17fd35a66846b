/* streamd's webhook delivery (A5): one thread, with its own connection to
 * the database, delivers the durable outbox of outbox.h about once a
 * second, in order per webhook, with retries and backoff.  Events queued
 * by any process (streamd, the responder, amps epg-refresh) are found
 * there; rows left by a streamd that stopped or crashed are delivered
 * after it starts again. */
#ifndef STREAMD_WEBHOOK_H
#define STREAMD_WEBHOOK_H

struct config;

/* Starts the thread on the database at path database (copied), with
 * server.webhook_timeout and server.webhook_retry_for of cfg.  Call from
 * the main thread before other threads use libcurl: it initialises
 * libcurl.  Returns 0, or -1 with *cause (caller frees). */
int	 webhook_start(const char *database, const struct config *cfg,
	    char **cause);
/* Takes cfg's webhook_timeout and webhook_retry_for after a reload; the
 * webhooks themselves are read from the database at each delivery. */
void	 webhook_configure(const struct config *cfg);
/* Looks at the outbox now rather than at the next poll: for a thread of
 * streamd that has just queued an event. */
void	 webhook_wake(void);
/* Aborts a delivery in progress (it is tried again at the next start),
 * stops the thread and waits for it. */
void	 webhook_stop(void);

#endif
