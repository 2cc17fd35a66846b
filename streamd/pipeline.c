#include "config.h"

#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "streamd.h"
#include "xmalloc.h"

/* A timestamp step larger than this (or any step back) is a jump: the
 * outputs go on continuously and HLS marks a discontinuity. */
#define JUMP_US		(5 * (int64_t)AV_TIME_BASE)
/* How often a running pipeline looks at what is wanted of it. */
#define SYNC_US		200000
/* Bytes of a live feed kept for viewers that fall behind. */
#define TS_FEED_BYTES	(8 * 1024 * 1024)
#define AUDIO_FEED_BYTES (1024 * 1024)

static const char *const output_names[] = {
	"hls", "ll-hls", "dash", "ts", "audio", "master", NULL
};

unsigned
output_from_name(const char *name)
{
	int	i;

	for (i = 0; output_names[i] != NULL; i++)
		if (strcmp(name, output_names[i]) == 0)
			return (1u << i);
	return (0);
}

const char *
output_name(unsigned output)
{
	int	i;

	for (i = 0; output_names[i] != NULL; i++)
		if (output == (1u << i))
			return (output_names[i]);
	return ("?");
}

const char *
pipeline_state_name(enum pipeline_state st)
{
	switch (st) {
	case PIPELINE_STARTING:
		return ("starting");
	case PIPELINE_RUNNING:
		return ("running");
	case PIPELINE_BACKOFF:
		return ("backoff");
	case PIPELINE_FAILED:
		return ("failed");
	case PIPELINE_STOPPED:
		return ("stopped");
	}
	return ("stopped");
}

/* "hls/<id>[/<name>]": where a rendition's files go under media_root.
 * A variant with its own input writes where its rendition would. */
static void
rel_dir(const struct pipeline *p, const char *kind, const char *rend_name,
    char *buf, size_t size)
{
	if ((rend_name == NULL || rend_name[0] == '\0') && p->group[0] != '\0')
		rend_name = p->group;
	if (rend_name == NULL || rend_name[0] == '\0')
		snprintf(buf, size, "%s/%lld", kind, p->id);
	else
		snprintf(buf, size, "%s/%lld/%s", kind, p->id, rend_name);
}

void
pipeline_dir(const struct pipeline *p, const char *kind,
    const char *rend_name, char *buf, size_t size)
{
	char	rel[512];

	rel_dir(p, kind, rend_name, rel, sizeof rel);
	snprintf(buf, size, "%s/%s", p->limits.media_root, rel);
}

static void
add_rendition(struct pipeline *p, const char *name, const char *label,
    const struct profile *pf)
{
	struct rendition_spec	*r;

	p->rend = xreallocarray(p->rend, (size_t)p->nrend + 1,
	    sizeof *p->rend);
	r = &p->rend[p->nrend++];
	memset(r, 0, sizeof *r);
	r->name = xstrdup(name);
	r->label = label ? xstrdup(label) : NULL;
	r->profile = xcalloc(1, sizeof *r->profile);
	schema_copy(&profile_schema, r->profile, pf);
	r->profile->builtin = pf->builtin;
	r->feed = feed_new(name[0] == '@' ? AUDIO_FEED_BYTES : TS_FEED_BYTES);
}

/* 1 if the rendition named name is part of the pipeline. */
static int
keep(const char *only, const char *name)
{
	return (only == NULL || strcmp(only, name) == 0);
}

static const struct profile *
find_profile(const char *name, const struct profile *const *profiles,
    int n)
{
	int	i;

	if (name == NULL)
		name = "copy";
	for (i = 0; i < n; i++)
		if (profiles[i] != NULL && strcmp(profiles[i]->name, name) ==
		    0)
			return (profiles[i]);
	return (profile_builtin(name));
}

/* 1 if a variant opens its own input (it cannot be a rendition of the
 * channel's decode). */
static int
own_input(const struct variant *v)
{
	return (v->source != NULL || v->custom_ffmpeg.command != NULL ||
	    v->input_options.n > 0 || v->input_args.n > 0);
}

