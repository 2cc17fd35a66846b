#include "config.h"

#include <sys/stat.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

#include "testmedia.h"

static void
drain(AVCodecContext *c, const AVFrame *frame, int index, int64_t dur,
    AVPacket ***list, int *n)
{
	AVPacket	*pkt;
	int		 ret;

	ck_assert_int_eq(avcodec_send_frame(c, frame), 0);
	for (;;) {
		pkt = av_packet_alloc();
		ck_assert_ptr_nonnull(pkt);
		ret = avcodec_receive_packet(c, pkt);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
			av_packet_free(&pkt);
			break;
		}
		ck_assert_int_eq(ret, 0);
		pkt->stream_index = index;
		if (pkt->duration == 0)
			pkt->duration = dur;
		*list = realloc(*list, (size_t)(*n + 1) * sizeof **list);
		ck_assert_ptr_nonnull(*list);
		(*list)[(*n)++] = pkt;
	}
}

/* Opens the encoder, with the global header MP4 wants, and returns a
 * frame of its format to fill. */
static AVFrame *
open_encoder(AVCodecContext *c, const AVCodec *codec)
{
	AVFrame	*f;

	c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	ck_assert_int_eq(avcodec_open2(c, codec, NULL), 0);
	f = av_frame_alloc();
	ck_assert_ptr_nonnull(f);
	if (c->codec_type == AVMEDIA_TYPE_VIDEO) {
		f->format = c->pix_fmt;
		f->width = c->width;
		f->height = c->height;
	} else {
		f->format = c->sample_fmt;
		f->nb_samples = c->frame_size;
		f->sample_rate = c->sample_rate;
		ck_assert_int_eq(av_channel_layout_copy(&f->ch_layout,
		    &c->ch_layout), 0);
	}
	ck_assert_int_eq(av_frame_get_buffer(f, 0), 0);
	return (f);
}

/* Keeps the parameters and time base of a drained encoder and frees
 * it. */
static void
close_encoder(AVCodecContext **c, AVCodecParameters **par, AVRational *tb)
{
	*par = avcodec_parameters_alloc();
	ck_assert_ptr_nonnull(*par);
	ck_assert_int_ge(avcodec_parameters_from_context(*par, *c), 0);
	*tb = (*c)->time_base;
	avcodec_free_context(c);
}

static void
make_video(int seconds, struct tm_media *m, AVPacket ***list, int *n)
{
	const AVCodec	*codec;
	AVCodecContext	*c;
	AVFrame		*f;
	int		 i, x, y;

	codec = avcodec_find_encoder_by_name("libx264");
	ck_assert_msg(codec != NULL, "libx264 is needed");
	c = avcodec_alloc_context3(codec);
	ck_assert_ptr_nonnull(c);
	c->width = 320;
	c->height = 240;
	c->pix_fmt = AV_PIX_FMT_YUV420P;
	c->time_base = (AVRational){ 1, 25 };
	c->framerate = (AVRational){ 25, 1 };
	c->gop_size = 25;
	c->keyint_min = 25;
	c->thread_count = 1;
	av_opt_set(c->priv_data, "preset", "veryfast", 0);
	av_opt_set(c->priv_data, "x264-params", "scenecut=0:rc-lookahead=5",
	    0);
	f = open_encoder(c, codec);
	for (i = 0; i < seconds * 25; i++) {
		ck_assert_int_eq(av_frame_make_writable(f), 0);
		for (y = 0; y < c->height; y++)
			for (x = 0; x < c->width; x++)
				f->data[0][y * f->linesize[0] + x] =
				    (uint8_t)(x + y + i * 3);
		for (y = 0; y < c->height / 2; y++)
			for (x = 0; x < c->width / 2; x++) {
				f->data[1][y * f->linesize[1] + x] =
				    (uint8_t)(128 + y + i);
				f->data[2][y * f->linesize[2] + x] =
				    (uint8_t)(64 + x + i * 2);
			}
		f->pts = i;
		drain(c, f, 0, 1, list, n);
	}
	drain(c, NULL, 0, 1, list, n);
	av_frame_free(&f);
	close_encoder(&c, &m->vpar, &m->vtb);
}

