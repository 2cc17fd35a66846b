/* Webhook events (A5) through a durable outbox: whoever causes an event
 * (streamd, the responder, amps epg-refresh) queues one row per webhook
 * whose filter takes it, in its own transaction; streamd delivers the rows
 * later, in order per webhook, with retries and backoff, so that no event
 * is lost when the receiver or streamd restarts. */
#ifndef AMPS_OUTBOX_H
#define AMPS_OUTBOX_H

#include <stdint.h>

#include <json-c/json.h>

struct store;

/* Queues event (one of conf_webhook_events) about subject (borrowed; the
 * "subject" member of the body) for every webhook that wants it.  The
 * body is {"id", "event", "time", "subject"}, the same for every target;
 * id is unique per event, so that a receiver can drop a repeat.  Returns
 * the number of rows queued, or -1 with *cause. */
int	 outbox_emit(struct store *s, const char *event,
	    json_object *subject, char **cause);

/* How outbox_deliver delivers: streamd fills it from server.webhook_*;
 * tests use short times. */
struct outbox_opts {
	long long	 timeout;	/* seconds one POST may take */
	long long	 retry_for;	/* seconds after queueing to give up */
	long long	 backoff_max;	/* seconds, cap of the retry delay */
};

/* The retry delay cap when outbox_opts.backoff_max is 0, and how long
 * outbox_prune keeps finished rows by default. */
#define OUTBOX_BACKOFF_MAX	300
#define OUTBOX_KEEP		(7 * 86400)

/* Delivers what is due now, for each webhook strictly in id order: only
 * the oldest row neither delivered nor given up is tried, so a failing
 * receiver holds back the later events of its webhook and no other's.
 * A 2xx answer marks the row delivered; anything else counts an attempt,
 * keeps the error and retries after a doubling delay (1 s up to
 * backoff_max).  A row older than retry_for, or whose webhook is no longer
 * configured, is given up.  The secret is read at delivery time; with
 * one, the body is signed in X-Amps-Signature (sha256=<hex HMAC-SHA256>).
 * No transaction is held during a POST.  A non-zero *stop (may be NULL)
 * aborts a transfer in progress and returns.  Returns the number of
 * POSTs tried, or -1 with *cause (caller frees) when the store fails. */
int	 outbox_deliver(struct store *s, const struct outbox_opts *o,
	    volatile int *stop, char **cause);

/* Deletes the rows delivered or given up before the epoch time before,
 * so that the table stays small.  Returns the number deleted, or -1 with
 * *cause. */
int	 outbox_prune(struct store *s, int64_t before, char **cause);

/* Delivery state for /api/status: {"pending", "delivered", "failed" (given
 * up), "targets": [{"webhook", "url", "pending", "delivered", "failed",
 * "last_delivery", "last_error", "next_attempt"}]}, times in ISO 8601 or
 * null.  Targets are the configured webhooks in file order, then the
 * removed ones still in the outbox.  Returns a new object (caller puts),
 * or NULL with *cause. */
json_object *outbox_status(struct store *s, char **cause);

#endif
