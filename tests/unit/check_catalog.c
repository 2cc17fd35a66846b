#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>
#include <sqlite3.h>

#include "catalog.h"
#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "schema.h"
#include "store.h"
#include "testutil.h"
#include "timefmt.h"

static char		*dir;
static struct store	*st;
static char		*cause;

static void
setup(void)
{
	cause = NULL;
	dir = tu_tmpdir();
	st = tu_store(dir);
}

static void
teardown(void)
{
	store_close(st);
	st = NULL;
	free(cause);
	cause = NULL;
	tu_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* Checks an errno result and drops its cause. */
#define ck_rc(call, want) do {						\
	int	rc_ = (call);						\
	ck_assert_msg(rc_ == (want), "%s: %d, wanted %d (%s)", #call,	\
	    rc_, (want), cause != NULL ? cause : "no cause");		\
	if (rc_ != 0)							\
		ck_assert_msg(cause != NULL, "%s: no cause", #call);	\
	free(cause);							\
	cause = NULL;							\
} while (0)

/* Validates JSON against a schema into obj, as the API does. */
static void
load(const struct schema *sc, const char *text, void *obj)
{
	struct schema_error	 err = { NULL, NULL };
	json_object		*j;

	j = json_tokener_parse(text);
	ck_assert_msg(j != NULL, "bad fixture: %s", text);
	if (schema_from_json(sc, j, obj, 0, "", &err) != 0)
		ck_abort_msg("%s: %s", err.path, err.message);
	json_object_put(j);
}

/* A channel: id and name, plus more keys as JSON members. */
static struct channel *
chan(long long id, const char *more)
{
	struct channel	*ch;
	char		*text;

	if (asprintf(&text, "{ \"id\": %lld, \"name\": \"Channel %lld\", "
	    "\"source\": \"udp://239.0.0.%lld:1234\", \"ffmpeg_profile\": "
	    "\"copy\"%s%s }", id, id, id, more != NULL ? ", " : "",
	    more != NULL ? more : "") < 0)
		ck_abort_msg("asprintf failed");
	ch = channel_new();
	load(&channel_schema, text, ch);
	free(text);
	return (ch);
}

static void
put(long long id, const char *more, int flags)
{
	struct channel	*ch;

	ch = chan(id, more);
	ck_rc(catalog_channel_put(st, ch, flags, &cause), 0);
	channel_free(ch);
}

static struct catalog_meta
meta(long long id)
{
	struct catalog_meta	m;

	ck_rc(catalog_channel_meta(st, id, &m, &cause), 0);
	return (m);
}

static const char full[] =
	"\"group\": \"News\", \"tvg_name\": \"N\", \"logo\": \"https://l/x\","
	"\"regions_allowed\": [ \"US\", \"CA\" ],"
	"\"input_options\": { \"rtmp_live\": \"live\" },"
	"\"schedule\": { \"start\": \"2026-01-01T10:00:00Z\" },"
	"\"adaptive_bitrates\": ["
	"  { \"name\": \"sd\", \"label\": \"SD\", \"ffmpeg_profile\": \"sd\","
	"    \"input_args\": [ \"-re\" ] },"
	"  { \"name\": \"audio\", \"custom_ffmpeg\": \"ffmpeg -i x\" } ],"
	"\"next_programs\": ["
	"  { \"title\": \"Morning\", \"start\": \"2026-01-01T08:00:00Z\","
	"    \"end\": \"2026-01-01T09:00:00Z\", \"categories\": [ \"News\" ] },"
	"  { \"title\": \"Noon\", \"description\": \"Lunch\" } ]";

START_TEST(test_put_get)
{
	struct channel		*ch, *back = NULL;
	struct catalog_meta	 m;
	int64_t			 g;

	ch = chan(5, full);
	ch->scheduled = 1;
	ck_rc(catalog_channel_put(st, ch, 0, &cause), 0);
	ck_rc(catalog_channel_get(st, 5, &back, &cause), 0);
	ck_assert_ptr_nonnull(back);
	ck_assert(schema_equal(&channel_schema, ch, back));
	ck_assert_int_eq(back->scheduled, 1);
	ck_assert_uint_eq(back->adaptive_bitrates.n, 2);
	ck_assert_uint_eq(back->next_programs.n, 2);
	ck_assert_int_eq(tu_sql_int(st, "SELECT sched_start FROM channels"),
	    ch->schedule.start);
	ck_assert_int_eq(tu_sql_int(st, "SELECT sched_end FROM channels"), 0);
	channel_free(back);
	back = NULL;

	m = meta(5);
	ck_assert_int_eq(m.api, 0);
	ck_assert_int_eq(m.dirty, 0);
	ck_assert_int_eq(m.deleted, 0);
	ck_assert_int_eq(m.position, 1);

	/* The same channel again writes nothing. */
	g = store_generation(st);
	ck_rc(catalog_channel_put(st, ch, 0, &cause), 0);
	ck_assert_int_eq(store_generation(st), g);

	/* Fewer variants and programmes replace the old ones. */
	channel_free(ch);
	ch = chan(5, "\"adaptive_bitrates\": [ { \"name\": \"hd\" } ]");
	ck_rc(catalog_channel_put(st, ch, 0, &cause), 0);
	ck_assert_int_gt(store_generation(st), g);
	ck_rc(catalog_channel_get(st, 5, &back, &cause), 0);
	ck_assert(schema_equal(&channel_schema, ch, back));
	ck_assert_int_eq(back->scheduled, 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM variants"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 0);
	channel_free(back);
	channel_free(ch);

	/* A new channel goes last. */
	put(2, NULL, 0);
	ck_assert_int_eq(meta(2).position, 2);
	ck_rc(catalog_channel_get(st, 3, &back, &cause), ENOENT);
	ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_create_update)
{
	struct channel	*ch;

	ch = chan(1, NULL);
	ck_rc(catalog_channel_put(st, ch, CATALOG_UPDATE, &cause), ENOENT);
	ck_rc(catalog_channel_put(st, ch, CATALOG_CREATE, &cause), 0);
	ck_rc(catalog_channel_put(st, ch, CATALOG_CREATE, &cause), EEXIST);
	ck_rc(catalog_channel_put(st, ch, CATALOG_UPDATE, &cause), 0);
	ch->id = 0;
	ck_rc(catalog_channel_put(st, ch, 0, &cause), EINVAL);
	channel_free(ch);

	/* What the schema refuses, the store refuses: a struct built by
	 * hand is held to the rules of a file or an API body. */
	ch = chan(2, full);
	free(ch->name);
	ch->name = NULL;
	ck_assert_int_eq(catalog_channel_put(st, ch, 0, &cause), EINVAL);
	ck_assert_ptr_nonnull(strstr(cause, "name"));
	free(cause);
	cause = NULL;
	channel_free(ch);
	ch = chan(2, full);
	free(((struct variant *)ch->adaptive_bitrates.v)[1].name);
	((struct variant *)ch->adaptive_bitrates.v)[1].name = strdup("sd");
	ck_rc(catalog_channel_put(st, ch, 0, &cause), EINVAL);
	channel_free(ch);

	/* Nothing of a rejected write is left. */
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM channels"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM variants"), 0);
}
END_TEST

