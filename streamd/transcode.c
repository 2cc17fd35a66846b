#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>
#include <libavutil/parseutils.h>
#include <libavutil/pixdesc.h>

#include "buf.h"
#include "log.h"
#include "streamd.h"
#include "xmalloc.h"

/* Segments kept on disk after they leave the playlist. */
#define KEEP_EXTRA	3

static const char *
averr(int err, char *buf, size_t size)
{
	av_strerror(err, buf, size);
	return (buf);
}

/* The live feed muxers: MPEG-TS or ADTS written through a custom AVIO
 * into a struct feed, one chunk per packet, a key chunk starting at
 * PAT/PMT and a keyframe. */
struct feedmux {
	AVFormatContext	*oc;
	struct feed	*feed;
	struct buf	 pending;
	AVRational	 tb[2];
	int		 ts;
	int		 header;
};

static int
feedmux_out(void *arg, uint8_t *data, int size)
{
	struct feedmux	*m = arg;

	buf_add(&m->pending, data, (size_t)size);
	return (size);
}

static void
feedmux_push(struct feedmux *m, int key)
{
	avio_flush(m->oc->pb);
	if (m->pending.len > 0)
		feed_push(m->feed, m->pending.data, m->pending.len, key);
	buf_reset(&m->pending);
}

struct feedmux *
feedmux_open(const char *format, struct feed *f,
    const AVCodecParameters *const *par, const AVRational *tb, int n,
    char **cause)
{
	struct feedmux	*m;
	unsigned char	*iobuf;
	AVStream	*st;
	char		 eb[128];
	int		 i, err;

	m = xcalloc(1, sizeof *m);
	m->feed = f;
	m->ts = strcmp(format, "mpegts") == 0;
	if ((err = avformat_alloc_output_context2(&m->oc, NULL, format,
	    NULL)) < 0)
		goto fail;
	iobuf = av_malloc(32768);
	if (iobuf == NULL || (m->oc->pb = avio_alloc_context(iobuf, 32768, 1,
	    m, NULL, feedmux_out, NULL)) == NULL) {
		av_free(iobuf);
		err = AVERROR(ENOMEM);
		goto fail;
	}
	m->oc->flags |= AVFMT_FLAG_CUSTOM_IO;
	for (i = 0; i < n; i++) {
		if ((st = avformat_new_stream(m->oc, NULL)) == NULL) {
			err = AVERROR(ENOMEM);
			goto fail;
		}
		if ((err = avcodec_parameters_copy(st->codecpar, par[i])) < 0)
			goto fail;
		st->codecpar->codec_tag = 0;
		st->time_base = tb[i];
		m->tb[i] = tb[i];
	}
	if ((err = avformat_write_header(m->oc, NULL)) < 0)
		goto fail;
	/* The header bytes (if any) go out with the first key chunk. */
	return (m);
fail:
	*cause = xprintf("%s feed: %s", format, averr(err, eb, sizeof eb));
	feedmux_close(m);
	return (NULL);
}

int
feedmux_write(struct feedmux *m, const AVPacket *pkt, int stream, int key)
{
	AVPacket	*copy;
	int		 err;

	if (key) {
		/* The chunk before ends here; the key chunk starts with
		 * PAT/PMT. */
		av_write_frame(m->oc, NULL);
		avio_flush(m->oc->pb);
		if (m->header)
			feedmux_push(m, 0);
		if (m->ts)
			av_opt_set(m->oc->priv_data, "mpegts_flags",
			    "+resend_headers", 0);
	} else if (!m->header)
		return (0);
	if ((copy = av_packet_clone(pkt)) == NULL)
		return (AVERROR(ENOMEM));
	copy->stream_index = stream;
	av_packet_rescale_ts(copy, m->tb[stream],
	    m->oc->streams[stream]->time_base);
	err = av_write_frame(m->oc, copy);
	av_packet_free(&copy);
	if (err < 0)
		return (err);
	feedmux_push(m, key);
	m->header = 1;
	return (0);
}

void
feedmux_close(struct feedmux *m)
{
	if (m == NULL)
		return;
	if (m->oc != NULL) {
		if (m->oc->pb != NULL) {
			av_freep(&m->oc->pb->buffer);
			avio_context_free(&m->oc->pb);
		}
		avformat_free_context(m->oc);
	}
	buf_free(&m->pending);
	free(m);
}

/* Decoders: one per input stream that some rendition encodes from. */
int
decoders_open(struct decoders *d, struct input *in, int need_video,
    int need_audio, char **cause)
{
	const AVCodec	*codec;
	AVStream	*st;
	char		 eb[128];
	int		 slot, idx, err;

	memset(d, 0, sizeof *d);
	d->index[0] = need_video ? in->video : -1;
	d->index[1] = need_audio ? in->audio : -1;
	for (slot = 0; slot < 2; slot++) {
		if ((idx = d->index[slot]) < 0)
			continue;
		st = in->ic->streams[idx];
		codec = avcodec_find_decoder(st->codecpar->codec_id);
		if (codec == NULL) {
			*cause = xprintf("no decoder for %s",
			    avcodec_get_name(st->codecpar->codec_id));
			goto fail;
		}
		d->dec[slot] = avcodec_alloc_context3(codec);
		if (d->dec[slot] == NULL) {
			*cause = xstrdup("out of memory");
			goto fail;
		}
		avcodec_parameters_to_context(d->dec[slot], st->codecpar);
		d->dec[slot]->pkt_timebase = st->time_base;
		if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
			d->dec[slot]->framerate = av_guess_frame_rate(in->ic,
			    st, NULL);
		if ((err = avcodec_open2(d->dec[slot], codec, NULL)) < 0) {
			*cause = xprintf("%s decoder: %s", codec->name,
			    averr(err, eb, sizeof eb));
			goto fail;
		}
	}
	if ((d->frame = av_frame_alloc()) == NULL) {
		*cause = xstrdup("out of memory");
		goto fail;
	}
	return (0);
fail:
	decoders_close(d);
	return (-1);
}

