#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>
#include <sqlite3.h>
#include <zlib.h>

#include "buf.h"
#include "channel.h"
#include "epg.h"
#include "store.h"
#include "testutil.h"

static char		*dir;
static struct store	*st;
static char		*cause;

/* query_int with an id and a text bound to its two parameters. */
static long long
query_int_id(const char *sql, long long id, const char *text)
{
	sqlite3_stmt	*q;
	long long	 v;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL) != SQLITE_OK)
		ck_abort_msg("%s: %s", sql, sqlite3_errmsg(store_db(st)));
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return (v);
}

/* Every guide row, in order: the guide as it stands. */
static char *
guide_sum(void)
{
	return (tu_sql_text(st, "SELECT count(*) || ':' || coalesce(group_concat("
	    "channel_id || '|' || source || '|' || title || '|' || start || "
	    "'|' || coalesce(\"end\", '') || '|' || coalesce(sub_title, '') || "
	    "'|' || coalesce(description, '') || '|' || "
	    "coalesce(categories, '') || '|' || coalesce(episode_num, '') || "
	    "'|' || coalesce(icon, ''), ';'), '') FROM (SELECT * FROM "
	    "programmes WHERE source IS NOT NULL ORDER BY id)"));
}

static void
setup(void)
{
	cause = NULL;
	dir = tu_tmpdir();
	st = tu_store(dir);
	/* 1: epg_id; 2: none (matched by "2"); 3: epg_id with blanks and
	 * capitals; 4 and 5 share a tvg_name. */
	tu_sql(st, "INSERT INTO channels (id, name, source, tvg_name, epg_id) "
	    "VALUES (1, 'One', 's1', 'One HD', 'one.tv'),"
	    "(2, 'Two', 's2', NULL, NULL),"
	    "(3, 'Three', 's3', NULL, '  Three.TV '),"
	    "(4, 'Four', 's4', 'Shared', 'four.tv'),"
	    "(5, 'Five', 's5', 'shared ', 'five.tv')");
	tu_sql(st, "INSERT INTO webhooks (position, name, url, events) VALUES "
	    "(0, 'hook', 'http://127.0.0.1:9/', '[]')");
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

/* A source reading file name in the scratch folder. */
static char *
add_source(const char *name, const char *match_on, int interval)
{
	char	*path, *sql;

	if (asprintf(&path, "%s/%s.xml", dir, name) < 0 ||
	    asprintf(&sql, "INSERT INTO epg_sources (name, path, match_on, "
	    "refresh_interval_minutes) VALUES ('%s', '%s', '%s', %d)", name,
	    path, match_on, interval) < 0)
		ck_abort_msg("asprintf failed");
	tu_sql(st, sql);
	free(sql);
	return (path);
}

static const char head[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n"
	"<tv generator-info-name=\"check_epg\">\n";

/* A generated guide: nprog programmes on each XMLTV channel id given. */
static char *
guide(const char *const *ids, size_t nids, int nprog)
{
	struct buf	 b = BUF_INIT;
	size_t		 i;
	int		 k;

	buf_adds(&b, head);
	for (i = 0; i < nids; i++)
		buf_addf(&b, "<channel id=\"%s\"><display-name>%s"
		    "</display-name></channel>\n", ids[i], ids[i]);
	for (i = 0; i < nids; i++) {
		for (k = 0; k < nprog; k++) {
			buf_addf(&b, "<programme start=\"203001%02d%02d0000 "
			    "+0100\" stop=\"203001%02d%02d3000 +0100\" "
			    "channel=\"%s\">\n"
			    "  <title lang=\"en\">Show %d &amp; co</title>\n"
			    "  <title lang=\"de\">Sendung %d</title>\n"
			    "  <sub-title>Part %d</sub-title>\n"
			    "  <desc>About <![CDATA[<things>]]> %d</desc>\n"
			    "  <credits><actor>Someone</actor></credits>\n"
			    "  <category>News</category>\n"
			    "  <category> Weather </category>\n"
			    "  <icon src=\"http://i.example/%d.png\"/>\n"
			    "  <episode-num system=\"xmltv_ns\">1.4.0/1"
			    "</episode-num>\n"
			    "</programme>\n", 1 + k / 24, k % 24, 1 + k / 24,
			    k % 24, ids[i], k, k, k, k, k);
		}
	}
	buf_adds(&b, "</tv>\n");
	return (buf_detach(&b));
}

static int
refresh(const char *name, struct epg_result *res)
{
	int	rc;

	rc = epg_refresh(st, NULL, name, res, &cause);
	if (rc != 0)
		ck_assert_msg(cause != NULL, "no cause");
	return (rc);
}

START_TEST(test_epg_id)
{
	static const char *const ids[] = { "ONE.tv", " 2 ", "three.tv",
	    "nobody.tv" };
	struct epg_result	 res;
	char			*path, *doc, *v;
	long long		 gen;

	path = add_source("main", "epg_id", 0);
	doc = guide(ids, 4, 5);
	tu_write_file(path, doc);
	gen = store_generation(st);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	ck_assert_ptr_null(res.error);
	ck_assert_int_eq(res.programmes, 15);
	ck_assert_int_eq(res.channels, 3);
	ck_assert_int_eq(res.skipped, 0);
	ck_assert_int_eq(res.unmatched, 5);
	ck_assert_str_eq(res.name, "main");
	epg_result_clear(&res);

	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "source = 'main'"), 15);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(DISTINCT channel_id) FROM "
	    "programmes"), 3);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "channel_id IN (4, 5)"), 0);
	/* The row of programme 2 on channel 3 (+0100: an hour earlier). */
	v = tu_sql_text(st, "SELECT title || '|' || start || '|' || \"end\" || '|' "
	    "|| sub_title || '|' || description || '|' || categories || '|' "
	    "|| episode_num || '|' || icon FROM programmes WHERE "
	    "channel_id = 3 AND sub_title = 'Part 2'");
	ck_assert_str_eq(v, "Show 2 & co|1893459600|1893461400|Part 2|"
	    "About <things> 2|[\"News\",\"Weather\"]|S02E05|"
	    "http://i.example/2.png");
	free(v);
	/* One bump for the programmes, one for the status row. */
	ck_assert_int_eq(store_generation(st), gen + 2);

	v = tu_sql_text(st, "SELECT last_status || '|' || programmes || '|' || "
	    "channels || '|' || skipped || '|' || (last_refresh > 0) || '|' "
	    "|| (last_success = last_refresh) || '|' || "
	    "coalesce(last_error, 'none') FROM epg_sources");
	ck_assert_str_eq(v, "ok|15|3|0|1|1|none");
	free(v);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM webhook_outbox "
	    "WHERE event = 'epg.refreshed' AND body LIKE '%\"programmes\":"
	    "15%'"), 1);

	/* A second refresh replaces, never adds. */
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 15);
	free(doc);

	/* A guide that shrinks leaves nothing of the bigger one behind, and
	 * one that grows again keeps every programme once. */
	doc = guide(ids, 1, 2);
	tu_write_file(path, doc);
	free(doc);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.programmes, 2);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "source = 'main'"), 2);
	v = guide_sum();
	ck_assert_msg(strncmp(v, "2:1|main|Show 0 & co|", 21) == 0, "%s", v);
	free(v);
	doc = guide(ids, 4, 7);
	tu_write_file(path, doc);
	free(doc);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.programmes, 21);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM (SELECT DISTINCT "
	    "channel_id, start FROM programmes WHERE source = 'main')"), 21);
	free(path);
}
END_TEST