START_TEST(test_api_marks)
{
	struct catalog_meta	m;

	put(1, NULL, CATALOG_API | CATALOG_CREATE);
	m = meta(1);
	ck_assert_int_eq(m.api, 1);
	ck_assert_int_eq(m.dirty, 1);

	/* An API write to a row from the file keeps its origin. */
	put(2, NULL, 0);
	put(2, "\"group\": \"x\"", CATALOG_API | CATALOG_UPDATE);
	m = meta(2);
	ck_assert_int_eq(m.api, 0);
	ck_assert_int_eq(m.dirty, 1);

	/* An API write to an API row keeps it an API row. */
	put(1, "\"group\": \"y\"", CATALOG_API);
	ck_assert_int_eq(meta(1).api, 1);

	/* An import (the file wins, as with amps init --force). */
	put(1, NULL, 0);
	m = meta(1);
	ck_assert_int_eq(m.api, 0);
	ck_assert_int_eq(m.dirty, 0);
	ck_rc(catalog_channel_meta(st, 9, &m, &cause), ENOENT);
}
END_TEST

static char *
listed(const struct catalog_filter *f)
{
	struct channel	**v;
	size_t		  n, i;
	char		  buf[1024];

	buf[0] = '\0';
	ck_rc(catalog_channels(st, f, &v, &n, &cause), 0);
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%lld",
		    i == 0 ? "" : ",", v[i]->id);
	catalog_channels_free(v, n);
	return (strdup(buf));
}

#define ck_listed(f, want) do {						\
	char	*got_ = listed(f);					\
	ck_assert_msg(strcmp(got_, (want)) == 0, "listed %s, wanted %s",\
	    got_, (want));						\
	free(got_);							\
} while (0)