void
decoders_close(struct decoders *d)
{
	avcodec_free_context(&d->dec[0]);
	avcodec_free_context(&d->dec[1]);
	av_frame_free(&d->frame);
}

/* The hardware encoder for hwaccel.type (S4), or NULL. */
static const char *
hw_encoder(const char *type)
{
	if (type == NULL)
		return (NULL);
	if (strcmp(type, "nvidia") == 0)
		return ("h264_nvenc");
	if (strcmp(type, "vaapi") == 0)
		return ("h264_vaapi");
	if (strcmp(type, "qsv") == 0)
		return ("h264_qsv");
	return (NULL);
}

/* x264's preset and tune names, as the hardware encoders know them;
 * NULL leaves the encoder's default. */
static const char *
hw_preset(const char *encoder, const char *preset)
{
	static const char *const x264[] = { "ultrafast", "superfast",
	    "veryfast", "faster", "fast", "medium", "slow", "slower",
	    "veryslow", NULL };
	static const char *const nvenc[] = { "p1", "p1", "p2", "p3", "p4",
	    "p4", "p5", "p6", "p7" };
	int	i;

	if (preset == NULL)
		return (NULL);
	for (i = 0; x264[i] != NULL; i++)
		if (strcmp(preset, x264[i]) == 0)
			break;
	if (strstr(encoder, "_nvenc") != NULL)
		return (x264[i] != NULL ? nvenc[i] : preset);
	if (strstr(encoder, "_qsv") != NULL)
		return (x264[i] != NULL && i >= 2 ? x264[i] : "veryfast");
	return (NULL);	/* vaapi has no presets */
}

static const char *
hw_tune(const char *encoder, const char *tune)
{
	if (tune == NULL || strstr(encoder, "_nvenc") == NULL)
		return (NULL);
	if (strcmp(tune, "zerolatency") == 0)
		return ("ull");
	return (NULL);
}

static int
graph_finish(struct ostream *os, const char *desc, char **cause)
{
	AVFilterInOut	*in = NULL, *out = NULL;
	char		 eb[128];
	int		 err;

	if ((out = avfilter_inout_alloc()) == NULL ||
	    (in = avfilter_inout_alloc()) == NULL) {
		err = AVERROR(ENOMEM);
		goto out;
	}
	out->name = av_strdup("in");
	out->filter_ctx = os->src;
	in->name = av_strdup("out");
	in->filter_ctx = os->sink;
	if ((err = avfilter_graph_parse_ptr(os->graph, desc, &in, &out,
	    NULL)) < 0)
		goto out;
	err = avfilter_graph_config(os->graph, NULL);
out:
	avfilter_inout_free(&in);
	avfilter_inout_free(&out);
	if (err < 0)
		*cause = xprintf("filter '%s': %s", desc, averr(err, eb,
		    sizeof eb));
	return (err < 0 ? -1 : 0);
}

/* The keyframe grid of a pipeline, in seconds: the main profile's GOP,
 * else 2 s.  Every rendition forces its keyframes on it, so an ABR
 * ladder cuts its segments at the same instants. */
double
pipeline_key_interval(const struct pipeline *p, AVRational input_rate)
{
	const struct profile	*pf = p->rend[0].profile;
	AVRational		 rate = input_rate;

	if (pf->gop <= 0)
		return (2.0);
	if (pf->fps != NULL && av_parse_video_rate(&rate, pf->fps) < 0)
		rate = input_rate;
	if (rate.num <= 0 || rate.den <= 0)
		rate = (AVRational){ 25, 1 };
	return ((double)pf->gop * rate.den / rate.num);
}

/* Decoded video -> scale/fps/format -> encoder, with keyframes forced on
 * a fixed time grid so that every rendition of a ladder cuts its
 * segments at the same instants. */
