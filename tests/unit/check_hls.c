#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "hls.h"
#include "testmedia.h"
#include "testutil.h"

#define MEDIA_SECONDS	12
#define HOUR_US		(3600 * 1000000LL)
#define MAXLINES	256

static struct tm_media	media;

struct playlist {
	int		 version, td, endlist, hold, nseg, npart;
	long long	 mseq, dseq;
	char		*map, *hint, *part_target, *control;
	double		 dur[MAXLINES];
	int		 disc[MAXLINES];
	char		*uri[MAXLINES];
	char		*smap[MAXLINES];	/* EXT-X-MAP in force */
	int		 nmap;
	double		 pdur[MAXLINES];
	int		 pindep[MAXLINES];
	int		 pseg[MAXLINES];	/* segment it precedes */
	char		*puri[MAXLINES];
};

static void
media_setup(void)
{
	tm_make(MEDIA_SECONDS, &media);
}

static void
media_teardown(void)
{
	tm_free(&media);
}

static void
set_opts(struct hls_opts *o, const char *dir, enum hls_segment_type type,
    int part_ms, int playlist_size, int keep_extra)
{
	memset(o, 0, sizeof *o);
	o->dir = dir;
	o->type = type;
	o->segment_ms = 2000;
	o->part_ms = part_ms;
	o->playlist_size = playlist_size;
	o->keep_extra = keep_extra;
}

/* Writes the packets decoded in [from, to) seconds, of the streams in
 * mask, with shift microseconds added to their timestamps.  Returns the
 * number of failed writes and keeps the first cause. */
static int
feed_mask(struct hls *h, double from, double to, int64_t shift, int mask,
    char **cause)
{
	AVPacket	*p;
	AVRational	 tb;
	char		*c = NULL;
	int		 i, failed = 0;

	for (i = 0; i < media.n; i++) {
		if (media.us[i] < from * 1e6 || media.us[i] >= to * 1e6 ||
		    !(mask & (1 << media.pkts[i]->stream_index)))
			continue;
		p = av_packet_clone(media.pkts[i]);
		ck_assert_ptr_nonnull(p);
		tb = p->stream_index == 0 ? media.vtb : media.atb;
		p->pts += av_rescale_q(shift, AV_TIME_BASE_Q, tb);
		p->dts += av_rescale_q(shift, AV_TIME_BASE_Q, tb);
		if (mask == 2)
			p->stream_index = 0;
		if (hls_write(h, p, &c) != 0) {
			ck_assert_ptr_nonnull(c);
			if (cause != NULL && *cause == NULL)
				*cause = c;
			else
				free(c);
			c = NULL;
			failed++;
		}
		av_packet_free(&p);
	}
	return (failed);
}

static int
feed(struct hls *h, double from, double to, int64_t shift, char **cause)
{
	return (feed_mask(h, from, to, shift, 3, cause));
}

static int
exists_in(const char *dir, const char *name)
{
	return (tm_size(dir, name) >= 0);
}

static char *
attr(const char *line, const char *name)
{
	const char	*p, *e;
	char		*v;
	size_t		 len;

	len = strlen(name);
	for (p = strchr(line, ':'); p != NULL; p = strchr(p, ',')) {
		p++;
		if (strncmp(p, name, len) != 0 || p[len] != '=')
			continue;
		p += len + 1;
		if (*p == '"') {
			p++;
			e = strchr(p, '"');
			ck_assert_ptr_nonnull(e);
		} else
			e = p + strcspn(p, ",");
		v = strndup(p, (size_t)(e - p));
		ck_assert_ptr_nonnull(v);
		return (v);
	}
	return (NULL);
}

static double
decimal(const char *s)
{
	char	*end;
	double	 d;

	d = strtod(s, &end);
	ck_assert_msg(end != s && d >= 0, "bad number %s", s);
	return (d);
}

/* Reads index.m3u8 and checks it line by line against RFC 8216: every
 * line a known tag or a URI after its EXTINF, each EXTINF rounded no
 * longer than the target duration. */
