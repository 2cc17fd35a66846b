#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "xmalloc.h"

#define PF(m)	offsetof(struct profile, m)

static const char *const segment_types[] = { "mpegts", "fmp4", NULL };

const char *const profile_output_formats[] = {
	"ts", "hls", "ll-hls", "dash", "rtsp", "audio", "mse", NULL
};

/* Codec and preset names as FFmpeg spells them. */
static int
check_name(const void *value, char **cause)
{
	const char	*s = *(char *const *)value, *p;

	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			*cause = xprintf("'%s' may only hold letters, digits, "
			    "'-' and '_'", s);
			return (-1);
		}
	}
	return (0);
}

/* "1280x720": both even, as the H.264 4:2:0 encoders need. */
static int
check_size(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;
	char		*end;
	long		 w, h;

	w = strtol(s, &end, 10);
	if (end == s || *end != 'x')
		goto bad;
	s = end + 1;
	h = strtol(s, &end, 10);
	if (end == s || *end != '\0')
		goto bad;
	if (w < 16 || h < 16 || w > 8192 || h > 8192 || w % 2 || h % 2)
		goto bad;
	return (0);
bad:
	*cause = xprintf("'%s' is not a frame size WIDTHxHEIGHT (even, 16 to "
	    "8192), like 1280x720", *(char *const *)value);
	return (-1);
}

/* "25", "29.97" or "30000/1001". */
static int
check_fps(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;
	char		*end;
	double		 num, den = 1;

	num = strtod(s, &end);
	if (end != s && *end == '/') {
		s = end + 1;
		den = strtod(s, &end);
	}
	if (end == s || *end != '\0' || !(num > 0) || !(den > 0) ||
	    num / den > 1000) {
		*cause = xprintf("'%s' is not a frame rate (like 25 or "
		    "30000/1001)", *(char *const *)value);
		return (-1);
	}
	return (0);
}

static int
check_profile(const void *obj, char *key, char **cause)
{
	const struct profile	*p = obj;

	if (p->video_codec != NULL && p->audio_codec != NULL &&
	    strcmp(p->video_codec, "none") == 0 &&
	    strcmp(p->audio_codec, "none") == 0) {
		snprintf(key, SCHEMA_KEYSIZE, "audio_codec");
		*cause = xstrdup("a profile needs video or audio");
		return (-1);
	}
	if (p->maxrate != 0 && p->video_bitrate != 0 &&
	    p->maxrate < p->video_bitrate) {
		snprintf(key, SCHEMA_KEYSIZE, "maxrate");
		*cause = xstrdup("must not be below video_bitrate");
		return (-1);
	}
	return (0);
}

