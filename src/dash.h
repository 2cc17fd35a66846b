/* DASH output (ISO/IEC 23009-1 live profile): libavformat's dash muxer
 * writing manifest.mpd and its segments into one folder, with the
 * manifest and every segment published through a temporary name and a
 * rename. */
#ifndef AMPS_DASH_H
#define AMPS_DASH_H

#include <libavcodec/avcodec.h>

#include "hls.h"

struct dash_opts {
	const char	*dir;		/* absolute; created if missing */
	int		 segment_ms;
	int		 window_size;	/* segments in the manifest */
	int		 keep_extra;	/* segments kept after they leave it */
	const AVDictionary *format_options;
};

struct dash;

/* Opens the muxer for the streams (struct hls_stream, as for HLS).
 * Returns NULL with *cause (caller frees). */
struct dash	*dash_open(const struct dash_opts *opts,
		    const struct hls_stream *streams, int nb_streams,
		    char **cause);
/* Writes one packet (not consumed or changed).  Returns 0, or -1 with
 * *cause. */
int		 dash_write(struct dash *d, const AVPacket *pkt, char **cause);
/* Writes the trailer (the manifest becomes static with final) and frees
 * d; NULL is allowed. */
int		 dash_close(struct dash *d, int final, char **cause);
/* 1 once a manifest listing at least one segment has been written. */
int		 dash_ready(const struct dash *d);

#endif