static void
playlist_read(const char *dir, struct playlist *pl)
{
	char	*path, *text, *line, *next, *v;
	double	 d = -1;
	int	 disc = 0, n = 0;

	memset(pl, 0, sizeof *pl);
	pl->td = -1;
	pl->mseq = -1;
	path = tm_path(dir, "index.m3u8");
	text = tu_read_file(path, NULL);
	ck_assert_msg(text != NULL, "no playlist in %s", dir);
	free(path);
	for (line = text; line != NULL && *line != '\0'; line = next, n++) {
		next = strchr(line, '\n');
		ck_assert_msg(next != NULL, "unterminated line");
		*next++ = '\0';
		ck_assert_msg(strchr(line, '\r') == NULL, "CR in playlist");
		if (n == 0) {
			ck_assert_str_eq(line, "#EXTM3U");
			continue;
		}
		if (strncmp(line, "#EXT-X-VERSION:", 15) == 0)
			pl->version = atoi(line + 15);
		else if (strncmp(line, "#EXT-X-TARGETDURATION:", 22) == 0)
			pl->td = atoi(line + 22);
		else if (strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0) {
			ck_assert_int_eq(pl->nseg, 0);
			pl->mseq = atoll(line + 22);
		} else if (strncmp(line, "#EXT-X-DISCONTINUITY-SEQUENCE:",
		    30) == 0)
			pl->dseq = atoll(line + 30);
		else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0)
			disc = 1;
		else if (strncmp(line, "#EXT-X-MAP:", 11) == 0) {
			free(pl->map);
			pl->map = attr(line, "URI");
			ck_assert_ptr_nonnull(pl->map);
			pl->nmap++;
		} else if (strncmp(line, "#EXTINF:", 8) == 0) {
			ck_assert_msg(strchr(line, ',') != NULL, "%s", line);
			d = decimal(line + 8);
		} else if (strncmp(line, "#EXT-X-PART:", 12) == 0) {
			ck_assert_int_lt(pl->npart, MAXLINES);
			v = attr(line, "DURATION");
			ck_assert_ptr_nonnull(v);
			pl->pdur[pl->npart] = decimal(v);
			free(v);
			pl->puri[pl->npart] = attr(line, "URI");
			ck_assert_ptr_nonnull(pl->puri[pl->npart]);
			v = attr(line, "INDEPENDENT");
			pl->pindep[pl->npart] = v != NULL &&
			    strcmp(v, "YES") == 0;
			free(v);
			pl->pseg[pl->npart++] = pl->nseg;
		} else if (strncmp(line, "#EXT-X-PART-INF:", 16) == 0)
			pl->part_target = attr(line, "PART-TARGET");
		else if (strncmp(line, "#EXT-X-SERVER-CONTROL:", 22) == 0)
			pl->control = strdup(line);
		else if (strncmp(line, "#EXT-X-PRELOAD-HINT:", 20) == 0) {
			v = attr(line, "TYPE");
			ck_assert_str_eq(v, "PART");
			free(v);
			pl->hint = attr(line, "URI");
		} else if (strcmp(line, "#EXT-X-ENDLIST") == 0)
			pl->endlist = 1;
		else if (strcmp(line, "#EXT-X-INDEPENDENT-SEGMENTS") == 0 ||
		    strncmp(line, "#EXT-X-PROGRAM-DATE-TIME:", 25) == 0)
			;
		else {
			ck_assert_msg(line[0] != '#' && line[0] != '\0',
			    "unexpected line '%s'", line);
			ck_assert_msg(d >= 0, "URI without EXTINF: %s", line);
			ck_assert_int_lt(pl->nseg, MAXLINES);
			pl->dur[pl->nseg] = d;
			pl->disc[pl->nseg] = disc;
			pl->smap[pl->nseg] = pl->map != NULL ?
			    strdup(pl->map) : NULL;
			pl->uri[pl->nseg++] = strdup(line);
			d = -1;
			disc = 0;
		}
	}
	free(text);
	ck_assert_msg(pl->td > 0, "no target duration");
	ck_assert_msg(pl->mseq >= 0, "no media sequence");
	ck_assert_msg(d < 0, "EXTINF without URI");
	for (n = 0; n < pl->nseg; n++)
		ck_assert_msg(lround(pl->dur[n]) <= pl->td,
		    "EXTINF %f over target %d", pl->dur[n], pl->td);
}

static void
playlist_free(struct playlist *pl)
{
	int	i;

	for (i = 0; i < pl->nseg; i++) {
		free(pl->uri[i]);
		free(pl->smap[i]);
	}
	for (i = 0; i < pl->npart; i++)
		free(pl->puri[i]);
	free(pl->map);
	free(pl->hint);
	free(pl->part_target);
	free(pl->control);
}

/* A TS file: whole 188-byte packets and a PAT (PID 0) first. */
static void
check_ts_start(const char *dir, const char *name)
{
	char	*path, *data;
	size_t	 len;

	path = tm_path(dir, name);
	data = tu_read_file(path, &len);
	ck_assert_msg(data != NULL, "%s missing", path);
	ck_assert_uint_ge(len, 188);
	ck_assert_uint_eq(len % 188, 0);
	ck_assert_int_eq((unsigned char)data[0], 0x47);
	ck_assert_int_eq(((data[1] & 0x1f) << 8) | (unsigned char)data[2], 0);
	free(data);
	free(path);
}

/* Whether the first video PES (PID 0x100) of a TS file starts with a
 * random access point. */
static int
ts_starts_key(const char *dir, const char *name)
{
	unsigned char	*d;
	char		*path;
	size_t		 len, off;
	int		 pid, key = -1;

	path = tm_path(dir, name);
	d = (unsigned char *)tu_read_file(path, &len);
	ck_assert_ptr_nonnull(d);
	for (off = 0; off + 188 <= len; off += 188) {
		ck_assert_int_eq(d[off], 0x47);
		pid = ((d[off + 1] & 0x1f) << 8) | d[off + 2];
		if (pid != 0x100 || !(d[off + 1] & 0x40))
			continue;
		key = (d[off + 3] & 0x20) && d[off + 4] > 0 &&
		    (d[off + 5] & 0x40);
		break;
	}
	ck_assert_msg(key != -1, "no video in %s", name);
	free(d);
	free(path);
	return (key);
}

/* Opens a media file with libavformat: both streams, video first with a
 * keyframe; returns the number of packets. */
