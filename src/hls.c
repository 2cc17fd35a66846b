#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>

#include "buf.h"
#include "fsutil.h"
#include "hls.h"
#include "xmalloc.h"

#define HLS_PLAYLIST	"index.m3u8"
#define HLS_INIT	"init.mp4"
#define HLS_IOBUF	32768
#define HLS_MAXSTREAMS	64
/* A playlist this big was not written by us: it is not parsed. */
#define HLS_MAXOLD	(4 * 1024 * 1024)
/* Timestamp rounding forgiven when a cut is due (microseconds). */
#define HLS_SLACK	1000
/* A jump this big (or three segments, if longer) is a discontinuity. */
#define HLS_JUMP	(10 * 1000000LL)
/* A segment without keyframes is cut anyway after this many targets, so
 * that a broken source cannot grow one without bound. */
#define HLS_MAXTARGETS	10
/* Parts are listed for the segments of the last three target durations
 * (RFC 8216bis 4.4.4.9). */
#define HLS_PARTWINDOW	3

/* libavformat 61 made the buffer of the write callback const. */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define HLS_IOCONST const
#else
#define HLS_IOCONST
#endif

struct hls_part {
	int64_t		 duration;	/* microseconds */
	int		 independent;
};

/* A segment on disk: listed, or kept for players that still fetch it. */
struct hls_seg {
	uint64_t	 seq;
	int64_t		 duration;	/* microseconds */
	int64_t		 bytes;
	int		 discont;
	int		 gone;		/* no longer listed */
	char		*map;		/* its init file (fMP4) */
	struct hls_part	*parts;
	int		 nparts;
};

struct hls {
	char		*dir;
	enum hls_segment_type type;
	const char	*ext;
	int64_t		 segment_us;
	int64_t		 part_us;
	int		 playlist_size;
	int		 keep_extra;
	int64_t		 jump;

	AVFormatContext	*oc;
	AVIOContext	*pb;
	int		 nstreams;
	AVRational	*tb;		/* the caller's time bases */
	int64_t		*last_dts;	/* per stream, muxer time base */
	int		 ref;		/* the stream that cuts */
	int		 video;		/* ref is video: cut on keyframes */
	struct buf	 out;		/* muxed bytes of the open segment */

	char		*map;		/* init file name (fMP4) */
	struct buf	 init;
	int		 init_written;

	struct hls_seg	*segs;		/* oldest first, consecutive */
	int		 nsegs;
	uint64_t	 dseq;		/* EXT-X-DISCONTINUITY-SEQUENCE */
	int64_t		 max_duration;
	int		 fresh;		/* segments of this run listed */

	int		 open;		/* a segment is being written */
	uint64_t	 seq;		/* its number, or the next one's */
	int64_t		 seg_start;
	int		 seg_discont;
	struct hls_part	*parts;		/* its finished parts */
	int		 nparts;
	int64_t		 part_start;
	size_t		 part_off;
	int		 part_indep;

	int64_t		 offset;	/* added to every timestamp (us) */
	int64_t		 shift;		/* pts - dts of the last keyframe */
	int64_t		 last_end;	/* end of the latest packet (us) */
	int64_t		 ref_last;	/* time of the last ref packet */
	int64_t		 ref_end;
	int64_t		 ref_dur;
	int		 disc_pending;	/* hls_discontinuity() was called */
	int		 disc_next;	/* the next segment is discontinuous */
	int		 failed;	/* a write failed since the last
					   success */

	int		 ready;
	int64_t		 peak, peak_short;
	int64_t		 total_bytes, total_us;
};

/* Keeps the first message of a call: the one that explains the rest. */
static void
seterr(char **err, char *msg)
{
	if (*err == NULL)
		*err = msg;
	else
		free(msg);
}

static int64_t
to_us(int64_t ts, AVRational tb)
{
	return (av_rescale_q(ts, tb, AV_TIME_BASE_Q));
}

/* Milliseconds, the precision of everything written to a playlist. */
static int64_t
to_ms(int64_t us)
{
	return ((us + 500) / 1000);
}

static void
add_seconds(struct buf *b, int64_t us)
{
	int64_t	ms;

	ms = to_ms(us);
	if (ms < 0)
		ms = 0;
	buf_addf(b, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
}

/* Writes a whole file under a temporary name and renames it, so that a
 * reader sees the old file or the new one, never a part; errno is kept
 * on failure. */
static int
write_atomic(const char *path, const void *data, size_t len)
{
	const char	*p = data;
	char		*tmp;
	ssize_t		 n;
	int		 fd, rc = -1, error = 0;

	tmp = xprintf("%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644)) == -1) {
		error = errno;
		goto out;
	}
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			error = errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && error == 0)
		error = errno;
	if (error == 0 && rename(tmp, path) != 0)
		error = errno;
	if (error != 0)
		(void)unlink(tmp);
	else
		rc = 0;
out:
	free(tmp);
	errno = error;
	return (rc);
}

/* Writes one file of the rendition.  After a failure the folder is made
 * again (it may have been removed under us) before the next try. */
static int
put_file(struct hls *h, const char *name, const void *data, size_t len,
    char **err)
{
	char	*path;
	int	 rc = 0, error;

	path = xprintf("%s/%s", h->dir, name);
	if (h->failed)
		(void)fs_mkdirs(h->dir, 0755, NULL);
	if (write_atomic(path, data, len) != 0) {
		error = errno;
		seterr(err, xprintf("%s: %s", path, strerror(error)));
		h->failed = 1;
		if (h->type == HLS_SEGMENT_FMP4)
			h->init_written = 0;
		(void)fs_mkdirs(h->dir, 0755, NULL);
		rc = -1;
	}
	free(path);
	return (rc);
}

static void
remove_file(const struct hls *h, const char *name)
{
	char	*path;

	path = xprintf("%s/%s", h->dir, name);
	(void)unlink(path);
	free(path);
}

static int
file_exists(const struct hls *h, const char *name)
{
	struct stat	 st;
	char		*path;
	int		 rc;

	path = xprintf("%s/%s", h->dir, name);
	rc = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return (rc);
}

/* seg<seq><ext> for a segment (part < 0), seg<seq>.<part><ext> for a
 * part. */
static void
file_name(const struct hls *h, uint64_t seq, int part, char *name,
    size_t size)
{
	if (part < 0)
		snprintf(name, size, "seg%" PRIu64 "%s", seq, h->ext);
	else
		snprintf(name, size, "seg%" PRIu64 ".%d%s", seq, part, h->ext);
}

static int
parse_u64(const char *s, const char *end, uint64_t *v)
{
	uint64_t	n = 0;

	if (s == end || end - s > 19)
		return (-1);
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return (-1);
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	return (0);
}

