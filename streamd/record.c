#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavutil/opt.h>
#include <sqlite3.h>

#include "fsutil.h"
#include "log.h"
#include "outbox.h"
#include "streamd.h"
#include "xmalloc.h"

/* Recordings (A4): a branch of a rendition into a file.  MPEG-TS as it
 * is; MP4 fragmented at every keyframe while it records (empty moov,
 * one moof per GOP), so that a streamd killed mid-way leaves a file that
 * plays up to its last whole fragment, and finalised with its index
 * (mfra) by the trailer.  Every packet is flushed to the file as it is
 * written. */

static const char *
averr(int err, char *buf, size_t size)
{
	av_strerror(err, buf, size);
	return (buf);
}

double
record_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

struct recorder *
record_new(long long id, long long channel, const char *variant,
    const char *media_root, const char *format, double not_before,
    double stop_at)
{
	struct recorder	*rec;

	rec = xcalloc(1, sizeof *rec);
	rec->id = id;
	rec->channel = channel;
	rec->variant = xstrdup(variant != NULL ? variant : "");
	rec->mp4 = format != NULL && strcmp(format, "mp4") == 0;
	rec->file = xprintf("rec/%lld/%lld.%s", channel, id, rec->mp4 ?
	    "mp4" : "ts");
	rec->path = xprintf("%s/%s", media_root, rec->file);
	rec->not_before = not_before;
	rec->stop_at = stop_at;
	rec->last_dts[0] = rec->last_dts[1] = AV_NOPTS_VALUE;
	return (rec);
}

/* Writes the trailer and closes the file; the caller holds p->lock (or
 * the recorder is nobody else's). */
static void
finish(struct recorder *rec, const char *why)
{
	struct stat	sb;
	char		eb[128];
	int		err, i;

	if (rec->state == RECORD_DONE)
		return;
	if (rec->oc != NULL) {
		if ((err = av_write_trailer(rec->oc)) < 0 && why == NULL)
			why = averr(err, eb, sizeof eb);
		avio_closep(&rec->oc->pb);
		avformat_free_context(rec->oc);
		rec->oc = NULL;
	}
	for (i = 0; i < 2; i++)
		avcodec_parameters_free(&rec->par[i]);
	if (rec->started == 0) {
		unlink(rec->path);
		if (why == NULL)
			why = "nothing was recorded";
	} else if (stat(rec->path, &sb) == 0)
		rec->bytes = sb.st_size;
	if (why != NULL && rec->error == NULL)
		rec->error = xstrdup(why);
	rec->duration = (double)rec->end / AV_TIME_BASE;
	rec->stopped = time(NULL);
	rec->state = RECORD_DONE;
	rec->in_run = 0;
	log_info("record", "recording %lld of stream %lld: %s (%.1f s, %lld "
	    "bytes)%s%s", rec->id, rec->channel, rec->started ? "finalised" :
	    "ended", rec->duration, (long long)rec->bytes, rec->error ?
	    ": " : "", rec->error ? rec->error : "");
}

void
record_free(struct recorder *rec)
{
	if (rec == NULL)
		return;
	finish(rec, NULL);
	free(rec->variant);
	free(rec->file);
	free(rec->path);
	free(rec->error);
	free(rec);
}

