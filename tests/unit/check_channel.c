#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "channel.h"
#include "profile.h"
#include "xmalloc.h"
#include "testutil.h"

/* A channel from API-style JSON, validated by the same tables as the
 * config file.  Returns NULL and fills err on a rejection. */
static struct channel *
from_json(const char *text, struct schema_error *err)
{
	struct channel	*ch;
	json_object	*j;

	j = json_tokener_parse(text);
	ck_assert_ptr_nonnull(j);
	ch = channel_new();
	if (schema_from_json(&channel_schema, j, ch, 0, "", err) != 0) {
		channel_free(ch);
		ch = NULL;
	}
	json_object_put(j);
	return (ch);
}

static void
assert_rejected(const char *text, const char *path, const char *needle)
{
	struct schema_error	err = { NULL, NULL };

	ck_assert_ptr_null(from_json(text, &err));
	ck_assert_str_eq(err.path, path);
	ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in '%s'",
	    needle, err.message);
	schema_error_clear(&err);
}

#define BASE "\"id\":3,\"name\":\"Three\",\"source\":\"/x.ts\""

START_TEST(test_window)
{
	struct schema_error	 err = { NULL, NULL };
	struct channel		*ch;

	ch = from_json("{" BASE ",\"ffmpeg_profile\":\"copy\",\"schedule\":"
	    "{\"start\":\"2026-11-21T18:00:00Z\",\"end\":\"2026-11-21T20:00:00Z\"}}",
	    &err);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(channel_in_window(ch, ch->schedule.start - 1), 0);
	ck_assert_int_eq(channel_in_window(ch, ch->schedule.start), 1);
	ck_assert_int_eq(channel_in_window(ch, ch->schedule.end - 1), 1);
	ck_assert_int_eq(channel_in_window(ch, ch->schedule.end), 0);
	/* Open ends. */
	ch->schedule.end = 0;
	ck_assert_int_eq(channel_in_window(ch, ch->schedule.start + 1000000),
	    1);
	ch->schedule.start = 0;
	ck_assert_int_eq(channel_in_window(ch, 0), 1);
	channel_free(ch);
}
END_TEST

START_TEST(test_regions)
{
	struct schema_error	 err = { NULL, NULL };
	struct channel		*ch;

	ch = from_json("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"regions_allowed\":[\"us\",\"gb\"]}", &err);
	ck_assert_ptr_nonnull(ch);
	ck_assert_str_eq(ch->regions_allowed.v[0], "US");
	ck_assert_int_eq(channel_region_permits(ch, "US"), 1);
	ck_assert_int_eq(channel_region_permits(ch, "FR"), 0);
	ck_assert_int_eq(channel_region_permits(ch, NULL), 0);
	channel_free(ch);

	ch = from_json("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"regions_blocked\":[\"FR\"]}", &err);
	ck_assert_int_eq(channel_region_permits(ch, "FR"), 0);
	ck_assert_int_eq(channel_region_permits(ch, "US"), 1);
	ck_assert_int_eq(channel_region_permits(ch, NULL), 1);
	channel_free(ch);
}
END_TEST

START_TEST(test_helpers)
{
	struct schema_error	 err = { NULL, NULL };
	struct channel		*ch, *copy;
	char			 buf[32];

	ch = from_json("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"adaptive_bitrates\":[{\"name\":\"sd\",\"label\":\"SD\"},"
	    "{\"name\":\"hd\"}]}", &err);
	ck_assert_ptr_nonnull(ch);
	ck_assert_str_eq(channel_epg_key(ch, buf, sizeof buf), "3");
	ck_assert_str_eq(channel_variant(ch, "sd")->label, "SD");
	ck_assert_ptr_nonnull(channel_variant(ch, "hd"));
	ck_assert_ptr_null(channel_variant(ch, "4k"));
	copy = channel_dup(ch);
	ck_assert_int_eq(schema_equal(&channel_schema, ch, copy), 1);
	free(copy->epg_id);
	copy->epg_id = xstrdup("three.example");
	ck_assert_str_eq(channel_epg_key(copy, buf, sizeof buf),
	    "three.example");
	ck_assert_int_eq(schema_equal(&channel_schema, ch, copy), 0);
	channel_free(copy);
	channel_free(ch);
}
END_TEST

START_TEST(test_rejections)
{
	assert_rejected("{" BASE "}", "ffmpeg_profile",
	    "ffmpeg_profile or custom_ffmpeg");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"regions_allowed\":[\"US\"],\"regions_blocked\":[\"US\"]}",
	    "regions_blocked[0]", "also in regions_allowed");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"adaptive_bitrates\":[{\"name\":\"a b\"}]}",
	    "adaptive_bitrates[0].name", "letters, digits");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"next_programs\":[{\"title\":\"t\","
	    "\"start\":\"2026-11-21T18:00:00Z\",\"end\":\"2026-11-21T17:00:00Z\"}]}",
	    "next_programs[0].end", "later than start");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"next_programs\":[{\"title\":\"\"}]}",
	    "next_programs[0].title", "must not be empty");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"source_handler\":{\"type\":\"streamlink\"}}",
	    "source_handler.type", "yt_dlp");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"input_format\":\"lavfi; rm -rf\"}", "input_format",
	    "not a format name");
	assert_rejected("{\"id\":3,\"name\":\"x\",\"source\":\"\","
	    "\"ffmpeg_profile\":\"copy\"}", "source", "must not be empty");
	assert_rejected("{" BASE ",\"ffmpeg_profile\":\"copy\","
	    "\"id\":2147483648}", "id", "out of range");
}
END_TEST

START_TEST(test_builtin_profiles)
{
	const struct profile	*p;
	size_t			 n;

	p = profile_builtins(&n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(p[0].name, "copy");
	ck_assert_str_eq(p[0].video_codec, "copy");
	ck_assert_str_eq(p[0].output_format, "ts");
	p = profile_builtin("audio");
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(p->video_codec, "none");
	ck_assert_str_eq(p->audio_codec, "aac");
	ck_assert_int_eq(p->audio_bitrate, 128000);
	ck_assert_int_eq(p->builtin, 1);
	ck_assert_ptr_null(profile_builtin("hd"));
}
END_TEST

static Suite *
channel_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("channel");
	tc = tcase_create("channel");
	tcase_add_test(tc, test_window);
	tcase_add_test(tc, test_regions);
	tcase_add_test(tc, test_helpers);
	tcase_add_test(tc, test_rejections);
	tcase_add_test(tc, test_builtin_profiles);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(channel_suite()));
}
