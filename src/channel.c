#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "profile.h"
#include "region.h"
#include "xmalloc.h"

#define CH(m)	offsetof(struct channel, m)
#define VA(m)	offsetof(struct variant, m)
#define PR(m)	offsetof(struct program, m)
#define CC(m)	offsetof(struct custom_cmd, m)

/* Names that end up in URLs and folder names (variants, profiles). */
static int
check_token(const void *value, char **cause)
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

static int
check_region(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;

	if (!region_valid(s)) {
		*cause = xprintf("'%s' is not an ISO 3166-1 alpha-2 country "
		    "code", s);
		return (-1);
	}
	return (0);
}

/* Input format names as libavformat spells them ("lavfi", "mpegts"). */
static int
check_format_name(const void *value, char **cause)
{
	const char	*s = *(char *const *)value, *p;

	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != ',') {
			*cause = xprintf("'%s' is not a format name", s);
			return (-1);
		}
	}
	return (0);
}

static int
check_window(const void *obj, char *key, char **cause)
{
	const struct schedule	*w = obj;

	if (w->start != 0 && w->end != 0 && w->end <= w->start) {
		snprintf(key, SCHEMA_KEYSIZE, "end");
		*cause = xstrdup("must be later than start");
		return (-1);
	}
	return (0);
}

static int
check_program(const void *obj, char *key, char **cause)
{
	const struct program	*p = obj;

	if (p->start != 0 && p->end != 0 && p->end <= p->start) {
		snprintf(key, SCHEMA_KEYSIZE, "end");
		*cause = xstrdup("must be later than start");
		return (-1);
	}
	return (0);
}

static const char *const hwaccel_types[] = { "nvidia", "vaapi", "qsv", NULL };
static const char *const handler_types[] = { "yt_dlp", NULL };

static const struct schema_field custom_cmd_fields[] = {
	{ .name = "command", .type = SCHEMA_STRING, .offset = CC(command),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 8192,
	  .help = "the command; {source}, {id} and {name} are expanded" },
	{ .name = "shell", .type = SCHEMA_BOOL, .offset = CC(shell),
	  .help = "run through /bin/sh -c (otherwise split into words)" },
	{ .name = "cwd", .type = SCHEMA_STRING, .offset = CC(cwd),
	  .max = 4096, .help = "working directory" },
	{ .name = "env", .type = SCHEMA_MAP, .offset = CC(env), .max = 64,
	  .help = "environment variables added" },
	{ .name = NULL }
};

const struct schema custom_cmd_schema = {
	.name = "custom_ffmpeg", .size = sizeof(struct custom_cmd),
	.fields = custom_cmd_fields, .strform = 1,
};

static const struct schema_field hwaccel_fields[] = {
	{ .name = "type", .type = SCHEMA_STRING,
	  .offset = offsetof(struct hwaccel, type),
	  .flags = SCHEMA_REQUIRED | SCHEMA_LOWER, .choices = hwaccel_types,
	  .help = "nvidia, vaapi or qsv" },
	{ .name = "device", .type = SCHEMA_STRING,
	  .offset = offsetof(struct hwaccel, device), .flags = SCHEMA_TEXT,
	  .max = 256, .help = "device index or path" },
	{ .name = NULL }
};

static const struct schema hwaccel_schema = {
	.name = "hwaccel", .size = sizeof(struct hwaccel),
	.fields = hwaccel_fields,
};

static const struct schema_field handler_fields[] = {
	{ .name = "type", .type = SCHEMA_STRING,
	  .offset = offsetof(struct source_handler, type),
	  .flags = SCHEMA_REQUIRED | SCHEMA_LOWER, .choices = handler_types,
	  .help = "yt_dlp" },
	{ .name = "format", .type = SCHEMA_STRING,
	  .offset = offsetof(struct source_handler, format), .max = 256,
	  .help = "yt-dlp format selector" },
	{ .name = "options", .type = SCHEMA_MAP,
	  .offset = offsetof(struct source_handler, options), .max = 64,
	  .help = "yt-dlp options" },
	{ .name = NULL }
};

static const struct schema handler_schema = {
	.name = "source_handler", .size = sizeof(struct source_handler),
	.fields = handler_fields,
};

static const struct schema_field schedule_fields[] = {
	{ .name = "start", .type = SCHEMA_TIME,
	  .offset = offsetof(struct schedule, start),
	  .help = "ISO 8601; omitted: open" },
	{ .name = "end", .type = SCHEMA_TIME,
	  .offset = offsetof(struct schedule, end),
	  .help = "ISO 8601; omitted: open" },
	{ .name = NULL }
};

static const struct schema schedule_schema = {
	.name = "schedule", .size = sizeof(struct schedule),
	.fields = schedule_fields, .check = check_window,
};

