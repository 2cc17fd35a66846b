#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <sqlite3.h>

#include "fsutil.h"
#include "jobs.h"
#include "log.h"
#include "outbox.h"
#include "store.h"
#include "xmalloc.h"

/* Clips (A4): a part of a recording cut into a new file by remuxing,
 * from the keyframe at or before the start to the end (packets copied,
 * timestamps from 0), so that the clip begins with a picture that
 * decodes.  In exact mode only the head is re-encoded for a TS clip: the
 * video is decoded from that keyframe, the frames from the start up to
 * the recording's next keyframe are encoded with libx264 (an IDR first,
 * the source's size, pixel format, profile and level, SPS and PPS in
 * every access unit), then the recording's packets are copied from that
 * keyframe on, their timestamps following the head's (the copied
 * keyframes carry their own SPS and PPS, which MPEG-TS allows to change
 * at an IDR).  A clip that ends before that keyframe is all head.  An
 * MP4 clip's video is re-encoded whole: one avcC cannot describe both
 * the encoder's and the recording's SPS.  The audio is copied from the
 * start.  A clip is written under a temporary name and renamed when it
 * is complete.  The worker is one thread with its own store connection;
 * jobs are rows of recordings (kind 'clip') going pending, running, then
 * ready or failed. */

/* How far before the start the cut looks for its keyframe first. */
#define LOOK_BACK	(20 * (int64_t)AV_TIME_BASE)

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 started;
	int		 quit;
	int		 poke;
	char		*media_root;
} w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0,
    NULL };

struct job {
	long long	 id;
	double		 start, end;
	int		 exact;
	int		 mp4;
	char		*file;		/* the clip's, under media_root */
	char		*source;	/* the recording's */
};

struct cut {
	AVFormatContext	*ic, *oc;
	int		 in[2];		/* input stream of video, audio */
	int		 out[2];	/* output stream, -1 = none */
	AVCodecContext	*dec, *enc;
	AVBSFContext	*bsf;		/* avcC to Annex B, for a copied MP4 */
	AVFrame		*frame;
	int64_t		 origin;	/* µs: the clip's 0 */
	int64_t		 lo, hi;	/* µs: what was written */
	int64_t		 last_dts[2];
	int		 splice;	/* exact: head encoded, rest copied */
	int		 copying;	/* the copied part has begun */
	int		 first;		/* no frame encoded yet */
	int64_t		 key;		/* pts of the first copied packet */
	int64_t		 lag;		/* added to copied video, stream tb */
};

static int
stopping(void)
{
	return (__atomic_load_n(&w.quit, __ATOMIC_RELAXED));
}

static const char *
averr(int err, char *buf, size_t size)
{
	av_strerror(err, buf, size);
	return (buf);
}

/* Seeks to ts (µs of the file), or to its beginning when ts is at or
 * before its start. */
static int
seek_to(AVFormatContext *ic, int64_t ts, int64_t base)
{
	if (ts <= base && av_seek_frame(ic, -1, 0, AVSEEK_FLAG_BYTE) >= 0)
		return (0);
	if (ts <= base)	/* a format without byte seeks (MP4) */
		return (av_seek_frame(ic, -1, base, AVSEEK_FLAG_BACKWARD));
	return (avformat_seek_file(ic, -1, INT64_MIN, ts, ts, 0));
}

static int64_t
pkt_us(AVFormatContext *ic, const AVPacket *pkt, int dts)
{
	int64_t	t = dts && pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;

	if (t == AV_NOPTS_VALUE)
		return (AV_NOPTS_VALUE);
	return (av_rescale_q(t, ic->streams[pkt->stream_index]->time_base,
	    AV_TIME_BASE_Q));
}

/* The pts (µs) of the last video keyframe at or before t, reading from
 * where seek put the input; AV_NOPTS_VALUE if the first one read is
 * already after t. */
static int64_t
find_key(struct cut *c, int64_t t, int *eof)
{
	AVPacket	*pkt;
	int64_t		 key = AV_NOPTS_VALUE, pts;
	int		 flags;

	*eof = 0;
	if ((pkt = av_packet_alloc()) == NULL)
		return (AV_NOPTS_VALUE);
	for (;;) {
		if (av_read_frame(c->ic, pkt) < 0) {
			*eof = 1;
			break;
		}
		if (pkt->stream_index != c->in[0] ||
		    (pts = pkt_us(c->ic, pkt, 0)) == AV_NOPTS_VALUE) {
			av_packet_unref(pkt);
			continue;
		}
		flags = pkt->flags;
		av_packet_unref(pkt);
		if (pts > t)
			break;
		if (flags & AV_PKT_FLAG_KEY)
			key = pts;
	}
	av_packet_free(&pkt);
	return (key);
}

