#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>

#include "dash.h"
#include "fsutil.h"
#include "xmalloc.h"

#define DASH_MANIFEST	"manifest.mpd"
#define DASH_MAXSTREAMS	64

struct dash {
	char		*dir;
	char		*manifest;
	AVFormatContext	*oc;
	int		 nstreams;
	AVRational	*tb;
	int		 ref;		/* the stream dashenc cuts on */
	int64_t		 segment_us;
	int64_t		 first;		/* time of the first ref packet */
	int64_t		 zero;		/* the first packet's, AV_TIME_BASE:
					   the timeline's origin */
	int		 ready;
	dev_t		 seen_dev;	/* the manifest last looked at */
	ino_t		 seen_ino;
};

/* dashenc leaves the segment it was writing as a .tmp file when it is
 * stopped without its trailer. */
static void
remove_tmp(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	char		*path;
	size_t		 len;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".tmp") != 0 ||
		    (strncmp(de->d_name, "chunk-", 6) != 0 &&
		    strncmp(de->d_name, DASH_MANIFEST, 12) != 0))
			continue;
		path = xprintf("%s/%s", dir, de->d_name);
		(void)unlink(path);
		free(path);
	}
	closedir(d);
}

static void
dash_free(struct dash *d)
{
	if (d->oc != NULL)
		avformat_free_context(d->oc);
	free(d->tb);
	free(d->manifest);
	free(d->dir);
	free(d);
}

static int
check_opts(const struct dash_opts *opts, const struct hls_stream *streams,
    int nb_streams, char **cause)
{
	int	i;

	if (opts->dir == NULL || opts->dir[0] != '/') {
		*cause = xstrdup("folder must be an absolute path");
		return (-1);
	}
	if (opts->segment_ms <= 0 || opts->segment_ms > 3600000) {
		*cause = xstrdup("segment length out of range");
		return (-1);
	}
	if (opts->window_size < 0 || opts->window_size > 100000 ||
	    opts->keep_extra < 0 || opts->keep_extra > 100000) {
		*cause = xstrdup("window size out of range");
		return (-1);
	}
	if (nb_streams < 1 || nb_streams > DASH_MAXSTREAMS) {
		*cause = xstrdup("no streams");
		return (-1);
	}
	for (i = 0; i < nb_streams; i++) {
		if (streams[i].par == NULL || streams[i].time_base.num <= 0 ||
		    streams[i].time_base.den <= 0) {
			*cause = xprintf("stream %d: no parameters or time "
			    "base", i);
			return (-1);
		}
	}
	return (0);
}

/* The manifest is given as a plain absolute path: dashenc then sees the
 * file protocol and writes the manifest and every media segment to a
 * .tmp name and renames it. */
struct dash *
dash_open(const struct dash_opts *opts, const struct hls_stream *streams,
    int nb_streams, char **cause)
{
	struct dash	*d = NULL;
	struct stat	 st;
	AVDictionary	*opt = NULL;
	AVStream	*ost;
	char		 seg[32];
	int		 i, ret, ok = 0;

	if (check_opts(opts, streams, nb_streams, cause) != 0)
		return (NULL);
	d = xcalloc(1, sizeof *d);
	d->dir = xstrdup(opts->dir);
	while (strlen(d->dir) > 1 && d->dir[strlen(d->dir) - 1] == '/')
		d->dir[strlen(d->dir) - 1] = '\0';
	d->manifest = xprintf("%s/%s", d->dir, DASH_MANIFEST);
	d->nstreams = nb_streams;
	d->tb = xcalloc((size_t)nb_streams, sizeof *d->tb);
	d->segment_us = (int64_t)opts->segment_ms * 1000;
	d->first = INT64_MIN;
	d->zero = INT64_MIN;
	d->ref = -1;
	for (i = 0; i < nb_streams; i++) {
		d->tb[i] = streams[i].time_base;
		if (d->ref == -1 &&
		    streams[i].par->codec_type == AVMEDIA_TYPE_VIDEO)
			d->ref = i;
	}
	if (d->ref == -1)
		d->ref = 0;

	if (fs_mkdirs(d->dir, 0755, NULL) != 0) {
		*cause = xprintf("%s: %s", d->dir, strerror(errno));
		goto out;
	}
	remove_tmp(d->dir);
	if (stat(d->manifest, &st) == 0) {
		d->seen_dev = st.st_dev;
		d->seen_ino = st.st_ino;
	}

	ret = avformat_alloc_output_context2(&d->oc, NULL, "dash",
	    d->manifest);
	if (ret < 0 || d->oc == NULL) {
		*cause = xprintf("dash muxer: %s", av_err2str(ret));
		goto out;
	}
	for (i = 0; i < nb_streams; i++) {
		if ((ost = avformat_new_stream(d->oc, NULL)) == NULL) {
			*cause = xstrdup("dash muxer: out of memory");
			goto out;
		}
		ret = avcodec_parameters_copy(ost->codecpar, streams[i].par);
		if (ret < 0) {
			*cause = xprintf("stream %d: %s", i, av_err2str(ret));
			goto out;
		}
		ost->codecpar->codec_tag = 0;
		ost->time_base = streams[i].time_base;
	}

	snprintf(seg, sizeof seg, "%d.%03d", opts->segment_ms / 1000,
	    opts->segment_ms % 1000);
	av_dict_set(&opt, "seg_duration", seg, 0);
	av_dict_set_int(&opt, "window_size", opts->window_size, 0);
	av_dict_set_int(&opt, "extra_window_size", opts->keep_extra, 0);
	av_dict_set(&opt, "use_template", "1", 0);
	av_dict_set(&opt, "use_timeline", "1", 0);
	av_dict_set(&opt, "remove_at_exit", "0", 0);
	av_dict_set(&opt, "hls_playlist", "0", 0);
	if (opts->format_options != NULL)
		av_dict_copy(&opt, opts->format_options, 0);
	if ((ret = avformat_write_header(d->oc, &opt)) < 0) {
		*cause = xprintf("dash muxer: %s", av_err2str(ret));
		goto out;
	}
	ok = 1;
out:
	av_dict_free(&opt);
	if (!ok) {
		dash_free(d);
		d = NULL;
	}
	return (d);
}