static int
open_video_encoder(struct ostream *os, struct pipeline *p,
    const struct profile *pf, AVStream *ist, AVRational fr,
    const char *hwtype, char **cause)
{
	const AVCodec	*codec = NULL;
	const char	*name = pf->video_codec, *hw, *cands[3];
	AVDictionary	*opts = NULL;
	struct buf	 desc = BUF_INIT;
	AVRational	 rate = fr;
	char		 args[512], eb[128];
	int		 w, h, err, fmt, attempt, nc = 0;
	size_t		 i;
	int		 rc = -1;

	if (pf->fps != NULL && av_parse_video_rate(&rate, pf->fps) < 0)
		rate = fr;
	if (rate.num <= 0 || rate.den <= 0)
		rate = (AVRational){ 25, 1 };
	w = ist->codecpar->width;
	h = ist->codecpar->height;
	if (pf->size != NULL && sscanf(pf->size, "%dx%d", &w, &h) != 2) {
		w = ist->codecpar->width;
		h = ist->codecpar->height;
	}
	if (w <= 0 || h <= 0) {
		*cause = xstrdup("the input's frame size is not known");
		goto out;
	}
	os->key_interval = pipeline_key_interval(p, fr);
	/* Beside a copied main rendition, keyframes follow the source's, so
	 * that every rendition cuts where the copy does. */
	os->mirror = strcmp(p->rend[0].profile->video_codec, "copy") == 0;
	/* Hardware first when hwaccel asks for it, then what the profile
	 * names, then libx264: a missing device is logged, not fatal. */
	hw = hw_encoder(hwtype);
	if (hw != NULL && (strcmp(pf->video_codec, "libx264") == 0 ||
	    strcmp(pf->video_codec, "h264") == 0))
		cands[nc++] = hw;
	cands[nc++] = pf->video_codec;
	if (strcmp(pf->video_codec, "libx264") != 0 &&
	    (strstr(pf->video_codec, "_nvenc") != NULL ||
	    strstr(pf->video_codec, "_vaapi") != NULL ||
	    strstr(pf->video_codec, "_qsv") != NULL))
		cands[nc++] = "libx264";
	for (attempt = 0; attempt < nc; attempt++) {
		name = cands[attempt];
		if (attempt > 0) {
			log_warn("transcode", "stream %lld: %s unavailable "
			    "(%s); falling back to %s", p->id,
			    cands[attempt - 1], *cause, name);
			free(*cause);
			*cause = NULL;
		}
		avcodec_free_context(&os->enc);
		avfilter_graph_free(&os->graph);
		av_dict_free(&opts);
		buf_reset(&desc);
		if ((codec = avcodec_find_encoder_by_name(name)) == NULL) {
			*cause = xprintf("no video encoder '%s'", name);
			continue;
		}
		fmt = AV_PIX_FMT_YUV420P;
		if (pf->pix_fmt != NULL &&
		    av_get_pix_fmt(pf->pix_fmt) != AV_PIX_FMT_NONE)
			fmt = av_get_pix_fmt(pf->pix_fmt);
		if (strcmp(name, "h264_qsv") == 0)
			fmt = AV_PIX_FMT_NV12;

		/* The filter graph. */
		os->graph = avfilter_graph_alloc();
		snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:"
		    "time_base=%d/%d:pixel_aspect=%d/%d",
		    ist->codecpar->width, ist->codecpar->height,
		    ist->codecpar->format >= 0 ? ist->codecpar->format :
		    AV_PIX_FMT_YUV420P, ist->time_base.num,
		    ist->time_base.den,
		    ist->codecpar->sample_aspect_ratio.num ?
		    ist->codecpar->sample_aspect_ratio.num : 1,
		    ist->codecpar->sample_aspect_ratio.den ?
		    ist->codecpar->sample_aspect_ratio.den : 1);
		if (os->graph == NULL || avfilter_graph_create_filter(&os->src,
		    avfilter_get_by_name("buffer"), "in", args, NULL,
		    os->graph) < 0 || avfilter_graph_create_filter(&os->sink,
		    avfilter_get_by_name("buffersink"), "out", NULL, NULL,
		    os->graph) < 0) {
			*cause = xstrdup("cannot make the video filter graph");
			continue;
		}
		if (w != ist->codecpar->width || h != ist->codecpar->height)
			buf_addf(&desc, "scale=%d:%d,", w, h);
		if (pf->fps != NULL)
			buf_addf(&desc, "fps=%d/%d,", rate.num, rate.den);
		buf_addf(&desc, "format=%s", av_get_pix_fmt_name(fmt));
		if (graph_finish(os, desc.data, cause) != 0)
			continue;

		os->enc = avcodec_alloc_context3(codec);
		os->enc->width = w;
		os->enc->height = h;
		os->enc->pix_fmt = fmt;
		os->enc->sample_aspect_ratio =
		    av_buffersink_get_sample_aspect_ratio(os->sink);
		os->enc->time_base = av_buffersink_get_time_base(os->sink);
		os->enc->framerate = rate;
		os->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
		os->enc->gop_size = os->mirror ? 600 : pf->gop > 0 ?
		    (int)pf->gop : (int)lrint(os->key_interval * rate.num /
		    rate.den);
		os->enc->keyint_min = os->enc->gop_size;
		if (pf->video_bitrate > 0)
			os->enc->bit_rate = pf->video_bitrate;
		if (pf->maxrate > 0)
			os->enc->rc_max_rate = pf->maxrate;
		if (pf->bufsize > 0)
			os->enc->rc_buffer_size = (int)pf->bufsize;
		if (strcmp(name, pf->video_codec) == 0 ||
		    strcmp(name, "libx264") == 0) {
			if (pf->preset != NULL)
				av_dict_set(&opts, "preset", pf->preset, 0);
			if (pf->tune != NULL)
				av_dict_set(&opts, "tune", pf->tune, 0);
		} else {
			/* A hardware encoder standing in for libx264. */
			av_dict_set(&opts, "preset", hw_preset(name,
			    pf->preset), 0);
			av_dict_set(&opts, "tune", hw_tune(name, pf->tune), 0);
		}
		if (strcmp(name, "libx264") == 0) {
			/* No scene-cut keyframes: only the forced grid, the
			 * same in every rendition. */
			av_dict_set(&opts, "x264-params", "scenecut=0", 0);
			av_dict_set(&opts, "forced-idr", "1", 0);
		}
		for (i = 0; i < pf->video_options.n; i++)
			av_dict_set(&opts, pf->video_options.v[i].key,
			    pf->video_options.v[i].value, 0);
		if ((err = avcodec_open2(os->enc, codec, &opts)) < 0) {
			*cause = xprintf("%s: %s", name, averr(err, eb,
			    sizeof eb));
			continue;
		}
		rc = 0;
		break;
	}
	if (rc == 0 && strcmp(name, pf->video_codec) != 0)
		log_info("transcode", "stream %lld: encoding with %s", p->id,
		    name);