static int
check_media_streams(const char *path, int need_audio)
{
	AVFormatContext	*ic = NULL;
	AVPacket	*pkt;
	int		 i, video = -1, audio = -1, n = 0, first = 1;

	ck_assert_int_eq(avformat_open_input(&ic, path, NULL, NULL), 0);
	ck_assert_int_ge(avformat_find_stream_info(ic, NULL), 0);
	for (i = 0; i < (int)ic->nb_streams; i++) {
		if (ic->streams[i]->codecpar->codec_id == AV_CODEC_ID_H264)
			video = i;
		if (ic->streams[i]->codecpar->codec_id == AV_CODEC_ID_AAC)
			audio = i;
	}
	ck_assert_int_ge(video, 0);
	if (need_audio)
		ck_assert_int_ge(audio, 0);
	pkt = av_packet_alloc();
	while (av_read_frame(ic, pkt) >= 0) {
		if (pkt->stream_index == video && first) {
			ck_assert_msg(pkt->flags & AV_PKT_FLAG_KEY,
			    "%s does not start with a keyframe", path);
			first = 0;
		}
		n++;
		av_packet_unref(pkt);
	}
	ck_assert_int_eq(first, 0);
	av_packet_free(&pkt);
	avformat_close_input(&ic);
	return (n);
}

static int
check_media(const char *path)
{
	return (check_media_streams(path, 1));
}

/* init + segment, the way a player reads fMP4, opens with libavformat;
 * returns the number of packets. */
static int
check_joined(const char *dir, const char *init_name, const char *seg_name)
{
	FILE	*f;
	char	*path, *init, *seg;
	size_t	 ilen, slen;
	int	 n;

	path = tm_path(dir, init_name);
	init = tu_read_file(path, &ilen);
	ck_assert_msg(init != NULL, "%s", path);
	free(path);
	path = tm_path(dir, seg_name);
	seg = tu_read_file(path, &slen);
	ck_assert_msg(seg != NULL, "%s", path);
	free(path);
	ck_assert_int_eq(memcmp(init + 4, "ftyp", 4), 0);
	ck_assert_int_eq(memcmp(seg + 4, "moof", 4), 0);
	path = tm_path(dir, "joined.mp4");
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(init, 1, ilen, f), ilen);
	ck_assert_uint_eq(fwrite(seg, 1, slen, f), slen);
	ck_assert_int_eq(fclose(f), 0);
	n = check_media_streams(path, 0);
	unlink(path);
	free(path);
	free(init);
	free(seg);
	return (n);
}

static struct hls *
open_ok(const struct hls_opts *o, const struct hls_stream *st, int n)
{
	struct hls	*h;
	char		*cause = NULL;

	h = hls_open(o, st, n, &cause);
	ck_assert_msg(h != NULL, "hls_open: %s", cause);
	return (h);
}

static void
close_ok(struct hls *h, int final)
{
	char	*cause = NULL;

	ck_assert_msg(hls_close(h, final, &cause) == 0, "hls_close: %s",
	    cause);
}