START_TEST(test_tombstone)
{
	struct channel		*ch = NULL;
	struct catalog_meta	 m;
	long long		*ids;
	size_t			 n;

	put(1, full, 0);
	put(2, NULL, 0);
	ck_rc(catalog_channel_delete(st, 1, CATALOG_API, &cause), 0);
	ck_rc(catalog_channel_get(st, 1, &ch, &cause), ENOENT);
	m = meta(1);
	ck_assert_int_eq(m.deleted, 1);
	ck_assert_int_eq(m.dirty, 1);
	ck_assert_int_eq(m.api, 0);
	ck_listed(NULL, "2");
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM variants"), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 0);
	ck_rc(catalog_channel_ids(st, &ids, &n, &cause), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ids[0], 1);
	ck_assert_int_eq(ids[1], 2);
	free(ids);
	ck_rc(catalog_channel_delete(st, 1, CATALOG_API, &cause), ENOENT);
	ck_rc(catalog_channel_put(st, ch = chan(1, NULL), CATALOG_UPDATE,
	    &cause), ENOENT);
	channel_free(ch);

	/* The tombstone does not block a new channel of the same id. */
	put(1, NULL, CATALOG_API | CATALOG_CREATE);
	m = meta(1);
	ck_assert_int_eq(m.deleted, 0);
	ck_assert_int_eq(m.dirty, 1);
	ck_assert_int_eq(m.position, 1);
	ck_listed(NULL, "1,2");

	/* A save purges tombstones. */
	ck_rc(catalog_channel_delete(st, 2, CATALOG_API, &cause), 0);
	ck_rc(catalog_mark_saved(st, &cause), 0);
	ck_rc(catalog_channel_meta(st, 2, &m, &cause), ENOENT);
	m = meta(1);
	ck_assert_int_eq(m.dirty, 0);
	ck_assert_int_eq(m.api, 0);

	/* Without CATALOG_API the row goes with its children. */
	put(3, full, 0);
	tu_sql(st, "INSERT INTO pipeline_status (channel_id, state) "
	    "VALUES (3, 'running')");
	ck_rc(catalog_channel_delete(st, 3, 0, &cause), 0);
	ck_rc(catalog_channel_meta(st, 3, &m, &cause), ENOENT);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM variants"), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM pipeline_status"), 0);
	ck_rc(catalog_channel_delete(st, 3, 0, &cause), ENOENT);
}
END_TEST

START_TEST(test_mark_saved)
{
	struct api_key		 k = { NULL, NULL, NULL, NULL };
	struct catalog_meta	 m;
	char			 name[] = "ops", key[] = "0123456789abcdef";
	int64_t			 g;

	put(1, NULL, CATALOG_API);
	put(2, NULL, 0);
	put(2, "\"logo\": \"https://l/2\"", CATALOG_API);
	k.name = name;
	k.key = key;
	ck_rc(catalog_key_put(st, &k, CATALOG_API, &cause), 0);
	ck_rc(catalog_key_meta(st, "ops", &m, &cause), 0);
	ck_assert_int_eq(m.api, 1);
	ck_assert_int_eq(m.dirty, 1);

	ck_rc(catalog_mark_saved(st, &cause), 0);
	m = meta(1);
	ck_assert_int_eq(m.api + m.dirty + m.deleted, 0);
	m = meta(2);
	ck_assert_int_eq(m.api + m.dirty + m.deleted, 0);
	ck_rc(catalog_key_meta(st, "ops", &m, &cause), 0);
	ck_assert_int_eq(m.api + m.dirty + m.deleted, 0);

	/* A second save has nothing to do. */
	g = store_generation(st);
	ck_rc(catalog_mark_saved(st, &cause), 0);
	ck_assert_int_eq(store_generation(st), g);
}
END_TEST

static int64_t
at(const char *iso)
{
	int64_t	t;

	ck_assert_int_eq(timefmt_parse_iso8601(iso, &t), 0);
	return (t);
}

static void
filter_fixture(void)
{
	put(1, "\"group\": \"News\"", 0);
	put(2, "\"group\": \"Sports\", \"regions_allowed\": [\"US\", \"CA\"]",
	    0);
	put(3, "\"group\": \"news\", \"regions_blocked\": [\"FR\"]", 0);
	put(4, "\"schedule\": { \"start\": \"2026-01-01T10:00:00Z\","
	    " \"end\": \"2026-01-01T12:00:00Z\" }", 0);
	put(5, "\"schedule\": { \"start\": \"2026-01-01T10:00:00Z\" }", 0);
	put(6, "\"schedule\": { \"end\": \"2026-01-01T12:00:00Z\" }", 0);
}