out:
	av_dict_free(&opts);
	buf_free(&desc);
	return (rc);
}

static int
open_audio_encoder(struct ostream *os, const struct profile *pf,
    const char *name, AVStream *ist, char **cause)
{
	const AVCodec		*codec;
	AVDictionary		*opts = NULL;
	AVChannelLayout		 inl;
	char			 args[512], lay[128], desc[512], eb[128];
	int			 err, rc = -1;
	size_t			 i;

	if ((codec = avcodec_find_encoder_by_name(name)) == NULL) {
		*cause = xprintf("no audio encoder '%s'", name);
		return (-1);
	}
	os->enc = avcodec_alloc_context3(codec);
	os->enc->sample_rate = pf->audio_sample_rate > 0 ?
	    (int)pf->audio_sample_rate : ist->codecpar->sample_rate;
	if (os->enc->sample_rate <= 0)
		os->enc->sample_rate = 48000;
	av_channel_layout_default(&os->enc->ch_layout, pf->audio_channels >
	    0 ? (int)pf->audio_channels : (ist->codecpar->ch_layout.
	    nb_channels > 0 && ist->codecpar->ch_layout.nb_channels <= 2 ?
	    ist->codecpar->ch_layout.nb_channels : 2));
	os->enc->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] :
	    AV_SAMPLE_FMT_FLTP;
	os->enc->time_base = (AVRational){ 1, os->enc->sample_rate };
	os->enc->bit_rate = pf->audio_bitrate > 0 ? pf->audio_bitrate : 128000;
	os->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	for (i = 0; i < pf->audio_options.n; i++)
		av_dict_set(&opts, pf->audio_options.v[i].key,
		    pf->audio_options.v[i].value, 0);
	if ((err = avcodec_open2(os->enc, codec, &opts)) < 0) {
		*cause = xprintf("%s: %s", name, averr(err, eb, sizeof eb));
		goto out;
	}

	if (ist->codecpar->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
		av_channel_layout_default(&inl,
		    ist->codecpar->ch_layout.nb_channels);
	else
		av_channel_layout_copy(&inl, &ist->codecpar->ch_layout);
	av_channel_layout_describe(&inl, lay, sizeof lay);
	av_channel_layout_uninit(&inl);
	snprintf(args, sizeof args, "time_base=%d/%d:sample_rate=%d:"
	    "sample_fmt=%s:channel_layout=%s", ist->time_base.num,
	    ist->time_base.den, ist->codecpar->sample_rate,
	    av_get_sample_fmt_name(ist->codecpar->format), lay);
	os->graph = avfilter_graph_alloc();
	if (os->graph == NULL || avfilter_graph_create_filter(&os->src,
	    avfilter_get_by_name("abuffer"), "in", args, NULL,
	    os->graph) < 0 || avfilter_graph_create_filter(&os->sink,
	    avfilter_get_by_name("abuffersink"), "out", NULL, NULL,
	    os->graph) < 0) {
		*cause = xprintf("cannot make the audio filter graph (%s)",
		    args);
		goto out;
	}
	av_channel_layout_describe(&os->enc->ch_layout, lay, sizeof lay);
	snprintf(desc, sizeof desc, "aresample=%d,aformat=sample_fmts=%s:"
	    "channel_layouts=%s", os->enc->sample_rate,
	    av_get_sample_fmt_name(os->enc->sample_fmt), lay);
	if (graph_finish(os, desc, cause) != 0)
		goto out;
	if (os->enc->frame_size > 0 &&
	    !(codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
		av_buffersink_set_frame_size(os->sink,
		    (unsigned)os->enc->frame_size);
	rc = 0;
out:
	av_dict_free(&opts);
	return (rc);
}

static void
ostream_close(struct ostream *os)
{
	avcodec_free_context(&os->enc);
	avfilter_graph_free(&os->graph);
	avcodec_parameters_free(&os->par);
	av_frame_free(&os->frame);
	memset(os, 0, sizeof *os);
}

/* The AudioSpecificConfig of ADTS AAC from what probing found, so that
 * the outputs can open before the first audio packet and the first
 * keyframe starts them (B3).  Only where an ADTS header would say the
 * same (AAC Main, LC, SSR or LTP; a rate and channels ADTS can carry);
 * otherwise the outputs wait for the first header, as strip_adts reads
 * it. */
static void
guess_asc(AVCodecParameters *par)
{
	static const int rates[] = { 96000, 88200, 64000, 48000, 44100,
	    32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350 };
	uint8_t		*asc;
	int		 sr, ch, n = par->ch_layout.nb_channels;

	if (par->profile < FF_PROFILE_AAC_MAIN ||
	    par->profile > FF_PROFILE_AAC_LTP)
		return;
	for (sr = 0; sr < (int)(sizeof rates / sizeof rates[0]); sr++)
		if (rates[sr] == par->sample_rate)
			break;
	if (sr == (int)(sizeof rates / sizeof rates[0]))
		return;
	if (n >= 1 && n <= 6)
		ch = n;
	else if (n == 8)
		ch = 7;
	else
		return;
	if ((asc = av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE)) == NULL)
		return;
	asc[0] = (uint8_t)(((par->profile + 1) << 3) | (sr >> 1));
	asc[1] = (uint8_t)(((sr & 1) << 7) | (ch << 3));
	par->extradata = asc;
	par->extradata_size = 2;
}

/* Sets up the streams of rendition index: copied or encoded. */
int
rendition_open(struct rendition *r, struct pipeline *p, int index,
    struct input *in, const char *hwtype, char **cause)
{
	const struct profile	*pf = p->rend[index].profile;
	struct ostream		*os;
	AVStream		*ist;
	const char		*acodec;
	int			 slot;

	memset(r, 0, sizeof *r);
	r->index = index;
	r->pf = pf;
	r->video_os = r->audio_os = -1;
	for (slot = 0; slot < 2; slot++) {
		int idx = slot == 0 ? in->video : in->audio;
		const char *codec = slot == 0 ? pf->video_codec :
		    pf->audio_codec;

		if (idx < 0 || strcmp(codec, "none") == 0)
			continue;
		ist = in->ic->streams[idx];
		os = &r->os[r->nos];
		os->in_index = idx;
		if ((os->par = avcodec_parameters_alloc()) == NULL ||
		    (os->frame = av_frame_alloc()) == NULL) {
			*cause = xstrdup("out of memory");
			goto fail;
		}
		acodec = codec;
		/* The audio feed's rendition keeps AAC as it is and
		 * encodes anything else to AAC. */
		if (slot == 1 && strcmp(p->rend[index].name, "@audio") == 0)
			acodec = ist->codecpar->codec_id == AV_CODEC_ID_AAC ?
			    "copy" : "aac";
		if (strcmp(acodec, "copy") == 0) {
			os->copy = 1;
			avcodec_parameters_copy(os->par, ist->codecpar);
			os->time_base = ist->time_base;
			/* AAC from MPEG-TS comes as ADTS: its config is read
			 * from the first header and the headers are dropped,
			 * as MP4 needs (aac_adtstoasc). */
			os->adts = os->par->codec_id == AV_CODEC_ID_AAC &&
			    os->par->extradata_size == 0;
			if (os->adts)
				guess_asc(os->par);
		} else {
			if (slot == 0 && open_video_encoder(os, p, pf, ist,
			    av_guess_frame_rate(in->ic, ist, NULL), hwtype,
			    cause) != 0)
				goto fail;
			if (slot == 1 && open_audio_encoder(os, pf, acodec,
			    ist, cause) != 0)
				goto fail;
			avcodec_parameters_from_context(os->par, os->enc);
			os->time_base = os->enc->time_base;
		}
		if (slot == 0)
			r->video_os = r->nos;
		else
			r->audio_os = r->nos;
		r->nos++;
	}
	if (r->nos == 0 && p->rend[index].name[0] != '@') {
		*cause = xprintf("profile '%s' keeps no stream of this input",
		    pf->name);
		goto fail;
	}
	return (0);
fail:
	rendition_close(r, 0);
	return (-1);
}

int
rendition_needs_decode(const struct rendition *r, int slot)
{
	int	os = slot == 0 ? r->video_os : r->audio_os;

	return (os >= 0 && !r->os[os].copy);
}

static int
segment_ms(const struct pipeline *p, const struct profile *pf)
{
	return ((int)(p->ch->segment_duration > 0 ? p->ch->segment_duration :
	    pf->segment_duration) * 1000);
}

static int
playlist_size(const struct pipeline *p, const struct profile *pf)
{
	return ((int)(p->ch->playlist_size > 0 ? p->ch->playlist_size :
	    pf->playlist_size));
}

static void
stream_list(struct rendition *r, struct hls_stream *hs,
    const AVCodecParameters **par, AVRational *tb)
{
	int	i;

	for (i = 0; i < r->nos; i++) {
		hs[i].par = r->os[i].par;
		hs[i].time_base = r->os[i].time_base;
		par[i] = r->os[i].par;
		tb[i] = r->os[i].time_base;
	}
}

static void
report(struct pipeline *p, const char *what, const char *cause)
{
	log_warn("output", "stream %lld: %s: %s", p->id, what, cause);
	pthread_mutex_lock(&p->lock);
	free(p->last_error);
	p->last_error = xprintf("%s: %s", what, cause);
	p->dirty = 1;
	pthread_mutex_unlock(&p->lock);
}

/* Opens what is wanted and not open, closes what is open and no longer
 * wanted.  An output that failed to open is tried again after a few
 * seconds. */
unsigned
rendition_sync(struct rendition *r, struct pipeline *p, unsigned wanted,
    int final)
{
	const char		*name = p->rend[r->index].name;
	struct hls_stream	 hs[2];
	const AVCodecParameters	*par[2];
	AVRational		 tb[2];
	struct hls_opts		 ho;
	struct dash_opts	 dopts;
	char			 dir[4096], *cause = NULL;
	int			 ll;
	unsigned		 want = wanted;

	if (r->nos == 0)
		return (0);	/* the audio feed of an input without audio */
	if (want & (OUTPUT_LLHLS | OUTPUT_MASTER))
		want |= OUTPUT_HLS;
	ll = (wanted & OUTPUT_LLHLS) || p->ch->ll_hls ||
	    (p->ch->output_format && strcmp(p->ch->output_format,
	    "ll-hls") == 0) || strcmp(r->pf->output_format, "ll-hls") == 0;
	/* Every rendition has its TS feed; the audio feed is the one of
	 * "@audio", shared by a ladder. */
	if (strcmp(name, "@audio") == 0)
		want &= ~OUTPUT_TS;
	else
		want &= ~OUTPUT_AUDIO;
	stream_list(r, hs, par, tb);

	/* What closes here starts again, if reopened, on a keyframe. */
	if ((r->active & OUTPUT_HLS) && (!(want & OUTPUT_HLS) ||
	    (ll && !r->ll))) {
		/* An output nobody wants any more ends its playlist; one
		 * reopened with parts goes on. */
		if (hls_close(r->hls, final || !(want & OUTPUT_HLS),
		    &cause) != 0)
			report(p, "hls", cause);
		free(cause);
		cause = NULL;
		r->hls = NULL;
		r->active &= ~OUTPUT_HLS;
	}
	if ((r->active & OUTPUT_DASH) && !(want & OUTPUT_DASH)) {
		dash_close(r->dash, 1, &cause);
		free(cause);
		cause = NULL;
		r->dash = NULL;
		r->active &= ~OUTPUT_DASH;
	}
	/* A feed nobody reads any more lets its bytes go; it starts again
	 * on a keyframe. */
	if ((r->active & OUTPUT_TS) && !(want & OUTPUT_TS)) {
		feedmux_close(r->ts);
		r->ts = NULL;
		r->active &= ~OUTPUT_TS;
		feed_reset(p->rend[r->index].feed);
	}
	if ((r->active & OUTPUT_AUDIO) && !(want & OUTPUT_AUDIO)) {
		feedmux_close(r->adts);
		r->adts = NULL;
		r->active &= ~OUTPUT_AUDIO;
		feed_reset(p->rend[r->index].feed);
	}
	r->started &= r->active;
	if (final || (r->failed && now_us() < r->retry_at))
		goto ready;
	for (int i = 0; i < r->nos; i++)
		if (r->os[i].adts && r->os[i].par->extradata_size == 0)
			goto ready;	/* outputs open after the first header */
	r->failed = 0;

	if ((want & OUTPUT_HLS) && !(r->active & OUTPUT_HLS)) {
		pipeline_dir(p, "hls", name, dir, sizeof dir);
		memset(&ho, 0, sizeof ho);
		ho.dir = dir;
		ho.type = strcmp(r->pf->hls_segment_type, "fmp4") == 0 ?
		    HLS_SEGMENT_FMP4 : HLS_SEGMENT_TS;
		ho.segment_ms = segment_ms(p, r->pf);
		ho.part_ms = ll ? (int)r->pf->part_duration_ms : 0;
		ho.playlist_size = playlist_size(p, r->pf);
		ho.keep_extra = KEEP_EXTRA;
		ho.first_sequence = r->min_seq;
		if ((r->hls = hls_open(&ho, hs, r->nos, &cause)) == NULL) {
			report(p, "hls", cause);
			r->failed |= OUTPUT_HLS;
		} else {
			r->active |= OUTPUT_HLS;
			r->ll = ll;
		}
		free(cause);
		cause = NULL;
	}
	if ((want & OUTPUT_DASH) && !(r->active & OUTPUT_DASH)) {
		pipeline_dir(p, "dash", name, dir, sizeof dir);
		memset(&dopts, 0, sizeof dopts);
		dopts.dir = dir;
		dopts.segment_ms = segment_ms(p, r->pf);
		dopts.window_size = playlist_size(p, r->pf);
		dopts.keep_extra = KEEP_EXTRA;
		if ((r->dash = dash_open(&dopts, hs, r->nos, &cause)) ==
		    NULL) {
			report(p, "dash", cause);
			r->failed |= OUTPUT_DASH;
		} else
			r->active |= OUTPUT_DASH;
		free(cause);
		cause = NULL;
	}
	if ((want & OUTPUT_TS) && !(r->active & OUTPUT_TS)) {
		if ((r->ts = feedmux_open("mpegts", p->rend[r->index].feed,
		    par, tb, r->nos, &cause)) == NULL) {
			report(p, "ts feed", cause);
			r->failed |= OUTPUT_TS;
		} else
			r->active |= OUTPUT_TS;
		free(cause);
		cause = NULL;
	}
	if ((want & OUTPUT_AUDIO) && !(r->active & OUTPUT_AUDIO) &&
	    r->audio_os >= 0) {
		par[0] = par[r->audio_os];
		tb[0] = tb[r->audio_os];
		if ((r->adts = feedmux_open("adts", p->rend[r->index].feed,
		    par, tb, 1, &cause)) == NULL) {
			report(p, "audio feed", cause);
			r->failed |= OUTPUT_AUDIO;
		} else
			r->active |= OUTPUT_AUDIO;
		free(cause);
		cause = NULL;
	}
	if (r->failed)
		r->retry_at = now_us() + 5000000;
ready:
	return (rendition_ready(r));
}

unsigned
rendition_ready(struct rendition *r)
{
	unsigned	ready = 0;

	if ((r->active & OUTPUT_HLS) && hls_ready(r->hls)) {
		ready |= OUTPUT_HLS;
		if (r->ll)
			ready |= OUTPUT_LLHLS;
	}
	if ((r->active & OUTPUT_DASH) && dash_ready(r->dash))
		ready |= OUTPUT_DASH;
	if ((r->active & OUTPUT_TS) && r->ts != NULL && feed_ready(r->ts->feed))
		ready |= OUTPUT_TS;
	if ((r->active & OUTPUT_AUDIO) && r->adts != NULL &&
	    feed_ready(r->adts->feed))
		ready |= OUTPUT_AUDIO;
	return (ready);
}

uint64_t
rendition_stop_hls(struct rendition *r, struct pipeline *p)
{
	uint64_t	 next;
	char		*cause = NULL;

	if (!(r->active & OUTPUT_HLS))
		return (0);
	next = hls_next_sequence(r->hls);
	if (hls_close(r->hls, 0, &cause) != 0)
		report(p, "hls", cause);
	free(cause);
	r->hls = NULL;
	r->active &= ~OUTPUT_HLS;
	r->started &= ~OUTPUT_HLS;
	return (next);
}

void
rendition_discontinuity(struct rendition *r)
{
	if (r->hls != NULL)
		hls_discontinuity(r->hls);
}

/* One packet of output stream i to every open output.  An output starts
 * on a keyframe: one opened while the rendition runs waits for the next
 * one; a segmented one for the ladder's gate, a live feed for none. */
static void
emit(struct rendition *r, struct pipeline *p, int i, AVPacket *pkt)
{
	char	*cause = NULL;
	int	 key;

	key = (pkt->flags & AV_PKT_FLAG_KEY) && (i == r->video_os ||
	    r->video_os < 0);
	if (key)
		r->started |= r->active & (OUTPUT_TS | OUTPUT_AUDIO);
	if (key && (pkt->pts == AV_NOPTS_VALUE || pkt->pts *
	    av_q2d(r->os[i].time_base) >= r->gate - 0.001))
		r->started |= r->active;
	r->started &= r->active;
	pkt->stream_index = i;
	if ((r->started & OUTPUT_HLS) && r->hls != NULL &&
	    hls_write(r->hls, pkt, &cause) != 0) {
		report(p, "hls", cause);
		free(cause);
		cause = NULL;
	}
	if ((r->started & OUTPUT_DASH) && r->dash != NULL &&
	    dash_write(r->dash, pkt, &cause) != 0) {
		report(p, "dash", cause);
		free(cause);
		cause = NULL;
		dash_close(r->dash, 0, &cause);
		free(cause);
		cause = NULL;
		r->dash = NULL;
		r->active &= ~OUTPUT_DASH;
		r->started &= ~OUTPUT_DASH;
		r->failed |= OUTPUT_DASH;
		r->retry_at = now_us() + 5000000;
	}
	if ((r->started & OUTPUT_TS) && r->ts != NULL)
		feedmux_write(r->ts, pkt, i, key);
	if ((r->started & OUTPUT_AUDIO) && r->adts != NULL &&
	    i == r->audio_os)
		feedmux_write(r->adts, pkt, 0, 1);
	if (r->nrec > 0)
		record_packet(r, p, i, pkt, key);
}

/* Takes the AudioSpecificConfig from an ADTS header (ISO/IEC 14496-3
 * 1.A.2) when guess_asc could not, and drops the header.  Returns -1 for
 * a packet that is not one ADTS frame. */
static int
strip_adts(struct ostream *os, AVPacket *pkt)
{
	const uint8_t	*d = pkt->data;
	uint8_t		*asc;
	int		 hlen, profile, sr, ch;

	if (pkt->size < 7 || d[0] != 0xff || (d[1] & 0xf0) != 0xf0)
		return (os->par->extradata_size > 0 ? 0 : -1);
	hlen = (d[1] & 0x01) ? 7 : 9;
	if ((d[6] & 0x03) != 0 || pkt->size <= hlen)
		return (-1);	/* several raw blocks: not handled */
	if (os->par->extradata_size == 0) {
		profile = (d[2] >> 6) + 1;
		sr = (d[2] >> 2) & 0x0f;
		ch = ((d[2] & 0x01) << 2) | (d[3] >> 6);
		asc = av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE);
		if (asc == NULL)
			return (-1);
		asc[0] = (uint8_t)((profile << 3) | (sr >> 1));
		asc[1] = (uint8_t)(((sr & 1) << 7) | (ch << 3));
		os->par->extradata = asc;
		os->par->extradata_size = 2;
	}
	pkt->data += hlen;
	pkt->size -= hlen;
	return (0);
}