START_TEST(test_tvg_name)
{
	struct epg_result	 res;
	char			*path;

	path = add_source("names", "tvg_name", 0);
	tu_write_file(path, "<?xml version=\"1.0\"?>\n<tv>"
	    /* tvg_name of 1, trimmed and in other case. */
	    "<channel id=\"a\"><display-name>Nothing</display-name>"
	    "<display-name>  one hd </display-name></channel>"
	    /* 2 has no tvg_name: its name. */
	    "<channel id=\"b\"><display-name>TWO</display-name></channel>"
	    /* 4 and 5 share one. */
	    "<channel id=\"c\"><display-name>SHARED</display-name></channel>"
	    "<channel id=\"d\"><display-name>Three</display-name></channel>"
	    "<programme start=\"20300101000000 +0000\" channel=\"a\">"
	    "<title>A</title><episode-num system=\"xmltv_ns\">0.0.</episode-num>"
	    "<episode-num system=\"onscreen\">Ep. 7</episode-num></programme>"
	    "<programme start=\"20300101000000\" channel=\"b\">"
	    "<title>B</title></programme>"
	    "<programme start=\"20300101000000\" channel=\"c\">"
	    "<title>C</title></programme>"
	    /* 3 has a name "Three" but an epg_id: tvg_name falls back to
	     * the name, so "d" matches 3 too. */
	    "<programme start=\"20300101000000\" channel=\"d\">"
	    "<title>D</title></programme>"
	    "<programme start=\"20300101000000\" channel=\"1\">"
	    "<title>by id: no</title></programme>"
	    "</tv>");
	ck_assert_int_eq(refresh("names", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	ck_assert_int_eq(res.programmes, 5);
	ck_assert_int_eq(res.channels, 5);
	ck_assert_int_eq(res.unmatched, 1);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "title = 'C' AND channel_id IN (4, 5)"), 2);
	ck_assert_int_eq(tu_sql_int(st, "SELECT channel_id FROM programmes WHERE "
	    "title = 'B'"), 2);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "title = 'A' AND channel_id = 1 AND episode_num = 'Ep. 7' AND "
	    "\"end\" IS NULL"), 1);
	free(path);
}
END_TEST