/* Opens the file with the streams of r (its folder made first). */
static int
open_muxer(struct recorder *rec, struct rendition *r, const char *media_root,
    char **cause)
{
	AVFormatContext	*oc = NULL;
	AVDictionary	*opts = NULL;
	AVStream	*st;
	char		*dir, *failed = NULL, eb[128];
	int		 err, i;

	dir = xprintf("%s/rec/%lld", media_root, rec->channel);
	if (fs_mkdirs(dir, 0755, &failed) != 0) {
		*cause = xprintf("%s: %s", failed, strerror(errno));
		free(failed);
		free(dir);
		return (-1);
	}
	free(dir);
	if ((err = avformat_alloc_output_context2(&oc, NULL, rec->mp4 ? "mp4" :
	    "mpegts", rec->path)) < 0)
		goto fail;
	for (i = 0; i < r->nos; i++) {
		if ((st = avformat_new_stream(oc, NULL)) == NULL ||
		    (rec->par[i] = avcodec_parameters_alloc()) == NULL) {
			err = AVERROR(ENOMEM);
			goto fail;
		}
		if ((err = avcodec_parameters_copy(st->codecpar,
		    r->os[i].par)) < 0 || (err = avcodec_parameters_copy(
		    rec->par[i], r->os[i].par)) < 0)
			goto fail;
		st->codecpar->codec_tag = 0;
		st->time_base = r->os[i].time_base;
	}
	rec->nst = r->nos;
	if ((err = avio_open(&oc->pb, rec->path, AVIO_FLAG_WRITE)) < 0)
		goto fail;
	/* What is written reaches the file at once: a crash loses at most
	 * the packet being written (or, for MP4, the fragment). */
	oc->flush_packets = 1;
	if (rec->mp4)
		av_dict_set(&opts, "movflags",
		    "frag_keyframe+empty_moov+default_base_moof", 0);
	err = avformat_write_header(oc, &opts);
	av_dict_free(&opts);
	if (err < 0)
		goto fail;
	rec->oc = oc;
	return (0);
fail:
	*cause = xprintf("%s: %s", rec->file, averr(err, eb, sizeof eb));
	if (oc != NULL) {
		avio_closep(&oc->pb);
		avformat_free_context(oc);
	}
	for (i = 0; i < 2; i++)
		avcodec_parameters_free(&rec->par[i]);
	unlink(rec->path);
	return (-1);
}

/* Whether a new run's streams can go on in a file opened by an earlier
 * one. */
static int
compatible(const struct recorder *rec, const struct rendition *r)
{
	const AVCodecParameters	*a, *b;
	int			 i;

	if (rec->nst != r->nos)
		return (0);
	for (i = 0; i < r->nos; i++) {
		a = rec->par[i];
		b = r->os[i].par;
		if (a->codec_type != b->codec_type || a->codec_id !=
		    b->codec_id)
			return (0);
		if (a->codec_type == AVMEDIA_TYPE_VIDEO && (a->width !=
		    b->width || a->height != b->height))
			return (0);
		if (a->codec_type == AVMEDIA_TYPE_AUDIO && (a->sample_rate !=
		    b->sample_rate || a->ch_layout.nb_channels !=
		    b->ch_layout.nb_channels))
			return (0);
	}
	return (1);
}

void
record_sync(struct rendition *r, struct pipeline *p)
{
	struct recorder	 *rec, **v = NULL;
	char		 *cause = NULL;
	int		  n = 0, woke = 0, i;

	pthread_mutex_lock(&p->lock);
	for (rec = p->rend[r->index].recs; rec != NULL; rec = rec->next) {
		if (rec->state == RECORD_DONE)
			continue;
		if (rec->stop) {
			finish(rec, NULL);
			woke = 1;
			continue;
		}
		if (r->nos == 0)
			continue;
		for (i = 0; i < r->nos; i++)
			if (r->os[i].adts && r->os[i].par->extradata_size == 0)
				break;
		if (i < r->nos)
			continue;	/* the first ADTS header first */
		if (!rec->in_run) {
			if (rec->oc != NULL && !compatible(rec, r)) {
				finish(rec, "the source changed its format");
				woke = 1;
				continue;
			}
			rec->in_run = 1;
			rec->need_key = 1;
		}
		if (rec->oc == NULL && open_muxer(rec, r, p->limits.media_root,
		    &cause) != 0) {
			log_error("record", "recording %lld: %s", rec->id,
			    cause);
			finish(rec, cause);
			free(cause);
			cause = NULL;
			woke = 1;
			continue;
		}
		v = xreallocarray(v, (size_t)n + 1, sizeof *v);
		v[n++] = rec;
	}
	pthread_mutex_unlock(&p->lock);
	free(r->rec);
	r->rec = v;
	r->nrec = n;
	if (woke)
		pipeline_wake(p);
}