/* Recognises the names this module writes: "seg<N>.ts", "seg<N>.<k>.ts"
 * (and .m4s).  Returns 0 with *part -1 for a segment. */
static int
parse_name(const char *name, uint64_t *seq, int *part, const char **ext)
{
	const char	*p, *dot;
	uint64_t	 k;
	size_t		 len;

	if (strncmp(name, "seg", 3) != 0)
		return (-1);
	len = strlen(name);
	if (len > 3 && strcmp(name + len - 3, ".ts") == 0)
		*ext = ".ts";
	else if (len > 4 && strcmp(name + len - 4, ".m4s") == 0)
		*ext = ".m4s";
	else
		return (-1);
	p = name + 3;
	len -= strlen(*ext);
	dot = memchr(p, '.', (size_t)(name + len - p));
	if (dot == NULL) {
		*part = -1;
		return (parse_u64(p, name + len, seq));
	}
	if (parse_u64(p, dot, seq) != 0 ||
	    parse_u64(dot + 1, name + len, &k) != 0 || k > INT32_MAX)
		return (-1);
	*part = (int)k;
	return (0);
}

static int
map_used(const struct hls *h, const char *map)
{
	int	i;

	if (h->map != NULL && strcmp(h->map, map) == 0)
		return (1);
	for (i = 0; i < h->nsegs; i++) {
		if (h->segs[i].map != NULL && strcmp(h->segs[i].map, map) == 0)
			return (1);
	}
	return (0);
}

static void
remove_parts(struct hls *h, struct hls_seg *s)
{
	char	name[64];
	int	k;

	for (k = 0; k < s->nparts; k++) {
		file_name(h, s->seq, k, name, sizeof name);
		remove_file(h, name);
	}
	free(s->parts);
	s->parts = NULL;
	s->nparts = 0;
}

/* Forgets the oldest segment, and deletes its files when asked. */
static void
drop_first(struct hls *h, int unlink_files)
{
	struct hls_seg	 s;
	char		 name[64];

	s = h->segs[0];
	h->nsegs--;
	memmove(h->segs, h->segs + 1, (size_t)h->nsegs * sizeof *h->segs);
	if (!s.gone && s.discont)
		h->dseq++;
	if (unlink_files) {
		remove_parts(h, &s);
		file_name(h, s.seq, -1, name, sizeof name);
		remove_file(h, name);
		if (s.map != NULL && !map_used(h, s.map))
			remove_file(h, s.map);
	}
	free(s.parts);
	free(s.map);
}

/* Moves the window: segments past playlist_size leave the playlist (their
 * parts are deleted then), and are deleted keep_extra segments later. */
static void
retire(struct hls *h)
{
	struct hls_seg	*s;
	int		 first, i;

	first = h->nsegs - h->playlist_size;
	for (i = 0; i < first; i++) {
		s = &h->segs[i];
		if (s->gone)
			continue;
		s->gone = 1;
		if (s->discont)
			h->dseq++;
		remove_parts(h, s);
	}
	while (first > h->keep_extra) {
		drop_first(h, 1);
		first--;
	}
}

/* After a failed write the folder may have been emptied: the segments
 * up to the last one missing are not listed again. */
static void
prune_missing(struct hls *h)
{
	char	name[64];
	int	i, last = -1;

	for (i = 0; i < h->nsegs; i++) {
		file_name(h, h->segs[i].seq, -1, name, sizeof name);
		if (!file_exists(h, name) || (h->segs[i].map != NULL &&
		    !file_exists(h, h->segs[i].map)))
			last = i;
	}
	for (i = 0; i <= last; i++)
		drop_first(h, 1);
}

/* RFC 8216 4.3.3.1: the largest segment duration, rounded up; it only
 * grows, as the target duration must not change. */
static int64_t
target_duration(const struct hls *h)
{
	int64_t	ms, td;

	td = (h->segment_us + 999999) / 1000000;
	ms = to_ms(h->max_duration);
	if ((ms + 999) / 1000 > td)
		td = (ms + 999) / 1000;
	return (td < 1 ? 1 : td);
}

static void
add_parts(const struct hls *h, struct buf *b, uint64_t seq,
    const struct hls_part *parts, int nparts)
{
	char	name[64];
	int	k;

	for (k = 0; k < nparts; k++) {
		file_name(h, seq, k, name, sizeof name);
		buf_adds(b, "#EXT-X-PART:DURATION=");
		add_seconds(b, parts[k].duration);
		buf_addf(b, ",URI=\"%s\"%s\n", name,
		    parts[k].independent ? ",INDEPENDENT=YES" : "");
	}
}

/* The media playlist (RFC 8216 4.3, RFC 8216bis 4.4.3.7-4.4.5.3).
 * closing leaves out the open segment and the preload hint. */
static void
build_playlist(const struct hls *h, struct buf *b, int closing, int final)
{
	const struct hls_seg	*s;
	const char		*map = NULL;
	char			 name[64];
	int64_t			 td, left;
	int			 first, pfirst, i;

	td = target_duration(h);
	first = h->nsegs > h->playlist_size ? h->nsegs - h->playlist_size : 0;
	buf_adds(b, "#EXTM3U\n");
	buf_addf(b, "#EXT-X-VERSION:%d\n",
	    h->type == HLS_SEGMENT_FMP4 || h->part_us > 0 ? 6 : 3);
	buf_addf(b, "#EXT-X-TARGETDURATION:%" PRId64 "\n", td);
	if (h->part_us > 0) {
		buf_adds(b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,"
		    "PART-HOLD-BACK=");
		add_seconds(b, 3 * h->part_us);
		buf_adds(b, "\n#EXT-X-PART-INF:PART-TARGET=");
		add_seconds(b, h->part_us);
		buf_adds(b, "\n");
	}
	buf_addf(b, "#EXT-X-MEDIA-SEQUENCE:%" PRIu64 "\n",
	    first < h->nsegs ? h->segs[first].seq : h->seq);
	if (h->dseq > 0)
		buf_addf(b, "#EXT-X-DISCONTINUITY-SEQUENCE:%" PRIu64 "\n",
		    h->dseq);

	/* Parts only for the segments near the live edge. */
	left = HLS_PARTWINDOW * td * 1000000;
	if (h->open && !closing)
		left -= h->part_start - h->seg_start;
	for (pfirst = h->nsegs; pfirst > first; pfirst--) {
		left -= h->segs[pfirst - 1].duration;
		if (left < 0)
			break;
	}

	for (i = first; i < h->nsegs; i++) {
		s = &h->segs[i];
		if (s->discont)
			buf_adds(b, "#EXT-X-DISCONTINUITY\n");
		if (s->map != NULL &&
		    (map == NULL || strcmp(map, s->map) != 0)) {
			map = s->map;
			buf_addf(b, "#EXT-X-MAP:URI=\"%s\"\n", map);
		}
		if (i >= pfirst)
			add_parts(h, b, s->seq, s->parts, s->nparts);
		buf_adds(b, "#EXTINF:");
		add_seconds(b, s->duration);
		file_name(h, s->seq, -1, name, sizeof name);
		buf_addf(b, ",\n%s\n", name);
	}
	if (h->open && !closing && h->nparts > 0) {
		if (h->seg_discont)
			buf_adds(b, "#EXT-X-DISCONTINUITY\n");
		if (h->map != NULL && (map == NULL || strcmp(map, h->map) != 0))
			buf_addf(b, "#EXT-X-MAP:URI=\"%s\"\n", h->map);
		add_parts(h, b, h->seq, h->parts, h->nparts);
	}
	if (h->part_us > 0 && !closing) {
		file_name(h, h->seq, h->open ? h->nparts : 0, name,
		    sizeof name);
		buf_addf(b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"%s\"\n", name);
	}
	if (final)
		buf_adds(b, "#EXT-X-ENDLIST\n");
}

