#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <libavcodec/avcodec.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "dash.h"
#include "testmedia.h"
#include "testutil.h"

#define MEDIA_SECONDS	9
#define MPD_NS		"urn:mpeg:dash:schema:mpd:2011"

static struct tm_media	media;

static void
media_setup(void)
{
	tm_make(MEDIA_SECONDS, &media);
}

static void
media_teardown(void)
{
	tm_free(&media);
	xmlCleanupParser();
}

static struct dash *
open_ok(const char *dir, int segment_ms, int window, int extra)
{
	struct dash_opts	 o;
	struct hls_stream	 st[2];
	struct dash		*d;
	char			*cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = dir;
	o.segment_ms = segment_ms;
	o.window_size = window;
	o.keep_extra = extra;
	tm_streams(&media, st);
	d = dash_open(&o, st, 2, &cause);
	ck_assert_msg(d != NULL, "dash_open: %s", cause);
	return (d);
}

/* Writes the packets decoded in [from, to) seconds; returns the time of
 * the packet after which dash_ready first said yes (or -1). */
static double
feed(struct dash *d, double from, double to)
{
	char	*cause = NULL;
	double	 ready = -1;
	int	 i;

	for (i = 0; i < media.n; i++) {
		if (media.us[i] < from * 1e6 || media.us[i] >= to * 1e6)
			continue;
		ck_assert_msg(dash_write(d, media.pkts[i], &cause) == 0,
		    "dash_write: %s", cause);
		if (ready < 0 && dash_ready(d))
			ready = media.us[i] / 1e6;
	}
	return (ready);
}

/* Whether dir/name is there and not empty. */
static int
exists_in(const char *dir, const char *name)
{
	return (tm_size(dir, name) > 0);
}

static char *
prop(xmlNode *n, const char *name)
{
	xmlChar	*v;
	char	*s;

	v = xmlGetProp(n, (const xmlChar *)name);
	if (v == NULL)
		return (NULL);
	s = strdup((const char *)v);
	xmlFree(v);
	return (s);
}

static xmlNode *
child(xmlNode *n, const char *name)
{
	for (n = n->children; n != NULL; n = n->next) {
		if (n->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)n->name, name) == 0)
			return (n);
	}
	return (NULL);
}

/* Expands $RepresentationID$ and $Number%05d$ of a SegmentTemplate. */
static void
expand(const char *tmpl, const char *id, long number, char *out,
    size_t size)
{
	const char	*p;
	size_t		 len = 0;
	int		 width;

	for (p = tmpl; *p != '\0' && len + 1 < size; ) {
		if (strncmp(p, "$RepresentationID$", 18) == 0) {
			len += (size_t)snprintf(out + len, size - len, "%s",
			    id);
			p += 18;
		} else if (strncmp(p, "$Number$", 8) == 0) {
			len += (size_t)snprintf(out + len, size - len, "%ld",
			    number);
			p += 8;
		} else if (strncmp(p, "$Number%0", 9) == 0) {
			width = atoi(p + 9);
			len += (size_t)snprintf(out + len, size - len, "%0*ld",
			    width, number);
			p = strchr(p + 9, '$');
			ck_assert_ptr_nonnull(p);
			p++;
		} else
			out[len++] = *p++;
	}
	out[len] = '\0';
}

/* Checks one Representation: its init file and every segment its
 * timeline lists exist.  Returns the number of segments. */