static void
write_one(struct recorder *rec, struct pipeline *p, int i,
    const AVPacket *pkt, AVRational tb, int key)
{
	AVPacket	*copy;
	AVStream	*st;
	int64_t		 ts, us, shift, end;
	char		 eb[128];
	int		 err;

	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (ts == AV_NOPTS_VALUE || i >= rec->nst)
		return;
	us = av_rescale_q(ts, tb, AV_TIME_BASE_Q);
	if (rec->need_key) {
		if (!key || record_now() < rec->not_before)
			return;
		rec->need_key = 0;
		rec->origin = us;
		rec->offset = rec->end;
		rec->last_dts[0] = rec->last_dts[1] = AV_NOPTS_VALUE;
		if (rec->state == RECORD_WAITING) {
			pthread_mutex_lock(&p->lock);
			rec->state = RECORD_RUNNING;
			rec->started = time(NULL);
			pthread_mutex_unlock(&p->lock);
			pipeline_wake(p);
			log_info("record", "recording %lld of stream %lld: "
			    "writing %s", rec->id, rec->channel, rec->file);
		}
	}
	if (us < rec->origin)
		return;		/* before the keyframe it starts at */
	if ((copy = av_packet_clone(pkt)) == NULL)
		return;
	st = rec->oc->streams[i];
	copy->stream_index = i;
	shift = av_rescale_q(rec->offset - rec->origin, AV_TIME_BASE_Q, tb);
	if (copy->pts != AV_NOPTS_VALUE)
		copy->pts += shift;
	if (copy->dts != AV_NOPTS_VALUE)
		copy->dts += shift;
	end = av_rescale_q((copy->pts != AV_NOPTS_VALUE ? copy->pts :
	    copy->dts) + (copy->duration > 0 ? copy->duration : 0), tb,
	    AV_TIME_BASE_Q);
	av_packet_rescale_ts(copy, tb, st->time_base);
	copy->pos = -1;
	if (copy->dts != AV_NOPTS_VALUE && rec->last_dts[i] !=
	    AV_NOPTS_VALUE && copy->dts <= rec->last_dts[i]) {
		av_packet_free(&copy);
		return;		/* the muxer would refuse it */
	}
	if (copy->dts != AV_NOPTS_VALUE)
		rec->last_dts[i] = copy->dts;
	if ((err = av_interleaved_write_frame(rec->oc, copy)) < 0) {
		log_error("record", "recording %lld: %s", rec->id,
		    averr(err, eb, sizeof eb));
		rec->broken = 1;
		pthread_mutex_lock(&p->lock);
		if (rec->error == NULL)
			rec->error = xprintf("write: %s", eb);
		rec->stop = 1;
		p->changed = 1;
		pthread_mutex_unlock(&p->lock);
	}
	av_packet_free(&copy);
	if (end > rec->end)
		rec->end = end;
}

void
record_packet(struct rendition *r, struct pipeline *p, int i,
    const AVPacket *pkt, int key)
{
	int	k;

	for (k = 0; k < r->nrec; k++)
		if (!r->rec[k]->broken && r->rec[k]->oc != NULL)
			write_one(r->rec[k], p, i, pkt, r->os[i].time_base,
			    key);
}

void
record_leave(struct rendition *r, struct pipeline *p)
{
	int	k;

	if (r->nrec > 0) {
		pthread_mutex_lock(&p->lock);
		for (k = 0; k < r->nrec; k++) {
			r->rec[k]->in_run = 0;
			if (r->rec[k]->stop)
				finish(r->rec[k], NULL);
		}
		pthread_mutex_unlock(&p->lock);
		pipeline_wake(p);
	}
	free(r->rec);
	r->rec = NULL;
	r->nrec = 0;
}

void
record_end(struct pipeline *p)
{
	struct recorder	*rec;
	int		 i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->nrend; i++)
		for (rec = p->rend[i].recs; rec != NULL; rec = rec->next) {
			rec->in_run = 0;
			if (!p->keep_recordings || rec->stop)
				finish(rec, NULL);
		}
	pthread_mutex_unlock(&p->lock);
}