START_TEST(test_impossible_times)
{
	struct epg_result	 res;
	char			*path;

	path = add_source("times", "epg_id", 0);
	tu_write_file(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv>"
	    "<programme start=\"20301301000000 +0000\" channel=\"one.tv\">"
	    "<title>month 13</title></programme>"
	    "<programme start=\"20300101120000 +0000\" "
	    "stop=\"20300101110000 +0000\" channel=\"one.tv\">"
	    "<title>stop before start</title></programme>"
	    "<programme start=\"tomorrow\" channel=\"one.tv\">"
	    "<title>words</title></programme>"
	    "<programme channel=\"one.tv\"><title>no start</title></programme>"
	    "<programme start=\"20300101120000\" channel=\"one.tv\">"
	    "<desc>no title</desc></programme>"
	    "<programme start=\"20300229120000\" channel=\"one.tv\">"
	    "<title>not a leap year</title></programme>"
	    "<programme start=\"20300101120000 +0000\" "
	    "stop=\"20300101130000 +0000\" channel=\"one.tv\">"
	    "<title>fine</title></programme>"
	    "</tv>");
	ck_assert_int_eq(refresh("times", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	ck_assert_int_eq(res.programmes, 1);
	ck_assert_int_eq(res.skipped, 6);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "title = 'fine'"), 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT skipped FROM epg_sources"), 6);
	free(path);
}
END_TEST

/* Each bad document fails the refresh, records why, and leaves the
 * guide of the good refresh before it exactly as it was. */
static const struct bad {
	const char	*name;
	const char	*doc;
	const char	*want;		/* in the error */
} bads[] = {
	{ "truncated", "<?xml version=\"1.0\"?>\n<tv><programme start=\""
	  "20300101000000\" channel=\"one.tv\"><title>Cut</title></programme>"
	  "<programme start=\"2030", "line " },
	{ "wrong encoding", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv>"
	  "<programme start=\"20300101000000\" channel=\"one.tv\"><title>"
	  "Caf\xe9 au lait</title></programme></tv>", "UTF-8" },
	{ "billion laughs", "<?xml version=\"1.0\"?>\n<!DOCTYPE tv [\n"
	  "<!ENTITY a \"aaaaaaaaaa\">\n"
	  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
	  "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
	  "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
	  "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
	  "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
	  "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
	  "<!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
	  "<!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
	  "]>\n<tv><programme start=\"20300101000000\" channel=\"one.tv\">"
	  "<title>&i;</title></programme></tv>", "entit" },
	{ "laughs in an attribute", "<?xml version=\"1.0\"?>\n"
	  "<!DOCTYPE tv [\n<!ENTITY a \"aaaaaaaaaa\">\n"
	  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
	  "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
	  "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
	  "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
	  "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
	  "<!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
	  "]>\n<tv source-info-name=\"&g;\"></tv>", "entit" },
	{ "unused entity", "<?xml version=\"1.0\"?>\n<!DOCTYPE tv [\n"
	  "<!ENTITY a \"x\">\n]>\n<tv></tv>", "declares entities" },
	{ "not XML", "this is not XML at all\n", "line 1: Document is empty" },
	{ "empty", "", "the guide is empty" },
	{ "not XMLTV", "<?xml version=\"1.0\"?>\n<html><body/></html>",
	  "not XMLTV" },
	{ "two roots", "<?xml version=\"1.0\"?>\n<tv></tv><tv></tv>", "line " },
};

static void
check_bad(const char *path, const struct bad *b, const char *before)
{
	struct epg_result	 res;
	char			*after, *v;

	tu_write_file(path, b->doc);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_msg(res.status == EPG_FAILED, "%s: status %d", b->name,
	    res.status);
	ck_assert_msg(res.error != NULL && strstr(res.error, b->want) != NULL,
	    "%s: error '%s', wanted '%s'", b->name,
	    res.error != NULL ? res.error : "(none)", b->want);
	ck_assert_int_eq(res.programmes, 0);
	after = guide_sum();
	ck_assert_msg(strcmp(before, after) == 0, "%s: the guide changed",
	    b->name);
	free(after);
	v = tu_sql_text(st, "SELECT last_status || '|' || last_error FROM "
	    "epg_sources WHERE name = 'main'");
	ck_assert_msg(strncmp(v, "error|", 6) == 0 &&
	    strcmp(v + 6, res.error) == 0, "%s: row %s", b->name, v);
	free(v);
	/* The last success and its counts stay. */
	ck_assert_int_eq(tu_sql_int(st, "SELECT programmes FROM epg_sources WHERE "
	    "name = 'main'"), 2);
	ck_assert_int_eq(tu_sql_int(st, "SELECT last_success > 0 FROM epg_sources "
	    "WHERE name = 'main'"), 1);
	epg_result_clear(&res);
}

START_TEST(test_malformed)
{
	static const char *const ids[] = { "one.tv" };
	struct epg_result	 res;
	char		*path, *doc, *before;
	size_t		 i;

	path = add_source("main", "epg_id", 0);
	doc = guide(ids, 1, 2);
	tu_write_file(path, doc);
	free(doc);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	epg_result_clear(&res);
	before = guide_sum();
	ck_assert_ptr_nonnull(strstr(before, "2:"));
	for (i = 0; i < sizeof bads / sizeof bads[0]; i++)
		check_bad(path, &bads[i], before);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM webhook_outbox WHERE "
	    "event = 'epg.failed'"), (long long)(sizeof bads /
	    sizeof bads[0]));
	free(before);
	free(path);
}
END_TEST