static const struct schema_field program_fields[] = {
	{ .name = "title", .type = SCHEMA_STRING, .offset = PR(title),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 1000 },
	{ .name = "start", .type = SCHEMA_TIME, .offset = PR(start) },
	{ .name = "end", .type = SCHEMA_TIME, .offset = PR(end) },
	{ .name = "description", .type = SCHEMA_STRING,
	  .offset = PR(description), .max = 10000 },
	{ .name = "sub_title", .type = SCHEMA_STRING, .offset = PR(sub_title),
	  .max = 1000 },
	{ .name = "categories", .type = SCHEMA_STRLIST,
	  .offset = PR(categories), .max = 32 },
	{ .name = "episode_num", .type = SCHEMA_STRING,
	  .offset = PR(episode_num), .max = 100 },
	{ .name = "icon", .type = SCHEMA_STRING, .offset = PR(icon),
	  .max = 2048 },
	{ .name = NULL }
};

const struct schema program_schema = {
	.name = "program", .size = sizeof(struct program),
	.fields = program_fields, .check = check_program,
};

static const struct schema_field variant_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING, .offset = VA(name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 32,
	  .check = check_token, .help = "used as ?variant=<name>" },
	{ .name = "label", .type = SCHEMA_STRING, .offset = VA(label),
	  .max = 64, .help = "shown as \"Name (LABEL)\"" },
	{ .name = "ffmpeg_profile", .type = SCHEMA_STRING,
	  .offset = VA(ffmpeg_profile), .max = 64 },
	{ .name = "custom_ffmpeg", .type = SCHEMA_OBJECT,
	  .offset = VA(custom_ffmpeg), .sub = &custom_cmd_schema },
	{ .name = "source", .type = SCHEMA_STRING, .offset = VA(source),
	  .flags = SCHEMA_NONEMPTY, .max = 4096 },
	{ .name = "input_options", .type = SCHEMA_MAP,
	  .offset = VA(input_options), .max = 64 },
	{ .name = "input_args", .type = SCHEMA_STRLIST,
	  .offset = VA(input_args), .max = 64 },
	{ .name = NULL }
};

const struct schema variant_schema = {
	.name = "variant", .size = sizeof(struct variant),
	.fields = variant_fields,
};

static int
check_channel(const void *obj, char *key, char **cause)
{
	const struct channel	*ch = obj;
	const struct variant	*v, *w;
	size_t			 i, j;

	if (ch->ffmpeg_profile == NULL && ch->custom_ffmpeg.command == NULL) {
		snprintf(key, SCHEMA_KEYSIZE, "ffmpeg_profile");
		*cause = xstrdup("a stream needs ffmpeg_profile or "
		    "custom_ffmpeg");
		return (-1);
	}
	for (i = 0; i < ch->regions_blocked.n; i++) {
		if (strlist_contains(&ch->regions_allowed,
		    ch->regions_blocked.v[i], 0)) {
			snprintf(key, SCHEMA_KEYSIZE, "regions_blocked[%zu]",
			    i);
			*cause = xprintf("'%s' is also in regions_allowed",
			    ch->regions_blocked.v[i]);
			return (-1);
		}
	}
	for (i = 0; i < ch->adaptive_bitrates.n; i++) {
		v = schema_list_at(&variant_schema, &ch->adaptive_bitrates, i);
		for (j = 0; j < i; j++) {
			w = schema_list_at(&variant_schema,
			    &ch->adaptive_bitrates, j);
			if (strcmp(v->name, w->name) == 0) {
				snprintf(key, SCHEMA_KEYSIZE,
				    "adaptive_bitrates[%zu].name", i);
					*cause = xprintf("variant '%s' is defined "
				    "twice", v->name);
				return (-1);
			}
		}
	}
	return (0);
}