void
record_stop_locked(struct recorder *rec, const char *why)
{
	if (rec->state == RECORD_DONE)
		return;
	if (why != NULL && rec->error == NULL)
		rec->error = xstrdup(why);
	rec->stop = 1;
	if (!rec->in_run)
		finish(rec, NULL);
	else
		rec->p->changed = 1;
}

struct pipeline *
record_lock(struct recorder *rec)
{
	struct pipeline	*p;

	for (;;) {
		p = __atomic_load_n(&rec->p, __ATOMIC_ACQUIRE);
		pthread_mutex_lock(&p->lock);
		if (rec->p == p)
			return (p);
		pthread_mutex_unlock(&p->lock);	/* handed over meanwhile */
	}
}

void
record_stop(struct recorder *rec, const char *why)
{
	struct pipeline	*p = record_lock(rec);

	record_stop_locked(rec, why);
	pthread_mutex_unlock(&p->lock);
	pipeline_wake(p);
}

void
record_release(struct recorder *rec)
{
	struct pipeline	*p = record_lock(rec);

	if (rec->holds > 0)
		rec->holds--;
	pthread_mutex_unlock(&p->lock);
}

/* The rows. */

static json_object *
row_subject(struct store *s, long long id)
{
	sqlite3_stmt	*st;
	json_object	*o = NULL;
	char		*cause = NULL;
	int		 i, n;

	st = store_prepare(s, "SELECT id, kind, channel_id, variant, format, "
	    "file, state, title, started, stopped, bytes, duration, error, "
	    "programme_id, parent_id FROM recordings WHERE id = ?", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return (NULL);
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		o = json_object_new_object();
		n = sqlite3_column_count(st);
		for (i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(st, i);

			if (strcmp(name, "channel_id") == 0)
				name = "channel";
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				json_object_object_add(o, name,
				    json_object_new_int64(
				    sqlite3_column_int64(st, i)));
				break;
			case SQLITE_FLOAT:
				json_object_object_add(o, name,
				    json_object_new_double(
				    sqlite3_column_double(st, i)));
				break;
			case SQLITE_TEXT:
				json_object_object_add(o, name,
				    json_object_new_string((const char *)
				    sqlite3_column_text(st, i)));
				break;
			default:
				json_object_object_add(o, name, NULL);
			}
		}
	}
	sqlite3_reset(st);
	return (o);
}

/* Emits event about row id; the caller holds a transaction. */
static void
emit(struct store *s, const char *event, long long id)
{
	json_object	*o;
	char		*cause = NULL;

	if ((o = row_subject(s, id)) == NULL)
		return;
	if (outbox_emit(s, event, o, &cause) < 0) {
		log_error("webhook", "%s: %s", event, cause);
		free(cause);
	}
	json_object_put(o);
}

/* One UPDATE (and an event) in a transaction; returns the rows changed,
 * or -1. */
static int
update(struct store *s, sqlite3_stmt *st, const char *event, long long id)
{
	char	*cause = NULL;
	int	 n = -1;

	if (store_begin(s, &cause) != 0) {
		log_error("store", "recording %lld: %s", id, cause);
		free(cause);
		sqlite3_reset(st);
		return (-1);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_error("store", "recording %lld: %s", id,
		    sqlite3_errmsg(sqlite3_db_handle(st)));
		sqlite3_reset(st);
		store_rollback(s);
		return (-1);
	}
	n = sqlite3_changes(sqlite3_db_handle(st));
	sqlite3_reset(st);
	if (n > 0 && event != NULL)
		emit(s, event, id);
	if (store_commit(s, &cause) != 0) {
		log_error("store", "recording %lld: %s", id, cause);
		free(cause);
		store_rollback(s);
		return (-1);
	}
	return (n);
}