START_TEST(test_huge_attribute)
{
	struct bad	 b;
	struct buf	 d = BUF_INIT;
	char		*path, *before;
	struct epg_result res;
	size_t		 i;

	path = add_source("main", "epg_id", 0);
	tu_write_file(path, "<tv><programme start=\"20300101000000\" "
	    "channel=\"one.tv\"><title>A</title></programme>"
	    "<programme start=\"20300102000000\" channel=\"one.tv\">"
	    "<title>B</title></programme></tv>");
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	epg_result_clear(&res);
	before = guide_sum();

	/* An attribute of 1 MiB on an element amps does not even read. */
	buf_adds(&d, "<tv><programme start=\"20300101000000\" "
	    "channel=\"one.tv\"><title>A</title><credits><actor role=\"");
	for (i = 0; i < 1024 * 1024; i++)
		buf_addc(&d, 'x');
	buf_adds(&d, "\">X</actor></credits></programme></tv>");
	b.name = "huge attribute";
	b.doc = d.data;
	b.want = "attribute role is longer than 65536 bytes";
	check_bad(path, &b, before);

	/* A text of 100 KiB, half of it in a CDATA section. */
	buf_reset(&d);
	buf_adds(&d, "<tv><programme start=\"20300101000000\" "
	    "channel=\"one.tv\"><title>A</title><desc>");
	for (i = 0; i < 50 * 1024; i++)
		buf_addc(&d, 'y');
	buf_adds(&d, "<![CDATA[");
	for (i = 0; i < 50 * 1024; i++)
		buf_addc(&d, 'z');
	buf_adds(&d, "]]></desc></programme></tv>");
	b.name = "huge text";
	b.doc = d.data;
	b.want = "longer than 65536 bytes";
	check_bad(path, &b, before);
	buf_free(&d);
	free(before);
	free(path);
}
END_TEST