START_TEST(test_ts)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *cause = NULL;
	double			 sum = 0;
	int64_t			 peak, avg;
	int			 i;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 3, 1);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(hls_ready(h), 0);
	hls_bitrates(h, &peak, &avg);
	ck_assert_int_eq(peak, 0);
	ck_assert_int_eq(avg, 0);

	ck_assert_int_eq(feed(h, -1, 1.9, 0, &cause), 0);
	ck_assert_int_eq(hls_ready(h), 0);
	ck_assert(!exists_in(dir, "index.m3u8"));
	ck_assert_int_eq(feed(h, 1.9, 10.5, 0, &cause), 0);
	ck_assert_int_eq(hls_ready(h), 1);
	ck_assert_uint_eq(hls_next_sequence(h), 5);
	hls_bitrates(h, &peak, &avg);
	ck_assert_int_gt(avg, 10000);
	ck_assert_int_ge(peak, avg);

	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.version, 3);
	ck_assert_int_eq(pl.td, 2);
	ck_assert_int_eq(pl.mseq, 2);
	ck_assert_int_eq(pl.nseg, 3);
	ck_assert_int_eq(pl.npart, 0);
	ck_assert_int_eq(pl.endlist, 0);
	ck_assert_ptr_null(pl.map);
	ck_assert_ptr_null(pl.hint);
	for (i = 0; i < pl.nseg; i++) {
		char	want[32];

		snprintf(want, sizeof want, "seg%d.ts", 2 + i);
		ck_assert_str_eq(pl.uri[i], want);
		ck_assert_int_eq(pl.disc[i], 0);
		check_ts_start(dir, pl.uri[i]);
		path = tm_path(dir, pl.uri[i]);
		ck_assert_int_gt(check_media(path), 50);
		free(path);
		sum += pl.dur[i];
	}
	ck_assert_double_eq_tol(sum, 6.0, 0.05);
	/* One older segment kept, the ones before it deleted. */
	ck_assert(exists_in(dir, "seg1.ts"));
	ck_assert(!exists_in(dir, "seg0.ts"));
	ck_assert(!exists_in(dir, "seg5.ts"));
	ck_assert(!exists_in(dir, "index.m3u8.tmp"));
	playlist_free(&pl);

	close_ok(h, 1);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 1);
	ck_assert_int_eq(pl.mseq, 3);
	ck_assert_int_eq(pl.nseg, 3);
	ck_assert_str_eq(pl.uri[2], "seg5.ts");
	ck_assert_double_eq_tol(pl.dur[2], 0.6, 0.05);
	ck_assert(!exists_in(dir, "seg1.ts"));
	ck_assert(exists_in(dir, "seg2.ts"));
	playlist_free(&pl);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_fmp4)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *init, *cause = NULL;
	size_t			 ilen;
	int			 i;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_FMP4, 0, 5, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 7, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_ge(pl.version, 6);
	ck_assert_str_eq(pl.map, "init.mp4");
	ck_assert_int_eq(pl.nmap, 1);
	ck_assert_int_eq(pl.mseq, 0);
	ck_assert_int_eq(pl.nseg, 3);

	path = tm_path(dir, "init.mp4");
	init = tu_read_file(path, &ilen);
	free(path);
	ck_assert_ptr_nonnull(init);
	ck_assert_uint_gt(ilen, 8);
	ck_assert_ptr_nonnull(memmem(init, ilen, "moov", 4));
	free(init);
	for (i = 0; i < pl.nseg; i++) {
		ck_assert_str_eq(pl.uri[i], i == 0 ? "seg0.m4s" :
		    i == 1 ? "seg1.m4s" : "seg2.m4s");
		/* init.mp4 + the segment is a file a demuxer plays. */
		ck_assert_int_gt(check_joined(dir, "init.mp4", pl.uri[i]), 50);
	}
	playlist_free(&pl);
	close_ok(h, 1);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 1);
	ck_assert_int_eq(pl.nseg, 4);
	playlist_free(&pl);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_llhls)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	AVPacket		*p;
	char			*dir, *cause = NULL, *v;
	double			 at = -1, sum;
	int			 i, k, seg;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 500, 4, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);

	/* The first part is listed after about one part of media. */
	for (i = 0; i < media.n && at < 0; i++) {
		p = media.pkts[i];
		ck_assert_msg(hls_write(h, p, &cause) == 0, "%s", cause);
		if (hls_ready(h))
			at = media.us[i] / 1e6;
		else
			ck_assert(!exists_in(dir, "index.m3u8"));
	}
	ck_assert_double_gt(at, 0.3);
	ck_assert_double_lt(at, 0.8);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, 0);
	ck_assert_int_eq(pl.npart, 1);
	ck_assert_str_eq(pl.puri[0], "seg0.0.ts");
	ck_assert_int_eq(pl.pindep[0], 1);
	ck_assert_str_eq(pl.hint, "seg0.1.ts");
	ck_assert(exists_in(dir, "seg0.0.ts"));
	ck_assert(!exists_in(dir, "seg0.1.ts"));
	playlist_free(&pl);

	ck_assert_int_eq(feed(h, at + 1e-6, 7.3, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_ge(pl.version, 6);
	ck_assert_int_eq(pl.td, 2);
	ck_assert_str_eq(pl.part_target, "0.500");
	ck_assert_ptr_nonnull(pl.control);
	ck_assert_ptr_nonnull(strstr(pl.control, "CAN-BLOCK-RELOAD=YES"));
	v = attr(pl.control, "PART-HOLD-BACK");
	ck_assert_ptr_nonnull(v);
	ck_assert_double_ge(decimal(v), 1.5);
	free(v);
	ck_assert_int_eq(pl.nseg, 3);
	ck_assert_int_eq(pl.mseq, 0);
	ck_assert_ptr_nonnull(pl.hint);
	ck_assert(!exists_in(dir, pl.hint));
	/* Parts of the segments of the last three target durations (6 s):
	 * seg1, seg2 and the open seg3; not seg0. */
	ck_assert_int_gt(pl.npart, 8);
	ck_assert_int_eq(pl.pseg[0], 1);
	for (seg = 1; seg <= 2; seg++) {
		sum = 0;
		for (k = 0; k < pl.npart; k++)
			if (pl.pseg[k] == seg)
				sum += pl.pdur[k];
		ck_assert_double_eq_tol(sum, pl.dur[seg], 0.003);
	}
	for (k = 0; k < pl.npart; k++) {
		ck_assert_double_le(pl.pdur[k], 0.5);
		ck_assert_msg(exists_in(dir, pl.puri[k]), "%s", pl.puri[k]);
		/* Independent exactly when the part starts with a keyframe
		 * (here the first part of each segment). */
		ck_assert_int_eq(pl.pindep[k], ts_starts_key(dir, pl.puri[k]));
		ck_assert_int_eq(pl.pindep[k],
		    strstr(pl.puri[k], ".0.ts") != NULL);
		if (pl.pindep[k])
			check_ts_start(dir, pl.puri[k]);
	}
	ck_assert_str_eq(pl.puri[pl.npart - 1], "seg3.1.ts");
	ck_assert_str_eq(pl.hint, "seg3.2.ts");
	for (k = 0; k < pl.nseg; k++)
		check_ts_start(dir, pl.uri[k]);
	playlist_free(&pl);

	/* Parts of segments that left the playlist are deleted. */
	ck_assert_int_eq(feed(h, 7.3, 11.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.mseq, 1);
	ck_assert(!exists_in(dir, "seg0.0.ts"));
	ck_assert(!exists_in(dir, "seg0.ts"));
	ck_assert(exists_in(dir, "seg1.0.ts"));
	playlist_free(&pl);

	close_ok(h, 1);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 1);
	ck_assert_ptr_null(pl.hint);
	playlist_free(&pl);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_llhls_fmp4)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *data, *cause = NULL;
	size_t			 len;
	int			 k;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_FMP4, 500, 4, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 4.7, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_str_eq(pl.map, "init.mp4");
	ck_assert_int_eq(pl.nseg, 2);
	ck_assert_int_gt(pl.npart, 8);
	for (k = 0; k < pl.npart; k++) {
		path = tm_path(dir, pl.puri[k]);
		data = tu_read_file(path, &len);
		ck_assert_msg(data != NULL, "%s", path);
		ck_assert_uint_gt(len, 8);
		ck_assert_int_eq(memcmp(data + 4, "moof", 4), 0);
		free(data);
		free(path);
	}
	ck_assert_ptr_nonnull(strstr(pl.hint, ".m4s"));
	playlist_free(&pl);
	close_ok(h, 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_restart)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *cause = NULL;
	int			 i, ndisc;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 10, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);
	close_ok(h, 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, 3);
	ck_assert_int_eq(pl.endlist, 0);
	playlist_free(&pl);
	/* A stale part and temporary file of the old run go away. */
	path = tm_path(dir, "seg3.0.ts");
	tu_write_file(path, "stale");
	free(path);

	/* The input restarts at zero in the new run. */
	h = open_ok(&o, st, 2);
	ck_assert_uint_eq(hls_next_sequence(h), 3);
	ck_assert(!exists_in(dir, "seg3.0.ts"));
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);
	ck_assert_uint_eq(hls_next_sequence(h), 5);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.mseq, 0);
	ck_assert_int_eq(pl.nseg, 5);
	ndisc = 0;
	for (i = 0; i < pl.nseg; i++) {
		ck_assert_int_eq(pl.disc[i], i == 3);
		ndisc += pl.disc[i];
		ck_assert(exists_in(dir, pl.uri[i]));
	}
	ck_assert_str_eq(pl.uri[2], "seg2.ts");
	ck_assert_str_eq(pl.uri[3], "seg3.ts");
	ck_assert_int_eq(ndisc, 1);
	playlist_free(&pl);
	close_ok(h, 1);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 1);
	ck_assert_int_eq(pl.nseg, 6);
	playlist_free(&pl);

	/* After a final close, and with the oldest segment gone: the
	 * ENDLIST is dropped and the missing segment no longer listed. */
	path = tm_path(dir, "seg0.ts");
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	h = open_ok(&o, st, 2);
	ck_assert_uint_eq(hls_next_sequence(h), 6);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 0);
	ck_assert_int_eq(pl.mseq, 1);
	ck_assert_int_eq(pl.nseg, 5);
	playlist_free(&pl);
	ck_assert_int_eq(hls_ready(h), 0);
	ck_assert_int_eq(feed(h, -1, 2.5, 0, &cause), 0);
	ck_assert_int_eq(hls_ready(h), 1);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.endlist, 0);
	ck_assert_int_eq(pl.mseq, 1);
	ck_assert_int_eq(pl.nseg, 6);
	ck_assert_str_eq(pl.uri[5], "seg6.ts");
	ck_assert_int_eq(pl.disc[5], 1);
	ck_assert_int_eq(pl.disc[2], 1);
	ck_assert_int_eq(pl.dseq, 0);
	playlist_free(&pl);
	close_ok(h, 0);

	/* Discontinuities that scroll out are counted. */
	o.playlist_size = 2;
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, 2);
	ck_assert_str_eq(pl.uri[0], "seg8.ts");
	ck_assert_str_eq(pl.uri[1], "seg9.ts");
	ck_assert_int_eq(pl.dseq, 2);
	ck_assert_int_eq(pl.disc[0], 1);
	ck_assert_int_eq(pl.disc[1], 0);
	ck_assert(!exists_in(dir, "seg6.ts"));
	playlist_free(&pl);
	close_ok(h, 1);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_restart_fmp4)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *cause = NULL;
	int			 i;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_FMP4, 0, 10, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);
	close_ok(h, 0);

	/* Same streams: the new segments may share init.mp4. */
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 2.5, 0, &cause), 0);
	close_ok(h, 0);
	/* Video only: a new init file, the old one kept for the old
	 * segments. */
	h = open_ok(&o, st, 1);
	ck_assert_int_eq(feed_mask(h, -1, 2.5, 0, 1, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, 6);
	ck_assert_str_eq(pl.smap[0], "init.mp4");
	ck_assert_str_ne(pl.smap[5], "init.mp4");
	ck_assert_int_ge(pl.nmap, 2);
	ck_assert_int_eq(pl.disc[3], 1);
	ck_assert_int_eq(pl.disc[5], 1);
	for (i = 0; i < pl.nseg; i++)
		ck_assert_int_gt(check_joined(dir, pl.smap[i], pl.uri[i]), 40);
	playlist_free(&pl);
	close_ok(h, 1);
	ck_assert(exists_in(dir, "init.mp4"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_garbage)
{
	static const char	 junk[] = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:x\n"
	    "#EXTINF:abc,\n../../etc/passwd\n\x01\x02\xff";
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *cause = NULL;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 3, 0);
	tm_streams(&media, st);
	path = tm_path(dir, "index.m3u8");
	tu_write_file(path, junk);
	free(path);
	path = tm_path(dir, "seg7.ts");
	tu_write_file(path, "old");
	free(path);
	path = tm_path(dir, "other.txt");
	tu_write_file(path, "not ours");
	free(path);

	h = open_ok(&o, st, 2);
	/* Numbering goes on after the segment files found. */
	ck_assert_uint_eq(hls_next_sequence(h), 8);
	ck_assert(!exists_in(dir, "index.m3u8"));
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.mseq, 8);
	ck_assert_int_eq(pl.nseg, 2);
	ck_assert_str_eq(pl.uri[0], "seg8.ts");
	ck_assert_int_eq(pl.disc[0], 1);
	check_ts_start(dir, pl.uri[0]);
	playlist_free(&pl);
	close_ok(h, 1);
	ck_assert(exists_in(dir, "other.txt"));
	ck_assert(!exists_in(dir, "seg7.ts"));

	/* Binary junk, and a playlist whose numbering does not add up. */
	path = tm_path(dir, "index.m3u8");
	tu_write_file(path, "\x7f" "ELF\x02\x01");
	h = open_ok(&o, st, 2);
	ck_assert_uint_eq(hls_next_sequence(h), 11);
	close_ok(h, 0);
	tu_write_file(path, "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:3\n"
	    "#EXTINF:2.0,\nseg9.ts\n");
	free(path);
	path = tm_path(dir, "seg20.ts");
	tu_write_file(path, "old");
	free(path);
	h = open_ok(&o, st, 2);
	ck_assert_uint_eq(hls_next_sequence(h), 21);
	ck_assert_int_eq(feed(h, -1, 2.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.mseq, 21);
	ck_assert_int_eq(pl.nseg, 1);
	ck_assert_int_eq(pl.disc[0], 1);
	playlist_free(&pl);
	close_ok(h, 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_errors)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *cause = NULL;
	const char		*why;
	int			 root;

	root = geteuid() == 0;
	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 5, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 4.5, 0, &cause), 0);

	/* Root ignores permissions: the folder becomes a file instead. */
	if (root) {
		tu_rmtree(dir);
		tu_write_file(dir, "in the way");
		why = strerror(ENOTDIR);
	} else {
		ck_assert_int_eq(chmod(dir, 0555), 0);
		why = strerror(EACCES);
	}
	ck_assert_int_eq(feed(h, 4.5, 6.5, 0, &cause), 1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, "seg2.ts") != NULL, "%s", cause);
	ck_assert_msg(strstr(cause, why) != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	ck_assert_uint_eq(hls_next_sequence(h), 2);

	if (root)
		ck_assert_int_eq(unlink(dir), 0);
	else
		ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(feed(h, 6.5, 8.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, root ? 1 : 3);
	ck_assert_int_eq(pl.mseq, root ? 2 : 0);
	ck_assert_str_eq(pl.uri[pl.nseg - 1], "seg2.ts");
	ck_assert_int_eq(pl.disc[pl.nseg - 1], 1);
	ck_assert_double_eq_tol(pl.dur[pl.nseg - 1], 2.0, 0.01);
	check_ts_start(dir, "seg2.ts");
	playlist_free(&pl);

	/* The folder removed under us is made again. */
	tu_rmtree(dir);
	ck_assert_int_eq(feed(h, 8.5, 10.5, 0, &cause), 1);
	ck_assert_ptr_nonnull(strstr(cause, strerror(ENOENT)));
	free(cause);
	cause = NULL;
	ck_assert_int_eq(feed(h, 10.5, 12, 0, &cause), 0);
	close_ok(h, 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.nseg, 1);
	ck_assert_int_eq(pl.mseq, 3);
	ck_assert_str_eq(pl.uri[0], "seg3.ts");
	ck_assert_int_eq(pl.disc[0], 1);
	ck_assert_double_eq_tol(pl.dur[0], 2.0, 0.01);
	ck_assert(!exists_in(dir, "seg2.ts"));
	playlist_free(&pl);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_jump)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *cause = NULL;
	double			 sum = 0;
	int			 i, ndisc = 0;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 20, 0);
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 2.9, 0, &cause), 0);
	hls_discontinuity(h);
	ck_assert_int_eq(feed(h, 2.9, 5.9, HOUR_US, &cause), 0);
	/* A jump back nobody announced is a discontinuity too. */
	ck_assert_int_eq(feed(h, 5.9, 8.9, -HOUR_US, &cause), 0);
	hls_discontinuity(h);
	ck_assert_int_eq(feed(h, 8.9, 12, 0, &cause), 0);
	close_ok(h, 1);

	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.td, 2);
	for (i = 0; i < pl.nseg; i++) {
		ck_assert_double_le(pl.dur[i], 2.0);
		ndisc += pl.disc[i];
		sum += pl.dur[i];
		check_ts_start(dir, pl.uri[i]);
	}
	ck_assert_int_eq(ndisc, 3);
	ck_assert_double_eq_tol(sum, 12.0, 0.2);
	playlist_free(&pl);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_keyframe_cut)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *path, *cause = NULL;
	int			 i;

	/* 1.5 s segments of a 1 s GOP: cuts wait for the keyframe at 2 s. */
	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 10, 0);
	o.segment_ms = 1500;
	tm_streams(&media, st);
	h = open_ok(&o, st, 2);
	ck_assert_int_eq(feed(h, -1, 6.5, 0, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.td, 2);
	ck_assert_int_eq(pl.nseg, 3);
	for (i = 0; i < pl.nseg; i++) {
		ck_assert_double_eq_tol(pl.dur[i], 2.0, 0.001);
		path = tm_path(dir, pl.uri[i]);
		ck_assert_int_gt(check_media(path), 50);
		free(path);
	}
	playlist_free(&pl);
	close_ok(h, 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_audio_only)
{
	struct hls_opts		 o;
	struct hls_stream	 st[1];
	struct playlist		 pl;
	struct hls		*h;
	char			*dir, *cause = NULL;
	int			 i;

	dir = tu_tmpdir();
	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 10, 0);
	st[0].par = media.apar;
	st[0].time_base = media.atb;
	h = open_ok(&o, st, 1);
	ck_assert_int_eq(feed_mask(h, -1, 9, 0, 2, &cause), 0);
	playlist_read(dir, &pl);
	ck_assert_int_eq(pl.td, 2);
	ck_assert_int_eq(pl.nseg, 4);
	for (i = 0; i < pl.nseg; i++) {
		ck_assert_double_le(pl.dur[i], 2.0);
		ck_assert_double_ge(pl.dur[i], 1.95);
		check_ts_start(dir, pl.uri[i]);
	}
	playlist_free(&pl);
	close_ok(h, 1);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The profile and level straight from the SPS in the extradata. */
static void
sps_bytes(const AVCodecParameters *par, int *profile, int *compat,
    int *level)
{
	const uint8_t	*e = par->extradata;
	int		 i;

	for (i = 0; i + 6 < par->extradata_size; i++) {
		if (e[i] == 0 && e[i + 1] == 0 && e[i + 2] == 1 &&
		    (e[i + 3] & 0x1f) == 7) {
			*profile = e[i + 4];
			*compat = e[i + 5];
			*level = e[i + 6];
			return;
		}
	}
	ck_abort_msg("no SPS in the extradata");
}

START_TEST(test_codecs)
{
	static const uint8_t	 avcc[] = { 1, 0x4d, 0x40, 0x1f, 0xff, 0xe1 };
	static const uint8_t	 annexb[] = { 0, 0, 0, 1, 0x67, 0x42, 0xc0,
	    0x1e, 0x8c };
	static const uint8_t	 hvcc[23] = { 1, 0x01, 0x60, 0, 0, 0, 0x90,
	    0, 0, 0, 0, 0, 93 };
	static const uint8_t	 hevc_sps[] = { 0, 0, 1, 0x42, 0x01, 0x01,
	    0x22, 0x20, 0, 0, 3, 0, 0x90, 0, 0, 3, 0, 0, 3, 0, 0x99, 0xa0 };
	static const uint8_t	 he[] = { 5 << 3 | 1, 0x90 };
	AVCodecParameters	*par;
	char			 buf[64], want[32];
	int			 profile, compat, level;

	/* From libx264's Annex B extradata: High profile. */
	sps_bytes(media.vpar, &profile, &compat, &level);
	ck_assert_int_eq(profile, 100);
	snprintf(want, sizeof want, "avc1.%02x%02x%02x", profile, compat,
	    level);
	ck_assert_str_eq(hls_codec_string(media.vpar, buf, sizeof buf), want);
	ck_assert_int_eq(strncmp(buf, "avc1.64", 7), 0);
	ck_assert_str_eq(hls_codec_string(media.apar, buf, sizeof buf),
	    "mp4a.40.2");

	par = avcodec_parameters_alloc();
	par->codec_type = AVMEDIA_TYPE_VIDEO;
	par->codec_id = AV_CODEC_ID_H264;
	par->extradata = av_mallocz(sizeof annexb +
	    AV_INPUT_BUFFER_PADDING_SIZE);
	memcpy(par->extradata, avcc, sizeof avcc);
	par->extradata_size = sizeof avcc;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "avc1.4d401f");
	memcpy(par->extradata, annexb, sizeof annexb);
	par->extradata_size = sizeof annexb;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "avc1.42c01e");
	ck_assert_ptr_null(hls_codec_string(par, buf, 8));
	par->extradata_size = 0;
	par->profile = FF_PROFILE_H264_MAIN;
	par->level = 31;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "avc1.4d001f");
	par->profile = FF_PROFILE_H264_CONSTRAINED_BASELINE;
	par->level = 30;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "avc1.42401e");
	av_freep(&par->extradata);

	par->codec_id = AV_CODEC_ID_HEVC;
	par->extradata = av_mallocz(sizeof hvcc +
	    AV_INPUT_BUFFER_PADDING_SIZE);
	memcpy(par->extradata, hvcc, sizeof hvcc);
	par->extradata_size = sizeof hvcc;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "hvc1.1.6.L93.90");
	memcpy(par->extradata, hevc_sps, sizeof hevc_sps);
	par->extradata_size = sizeof hevc_sps;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "hvc1.2.4.H153.90");
	par->extradata_size = 0;
	par->profile = FF_PROFILE_HEVC_MAIN;
	par->level = 120;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "hvc1.1.6.L120.B0");
	av_freep(&par->extradata);

	par->codec_type = AVMEDIA_TYPE_AUDIO;
	par->codec_id = AV_CODEC_ID_AAC;
	par->profile = FF_PROFILE_AAC_HE_V2;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "mp4a.40.29");
	par->profile = FF_PROFILE_UNKNOWN;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "mp4a.40.2");
	par->extradata = av_mallocz(sizeof he + AV_INPUT_BUFFER_PADDING_SIZE);
	memcpy(par->extradata, he, sizeof he);
	par->extradata_size = sizeof he;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "mp4a.40.5");
	av_freep(&par->extradata);
	par->extradata_size = 0;
	par->codec_id = AV_CODEC_ID_MP3;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf),
	    "mp4a.40.34");
	par->codec_id = AV_CODEC_ID_AC3;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf), "ac-3");
	par->codec_id = AV_CODEC_ID_EAC3;
	ck_assert_str_eq(hls_codec_string(par, buf, sizeof buf), "ec-3");
	par->codec_id = AV_CODEC_ID_PCM_S16LE;
	ck_assert_ptr_null(hls_codec_string(par, buf, sizeof buf));
	avcodec_parameters_free(&par);
}
END_TEST

