/* streamd's guide refresher (G3): one thread that refreshes every EPG
 * source whose refresh_interval_minutes is set when it is due (never
 * refreshed, or refreshed at least that long ago), through src/epg.h,
 * with a store connection of its own.  Sources added by an import are
 * noticed within a minute. */
#ifndef STREAMD_EPGJOB_H
#define STREAMD_EPGJOB_H

struct config;

/* Starts the thread on the database at path database (copied), with
 * cfg's server.epg_timeout and server.epg_max_size.  Call from the main
 * thread before any other thread uses libxml2 or libcurl.  Returns 0, or
 * -1 with *cause (caller frees). */
int	 epgjob_start(const char *database, const struct config *cfg,
	    char **cause);
/* After a reload: takes cfg's limits and looks at the sources again. */
void	 epgjob_configure(const struct config *cfg);
/* Stops the thread, cutting a refresh short (a download or a parse
 * gives up within a moment; nothing of it is stored), and waits for it.
 * Does nothing if it was not started. */
void	 epgjob_stop(void);

#endif
