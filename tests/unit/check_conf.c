#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "testutil.h"
#include "xmalloc.h"

static const char *good =
    "server = { listen = \"127.0.0.1:9090\"; database = \"var/amps.db\"; };\n"
    "ffmpeg_profiles = {\n"
    "  hd = { video_codec = \"libx264\"; video_bitrate = \"3M\"; };\n"
    "};\n"
    "streams = (\n"
    "  { id = 1; name = \"One\"; source = \"media/one.ts\";\n"
    "    ffmpeg_profile = \"copy\"; },\n"
    "  { id = 2; name = \"Two\"; source = \"udp://@239.0.0.1:1234\";\n"
    "    ffmpeg_profile = \"hd\"; regions_allowed = [ \"us\", \"GB\" ]; }\n"
    ");\n"
    "scheduled_streams = (\n"
    "  { id = 900; name = \"Spot\"; source = \"/srv/spot.ts\";\n"
    "    ffmpeg_profile = \"audio\";\n"
    "    schedule = { start = \"2024-05-04T18:00:00Z\"; }; }\n"
    ");\n";

static struct config *
load_ok(const char *text)
{
	struct config		*cfg = NULL;
	struct conf_error	 err;
	char			*line;

	if (conf_load_string(text, "test.conf", "/etc/amps", &cfg, &err) != 0) {
		line = conf_error_string(&err);
		ck_abort_msg("unexpected error: %s", line);
	}
	return (cfg);
}

/* Loads text that must fail at line with key; returns the message. */
static char *
load_bad(const char *text, int line, const char *key)
{
	struct config		*cfg = NULL;
	struct conf_error	 err;
	char			*msg;

	ck_assert_int_eq(conf_load_string(text, "test.conf", "/etc/amps", &cfg,
	    &err), -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err.file, "test.conf");
	ck_assert_msg(err.line == line, "line %d, expected %d (%s)", err.line,
	    line, err.message);
	if (key == NULL)
		ck_assert_ptr_null(err.key);
	else {
		ck_assert_ptr_nonnull(err.key);
		ck_assert_str_eq(err.key, key);
	}
	msg = xstrdup(err.message);
	conf_error_clear(&err);
	return (msg);
}

static void
assert_bad(const char *text, int line, const char *key, const char *needle)
{
	char	*msg;

	msg = load_bad(text, line, key);
	ck_assert_msg(strstr(msg, needle) != NULL, "'%s' not in '%s'", needle,
	    msg);
	free(msg);
}

START_TEST(test_good)
{
	struct config		*cfg;
	const struct channel	*ch;

	cfg = load_ok(good);
	ck_assert_uint_eq(cfg->streams.n, 2);
	ck_assert_uint_eq(cfg->scheduled_streams.n, 1);
	ck_assert_str_eq(cfg->server.listen, "127.0.0.1:9090");
	/* Defaults from the table. */
	ck_assert_int_eq(cfg->server.idle_timeout, 30);
	ck_assert_str_eq(cfg->server.log_level, "info");
	/* Relative paths against the file's folder, URLs untouched. */
	ck_assert_str_eq(cfg->server.database, "/etc/amps/var/amps.db");
	ck_assert_str_eq(cfg->server.media_root, "/etc/amps/var/media");
	ch = schema_list_at(&channel_schema, &cfg->streams, 0);
	ck_assert_str_eq(ch->source, "/etc/amps/media/one.ts");
	ck_assert_int_eq(ch->scheduled, 0);
	ch = schema_list_at(&channel_schema, &cfg->streams, 1);
	ck_assert_str_eq(ch->source, "udp://@239.0.0.1:1234");
	ck_assert_uint_eq(ch->regions_allowed.n, 2);
	ck_assert_str_eq(ch->regions_allowed.v[0], "US");
	ch = schema_list_at(&channel_schema, &cfg->scheduled_streams, 0);
	ck_assert_str_eq(ch->source, "/srv/spot.ts");
	ck_assert_int_eq(ch->scheduled, 1);
	ck_assert_int_eq(ch->schedule.start, 1714845600);
	ck_assert_int_eq(ch->schedule.end, 0);
	/* Built-ins exist without being defined. */
	ck_assert_ptr_nonnull(conf_profile(cfg, "copy"));
	ck_assert_str_eq(conf_profile(cfg, "audio")->audio_codec, "aac");
	ck_assert_int_eq(conf_profile(cfg, "hd")->video_bitrate, 3000000);
	ck_assert_ptr_null(conf_profile(cfg, "nope"));
	conf_free(cfg);
}
END_TEST

