/* One pipeline per (channel, input): the input opened once, fanned out to
 * renditions (the channel's profile and, for the main input, every
 * variant that shares it: one decode for an ABR ladder), each rendition
 * feeding the outputs someone asked for.  A pipeline runs in its own
 * thread; everything the manager and the control socket touch is behind
 * its lock. */
#ifndef STREAMD_PIPELINE_H
#define STREAMD_PIPELINE_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"
#include "conf.h"
#include "feed.h"
#include "profile.h"

struct recorder;

enum output {
	OUTPUT_HLS = 1 << 0,
	OUTPUT_LLHLS = 1 << 1,
	OUTPUT_DASH = 1 << 2,
	OUTPUT_TS = 1 << 3,
	OUTPUT_AUDIO = 1 << 4,
	OUTPUT_MASTER = 1 << 5,
};

/* "hls" -> OUTPUT_HLS...; 0 if unknown. */
unsigned	 output_from_name(const char *name);
const char	*output_name(unsigned output);

enum pipeline_state {
	PIPELINE_STARTING = 0,
	PIPELINE_RUNNING,
	PIPELINE_BACKOFF,
	PIPELINE_FAILED,
	PIPELINE_STOPPED,
};

const char	*pipeline_state_name(enum pipeline_state st);

/* The settings a pipeline takes from the server block. */
struct pipeline_limits {
	char		*media_root;
	int		 input_timeout;		/* seconds */
	int		 stall_timeout;
	int		 delay_min, delay_max;
	int		 max_failures;
};

/* One rendition: its name ("" for the channel's own profile), its
 * profile, and what is wanted of it and ready. */
struct rendition_spec {
	char		*name;
	char		*label;
	struct profile	*profile;	/* owned copy */
	unsigned	 wanted;	/* enum output bits */
	unsigned	 ready;
	struct feed	*feed;		/* the live feed for attach: MPEG-TS,
					   ADTS for "@audio" */
	int		 feed_users;	/* attaches on the feed: the output
					   goes when the last one leaves */
	struct recorder	*recs;		/* recordings of this rendition
					   (record.c), kept across runs */
};

struct pipeline {
	long long	 id;
	char		*group;		/* "" = the channel's own input, else
					   the variant with its own input */
	struct channel	*ch;		/* owned copy */
	struct pipeline_limits limits;

	pthread_t	 thread;
	int		 thread_started;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;

	/* Guarded by lock. */
	struct rendition_spec *rend;
	int		 nrend;
	int		 stop;		/* asked to stop */
	int		 restart;	/* asked to restart */
	int		 done;		/* the thread has ended */
	int		 changed;	/* wanted changed since last look */
	enum pipeline_state state;
	int64_t		 since;		/* time of the last state change */
	int64_t		 started;	/* time the pipeline was started */
	unsigned	 restarts;
	unsigned	 failures;	/* in a row */
	unsigned	 failed_runs;	/* ever: a waiting ensure watches it */
	char		*last_error;
	int64_t		 input_bitrate;
	double		 fps;
	pid_t		 child;		/* custom_ffmpeg, 0 = none */
	int		 leases;	/* viewers */
	int64_t		 last_used;	/* last ensure or release */
	int		 dirty;		/* status changed, not yet stored */
	long long	 owner;		/* 0: shared; else the number of the
					   one attach (overlap) it serves */
	unsigned	 runs_started;	/* runs that reached running */
	int		 keep_recordings;	/* the thread's end leaves its
					   recordings open for a successor */

	/* The main thread's alone: what the events told so far. */
	unsigned	 seen_runs;
	unsigned	 seen_failed;
	int		 announced;	/* stream.started sent */
	int		 successor;	/* took over from a changed channel's
					   pipeline: its start is a restart */
	int		 replaced;	/* a successor took over: no
					   stream.stopped */

	int		 wake_fd;	/* written when something is ready or
					   the state changes */
};

/* A pipeline for channel ch (copied) and group, with renditions for the
 * group's profiles (profiles is looked up by name; NULL entries fall back
 * to built-ins) and "@audio"; with only, the one rendition of that name
 * ("", a variant, "@audio"): a private pipeline encodes nothing else.
 * Not started. */
struct pipeline	*pipeline_new(const struct channel *ch, const char *group,
		    const char *only, const struct profile *const *profiles,
		    int nprofiles, const struct pipeline_limits *limits,
		    int wake_fd, char **cause);
int		 pipeline_start(struct pipeline *p, char **cause);
/* Asks the thread to stop (clean: open segments closed, playlists
 * ended). */
void		 pipeline_stop(struct pipeline *p);
/* Waits for the thread and frees p. */
void		 pipeline_free(struct pipeline *p);
void		 pipeline_restart(struct pipeline *p);
/* The rendition named name ("" = main), or -1. */
int		 pipeline_rendition(const struct pipeline *p, const char *name);
/* Adds outputs to a rendition (locks). */
void		 pipeline_want(struct pipeline *p, int rend, unsigned outputs);
/* Removes outputs from a rendition (locks): the thread closes them. */
void		 pipeline_unwant(struct pipeline *p, int rend, unsigned outputs);
/* Counts an attach (delta 1) or its end (-1) on the feed of output
 * (OUTPUT_TS or OUTPUT_AUDIO) of rendition rend (locks): without
 * attaches the output is no longer wanted and its muxer closes. */
void		 pipeline_feed_use(struct pipeline *p, int rend,
		    unsigned output, int delta);
/* 1 if every output in outputs of rendition rend is ready (locks). */
int		 pipeline_ready(struct pipeline *p, int rend, unsigned outputs);
/* The path under media_root of an output of a rendition, "hls/5/index.m3u8"
 * (caller frees); NULL for feeds. */
char		*pipeline_output_path(const struct pipeline *p, int rend,
		    unsigned output);
/* The folders of a rendition under media_root (hls/<id>[/<name>],
 * dash/<id>[/<name>]) written into buf. */
void		 pipeline_dir(const struct pipeline *p, const char *kind,
		    const char *rend_name, char *buf, size_t size);

/* The pipeline thread (pipeline.c runs it). */
void		*pipeline_main(void *arg);

/* Helpers for the thread, in pipeline.c. */
void		 pipeline_set_state(struct pipeline *p,
		    enum pipeline_state st, const char *error);
void		 pipeline_wake(struct pipeline *p);

#endif