/* Until the first segment: has dashenc renamed a manifest that lists a
 * segment into place?  Each rename gives it a new inode, so a manifest is
 * read once, and one left by an earlier run not at all. */
static void
check_ready(struct dash *d)
{
	struct stat	 st;
	FILE		*f;
	char		 line[512];
	int		 timelines = 0, full = 0, listed = 0;

	if (stat(d->manifest, &st) != 0 ||
	    (st.st_dev == d->seen_dev && st.st_ino == d->seen_ino))
		return;
	d->seen_dev = st.st_dev;
	d->seen_ino = st.st_ino;
	if ((f = fopen(d->manifest, "re")) == NULL)
		return;
	/* Playable once every representation lists a segment. */
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, "<SegmentTimeline") != NULL) {
			timelines++;
			listed = 0;
		} else if (strstr(line, "</SegmentTimeline") != NULL)
			full += listed;
		else if (strstr(line, "<S ") != NULL ||
		    strstr(line, "<SegmentURL ") != NULL)
			listed = 1;
	}
	fclose(f);
	if (timelines > 0 && full == timelines)
		d->ready = 1;
}

/* Hands one packet to dashenc on a copy whose timestamps are in the
 * muxer's time base; segments are cut by dashenc on video keyframes. */
int
dash_write(struct dash *d, const AVPacket *pkt, char **cause)
{
	AVPacket	*copy = NULL;
	int64_t		 ts, shift;
	int		 i, ret, rc = -1;

	i = pkt->stream_index;
	if (i < 0 || i >= d->nstreams) {
		*cause = xprintf("packet of unknown stream %d", i);
		return (-1);
	}
	if ((copy = av_packet_alloc()) == NULL ||
	    av_packet_ref(copy, pkt) < 0) {
		*cause = xstrdup("packet: out of memory");
		goto out;
	}
	/* dashenc dates segments from the wall clock at its first packet:
	 * the timeline must start at 0 there, whenever the input began. */
	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (d->zero == INT64_MIN && ts != AV_NOPTS_VALUE)
		d->zero = av_rescale_q(ts, d->tb[i], AV_TIME_BASE_Q);
	if (d->zero != INT64_MIN) {
		shift = av_rescale_q(d->zero, AV_TIME_BASE_Q, d->tb[i]);
		if (copy->pts != AV_NOPTS_VALUE)
			copy->pts -= shift;
		if (copy->dts != AV_NOPTS_VALUE)
			copy->dts -= shift;
	}
	av_packet_rescale_ts(copy, d->tb[i], d->oc->streams[i]->time_base);
	copy->pos = -1;
	if ((ret = av_write_frame(d->oc, copy)) < 0) {
		*cause = xprintf("dash muxer: %s", av_err2str(ret));
		goto out;
	}
	ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
	if (!d->ready && i == d->ref && ts != AV_NOPTS_VALUE) {
		ts = av_rescale_q(ts, d->tb[i], AV_TIME_BASE_Q);
		if (d->first == INT64_MIN)
			d->first = ts;
		else if (ts - d->first >= d->segment_us)
			check_ready(d);
	}
	rc = 0;
out:
	av_packet_free(&copy);
	return (rc);
}

/* With final the trailer is written: dashenc flushes the last segment
 * and makes the manifest static.  Without it the manifest stays dynamic
 * for a restart to carry on. */
int
dash_close(struct dash *d, int final, char **cause)
{
	int	ret, rc = 0;

	if (d == NULL)
		return (0);
	if (final && (ret = av_write_trailer(d->oc)) < 0) {
		*cause = xprintf("dash muxer: %s", av_err2str(ret));
		rc = -1;
	}
	avformat_free_context(d->oc);
	d->oc = NULL;
	if (!final)
		remove_tmp(d->dir);
	dash_free(d);
	return (rc);
}

/* Lets the daemon announce the stream once a player can start it. */
int
dash_ready(const struct dash *d)
{
	return (d->ready);
}