START_TEST(test_override_builtin)
{
	struct config	*cfg;

	cfg = load_ok("ffmpeg_profiles = { copy = { output_format = \"hls\"; "
	    "}; };\nstreams = ( { id = 1; name = \"a\"; source = \"/x\"; "
	    "ffmpeg_profile = \"copy\"; } );\n");
	ck_assert_str_eq(conf_profile(cfg, "copy")->output_format, "hls");
	ck_assert_int_eq(conf_profile(cfg, "copy")->builtin, 0);
	ck_assert_str_eq(conf_profile(cfg, "audio")->output_format, "audio");
	conf_free(cfg);
}
END_TEST

START_TEST(test_syntax_error)
{
	char	*msg;

	msg = load_bad("streams = (\n  { id = 1; name = ; }\n);\n", 2,
	    NULL);
	ck_assert_ptr_nonnull(msg);
	free(msg);
}
END_TEST

START_TEST(test_wrong_type)
{
	assert_bad("streams = (\n { id = \"one\"; name = \"a\"; "
	    "source = \"/x\"; ffmpeg_profile = \"copy\"; }\n);\n", 2,
	    "streams[0].id", "expected an integer, not a string");
	assert_bad("streams = (\n { id = 1;\n name = 5; "
	    "source = \"/x\"; ffmpeg_profile = \"copy\"; }\n);\n", 3,
	    "streams[0].name", "expected a string");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    "ffmpeg_profile = \"copy\";\n ll_hls = \"yes\"; } );\n", 3,
	    "streams[0].ll_hls", "expected true or false");
	assert_bad("server = 5;\n", 1, "server", "expected an object");
}
END_TEST

START_TEST(test_unknown_key)
{
	assert_bad("server = { listen = \"127.0.0.1:1\"; };\nstream = ();\n", 2,
	    "stream", "did you mean 'streams'");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n tvg_nmae = \"x\"; } );\n", 3,
	    "streams[0].tvg_nmae", "did you mean 'tvg_name'");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n zzzzzzz = 1; } );\n", 3,
	    "streams[0].zzzzzzz", "unknown key 'zzzzzzz'");
}
END_TEST

START_TEST(test_missing_required)
{
	assert_bad("streams = (\n { id = 1; source = \"/x\"; "
	    "ffmpeg_profile = \"copy\"; }\n);\n", 2, "streams[0].name",
	    "missing required key 'name'");
	assert_bad("streams = (\n { id = 1; name = \"a\"; source = \"/x\"; }\n);\n",
	    2, "streams[0].ffmpeg_profile", "ffmpeg_profile or custom_ffmpeg");
}
END_TEST

START_TEST(test_duplicate_id)
{
	assert_bad("streams = (\n"
	    " { id = 1; name = \"a\"; source = \"/x\"; ffmpeg_profile = \"copy\"; },\n"
	    " { id = 1; name = \"b\"; source = \"/x\"; ffmpeg_profile = \"copy\"; }\n"
	    ");\n", 3, "streams[1].id", "id 1 is already used by streams[0]");
	/* A scheduled id may not clash with a static one (P6). */
	assert_bad("streams = (\n"
	    " { id = 7; name = \"a\"; source = \"/x\"; ffmpeg_profile = \"copy\"; }\n"
	    ");\nscheduled_streams = (\n"
	    " { id = 7; name = \"b\"; source = \"/x\"; ffmpeg_profile = \"copy\"; }\n"
	    ");\n", 5, "scheduled_streams[0].id", "already used by streams[0]");
}
END_TEST

START_TEST(test_bad_region)
{
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n"
	    " regions_allowed = [ \"US\", \"ZZ\" ]; } );\n", 3,
	    "streams[0].regions_allowed[1]", "'ZZ' is not an ISO 3166-1");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n"
	    " regions_blocked = \"USA\"; } );\n", 3,
	    "streams[0].regions_blocked[0]", "'USA'");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\"; regions_allowed = [ \"US\" ];\n"
	    " regions_blocked = [ \"us\" ]; } );\n", 3,
	    "streams[0].regions_blocked[0]", "also in regions_allowed");
}
END_TEST

