/* streamd's internals shared between its files: the input side and the
 * renditions of a pipeline (pipeline.h has the pipeline itself), the
 * manager that owns the pipelines, and the control socket. */
#ifndef STREAMD_STREAMD_H
#define STREAMD_STREAMD_H

#include <stdint.h>
#include <sys/types.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

#include "dash.h"
#include "hls.h"
#include "pipeline.h"
#include "store.h"

/* input.c: the one input of a pipeline. */
struct input {
	struct pipeline	*p;
	AVFormatContext	*ic;
	AVIOContext	*pipe_io;	/* custom_ffmpeg's stdout */
	int		 pipe_fd;
	pid_t		 child;
	int64_t		 deadline;	/* monotonic µs; interrupt after */
	int		 timeout_us;	/* per read */
	int		 re;		/* read at native rate */
	int		 loops;		/* -stream_loop: left, -1 = for ever */
	int64_t		 seek;		/* -ss, AV_TIME_BASE; 0 = none */
	int64_t		 loop_offset;	/* added to timestamps, AV_TIME_BASE */
	int64_t		 loop_end;	/* largest end seen, AV_TIME_BASE */
	int64_t		 pace_wall;	/* monotonic µs at pace_ts */
	int64_t		 pace_ts;	/* AV_TIME_BASE */
	int		 video, audio;	/* stream indices, -1 = none */
	int64_t		 bytes;		/* for the bit rate */
	int64_t		 rate_since;
	int64_t		 frames;
};

int		 input_open(struct input *in, struct pipeline *p, char **cause);
/* Reads the next packet of the video or audio stream, with -re pacing,
 * -stream_loop and the stall timeout.  Returns 0, AVERROR_EOF at the
 * end, AVERROR_EXIT when the pipeline is asked to stop, or another
 * error (*cause set). */
int		 input_read(struct input *in, AVPacket *pkt, char **cause);
void		 input_close(struct input *in);
int64_t		 now_us(void);

/* transcode.c: a rendition at run time. */
struct ostream {
	int		 in_index;	/* input stream */
	int		 copy;
	AVCodecParameters *par;		/* what the outputs get */
	AVRational	 time_base;	/* of the packets the outputs get */
	AVCodecContext	*enc;
	AVFilterGraph	*graph;
	AVFilterContext	*src, *sink;
	double		 key_interval;	/* seconds; forced keyframes */
	double		 next_key;
	int		 mirror;	/* keyframes where the source has
					   them */
	AVFrame		*frame;
	int		 adts;		/* copied AAC that arrives as ADTS */
};

struct feedmux;

struct rendition {
	int		 index;		/* in p->rend */
	const struct profile *pf;
	struct ostream	 os[2];
	int		 nos;
	int		 video_os;	/* index in os of video, -1 */
	int		 audio_os;
	unsigned	 active;	/* outputs open */
	unsigned	 failed;	/* outputs that failed, retried later */
	int64_t		 retry_at;
	int		 ll;		/* the HLS output has parts */
	struct hls	*hls;
	struct dash	*dash;
	struct feedmux	*ts, *adts;
	unsigned	 started;	/* outputs that have had their first
					   keyframe */
	uint64_t	 min_seq;	/* HLS opens at least at this media
					   sequence (a ladder's numbers) */
	double		 gate;		/* outputs start at a keyframe at or
					   after this time (s): the same one
					   in every rendition of a ladder */
	struct recorder	**rec;		/* the recordings this run writes */
	int		 nrec;
};

/* Decoders shared by every rendition of a pipeline (one decode). */
struct decoders {
	AVCodecContext	*dec[2];	/* by input stream slot: video, audio */
	int		 index[2];
	AVFrame		*frame;
};

int		 rendition_open(struct rendition *r, struct pipeline *p,
		    int index, struct input *in, const char *hwtype,
		    char **cause);
void		 rendition_close(struct rendition *r, int final);
int		 rendition_needs_decode(const struct rendition *r, int slot);
/* Opens and closes the outputs of r to match what is wanted; returns the
 * bits that are ready now. */
unsigned	 rendition_sync(struct rendition *r, struct pipeline *p,
		    unsigned wanted, int final);
/* A packet of the input (timestamps already continuous) for the copied
 * streams. */
int		 rendition_packet(struct rendition *r, struct pipeline *p,
		    const AVPacket *pkt, AVRational tb);
/* A decoded frame of input stream in_index for the encoded streams. */
int		 rendition_frame(struct rendition *r, struct pipeline *p,
		    int in_index, AVFrame *frame);
/* Drains the encoders at the end of an input. */
void		 rendition_flush(struct rendition *r, struct pipeline *p);
void		 rendition_discontinuity(struct rendition *r);
/* Closes the HLS output (not final) and returns its next media sequence;
 * 0 when it had none. */