static const struct schema_field channel_fields[] = {
	{ .name = "id", .type = SCHEMA_INT, .offset = CH(id),
	  .flags = SCHEMA_REQUIRED, .min = 1, .max = 2147483647,
	  .help = "unique integer identifier" },
	{ .name = "name", .type = SCHEMA_STRING, .offset = CH(name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 200,
	  .help = "display name" },
	{ .name = "source", .type = SCHEMA_STRING, .offset = CH(source),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 4096,
	  .help = "input URL or file path" },
	{ .name = "input_format", .type = SCHEMA_STRING,
	  .offset = CH(input_format), .max = 64, .check = check_format_name,
	  .help = "force the input format (ffmpeg -f), e.g. lavfi" },
	{ .name = "ffmpeg_profile", .type = SCHEMA_STRING,
	  .offset = CH(ffmpeg_profile), .max = 64,
	  .help = "profile name (required unless custom_ffmpeg)" },
	{ .name = "custom_ffmpeg", .type = SCHEMA_OBJECT,
	  .offset = CH(custom_ffmpeg), .sub = &custom_cmd_schema,
	  .help = "a command, or { command, shell, cwd, env }" },
	{ .name = "tvg_name", .type = SCHEMA_STRING, .offset = CH(tvg_name),
	  .max = 200 },
	{ .name = "epg_id", .type = SCHEMA_STRING, .offset = CH(epg_id),
	  .flags = SCHEMA_NONEMPTY, .max = 200 },
	{ .name = "logo", .type = SCHEMA_STRING, .offset = CH(logo),
	  .max = 2048 },
	{ .name = "group", .type = SCHEMA_STRING, .offset = CH(group),
	  .max = 200 },
	{ .name = "channel_number", .type = SCHEMA_INT,
	  .offset = CH(channel_number), .min = 0, .max = 999999,
	  .help = "0: none" },
	{ .name = "description", .type = SCHEMA_STRING,
	  .offset = CH(description), .max = 10000 },
	{ .name = "program_feed", .type = SCHEMA_STRING,
	  .offset = CH(program_feed), .max = 2048 },
	{ .name = "next_programs", .type = SCHEMA_LIST,
	  .offset = CH(next_programs), .flags = SCHEMA_NOSQL, .max = 1000,
	  .sub = &program_schema, .help = "stored in programmes" },
	{ .name = "regions_allowed", .type = SCHEMA_STRLIST,
	  .offset = CH(regions_allowed), .flags = SCHEMA_UPPER, .max = 300,
	  .check = check_region },
	{ .name = "regions_blocked", .type = SCHEMA_STRLIST,
	  .offset = CH(regions_blocked), .flags = SCHEMA_UPPER, .max = 300,
	  .check = check_region },
	{ .name = "adaptive_bitrates", .type = SCHEMA_LIST,
	  .offset = CH(adaptive_bitrates), .flags = SCHEMA_NOSQL, .max = 16,
	  .sub = &variant_schema, .help = "stored in variants" },
	{ .name = "use_yt_dlp", .type = SCHEMA_BOOL, .offset = CH(use_yt_dlp) },
	{ .name = "yt_dlp_format", .type = SCHEMA_STRING,
	  .offset = CH(yt_dlp_format), .max = 256 },
	{ .name = "source_handler", .type = SCHEMA_OBJECT,
	  .offset = CH(source_handler), .sub = &handler_schema },
	{ .name = "input_options", .type = SCHEMA_MAP,
	  .offset = CH(input_options), .max = 64 },
	{ .name = "input_args", .type = SCHEMA_STRLIST,
	  .offset = CH(input_args), .max = 64 },
	{ .name = "output_format", .type = SCHEMA_STRING,
	  .offset = CH(output_format), .flags = SCHEMA_LOWER,
	  .choices = profile_output_formats },
	{ .name = "ll_hls", .type = SCHEMA_BOOL, .offset = CH(ll_hls) },
	{ .name = "segment_duration", .type = SCHEMA_INT,
	  .offset = CH(segment_duration), .min = 0, .max = 60,
	  .help = "HLS/DASH segment seconds; 0 = the profile's" },
	{ .name = "playlist_size", .type = SCHEMA_INT,
	  .offset = CH(playlist_size), .min = 0, .max = 1000,
	  .help = "segments listed; 0 = the profile's" },
	{ .name = "audio_only", .type = SCHEMA_BOOL, .offset = CH(audio_only) },
	{ .name = "hwaccel", .type = SCHEMA_OBJECT, .offset = CH(hwaccel),
	  .sub = &hwaccel_schema },
	{ .name = "always_on", .type = SCHEMA_BOOL, .offset = CH(always_on),
	  .help = "never stopped for lack of viewers" },
	{ .name = "schedule", .type = SCHEMA_OBJECT, .offset = CH(schedule),
	  .sub = &schedule_schema, .help = "{ start, end }: visible window" },
	{ .name = NULL }
};

const struct schema channel_schema = {
	.name = "stream", .size = sizeof(struct channel),
	.fields = channel_fields, .check = check_channel,
};

struct channel *
channel_new(void)
{
	struct channel	*ch;

	ch = xcalloc(1, sizeof *ch);
	schema_defaults(&channel_schema, ch);
	return (ch);
}

void
channel_free(struct channel *ch)
{
	if (ch == NULL)
		return;
	schema_free(&channel_schema, ch);
	free(ch);
}

struct channel *
channel_dup(const struct channel *ch)
{
	struct channel	*copy;

	copy = xcalloc(1, sizeof *copy);
	schema_copy(&channel_schema, copy, ch);
	return (copy);
}

/* P6: a scheduled channel exists only inside [start, end). */
int
channel_in_window(const struct channel *ch, int64_t now)
{
	if (ch->schedule.start != 0 && now < ch->schedule.start)
		return (0);
	if (ch->schedule.end != 0 && now >= ch->schedule.end)
		return (0);
	return (1);
}

int
channel_region_permits(const struct channel *ch, const char *region)
{
	return (region_permits((const char *const *)ch->regions_allowed.v,
	    ch->regions_allowed.n, (const char *const *)ch->regions_blocked.v,
	    ch->regions_blocked.n, region));
}

const char *
channel_epg_key(const struct channel *ch, char *buf, size_t size)
{
	if (ch->epg_id != NULL)
		return (ch->epg_id);
	snprintf(buf, size, "%lld", ch->id);
	return (buf);
}

const struct variant *
channel_variant(const struct channel *ch, const char *name)
{
	const struct variant	*v;
	size_t			 i;

	for (i = 0; i < ch->adaptive_bitrates.n; i++) {
		v = schema_list_at(&variant_schema, &ch->adaptive_bitrates, i);
		if (strcmp(v->name, name) == 0)
			return (v);
	}
	return (NULL);
}
