#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "catalog.h"
#include "channel.h"
#include "conf.h"
#include "store.h"
#include "sync.h"
#include "testutil.h"
#include "xmalloc.h"

static const char *base =
    "server = { database = \"amps.db\"; idle_timeout = 45; };\n"
    "auth = { enabled = true; token = \"sharedtoken1\";\n"
    "  keys = ( { name = \"ops\"; key = \"opskey-0123456789\";\n"
    "  role = \"admin\"; } ); };\n"
    "ffmpeg_profiles = { hd = { video_codec = \"libx264\"; "
    "video_bitrate = \"3M\"; size = \"1280x720\"; }; };\n"
    "streams = (\n"
    "  { id = 1; name = \"One\"; source = \"/m/one.ts\";\n"
    "    ffmpeg_profile = \"copy\"; group = \"News\";\n"
    "    next_programs = ( { title = \"Late\"; "
    "start = \"2026-11-21T22:00:00Z\"; } );\n"
    "    adaptive_bitrates = ( { name = \"sd\"; ffmpeg_profile = \"hd\"; } );"
    " },\n"
    "  { id = 2; name = \"Two\"; source = \"udp://@239.0.0.1:1234\";\n"
    "    ffmpeg_profile = \"hd\"; regions_blocked = [ \"FR\" ]; }\n"
    ");\n"
    "scheduled_streams = ( { id = 900; name = \"Spot\"; source = \"/m/s.ts\";"
    " ffmpeg_profile = \"copy\";\n"
    "  schedule = { start = \"2026-11-21T18:00:00Z\"; "
    "end = \"2026-11-21T20:00:00Z\"; }; } );\n"
    "epg_sources = ( { name = \"g\"; path = \"guide.xml\"; } );\n"
    "webhooks = ( { url = \"http://127.0.0.1:9/h\"; secret = \"abc\"; } );\n"
    "plugins = ( \"libx.so\" );\n";

static char		*dir;
static struct store	*st;

static void
setup(void)
{
	char	*path, *cause = NULL;

	dir = tu_tmpdir();
	xasprintf(&path, "%s/amps.db", dir);
	ck_assert_msg(store_open(path, STORE_CREATE | STORE_MIGRATE, &st,
	    &cause) == 0, "%s", cause);
	free(path);
}

static void
teardown(void)
{
	store_close(st);
	tu_rmtree(dir);
	free(dir);
}

static struct config *
config_of(const char *text)
{
	struct config		*cfg = NULL;
	struct conf_error	 err;

	if (conf_load_string(text, "t.conf", dir, &cfg, &err) != 0)
		ck_abort_msg("%s", conf_error_string(&err));
	return (cfg);
}

static void
import(const char *text, int flags, struct sync_report *r)
{
	struct config	*cfg;
	char		*cause = NULL;

	cfg = config_of(text);
	ck_assert_msg(sync_import(st, cfg, flags, r, &cause) == 0, "%s", cause);
	conf_free(cfg);
}

/* The whole store as config JSON: what "the same DB content" means. */
static char *
content(void)
{
	struct config	*cfg;
	json_object	*j;
	char		*cause = NULL, *s;

	ck_assert_msg(sync_to_config(st, &cfg, &cause) == 0, "%s", cause);
	j = schema_to_json(&config_schema, cfg, SCHEMA_JSON_ALL);
	s = xstrdup(json_object_to_json_string(j));
	json_object_put(j);
	conf_free(cfg);
	return (s);
}

START_TEST(test_import_counts)
{
	struct sync_report	r;
	int64_t			gen;

	import(base, 0, &r);
	/* 1 profile, 3 channels, 1 key, 1 source, 1 webhook, 1 plugin. */
	ck_assert_uint_eq(r.added, 8);
	ck_assert_uint_eq(r.updated, 0);
	gen = store_generation(st);
	ck_assert_int_gt(gen, 0);

	/* An unchanged file writes nothing: same generation. */
	import(base, 0, &r);
	ck_assert_uint_eq(r.added + r.updated + r.removed + r.kept, 0);
	ck_assert_uint_eq(r.unchanged, 8);
	ck_assert_int_eq(store_generation(st), gen);
}
END_TEST