static int
check_representation(const char *dir, xmlNode *rep)
{
	xmlNode	*tmpl, *tl, *s;
	char	*id, *media_t, *init, *start, *r, name[256];
	long	 number, count = 0, i;

	id = prop(rep, "id");
	ck_assert_ptr_nonnull(id);
	tmpl = child(rep, "SegmentTemplate");
	ck_assert_ptr_nonnull(tmpl);
	media_t = prop(tmpl, "media");
	init = prop(tmpl, "initialization");
	start = prop(tmpl, "startNumber");
	ck_assert_ptr_nonnull(media_t);
	ck_assert_ptr_nonnull(init);
	ck_assert_ptr_nonnull(start);
	expand(init, id, 0, name, sizeof name);
	ck_assert_msg(exists_in(dir, name), "%s missing", name);
	number = atol(start);
	tl = child(tmpl, "SegmentTimeline");
	ck_assert_ptr_nonnull(tl);
	for (s = tl->children; s != NULL; s = s->next) {
		if (s->type != XML_ELEMENT_NODE)
			continue;
		ck_assert_str_eq((const char *)s->name, "S");
		r = prop(s, "r");
		for (i = 0; i <= (r != NULL ? atol(r) : 0); i++) {
			expand(media_t, id, number++, name, sizeof name);
			ck_assert_msg(exists_in(dir, name), "%s missing", name);
			count++;
		}
		free(r);
	}
	free(id);
	free(media_t);
	free(init);
	free(start);
	return ((int)count);
}

/* Parses manifest.mpd with libxml2 and checks it: an MPD of the DASH
 * namespace of the given type, video and audio adaptation sets whose
 * listed segments exist.  Returns the segments of the video one. */
static int
check_manifest(const char *dir, const char *type)
{
	xmlDoc	*doc;
	xmlNode	*root, *period, *as, *rep;
	char	*path, *v;
	int	 video = 0, audio = 0, nvideo = 0;

	path = tm_path(dir, "manifest.mpd");
	doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	ck_assert_msg(doc != NULL, "%s does not parse", path);
	free(path);
	root = xmlDocGetRootElement(doc);
	ck_assert_ptr_nonnull(root);
	ck_assert_str_eq((const char *)root->name, "MPD");
	ck_assert_ptr_nonnull(root->ns);
	ck_assert_str_eq((const char *)root->ns->href, MPD_NS);
	v = prop(root, "type");
	ck_assert_str_eq(v, type);
	free(v);
	period = child(root, "Period");
	ck_assert_ptr_nonnull(period);
	for (as = period->children; as != NULL; as = as->next) {
		if (as->type != XML_ELEMENT_NODE ||
		    strcmp((const char *)as->name, "AdaptationSet") != 0)
			continue;
		v = prop(as, "contentType");
		ck_assert_ptr_nonnull(v);
		rep = child(as, "Representation");
		ck_assert_ptr_nonnull(rep);
		if (strcmp(v, "video") == 0) {
			video++;
			nvideo = check_representation(dir, rep);
		} else if (strcmp(v, "audio") == 0) {
			audio++;
			ck_assert_int_gt(check_representation(dir, rep), 0);
		}
		free(v);
	}
	ck_assert_int_eq(video, 1);
	ck_assert_int_eq(audio, 1);
	xmlFreeDoc(doc);
	return (nvideo);
}