START_TEST(test_filter_ids_groups)
{
	struct catalog_filter	 f;
	struct strlist		 groups = { NULL, 0 };
	long long		 ids[] = { 3, 1, 99 };

	filter_fixture();
	memset(&f, 0, sizeof f);
	ck_listed(&f, "1,2,3,4,5,6");
	ck_listed(NULL, "1,2,3,4,5,6");

	f.ids = ids;
	f.nids = 3;
	ck_listed(&f, "1,3");
	f.nids = 0;
	ck_listed(&f, "");
	f.ids = NULL;

	strlist_add(&groups, "NEWS");
	f.groups = &groups;
	ck_listed(&f, "1,3");
	strlist_free(&groups);
	strlist_add(&groups, "sports");
	strlist_add(&groups, "x'); DROP TABLE channels; --");
	ck_listed(&f, "2");
	strlist_free(&groups);
	ck_listed(&f, "");
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM channels"), 6);
}
END_TEST

START_TEST(test_filter_window)
{
	struct catalog_filter	f;

	filter_fixture();
	memset(&f, 0, sizeof f);
	f.now = at("2026-01-01T09:00:00Z");
	ck_listed(&f, "1,2,3,6");
	f.now = at("2026-01-01T10:00:00Z");
	ck_listed(&f, "1,2,3,4,5,6");
	f.now = at("2026-01-01T11:00:00Z");
	ck_listed(&f, "1,2,3,4,5,6");
	f.now = at("2026-01-01T12:00:00Z");
	ck_listed(&f, "1,2,3,5");
	f.now = at("2026-01-02T00:00:00Z");
	ck_listed(&f, "1,2,3,5");
}
END_TEST

START_TEST(test_filter_regions)
{
	struct catalog_filter	f;

	filter_fixture();
	memset(&f, 0, sizeof f);
	f.region = "US";
	ck_listed(&f, "1,2,3,4,5,6");
	f.region = "us";
	ck_listed(&f, "1,2,3,4,5,6");
	f.region = "FR";
	ck_listed(&f, "1,4,5,6");
	f.region = "DE";
	ck_listed(&f, "1,3,4,5,6");
	/* An unknown viewer: judged only when asked to. */
	f.region = NULL;
	ck_listed(&f, "1,2,3,4,5,6");
	f.region_known = 1;
	ck_listed(&f, "1,3,4,5,6");
}
END_TEST

START_TEST(test_filter_combined)
{
	struct catalog_filter	f;
	struct strlist		groups = { NULL, 0 };

	filter_fixture();
	put(7, "\"group\": \"NEWS\", \"regions_allowed\": [\"FR\"],"
	    " \"schedule\": { \"end\": \"2026-01-01T12:00:00Z\" }", 0);
	memset(&f, 0, sizeof f);
	strlist_add(&groups, "news");
	f.groups = &groups;
	f.region = "FR";
	f.now = at("2026-01-01T11:00:00Z");
	ck_listed(&f, "1,7");
	f.now = at("2026-01-01T13:00:00Z");
	ck_listed(&f, "1");
	f.region = "US";
	ck_listed(&f, "1,3");
	strlist_free(&groups);
}
END_TEST

/* The SQL filter agrees with the C rules of channel.c and region.c. */
START_TEST(test_filter_matches_c)
{
	static const char *const regions[] = { "US", "FR", "DE", NULL };
	static const char *const times[] = { "2026-01-01T09:59:59Z",
	    "2026-01-01T10:00:00Z", "2026-01-01T11:59:59Z",
	    "2026-01-01T12:00:00Z" };
	struct catalog_filter	  f;
	struct channel		**all, **v;
	size_t			  nall, n, i, j, t, r;
	int			  want;

	filter_fixture();
	memset(&f, 0, sizeof f);
	ck_rc(catalog_channels(st, NULL, &all, &nall, &cause), 0);
	for (t = 0; t < sizeof times / sizeof times[0]; t++) {
		for (r = 0; r < 4; r++) {
			f.now = at(times[t]);
			f.region = regions[r];
			f.region_known = 1;
			ck_rc(catalog_channels(st, &f, &v, &n, &cause), 0);
			for (i = 0, j = 0; i < nall; i++) {
				want = channel_in_window(all[i], f.now) &&
				    channel_region_permits(all[i], f.region);
				if (j < n && v[j]->id == all[i]->id) {
					ck_assert_msg(want, "channel %lld at "
					    "%s from %s: listed", all[i]->id,
					    times[t], regions[r]);
					j++;
				} else
					ck_assert_msg(!want, "channel %lld at "
					    "%s from %s: not listed",
					    all[i]->id, times[t], regions[r]);
			}
			ck_assert_uint_eq(j, n);
			catalog_channels_free(v, n);
		}
	}
	catalog_channels_free(all, nall);
}
END_TEST