START_TEST(test_bad_time)
{
	assert_bad("scheduled_streams = ( { id = 1; name = \"a\"; "
	    "source = \"/x\";\n ffmpeg_profile = \"copy\";\n"
	    " schedule = {\n start = \"2026-13-01T00:00:00Z\"; }; } );\n", 4,
	    "scheduled_streams[0].schedule.start", "not an ISO 8601 time");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n next_programs = (\n"
	    " { title = \"t\"; start = \"2026-11-21T18:00:00\"; } ); } );\n",
	    4, "streams[0].next_programs[0].start", "with a zone");
	assert_bad("scheduled_streams = ( { id = 1; name = \"a\"; "
	    "source = \"/x\";\n ffmpeg_profile = \"copy\";\n"
	    " schedule = { start = \"2026-11-21T18:00:00Z\";\n"
	    " end = \"2026-11-21T17:00:00Z\"; }; } );\n", 4,
	    "scheduled_streams[0].schedule.end", "later than start");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n next_programs = (\n"
	    " { start = \"2026-11-21T18:00:00Z\"; } ); } );\n", 4,
	    "streams[0].next_programs[0].title", "missing required key");
	/* Times that could not be written back, and the "unset" epoch. */
	assert_bad("scheduled_streams = ( { id = 1; name = \"a\"; "
	    "source = \"/x\";\n ffmpeg_profile = \"copy\";\n"
	    " schedule = {\n start = \"9999-12-31T23:59:59-01:00\"; }; } );\n",
	    4, "scheduled_streams[0].schedule.start", "not an ISO 8601 time");
	assert_bad("scheduled_streams = ( { id = 1; name = \"a\"; "
	    "source = \"/x\";\n ffmpeg_profile = \"copy\";\n"
	    " schedule = {\n start = \"1970-01-01T00:00:00Z\"; }; } );\n",
	    4, "scheduled_streams[0].schedule.start", "not after 1970");
}
END_TEST

START_TEST(test_missing_profile)
{
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"hd\"; } );\n", 2, "streams[0].ffmpeg_profile",
	    "no profile 'hd'");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\"; adaptive_bitrates = (\n"
	    " { name = \"sd\";\n ffmpeg_profile = \"sd\"; } ); } );\n", 4,
	    "streams[0].adaptive_bitrates[0].ffmpeg_profile",
	    "no profile 'sd'");
}
END_TEST

START_TEST(test_custom_only)
{
	struct config		*cfg;
	const struct channel	*ch;

	/* custom_ffmpeg alone is enough, in string or group form. */
	cfg = load_ok("streams = (\n"
	    " { id = 1; name = \"a\"; source = \"/x\";\n"
	    "   custom_ffmpeg = \"ffmpeg -i {source} -f mpegts -\"; },\n"
	    " { id = 2; name = \"b\"; source = \"/x\";\n"
	    "   custom_ffmpeg = { command = \"x {id}\"; shell = true;\n"
	    "   cwd = \"work\"; env = { A = \"1\"; }; }; }\n);\n");
	ch = schema_list_at(&channel_schema, &cfg->streams, 0);
	ck_assert_str_eq(ch->custom_ffmpeg.command,
	    "ffmpeg -i {source} -f mpegts -");
	ck_assert_int_eq(ch->custom_ffmpeg.shell, 0);
	ch = schema_list_at(&channel_schema, &cfg->streams, 1);
	ck_assert_int_eq(ch->custom_ffmpeg.shell, 1);
	ck_assert_str_eq(ch->custom_ffmpeg.cwd, "/etc/amps/work");
	ck_assert_str_eq(kvlist_get(&ch->custom_ffmpeg.env, "A"), "1");
	conf_free(cfg);
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " custom_ffmpeg = { shell = true; }; } );\n", 2,
	    "streams[0].custom_ffmpeg.command", "missing required key");
}
END_TEST