struct pipeline *
pipeline_new(const struct channel *ch, const char *group, const char *only,
    const struct profile *const *profiles, int nprofiles,
    const struct pipeline_limits *limits, int wake_fd, char **cause)
{
	struct pipeline		*p;
	const struct variant	*v;
	const struct profile	*pf;
	size_t			 i;

	p = xcalloc(1, sizeof *p);
	p->id = ch->id;
	p->group = xstrdup(group);
	p->ch = channel_dup(ch);
	/* Programmes change often and never concern the pipeline. */
	schema_list_free(&program_schema, &p->ch->next_programs);
	p->limits = *limits;
	p->limits.media_root = xstrdup(limits->media_root);
	p->wake_fd = wake_fd;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->since = p->started = time(NULL);

	if (group[0] == '\0') {
		if ((pf = find_profile(ch->ffmpeg_profile, profiles,
		    nprofiles)) == NULL)
			goto noprofile;
		if (keep(only, ""))
			add_rendition(p, "", NULL, pf);
		for (i = 0; i < ch->adaptive_bitrates.n; i++) {
			v = schema_list_at(&variant_schema,
			    &ch->adaptive_bitrates, i);
			if (own_input(v) || !keep(only, v->name))
				continue;
			if ((pf = find_profile(v->ffmpeg_profile ?
			    v->ffmpeg_profile : ch->ffmpeg_profile, profiles,
			    nprofiles)) == NULL)
				goto noprofile;
			add_rendition(p, v->name, v->label, pf);
		}
	} else {
		if ((v = channel_variant(ch, group)) == NULL) {
			*cause = xprintf("stream %lld has no variant '%s'",
			    ch->id, group);
			pipeline_free(p);
			return (NULL);
		}
		if ((pf = find_profile(v->ffmpeg_profile ? v->ffmpeg_profile :
		    ch->ffmpeg_profile, profiles, nprofiles)) == NULL)
			goto noprofile;
		if (keep(only, ""))
			add_rendition(p, "", v->label, pf);
	}
	/* The audio feed (/audio): AAC as it comes, or encoded. */
	if (keep(only, "@audio")) {
		add_rendition(p, "@audio", NULL, profile_builtin("audio"));
		free(p->rend[p->nrend - 1].profile->audio_codec);
		p->rend[p->nrend - 1].profile->audio_codec = xstrdup("copy");
	}
	if (p->nrend == 0) {
		*cause = xprintf("stream %lld has no rendition '%s'", ch->id,
		    only);
		pipeline_free(p);
		return (NULL);
	}
	return (p);
noprofile:
	*cause = xprintf("stream %lld: unknown ffmpeg_profile", ch->id);
	pipeline_free(p);
	return (NULL);
}