static int
publish(struct hls *h, int closing, int final, char **err)
{
	struct buf	b = BUF_INIT;
	int		rc;

	build_playlist(h, &b, closing, final);
	rc = put_file(h, HLS_PLAYLIST, b.data, b.len, err);
	if (rc == 0 && (h->fresh > 0 || (h->open && h->nparts > 0)))
		h->ready = 1;
	buf_free(&b);
	return (rc);
}

/* Pushes everything the muxer holds into h->out. */
static int
flush_mux(struct hls *h, char **err)
{
	int	ret;

	if ((ret = av_write_frame(h->oc, NULL)) < 0) {
		seterr(err, xprintf("flushing muxer: %s", av_err2str(ret)));
		return (-1);
	}
	avio_flush(h->pb);
	return (0);
}

/* A segment that could not be written is dropped whole (parts included);
 * the next one starts at the next keyframe, reusing its number, after a
 * discontinuity. */
static void
abort_segment(struct hls *h)
{
	char	*ignored = NULL;
	int	 listed;

	listed = h->nparts > 0;
	buf_reset(&h->out);
	free(h->parts);
	h->parts = NULL;
	h->nparts = 0;
	h->open = 0;
	h->disc_next = 1;
	if (listed)
		(void)publish(h, 0, 0, &ignored);
	free(ignored);
}

static int
write_init(struct hls *h, char **err)
{
	if (h->type != HLS_SEGMENT_FMP4 || h->init_written)
		return (0);
	if (put_file(h, h->map, h->init.data, h->init.len, err) != 0)
		return (-1);
	h->init_written = 1;
	return (0);
}

/* libavformat's mpegts muxer, asked to resend its tables, writes the SDT
 * before the PAT; players and checkers look for a PAT at the start of a
 * segment, so the PAT packet is moved in front of the SDT (and NIT).
 * Each is a packet of its own PID, so no continuity counter changes. */
static void
pat_first(struct hls *h, size_t off)
{
	unsigned char	*p, pat[188];
	size_t		 k = 0;
	int		 pid;

	if (h->type != HLS_SEGMENT_TS)
		return;
	p = (unsigned char *)h->out.data + off;
	for (;;) {
		if (off + (k + 1) * 188 > h->out.len || p[k * 188] != 0x47)
			return;
		pid = ((p[k * 188 + 1] & 0x1f) << 8) | p[k * 188 + 2];
		if (pid == 0)
			break;
		if (pid != 0x10 && pid != 0x11)
			return;
		k++;
	}
	if (k == 0)
		return;
	memcpy(pat, p + k * 188, 188);
	memmove(p + 188, p, k * 188);
	memcpy(p, pat, 188);
}

/* Media was written again after a failure: segments lost with the
 * folder are no longer listed. */
static void
recovered(struct hls *h)
{
	if (h->failed) {
		prune_missing(h);
		h->failed = 0;
	}
}

/* Closes the open part at end (the muxer is flushed already). */
static int
flush_part(struct hls *h, int64_t end, char **err)
{
	char	name[64];

	if (write_init(h, err) != 0)
		return (-1);
	if (h->nparts == 0)
		pat_first(h, 0);
	else if (h->part_indep)
		pat_first(h, h->part_off);
	file_name(h, h->seq, h->nparts, name, sizeof name);
	if (put_file(h, name, h->out.data + h->part_off,
	    h->out.len - h->part_off, err) != 0)
		return (-1);
	recovered(h);
	h->parts = xreallocarray(h->parts, (size_t)h->nparts + 1,
	    sizeof *h->parts);
	h->parts[h->nparts].duration = end - h->part_start;
	h->parts[h->nparts].independent = h->part_indep;
	h->nparts++;
	h->part_start = end;
	h->part_off = h->out.len;
	return (0);
}

static int
end_part(struct hls *h, int64_t end, int key, char **err)
{
	if (flush_mux(h, err) != 0 || flush_part(h, end, err) != 0) {
		abort_segment(h);
		return (-1);
	}
	h->part_indep = key;
	return (publish(h, 0, 0, err));
}

static void
count_rate(struct hls *h, int64_t bytes, int64_t us)
{
	int64_t	bps;

	if (us <= 0)
		return;
	bps = av_rescale(bytes, 8 * 1000000LL, us);
	if (us >= h->segment_us / 2) {
		if (bps > h->peak)
			h->peak = bps;
	} else if (bps > h->peak_short)
		h->peak_short = bps;
	h->total_bytes += bytes;
	h->total_us += us;
}

/* Writes the files of the open segment: its last part, the init file
 * if it is missing, and the whole segment. */
static int
write_segment(struct hls *h, int64_t end, char **err)
{
	char	name[64];

	if (flush_mux(h, err) != 0)
		return (-1);
	if (h->part_us > 0 && (h->out.len > h->part_off || h->nparts == 0) &&
	    flush_part(h, end, err) != 0)
		return (-1);
	if (write_init(h, err) != 0)
		return (-1);
	pat_first(h, 0);
	file_name(h, h->seq, -1, name, sizeof name);
	return (put_file(h, name, h->out.data, h->out.len, err));
}

/* Closes the open segment at end: it is written whole first and only
 * then listed. */
