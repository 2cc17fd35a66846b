/* The channel model: a channel ("stream" in amps.conf), its variants
 * (adaptive_bitrates), its upcoming programmes (next_programs) and the
 * tables that describe them (see schema.h).  The keys are those of the
 * seed's Stream Configuration Reference, plus schedule and always_on. */
#ifndef AMPS_CHANNEL_H
#define AMPS_CHANNEL_H

#include <stdint.h>

#include "schema.h"

/* custom_ffmpeg: a string (the command) or a mapping. */
struct custom_cmd {
	char		*command;	/* NULL = no custom command */
	int		 shell;
	char		*cwd;
	struct kvlist	 env;
};

struct hwaccel {
	char		*type;		/* nvidia, vaapi, qsv; NULL = none */
	char		*device;
};

struct source_handler {
	char		*type;		/* yt_dlp; NULL = none */
	char		*format;
	struct kvlist	 options;
};

/* One programme: next_programs entries, and (later) ingested guides. */
struct program {
	char		*title;
	int64_t		 start;		/* 0 = unknown */
	int64_t		 end;		/* 0 = unknown */
	char		*description;
	char		*sub_title;
	struct strlist	 categories;
	char		*episode_num;
	char		*icon;
};

/* One adaptive_bitrates entry: overrides of the channel's input and
 * profile, reached as /stream/<id>?variant=<name>. */
struct variant {
	char		*name;
	char		*label;
	char		*ffmpeg_profile;
	struct custom_cmd custom_ffmpeg;
	char		*source;
	struct kvlist	 input_options;
	struct strlist	 input_args;
};

/* A time window (scheduled_streams); 0 = open at that end. */
struct schedule {
	int64_t		 start;
	int64_t		 end;
};

struct channel {
	long long	 id;
	char		*name;
	char		*source;
	char		*input_format;
	char		*ffmpeg_profile;
	struct custom_cmd custom_ffmpeg;
	char		*tvg_name;
	char		*epg_id;
	char		*logo;
	char		*group;
	long long	 channel_number;	/* 0 = unset */
	char		*description;
	char		*program_feed;
	struct objlist	 next_programs;		/* struct program */
	struct strlist	 regions_allowed;
	struct strlist	 regions_blocked;
	struct objlist	 adaptive_bitrates;	/* struct variant */
	int		 use_yt_dlp;
	char		*yt_dlp_format;
	struct source_handler source_handler;
	struct kvlist	 input_options;
	struct strlist	 input_args;
	char		*output_format;
	int		 ll_hls;
	long long	 segment_duration;	/* 0 = the profile's */
	long long	 playlist_size;		/* 0 = the profile's */
	int		 audio_only;
	struct hwaccel	 hwaccel;
	int		 always_on;
	struct schedule	 schedule;

	/* Not keys: where the channel came from. */
	int		 scheduled;	/* listed under scheduled_streams */
};

extern const struct schema channel_schema;
extern const struct schema variant_schema;
extern const struct schema program_schema;
extern const struct schema custom_cmd_schema;

/* A new channel with every key at its default (caller frees with
 * channel_free). */
struct channel	*channel_new(void);
void		 channel_free(struct channel *ch);
struct channel	*channel_dup(const struct channel *ch);

/* Returns 1 if the channel's schedule window contains now (a channel
 * without a window is always inside it). */
int		 channel_in_window(const struct channel *ch, int64_t now);
/* Returns 1 if a viewer from region (normalised, or NULL when unknown)
 * may see the channel (region_permits on its lists). */
int		 channel_region_permits(const struct channel *ch,
		    const char *region);
/* The guide identifier: epg_id, else the id as text.  Writes into buf. */
const char	*channel_epg_key(const struct channel *ch, char *buf,
		    size_t size);
/* The variant named name, or NULL. */
const struct variant *channel_variant(const struct channel *ch,
		    const char *name);

#endif