START_TEST(test_order)
{
	long long	*ids;
	size_t		 n;
	int64_t		 g;

	filter_fixture();
	ck_rc(catalog_channel_set_position(st, 1, 10, &cause), 0);
	ck_rc(catalog_channel_set_position(st, 5, 0, &cause), 0);
	ck_listed(NULL, "5,2,3,4,6,1");
	/* An update keeps the place. */
	put(1, "\"logo\": \"https://l/1\"", 0);
	ck_listed(NULL, "5,2,3,4,6,1");
	ck_rc(catalog_channel_ids(st, &ids, &n, &cause), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(ids[0], 5);
	ck_assert_int_eq(ids[5], 1);
	free(ids);
	/* Equal positions fall back to the id. */
	ck_rc(catalog_channel_set_position(st, 6, 2, &cause), 0);
	ck_listed(NULL, "5,2,6,3,4,1");
	g = store_generation(st);
	ck_rc(catalog_channel_set_position(st, 6, 2, &cause), 0);
	ck_assert_int_eq(store_generation(st), g);
	ck_rc(catalog_channel_set_position(st, 99, 2, &cause), ENOENT);
}
END_TEST

struct counter {
	int	seen;
	int	stop_at;
	int	nested;
};

static int
count_cb(struct channel *ch, void *arg)
{
	struct counter	*c = arg;
	struct counter	 inner = { 0, 0, 0 };
	char		*why = NULL;

	c->seen++;
	if (c->nested) {
		/* The callback may run catalogue queries, this one too. */
		ck_assert_int_eq(catalog_channels_each(st, NULL, count_cb,
		    &inner, &why), 0);
		ck_assert_int_eq(inner.seen, 3);
	}
	ck_assert_ptr_nonnull(ch->name);
	return (c->seen == c->stop_at ? 7 : 0);
}

START_TEST(test_each)
{
	struct counter	c = { 0, 2, 0 };

	put(1, full, 0);
	put(2, NULL, 0);
	put(3, NULL, 0);
	ck_assert_int_eq(catalog_channels_each(st, NULL, count_cb, &c,
	    &cause), 7);
	ck_assert_int_eq(c.seen, 2);
	c.seen = 0;
	c.stop_at = 0;
	c.nested = 1;
	ck_rc(catalog_channels_each(st, NULL, count_cb, &c, &cause), 0);
	ck_assert_int_eq(c.seen, 3);
}
END_TEST

START_TEST(test_programs_put)
{
	struct objlist	 progs = { NULL, 0 };
	struct program	*p;
	struct channel	*ch = NULL;

	put(1, full, 0);
	tu_sql(st, "INSERT INTO programmes (channel_id, source, title, start) "
	    "VALUES (1, 'guide', 'From the guide', 100)");
	p = schema_list_add(&program_schema, &progs);
	p->title = strdup("Replaced");
	p->start = at("2026-01-01T20:00:00Z");
	ck_rc(catalog_programs_put(st, 1, &progs, CATALOG_API, &cause), 0);
	ck_rc(catalog_channel_get(st, 1, &ch, &cause), 0);
	ck_assert_uint_eq(ch->next_programs.n, 1);
	p = schema_list_at(&program_schema, &ch->next_programs, 0);
	ck_assert_str_eq(p->title, "Replaced");
	ck_assert_int_eq(p->start, at("2026-01-01T20:00:00Z"));
	ck_assert_uint_eq(ch->adaptive_bitrates.n, 2);
	channel_free(ch);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes "
	    "WHERE source = 'guide'"), 1);
	ck_assert_int_eq(meta(1).dirty, 1);
	ck_rc(catalog_programs_put(st, 2, &progs, CATALOG_API, &cause),
	    ENOENT);
	p = schema_list_add(&program_schema, &progs);
	ck_rc(catalog_programs_put(st, 1, &progs, CATALOG_API, &cause),
	    EINVAL);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 2);
	schema_list_free(&program_schema, &progs);
}
END_TEST