static int
write_packet(struct cut *c, AVPacket *pkt, int slot, AVRational tb)
{
	AVStream	*st = c->oc->streams[c->out[slot]];
	int64_t		 shift, end, start;

	shift = av_rescale_q(c->origin, AV_TIME_BASE_Q, tb);
	if (pkt->pts != AV_NOPTS_VALUE)
		pkt->pts -= shift;
	if (pkt->dts != AV_NOPTS_VALUE)
		pkt->dts -= shift;
	start = av_rescale_q(pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts,
	    tb, AV_TIME_BASE_Q);
	end = start + av_rescale_q(pkt->duration > 0 ? pkt->duration : 0, tb,
	    AV_TIME_BASE_Q);
	if (start < c->lo)
		c->lo = start;
	if (end > c->hi)
		c->hi = end;
	pkt->stream_index = c->out[slot];
	pkt->pos = -1;
	av_packet_rescale_ts(pkt, tb, st->time_base);
	if (pkt->dts != AV_NOPTS_VALUE && c->last_dts[slot] !=
	    AV_NOPTS_VALUE && pkt->dts <= c->last_dts[slot])
		return (0);
	if (pkt->dts != AV_NOPTS_VALUE)
		c->last_dts[slot] = pkt->dts;
	return (av_interleaved_write_frame(c->oc, pkt));
}

/* Encodes frame (NULL drains) into the clip. */
static int
encode(struct cut *c, AVFrame *frame)
{
	AVPacket	*pkt;
	int		 err;

	if ((err = avcodec_send_frame(c->enc, frame)) < 0)
		return (err);
	if ((pkt = av_packet_alloc()) == NULL)
		return (AVERROR(ENOMEM));
	for (;;) {
		err = avcodec_receive_packet(c->enc, pkt);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) {
			err = 0;
			break;
		}
		if (err < 0)
			break;
		/* The encoder's time base is the input stream's. */
		if ((err = write_packet(c, pkt, 0, c->enc->time_base)) < 0)
			break;
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	return (err);
}

/* Sends a packet to the decoder and encodes the frames in [from, to). */
static int
transcode(struct cut *c, AVPacket *pkt, int64_t from, int64_t to, int *done)
{
	AVRational	 tb = c->ic->streams[c->in[0]]->time_base;
	int64_t		 t;
	int		 err;

	err = avcodec_send_packet(c->dec, pkt);
	if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_EOF)
		return (0);	/* a broken packet: skip it */
	for (;;) {
		err = avcodec_receive_frame(c->dec, c->frame);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
			return (0);
		if (err < 0)
			return (0);
		c->frame->pts = c->frame->best_effort_timestamp;
		t = c->frame->pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE :
		    av_rescale_q(c->frame->pts, tb, AV_TIME_BASE_Q);
		if (t != AV_NOPTS_VALUE && t >= to)
			*done = 1;
		if (t != AV_NOPTS_VALUE && t >= from && t < to) {
			c->frame->pict_type = c->first ? AV_PICTURE_TYPE_I :
			    AV_PICTURE_TYPE_NONE;
			c->first = 0;
			if ((err = encode(c, c->frame)) < 0) {
				av_frame_unref(c->frame);
				return (err);
			}
		}
		av_frame_unref(c->frame);
	}
}

/* The x264 profile of the source's, or NULL to leave x264's own. */
static const char *
x264_profile(const AVCodecContext *dec)
{
	if (dec->pix_fmt != AV_PIX_FMT_YUV420P &&
	    dec->pix_fmt != AV_PIX_FMT_YUVJ420P)
		return (NULL);
	switch (dec->profile & ~FF_PROFILE_H264_CONSTRAINED) {
	case FF_PROFILE_H264_BASELINE:
		return ("baseline");
	case FF_PROFILE_H264_MAIN:
		return ("main");
	case FF_PROFILE_H264_HIGH:
		return ("high");
	}
	return (NULL);
}

/* Ends the head at key, the recording's first keyframe at or after the
 * start: the frames before it encoded and drained, the copied part's
 * lag set so that its dts follow the head's. */