int
pipeline_start(struct pipeline *p, char **cause)
{
	int	err;

	if ((err = pthread_create(&p->thread, NULL, pipeline_main, p)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		return (-1);
	}
	p->thread_started = 1;
	return (0);
}

void
pipeline_stop(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void
pipeline_restart(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	__atomic_store_n(&p->restart, 1, __ATOMIC_RELAXED);
	p->failures = 0;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void
pipeline_free(struct pipeline *p)
{
	struct recorder	*rec;
	int		 i;

	if (p == NULL)
		return;
	if (p->thread_started) {
		pipeline_stop(p);
		pthread_join(p->thread, NULL);
	}
	for (i = 0; i < p->nrend; i++) {
		while ((rec = p->rend[i].recs) != NULL) {
			p->rend[i].recs = rec->next;
			record_free(rec);
		}
		free(p->rend[i].name);
		free(p->rend[i].label);
		schema_free(&profile_schema, p->rend[i].profile);
		free(p->rend[i].profile);
		feed_free(p->rend[i].feed);
	}
	free(p->rend);
	channel_free(p->ch);
	free(p->group);
	free(p->last_error);
	free(p->limits.media_root);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int
pipeline_rendition(const struct pipeline *p, const char *name)
{
	int	i;

	for (i = 0; i < p->nrend; i++)
		if (strcmp(p->rend[i].name, name) == 0)
			return (i);
	return (-1);
}

void
pipeline_want(struct pipeline *p, int rend, unsigned outputs)
{
	int	i;

	pthread_mutex_lock(&p->lock);
	if (outputs & OUTPUT_MASTER) {
		/* The master lists every rendition of the main input. */
		for (i = 0; i < p->nrend; i++)
			if (p->rend[i].name[0] != '@')
				p->rend[i].wanted |= OUTPUT_HLS;
	}
	if ((p->rend[rend].wanted | outputs) != p->rend[rend].wanted) {
		p->rend[rend].wanted |= outputs;
		p->changed = 1;
		p->dirty = 1;
	}
	pthread_mutex_unlock(&p->lock);
}

void
pipeline_unwant(struct pipeline *p, int rend, unsigned outputs)
{
	int	i;

	pthread_mutex_lock(&p->lock);
	if (outputs & (OUTPUT_MASTER | OUTPUT_HLS)) {
		/* Without the master, the ladder's renditions go too. */
		for (i = 1; i < p->nrend && rend == 0 && (outputs &
		    OUTPUT_MASTER); i++)
			if (p->rend[i].name[0] != '@')
				p->rend[i].wanted &= ~OUTPUT_HLS;
	}
	if (outputs & OUTPUT_HLS)
		outputs |= OUTPUT_LLHLS | OUTPUT_MASTER;
	p->rend[rend].wanted &= ~outputs;
	p->changed = 1;
	p->dirty = 1;
	pthread_mutex_unlock(&p->lock);
}

void
pipeline_feed_use(struct pipeline *p, int rend, unsigned output, int delta)
{
	struct rendition_spec	*r;

	pthread_mutex_lock(&p->lock);
	r = &p->rend[rend];
	r->feed_users += delta;
	if (r->feed_users <= 0) {
		r->feed_users = 0;
		if (delta < 0 && (r->wanted & output)) {
			r->wanted &= ~output;
			p->changed = 1;
			p->dirty = 1;
		}
	}
	pthread_mutex_unlock(&p->lock);
}

int
pipeline_ready(struct pipeline *p, int rend, unsigned outputs)
{
	int	ready;

	pthread_mutex_lock(&p->lock);
	ready = (p->rend[rend].ready & outputs) == outputs;
	pthread_mutex_unlock(&p->lock);
	return (ready);
}

char *
pipeline_output_path(const struct pipeline *p, int rend, unsigned output)
{
	char	rel[512];

	switch (output) {
	case OUTPUT_HLS:
	case OUTPUT_LLHLS:
		rel_dir(p, "hls", p->rend[rend].name, rel, sizeof rel);
		return (xprintf("%s/index.m3u8", rel));
	case OUTPUT_MASTER:
		return (xprintf("hls/%lld/master.m3u8", p->id));
	case OUTPUT_DASH:
		rel_dir(p, "dash", p->rend[rend].name, rel, sizeof rel);
		return (xprintf("%s/manifest.mpd", rel));
	}
	return (NULL);
}

void
pipeline_wake(struct pipeline *p)
{
	uint64_t	one = 1;
	ssize_t		n;

	if (p->wake_fd >= 0)
		n = write(p->wake_fd, &one, sizeof one);
	(void)n;
}

void
pipeline_set_state(struct pipeline *p, enum pipeline_state st,
    const char *error)
{
	pthread_mutex_lock(&p->lock);
	if (p->state != st) {
		p->state = st;
		p->since = time(NULL);
	}
	if (error != NULL) {
		free(p->last_error);
		p->last_error = xstrdup(error);
	}
	p->dirty = 1;
	pthread_mutex_unlock(&p->lock);
	pipeline_wake(p);
}

/* One run: the input open, its renditions, until the input ends, fails,
 * or a stop or restart is asked for. */
struct run {
	struct pipeline	*p;
	struct input	 in;
	struct rendition *r;
	int		 nr;
	struct decoders	 dec;
	int64_t		 offset;	/* AV_TIME_BASE */
	int64_t		 last[2];	/* by slot, AV_TIME_BASE; INT64_MIN */
	int64_t		 next_sync;
	int64_t		 stats_at, stats_bytes, stats_frames;
	unsigned	 master_ready;
	int		 master_written;
	unsigned	*ready;		/* by rendition, as last published */
	int		 waiting;	/* some wanted output is not ready */
};

static int
in_ladder(const struct run *run, int i)
{
	return (run->p->rend[i].name[0] != '@' && run->r[i].nos > 0);
}

/* The renditions of a ladder must share their media sequence numbers, or
 * a player switching between them would skip or repeat.  When some run
 * HLS and others are about to start it, all start again together from
 * the highest number; outputs that have not started yet but disagree
 * are opened again at the highest. */
static void
number_ladder(struct run *run)
{
	struct rendition	*r;
	uint64_t		 seq = 0, n, lo = UINT64_MAX, hi = 0;
	int			 i, opening = 0, running = 0;

	for (i = 0; i < run->nr; i++) {
		if (!in_ladder(run, i))
			continue;
		if (run->r[i].active & OUTPUT_HLS) {
			running = 1;
			if (!(run->r[i].started & OUTPUT_HLS)) {
				n = hls_next_sequence(run->r[i].hls);
				lo = n < lo ? n : lo;
				hi = n > hi ? n : hi;
			}
		} else if (!(run->r[i].failed & OUTPUT_HLS))
			opening = 1;
	}
	if (opening && running) {
		for (i = 0; i < run->nr; i++) {
			if (!in_ladder(run, i))
				continue;
			n = rendition_stop_hls(&run->r[i], run->p);
			seq = n > seq ? n : seq;
		}
	} else if (!opening && lo != UINT64_MAX && lo != hi) {
		for (i = 0; i < run->nr; i++) {
			r = &run->r[i];
			if (in_ladder(run, i) && (r->active & OUTPUT_HLS) &&
			    !(r->started & OUTPUT_HLS) &&
			    hls_next_sequence(r->hls) < hi)
				rendition_stop_hls(r, run->p);
		}
		seq = hi;
	} else
		return;
	for (i = 0; i < run->nr; i++)
		if (in_ladder(run, i) && seq > run->r[i].min_seq)
			run->r[i].min_seq = seq;
}

/* A ladder's renditions start their segmented outputs at one keyframe of
 * the common grid, a little ahead of what the encoders may already hold,
 * so that their media sequences line up.  The gate stays put while an
 * output waits for it. */
static void
set_gate(struct run *run)
{
	struct pipeline	*p = run->p;
	int64_t		 last;
	double		 interval, now;
	int		 i, ladder = 0, pending = 0;

	for (i = 0; i < run->nr; i++) {
		if (in_ladder(run, i))
			ladder++;
		if (run->r[i].active & ~run->r[i].started & (OUTPUT_HLS |
		    OUTPUT_DASH))
			pending = 1;
	}
	if (ladder < 2 || pending)
		return;
	interval = run->in.video >= 0 ? pipeline_key_interval(p,
	    av_guess_frame_rate(run->in.ic,
	    run->in.ic->streams[run->in.video], NULL)) : 2.0;
	last = run->last[0] > run->last[1] ? run->last[0] : run->last[1];
	if (last == INT64_MIN)
		return;		/* nothing read yet: any keyframe will do */
	now = (double)last / AV_TIME_BASE;
	for (i = 0; i < run->nr; i++)
		run->r[i].gate = (floor(now / interval) + 2) * interval;
}

static void
sync_outputs(struct run *run, int final)
{
	struct pipeline	*p = run->p;
	unsigned	 wanted[64], ready, master = 0, hls_all = 0;
	int		 i, changed = 0, want_master;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < run->nr && i < 64; i++)
		wanted[i] = final ? 0 : p->rend[i].wanted;
	want_master = !final && (p->rend[0].wanted & OUTPUT_MASTER);
	p->changed = 0;
	pthread_mutex_unlock(&p->lock);
	run->waiting = 0;
	if (want_master)
		number_ladder(run);
	set_gate(run);

	for (i = 0; i < run->nr && i < 64; i++) {
		ready = rendition_sync(&run->r[i], p, wanted[i], final);
		record_sync(&run->r[i], p);
		if (p->rend[i].name[0] != '@' && (wanted[i] & OUTPUT_HLS)) {
			hls_all++;
			if (ready & OUTPUT_HLS)
				master++;
		}
		run->ready[i] = ready;
		if (wanted[i] & ~ready & (OUTPUT_HLS | OUTPUT_LLHLS |
		    OUTPUT_DASH | OUTPUT_TS | OUTPUT_AUDIO))
			run->waiting = 1;
		pthread_mutex_lock(&p->lock);
		if (p->rend[i].ready != ready) {
			p->rend[i].ready = ready;
			changed = 1;
		}
		pthread_mutex_unlock(&p->lock);
	}
	if (want_master && hls_all > 0 && master == hls_all &&
	    run->master_written < 2) {
		/* Written once every rendition is playable, and once more
		 * when a few segments have measured the bit rates. */
		if (run->master_written == 0 || now_us() > run->stats_at)
			rendition_write_master(run->r, run->nr, p);
		run->master_written++;
		pthread_mutex_lock(&p->lock);
		p->rend[0].ready |= OUTPUT_MASTER;
		pthread_mutex_unlock(&p->lock);
		changed = 1;
	}
	if (changed)
		pipeline_wake(p);
}

static int
slot_of(const struct run *run, int stream_index)
{
	if (stream_index == run->in.video)
		return (0);
	return (1);
}

/* Timestamps that jump (a new source, a splice, a wrap the demuxer did
 * not undo) are moved to follow on from the last ones, and HLS gets a
 * discontinuity. */
static int
fix_timestamps(struct run *run, AVPacket *pkt)
{
	AVRational	 tb = run->in.ic->streams[pkt->stream_index]->time_base;
	int64_t		 ts, d, dur, shift;
	int		 slot = slot_of(run, pkt->stream_index), i;

	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (ts == AV_NOPTS_VALUE)
		return (0);
	d = av_rescale_q(ts, tb, AV_TIME_BASE_Q) + run->offset;
	dur = pkt->duration > 0 ? av_rescale_q(pkt->duration, tb,
	    AV_TIME_BASE_Q) : 20000;
	if (run->last[slot] != INT64_MIN && (d > run->last[slot] + JUMP_US ||
	    d < run->last[slot] - AV_TIME_BASE / 2)) {
		shift = run->last[slot] + dur - d;
		run->offset += shift;
		d += shift;
		log_info("pipeline", "stream %lld: timestamp jump of %.3f s; "
		    "marked as a discontinuity", run->p->id,
		    -(double)shift / AV_TIME_BASE);
		for (i = 0; i < run->nr; i++)
			rendition_discontinuity(&run->r[i]);
	} else if (run->last[slot] != INT64_MIN && d < run->last[slot])
		return (-1);	/* a late packet: muxers refuse it */
	run->last[slot] = d;
	if (run->offset != 0) {
		shift = av_rescale_q(run->offset, AV_TIME_BASE_Q, tb);
		if (pkt->pts != AV_NOPTS_VALUE)
			pkt->pts += shift;
		if (pkt->dts != AV_NOPTS_VALUE)
			pkt->dts += shift;
	}
	return (0);
}

static void
update_stats(struct run *run)
{
	struct pipeline	*p = run->p;
	int64_t		 now = now_us(), span;

	if (now < run->stats_at)
		return;
	span = now - (run->stats_at - 2000000);
	pthread_mutex_lock(&p->lock);
	if (span > 0) {
		p->input_bitrate = (run->in.bytes - run->stats_bytes) * 8 *
		    1000000 / span;
		p->fps = (double)(run->in.frames - run->stats_frames) *
		    1000000 / (double)span;
	}
	p->dirty = 1;
	pthread_mutex_unlock(&p->lock);
	run->stats_bytes = run->in.bytes;
	run->stats_frames = run->in.frames;
	run->stats_at = now + 2000000;
}

static int
decode(struct run *run, AVPacket *pkt)
{
	AVCodecContext	*dec;
	AVFrame		*f = run->dec.frame;
	int		 slot, i, err;

	slot = slot_of(run, pkt->stream_index);
	if ((dec = run->dec.dec[slot]) == NULL ||
	    run->dec.index[slot] != pkt->stream_index)
		return (0);
	err = avcodec_send_packet(dec, pkt);
	if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_EOF)
		return (0);	/* a broken packet: skip it */
	for (;;) {
		err = avcodec_receive_frame(dec, f);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
			return (0);
		if (err < 0)
			return (0);
		f->pts = f->best_effort_timestamp;
		for (i = 0; i < run->nr; i++)
			if (rendition_needs_decode(&run->r[i], slot) &&
			    (err = rendition_frame(&run->r[i], run->p,
			    pkt->stream_index, f)) < 0) {
				av_frame_unref(f);
				return (err);
			}
		av_frame_unref(f);
	}
}

/* While someone waits for an output, the output's first keyframe or
 * segment answers at once rather than at the next periodic look. */
static void
check_ready(struct run *run)
{
	int	i;

	for (i = 0; i < run->nr; i++)
		if (rendition_ready(&run->r[i]) != run->ready[i]) {
			run->next_sync = 0;
			return;
		}
}

static void
run_close(struct run *run, int final)
{
	int	i;

	if (run->r != NULL) {
		for (i = 0; i < run->nr; i++) {
			record_leave(&run->r[i], run->p);
			rendition_close(&run->r[i], final);
		}
		free(run->r);
		run->r = NULL;
	}
	free(run->ready);
	run->ready = NULL;
	decoders_close(&run->dec);
	input_close(&run->in);
	pthread_mutex_lock(&run->p->lock);
	for (i = 0; i < run->p->nrend; i++)
		run->p->rend[i].ready = 0;
	pthread_mutex_unlock(&run->p->lock);
}

/* Returns 0 when the input ended or failed (cause set), 1 when asked to
 * stop or restart. */
static int
run_once(struct run *run, char **cause)
{
	struct pipeline	*p = run->p;
	AVPacket	*pkt = NULL;
	char		 eb[128];
	int		 i, err, need_v = 0, need_a = 0, running = 0, rc = 0;

	run->last[0] = run->last[1] = INT64_MIN;
	run->offset = 0;
	run->master_written = 0;
	if (input_open(&run->in, p, cause) != 0)
		return (0);
	run->nr = p->nrend;
	run->r = xcalloc((size_t)run->nr, sizeof *run->r);
	run->ready = xcalloc((size_t)run->nr, sizeof *run->ready);
	run->waiting = 0;
	for (i = 0; i < run->nr; i++) {
		if (rendition_open(&run->r[i], p, i, &run->in,
		    p->ch->hwaccel.type, cause) != 0)
			goto out;
		need_v |= rendition_needs_decode(&run->r[i], 0);
		need_a |= rendition_needs_decode(&run->r[i], 1);
	}
	if (decoders_open(&run->dec, &run->in, need_v, need_a, cause) != 0)
		goto out;
	if ((pkt = av_packet_alloc()) == NULL) {
		*cause = xstrdup("out of memory");
		goto out;
	}
	run->stats_at = now_us() + 2000000;
	run->next_sync = 0;
	for (;;) {
		if (now_us() >= run->next_sync ||
		    __atomic_load_n(&p->changed, __ATOMIC_RELAXED)) {
			sync_outputs(run, 0);
			run->next_sync = now_us() + SYNC_US;
		}
		err = input_read(&run->in, pkt, cause);
		if (err == AVERROR_EXIT) {
			rc = 1;
			break;
		}
		if (err == AVERROR_EOF) {
			*cause = xstrdup("the input ended");
			break;
		}
		if (err < 0)
			break;
		if (!running) {
			running = 1;
			pthread_mutex_lock(&p->lock);
			p->runs_started++;
			pthread_mutex_unlock(&p->lock);
			pipeline_set_state(p, PIPELINE_RUNNING, NULL);
		}
		if (fix_timestamps(run, pkt) == 0) {
			for (i = 0; i < run->nr; i++)
				rendition_packet(&run->r[i], p, pkt,
				    run->in.ic->streams[pkt->stream_index]->
				    time_base);
			if ((err = decode(run, pkt)) < 0) {
				*cause = xprintf("transcode: %s",
				    av_make_error_string(eb, sizeof eb, err));
				av_packet_unref(pkt);
				break;
			}
		}
		av_packet_unref(pkt);
		if (run->waiting)
			check_ready(run);
		update_stats(run);
		if (running && p->failures > 0 && now_us() - run->in.rate_since >
		    10 * (int64_t)AV_TIME_BASE) {
			pthread_mutex_lock(&p->lock);
			p->failures = 0;
			pthread_mutex_unlock(&p->lock);
		}
	}
	if (rc == 0 || __atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		/* What the encoders hold goes out before the files close. */
		for (i = 0; i < run->nr; i++)
			rendition_flush(&run->r[i], p);
	}
out:
	av_packet_free(&pkt);
	return (rc);
}

/* Waits for the backoff delay, or less if a stop or restart comes.
 * Returns 1 if asked to stop. */
static int
backoff(struct pipeline *p, int seconds)
{
	struct timespec	ts;
	int		stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&p->lock);
	while (!p->stop && !p->restart)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) ==
		    ETIMEDOUT)
			break;
	stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return (stop);
}