static void
make_audio(int seconds, struct tm_media *m, AVPacket ***list, int *n)
{
	const AVCodec	*codec;
	AVCodecContext	*c;
	AVFrame		*f;
	float		*l, *r;
	int		 i, k;

	codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
	ck_assert_ptr_nonnull(codec);
	c = avcodec_alloc_context3(codec);
	ck_assert_ptr_nonnull(c);
	c->sample_fmt = AV_SAMPLE_FMT_FLTP;
	c->sample_rate = 48000;
	av_channel_layout_default(&c->ch_layout, 2);
	c->bit_rate = 96000;
	c->time_base = (AVRational){ 1, 48000 };
	f = open_encoder(c, codec);
	for (k = 0; (int64_t)k * c->frame_size < seconds * 48000; k++) {
		ck_assert_int_eq(av_frame_make_writable(f), 0);
		l = (float *)f->data[0];
		r = (float *)f->data[1];
		for (i = 0; i < c->frame_size; i++) {
			l[i] = r[i] = (float)(0.3 * sin(2 * M_PI * 440 *
			    (k * c->frame_size + i) / 48000.0));
		}
		f->pts = (int64_t)k * c->frame_size;
		drain(c, f, 1, c->frame_size, list, n);
	}
	drain(c, NULL, 1, c->frame_size, list, n);
	av_frame_free(&f);
	close_encoder(&c, &m->apar, &m->atb);
}

/* Made once per suite by its fixture: encoding is the slow part. */
void
tm_make(int seconds, struct tm_media *m)
{
	AVPacket	**v = NULL, **a = NULL;
	int64_t		 tv, ta;
	int		 nv = 0, na = 0, iv = 0, ia = 0;

	memset(m, 0, sizeof *m);
	av_log_set_level(AV_LOG_ERROR);
	make_video(seconds, m, &v, &nv);
	make_audio(seconds, m, &a, &na);
	m->pkts = calloc((size_t)(nv + na), sizeof *m->pkts);
	m->us = calloc((size_t)(nv + na), sizeof *m->us);
	ck_assert_ptr_nonnull(m->pkts);
	ck_assert_ptr_nonnull(m->us);
	while (iv < nv || ia < na) {
		tv = iv < nv ? av_rescale_q(v[iv]->dts, m->vtb,
		    AV_TIME_BASE_Q) : INT64_MAX;
		ta = ia < na ? av_rescale_q(a[ia]->dts, m->atb,
		    AV_TIME_BASE_Q) : INT64_MAX;
		if (tv <= ta) {
			m->us[m->n] = tv;
			m->pkts[m->n++] = v[iv++];
		} else {
			m->us[m->n] = ta;
			m->pkts[m->n++] = a[ia++];
		}
	}
	free(v);
	free(a);
}

/* The fixture's teardown, so a leak checker sees a clean exit. */
void
tm_free(struct tm_media *m)
{
	int	i;

	for (i = 0; i < m->n; i++)
		av_packet_free(&m->pkts[i]);
	free(m->pkts);
	free(m->us);
	avcodec_parameters_free(&m->vpar);
	avcodec_parameters_free(&m->apar);
	memset(m, 0, sizeof *m);
}

/* Both muxers take their inputs as hls_stream. */
void
tm_streams(const struct tm_media *m, struct hls_stream *st)
{
	st[0].par = m->vpar;
	st[0].time_base = m->vtb;
	st[1].par = m->apar;
	st[1].time_base = m->atb;
}

/* Muxer output is checked by name inside the directory it was given. */
char *
tm_path(const char *dir, const char *name)
{
	char	*p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return (p);
}

/* Tells missing files from empty ones, which a muxer may leave. */
long long
tm_size(const char *dir, const char *name)
{
	struct stat	 st;
	char		*p;
	int		 rc;

	p = tm_path(dir, name);
	rc = stat(p, &st);
	free(p);
	return (rc == 0 ? (long long)st.st_size : -1);
}