static int
end_head(struct cut *c, const AVPacket *key, int64_t from, int64_t to)
{
	AVRational	 tb = c->ic->streams[c->in[0]]->time_base;
	AVRational	 otb = c->oc->streams[c->out[0]]->time_base;
	int64_t		 last, dts;
	int		 err, done = 0;

	if ((err = transcode(c, NULL, from, to, &done)) < 0 ||
	    (err = encode(c, NULL)) < 0)
		return (err);
	c->copying = 1;
	c->key = key->pts;
	dts = key->dts != AV_NOPTS_VALUE ? key->dts : key->pts;
	if (c->last_dts[0] != AV_NOPTS_VALUE && dts != AV_NOPTS_VALUE) {
		last = av_rescale_q(c->last_dts[0], otb, tb) +
		    av_rescale_q(c->origin, AV_TIME_BASE_Q, tb);
		if (dts <= last)
			c->lag = last - dts + (key->duration > 0 ?
			    key->duration : 1);
	}
	return (0);
}

/* Writes a copied video packet after the head, in Annex B with SPS and
 * PPS before each IDR when the recording is MP4. */
static int
copy_video(struct cut *c, AVPacket *pkt)
{
	AVRational	 tb = c->ic->streams[c->in[0]]->time_base;
	int		 err;

	if (c->bsf == NULL)
		return (write_packet(c, pkt, 0, tb));
	if ((err = av_bsf_send_packet(c->bsf, pkt)) < 0)
		return (err);
	while ((err = av_bsf_receive_packet(c->bsf, pkt)) >= 0) {
		err = write_packet(c, pkt, 0, c->bsf->time_base_out);
		av_packet_unref(pkt);
		if (err < 0)
			return (err);
	}
	return (err == AVERROR(EAGAIN) || err == AVERROR_EOF ? 0 : err);
}

/* The bitstream filter for copied packets of a recording whose H.264 is
 * in avcC (MP4), whose keyframes carry no SPS or PPS. */
static int
open_bsf(struct cut *c)
{
	AVStream		*ist = c->ic->streams[c->in[0]];
	const AVBitStreamFilter	*f;
	int			 err;

	if (ist->codecpar->extradata_size < 7 ||
	    ist->codecpar->extradata[0] != 1)
		return (0);
	if ((f = av_bsf_get_by_name("h264_mp4toannexb")) == NULL)
		return (AVERROR_BSF_NOT_FOUND);
	if ((err = av_bsf_alloc(f, &c->bsf)) < 0 ||
	    (err = avcodec_parameters_copy(c->bsf->par_in,
	    ist->codecpar)) < 0)
		return (err);
	c->bsf->time_base_in = ist->time_base;
	return (av_bsf_init(c->bsf));
}

static int
open_codecs(struct cut *c, int need_global, char **cause)
{
	AVStream	*ist = c->ic->streams[c->in[0]];
	const AVCodec	*dcodec, *ecodec;
	AVRational	 fr;
	char		 eb[128];
	int		 err;

	if ((dcodec = avcodec_find_decoder(ist->codecpar->codec_id)) == NULL ||
	    (ecodec = avcodec_find_encoder_by_name("libx264")) == NULL) {
		*cause = xstrdup("exact: no decoder for the video, or no "
		    "libx264");
		return (-1);
	}
	if ((c->dec = avcodec_alloc_context3(dcodec)) == NULL ||
	    (c->enc = avcodec_alloc_context3(ecodec)) == NULL ||
	    (c->frame = av_frame_alloc()) == NULL) {
		*cause = xstrdup("out of memory");
		return (-1);
	}
	avcodec_parameters_to_context(c->dec, ist->codecpar);
	c->dec->pkt_timebase = ist->time_base;
	if ((err = avcodec_open2(c->dec, dcodec, NULL)) < 0)
		goto fail;
	fr = av_guess_frame_rate(c->ic, ist, NULL);
	c->enc->width = c->dec->width;
	c->enc->height = c->dec->height;
	c->enc->pix_fmt = c->dec->pix_fmt != AV_PIX_FMT_NONE ?
	    c->dec->pix_fmt : AV_PIX_FMT_YUV420P;
	c->enc->sample_aspect_ratio = c->dec->sample_aspect_ratio;
	c->enc->time_base = ist->time_base;
	if (fr.num > 0 && fr.den > 0) {
		c->enc->framerate = fr;
		c->enc->gop_size = (int)(2 * av_q2d(fr) + 0.5);
	}
	if (need_global)
		c->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	av_opt_set(c->enc->priv_data, "preset", "veryfast", 0);
	av_opt_set(c->enc->priv_data, "crf", "18", 0);
	if (c->splice) {
		/* A head to splice onto the recording: its parameters,
		 * headers in band, no B-frame (dts = pts, below the copied
		 * part's), no keyframe but the first. */
		if (ist->codecpar->codec_id == AV_CODEC_ID_H264 &&
		    x264_profile(c->dec) != NULL)
			av_opt_set(c->enc->priv_data, "profile",
			    x264_profile(c->dec), 0);
		if (ist->codecpar->codec_id == AV_CODEC_ID_H264 &&
		    c->dec->level > 0)
			c->enc->level = c->dec->level;
		c->enc->max_b_frames = 0;
		c->enc->gop_size = 1 << 20;
		av_opt_set(c->enc->priv_data, "forced-idr", "1", 0);
		av_opt_set(c->enc->priv_data, "x264-params",
		    "repeat-headers=1:scenecut=0", 0);
	}
	if ((err = avcodec_open2(c->enc, ecodec, NULL)) < 0)
		goto fail;
	return (0);
fail:
	*cause = xprintf("exact: %s", averr(err, eb, sizeof eb));
	return (-1);
}