int
rendition_packet(struct rendition *r, struct pipeline *p,
    const AVPacket *pkt, AVRational tb)
{
	AVPacket	*copy;
	int		 i;

	for (i = 0; i < r->nos; i++) {
		if (!r->os[i].copy || r->os[i].in_index != pkt->stream_index)
			continue;
		if ((copy = av_packet_clone(pkt)) == NULL)
			return (AVERROR(ENOMEM));
		if (r->os[i].adts && strip_adts(&r->os[i], copy) != 0) {
			av_packet_free(&copy);
			continue;
		}
		if (av_cmp_q(tb, r->os[i].time_base) != 0)
			av_packet_rescale_ts(copy, tb, r->os[i].time_base);
		emit(r, p, i, copy);
		av_packet_free(&copy);
	}
	return (0);
}

/* Drains encoder i into the outputs. */
static int
drain(struct rendition *r, struct pipeline *p, int i)
{
	AVPacket	*pkt;
	int		 err;

	if ((pkt = av_packet_alloc()) == NULL)
		return (AVERROR(ENOMEM));
	for (;;) {
		err = avcodec_receive_packet(r->os[i].enc, pkt);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) {
			err = 0;
			break;
		}
		if (err < 0)
			break;
		emit(r, p, i, pkt);
		av_packet_unref(pkt);
	}
	av_packet_free(&pkt);
	return (err);
}