START_TEST(test_limits_and_choices)
{
	assert_bad("streams = ( { id = 0; name = \"a\"; source = \"/x\"; "
	    "ffmpeg_profile = \"copy\"; } );\n", 1, "streams[0].id",
	    "out of range");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\"; channel_number = -4; } );\n", 2,
	    "streams[0].channel_number", "out of range");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n output_format = \"flv\"; } );\n", 3,
	    "streams[0].output_format", "not one of: ts, hls");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n hwaccel = { type = \"cuda\"; }; } );\n",
	    3, "streams[0].hwaccel.type", "nvidia, vaapi, qsv");
	assert_bad("ffmpeg_profiles = {\n hd = {\n video_bitrate = \"fast\"; };"
	    " };\n", 3, "ffmpeg_profiles.hd.video_bitrate", "not a bit rate");
	assert_bad("ffmpeg_profiles = {\n hd = {\n size = \"big\"; }; };\n", 3,
	    "ffmpeg_profiles.hd.size", "WIDTHxHEIGHT");
	assert_bad("server = {\n listen = \"localhost\"; };\n", 2,
	    "server.listen", "HOST:PORT");
	assert_bad("webhooks = ( { url = \"http://h/x\";\n"
	    " events = [ \"stream.exploded\" ]; } );\n", 2,
	    "webhooks[0].events[0]", "not one of");
	assert_bad("webhooks = ( {\n url = \"ftp://h/x\"; } );\n", 2,
	    "webhooks[0].url", "http:// or https://");
	assert_bad("epg_sources = (\n { name = \"a\"; path = \"g.xml\";"
	    " url = \"http://h/g.xml\"; } );\n", 2, "epg_sources[0].path",
	    "either path or url");
	assert_bad("epg_sources = ( { name = \"a\"; path = \"g.xml\";\n"
	    " match_on = \"name\"; } );\n", 2, "epg_sources[0].match_on",
	    "epg_id, tvg_name");
	assert_bad("auth = { keys = ( { name = \"k\"; key = \"0123456789\";\n"
	    " role = \"root\"; } ); };\n", 2, "auth.keys[0].role",
	    "viewer, admin");
	assert_bad("auth = {\n enabled = true; };\n", 2, "auth.enabled",
	    "no token and no keys");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\"; adaptive_bitrates = (\n"
	    " { name = \"sd\"; }, { name = \"sd\"; } ); } );\n", 3,
	    "streams[0].adaptive_bitrates[1].name", "defined twice");
	assert_bad("streams = ( { id = 1; name = \"a\"; source = \"/x\";\n"
	    " ffmpeg_profile = \"copy\";\n input_options = { a = [ 1 ]; }; } );\n",
	    3, "streams[0].input_options.a", "expected a string or a number");
	/* libconfig 1.5 would wrap these silently. */
	assert_bad("server = {\n max_body_size = 4294968320; };\n", 2,
	    "max_body_size", "does not fit in 32 bits");
	assert_bad("# 99999999999 in a comment is fine\nstreams = ( {\n"
	    " id = 4294967303; name = \"9999999999\"; } );\n", 3, "id",
	    "does not fit in 32 bits");
}
END_TEST

