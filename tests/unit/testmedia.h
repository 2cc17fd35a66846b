/* Test media made at test time with libavcodec, for the suites of the
 * muxers (hls, dash): no media files in the tree, and every run encodes
 * the same picture and tone.  A failure inside a helper fails the running
 * test, as in testutil.h. */
#ifndef AMPS_TESTMEDIA_H
#define AMPS_TESTMEDIA_H

#include <stdint.h>

#include <libavcodec/avcodec.h>

#include "hls.h"

/* H.264 (libx264, 320x240 at 25 fps, 1 s GOP, B-frames) as stream 0 and
 * stereo AAC (48 kHz, 440 Hz tone) as stream 1, interleaved by decode
 * time. */
struct tm_media {
	AVCodecParameters	*vpar, *apar;
	AVRational		 vtb, atb;
	AVPacket		**pkts;
	int64_t			*us;	/* dts of each, in microseconds */
	int			 n;
};

/* Encodes seconds of video and audio into *m (emptied first); free with
 * tm_free().  libx264 is needed. */
void	 tm_make(int seconds, struct tm_media *m);
/* Frees what tm_make() made and empties *m. */
void	 tm_free(struct tm_media *m);
/* Fills st[0] (video) and st[1] (audio) with the parameters and time
 * bases of m, which must outlive them. */
void	 tm_streams(const struct tm_media *m, struct hls_stream *st);

/* Returns dir/name (caller frees). */
char	*tm_path(const char *dir, const char *name);
/* Returns the size of dir/name in bytes, or -1 if it does not exist. */
long long tm_size(const char *dir, const char *name);

#endif
