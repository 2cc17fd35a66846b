#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlerror.h>

#include "buf.h"
#include "channel.h"
#include "schema.h"
#include "testutil.h"
#include "xmalloc.h"
#include "xmltv.h"

#define CX(s)		((const xmlChar *)(s))

#define DTD_PATH	"/usr/share/xmltv/xmltv.dtd"
#define TV_VALIDATE	"/usr/bin/tv_validate_file"

/* 2026-11-21T17:00:00Z */
#define T0		INT64_C(1795280400)
#define HOUR		3600

extern char **environ;

/* Where a test's document goes: a file, with counts of what the writer
 * handed over.  fail_at > 0 makes the callback fail once that many bytes
 * would have been written. */
struct sink {
	FILE	*f;
	size_t	 calls;
	size_t	 bytes;
	size_t	 max_chunk;
	size_t	 fail_at;
};

static int
to_sink(const void *data, size_t len, void *arg)
{
	struct sink	*s = arg;

	if (s->fail_at != 0 && s->bytes + len >= s->fail_at)
		return (-1);
	s->calls++;
	s->bytes += len;
	if (len > s->max_chunk)
		s->max_chunk = len;
	if (s->f != NULL && fwrite(data, 1, len, s->f) != len)
		return (-1);
	return (0);
}

/* A scratch directory and a guide file in it. */
struct guide {
	char		*dir;
	char		*path;
	struct sink	 sink;
	struct xmltv	*x;
};

static void
guide_open(struct guide *g)
{
	memset(g, 0, sizeof *g);
	g->dir = tu_tmpdir();
	g->path = xprintf("%s/guide.xml", g->dir);
	g->sink.f = fopen(g->path, "w");
	ck_assert_ptr_nonnull(g->sink.f);
	g->x = xmltv_open(to_sink, &g->sink);
	ck_assert_ptr_nonnull(g->x);
}

/* Ends the document and checks that it was written completely. */
static void
guide_close(struct guide *g)
{
	ck_assert_int_eq(xmltv_close(g->x), 0);
	g->x = NULL;
	ck_assert_int_eq(fclose(g->sink.f), 0);
	g->sink.f = NULL;
}

static void
guide_free(struct guide *g)
{
	tu_rmtree(g->dir);
	free(g->dir);
	free(g->path);
}

/* A programme built as the catalogue builds one (free with
 * schema_free(&program_schema, p)). */
static void
program_make(struct program *p, const char *title, int64_t start,
    int64_t end)
{
	schema_defaults(&program_schema, p);
	p->title = xstrdup(title);
	p->start = start;
	p->end = end;
}

static void
channel_put(struct guide *g, const char *id, const char *name)
{
	const char	*names[1];

	names[0] = name;
	ck_assert_int_eq(xmltv_channel(g->x, id, names, 1, NULL), 0);
}

static void
programme_put(struct guide *g, const char *id, const char *title,
    int64_t start, int64_t end)
{
	struct program	p;

	program_make(&p, title, start, end);
	ck_assert_int_eq(xmltv_programme(g->x, id, &p), 0);
	schema_free(&program_schema, &p);
}

/* Parses path and validates it against the XMLTV DTD with libxml2, as
 * xmllint --dtdvalid does.  Returns the document (caller frees). */
static xmlDocPtr
load_valid(const char *path)
{
	xmlParserCtxtPtr	 ctxt;
	xmlValidCtxtPtr		 vctxt;
	xmlDtdPtr		 dtd;
	xmlDocPtr		 doc;
	int			 wellformed;

	ctxt = xmlNewParserCtxt();
	ck_assert_ptr_nonnull(ctxt);
	doc = xmlCtxtReadFile(ctxt, path, NULL, XML_PARSE_NONET);
	wellformed = ctxt->wellFormed;
	xmlFreeParserCtxt(ctxt);
	ck_assert_msg(doc != NULL && wellformed, "%s is not well-formed",
	    path);
	dtd = xmlParseDTD(NULL, CX(DTD_PATH));
	ck_assert_msg(dtd != NULL, "cannot read %s (tools/install-deps "
	    "installs xmltv-util)", DTD_PATH);
	vctxt = xmlNewValidCtxt();
	ck_assert_ptr_nonnull(vctxt);
	ck_assert_msg(xmlValidateDtd(vctxt, doc, dtd) == 1,
	    "%s is not valid against %s", path, DTD_PATH);
	xmlFreeValidCtxt(vctxt);
	xmlFreeDtd(dtd);
	return (doc);
}