static int
end_segment(struct hls *h, int64_t end, char **err)
{
	struct hls_seg	*s;

	if (end <= h->seg_start)
		end = h->seg_start + 1000;
	if (write_segment(h, end, err) != 0) {
		abort_segment(h);
		return (-1);
	}
	recovered(h);
	h->segs = xreallocarray(h->segs, (size_t)h->nsegs + 1,
	    sizeof *h->segs);
	s = &h->segs[h->nsegs++];
	memset(s, 0, sizeof *s);
	s->seq = h->seq;
	s->duration = end - h->seg_start;
	s->bytes = (int64_t)h->out.len;
	s->discont = h->seg_discont;
	s->map = xstrdup(h->map);
	s->parts = h->parts;
	s->nparts = h->nparts;
	if (s->duration > h->max_duration)
		h->max_duration = s->duration;
	count_rate(h, s->bytes, s->duration);
	h->fresh++;

	h->parts = NULL;
	h->nparts = 0;
	h->open = 0;
	h->seq++;
	buf_reset(&h->out);
	retire(h);
	return (publish(h, 0, 0, err));
}

static void
start_segment(struct hls *h, int64_t t, int key)
{
	h->open = 1;
	h->seg_start = t;
	h->seg_discont = h->disc_next;
	h->disc_next = 0;
	h->part_start = t;
	h->part_off = 0;
	h->part_indep = key;
	buf_reset(&h->out);
}

/* A discontinuity: the open segment ends with the last packet, and the
 * timestamps that follow are moved to carry on from there, so that the
 * muxer sees them increase and no segment spans the jump. */
static int
rebase(struct hls *h, int64_t t_in, char **err)
{
	int	rc = 0;

	if (h->open)
		rc = end_segment(h, h->ref_end, err);
	h->offset = h->last_end - t_in;
	h->disc_next = 1;
	h->disc_pending = 0;
	h->ref_last = INT64_MIN;
	return (rc);
}

/* Reads the playlist of an earlier run (RFC 8216 4.3).  Returns the
 * segments it lists, or -1 when it is not one of ours. */
static int
parse_old(char *text, uint64_t *mseq, uint64_t *dseq, struct hls_seg **segsp,
    int *nsegsp)
{
	struct hls_seg	*segs = NULL;
	const char	*ext, *q;
	char		*line, *next, *end, *map = NULL;
	double		 d;
	uint64_t	 seq;
	int64_t		 dur = -1;
	int		 nsegs = 0, discont = 0, part, rc = -1, i;

	*mseq = *dseq = 0;
	if (strncmp(text, "#EXTM3U", 7) != 0 ||
	    (text[7] != '\n' && text[7] != '\r'))
		goto out;
	for (line = text; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((end = strchr(line, '\r')) != NULL)
			*end = '\0';
		if (strncmp(line, "#EXT-X-MEDIA-SEQUENCE:", 22) == 0) {
			if (nsegs > 0 || parse_u64(line + 22,
			    line + strlen(line), mseq) != 0)
				goto out;
		} else if (strncmp(line, "#EXT-X-DISCONTINUITY-SEQUENCE:",
		    30) == 0) {
			if (parse_u64(line + 30, line + strlen(line),
			    dseq) != 0)
				goto out;
		} else if (strcmp(line, "#EXT-X-DISCONTINUITY") == 0)
			discont = 1;
		else if (strncmp(line, "#EXT-X-MAP:", 11) == 0) {
			if ((q = strstr(line, "URI=\"")) == NULL)
				goto out;
			q += 5;
			if ((end = strchr(q, '"')) == NULL || end == q ||
			    memchr(q, '/', (size_t)(end - q)) != NULL)
				goto out;
			free(map);
			map = xstrndup(q, (size_t)(end - q));
		} else if (strncmp(line, "#EXTINF:", 8) == 0) {
			errno = 0;
			d = strtod(line + 8, &end);
			if (errno != 0 || end == line + 8 || *end != ',' ||
			    !(d >= 0 && d < 86400))
				goto out;
			dur = (int64_t)(d * 1000000 + 0.5);
		} else if (line[0] != '#' && line[0] != '\0') {
			if (dur < 0 ||
			    parse_name(line, &seq, &part, &ext) != 0 ||
			    part >= 0 || seq != *mseq + (uint64_t)nsegs ||
			    (nsegs > 0 && (strcmp(ext, ".m4s") == 0) !=
			    (segs[0].map != NULL)) ||
			    (strcmp(ext, ".m4s") == 0 && map == NULL))
				goto out;
			segs = xreallocarray(segs, (size_t)nsegs + 1,
			    sizeof *segs);
			memset(&segs[nsegs], 0, sizeof *segs);
			segs[nsegs].seq = seq;
			segs[nsegs].duration = dur;
			segs[nsegs].discont = discont;
			if (strcmp(ext, ".m4s") == 0)
				segs[nsegs].map = xstrdup(map);
			nsegs++;
			dur = -1;
			discont = 0;
		}
	}
	rc = 0;
out:
	free(map);
	if (rc != 0) {
		for (i = 0; i < nsegs; i++)
			free(segs[i].map);
		free(segs);
		segs = NULL;
		nsegs = 0;
	}
	*segsp = segs;
	*nsegsp = nsegs;
	return (rc);
}

/* Reads a whole regular file of at most max bytes, NUL terminated;
 * NULL if it cannot be read or is bigger. */
static char *
read_whole(const char *path, size_t max, size_t *lenp)
{
	struct stat	 st;
	char		*data = NULL;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY|O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max)
		goto out;
	data = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, data + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*lenp = len;
out:
	close(fd);
	return (data);
}

static char *
read_old(const char *path)
{
	char	*text;
	size_t	 len;

	if ((text = read_whole(path, HLS_MAXOLD, &len)) != NULL &&
	    strlen(text) != len) {
		free(text);
		text = NULL;
	}
	return (text);
}

/* Deletes what an earlier run left that nobody can still need: its
 * parts, its temporary files, and segments not carried over.  Returns
 * the highest segment number seen, for a start without a playlist. */