START_TEST(test_profiles)
{
	struct profile	 p, *back = NULL, *q;
	struct objlist	 l;

	memset(&p, 0, sizeof p);
	schema_defaults(&profile_schema, &p);
	load(&profile_schema, "{ \"name\": \"hd\", \"video_codec\": "
	    "\"libx264\", \"video_bitrate\": \"3M\", \"preset\": \"veryfast\","
	    " \"video_options\": { \"x264-params\": \"keyint=50\" } }", &p);
	ck_rc(catalog_profile_put(st, &p, &cause), 0);
	ck_rc(catalog_profile_get(st, "hd", &back, &cause), 0);
	ck_assert(schema_equal(&profile_schema, &p, back));
	ck_assert_int_eq(back->video_bitrate, 3000000);
	schema_free(&profile_schema, back);
	free(back);
	back = NULL;

	free(p.name);
	p.name = strdup("another");
	ck_rc(catalog_profile_put(st, &p, &cause), 0);
	ck_rc(catalog_profiles(st, &l, &cause), 0);
	ck_assert_uint_eq(l.n, 2);
	q = schema_list_at(&profile_schema, &l, 0);
	ck_assert_str_eq(q->name, "another");
	schema_list_free(&profile_schema, &l);

	ck_rc(catalog_profile_delete(st, "hd", &cause), 0);
	ck_rc(catalog_profile_delete(st, "hd", &cause), ENOENT);
	ck_rc(catalog_profile_get(st, "hd", &back, &cause), ENOENT);
	ck_assert_ptr_null(back);
	schema_free(&profile_schema, &p);
}
END_TEST

START_TEST(test_keys)
{
	struct api_key		 k = { NULL, NULL, NULL, NULL }, *got;
	struct catalog_meta	 m;
	struct objlist		 l;
	char			 hash[CATALOG_HASH_SIZE], *role = NULL;
	char			 tv[] = "tv", horse[] = "correct horse battery";
	char			 admin[] = "admin", box[] = "box";
	char			 copy[] = "copy", bad[] = "sha256:XYZ";
	char			 root[] = "root", nobody[] = "nobody";
	char			 box2[] = "box2";

	catalog_hash_key("abc", hash);
	ck_assert_str_eq(hash, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a3"
	    "96177a9cb410ff61f20015ad");

	k.name = tv;
	k.key = horse;
	k.role = admin;
	ck_rc(catalog_key_put(st, &k, CATALOG_CREATE, &cause), 0);
	/* A key from the file has no creation time: an import takes none. */
	ck_assert_int_eq(tu_sql_int(st, "SELECT created FROM api_keys"), 0);
	ck_rc(catalog_key_put(st, &k, CATALOG_CREATE, &cause), EEXIST);
	ck_rc(catalog_key_check(st, "correct horse battery", &role, &cause),
	    0);
	ck_assert_str_eq(role, "admin");
	free(role);
	role = NULL;
	ck_rc(catalog_key_check(st, "correct horse batterY", &role, &cause),
	    ENOENT);
	ck_assert_ptr_null(role);
	ck_rc(catalog_key_check(st, "", &role, &cause), ENOENT);

	/* Listed with its hash, never the key. */
	ck_rc(catalog_keys(st, &l, &cause), 0);
	ck_assert_uint_eq(l.n, 1);
	got = schema_list_at(&api_key_schema, &l, 0);
	ck_assert_str_eq(got->name, "tv");
	ck_assert_ptr_null(got->key);
	catalog_hash_key("correct horse battery", hash);
	ck_assert_str_eq(got->key_hash, hash);
	ck_assert_str_eq(got->role, "admin");
	schema_list_free(&api_key_schema, &l);

	/* A key given by its hash, with the default role. */
	k.name = box;
	k.key = NULL;
	k.role = NULL;
	catalog_hash_key("another key value", hash);
	k.key_hash = hash;
	ck_rc(catalog_key_put(st, &k, CATALOG_API, &cause), 0);
	ck_assert_int_gt(tu_sql_int(st, "SELECT created FROM api_keys "
	    "WHERE name = 'box'"), 0);
	ck_rc(catalog_key_check(st, "another key value", &role, &cause), 0);
	ck_assert_str_eq(role, "viewer");
	free(role);
	role = NULL;

	/* One value, one key. */
	k.name = copy;
	ck_rc(catalog_key_put(st, &k, 0, &cause), EEXIST);
	k.key_hash = bad;
	ck_rc(catalog_key_put(st, &k, 0, &cause), EINVAL);
	k.key_hash = NULL;
	ck_rc(catalog_key_put(st, &k, 0, &cause), EINVAL);
	k.key_hash = hash;
	k.role = root;
	ck_rc(catalog_key_put(st, &k, 0, &cause), EINVAL);
	k.role = NULL;
	k.name = nobody;
	ck_rc(catalog_key_put(st, &k, CATALOG_UPDATE, &cause), ENOENT);

	/* Revoking through the API: the key stops working at once. */
	ck_rc(catalog_key_delete(st, "box", CATALOG_API, &cause), 0);
	ck_rc(catalog_key_check(st, "another key value", &role, &cause),
	    ENOENT);
	ck_rc(catalog_key_meta(st, "box", &m, &cause), 0);
	ck_assert_int_eq(m.deleted, 1);
	ck_assert_int_eq(m.dirty, 1);
	ck_rc(catalog_key_delete(st, "box", CATALOG_API, &cause), ENOENT);
	ck_rc(catalog_keys(st, &l, &cause), 0);
	ck_assert_uint_eq(l.n, 1);
	schema_list_free(&api_key_schema, &l);
	/* ... and its value may be given to another key. */
	k.name = box2;
	ck_rc(catalog_key_put(st, &k, CATALOG_API, &cause), 0);
	ck_rc(catalog_key_check(st, "another key value", &role, &cause), 0);
	free(role);

	ck_rc(catalog_key_delete(st, "tv", 0, &cause), 0);
	ck_rc(catalog_key_meta(st, "tv", &m, &cause), ENOENT);
	ck_rc(catalog_key_delete(st, "tv", 0, &cause), ENOENT);
}
END_TEST