static const struct schema_field profile_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING, .offset = PF(name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 64,
	  .check = check_name },
	{ .name = "video_codec", .type = SCHEMA_STRING,
	  .offset = PF(video_codec), .def = "copy", .max = 64,
	  .flags = SCHEMA_NONEMPTY, .check = check_name,
	  .help = "copy, none, or an encoder (libx264, h264_nvenc, ...)" },
	{ .name = "video_bitrate", .type = SCHEMA_BITRATE,
	  .offset = PF(video_bitrate), .min = 1000, .max = 1000000000 },
	{ .name = "maxrate", .type = SCHEMA_BITRATE, .offset = PF(maxrate),
	  .min = 1000, .max = 1000000000 },
	{ .name = "bufsize", .type = SCHEMA_BITRATE, .offset = PF(bufsize),
	  .min = 1000, .max = 1000000000 },
	{ .name = "preset", .type = SCHEMA_STRING, .offset = PF(preset),
	  .max = 32, .check = check_name },
	{ .name = "tune", .type = SCHEMA_STRING, .offset = PF(tune),
	  .max = 32, .check = check_name },
	{ .name = "size", .type = SCHEMA_STRING, .offset = PF(size),
	  .check = check_size, .help = "WIDTHxHEIGHT" },
	{ .name = "fps", .type = SCHEMA_STRING, .offset = PF(fps),
	  .flags = SCHEMA_TEXT, .check = check_fps },
	{ .name = "gop", .type = SCHEMA_INT, .offset = PF(gop), .min = 0,
	  .max = 1000, .help = "frames between keyframes" },
	{ .name = "pix_fmt", .type = SCHEMA_STRING, .offset = PF(pix_fmt),
	  .max = 32, .check = check_name },
	{ .name = "audio_codec", .type = SCHEMA_STRING,
	  .offset = PF(audio_codec), .def = "copy", .max = 64,
	  .flags = SCHEMA_NONEMPTY, .check = check_name },
	{ .name = "audio_bitrate", .type = SCHEMA_BITRATE,
	  .offset = PF(audio_bitrate), .min = 8000, .max = 10000000 },
	{ .name = "audio_channels", .type = SCHEMA_INT,
	  .offset = PF(audio_channels), .min = 0, .max = 8 },
	{ .name = "audio_sample_rate", .type = SCHEMA_INT,
	  .offset = PF(audio_sample_rate), .min = 0, .max = 192000 },
	{ .name = "output_format", .type = SCHEMA_STRING,
	  .offset = PF(output_format), .def = "ts", .flags = SCHEMA_LOWER,
	  .choices = profile_output_formats },
	{ .name = "segment_duration", .type = SCHEMA_INT,
	  .offset = PF(segment_duration), .def = "4", .min = 1, .max = 60,
	  .help = "HLS/DASH segment length in seconds" },
	{ .name = "playlist_size", .type = SCHEMA_INT,
	  .offset = PF(playlist_size), .def = "6", .min = 2, .max = 1000,
	  .help = "segments listed in a live playlist" },
	{ .name = "hls_segment_type", .type = SCHEMA_STRING,
	  .offset = PF(hls_segment_type), .def = "mpegts",
	  .flags = SCHEMA_LOWER, .choices = segment_types,
	  .help = "mpegts or fmp4" },
	{ .name = "part_duration_ms", .type = SCHEMA_INT,
	  .offset = PF(part_duration_ms), .def = "500", .min = 100,
	  .max = 5000, .help = "LL-HLS partial segment length" },
	{ .name = "video_options", .type = SCHEMA_MAP,
	  .offset = PF(video_options), .max = 64 },
	{ .name = "audio_options", .type = SCHEMA_MAP,
	  .offset = PF(audio_options), .max = 64 },
	{ .name = "format_options", .type = SCHEMA_MAP,
	  .offset = PF(format_options), .max = 64 },
	{ .name = NULL }
};

const struct schema profile_schema = {
	.name = "profile", .size = sizeof(struct profile),
	.fields = profile_fields, .check = check_profile,
};

static struct profile	builtins[2];
static pthread_once_t	builtins_once = PTHREAD_ONCE_INIT;

static void
init_builtins(void)
{
	struct profile	*p;

	p = &builtins[0];
	schema_defaults(&profile_schema, p);
	p->name = xstrdup("copy");
	p->builtin = 1;

	p = &builtins[1];
	schema_defaults(&profile_schema, p);
	p->name = xstrdup("audio");
	free(p->video_codec);
	p->video_codec = xstrdup("none");
	free(p->audio_codec);
	p->audio_codec = xstrdup("aac");
	p->audio_bitrate = 128000;
	free(p->output_format);
	p->output_format = xstrdup("audio");
	p->builtin = 1;
}

const struct profile *
profile_builtins(size_t *n)
{
	pthread_once(&builtins_once, init_builtins);
	*n = sizeof builtins / sizeof builtins[0];
	return (builtins);
}

const struct profile *
profile_builtin(const char *name)
{
	const struct profile	*b;
	size_t			 i, n;

	b = profile_builtins(&n);
	for (i = 0; i < n; i++) {
		if (strcmp(b[i].name, name) == 0)
			return (&b[i]);
	}
	return (NULL);
}