uint64_t	 rendition_stop_hls(struct rendition *r, struct pipeline *p);
unsigned	 rendition_ready(struct rendition *r);

int		 decoders_open(struct decoders *d, struct input *in,
		    int need_video, int need_audio, char **cause);
void		 decoders_close(struct decoders *d);

/* feedmux: MPEG-TS or ADTS into a struct feed. */
struct feedmux	*feedmux_open(const char *format, struct feed *f,
		    const AVCodecParameters *const *par,
		    const AVRational *tb, int n, char **cause);
int		 feedmux_write(struct feedmux *m, const AVPacket *pkt,
		    int stream, int key);
void		 feedmux_close(struct feedmux *m);

double		 pipeline_key_interval(const struct pipeline *p,
		    AVRational input_rate);

/* The master playlist of the main pipeline's HLS renditions. */
void		 rendition_write_master(struct rendition *r, int n,
		    struct pipeline *p);

/* record.c: recordings (A4), a branch of a rendition written to a file
 * under media_root/rec/<channel>/<recording>.<ts|mp4>.  A recorder lives
 * in its rendition's spec (p->rend[i].recs) across the pipeline's runs,
 * so that a source that drops and comes back goes on in the same file,
 * its timestamps following on; each run takes it into its rendition
 * (struct rendition's rec) at a sync.  It starts at a keyframe, with
 * timestamps from 0.  The main thread writes its row (manager.c). */
enum record_state {
	RECORD_WAITING = 0,	/* for the first keyframe */
	RECORD_RUNNING,		/* writing */
	RECORD_DONE,		/* finalised, or never started (error) */
};

struct recorder {
	long long	 id;		/* its recordings row */
	long long	 channel;
	char		*variant;
	char		*file;		/* rec/<channel>/<id>.<ext> */
	char		*path;		/* media_root/file */
	int		 mp4;
	double		 not_before;	/* wall clock (s): starts at the first
					   keyframe from then on; 0 = now */
	double		 stop_at;	/* wall clock (s); 0 = when asked */
	struct pipeline	*p;		/* the pipeline it is a branch of */
	struct recorder	*next;

	/* Guarded by p->lock. */
	enum record_state state;
	int		 stop;		/* asked to stop */
	int		 in_run;	/* a run writes it: only that thread
					   touches the muxer */
	int		 holds;		/* control connections waiting on it */
	char		*error;
	int64_t		 started;	/* epoch s of the first packet */
	int64_t		 stopped;
	int64_t		 bytes;
	double		 duration;	/* s */

	/* The main thread's. */
	int		 reported;	/* the row says recording */
	int		 quiet;		/* a refused start: the responder
					   removes the row */
	int		 discard;	/* the row is gone: so is the file */
	int		 row_done;

	/* The writer's (the run's thread, or whoever finalises it). */
	AVFormatContext	*oc;
	int		 nst;
	AVCodecParameters *par[2];	/* as opened: a later run must match */
	int		 need_key;
	int		 broken;	/* a write failed: skip until stopped */
	int64_t		 origin;	/* µs: the run's first keyframe */
	int64_t		 offset;	/* µs: where the run goes in the file */
	int64_t		 end;		/* µs: the end of what is written */
	int64_t		 last_dts[2];
};

/* A recorder of row id for channel, not yet attached (caller links it
 * into a rendition spec under the pipeline's lock). */
struct recorder	*record_new(long long id, long long channel,
		    const char *variant, const char *media_root,
		    const char *format, double not_before, double stop_at);
/* Finalises (if open) and frees. */
void		 record_free(struct recorder *rec);
/* The run's side, in the pipeline thread: takes the rendition's
 * recorders into the run (opening their files) and finalises the ones
 * asked to stop. */
void		 record_sync(struct rendition *r, struct pipeline *p);
/* A packet of output stream i of r (the time base of r->os[i]). */
void		 record_packet(struct rendition *r, struct pipeline *p, int i,
		    const AVPacket *pkt, int key);
/* The run ends: its recorders wait for the next one. */
void		 record_leave(struct rendition *r, struct pipeline *p);
/* The thread ends: every recorder is finalised, unless
 * p->keep_recordings hands them to a successor. */
void		 record_end(struct pipeline *p);
/* Asks a recorder to stop, why (or NULL) its error; one that no run
 * holds is finalised at once.  record_stop locks p, record_stop_locked
 * expects it held. */
void		 record_stop(struct recorder *rec, const char *why);
void		 record_stop_locked(struct recorder *rec, const char *why);
/* Locks the pipeline rec belongs to now (a changed channel's successor
 * may take it over) and returns it. */
struct pipeline	*record_lock(struct recorder *rec);
/* Lets go of a recorder held by manager_record_find or _start. */
void		 record_release(struct recorder *rec);
/* Wall clock seconds. */
double		 record_now(void);

