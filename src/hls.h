/* The HLS segmenter (RFC 8216, and the low-latency extensions of
 * RFC 8216bis: EXT-X-PART, EXT-X-PRELOAD-HINT, EXT-X-SERVER-CONTROL).
 * One struct hls writes one rendition into one folder: MPEG-TS or fMP4
 * segments, optional partial segments, and index.m3u8.  Segments are
 * closed before they are listed and the playlist is written to a
 * temporary name and renamed over the old one.  A segmenter opened on a
 * folder that already holds a playlist carries on its media sequence
 * (after an EXT-X-DISCONTINUITY), so players never see the sequence go
 * back when a pipeline restarts. */
#ifndef AMPS_HLS_H
#define AMPS_HLS_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

enum hls_segment_type {
	HLS_SEGMENT_TS = 0,
	HLS_SEGMENT_FMP4,
};

struct hls_opts {
	const char	*dir;		/* absolute; created if missing */
	enum hls_segment_type type;
	int		 segment_ms;	/* target segment length */
	int		 part_ms;	/* LL-HLS part length; 0 = no parts */
	int		 playlist_size;	/* segments listed */
	int		 keep_extra;	/* segments kept on disk after they
					   leave the playlist (players may
					   still fetch them) */
	const AVDictionary *format_options; /* given to the muxer, may be
					   NULL */
	uint64_t	 first_sequence; /* the first new segment's number is
					   at least this (renditions of a
					   ladder share their numbers); what
					   an earlier run listed is dropped
					   when it would leave a gap */
};

/* One elementary stream of the rendition, as the pipeline hands it over:
 * its parameters and the time base of the packets given to hls_write. */
struct hls_stream {
	const AVCodecParameters *par;
	AVRational	 time_base;
};

struct hls;

/* Opens a segmenter for the streams (at most one video stream; packets
 * are cut into segments on its keyframes, or on time alone when there is
 * no video).  Nothing is listed before the first segment or part is
 * complete.  Returns NULL with *cause (caller frees). */
struct hls	*hls_open(const struct hls_opts *opts,
		    const struct hls_stream *streams, int nb_streams,
		    char **cause);
/* Writes one packet (pkt->stream_index indexes streams, timestamps in
 * that stream's time_base; the packet is not consumed or changed).  A
 * segment or part that is complete is closed and published.  Returns 0,
 * or -1 with *cause when the disk refuses (the segmenter stays usable:
 * the next call tries again and a later success is published with a
 * discontinuity). */
int		 hls_write(struct hls *h, const AVPacket *pkt, char **cause);
/* The next segment starts with EXT-X-DISCONTINUITY: call on a timestamp
 * jump or a reopened input.  Timestamps after it may restart anywhere. */
void		 hls_discontinuity(struct hls *h);
/* Closes and publishes the open segment; with final the playlist ends
 * with EXT-X-ENDLIST.  Frees h; NULL is allowed.  Returns 0, or -1 with
 * *cause (h is freed either way). */
int		 hls_close(struct hls *h, int final, char **cause);
/* 1 once a playlist listing at least one segment (or, with parts, one
 * part) has been published. */
int		 hls_ready(const struct hls *h);
/* The media sequence number of the next segment to be listed. */
uint64_t	 hls_next_sequence(const struct hls *h);
/* Peak and average bit rate (bits/s) of the segments written so far; 0
 * before the first. */
void		 hls_bitrates(const struct hls *h, int64_t *peak,
		    int64_t *average);

/* One entry of a master playlist. */
struct hls_rendition {
	const char	*uri;		/* relative, "sd/index.m3u8" */
	const char	*name;		/* NAME / label, may be NULL */
	int64_t		 bandwidth;	/* peak bits/s */
	int64_t		 average_bandwidth; /* 0 = not known */
	int		 width, height;	/* 0 = audio only */
	double		 frame_rate;	/* 0 = not known */
	const char	*codecs;	/* "avc1.64001f,mp4a.40.2" */
};

/* Writes a master playlist (RFC 8216 4.3.4.2) listing renditions, to
 * path through a temporary file and rename.  Returns 0, or -1 with
 * *cause. */
int		 hls_write_master(const char *path,
		    const struct hls_rendition *r, int n, char **cause);
/* The RFC 6381 codecs string of one stream ("avc1.64001f", "mp4a.40.2",
 * "hvc1...", "ac-3", "mp4a.40.34"), written into buf; returns buf, or
 * NULL when the codec has no HLS name. */
const char	*hls_codec_string(const AVCodecParameters *par, char *buf,
		    size_t size);

#endif