static void
list_load(const struct schema *sc, struct objlist *l, const char *text)
{
	json_object	*a;
	size_t		 i;
	char		*one;

	a = json_tokener_parse(text);
	ck_assert_ptr_nonnull(a);
	for (i = 0; i < json_object_array_length(a); i++) {
		one = strdup(json_object_to_json_string(
		    json_object_array_get_idx(a, i)));
		load(sc, one, schema_list_add(sc, l));
		free(one);
	}
	json_object_put(a);
}

START_TEST(test_epg_sources)
{
	struct objlist		 l = { NULL, 0 }, back;
	struct epg_source	*e;

	list_load(&epg_source_schema, &l, "[ { \"name\": \"a\", \"url\": "
	    "\"https://a/guide.xml\" }, { \"name\": \"b\", \"path\": "
	    "\"/srv/b.xml\", \"refresh_interval_minutes\": 60 } ]");
	ck_rc(catalog_epg_sources_set(st, &l, &cause), 0);
	schema_list_free(&epg_source_schema, &l);
	tu_sql(st, "UPDATE epg_sources SET last_status = 'ok', etag = 'W/1', "
	    "programmes = 12 WHERE name = 'a'");
	tu_sql(st, "INSERT INTO channels (id, name) VALUES (1, 'x')");
	tu_sql(st, "INSERT INTO programmes (channel_id, source, title) "
	    "VALUES (1, 'b', 'from b'), (1, 'a', 'from a')");

	/* Reordered, a changed: a keeps its refresh status. */
	tu_sql(st, "UPDATE epg_sources SET etag = 'W/b' WHERE name = 'b'");
	list_load(&epg_source_schema, &l, "[ { \"name\": \"b\", \"path\": "
	    "\"/srv/b.xml\", \"refresh_interval_minutes\": 60 }, { \"name\": "
	    "\"a\", \"url\": \"https://a/other.xml\" } ]");
	ck_rc(catalog_epg_sources_set(st, &l, &cause), 0);
	ck_rc(catalog_epg_sources(st, &back, &cause), 0);
	ck_assert(back.n == 2);
	e = schema_list_at(&epg_source_schema, &back, 0);
	ck_assert_str_eq(e->name, "b");
	ck_assert_int_eq(e->refresh_interval_minutes, 60);
	e = schema_list_at(&epg_source_schema, &back, 1);
	ck_assert_str_eq(e->url, "https://a/other.xml");
	ck_assert_str_eq(e->match_on, "epg_id");
	schema_list_free(&epg_source_schema, &back);
	/* Its ETag belonged to the old URL and is gone; b's stays. */
	ck_assert_int_eq(tu_sql_int(st, "SELECT last_status = 'ok' AND "
	    "etag IS NULL AND programmes = 12 FROM epg_sources "
	    "WHERE name = 'a'"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT etag = 'W/b' FROM epg_sources "
	    "WHERE name = 'b'"), 1);
	tu_sql(st, "UPDATE epg_sources SET etag = 'W/2', "
	    "last_modified = 'Sat, 21 Nov 2026 10:00:00 GMT'");
	ck_rc(catalog_epg_sources_set(st, &l, &cause), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM epg_sources "
	    "WHERE etag = 'W/2' AND last_modified IS NOT NULL"), 2);

	/* b goes, with its programmes. */
	schema_list_free(&epg_source_schema, &l);
	list_load(&epg_source_schema, &l, "[ { \"name\": \"a\", \"url\": "
	    "\"https://a/other.xml\" } ]");
	ck_rc(catalog_epg_sources_set(st, &l, &cause), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM epg_sources"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT last_status = 'ok' "
	    "FROM epg_sources"), 1);

	/* Two of one name are refused, and nothing changes. */
	list_load(&epg_source_schema, &l, "[ { \"name\": \"a\", \"path\": "
	    "\"/x\" } ]");
	ck_rc(catalog_epg_sources_set(st, &l, &cause), EINVAL);
	schema_list_free(&epg_source_schema, &l);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM epg_sources"), 1);

	/* An empty list removes them all. */
	ck_rc(catalog_epg_sources_set(st, &l, &cause), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM epg_sources"), 0);
}
END_TEST