static void
cut_free(struct cut *c)
{
	avcodec_free_context(&c->dec);
	avcodec_free_context(&c->enc);
	av_bsf_free(&c->bsf);
	av_frame_free(&c->frame);
	if (c->oc != NULL) {
		avio_closep(&c->oc->pb);
		avformat_free_context(c->oc);
	}
	avformat_close_input(&c->ic);
}

/* Cuts job j into tmp.  Returns 0 with *duration, 1 when streamd stops,
 * or -1 with *cause. */
static int
cut(const struct job *j, const char *src, const char *tmp, double *duration,
    char **cause)
{
	struct cut	 c;
	AVPacket	*pkt = NULL;
	AVStream	*st;
	int64_t		 base, from, to, key, t, seek;
	char		 eb[128];
	int		 err, eof, done[2], rc = -1, slot, video = 0;

	memset(&c, 0, sizeof c);
	c.out[0] = c.out[1] = -1;
	c.last_dts[0] = c.last_dts[1] = AV_NOPTS_VALUE;
	c.lo = INT64_MAX;
	c.hi = INT64_MIN;
	c.first = 1;
	if ((err = avformat_open_input(&c.ic, src, NULL, NULL)) < 0 ||
	    (err = avformat_find_stream_info(c.ic, NULL)) < 0) {
		*cause = xprintf("%s: %s", j->source, averr(err, eb,
		    sizeof eb));
		goto out;
	}
	c.in[0] = av_find_best_stream(c.ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL,
	    0);
	c.in[1] = av_find_best_stream(c.ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL,
	    0);
	if (c.in[0] < 0 && c.in[1] < 0) {
		*cause = xprintf("%s: no video or audio", j->source);
		goto out;
	}
	/* A head spliced onto the recording's packets needs TS (two SPS)
	 * and H.264 both sides. */
	c.splice = j->exact && !j->mp4 && c.in[0] >= 0 &&
	    c.ic->streams[c.in[0]]->codecpar->codec_id == AV_CODEC_ID_H264;
	base = c.ic->start_time != AV_NOPTS_VALUE ? c.ic->start_time : 0;
	from = base + (int64_t)(j->start * AV_TIME_BASE);
	to = base + (int64_t)(j->end * AV_TIME_BASE);

	/* The keyframe at or before the start: looked for a little before
	 * it, then from the beginning. */
	key = from;
	seek = from - LOOK_BACK;
	if (c.in[0] >= 0) {
		key = AV_NOPTS_VALUE;
		if (seek > base && seek_to(c.ic, seek, base) >= 0)
			key = find_key(&c, from, &eof);
		if (key == AV_NOPTS_VALUE) {
			seek = base;
			if ((err = seek_to(c.ic, seek, base)) < 0) {
				*cause = xprintf("%s: seek: %s", j->source,
				    averr(err, eb, sizeof eb));
				goto out;
			}
			key = find_key(&c, from, &eof);
		}
		if (key == AV_NOPTS_VALUE) {
			*cause = xprintf("%s: no keyframe before %.3f s",
			    j->source, j->start);
			goto out;
		}
	}
	if (seek_to(c.ic, seek > base ? seek : base, base) < 0) {
		*cause = xprintf("%s: cannot seek", j->source);
		goto out;
	}
	c.origin = j->exact ? from : key;

	if ((err = avformat_alloc_output_context2(&c.oc, NULL, j->mp4 ? "mp4" :
	    "mpegts", tmp)) < 0)
		goto averror;
	for (slot = 0; slot < 2; slot++) {
		if (c.in[slot] < 0)
			continue;
		if ((st = avformat_new_stream(c.oc, NULL)) == NULL) {
			err = AVERROR(ENOMEM);
			goto averror;
		}
		c.out[slot] = st->index;
		if (slot == 0 && j->exact) {
			if (open_codecs(&c, c.oc->oformat->flags &
			    AVFMT_GLOBALHEADER, cause) != 0)
				goto out;
			avcodec_parameters_from_context(st->codecpar, c.enc);
			if (c.splice && (err = open_bsf(&c)) < 0)
				goto averror;
			st->time_base = c.enc->time_base;
		} else {
			if ((err = avcodec_parameters_copy(st->codecpar,
			    c.ic->streams[c.in[slot]]->codecpar)) < 0)
				goto averror;
			st->time_base = c.ic->streams[c.in[slot]]->time_base;
		}
		st->codecpar->codec_tag = 0;
	}
	if ((err = avio_open(&c.oc->pb, tmp, AVIO_FLAG_WRITE)) < 0 ||
	    (err = avformat_write_header(c.oc, NULL)) < 0)
		goto averror;

	if ((pkt = av_packet_alloc()) == NULL) {
		err = AVERROR(ENOMEM);
		goto averror;
	}
	done[0] = c.in[0] < 0;
	done[1] = c.in[1] < 0;
	while (!done[0] || !done[1]) {
		if (stopping()) {
			rc = 1;
			goto out;
		}
		if (av_read_frame(c.ic, pkt) < 0)
			break;
		for (slot = 0; slot < 2; slot++)
			if (pkt->stream_index == c.in[slot])
				break;
		if (slot == 2 || done[slot] ||
		    (t = pkt_us(c.ic, pkt, 0)) == AV_NOPTS_VALUE) {
			av_packet_unref(pkt);
			continue;
		}
		if (slot == 0 && !video) {
			/* The video starts at the keyframe found. */
			if (!(pkt->flags & AV_PKT_FLAG_KEY) || t < key) {
				av_packet_unref(pkt);
				continue;
			}
			video = 1;
		}
		if (slot == 0 && c.splice && !c.copying &&
		    (pkt->flags & AV_PKT_FLAG_KEY) && t >= from &&
		    (err = end_head(&c, pkt, from, to)) < 0) {
			av_packet_unref(pkt);
			goto averror;
		}
		if (slot == 0 && c.copying) {
			/* Leading pictures of an open GOP refer to the
			 * recording's frames before the head: dropped. */
			if (pkt->pts != AV_NOPTS_VALUE && pkt->pts < c.key) {
				av_packet_unref(pkt);
				continue;
			}
			if (pkt->pts != AV_NOPTS_VALUE)
				pkt->pts += c.lag;
			if (pkt->dts != AV_NOPTS_VALUE)
				pkt->dts += c.lag;
		} else if (slot == 0 && j->exact) {
			err = transcode(&c, pkt, from, to, &done[0]);
			av_packet_unref(pkt);
			if (err < 0)
				goto averror;
			continue;
		}
		if (t >= to)
			done[slot] = 1;
		else if (slot == 0 && c.copying) {
			if ((err = copy_video(&c, pkt)) < 0) {
				av_packet_unref(pkt);
				goto averror;
			}
		} else if (slot == 0 || t >= (j->exact ? from : key)) {
			if ((err = write_packet(&c, pkt, slot,
			    c.ic->streams[pkt->stream_index]->time_base)) < 0) {
				av_packet_unref(pkt);
				goto averror;
			}
		}
		av_packet_unref(pkt);
	}
	if (j->exact && c.dec != NULL && !c.copying) {
		if (!done[0] && (err = transcode(&c, NULL, from, to,
		    &done[0])) < 0)
			goto averror;
		if ((err = encode(&c, NULL)) < 0)
			goto averror;
	}
	if ((err = av_write_trailer(c.oc)) < 0)
		goto averror;
	if (c.hi <= c.lo) {
		*cause = xprintf("nothing between %.3f s and %.3f s of %s",
		    j->start, j->end, j->source);
		goto out;
	}
	*duration = (double)(c.hi - (c.lo < 0 ? 0 : c.lo)) / AV_TIME_BASE;
	rc = 0;
	goto out;
averror:
	*cause = xprintf("%s: %s", j->file, averr(err, eb, sizeof eb));
out:
	av_packet_free(&pkt);
	cut_free(&c);
	return (rc);
}