START_TEST(test_include)
{
	struct config		*cfg = NULL;
	struct conf_error	 err;
	char			*dir, *main_path, *inc_path, *text;

	dir = tu_tmpdir();
	xasprintf(&main_path, "%s/main.conf", dir);
	xasprintf(&inc_path, "%s/streams.inc", dir);
	tu_write_file(inc_path, "streams = (\n { id = 1; name = \"a\";\n"
	    " source = \"x\"; ffmpeg_profile = \"nope\"; } );\n");
	tu_write_file(main_path, "server = { database = \"db\"; };\n"
	    "@include \"streams.inc\"\n");
	ck_assert_int_eq(conf_load(main_path, &cfg, &err), -1);
	/* The error names the included file and its line. */
	ck_assert_str_eq(err.file, inc_path);
	ck_assert_int_eq(err.line, 3);
	ck_assert_str_eq(err.key, "streams[0].ffmpeg_profile");
	conf_error_clear(&err);

	tu_write_file(main_path, "@include \"missing.inc\"\n");
	ck_assert_int_eq(conf_load(main_path, &cfg, &err), -1);
	ck_assert_int_eq(err.line, 1);
	text = conf_error_string(&err);
	ck_assert_msg(strstr(text, "main.conf:1: ") != NULL, "%s", text);
	free(text);
	conf_error_clear(&err);

	ck_assert_int_eq(conf_load("/nonexistent/amps.conf", &cfg, &err), -1);
	text = conf_error_string(&err);
	ck_assert_str_eq(text, "/nonexistent/amps.conf: No such file or "
	    "directory");
	free(text);
	conf_error_clear(&err);

	free(main_path);
	free(inc_path);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_write_round_trip)
{
	struct config		*cfg, *again;
	struct conf_error	 err;
	char			*dir, *path, *bak, *cause = NULL, *text;

	dir = tu_tmpdir();
	xasprintf(&path, "%s/amps.conf", dir);
	xasprintf(&bak, "%s/amps.conf.bak", dir);
	cfg = load_ok(good);
	tu_write_file(path, "# the operator's comments\n");
	ck_assert_int_eq(conf_write(cfg, path, &cause), 0);
	/* The old file is kept as .bak. */
	text = tu_read_file(bak, NULL);
	ck_assert_str_eq(text, "# the operator's comments\n");
	free(text);
	ck_assert_int_eq(conf_load(path, &again, &err), 0);
	ck_assert_int_eq(schema_equal(&channel_schema,
	    schema_list_at(&channel_schema, &cfg->streams, 1),
	    schema_list_at(&channel_schema, &again->streams, 1)), 1);
	ck_assert_uint_eq(again->scheduled_streams.n, 1);
	ck_assert_int_eq(((struct channel *)schema_list_at(&channel_schema,
	    &again->scheduled_streams, 0))->scheduled, 1);
	ck_assert_ptr_nonnull(conf_profile(again, "hd"));
	/* Built-ins are not written back. */
	text = tu_read_file(path, NULL);
	ck_assert_ptr_null(strstr(text, "audio ="));
	ck_assert_ptr_null(strstr(text, "copy ="));
	free(text);
	/* No temporary file is left behind. */
	ck_assert_int_eq(access(path, F_OK), 0);
	conf_free(again);

	/* A folder that cannot be written: error, nothing changed. */
	free(path);
	xasprintf(&path, "%s/nodir/amps.conf", dir);
	ck_assert_int_eq(conf_write(cfg, path, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	conf_free(cfg);
	free(path);
	free(bak);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_strange_strings)
{
	struct config		*cfg, *again;
	struct conf_error	 err;
	const struct channel	*ch;
	char			*text;

	cfg = load_ok("streams = ( { id = 1; source = \"/x\"; "
	    "ffmpeg_profile = \"copy\";\n name = \"Quote \\\" back\\\\slash "
	    "new\\nline, comma; caf\xc3\xa9\"; } );\n");
	text = conf_to_string(cfg);
	ck_assert_int_eq(conf_load_string(text, "w.conf", "/", &again, &err),
	    0);
	ch = schema_list_at(&channel_schema, &again->streams, 0);
	ck_assert_str_eq(ch->name, "Quote \" back\\slash new\nline, comma; "
	    "caf\xc3\xa9");
	free(text);
	conf_free(again);
	conf_free(cfg);
}
END_TEST

static void
load_shipped(const char *name)
{
	struct config		*cfg = NULL;
	struct conf_error	 err;
	const char		*src;
	char			*path, *line;

	src = getenv("top_srcdir");
	xasprintf(&path, "%s/conf/%s", src != NULL ? src : "../..", name);
	if (conf_load(path, &cfg, &err) != 0) {
		line = conf_error_string(&err);
		ck_abort_msg("%s", line);
	}
	ck_assert_uint_gt(cfg->streams.n, 0);
	conf_free(cfg);
	free(path);
}

START_TEST(test_example_loads)
{
	load_shipped("amps.conf.example");
	load_shipped("demo.conf");
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("conf");
	tc = tcase_create("load");
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_override_builtin);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_missing_required);
	tcase_add_test(tc, test_duplicate_id);
	tcase_add_test(tc, test_bad_region);
	tcase_add_test(tc, test_bad_time);
	tcase_add_test(tc, test_missing_profile);
	tcase_add_test(tc, test_custom_only);
	tcase_add_test(tc, test_limits_and_choices);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_example_loads);
	suite_add_tcase(s, tc);
	tc = tcase_create("write");
	tcase_add_test(tc, test_write_round_trip);
	tcase_add_test(tc, test_strange_strings);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(conf_suite()));
}