START_TEST(test_file_changes_follow)
{
	struct sync_report	 r;
	struct channel		*ch = NULL;
	char			*cause = NULL, *text;

	import(base, 0, &r);
	/* Rename channel 2 and drop the scheduled one. */
	text = xstrdup(base);
	memcpy(strstr(text, "\"Two\""), "\"Owt\"", 5);
	*strstr(text, "scheduled_streams") = '\0';
	import(text, 0, &r);
	ck_assert_uint_eq(r.updated, 1);
	ck_assert_uint_eq(r.removed, 4);	/* channel 900 and the lists */
	ck_assert_int_eq(catalog_channel_get(st, 2, &ch, &cause), 0);
	ck_assert_str_eq(ch->name, "Owt");
	channel_free(ch);
	ck_assert_int_eq(catalog_channel_get(st, 900, &ch, &cause), ENOENT);
	free(cause);
	free(text);
}
END_TEST

START_TEST(test_api_write_survives_reimport)
{
	struct sync_report	 r;
	struct channel		*ch = NULL, *api;
	char			*cause = NULL;

	import(base, 0, &r);
	/* The API renames channel 1 and creates channel 5. */
	ck_assert_int_eq(catalog_channel_get(st, 1, &ch, &cause), 0);
	free(ch->name);
	ch->name = xstrdup("Renamed by API");
	api = channel_new();
	api->id = 5;
	api->name = xstrdup("API channel");
	api->source = xstrdup("/m/five.ts");
	api->ffmpeg_profile = xstrdup("copy");
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_channel_put(st, ch, CATALOG_API, &cause), 0);
	ck_assert_int_eq(catalog_channel_put(st, api,
	    CATALOG_API | CATALOG_CREATE, &cause), 0);
	ck_assert_int_eq(catalog_channel_delete(st, 2, CATALOG_API, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	channel_free(ch);
	channel_free(api);

	/* The file does not know any of it: the API's version wins. */
	import(base, 0, &r);
	ck_assert_uint_eq(r.kept, 3);
	ck_assert_int_eq(catalog_channel_get(st, 1, &ch, &cause), 0);
	ck_assert_str_eq(ch->name, "Renamed by API");
	channel_free(ch);
	ck_assert_int_eq(catalog_channel_get(st, 5, &ch, &cause), 0);
	channel_free(ch);
	ck_assert_int_eq(catalog_channel_get(st, 2, &ch, &cause), ENOENT);
	free(cause);
	cause = NULL;

	/* --force: the file wins everywhere. */
	import(base, SYNC_FORCE, &r);
	ck_assert_int_eq(catalog_channel_get(st, 1, &ch, &cause), 0);
	ck_assert_str_eq(ch->name, "One");
	channel_free(ch);
	ck_assert_int_eq(catalog_channel_get(st, 2, &ch, &cause), 0);
	channel_free(ch);
	ck_assert_int_eq(catalog_channel_get(st, 5, &ch, &cause), ENOENT);
	free(cause);
}
END_TEST

START_TEST(test_export_round_trip)
{
	struct sync_report	 r;
	struct catalog_meta	 meta;
	struct channel		*ch = NULL;
	char			*path, *bak, *first, *second, *cause = NULL;
	char			*text;
	int64_t			 gen;

	import(base, 0, &r);
	first = content();
	xasprintf(&path, "%s/amps.conf", dir);
	xasprintf(&bak, "%s/amps.conf.bak", dir);
	tu_write_file(path, base);
	ck_assert_msg(sync_export(st, path, SYNC_SAVED, &cause) == 0, "%s",
	    cause);
	text = tu_read_file(bak, NULL);
	ck_assert_str_eq(text, base);
	free(text);
	/* Secrets are written as hashes, never in plain text. */
	text = tu_read_file(path, NULL);
	ck_assert_ptr_null(strstr(text, "sharedtoken1"));
	ck_assert_ptr_null(strstr(text, "opskey-0123456789"));
	ck_assert_ptr_nonnull(strstr(text, "token_hash"));
	free(text);

	/* Import the written file: nothing changes, not even the generation. */
	gen = store_generation(st);
	{
		struct config		*cfg;
		struct conf_error	 err;

		ck_assert_int_eq(conf_load(path, &cfg, &err), 0);
		ck_assert_int_eq(sync_import(st, cfg, 0, &r, &cause), 0);
		conf_free(cfg);
	}
	ck_assert_uint_eq(r.added + r.updated + r.removed + r.kept, 0);
	ck_assert_int_eq(store_generation(st), gen);
	second = content();
	ck_assert_str_eq(first, second);
	free(second);

	/* After an API write and a save, the marks are clear and the file
	 * holds the API's version. */
	ck_assert_int_eq(catalog_channel_get(st, 1, &ch, &cause), 0);
	free(ch->group);
	ch->group = xstrdup("Sport");
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_channel_put(st, ch, CATALOG_API, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	channel_free(ch);
	ck_assert_int_eq(sync_export(st, path, SYNC_SAVED, &cause), 0);
	ck_assert_int_eq(catalog_channel_meta(st, 1, &meta, &cause), 0);
	ck_assert_int_eq(meta.dirty, 0);
	ck_assert_int_eq(meta.api, 0);
	text = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(strstr(text, "\"Sport\""));
	free(text);

	free(first);
	free(path);
	free(bak);
}
END_TEST

START_TEST(test_export_copy_marks_nothing)
{
	struct sync_report	 r;
	struct catalog_meta	 meta;
	struct channel		*ch = NULL;
	char			*path, *cause = NULL, *file = NULL;

	import(base, 0, &r);
	ck_assert_int_eq(catalog_channel_get(st, 1, &ch, &cause), 0);
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_channel_put(st, ch, CATALOG_API, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	channel_free(ch);
	xasprintf(&path, "%s/copy.conf", dir);
	ck_assert_int_eq(sync_export(st, path, 0, &cause), 0);
	ck_assert_int_eq(catalog_channel_meta(st, 1, &meta, &cause), 0);
	ck_assert_int_eq(meta.dirty, 1);
	ck_assert_int_eq(sync_config_file(st, &file, &cause), 0);
	ck_assert_str_eq(file, "t.conf");
	free(file);
	free(path);
}
END_TEST

START_TEST(test_keys_follow_rule)
{
	struct sync_report	 r;
	struct api_key		 k;
	char			*role = NULL, *cause = NULL;

	import(base, 0, &r);
	ck_assert_int_eq(catalog_key_check(st, "opskey-0123456789", &role,
	    &cause), 0);
	ck_assert_str_eq(role, "admin");
	free(role);
	/* A key added by the CLI survives a reimport, not a forced one. */
	memset(&k, 0, sizeof k);
	k.name = xstrdup("cli");
	k.key = xstrdup("clikey-0123456789");
	k.role = xstrdup("viewer");
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_key_put(st, &k, CATALOG_API | CATALOG_CREATE,
	    &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	import(base, 0, &r);
	ck_assert_uint_eq(r.kept, 1);
	ck_assert_int_eq(catalog_key_check(st, "clikey-0123456789", &role,
	    &cause), 0);
	free(role);
	import(base, SYNC_FORCE, &r);
	ck_assert_int_eq(catalog_key_check(st, "clikey-0123456789", &role,
	    &cause), ENOENT);
	free(cause);
	schema_free(&api_key_schema, &k);
}
END_TEST

START_TEST(test_failed_import_changes_nothing)
{
	struct sync_report	 r;
	struct config		*cfg;
	struct channel		*ch;
	char			*before, *after, *cause = NULL;

	import(base, 0, &r);
	before = content();
	/* A channel naming a profile that is neither in the store nor built
	 * in cannot be written (the loader would catch it; the store must
	 * not half-apply it either). */
	cfg = config_of(base);
	/* The first channel changes, then a later write fails (a row the
	 * store refuses: no name, which the loader would have caught). */
	ch = schema_list_at(&channel_schema, &cfg->streams, 0);
	free(ch->name);
	ch->name = xstrdup("Changed");
	ch = schema_list_add(&channel_schema, &cfg->streams);
	ch->id = 77;
	ch->source = xstrdup("/x");
	ch->ffmpeg_profile = xstrdup("copy");
	ck_assert_int_eq(sync_import(st, cfg, 0, &r, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	conf_free(cfg);
	after = content();
	ck_assert_str_eq(before, after);
	free(before);
	free(after);
}
END_TEST

#define ONE_CHANNEL \
    "streams = ( { id = 1; name = \"One\"; source = \"/m/one.ts\";\n" \
    "  ffmpeg_profile = \"copy\"; } );\n"

START_TEST(test_kept_channel_keeps_its_profile)
{
	struct sync_report	 r;
	struct channel		*api;
	struct config		*cfg;
	char			*cause = NULL;

	import("ffmpeg_profiles = { hd = { video_codec = \"libx264\"; }; };\n"
	    ONE_CHANNEL, 0, &r);
	api = channel_new();
	api->id = 5;
	api->name = xstrdup("API channel");
	api->source = xstrdup("/m/five.ts");
	api->ffmpeg_profile = xstrdup("hd");
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_channel_put(st, api,
	    CATALOG_API | CATALOG_CREATE, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	channel_free(api);
	/* The file drops profile hd: the kept API channel would be left
	 * naming a profile that does not exist. */
	cfg = config_of(ONE_CHANNEL);
	ck_assert_int_eq(sync_import(st, cfg, 0, &r, &cause), -1);
	ck_assert_msg(strstr(cause, "channel 5") != NULL &&
	    strstr(cause, "'hd'") != NULL, "%s", cause);
	free(cause);
	cause = NULL;
	/* --force drops the API channel, so the import goes through. */
	ck_assert_int_eq(sync_import(st, cfg, SYNC_FORCE, &r, &cause), 0);
	conf_free(cfg);
}
END_TEST

START_TEST(test_save_refuses_a_file_that_would_not_load)
{
	static const char *text = "auth = { enabled = true; keys = ( {\n"
	    "  name = \"ops\"; key = \"opskey-0123456789\";\n"
	    "  role = \"admin\"; } ); };\n" ONE_CHANNEL;
	struct sync_report	 r;
	char			*path, *before, *after, *cause = NULL;

	/* auth on with one key and no token: revoking the key leaves a
	 * store that no amps.conf can describe. */
	import(text, 0, &r);
	ck_assert_int_eq(store_begin(st, &cause), 0);
	ck_assert_int_eq(catalog_key_delete(st, "ops", CATALOG_API, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	xasprintf(&path, "%s/amps.conf", dir);
	tu_write_file(path, text);
	before = tu_read_file(path, NULL);
	ck_assert_int_eq(sync_export(st, path, SYNC_SAVED, &cause), -1);
	ck_assert_msg(strstr(cause, "would not load") != NULL &&
	    strstr(cause, "no token and no keys") != NULL, "%s", cause);
	after = tu_read_file(path, NULL);
	ck_assert_str_eq(before, after);
	free(cause);
	free(before);
	free(after);
	free(path);
}
END_TEST

static Suite *
sync_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("sync");
	tc = tcase_create("sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_import_counts);
	tcase_add_test(tc, test_file_changes_follow);
	tcase_add_test(tc, test_api_write_survives_reimport);
	tcase_add_test(tc, test_export_round_trip);
	tcase_add_test(tc, test_export_copy_marks_nothing);
	tcase_add_test(tc, test_keys_follow_rule);
	tcase_add_test(tc, test_failed_import_changes_nothing);
	tcase_add_test(tc, test_kept_channel_keeps_its_profile);
	tcase_add_test(tc, test_save_refuses_a_file_that_would_not_load);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(sync_suite()));
}