START_TEST(test_dash)
{
	struct dash	*d;
	char		*dir, *cause = NULL;
	double		 ready;

	dir = tu_tmpdir();
	d = open_ok(dir, 2000, 2, 1);
	ck_assert_int_eq(dash_ready(d), 0);
	ready = feed(d, -1, 8.5);
	/* Ready once the first segment (cut at the keyframe at 2 s) is in
	 * the manifest, not before. */
	ck_assert_double_ge(ready, 1.9);
	ck_assert_double_lt(ready, 2.5);
	ck_assert_int_eq(dash_ready(d), 1);
	ck_assert_int_eq(check_manifest(dir, "dynamic"), 2);
	ck_assert(!exists_in(dir, "manifest.mpd.tmp"));
	/* Window 2 and 1 extra: the first of four is gone. */
	ck_assert(!exists_in(dir, "chunk-stream0-00001.m4s"));
	ck_assert(exists_in(dir, "chunk-stream0-00002.m4s"));
	ck_assert_msg(dash_close(d, 1, &cause) == 0, "%s", cause);
	ck_assert_int_eq(check_manifest(dir, "static"), 2);
	ck_assert(exists_in(dir, "chunk-stream0-00005.m4s"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_stale_manifest)
{
	struct dash	*d;
	char		*dir, *path, *cause = NULL;

	dir = tu_tmpdir();
	path = tm_path(dir, "manifest.mpd");
	tu_write_file(path, "<MPD><S t=\"0\" d=\"1\"/></MPD>\n");
	free(path);
	path = tm_path(dir, "chunk-stream0-00009.m4s.tmp");
	tu_write_file(path, "half");
	free(path);

	/* A manifest of an earlier run does not make the output ready. */
	d = open_ok(dir, 2000, 5, 0);
	ck_assert(!exists_in(dir, "chunk-stream0-00009.m4s.tmp"));
	ck_assert_double_eq(feed(d, -1, 1.5), -1);
	ck_assert_int_eq(dash_ready(d), 0);
	ck_assert_double_gt(feed(d, 1.5, 4.5), 1.9);
	ck_assert_int_eq(dash_ready(d), 1);
	ck_assert_int_eq(check_manifest(dir, "dynamic"), 2);
	/* Stopped for a restart: still dynamic, no leftovers. */
	ck_assert_msg(dash_close(d, 0, &cause) == 0, "%s", cause);
	ck_assert_int_eq(check_manifest(dir, "dynamic"), 2);
	ck_assert(!exists_in(dir, "chunk-stream0-00003.m4s.tmp"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_folder_removed)
{
	struct dash	*d;
	char		*dir, *cause = NULL;
	int		 i, failed = 0;

	av_log_set_level(AV_LOG_QUIET);
	dir = tu_tmpdir();
	d = open_ok(dir, 2000, 5, 0);
	feed(d, -1, 3);
	ck_assert_int_eq(dash_ready(d), 1);
	tu_rmtree(dir);
	for (i = 0; i < media.n; i++) {
		if (media.us[i] < 3e6)
			continue;
		if (dash_write(d, media.pkts[i], &cause) != 0) {
			ck_assert_ptr_nonnull(cause);
			free(cause);
			cause = NULL;
			failed++;
		}
	}
	ck_assert_int_gt(failed, 0);
	(void)dash_close(d, 1, &cause);
	free(cause);
	free(dir);
}
END_TEST

START_TEST(test_bad_args)
{
	struct dash_opts	 o;
	struct hls_stream	 st[1];
	AVPacket		*p;
	struct dash		*d;
	char			*dir, *cause = NULL;

	memset(&o, 0, sizeof o);
	o.dir = "relative";
	o.segment_ms = 2000;
	st[0].par = media.vpar;
	st[0].time_base = media.vtb;
	ck_assert_ptr_null(dash_open(&o, st, 1, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	cause = NULL;

	dir = tu_tmpdir();
	o.dir = dir;
	o.segment_ms = 0;
	ck_assert_ptr_null(dash_open(&o, st, 1, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	cause = NULL;
	o.segment_ms = 2000;
	ck_assert_ptr_null(dash_open(&o, st, 0, &cause));
	ck_assert_ptr_nonnull(cause);
	free(cause);
	cause = NULL;

	/* A packet of a stream that is not there is refused. */
	d = dash_open(&o, st, 1, &cause);
	ck_assert_msg(d != NULL, "%s", cause);
	p = av_packet_clone(media.pkts[0]);
	p->stream_index = 1;
	ck_assert_int_eq(dash_write(d, p, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	av_packet_free(&p);
	ck_assert_int_eq(dash_close(d, 0, &cause), 0);
	ck_assert_int_eq(dash_close(NULL, 1, &cause), 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *
dash_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("dash");
	tc = tcase_create("muxer");
	tcase_add_unchecked_fixture(tc, media_setup, media_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dash);
	tcase_add_test(tc, test_stale_manifest);
	tcase_add_test(tc, test_folder_removed);
	tcase_add_test(tc, test_bad_args);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(dash_suite()));
}
