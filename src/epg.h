/* Guide ingestion (G3): the epg_sources of the store, each a local XMLTV
 * file or a URL fetched with libcurl (gzip as Content-Encoding or as the
 * body, ETag / If-None-Match and Last-Modified / If-Modified-Since, a
 * timeout and a size limit counted after decompression).  The document is
 * read with libxml2's xmlTextReader, one node at a time, so memory stays
 * flat whatever its size; a document that declares entities, holds a
 * value over EPG_MAX_VALUE bytes, is not well-formed or is not UTF-8 as
 * it says is refused.  Programmes are matched to channels by the source's
 * match_on:
 *   epg_id    the XMLTV channel id (<programme channel>) against the
 *             channel's epg_id, or its id as text when it has none;
 *   tvg_name  the XMLTV channel's <display-name>s against the channel's
 *             tvg_name, or its name when it has none;
 * both trimmed and compared without ASCII case.  One refresh replaces
 * the source's programmes in one transaction and bumps the generation
 * once; a fetch or parse that fails changes no programme and records the
 * error in the source's row.  Each outcome queues an epg.refreshed or
 * epg.failed webhook event in the same transaction as the row.
 *
 * Stored per programme: title (the first), sub_title, description (the
 * first of each), categories (all, a JSON array), icon (the first src),
 * and episode_num as on-screen text: the "onscreen" episode-num when
 * there is one, else the "xmltv_ns" one turned into "S01E05" (numbers
 * there count from zero).  A programme whose start or stop does not
 * parse, whose stop is before its start, or that has no title is
 * skipped and counted. */
#ifndef AMPS_EPG_H
#define AMPS_EPG_H

#include <stdint.h>

#include "channel.h"

struct store;

/* The longest attribute or text accepted (bytes). */
#define EPG_MAX_VALUE	65536

/* epg_result status. */
#define EPG_OK			0
#define EPG_NOT_MODIFIED	1	/* HTTP 304: the guide is kept */
#define EPG_FAILED		2	/* error says why; the guide is kept */

/* Polled while fetching and parsing; returns non-zero to give up. */
typedef int (*epg_cancel_cb)(void *arg);

struct epg_opts {
	long long	 timeout;	/* seconds for one fetch (connecting:
					   at most 30); 0 = server.epg_timeout
					   from the store's settings */
	long long	 max_size;	/* bytes after decompression; 0 =
					   server.epg_max_size */
	epg_cancel_cb	 cancel;	/* NULL: never */
	void		*arg;
};

struct epg_result {
	char		*name;		/* the source */
	int		 status;	/* EPG_OK, ... */
	long long	 programmes;	/* rows stored (one per matched
					   channel and programme) */
	long long	 channels;	/* channels that got programmes */
	long long	 skipped;	/* impossible times, no title */
	long long	 unmatched;	/* programmes for no channel */
	int64_t		 elapsed_us;
	char		*error;		/* EPG_FAILED: why */
};

/* Frees what res holds (not res itself). */
void	 epg_result_clear(struct epg_result *res);

/* Refreshes the source called name and records the outcome in its row.
 * Returns 0 when the outcome is recorded (res->status, which may be
 * EPG_FAILED: then res->error says why and the previous guide is kept);
 * ENOENT for no such source, ECANCELED when o->cancel stopped it, EIO for
 * a database error, each with *cause (caller frees) and nothing
 * changed.  res is the caller's: clear it with epg_result_clear. */
int	 epg_refresh(struct store *s, const struct epg_opts *o,
	    const char *name, struct epg_result *res, char **cause);

/* Called after each source of epg_refresh_all. */
typedef void (*epg_result_cb)(const struct epg_result *res, void *arg);

/* Refreshes every source in the config's order or, with due, only those
 * whose refresh_interval_minutes is set and that were never refreshed or
 * last at least that long before now.  cb (may be NULL) sees each
 * result.  Returns 0 and *failed (the number of EPG_FAILED outcomes), or
 * an errno value (as epg_refresh) with *cause: the sources after it were
 * not refreshed. */
int	 epg_refresh_all(struct store *s, const struct epg_opts *o, int due,
	    int64_t now, epg_result_cb cb, void *arg, int *failed,
	    char **cause);

/* The earliest time a source with an interval is due (last_refresh plus
 * its interval; 0 for one never refreshed), or -1 when none has an
 * interval.  Returns 0, or EIO with *cause. */
int	 epg_next_due(struct store *s, int64_t *when, char **cause);

/* For /epg.xml and /api/epg: calls cb with each programme of a channel,
 * its next_programs (source NULL) and those of every guide source, by
 * start time, with the row's id (what a timed recording names) and its
 * source.  p and source are valid during the call only.  cb returns
 * non-zero to stop (that value is returned).  Returns 0, or EIO with
 * *cause. */
typedef int (*epg_programme_cb)(const struct program *p, long long id,
    const char *source, void *arg);
int	 epg_programmes_each(struct store *s, long long channel_id,
	    epg_programme_cb cb, void *arg, char **cause);

#endif