static int64_t
sweep(struct hls *h, int delete)
{
	struct dirent	*de;
	DIR		*d;
	const char	*ext, *name;
	uint64_t	 seq;
	int64_t		 max = -1;
	size_t		 len;
	int		 part, carried;

	if ((d = opendir(h->dir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		name = de->d_name;
		len = strlen(name);
		if (parse_name(name, &seq, &part, &ext) == 0) {
			if (seq < INT64_MAX && (int64_t)seq > max)
				max = (int64_t)seq;
			carried = part < 0 && h->nsegs > 0 &&
			    strcmp(ext, h->ext) == 0 &&
			    seq >= h->segs[0].seq &&
			    seq <= h->segs[h->nsegs - 1].seq;
			if (delete && !carried)
				remove_file(h, name);
		} else if (delete && len > 4 &&
		    strcmp(name + len - 4, ".tmp") == 0 &&
		    (strncmp(name, "seg", 3) == 0 ||
		    strncmp(name, "init", 4) == 0 ||
		    strcmp(name, HLS_PLAYLIST ".tmp") == 0))
			remove_file(h, name);
		else if (delete && strncmp(name, "init", 4) == 0 && len > 4 &&
		    strcmp(name + len - 4, ".mp4") == 0 && !map_used(h, name))
			remove_file(h, name);
	}
	closedir(d);
	return (max);
}

/* Carries on from an earlier run in the same folder: its listed
 * segments that still exist stay listed, numbering continues, and the
 * first new segment is marked discontinuous. */
static void
resume(struct hls *h)
{
	struct hls_seg	*segs;
	char		*path, *text, name[64];
	uint64_t	 mseq, dseq;
	int64_t		 max;
	int		 nsegs, i, last = -1, valid;

	path = xprintf("%s/%s", h->dir, HLS_PLAYLIST);
	text = read_old(path);
	valid = text != NULL &&
	    parse_old(text, &mseq, &dseq, &segs, &nsegs) == 0;
	free(text);
	if (!valid) {
		max = sweep(h, 0);
		h->seq = max >= 0 ? (uint64_t)max + 1 : 0;
		h->disc_next = max >= 0;
		(void)sweep(h, 1);
		(void)unlink(path);
		free(path);
		return;
	}

	h->seq = nsegs > 0 ? segs[nsegs - 1].seq + 1 : mseq;
	h->dseq = dseq;
	h->segs = segs;
	h->nsegs = nsegs;
	h->disc_next = 1;
	for (i = 0; i < nsegs; i++) {
		file_name(h, segs[i].seq, -1, name, sizeof name);
		if ((segs[i].map != NULL) != (h->type == HLS_SEGMENT_FMP4) ||
		    !file_exists(h, name) ||
		    (segs[i].map != NULL && !file_exists(h, segs[i].map)))
			last = i;
	}
	for (i = 0; i <= last; i++)
		drop_first(h, 0);
	for (i = 0; i < h->nsegs; i++) {
		if (h->segs[i].duration > h->max_duration)
			h->max_duration = h->segs[i].duration;
	}
	(void)sweep(h, 1);
	if (h->nsegs == 0)
		(void)unlink(path);
	free(path);
}

/* The init file of this run: init.mp4, unless segments carried over
 * from an earlier run need an init.mp4 with other contents. */
static void
choose_map(struct hls *h)
{
	char	*path, *old;
	size_t	 len;
	int	 i, same;

	for (i = 0; i < h->nsegs; i++) {
		if (h->segs[i].map != NULL &&
		    strcmp(h->segs[i].map, HLS_INIT) == 0)
			break;
	}
	if (i == h->nsegs) {
		h->map = xstrdup(HLS_INIT);
		return;
	}
	path = xprintf("%s/%s", h->dir, HLS_INIT);
	old = read_whole(path, h->init.len, &len);
	same = old != NULL && len == h->init.len &&
	    memcmp(old, h->init.data, len) == 0;
	free(old);
	free(path);
	if (same) {
		h->map = xstrdup(HLS_INIT);
		h->init_written = 1;
	} else
		h->map = xprintf("init-%" PRIu64 ".mp4", h->seq);
}

static int
io_write(void *opaque, HLS_IOCONST uint8_t *data, int len)
{
	struct hls	*h = opaque;

	if (len > 0)
		buf_add(&h->out, data, (size_t)len);
	return (len);
}

static int
mux_open(struct hls *h, const struct hls_opts *opts,
    const struct hls_stream *streams, char **err)
{
	AVDictionary	*opt = NULL;
	AVStream	*st;
	unsigned char	*iobuf;
	int		 i, ret, rc = -1;

	ret = avformat_alloc_output_context2(&h->oc, NULL,
	    h->type == HLS_SEGMENT_FMP4 ? "mp4" : "mpegts", NULL);
	if (ret < 0 || h->oc == NULL) {
		seterr(err, xprintf("muxer: %s", av_err2str(ret)));
		goto out;
	}
	for (i = 0; i < h->nstreams; i++) {
		if ((st = avformat_new_stream(h->oc, NULL)) == NULL) {
			seterr(err, xstrdup("muxer: out of memory"));
			goto out;
		}
		ret = avcodec_parameters_copy(st->codecpar, streams[i].par);
		if (ret < 0) {
			seterr(err, xprintf("stream %d: %s", i,
			    av_err2str(ret)));
			goto out;
		}
		st->codecpar->codec_tag = 0;
		st->time_base = streams[i].time_base;
	}
	if ((iobuf = av_malloc(HLS_IOBUF)) == NULL) {
		seterr(err, xstrdup("muxer: out of memory"));
		goto out;
	}
	h->pb = avio_alloc_context(iobuf, HLS_IOBUF, 1, h, NULL, io_write,
	    NULL);
	if (h->pb == NULL) {
		av_free(iobuf);
		seterr(err, xstrdup("muxer: out of memory"));
		goto out;
	}
	h->oc->pb = h->pb;
	h->oc->flags |= AVFMT_FLAG_CUSTOM_IO;

	if (opts->format_options != NULL)
		av_dict_copy(&opt, opts->format_options, 0);
	if (h->type == HLS_SEGMENT_FMP4)
		av_dict_set(&opt, "movflags", "+frag_custom+empty_moov"
		    "+default_base_moof+skip_trailer", 0);
	if ((ret = avformat_write_header(h->oc, &opt)) < 0) {
		seterr(err, xprintf("muxer: %s", av_err2str(ret)));
		goto out;
	}
	avio_flush(h->pb);
	if (h->type == HLS_SEGMENT_FMP4) {
		buf_add(&h->init, h->out.data, h->out.len);
		buf_reset(&h->out);
	}
	rc = 0;
out:
	av_dict_free(&opt);
	return (rc);
}

static void
hls_free(struct hls *h)
{
	int	i;

	if (h->oc != NULL)
		avformat_free_context(h->oc);
	if (h->pb != NULL) {
		av_freep(&h->pb->buffer);
		avio_context_free(&h->pb);
	}
	for (i = 0; i < h->nsegs; i++) {
		free(h->segs[i].parts);
		free(h->segs[i].map);
	}
	free(h->segs);
	free(h->parts);
	free(h->tb);
	free(h->last_dts);
	free(h->map);
	buf_free(&h->out);
	buf_free(&h->init);
	free(h->dir);
	free(h);
}

static int
check_opts(const struct hls_opts *opts, const struct hls_stream *streams,
    int nb_streams, char **err)
{
	int	i, nvideo = 0;

	if (opts->dir == NULL || opts->dir[0] != '/')
		seterr(err, xstrdup("folder must be an absolute path"));
	else if (opts->type != HLS_SEGMENT_TS &&
	    opts->type != HLS_SEGMENT_FMP4)
		seterr(err, xstrdup("unknown segment type"));
	else if (opts->segment_ms <= 0 || opts->segment_ms > 3600000)
		seterr(err, xstrdup("segment length out of range"));
	else if (opts->part_ms < 0 || opts->part_ms > opts->segment_ms)
		seterr(err, xstrdup("part length out of range"));
	else if (opts->playlist_size < 1 || opts->playlist_size > 100000 ||
	    opts->keep_extra < 0 || opts->keep_extra > 100000)
		seterr(err, xstrdup("playlist size out of range"));
	else if (nb_streams < 1 || nb_streams > HLS_MAXSTREAMS)
		seterr(err, xstrdup("no streams"));
	else {
		for (i = 0; i < nb_streams; i++) {
			if (streams[i].par == NULL ||
			    streams[i].time_base.num <= 0 ||
			    streams[i].time_base.den <= 0) {
				seterr(err, xprintf("stream %d: no parameters "
				    "or time base", i));
				return (-1);
			}
			if (streams[i].par->codec_type == AVMEDIA_TYPE_VIDEO)
				nvideo++;
			/* The init file is written before the first packet:
			 * parameter sets carried in-band are too late. */
			if (opts->type == HLS_SEGMENT_FMP4 &&
			    streams[i].par->extradata_size <= 0 &&
			    (streams[i].par->codec_id == AV_CODEC_ID_H264 ||
			    streams[i].par->codec_id == AV_CODEC_ID_HEVC ||
			    streams[i].par->codec_id == AV_CODEC_ID_AAC)) {
				seterr(err, xprintf("stream %d: fMP4 needs the "
				    "codec's extradata", i));
				return (-1);
			}
		}
		if (nvideo <= 1)
			return (0);
		seterr(err, xstrdup("more than one video stream"));
	}
	return (-1);
}

/* One segmenter per rendition, as the pipeline thread needs it: the
 * muxer lives as long as the segmenter, so that TS continuity counters
 * and fMP4 decode times run on across segments. */
struct hls *
hls_open(const struct hls_opts *opts, const struct hls_stream *streams,
    int nb_streams, char **cause)
{
	struct hls	*h = NULL;
	char		*err = NULL, *ignored = NULL;
	int		 i;

	if (check_opts(opts, streams, nb_streams, &err) != 0)
		goto out;
	h = xcalloc(1, sizeof *h);
	h->dir = xstrdup(opts->dir);
	while (strlen(h->dir) > 1 && h->dir[strlen(h->dir) - 1] == '/')
		h->dir[strlen(h->dir) - 1] = '\0';
	h->type = opts->type;
	h->ext = h->type == HLS_SEGMENT_FMP4 ? ".m4s" : ".ts";
	h->segment_us = (int64_t)opts->segment_ms * 1000;
	h->part_us = (int64_t)opts->part_ms * 1000;
	h->playlist_size = opts->playlist_size;
	h->keep_extra = opts->keep_extra;
	h->jump = 3 * h->segment_us > HLS_JUMP ? 3 * h->segment_us : HLS_JUMP;
	h->nstreams = nb_streams;
	h->tb = xcalloc((size_t)nb_streams, sizeof *h->tb);
	h->last_dts = xcalloc((size_t)nb_streams, sizeof *h->last_dts);
	h->ref = -1;
	for (i = 0; i < nb_streams; i++) {
		h->tb[i] = streams[i].time_base;
		h->last_dts[i] = AV_NOPTS_VALUE;
		if (streams[i].par->codec_type == AVMEDIA_TYPE_VIDEO) {
			h->ref = i;
			h->video = 1;
		}
	}
	for (i = 0; h->ref == -1 && i < nb_streams; i++) {
		if (streams[i].par->codec_type == AVMEDIA_TYPE_AUDIO)
			h->ref = i;
	}
	if (h->ref == -1)
		h->ref = 0;
	h->last_end = INT64_MIN;
	h->ref_last = INT64_MIN;
	buf_init(&h->out);
	buf_init(&h->init);

	if (fs_mkdirs(h->dir, 0755, NULL) != 0) {
		seterr(&err, xprintf("%s: %s", h->dir, strerror(errno)));
		goto out;
	}
	if (mux_open(h, opts, streams, &err) != 0)
		goto out;
	resume(h);
	if (opts->first_sequence > h->seq) {
		/* Numbered with the other renditions of a ladder: what was
		 * listed cannot precede a gap in the sequence. */
		while (h->nsegs > 0)
			drop_first(h, 1);
		h->seq = opts->first_sequence;
	}
	if (h->type == HLS_SEGMENT_FMP4) {
		choose_map(h);
		if (write_init(h, &err) != 0)
			goto out;
	}
	if (h->nsegs > 0) {
		retire(h);
		(void)publish(h, 1, 0, &ignored);
		free(ignored);
	}
	return (h);
out:
	if (h != NULL)
		hls_free(h);
	*cause = err;
	return (NULL);
}

/* Places one packet: a cut that is due comes first (segments on video
 * keyframes, or on time without video; parts on time), then the packet
 * goes to the muxer on a copy with the timestamps of the output. */
int
hls_write(struct hls *h, const AVPacket *pkt, char **cause)
{
	AVPacket	*copy = NULL;
	AVStream	*ost;
	char		*err = NULL;
	int64_t		 ts, t, tref, dur, off;
	int		 i, key, ret, rc = 0, is_ref;

	i = pkt->stream_index;
	if (i < 0 || i >= h->nstreams) {
		seterr(&err, xprintf("packet of unknown stream %d", i));
		rc = -1;
		goto out;
	}
	ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
	if (ts == AV_NOPTS_VALUE)
		goto out;	/* nothing to place it by */
	key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
	is_ref = i == h->ref;

	t = to_us(ts, h->tb[i]);
	if (h->last_end != INT64_MIN && (h->disc_pending ||
	    t + h->offset > h->last_end + h->jump ||
	    t + h->offset < h->last_end - h->jump)) {
		if (rebase(h, t, &err) != 0)
			rc = -1;
	} else if (h->disc_pending) {
		h->disc_next = 1;
		h->disc_pending = 0;
	}
	t += h->offset;

	if ((copy = av_packet_alloc()) == NULL ||
	    av_packet_ref(copy, pkt) < 0) {
		seterr(&err, xstrdup("packet: out of memory"));
		rc = -1;
		goto out;
	}
	ost = h->oc->streams[i];
	av_packet_rescale_ts(copy, h->tb[i], ost->time_base);
	off = av_rescale_q(h->offset, AV_TIME_BASE_Q, ost->time_base);
	if (copy->pts != AV_NOPTS_VALUE)
		copy->pts += off;
	if (copy->dts != AV_NOPTS_VALUE)
		copy->dts += off;
	if (copy->dts != AV_NOPTS_VALUE && h->last_dts[i] != AV_NOPTS_VALUE &&
	    copy->dts <= h->last_dts[i])
		goto out;	/* behind its stream: the muxer refuses it */
	copy->stream_index = i;
	copy->pos = -1;

	dur = pkt->duration > 0 ? to_us(pkt->duration, h->tb[i]) : 0;
	if (is_ref) {
		tref = t;
		if (h->video && pkt->pts != AV_NOPTS_VALUE &&
		    pkt->dts != AV_NOPTS_VALUE) {
			if (key)
				h->shift = to_us(pkt->pts, h->tb[i]) -
				    to_us(pkt->dts, h->tb[i]);
			tref += h->shift;
		}
		if (dur == 0)
			dur = h->ref_last != INT64_MIN && tref > h->ref_last ?
			    tref - h->ref_last : h->ref_dur;
		if (h->open && (h->video ?
		    (key && tref - h->seg_start >= h->segment_us - HLS_SLACK) :
		    (tref > h->seg_start &&
		    tref - h->seg_start + dur > h->segment_us + HLS_SLACK)) ) {
			if (end_segment(h, tref, &err) != 0)
				rc = -1;
		} else if (h->open && tref - h->seg_start >=
		    HLS_MAXTARGETS * h->segment_us) {
			if (end_segment(h, tref, &err) != 0)
				rc = -1;
		} else if (h->open && h->part_us > 0 && tref > h->part_start &&
		    tref - h->part_start + dur > h->part_us + HLS_SLACK) {
			if (end_part(h, tref, key, &err) != 0)
				rc = -1;
			if (h->open && key && h->type == HLS_SEGMENT_TS)
				av_opt_set(h->oc->priv_data, "mpegts_flags",
				    "+resend_headers", 0);
		}
		if (!h->open) {
			if (h->video && !key)
				goto out;	/* undecodable until one */
			start_segment(h, tref, key);
			if (h->type == HLS_SEGMENT_TS)
				av_opt_set(h->oc->priv_data, "mpegts_flags",
				    "+resend_headers", 0);
		}
		h->ref_last = tref;
		h->ref_dur = dur;
		h->ref_end = tref + dur;
	} else if (!h->open)
		goto out;	/* nothing to put it in yet */

	h->last_dts[i] = copy->dts;
	if (t + dur > h->last_end)
		h->last_end = t + dur;
	if ((ret = av_write_frame(h->oc, copy)) < 0) {
		seterr(&err, xprintf("muxing packet: %s", av_err2str(ret)));
		rc = -1;
	}
out:
	av_packet_free(&copy);
	if (rc != 0)
		*cause = err;
	else
		free(err);
	return (rc);
}

/* The caller knows of a jump (a reopened input): the cut is made when the
 * next packet arrives, since only it says where the new timeline starts. */
void
hls_discontinuity(struct hls *h)
{
	if (h != NULL)
		h->disc_pending = 1;
}

/* Publishes what was written before the pipeline stops; with final the
 * playlist is complete (EXT-X-ENDLIST) and players stop reloading. */
int
hls_close(struct hls *h, int final, char **cause)
{
	char	*err = NULL;
	int	 rc = 0;

	if (h == NULL)
		return (0);
	if (h->open && h->ref_end > h->seg_start &&
	    end_segment(h, h->ref_end, &err) != 0)
		rc = -1;
	h->open = 0;
	(void)av_write_trailer(h->oc);
	buf_reset(&h->out);
	if (h->nsegs > 0 && publish(h, 1, final, &err) != 0)
		rc = -1;
	hls_free(h);
	if (rc != 0)
		*cause = err;
	else
		free(err);
	return (rc);
}

/* Lets the daemon announce a stream only once a player can start it. */
int
hls_ready(const struct hls *h)
{
	return (h->ready);
}

/* For the daemon's status: which segment comes next. */
uint64_t
hls_next_sequence(const struct hls *h)
{
	return (h->seq);
}

/* BANDWIDTH and AVERAGE-BANDWIDTH of the master playlist (RFC 8216
 * 4.3.4.2): the peak over segments of at least half the target, or over
 * all while there is none yet. */
void
hls_bitrates(const struct hls *h, int64_t *peak, int64_t *average)
{
	*peak = h->peak > 0 ? h->peak : h->peak_short;
	*average = h->total_us > 0 ?
	    av_rescale(h->total_bytes, 8 * 1000000LL, h->total_us) : 0;
}

/* A quoted-string attribute (RFC 8216 4.2) must not hold a double quote
 * or a line break: they are replaced, not escaped, as there is no
 * escaping. */
static void
add_quoted(struct buf *b, const char *attr, const char *value)
{
	const unsigned char	*p;

	buf_addf(b, ",%s=\"", attr);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p == '"')
			buf_addc(b, '\'');
		else if (*p < 0x20 || *p == 0x7f)
			buf_addc(b, ' ');
		else
			buf_addc(b, (char)*p);
	}
	buf_addc(b, '"');
}