/* Filters and encodes one frame (NULL flushes). */
static int
encode_frame(struct rendition *r, struct pipeline *p, int i, AVFrame *in)
{
	struct ostream	*os = &r->os[i];
	AVRational	 tb;
	double		 t;
	int		 err;

	err = av_buffersrc_add_frame_flags(os->src, in,
	    AV_BUFFERSRC_FLAG_KEEP_REF);
	if (err < 0)
		return (err);
	tb = av_buffersink_get_time_base(os->sink);
	for (;;) {
		err = av_buffersink_get_frame(os->sink, os->frame);
		if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
			break;
		if (err < 0)
			return (err);
		if (i == r->video_os && os->mirror)
			os->frame->pict_type = os->frame->key_frame ?
			    AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
		else
			os->frame->pict_type = AV_PICTURE_TYPE_NONE;
		if (i == r->video_os && !os->mirror &&
		    os->frame->pts != AV_NOPTS_VALUE) {
			t = os->frame->pts * av_q2d(tb);
			if (t >= os->next_key || t < os->next_key -
			    2 * os->key_interval) {
				os->frame->pict_type = AV_PICTURE_TYPE_I;
				os->next_key = (floor(t / os->key_interval) +
				    1) * os->key_interval;
			}
		}
		if (av_cmp_q(tb, os->enc->time_base) != 0 &&
		    os->frame->pts != AV_NOPTS_VALUE)
			os->frame->pts = av_rescale_q(os->frame->pts, tb,
			    os->enc->time_base);
		err = avcodec_send_frame(os->enc, os->frame);
		av_frame_unref(os->frame);
		if (err < 0 && err != AVERROR(EAGAIN))
			return (err);
		if ((err = drain(r, p, i)) < 0)
			return (err);
	}
	if (in == NULL) {
		avcodec_send_frame(os->enc, NULL);
		return (drain(r, p, i));
	}
	return (0);
}