/* An external entity naming a local file: refused, and the file's text
 * is nowhere in the store. */
START_TEST(test_external_entity)
{
	struct epg_result	 res;
	char			*path, *secret, *doc;

	path = add_source("main", "epg_id", 0);
	if (asprintf(&secret, "%s/secret.txt", dir) < 0)
		ck_abort_msg("asprintf failed");
	tu_write_file(secret, "TOPSECRET-4711");
	if (asprintf(&doc, "<?xml version=\"1.0\"?>\n<!DOCTYPE tv [\n"
	    "<!ENTITY xxe SYSTEM \"file://%s\">\n]>\n<tv>"
	    "<programme start=\"20300101000000\" channel=\"one.tv\">"
	    "<title>&xxe;</title><desc>&xxe;</desc></programme></tv>",
	    secret) < 0)
		ck_abort_msg("asprintf failed");
	tu_write_file(path, doc);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_FAILED);
	ck_assert_ptr_nonnull(strstr(res.error, "entit"));
	ck_assert_ptr_null(strstr(res.error, "TOPSECRET"));
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM epg_sources WHERE "
	    "last_error LIKE '%TOPSECRET%'"), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM webhook_outbox WHERE "
	    "body LIKE '%TOPSECRET%'"), 0);
	free(doc);
	free(secret);
	free(path);
}
END_TEST

START_TEST(test_gzip_and_limit)
{
	static const char *const ids[] = { "one.tv", "2" };
	struct epg_opts		 o;
	struct epg_result	 res;
	gzFile			 gz;
	char			*path, *doc;

	/* The name says .xml: gzip is told by its magic bytes. */
	path = add_source("main", "epg_id", 0);
	doc = guide(ids, 2, 50);
	ck_assert_ptr_nonnull(gz = gzopen(path, "wb"));
	ck_assert_int_eq(gzputs(gz, doc), (int)strlen(doc));
	ck_assert_int_eq(gzclose(gz), Z_OK);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	ck_assert_int_eq(res.programmes, 100);
	epg_result_clear(&res);

	/* The limit counts what was inflated, not the file. */
	memset(&o, 0, sizeof o);
	o.max_size = (long long)strlen(doc) - 1;
	ck_assert_int_eq(epg_refresh(st, &o, "main", &res, &cause), 0);
	ck_assert_int_eq(res.status, EPG_FAILED);
	ck_assert_ptr_nonnull(strstr(res.error, "larger than"));
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 100);
	o.max_size = (long long)strlen(doc);
	ck_assert_int_eq(epg_refresh(st, &o, "main", &res, &cause), 0);
	ck_assert_int_eq(res.status, EPG_OK);
	epg_result_clear(&res);
	free(doc);
	free(path);
}
END_TEST

static int
cancel_now(void *arg)
{
	(void)arg;
	return (1);
}

START_TEST(test_unknown_cancel_missing)
{
	struct epg_opts		 o;
	struct epg_result	 res;
	char			*path, *before, *v;
	long long		 gen;

	gen = store_generation(st);
	ck_assert_int_eq(refresh("nope", &res), ENOENT);
	ck_assert_ptr_nonnull(strstr(cause, "nope"));
	free(cause);
	cause = NULL;
	epg_result_clear(&res);
	ck_assert_int_eq(store_generation(st), gen);

	/* A missing file is a failed refresh. */
	path = add_source("main", "epg_id", 0);
	ck_assert_int_eq(refresh("main", &res), 0);
	ck_assert_int_eq(res.status, EPG_FAILED);
	ck_assert_ptr_nonnull(strstr(res.error, "No such file"));
	epg_result_clear(&res);

	/* Cancelled: nothing recorded. */
	tu_write_file(path, "<tv><programme start=\"20300101000000\" "
	    "channel=\"one.tv\"><title>A</title></programme></tv>");
	before = tu_sql_text(st, "SELECT last_refresh || last_error FROM "
	    "epg_sources");
	memset(&o, 0, sizeof o);
	o.cancel = cancel_now;
	ck_assert_int_eq(epg_refresh(st, &o, "main", &res, &cause),
	    ECANCELED);
	free(cause);
	cause = NULL;
	epg_result_clear(&res);
	v = tu_sql_text(st, "SELECT last_refresh || last_error FROM epg_sources");
	ck_assert_str_eq(v, before);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 0);
	free(v);
	free(before);
	free(path);
}
END_TEST

