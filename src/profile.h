/* ffmpeg_profiles: how a channel is relayed or transcoded.  Option names
 * are libconfig-legal snake_case (video_codec, video_bitrate, ...).  The
 * profiles "copy" (remux to MPEG-TS) and "audio" (AAC) are built in; a
 * config may define its own of the same name to override them. */
#ifndef AMPS_PROFILE_H
#define AMPS_PROFILE_H

#include "schema.h"

struct profile {
	char		*name;
	char		*video_codec;	/* "copy", "none", or an encoder */
	long long	 video_bitrate;	/* bits/s, 0 = encoder default */
	long long	 maxrate;
	long long	 bufsize;
	char		*preset;
	char		*tune;
	char		*size;		/* "WxH", NULL = keep */
	char		*fps;		/* "25", "30000/1001", NULL = keep */
	long long	 gop;		/* frames, 0 = encoder default */
	char		*pix_fmt;
	char		*audio_codec;	/* "copy", "none", or an encoder */
	long long	 audio_bitrate;
	long long	 audio_channels;
	long long	 audio_sample_rate;
	char		*output_format;	/* ts hls ll-hls dash rtsp audio mse */
	long long	 segment_duration;	/* seconds */
	long long	 playlist_size;		/* segments listed */
	char		*hls_segment_type;	/* "mpegts" or "fmp4" */
	long long	 part_duration_ms;	/* LL-HLS parts */
	struct kvlist	 video_options;	/* encoder private options */
	struct kvlist	 audio_options;
	struct kvlist	 format_options;	/* muxer options */

	int		 builtin;	/* not a key: defined by amps */
};

extern const struct schema profile_schema;

/* The output formats a profile or channel may name. */
extern const char *const profile_output_formats[];

/* The built-in profiles, in order; n set to their count. */
const struct profile *profile_builtins(size_t *n);
/* Finds a built-in profile by name; NULL if none. */
const struct profile *profile_builtin(const char *name);

#endif