/* The master playlist that lets a player pick a rendition (RFC 8216
 * 4.3.4.2); BANDWIDTH is always written, as it is required. */
int
hls_write_master(const char *path, const struct hls_rendition *r, int n,
    char **cause)
{
	struct buf	 b = BUF_INIT;
	const char	*p;
	int		 i, rc = -1;

	buf_adds(&b, "#EXTM3U\n#EXT-X-VERSION:3\n"
	    "#EXT-X-INDEPENDENT-SEGMENTS\n");
	for (i = 0; i < n; i++) {
		if (r[i].uri == NULL || r[i].uri[0] == '\0' ||
		    r[i].uri[0] == '#') {
			*cause = xprintf("rendition %d: bad URI", i);
			goto out;
		}
		for (p = r[i].uri; *p != '\0'; p++) {
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				*cause = xprintf("rendition %d: bad URI", i);
				goto out;
			}
		}
		buf_addf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRId64,
		    r[i].bandwidth > 0 ? r[i].bandwidth : 0);
		if (r[i].average_bandwidth > 0)
			buf_addf(&b, ",AVERAGE-BANDWIDTH=%" PRId64,
			    r[i].average_bandwidth);
		if (r[i].width > 0 && r[i].height > 0)
			buf_addf(&b, ",RESOLUTION=%dx%d", r[i].width,
			    r[i].height);
		if (r[i].frame_rate > 0)
			buf_addf(&b, ",FRAME-RATE=%.3f", r[i].frame_rate);
		if (r[i].codecs != NULL && r[i].codecs[0] != '\0')
			add_quoted(&b, "CODECS", r[i].codecs);
		if (r[i].name != NULL && r[i].name[0] != '\0')
			add_quoted(&b, "NAME", r[i].name);
		buf_addf(&b, "\n%s\n", r[i].uri);
	}
	if (write_atomic(path, b.data, b.len) != 0) {
		*cause = xprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return (rc);
}