/* The rows (main thread, or the control thread for nothing): */
/* Marks what a streamd that died left: 'recording' rows interrupted
 * (bytes and duration from the file), starts never confirmed failed. */
void		 record_recover(struct store *s, const char *media_root);
/* The row of a recorder that started: 0, or ENOENT when the row is gone
 * (the recording is then stopped and its file removed). */
int		 record_row_started(struct store *s, struct recorder *rec);
/* The final row of a finalised recorder, with its event. */
void		 record_row_finished(struct store *s, struct recorder *rec);
/* A scheduled row that cannot start. */
void		 record_row_fail(struct store *s, long long id, const char *why);
/* Rows due to start by horizon (epoch s). */
struct record_due {
	long long	 id;
	long long	 channel;	/* 0: its channel was deleted */
	char		*variant;
	char		 format[4];
	int64_t		 start_at, stop_at;	/* stop_at 0: none */
};
int		 record_due(struct store *s, int64_t horizon,
		    struct record_due **out, size_t *n);
void		 record_due_free(struct record_due *v, size_t n);

#endif

/* manager.c: every pipeline, the channels they come from, leases. */
struct manager;

struct manager	*manager_new(const struct config *cfg, int wake_fd);
void		 manager_free(struct manager *m);
/* Takes the channels and profiles from the store (main thread): new
 * always_on channels start, changed ones restart, removed ones stop.
 * Returns 0, or -1 with *cause. */
int		 manager_load(struct manager *m, struct store *s, char **cause);
/* Applies a reloaded config's server settings. */
void		 manager_configure(struct manager *m, const struct config *cfg);
/* Finds or starts the pipeline serving (id, variant) and asks it for
 * output.  Returns 0 with a reference in *pp (manager_put) and the
 * rendition in *rend, or -1 with *cause. */
int		 manager_ensure(struct manager *m, long long id,
		    const char *variant, unsigned output, struct pipeline **pp,
		    int *rend, char **cause);
/* As manager_ensure, with a private pipeline started for this caller
 * alone (attach with overlap): never shared, absent from pipeline_status,
 * stopped by the manager_put that drops its last reference. */
int		 manager_ensure_private(struct manager *m, long long id,
		    const char *variant, unsigned output, struct pipeline **pp,
		    int *rend, char **cause);
void		 manager_put(struct manager *m, struct pipeline *p);
/* Viewer leases on a referenced pipeline. */
void		 manager_lease(struct manager *m, struct pipeline *p, int delta);
int		 manager_restart(struct manager *m, long long id,
		    const char *variant, char **cause);
/* Stops the pipeline, or with output only that output. */
int		 manager_stop(struct manager *m, long long id,
		    const char *variant, unsigned output, char **cause);
/* {"pipelines": [...]} (new reference). */
json_object	*manager_status(struct manager *m);
/* Starts recording row rec_id of channel id (variant "" or NULL for the
 * main rendition) in format "ts" or "mp4", from the first keyframe at
 * or after not_before until stop_at (wall clock s, 0 = none), starting
 * the channel if needed; the recording keeps it running until it ends.
 * A recorder of rec_id that exists already is returned as it is.  With
 * hold, the caller holds it (record_release).  Returns 0 and *out, or -1
 * with *cause. */
int		 manager_record_start(struct manager *m, long long id,
		    const char *variant, long long rec_id, const char *format,
		    double not_before, double stop_at, int hold,
		    struct recorder **out, char **cause);
/* The recorder of row rec_id, held (record_release), or NULL. */
struct recorder	*manager_record_find(struct manager *m, long long rec_id);
/* Idle stops, reaping, status rows, recordings and their schedule,
 * webhook events of the pipelines, folder cleanup (main thread). */
void		 manager_housekeep(struct manager *m, struct store *s);
/* Stops every pipeline and waits for them (final status written). */
void		 manager_shutdown(struct manager *m, struct store *s);

/* control.c: the control socket. */
struct control;

/* Listens on the unix socket at path (what names it in messages: the
 * config key): makes its folder, refuses a path too long for a socket
 * and one where another streamd listens, replaces a stale one, and gives
 * it control_socket_mode and control_socket_group, so that the web
 * server's user reaches every socket of streamd alike.  Returns the
 * non-blocking listening socket, or -1 with *cause. */
int		 control_listen(const char *path, const char *what,
		    const struct config *cfg, char **cause);
int		 control_open(struct control **out, const struct config *cfg,
		    struct manager *m, int wake_fd, char **cause);
/* Runs the socket's thread. */
int		 control_start(struct control *c, char **cause);
/* Stops the thread, closes every connection, removes the socket. */
void		 control_close(struct control *c);
/* Set by the socket's reload and shutdown commands, read by main. */
extern volatile int control_want_reload;
extern volatile int control_want_shutdown;