/* Claims the oldest pending job: 0 with *j, ENOENT when there is none,
 * or -1. */
static int
claim(struct store *s, struct job *j)
{
	sqlite3_stmt	*st;
	char		*cause = NULL;
	int		 rc = ENOENT;

	if (store_begin(s, &cause) != 0) {
		log_error("clip", "%s", cause);
		free(cause);
		return (-1);
	}
	st = store_prepare(s, "SELECT c.id, c.clip_start, c.clip_end, c.exact, "
	    "c.format, c.file, p.file FROM recordings c "
	    "LEFT JOIN recordings p ON p.id = c.parent_id "
	    "WHERE c.kind = 'clip' AND c.state = 'pending' "
	    "ORDER BY c.id LIMIT 1", &cause);
	if (st == NULL)
		goto fail;
	memset(j, 0, sizeof *j);
	if (sqlite3_step(st) == SQLITE_ROW) {
		j->id = sqlite3_column_int64(st, 0);
		j->start = sqlite3_column_double(st, 1);
		j->end = sqlite3_column_double(st, 2);
		j->exact = sqlite3_column_int(st, 3);
		j->mp4 = sqlite3_column_text(st, 4) != NULL && strcmp(
		    (const char *)sqlite3_column_text(st, 4), "mp4") == 0;
		if (sqlite3_column_text(st, 5) != NULL)
			j->file = xstrdup((const char *)
			    sqlite3_column_text(st, 5));
		if (sqlite3_column_text(st, 6) != NULL)
			j->source = xstrdup((const char *)
			    sqlite3_column_text(st, 6));
		rc = 0;
	}
	sqlite3_reset(st);
	if (rc == 0) {
		st = store_prepare(s, "UPDATE recordings SET state = 'running', "
		    "started = ? WHERE id = ?", &cause);
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, time(NULL));
		sqlite3_bind_int64(st, 2, j->id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (store_commit(s, &cause) != 0)
		goto fail;
	return (rc);
fail:
	log_error("clip", "%s", cause);
	free(cause);
	store_rollback(s);
	free(j->file);
	free(j->source);
	j->file = j->source = NULL;
	return (-1);
}

/* The job's end: ready (with clip.ready) or failed, or back to pending
 * when streamd stops. */
static void
finish(struct store *s, const struct job *j, int rc, double duration,
    const char *error, int64_t bytes)
{
	sqlite3_stmt	*st;
	json_object	*o;
	char		*cause = NULL;

	if (store_begin(s, &cause) != 0)
		goto fail;
	if (rc == 1)
		st = store_prepare(s, "UPDATE recordings SET state = 'pending', "
		    "started = NULL WHERE id = ?1", &cause);
	else if (rc == 0)
		st = store_prepare(s, "UPDATE recordings SET state = 'ready', "
		    "stopped = ?2, duration = ?3, bytes = ?4, error = NULL "
		    "WHERE id = ?1", &cause);
	else
		st = store_prepare(s, "UPDATE recordings SET state = 'failed', "
		    "stopped = ?2, error = ?5 WHERE id = ?1", &cause);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, j->id);
	if (rc != 1) {
		sqlite3_bind_int64(st, 2, time(NULL));
		if (rc == 0) {
			sqlite3_bind_double(st, 3, duration);
			sqlite3_bind_int64(st, 4, bytes);
		} else
			sqlite3_bind_text(st, 5, error, -1, SQLITE_TRANSIENT);
	}
	sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int64(j->id));
		json_object_object_add(o, "file",
		    json_object_new_string(j->file));
		json_object_object_add(o, "duration",
		    json_object_new_double(duration));
		json_object_object_add(o, "bytes", json_object_new_int64(bytes));
		json_object_object_add(o, "clip_start",
		    json_object_new_double(j->start));
		json_object_object_add(o, "clip_end",
		    json_object_new_double(j->end));
		json_object_object_add(o, "exact",
		    json_object_new_boolean(j->exact));
		if (outbox_emit(s, "clip.ready", o, &cause) < 0) {
			log_error("webhook", "clip.ready: %s", cause);
			free(cause);
			cause = NULL;
		}
		json_object_put(o);
	}
	if (store_commit(s, &cause) != 0)
		goto fail;
	return;