/* Finds a NAL unit of the given type in Annex B data and returns it
 * with the emulation prevention bytes of its first max bytes removed
 * (into out); returns the length, or 0 if there is none. */
static size_t
annexb_nal(const uint8_t *p, size_t n, int hevc, int type, uint8_t *out,
    size_t max)
{
	size_t	i, j, len;
	int	t, zeros;

	for (i = 0; i + 3 < n; i++) {
		if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1)
			continue;
		i += 3;
		t = hevc ? (p[i] >> 1) & 0x3f : p[i] & 0x1f;
		if (t != type)
			continue;
		len = 0;
		zeros = 0;
		for (j = i; j < n && len < max; j++) {
			if (zeros >= 2 && p[j] == 3) {
				zeros = 0;
				continue;
			}
			if (zeros >= 2 && p[j] <= 1)
				break;	/* the next start code */
			zeros = p[j] == 0 ? zeros + 1 : 0;
			out[len++] = p[j];
		}
		return (len);
	}
	return (0);
}

static uint32_t
reverse32(uint32_t v)
{
	uint32_t	r = 0;
	int		i;

	for (i = 0; i < 32; i++) {
		r = (r << 1) | (v & 1);
		v >>= 1;
	}
	return (r);
}

/* avc1.PPCCLL (RFC 6381 3.3): profile_idc, the constraint flags and
 * level_idc of the SPS, from avcC or Annex B extradata. */