int
record_row_started(struct store *s, struct recorder *rec)
{
	sqlite3_stmt	*st;
	char		*cause = NULL;
	int		 n;

	st = store_prepare(s, "UPDATE recordings SET state = 'recording', "
	    "started = ?2, start_at = coalesce(start_at, ?2), file = ?3 "
	    "WHERE id = ?1 AND state IN ('scheduled', 'recording')", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return (0);
	}
	sqlite3_bind_int64(st, 1, rec->id);
	sqlite3_bind_int64(st, 2, rec->started);
	sqlite3_bind_text(st, 3, rec->file, -1, SQLITE_TRANSIENT);
	n = update(s, st, "recording.started", rec->id);
	return (n == 0 ? ENOENT : 0);
}

void
record_row_finished(struct store *s, struct recorder *rec)
{
	sqlite3_stmt	*st;
	const char	*state, *event;
	char		*cause = NULL;

	if (rec->quiet || rec->row_done)
		return;
	rec->row_done = 1;
	if (rec->discard) {
		unlink(rec->path);
		return;
	}
	if (rec->error == NULL) {
		state = "stopped";
		event = "recording.stopped";
	} else {
		state = rec->started ? "interrupted" : "failed";
		event = "recording.failed";
	}
	st = store_prepare(s, "UPDATE recordings SET state = ?2, stopped = ?3, "
	    "bytes = ?4, duration = ?5, error = ?6, "
	    "started = coalesce(started, ?7), file = CASE WHEN ?7 IS NULL "
	    "THEN NULL ELSE ?8 END "
	    "WHERE id = ?1 AND state IN ('scheduled', 'recording')", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return;
	}
	sqlite3_bind_int64(st, 1, rec->id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, rec->stopped);
	sqlite3_bind_int64(st, 4, rec->bytes);
	if (rec->started)
		sqlite3_bind_double(st, 5, rec->duration);
	else
		sqlite3_bind_null(st, 5);
	if (rec->error != NULL)
		sqlite3_bind_text(st, 6, rec->error, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 6);
	if (rec->started)
		sqlite3_bind_int64(st, 7, rec->started);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_text(st, 8, rec->file, -1, SQLITE_TRANSIENT);
	update(s, st, event, rec->id);
}

void
record_row_fail(struct store *s, long long id, const char *why)
{
	sqlite3_stmt	*st;
	char		*cause = NULL;

	log_warn("record", "recording %lld: %s", id, why);
	st = store_prepare(s, "UPDATE recordings SET state = 'failed', "
	    "stopped = ?2, error = ?3, file = NULL WHERE id = ?1 AND "
	    "state = 'scheduled'", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, time(NULL));
	sqlite3_bind_text(st, 3, why, -1, SQLITE_TRANSIENT);
	update(s, st, "recording.failed", id);
}

int
record_due(struct store *s, int64_t horizon, struct record_due **out,
    size_t *n)
{
	sqlite3_stmt		*st;
	struct record_due	*d;
	const char		*t;
	char			*cause = NULL;
	int			 rc;

	*out = NULL;
	*n = 0;
	st = store_prepare(s, "SELECT id, coalesce(channel_id, 0), "
	    "coalesce(variant, ''), format, start_at, coalesce(stop_at, 0) "
	    "FROM recordings WHERE kind = 'recording' AND state = 'scheduled' "
	    "AND start_at IS NOT NULL AND start_at <= ? ORDER BY start_at, id",
	    &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return (-1);
	}
	sqlite3_bind_int64(st, 1, horizon);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		d = &(*out)[(*n)++];
		d->id = sqlite3_column_int64(st, 0);
		d->channel = sqlite3_column_int64(st, 1);
		d->variant = xstrdup((const char *)sqlite3_column_text(st, 2));
		t = (const char *)sqlite3_column_text(st, 3);
		snprintf(d->format, sizeof d->format, "%s", t ? t : "ts");
		d->start_at = sqlite3_column_int64(st, 4);
		d->stop_at = sqlite3_column_int64(st, 5);
	}
	sqlite3_reset(st);
	return (rc == SQLITE_DONE ? 0 : -1);
}

void
record_due_free(struct record_due *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i].variant);
	free(v);
}