int
rendition_frame(struct rendition *r, struct pipeline *p, int in_index,
    AVFrame *frame)
{
	int	i, err;

	for (i = 0; i < r->nos; i++) {
		if (r->os[i].copy || r->os[i].in_index != in_index)
			continue;
		if ((err = encode_frame(r, p, i, frame)) < 0)
			return (err);
	}
	return (0);
}

void
rendition_flush(struct rendition *r, struct pipeline *p)
{
	int	i;

	for (i = 0; i < r->nos; i++)
		if (!r->os[i].copy && r->os[i].enc != NULL)
			encode_frame(r, p, i, NULL);
}

void
rendition_close(struct rendition *r, int final)
{
	char	*cause = NULL;
	int	 i;

	if (r->hls != NULL && hls_close(r->hls, final, &cause) != 0)
		log_warn("output", "hls: %s", cause);
	free(cause);
	cause = NULL;
	if (r->dash != NULL)
		dash_close(r->dash, final, &cause);
	free(cause);
	feedmux_close(r->ts);
	feedmux_close(r->adts);
	free(r->rec);	/* record_leave has let them go */
	for (i = 0; i < 2; i++)
		ostream_close(&r->os[i]);
	memset(r, 0, sizeof *r);
	r->video_os = r->audio_os = -1;
}