static int
avc_string(const AVCodecParameters *par, char *buf, size_t size)
{
	uint8_t	sps[8];
	int	profile, compat, level;

	if (par->extradata_size >= 4 && par->extradata[0] == 1) {
		profile = par->extradata[1];
		compat = par->extradata[2];
		level = par->extradata[3];
	} else if (par->extradata_size > 0 &&
	    annexb_nal(par->extradata, (size_t)par->extradata_size, 0, 7, sps,
	    sizeof sps) >= 4) {
		profile = sps[1];
		compat = sps[2];
		level = sps[3];
	} else if (par->profile != FF_PROFILE_UNKNOWN && par->profile > 0) {
		profile = par->profile & 0xff;
		compat = 0;
		if (par->profile & FF_PROFILE_H264_CONSTRAINED)
			compat |= 0x40;
		if (par->profile & FF_PROFILE_H264_INTRA)
			compat |= 0x10;
		level = par->level > 0 ? par->level : 30;
	} else {
		profile = 0x42;
		compat = 0xe0;
		level = par->level > 0 ? par->level : 30;
	}
	return (snprintf(buf, size, "avc1.%02x%02x%02x", profile & 0xff,
	    compat & 0xff, level & 0xff));
}

/* hvc1.<space><profile>.<compat>.<tier><level>.<constraints> (ISO/IEC
 * 14496-15 E.3), from the profile_tier_level of hvcC or the SPS. */
static int
hevc_string(const AVCodecParameters *par, char *buf, size_t size)
{
	static const char	*spaces[] = { "", "A", "B", "C" };
	uint8_t			 ptl[12], nal[16];
	uint32_t		 compat;
	int			 profile, n, last, i;
	size_t			 len;

	if (par->extradata_size >= 13 && par->extradata[0] == 1)
		memcpy(ptl, par->extradata + 1, sizeof ptl);
	else if (par->extradata_size > 0 &&
	    annexb_nal(par->extradata, (size_t)par->extradata_size, 1, 33, nal,
	    sizeof nal) >= 15)
		memcpy(ptl, nal + 3, sizeof ptl);
	else {
		profile = par->profile > 0 ? par->profile : 1;
		if (profile > 31)
			profile = 1;
		compat = 1U << profile;
		if (profile == 1)
			compat |= 1U << 2;
		return (snprintf(buf, size, "hvc1.%d.%" PRIX32 ".L%d.B0",
		    profile, compat, par->level > 0 ? par->level : 93));
	}
	compat = reverse32(AV_RB32(ptl + 1));
	n = snprintf(buf, size, "hvc1.%s%d.%" PRIX32 ".%c%d",
	    spaces[ptl[0] >> 6], ptl[0] & 0x1f, compat,
	    ptl[0] & 0x20 ? 'H' : 'L', ptl[11]);
	for (last = 10; last >= 5 && ptl[last] == 0; last--)
		;
	for (i = 5; i <= last && n >= 0 && (size_t)n < size; i++) {
		len = strlen(buf);
		n = snprintf(buf + len, size - len, ".%X", ptl[i]);
		if (n >= 0)
			n += (int)len;
	}
	return (n);
}

/* mp4a.40.<audio object type> (RFC 6381 3.3): from the
 * AudioSpecificConfig, where HE-AAC may be signalled explicitly, else
 * from the profile; LC when nothing says otherwise. */
static int
aac_string(const AVCodecParameters *par, char *buf, size_t size)
{
	const uint8_t	*e = par->extradata;
	int		 aot = 0;

	if (par->extradata_size >= 2) {
		aot = e[0] >> 3;
		if (aot == 31)
			aot = 32 + (((e[0] & 7) << 3) | (e[1] >> 5));
	}
	if (aot == 0 || aot == 2) {
		if (par->profile == FF_PROFILE_AAC_HE)
			aot = 5;
		else if (par->profile == FF_PROFILE_AAC_HE_V2)
			aot = 29;
		else if (aot == 0)
			aot = 2;
	}
	return (snprintf(buf, size, "mp4a.40.%d", aot));
}

/* The CODECS attribute of a master playlist needs one name per stream;
 * these are the names the HLS authoring specification uses. */
const char *
hls_codec_string(const AVCodecParameters *par, char *buf, size_t size)
{
	int	n;

	if (buf == NULL || size == 0)
		return (NULL);
	switch (par->codec_id) {
	case AV_CODEC_ID_H264:
		n = avc_string(par, buf, size);
		break;
	case AV_CODEC_ID_HEVC:
		n = hevc_string(par, buf, size);
		break;
	case AV_CODEC_ID_AAC:
		n = aac_string(par, buf, size);
		break;
	case AV_CODEC_ID_MP3:
		n = snprintf(buf, size, "mp4a.40.34");
		break;
	case AV_CODEC_ID_AC3:
		n = snprintf(buf, size, "ac-3");
		break;
	case AV_CODEC_ID_EAC3:
		n = snprintf(buf, size, "ec-3");
		break;
	default:
		return (NULL);
	}
	if (n < 0 || (size_t)n >= size)
		return (NULL);
	return (buf);
}