START_TEST(test_master)
{
	struct hls_rendition	 r[2];
	char			*dir, *path, *text, *cause = NULL;

	dir = tu_tmpdir();
	path = tm_path(dir, "master.m3u8");
	memset(r, 0, sizeof r);
	r[0].uri = "hd/index.m3u8";
	r[0].name = "HD \"main\"\n#EXT-X-ENDLIST";
	r[0].bandwidth = 2500000;
	r[0].average_bandwidth = 2000000;
	r[0].width = 1280;
	r[0].height = 720;
	r[0].frame_rate = 25;
	r[0].codecs = "avc1.64001f,mp4a.40.2";
	r[1].uri = "audio/index.m3u8";
	r[1].bandwidth = 96000;
	r[1].codecs = "mp4a.40.2";
	ck_assert_msg(hls_write_master(path, r, 2, &cause) == 0, "%s", cause);
	text = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text,
	    "#EXTM3U\n"
	    "#EXT-X-VERSION:3\n"
	    "#EXT-X-INDEPENDENT-SEGMENTS\n"
	    "#EXT-X-STREAM-INF:BANDWIDTH=2500000,AVERAGE-BANDWIDTH=2000000,"
	    "RESOLUTION=1280x720,FRAME-RATE=25.000,"
	    "CODECS=\"avc1.64001f,mp4a.40.2\","
	    "NAME=\"HD 'main' #EXT-X-ENDLIST\"\n"
	    "hd/index.m3u8\n"
	    "#EXT-X-STREAM-INF:BANDWIDTH=96000,CODECS=\"mp4a.40.2\"\n"
	    "audio/index.m3u8\n");
	free(text);
	ck_assert(!exists_in(dir, "master.m3u8.tmp"));

	/* A URI that would break the playlist is refused. */
	r[1].uri = "a\n#EXT-X-ENDLIST";
	ck_assert_int_eq(hls_write_master(path, r, 2, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	free(path);
	path = tm_path(dir, "missing/master.m3u8");
	r[1].uri = "audio/index.m3u8";
	cause = NULL;
	ck_assert_int_eq(hls_write_master(path, r, 2, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "missing/master.m3u8"));
	free(cause);
	free(path);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_bad_args)
{
	struct hls_opts		 o;
	struct hls_stream	 st[2];
	AVCodecParameters	*par;
	struct hls		*h;
	char			*dir, *cause;

	dir = tu_tmpdir();
	tm_streams(&media, st);
	set_opts(&o, "relative/dir", HLS_SEGMENT_TS, 0, 3, 0);
	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 2, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);

	set_opts(&o, dir, HLS_SEGMENT_TS, 3000, 3, 0);
	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 2, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);

	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 0, 0);
	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 2, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);

	set_opts(&o, dir, HLS_SEGMENT_TS, 0, 3, 0);
	st[1] = st[0];
	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 2, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "video"));
	free(cause);

	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 0, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);

	/* fMP4 writes its init file first: it needs the SPS/PPS there. */
	tm_streams(&media, st);
	par = avcodec_parameters_alloc();
	ck_assert_int_ge(avcodec_parameters_copy(par, media.vpar), 0);
	av_freep(&par->extradata);
	par->extradata_size = 0;
	st[0].par = par;
	set_opts(&o, dir, HLS_SEGMENT_FMP4, 0, 3, 0);
	cause = NULL;
	ck_assert_ptr_null(hls_open(&o, st, 2, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "extradata"));
	free(cause);
	o.type = HLS_SEGMENT_TS;
	ck_assert_ptr_nonnull(h = open_ok(&o, st, 2));
	close_ok(h, 0);
	avcodec_parameters_free(&par);

	ck_assert_int_eq(hls_close(NULL, 1, &cause), 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *
hls_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("hls");
	tc = tcase_create("segmenter");
	tcase_add_unchecked_fixture(tc, media_setup, media_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ts);
	tcase_add_test(tc, test_fmp4);
	tcase_add_test(tc, test_llhls);
	tcase_add_test(tc, test_llhls_fmp4);
	tcase_add_test(tc, test_restart);
	tcase_add_test(tc, test_restart_fmp4);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_jump);
	tcase_add_test(tc, test_keyframe_cut);
	tcase_add_test(tc, test_audio_only);
	tcase_add_test(tc, test_codecs);
	tcase_add_test(tc, test_master);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(hls_suite()));
}