fail:
	log_error("clip", "clip %lld: %s", j->id, cause);
	free(cause);
	store_rollback(s);
}

static void
run_job(struct store *s, struct job *j)
{
	struct stat	 sb;
	char		*src = NULL, *dst = NULL, *tmp = NULL, *dir, *slash;
	char		*cause = NULL, *failed = NULL;
	double		 duration = 0;
	int		 rc = -1;

	if (j->file == NULL || j->source == NULL) {
		cause = xstrdup(j->source == NULL ? "its recording or its file "
		    "is gone" : "no file");
		goto out;
	}
	src = xprintf("%s/%s", w.media_root, j->source);
	dst = xprintf("%s/%s", w.media_root, j->file);
	tmp = xprintf("%s.part", dst);
	dir = xstrdup(dst);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	if (fs_mkdirs(dir, 0755, &failed) != 0) {
		cause = xprintf("%s: %s", failed, strerror(errno));
		free(failed);
		free(dir);
		goto out;
	}
	free(dir);
	log_info("clip", "clip %lld: %s from %.3f s to %.3f s%s", j->id,
	    j->source, j->start, j->end, j->exact ? " (exact)" : "");
	rc = cut(j, src, tmp, &duration, &cause);
	if (rc == 0 && rename(tmp, dst) != 0) {
		cause = xprintf("rename %s: %s", j->file, strerror(errno));
		rc = -1;
	}
out:
	if (rc != 0 && tmp != NULL)
		unlink(tmp);
	if (rc == 0)
		log_info("clip", "clip %lld: ready, %.3f s", j->id, duration);
	else if (rc < 0)
		log_warn("clip", "clip %lld: %s", j->id, cause);
	finish(s, j, rc, duration, cause, rc == 0 && stat(dst, &sb) == 0 ?
	    sb.st_size : 0);
	free(cause);
	free(src);
	free(dst);
	free(tmp);
}