static int
count_each(const struct program *p, long long id, const char *source,
    void *arg)
{
	int	*n = arg;

	ck_assert_ptr_nonnull(p->title);
	/* The row it came from, and its source. */
	ck_assert_int_eq(query_int_id("SELECT count(*) FROM programmes WHERE "
	    "id = ? AND title = ?", id, p->title), 1);
	ck_assert_ptr_nonnull(source);
	if (strcmp(p->title, "B") == 0) {
		ck_assert_int_eq(p->categories.n, 2);
		ck_assert_str_eq(p->categories.v[1], "y\"z");
		ck_assert_str_eq(p->episode_num, "S03");
		ck_assert_str_eq(p->icon, "http://i/x.png");
		ck_assert_str_eq(p->sub_title, "sub");
		ck_assert_int_eq(p->end, 0);
	}
	(*n)++;
	return (0);
}

START_TEST(test_due_and_each)
{
	char			*a, *b;
	int64_t			 when;
	int			 failed, n = 0;

	ck_assert_int_eq(epg_next_due(st, &when, &cause), 0);
	ck_assert_int_eq(when, -1);
	a = add_source("a", "epg_id", 10);
	b = add_source("b", "epg_id", 0);
	tu_write_file(a, "<tv><programme start=\"20300101000000\" "
	    "channel=\"one.tv\"><title>A</title></programme>"
	    "<programme start=\"20300101010000\" channel=\"one.tv\">"
	    "<title>B</title><sub-title>sub</sub-title>"
	    "<category>x</category><category>y\"z</category>"
	    "<icon src=\"http://i/x.png\"/><icon src=\"http://i/2.png\"/>"
	    "<episode-num system=\"xmltv_ns\">2..</episode-num>"
	    "</programme></tv>");
	tu_write_file(b, "<tv><programme start=\"20300101000000\" "
	    "channel=\"2\"><title>other</title></programme></tv>");
	ck_assert_int_eq(epg_next_due(st, &when, &cause), 0);
	ck_assert_int_eq(when, 0);

	/* Only a is due; then nothing is. */
	ck_assert_int_eq(epg_refresh_all(st, NULL, 1, 1000000, NULL, NULL,
	    &failed, &cause), 0);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "source = 'a'"), 2);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "source = 'b'"), 0);
	tu_sql(st, "UPDATE epg_sources SET last_refresh = 1000000 WHERE "
	    "name = 'a'");
	ck_assert_int_eq(epg_next_due(st, &when, &cause), 0);
	ck_assert_int_eq(when, 1000600);
	tu_sql(st, "DELETE FROM programmes");
	ck_assert_int_eq(epg_refresh_all(st, NULL, 1, 1000599, NULL, NULL,
	    &failed, &cause), 0);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 0);

	/* All: both, in order; a failure is counted. */
	tu_write_file(b, "<tv>");
	ck_assert_int_eq(epg_refresh_all(st, NULL, 0, 1000599, NULL, NULL,
	    &failed, &cause), 0);
	ck_assert_int_eq(failed, 1);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes"), 2);

	ck_assert_int_eq(epg_programmes_each(st, 1, count_each, &n, &cause),
	    0);
	ck_assert_int_eq(n, 2);
	free(a);
	free(b);
}
END_TEST

/* A tiny HTTP origin: answers 200 with an ETag, then 304 when the
 * request carries If-None-Match with it. */
struct origin {
	int		 fd;
	int		 port;
	const char	*body;
	int		 requests;
	int		 conditional;
};