START_TEST(test_webhooks_plugins)
{
	struct objlist	 l = { NULL, 0 }, back;
	int64_t		 g;
	size_t		 i;

	list_load(&webhook_schema, &l, "[ { \"name\": \"ops\", \"url\": "
	    "\"https://hooks/1\", \"events\": [ \"stream.failed\" ], "
	    "\"secret\": \"s3cret\" }, { \"url\": \"http://hooks/2\" } ]");
	ck_rc(catalog_webhooks_set(st, &l, &cause), 0);
	ck_rc(catalog_webhooks(st, &back, &cause), 0);
	ck_assert_uint_eq(back.n, 2);
	for (i = 0; i < 2; i++)
		ck_assert(schema_equal(&webhook_schema,
		    schema_list_at(&webhook_schema, &l, i),
		    schema_list_at(&webhook_schema, &back, i)));
	schema_list_free(&webhook_schema, &back);

	/* Unchanged: nothing written. */
	g = store_generation(st);
	ck_rc(catalog_webhooks_set(st, &l, &cause), 0);
	ck_assert_int_eq(store_generation(st), g);

	/* Shorter. */
	l.n = 1;
	ck_rc(catalog_webhooks_set(st, &l, &cause), 0);
	l.n = 2;
	ck_rc(catalog_webhooks(st, &back, &cause), 0);
	ck_assert_uint_eq(back.n, 1);
	schema_list_free(&webhook_schema, &back);
	schema_list_free(&webhook_schema, &l);

	list_load(&plugin_schema, &l, "[ { \"module\": \"motd.so\" }, "
	    "{ \"module\": \"x.so\", \"config\": { \"level\": 3, "
	    "\"names\": [ \"a\", true ] } } ]");
	ck_rc(catalog_plugins_set(st, &l, &cause), 0);
	ck_rc(catalog_plugins(st, &back, &cause), 0);
	ck_assert_uint_eq(back.n, 2);
	for (i = 0; i < 2; i++)
		ck_assert(schema_equal(&plugin_schema,
		    schema_list_at(&plugin_schema, &l, i),
		    schema_list_at(&plugin_schema, &back, i)));
	schema_list_free(&plugin_schema, &back);
	schema_list_free(&plugin_schema, &l);
}
END_TEST

/* Catalogue calls join a caller's transaction (an import) and undo only
 * their own part when they fail. */
START_TEST(test_in_transaction)
{
	struct channel	*ch = NULL;

	ck_rc(store_begin(st, &cause), 0);
	put(1, NULL, 0);
	ck_rc(catalog_channel_put(st, ch = chan(1, NULL), CATALOG_CREATE,
	    &cause), EEXIST);
	channel_free(ch);
	put(2, NULL, 0);
	ck_rc(store_commit(st, &cause), 0);
	ck_listed(NULL, "1,2");

	ck_rc(store_begin(st, &cause), 0);
	put(3, NULL, 0);
	ck_rc(catalog_channel_delete(st, 1, 0, &cause), 0);
	store_rollback(st);
	ck_listed(NULL, "1,2");
}
END_TEST

static Suite *
catalog_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("catalog");
	tc = tcase_create("channels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_create_update);
	tcase_add_test(tc, test_api_marks);
	tcase_add_test(tc, test_tombstone);
	tcase_add_test(tc, test_mark_saved);
	tcase_add_test(tc, test_programs_put);
	tcase_add_test(tc, test_in_transaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("queries");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_filter_ids_groups);
	tcase_add_test(tc, test_filter_window);
	tcase_add_test(tc, test_filter_regions);
	tcase_add_test(tc, test_filter_combined);
	tcase_add_test(tc, test_filter_matches_c);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_each);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_profiles);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_epg_sources);
	tcase_add_test(tc, test_webhooks_plugins);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(catalog_suite()));
}