/* master.m3u8 (P4): every HLS rendition of the main input, with the bit
 * rates measured so far, or the profile's when none is measured yet. */
void
rendition_write_master(struct rendition *r, int n, struct pipeline *p)
{
	struct hls_rendition	*hr;
	char			 codecs[2][64], (*cs)[160], dir[4096];
	char			*cause = NULL, **uris;
	int64_t			 peak, avg;
	int			 i, k, m = 0;

	hr = xcalloc((size_t)n, sizeof *hr);
	cs = xcalloc((size_t)n, sizeof *cs);
	uris = xcalloc((size_t)n, sizeof *uris);
	for (i = 0; i < n; i++) {
		const char *name = p->rend[r[i].index].name;

		if (r[i].hls == NULL || name[0] == '@')
			continue;
		hls_bitrates(r[i].hls, &peak, &avg);
		if (peak == 0)
			peak = r[i].pf->video_bitrate + r[i].pf->audio_bitrate;
		hr[m].bandwidth = peak > 0 ? peak : 1000000;
		hr[m].average_bandwidth = avg;
		uris[m] = name[0] ? xprintf("%s/index.m3u8", name) :
		    xstrdup("index.m3u8");
		hr[m].uri = uris[m];
		hr[m].name = p->rend[r[i].index].label ?
		    p->rend[r[i].index].label : (name[0] ? name : p->ch->name);
		cs[m][0] = '\0';
		for (k = 0; k < r[i].nos; k++) {
			const AVCodecParameters *par = r[i].os[k].par;

			if (hls_codec_string(par, codecs[k],
			    sizeof codecs[k]) == NULL)
				continue;
			if (cs[m][0] != '\0')
				strncat(cs[m], ",", sizeof cs[m] -
				    strlen(cs[m]) - 1);
			strncat(cs[m], codecs[k], sizeof cs[m] -
			    strlen(cs[m]) - 1);
			if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
				hr[m].width = par->width;
				hr[m].height = par->height;
				if (r[i].os[k].enc != NULL)
					hr[m].frame_rate = av_q2d(
					    r[i].os[k].enc->framerate);
			}
		}
		hr[m].codecs = cs[m][0] ? cs[m] : NULL;
		m++;
	}
	pipeline_dir(p, "hls", "", dir, sizeof dir);
	strncat(dir, "/master.m3u8", sizeof dir - strlen(dir) - 1);
	if (m > 0 && hls_write_master(dir, hr, m, &cause) != 0) {
		report(p, "master playlist", cause);
		free(cause);
	}
	for (i = 0; i < m; i++)
		free(uris[i]);
	free(uris);
	free(hr);
	free(cs);
}