static void *
origin_main(void *arg)
{
	struct origin	*o = arg;
	char		 req[8192], *hdr;
	ssize_t		 n;
	size_t		 len;
	int		 c, k;

	for (k = 0; k < 2; k++) {
		if ((c = accept(o->fd, NULL, NULL)) < 0)
			break;
		len = 0;
		while (len < sizeof req - 1 && (n = read(c, req + len,
		    sizeof req - 1 - len)) > 0) {
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[len] = '\0';
		o->requests++;
		if (strstr(req, "If-None-Match: \"v1\"") != NULL) {
			o->conditional++;
			hdr = strdup("HTTP/1.1 304 Not Modified\r\n"
			    "ETag: \"v1\"\r\nConnection: close\r\n\r\n");
		} else if (asprintf(&hdr, "HTTP/1.1 200 OK\r\n"
		    "Content-Type: application/xml\r\nETag: \"v1\"\r\n"
		    "Last-Modified: Tue, 01 Jan 2030 00:00:00 GMT\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    strlen(o->body), o->body) < 0)
			hdr = NULL;
		if (hdr != NULL && write(c, hdr, strlen(hdr)) < 0)
			k = 2;
		free(hdr);
		close(c);
	}
	return (NULL);
}

START_TEST(test_http_not_modified)
{
	static const char *const ids[] = { "one.tv" };
	struct sockaddr_in	 sa;
	socklen_t		 slen = sizeof sa;
	struct origin		 o;
	struct epg_result	 res;
	pthread_t		 t;
	char			*doc, *sql, *before, *after, *v;

	memset(&o, 0, sizeof o);
	doc = guide(ids, 1, 3);
	o.body = doc;
	ck_assert_int_ge(o.fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(o.fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(o.fd, 4), 0);
	ck_assert_int_eq(getsockname(o.fd, (struct sockaddr *)&sa, &slen), 0);
	o.port = ntohs(sa.sin_port);
	ck_assert_int_eq(pthread_create(&t, NULL, origin_main, &o), 0);

	if (asprintf(&sql, "INSERT INTO epg_sources (name, url, match_on) "
	    "VALUES ('web', 'http://127.0.0.1:%d/guide.xml', 'epg_id')",
	    o.port) < 0)
		ck_abort_msg("asprintf failed");
	tu_sql(st, sql);
	free(sql);
	ck_assert_int_eq(refresh("web", &res), 0);
	ck_assert_msg(res.status == EPG_OK, "%s", res.error);
	ck_assert_int_eq(res.programmes, 3);
	epg_result_clear(&res);
	v = tu_sql_text(st, "SELECT etag || '|' || last_modified FROM epg_sources");
	ck_assert_str_eq(v, "\"v1\"|Tue, 01 Jan 2030 00:00:00 GMT");
	free(v);
	before = guide_sum();

	ck_assert_int_eq(refresh("web", &res), 0);
	ck_assert_int_eq(res.status, EPG_NOT_MODIFIED);
	epg_result_clear(&res);
	pthread_join(t, NULL);
	close(o.fd);
	ck_assert_int_eq(o.requests, 2);
	ck_assert_int_eq(o.conditional, 1);
	after = guide_sum();
	ck_assert_str_eq(before, after);
	v = tu_sql_text(st, "SELECT last_status || '|' || programmes FROM "
	    "epg_sources");
	ck_assert_str_eq(v, "not modified|3");
	free(v);

	/* Nobody listens any more: a failure, the guide stays. */
	ck_assert_int_eq(refresh("web", &res), 0);
	ck_assert_int_eq(res.status, EPG_FAILED);
	ck_assert_ptr_nonnull(strstr(res.error, "127.0.0.1"));
	epg_result_clear(&res);
	free(after);
	after = guide_sum();
	ck_assert_str_eq(before, after);

	/* Only http and https. */
	tu_sql(st, "UPDATE epg_sources SET url = 'file:///etc/passwd'");
	ck_assert_int_eq(refresh("web", &res), 0);
	ck_assert_int_eq(res.status, EPG_FAILED);
	epg_result_clear(&res);
	ck_assert_int_eq(tu_sql_int(st, "SELECT count(*) FROM programmes WHERE "
	    "title LIKE '%root%'"), 0);
	free(before);
	free(after);
	free(doc);
}
END_TEST

static Suite *
epg_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("epg");
	tc = tcase_create("ingest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_epg_id);
	tcase_add_test(tc, test_tvg_name);
	tcase_add_test(tc, test_impossible_times);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_huge_attribute);
	tcase_add_test(tc, test_external_entity);
	tcase_add_test(tc, test_gzip_and_limit);
	tcase_add_test(tc, test_unknown_cancel_missing);
	tcase_add_test(tc, test_due_and_each);
	tcase_add_test(tc, test_http_not_modified);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(epg_suite()));
}