static void *
clip_main(void *arg)
{
	struct store	*s = arg;
	struct job	 j;
	struct timespec	 ts;
	int		 rc;

	while (!stopping()) {
		if ((rc = claim(s, &j)) == 0) {
			run_job(s, &j);
			free(j.file);
			free(j.source);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += rc == ENOENT ? 5 : 10;
		pthread_mutex_lock(&w.lock);
		while (!w.quit && !w.poke)
			if (pthread_cond_timedwait(&w.cond, &w.lock, &ts) ==
			    ETIMEDOUT)
				break;
		w.poke = 0;
		pthread_mutex_unlock(&w.lock);
	}
	store_close(s);
	return (NULL);
}

int
clip_start(const char *database, const char *media_root, char **cause)
{
	struct store	*s;
	sqlite3_stmt	*st;
	int		 err;

	if (w.started)
		return (0);
	if (store_open(database, 0, &s, cause) != 0)
		return (-1);
	/* A job cut when streamd died starts again. */
	if ((st = store_prepare(s, "UPDATE recordings SET state = 'pending', "
	    "started = NULL WHERE kind = 'clip' AND state = 'running'",
	    cause)) == NULL) {
		store_close(s);
		return (-1);
	}
	sqlite3_step(st);
	sqlite3_reset(st);
	free(w.media_root);
	w.media_root = xstrdup(media_root);
	w.quit = 0;
	w.poke = 0;
	if ((err = pthread_create(&w.thread, NULL, clip_main, s)) != 0) {
		*cause = xprintf("pthread_create: %s", strerror(err));
		store_close(s);
		return (-1);
	}
	w.started = 1;
	return (0);
}

void
clip_wake(void)
{
	pthread_mutex_lock(&w.lock);
	w.poke = 1;
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
}

void
clip_stop(void)
{
	if (!w.started)
		return;
	pthread_mutex_lock(&w.lock);
	__atomic_store_n(&w.quit, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	w.started = 0;
	free(w.media_root);
	w.media_root = NULL;
}