/* Runs tv_validate_file, which also checks ids, titles, times and the
 * encoding; its output is in the failure message. */
static void
tv_validate(const char *path)
{
	posix_spawn_file_actions_t	 fa;
	char				*argv[5], *log, *out;
	pid_t				 pid;
	int				 status;

	ck_assert_msg(access(TV_VALIDATE, X_OK) == 0,
	    "%s is missing: tools/install-deps installs xmltv-util",
	    TV_VALIDATE);
	log = xprintf("%s.log", path);
	argv[0] = xstrdup("tv_validate_file");
	argv[1] = xstrdup("--dtd-file");
	argv[2] = xstrdup(DTD_PATH);
	argv[3] = xstrdup(path);
	argv[4] = NULL;
	ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
	ck_assert_int_eq(posix_spawn_file_actions_addopen(&fa, 1, log,
	    O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	ck_assert_int_eq(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	ck_assert_int_eq(posix_spawn(&pid, TV_VALIDATE, &fa, NULL, argv,
	    environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	out = tu_read_file(log, NULL);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "tv_validate_file %s: %s", path, out != NULL ? out : "");
	free(out);
	free(log);
	free(argv[0]);
	free(argv[1]);
	free(argv[2]);
	free(argv[3]);
}

/* The element children of n. */
static xmlNodePtr
first_element(xmlNodePtr n)
{
	while (n != NULL && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return (n);
}

static xmlNodePtr
next_element(xmlNodePtr n)
{
	return (first_element(n->next));
}

/* The names of n's element children, space separated (caller frees). */
static char *
child_names(xmlNodePtr n)
{
	struct buf	b = BUF_INIT;
	xmlNodePtr	c;

	for (c = first_element(n->children); c != NULL; c = next_element(c))
		buf_addf(&b, "%s%s", b.len > 0 ? " " : "",
		    (const char *)c->name);
	return (buf_detach(&b));
}

/* The n-th (from 0) element child of parent called name, or NULL. */
static xmlNodePtr
child(xmlNodePtr parent, const char *name, int n)
{
	xmlNodePtr	c;

	for (c = first_element(parent->children); c != NULL;
	    c = next_element(c)) {
		if (strcmp((const char *)c->name, name) == 0 && n-- == 0)
			return (c);
	}
	return (NULL);
}

static void
assert_text(xmlNodePtr n, const char *want)
{
	xmlChar	*s;

	ck_assert_ptr_nonnull(n);
	s = xmlNodeGetContent(n);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq((const char *)s, want);
	xmlFree(s);
}

/* Checks an attribute; want NULL means absent. */
static void
assert_attr(xmlNodePtr n, const char *name, const char *want)
{
	xmlChar	*s;

	ck_assert_ptr_nonnull(n);
	s = xmlGetProp(n, CX(name));
	if (want == NULL) {
		ck_assert_msg(s == NULL, "%s=\"%s\" is there", name,
		    (const char *)s);
		return;
	}
	ck_assert_msg(s != NULL, "no %s on <%s>", name,
	    (const char *)n->name);
	ck_assert_str_eq((const char *)s, want);
	xmlFree(s);
}

static void
assert_children(xmlNodePtr n, const char *want)
{
	char	*names;

	names = child_names(n);
	ck_assert_str_eq(names, want);
	free(names);
}

START_TEST(test_guide)
{
	struct guide	 g;
	struct program	 p;
	const char	*names[] = { "One", "One HD" };
	xmlDocPtr	 doc;
	xmlNodePtr	 tv, c, pr;

	guide_open(&g);
	ck_assert_int_eq(xmltv_channel(g.x, "one.example.com", names, 2,
	    "http://img.example.com/one.png"), 0);
	channel_put(&g, "two.example.com", "Two");

	program_make(&p, "News", T0, T0 + HOUR);
	p.sub_title = xstrdup("Evening edition");
	p.description = xstrdup("Headlines & weather.");
	strlist_add(&p.categories, "News");
	strlist_add(&p.categories, "Current affairs");
	p.episode_num = xstrdup("S01E02");
	p.icon = xstrdup("http://img.example.com/news.png");
	ck_assert_int_eq(xmltv_programme(g.x, "one.example.com", &p), 0);
	schema_free(&program_schema, &p);
	programme_put(&g, "one.example.com", "Film", T0 + HOUR, 0);
	programme_put(&g, "two.example.com", "Cartoons", T0 + 1800,
	    T0 + 2 * HOUR);
	guide_close(&g);

	doc = load_valid(g.path);
	ck_assert_ptr_nonnull(doc->intSubset);
	ck_assert_str_eq((const char *)doc->intSubset->name, "tv");
	ck_assert_str_eq((const char *)doc->intSubset->SystemID, "xmltv.dtd");
	ck_assert_str_eq((const char *)doc->encoding, "UTF-8");
	tv = xmlDocGetRootElement(doc);
	ck_assert_str_eq((const char *)tv->name, "tv");
	assert_attr(tv, "generator-info-name", "amps");
	assert_children(tv, "channel channel programme programme programme");

	c = child(tv, "channel", 0);
	assert_attr(c, "id", "one.example.com");
	assert_children(c, "display-name display-name icon");
	assert_text(child(c, "display-name", 0), "One");
	assert_text(child(c, "display-name", 1), "One HD");
	assert_attr(child(c, "icon", 0), "src",
	    "http://img.example.com/one.png");
	c = child(tv, "channel", 1);
	assert_attr(c, "id", "two.example.com");
	assert_children(c, "display-name");

	pr = child(tv, "programme", 0);
	assert_attr(pr, "start", "20261121170000 +0000");
	assert_attr(pr, "stop", "20261121180000 +0000");
	assert_attr(pr, "channel", "one.example.com");
	assert_children(pr,
	    "title sub-title desc category category icon episode-num");
	assert_text(child(pr, "title", 0), "News");
	assert_text(child(pr, "sub-title", 0), "Evening edition");
	assert_text(child(pr, "desc", 0), "Headlines & weather.");
	assert_text(child(pr, "category", 0), "News");
	assert_text(child(pr, "category", 1), "Current affairs");
	assert_attr(child(pr, "icon", 0), "src",
	    "http://img.example.com/news.png");
	assert_text(child(pr, "episode-num", 0), "S01E02");
	assert_attr(child(pr, "episode-num", 0), "system", "onscreen");

	pr = child(tv, "programme", 1);
	assert_attr(pr, "start", "20261121180000 +0000");
	assert_attr(pr, "stop", NULL);
	assert_children(pr, "title");
	pr = child(tv, "programme", 2);
	assert_attr(pr, "channel", "two.example.com");
	assert_attr(pr, "start", "20261121173000 +0000");
	assert_attr(pr, "stop", "20261121190000 +0000");
	xmlFreeDoc(doc);

	tv_validate(g.path);
	guide_free(&g);
}
END_TEST

START_TEST(test_header)
{
	static const char	*head = "<?xml version=\"1.0\" "
	    "encoding=\"UTF-8\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n"
	    "<tv generator-info-name=\"amps\">\n";
	struct guide		 g;
	char			*text;

	guide_open(&g);
	channel_put(&g, "one.example.com", "One");
	programme_put(&g, "one.example.com", "News", T0, T0 + HOUR);
	guide_close(&g);
	text = tu_read_file(g.path, NULL);
	ck_assert_msg(strncmp(text, head, strlen(head)) == 0, "header: %s",
	    text);
	ck_assert_msg(strstr(text, "</tv>\n") != NULL &&
	    strcmp(strstr(text, "</tv>\n"), "</tv>\n") == 0,
	    "the document does not end with </tv>: %s", text);
	free(text);
	guide_free(&g);
}
END_TEST

START_TEST(test_escaping)
{
	static const char	*title =
	    "Tom & Jerry <b>\"quoted\"</b> 'single' ]]> &amp; &#65; &x;";
	static const char	*desc = "line 1\r\nline 2\ttabbed\n";
	static const char	*id = "a&b\"c<d>'e\t.example";
	static const char	*src = "http://x/?a=1&b=\"2\"<3>";
	struct guide		 g;
	struct program		 p;
	const char		*names[1];
	xmlDocPtr		 doc;
	xmlNodePtr		 tv, pr;
	char			*text;

	guide_open(&g);
	names[0] = title;
	ck_assert_int_eq(xmltv_channel(g.x, id, names, 1, src), 0);
	program_make(&p, title, T0, T0 + HOUR);
	p.description = xstrdup(desc);
	strlist_add(&p.categories, "<&>");
	p.icon = xstrdup(src);
	p.episode_num = xstrdup("\"1\" & <2>");
	ck_assert_int_eq(xmltv_programme(g.x, id, &p), 0);
	schema_free(&program_schema, &p);
	guide_close(&g);

	text = tu_read_file(g.path, NULL);
	ck_assert_ptr_nonnull(strstr(text, "Tom &amp; Jerry &lt;b&gt;"));
	ck_assert_ptr_null(strstr(text, "<b>"));
	ck_assert_ptr_null(strstr(text, "]]>"));
	ck_assert_ptr_nonnull(strstr(text, "&amp;amp; &amp;#65; &amp;x;"));
	free(text);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	assert_attr(child(tv, "channel", 0), "id", id);
	assert_text(child(child(tv, "channel", 0), "display-name", 0), title);
	assert_attr(child(child(tv, "channel", 0), "icon", 0), "src", src);
	pr = child(tv, "programme", 0);
	assert_attr(pr, "channel", id);
	assert_text(child(pr, "title", 0), title);
	/* CR survives as &#13; (a raw CR would be read back as LF). */
	assert_text(child(pr, "desc", 0), desc);
	assert_text(child(pr, "category", 0), "<&>");
	assert_attr(child(pr, "icon", 0), "src", src);
	assert_text(child(pr, "episode-num", 0), "\"1\" & <2>");
	xmlFreeDoc(doc);
	guide_free(&g);
}
END_TEST

/* Bytes in, the text read back from the document. */
static const struct {
	const char	*in;
	const char	*out;
} hostile[] = {
	{ "ok\x01\x08\x0b\x0c\x1b\x1f\x7f.", "ok???????." },
	{ "\xc2\x80\xc2\x85nel\xc2\x9f", "??nel?" },
	{ "\x80lone", "?lone" },
	{ "\xbf\xbf", "??" },
	{ "\xc0\xaf overlong", "?? overlong" },
	{ "\xc1\xbf", "??" },
	{ "\xe0\x80\xaf overlong3", "??? overlong3" },
	{ "\xf0\x80\x80\xaf overlong4", "???? overlong4" },
	{ "\xed\xa0\x80 surrogate", "??? surrogate" },
	{ "\xed\xbf\xbf", "???" },
	{ "\xf4\x90\x80\x80 big", "???? big" },
	{ "\xf5\x80\x80\x80", "????" },
	{ "trunc\xe2\x82", "trunc?" },
	{ "\xe2\x82x", "?x" },
	{ "\xf0\x9f\x98x", "?x" },
	{ "\xff\xfe", "??" },
	{ "\xef\xbf\xbe\xef\xbf\xbf", "??" },
	{ "\xef\xb7\x90\xef\xb7\xaf", "??" },
	{ "\xf0\x9f\xbf\xbe\xf4\x8f\xbf\xbf", "??" },
	{ "\xef\xbf\xbd]", "\xef\xbf\xbd]" },
	{ "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 "
	  "\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbd",
	  "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8 "
	  "\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbd" },
	{ "tab\tlf\ncr\rend", "tab\tlf\ncr\rend" },
};

#define NHOSTILE	(sizeof hostile / sizeof hostile[0])

START_TEST(test_hostile)
{
	struct guide	 g;
	struct program	 p;
	xmlDocPtr	 doc;
	xmlNodePtr	 tv, pr;
	size_t		 i;
	const char	*names[NHOSTILE];
	char		*text;

	guide_open(&g);
	for (i = 0; i < NHOSTILE; i++)
		names[i] = hostile[i].in;
	ck_assert_int_eq(xmltv_channel(g.x, "hostile.example.com", names,
	    NHOSTILE, NULL), 0);
	for (i = 0; i < NHOSTILE; i++) {
		program_make(&p, hostile[i].in, T0 + (int64_t)i * HOUR, 0);
		p.description = xstrdup(hostile[i].in);
		strlist_add(&p.categories, hostile[i].in);
		p.icon = xstrdup(hostile[i].in);
		ck_assert_int_eq(xmltv_programme(g.x, "hostile.example.com",
		    &p), 0);
		schema_free(&program_schema, &p);
	}
	guide_close(&g);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	for (i = 0; i < NHOSTILE; i++) {
		assert_text(child(child(tv, "channel", 0), "display-name",
		    (int)i), hostile[i].out);
		pr = child(tv, "programme", (int)i);
		ck_assert_msg(pr != NULL, "case %zu: no programme", i);
		assert_text(child(pr, "title", 0), hostile[i].out);
		assert_text(child(pr, "desc", 0), hostile[i].out);
		assert_text(child(pr, "category", 0), hostile[i].out);
		assert_attr(child(pr, "icon", 0), "src", hostile[i].out);
	}
	xmlFreeDoc(doc);

	/* No C1 control is left for tv_validate_file's badutf8 test. */
	text = tu_read_file(g.path, NULL);
	ck_assert_ptr_null(strstr(text, "\xc2\x80"));
	ck_assert_ptr_null(strstr(text, "\xc2\x85"));
	free(text);
	guide_free(&g);
}
END_TEST

/* tv_validate_file on hostile text, in an otherwise ordinary guide (its
 * U+FFFD check is left out: it flags U+FFFD followed by ']'). */
START_TEST(test_hostile_tv_validate)
{
	struct guide	 g;
	struct program	 p;
	size_t		 i;

	guide_open(&g);
	channel_put(&g, "hostile.example.com", "Hostile \x01\xff");
	for (i = 0; i < NHOSTILE; i++) {
		if (strstr(hostile[i].in, "\xef\xbf\xbd") != NULL)
			continue;
		program_make(&p, hostile[i].in, T0 + (int64_t)i * HOUR,
		    T0 + (int64_t)(i + 1) * HOUR);
		p.description = xstrdup(hostile[i].in);
		ck_assert_int_eq(xmltv_programme(g.x, "hostile.example.com",
		    &p), 0);
		schema_free(&program_schema, &p);
	}
	guide_close(&g);
	xmlFreeDoc(load_valid(g.path));
	tv_validate(g.path);
	guide_free(&g);
}
END_TEST

START_TEST(test_order)
{
	struct guide	 g;
	xmlDocPtr	 doc;
	xmlNodePtr	 tv;
	size_t		 calls;
	const char	*names[1] = { "Late" };

	guide_open(&g);
	channel_put(&g, "one.example.com", "One");
	programme_put(&g, "one.example.com", "News", T0, T0 + HOUR);
	/* A channel after a programme would break (channel*, programme*):
	 * refused, and nothing is written. */
	calls = g.sink.calls;
	ck_assert_int_eq(xmltv_channel(g.x, "late.example.com", names, 1,
	    NULL), -1);
	ck_assert_uint_eq(g.sink.calls, calls);
	/* The writer goes on. */
	programme_put(&g, "one.example.com", "Film", T0 + HOUR, 0);
	guide_close(&g);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	assert_children(tv, "channel programme programme");
	xmlFreeDoc(doc);
	guide_free(&g);
}
END_TEST

START_TEST(test_display_names)
{
	struct guide	 g;
	const char	*none[] = { NULL, "", " \t\n" };
	const char	*some[] = { "A", NULL, "", "B" };
	xmlDocPtr	 doc;
	xmlNodePtr	 tv, c;

	guide_open(&g);
	ck_assert_int_eq(xmltv_channel(g.x, "none.example.com", none, 3,
	    ""), 0);
	ck_assert_int_eq(xmltv_channel(g.x, "zero.example.com", NULL, 0,
	    " "), 0);
	ck_assert_int_eq(xmltv_channel(g.x, "some.example.com", some, 4,
	    NULL), 0);
	guide_close(&g);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	c = child(tv, "channel", 0);
	assert_children(c, "display-name");
	assert_text(child(c, "display-name", 0), "none.example.com");
	c = child(tv, "channel", 1);
	assert_children(c, "display-name");
	assert_text(child(c, "display-name", 0), "zero.example.com");
	c = child(tv, "channel", 2);
	assert_children(c, "display-name display-name");
	assert_text(child(c, "display-name", 0), "A");
	assert_text(child(c, "display-name", 1), "B");
	xmlFreeDoc(doc);
	guide_free(&g);
}
END_TEST

START_TEST(test_skipped)
{
	struct guide	 g;
	struct program	 p;
	xmlDocPtr	 doc;
	xmlNodePtr	 tv, pr;

	guide_open(&g);
	channel_put(&g, "one.example.com", "One");
	/* Without start (XMLTV requires it): skipped. */
	programme_put(&g, "one.example.com", "No start", 0, T0 + HOUR);
	programme_put(&g, "one.example.com", "No time at all", 0, 0);
	/* Without a title (title+): skipped. */
	program_make(&p, "x", T0, T0 + HOUR);
	free(p.title);
	p.title = NULL;
	ck_assert_int_eq(xmltv_programme(g.x, "one.example.com", &p), 0);
	p.title = xstrdup(" \t");
	ck_assert_int_eq(xmltv_programme(g.x, "one.example.com", &p), 0);
	schema_free(&program_schema, &p);
	/* Written: stop only when later than start; blank optional
	 * elements left out. */
	programme_put(&g, "one.example.com", "Stop before start", T0,
	    T0 - HOUR);
	programme_put(&g, "one.example.com", "Stop at start", T0 + HOUR,
	    T0 + HOUR);
	program_make(&p, "Blanks", T0 + 2 * HOUR, T0 + 3 * HOUR);
	p.sub_title = xstrdup("");
	p.description = xstrdup("  \n ");
	strlist_add(&p.categories, "");
	strlist_add(&p.categories, "Kept");
	p.episode_num = xstrdup(" ");
	p.icon = xstrdup("");
	ck_assert_int_eq(xmltv_programme(g.x, "one.example.com", &p), 0);
	schema_free(&program_schema, &p);
	/* Times before 1970 are still times. */
	programme_put(&g, "one.example.com", "Old", -HOUR, 0);
	guide_close(&g);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	assert_children(tv, "channel programme programme programme "
	    "programme");
	pr = child(tv, "programme", 0);
	assert_text(child(pr, "title", 0), "Stop before start");
	assert_attr(pr, "stop", NULL);
	pr = child(tv, "programme", 1);
	assert_text(child(pr, "title", 0), "Stop at start");
	assert_attr(pr, "stop", NULL);
	pr = child(tv, "programme", 2);
	assert_children(pr, "title category");
	assert_text(child(pr, "category", 0), "Kept");
	assert_attr(pr, "stop", "20261121200000 +0000");
	pr = child(tv, "programme", 3);
	assert_attr(pr, "start", "19691231230000 +0000");
	xmlFreeDoc(doc);
	guide_free(&g);
}
END_TEST

START_TEST(test_empty)
{
	struct guide	 g;
	xmlDocPtr	 doc;

	guide_open(&g);
	guide_close(&g);
	doc = load_valid(g.path);
	assert_children(xmlDocGetRootElement(doc), "");
	xmlFreeDoc(doc);
	guide_free(&g);
	ck_assert_int_eq(xmltv_close(NULL), 0);
}
END_TEST

/* The document reaches the callback while it is written, in chunks of a
 * few kilobytes: nothing holds the whole guide. */
START_TEST(test_streams)
{
	struct guide	 g;
	struct program	 p;
	xmlDocPtr	 doc;
	xmlNodePtr	 tv, pr;
	char		 title[64];
	size_t		 i, n = 0;

	guide_open(&g);
	channel_put(&g, "one.example.com", "One");
	for (i = 0; i < 20000; i++) {
		snprintf(title, sizeof title, "Programme %zu", i);
		program_make(&p, title, T0 + (int64_t)i * 60,
		    T0 + (int64_t)(i + 1) * 60);
		p.description = xstrdup("A description of some length, to "
		    "make the document a few megabytes long.");
		ck_assert_int_eq(xmltv_programme(g.x, "one.example.com", &p),
		    0);
		schema_free(&program_schema, &p);
		if (i == 10000) {
			ck_assert_uint_gt(g.sink.calls, 100);
			ck_assert_uint_gt(g.sink.bytes, 1000000);
		}
	}
	guide_close(&g);
	ck_assert_uint_le(g.sink.max_chunk, 65536);

	doc = load_valid(g.path);
	tv = xmlDocGetRootElement(doc);
	for (pr = child(tv, "programme", 0); pr != NULL;
	    pr = next_element(pr))
		n++;
	ck_assert_uint_eq(n, 20000);
	xmlFreeDoc(doc);
	guide_free(&g);
}
END_TEST

static void
other_handler(void *ctx, xmlErrorPtr error)
{
	(void)ctx;
	(void)error;
}

/* Writes until the callback fails (at 20000 bytes) and checks that every
 * call fails from then on and that the callback is not called again. */
static void
write_until_failure(void)
{
	struct sink	 s;
	struct xmltv	*x;
	struct program	 p;
	const char	*names[1] = { "One" };
	size_t		 i, calls;
	int		 rc = 0;

	memset(&s, 0, sizeof s);
	s.fail_at = 20000;
	x = xmltv_open(to_sink, &s);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(xmltv_channel(x, "one.example.com", names, 1, NULL),
	    0);
	program_make(&p, "News", T0, T0 + HOUR);
	for (i = 0; i < 100000 && rc == 0; i++)
		rc = xmltv_programme(x, "one.example.com", &p);
	ck_assert_int_eq(rc, -1);
	ck_assert_uint_gt(s.calls, 0);
	calls = s.calls;
	ck_assert_int_eq(xmltv_programme(x, "one.example.com", &p), -1);
	ck_assert_int_eq(xmltv_channel(x, "two.example.com", names, 1, NULL),
	    -1);
	ck_assert_int_eq(xmltv_close(x), -1);
	ck_assert_uint_eq(s.calls, calls);
	schema_free(&program_schema, &p);
}

/* A client that goes away: nothing is printed (libxml2's default handler
 * would print "I/O error" to stderr). */
START_TEST(test_write_failure)
{
	char	*dir, *errpath, *errtext;
	int	 saved, fd;

	dir = tu_tmpdir();
	errpath = xprintf("%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	close(fd);
	write_until_failure();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	errtext = tu_read_file(errpath, NULL);
	ck_assert_msg(errtext[0] == '\0', "printed: %s", errtext);
	free(errtext);
	free(errpath);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The caller's own libxml2 error handler is left in place (it is per
 * thread in libxml2) and sees nothing of ours. */
START_TEST(test_error_handler_kept)
{
	int	seen = 0;

	xmlSetStructuredErrorFunc(&seen, other_handler);
	write_until_failure();
	ck_assert_ptr_eq(xmlStructuredError, other_handler);
	ck_assert_ptr_eq(xmlStructuredErrorContext, &seen);
	xmlSetStructuredErrorFunc(NULL, NULL);
}
END_TEST

/* A callback that fails at once: the first flush fails, and close
 * reports it. */
START_TEST(test_fail_at_once)
{
	struct sink	 s;
	struct xmltv	*x;

	memset(&s, 0, sizeof s);
	s.fail_at = 1;
	x = xmltv_open(to_sink, &s);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(xmltv_close(x), -1);
	ck_assert_uint_eq(s.calls, 0);
}
END_TEST

static Suite *
xmltv_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("xmltv");
	tc = tcase_create("document");
	tcase_add_test(tc, test_guide);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_display_names);
	tcase_add_test(tc, test_skipped);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);
	tc = tcase_create("escaping");
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_hostile_tv_validate);
	suite_add_tcase(s, tc);
	tc = tcase_create("streaming");
	tcase_add_test(tc, test_streams);
	tcase_add_test(tc, test_write_failure);
	tcase_add_test(tc, test_error_handler_kept);
	tcase_add_test(tc, test_fail_at_once);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(xmltv_suite()));
}