/* The duration of what a file holds, in seconds (-1 if it does not
 * open): MPEG-TS from its first and last timestamps (libavformat reads
 * the end of the file), anything else from every packet's. */
static double
probe_duration(const char *path)
{
	AVFormatContext	*ic = NULL;
	AVPacket	*pkt;
	AVRational	 tb;
	int64_t		 lo = INT64_MAX, hi = INT64_MIN, t;
	double		 d = -1;

	if (avformat_open_input(&ic, path, NULL, NULL) < 0)
		return (-1);
	if (avformat_find_stream_info(ic, NULL) < 0)
		goto out;
	if (strcmp(ic->iformat->name, "mpegts") == 0 && ic->duration > 0 &&
	    ic->duration_estimation_method == AVFMT_DURATION_FROM_PTS) {
		d = (double)ic->duration / AV_TIME_BASE;
		goto out;
	}
	if ((pkt = av_packet_alloc()) == NULL)
		goto out;
	while (av_read_frame(ic, pkt) >= 0) {
		tb = ic->streams[pkt->stream_index]->time_base;
		if (pkt->pts != AV_NOPTS_VALUE) {
			t = av_rescale_q(pkt->pts, tb, AV_TIME_BASE_Q);
			if (t < lo)
				lo = t;
			t += av_rescale_q(pkt->duration, tb, AV_TIME_BASE_Q);
			if (t > hi)
				hi = t;
		}
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	if (hi > lo)
		d = (double)(hi - lo) / AV_TIME_BASE;
out:
	avformat_close_input(&ic);
	return (d);
}

void
record_recover(struct store *s, const char *media_root)
{
	sqlite3_stmt	*st, *up;
	struct stat	 sb;
	long long	*ids = NULL, id;
	char		**files = NULL, *path, *cause = NULL;
	size_t		 n = 0, i;
	double		 d;
	int64_t		 now = time(NULL);

	st = store_prepare(s, "SELECT id, file FROM recordings WHERE "
	    "kind = 'recording' AND state = 'recording'", &cause);
	if (st == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof *ids);
		files = xreallocarray(files, n + 1, sizeof *files);
		ids[n] = sqlite3_column_int64(st, 0);
		files[n] = store_column_dup(st, 1);
		n++;
	}
	sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		id = ids[i];
		path = files[i] != NULL ? xprintf("%s/%s", media_root,
		    files[i]) : NULL;
		d = path != NULL ? probe_duration(path) : -1;
		up = store_prepare(s, "UPDATE recordings SET state = "
		    "'interrupted', stopped = ?2, bytes = ?3, duration = ?4, "
		    "error = 'streamd stopped while recording' "
		    "WHERE id = ?1 AND state = 'recording'", &cause);
		if (up == NULL) {
			log_error("store", "%s", cause);
			free(cause);
			cause = NULL;
		} else {
			sqlite3_bind_int64(up, 1, id);
			if (path != NULL && stat(path, &sb) == 0) {
				sqlite3_bind_int64(up, 2, sb.st_mtime);
				sqlite3_bind_int64(up, 3, sb.st_size);
			} else {
				sqlite3_bind_int64(up, 2, now);
				sqlite3_bind_int64(up, 3, 0);
			}
			if (d >= 0)
				sqlite3_bind_double(up, 4, d);
			else
				sqlite3_bind_null(up, 4);
			update(s, up, "recording.failed", id);
			log_warn("record", "recording %lld: streamd stopped "
			    "while recording; marked interrupted", id);
		}
		free(path);
		free(files[i]);
	}
	free(ids);
	free(files);

	/* Immediate starts that were never confirmed. */
	up = store_prepare(s, "UPDATE recordings SET state = 'failed', "
	    "stopped = ?1, error = 'streamd stopped before it started' "
	    "WHERE kind = 'recording' AND state = 'scheduled' AND "
	    "start_at IS NULL", &cause);
	if (up == NULL) {
		log_error("store", "%s", cause);
		free(cause);
		return;
	}
	sqlite3_bind_int64(up, 1, now);
	update(s, up, NULL, 0);
}