void *
pipeline_main(void *arg)
{
	struct pipeline	*p = arg;
	struct run	 run;
	char		*cause = NULL;
	int		 asked, delay, i, give_up;

	memset(&run, 0, sizeof run);
	run.p = p;
	log_info("pipeline", "stream %lld%s%s%s: starting", p->id,
	    p->group[0] ? " variant " : "", p->group, p->owner ?
	    " (overlap)" : "");
	while (!__atomic_load_n(&p->stop, __ATOMIC_RELAXED)) {
		pipeline_set_state(p, PIPELINE_STARTING, NULL);
		for (i = 0; i < p->nrend; i++)
			feed_reset(p->rend[i].feed);
		asked = run_once(&run, &cause);
		run_close(&run, __atomic_load_n(&p->stop, __ATOMIC_RELAXED));
		if (__atomic_load_n(&p->stop, __ATOMIC_RELAXED))
			break;
		pthread_mutex_lock(&p->lock);
		p->restarts++;
		if (asked) {
			p->restart = 0;
			pthread_mutex_unlock(&p->lock);
			log_info("pipeline", "stream %lld: restarting on "
			    "request", p->id);
			continue;
		}
		p->failures++;
		p->failed_runs++;
		give_up = p->limits.max_failures > 0 &&
		    p->failures >= (unsigned)p->limits.max_failures;
		delay = p->limits.delay_min;
		for (i = 1; i < (int)p->failures && delay <
		    p->limits.delay_max; i++)
			delay *= 2;
		if (delay > p->limits.delay_max)
			delay = p->limits.delay_max;
		pthread_mutex_unlock(&p->lock);
		if (give_up) {
			log_error("pipeline", "stream %lld: %s; giving up "
			    "after %d failures", p->id, cause ? cause : "?",
			    p->limits.max_failures);
			pipeline_set_state(p, PIPELINE_FAILED, cause);
			free(cause);
			cause = NULL;
			backoff(p, INT_MAX / 4);
			pthread_mutex_lock(&p->lock);
			p->restart = 0;
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		log_warn("pipeline", "stream %lld: %s; retrying in %d s",
		    p->id, cause ? cause : "failed", delay);
		pipeline_set_state(p, PIPELINE_BACKOFF, cause);
		free(cause);
		cause = NULL;
		if (backoff(p, delay))
			break;
		pthread_mutex_lock(&p->lock);
		p->restart = 0;
		pthread_mutex_unlock(&p->lock);
	}
	free(cause);
	for (i = 0; i < p->nrend; i++)
		feed_end(p->rend[i].feed);
	record_end(p);
	pipeline_set_state(p, PIPELINE_STOPPED, NULL);
	log_info("pipeline", "stream %lld%s%s%s: stopped", p->id,
	    p->group[0] ? " variant " : "", p->group, p->owner ?
	    " (overlap)" : "");
	pthread_mutex_lock(&p->lock);
	p->done = 1;
	pthread_mutex_unlock(&p->lock);
	pipeline_wake(p);
	return (NULL);
}
