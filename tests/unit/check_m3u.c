#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "buf.h"
#include "m3u.h"
#include "testutil.h"

/* A strict reader of what m3u.c writes, independent of it: the output is
 * parsed back line by line, and anything but the documented shapes fails
 * the test.  Hostile input must come back as exactly the expected lines
 * with exactly the expected attributes. */

#define MAX_LINES	64
#define MAX_ATTRS	16

enum line_kind {
	LINE_HEADER,
	LINE_EXTINF,
	LINE_TAG,
	LINE_URL,
};

struct attr {
	char	*name;
	char	*value;
};

struct line {
	enum line_kind	 kind;
	char		*tag;		/* LINE_TAG: "AMP-NEXT" */
	struct attr	 attrs[MAX_ATTRS];
	size_t		 nattrs;
	char		*name;		/* LINE_EXTINF: the display name */
	char		*url;		/* LINE_URL */
};

struct parsed {
	struct line	 lines[MAX_LINES];
	size_t		 n;
};

static void
parsed_free(struct parsed *p)
{
	size_t	i, j;

	for (i = 0; i < p->n; i++) {
		free(p->lines[i].tag);
		free(p->lines[i].name);
		free(p->lines[i].url);
		for (j = 0; j < p->lines[i].nattrs; j++) {
			free(p->lines[i].attrs[j].name);
			free(p->lines[i].attrs[j].value);
		}
	}
	memset(p, 0, sizeof *p);
}

/* Well-formed UTF-8 (RFC 3629), written as a table of ranges rather than
 * the writer's way, so that the two check each other. */
static int
utf8_valid(const unsigned char *s, size_t len)
{
	static const struct {
		unsigned char	first_lo, first_hi;
		unsigned char	second_lo, second_hi;
		size_t		n;
	} forms[] = {
		{ 0x00, 0x7f, 0x00, 0x00, 1 },
		{ 0xc2, 0xdf, 0x80, 0xbf, 2 },
		{ 0xe0, 0xe0, 0xa0, 0xbf, 3 },
		{ 0xe1, 0xec, 0x80, 0xbf, 3 },
		{ 0xed, 0xed, 0x80, 0x9f, 3 },
		{ 0xee, 0xef, 0x80, 0xbf, 3 },
		{ 0xf0, 0xf0, 0x90, 0xbf, 4 },
		{ 0xf1, 0xf3, 0x80, 0xbf, 4 },
		{ 0xf4, 0xf4, 0x80, 0x8f, 4 },
	};
	size_t	i = 0, f, k;

	while (i < len) {
		for (f = 0; f < sizeof forms / sizeof forms[0]; f++)
			if (s[i] >= forms[f].first_lo &&
			    s[i] <= forms[f].first_hi)
				break;
		if (f == sizeof forms / sizeof forms[0] ||
		    len - i < forms[f].n)
			return (0);
		if (forms[f].n > 1 && (s[i + 1] < forms[f].second_lo ||
		    s[i + 1] > forms[f].second_hi))
			return (0);
		for (k = 2; k < forms[f].n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return (0);
		i += forms[f].n;
	}
	return (1);
}

/* No byte or sequence that any reader could take as a line end, other
 * than the LF that ends each line. */
static void
check_bytes(const char *out, size_t len)
{
	const unsigned char	*p = (const unsigned char *)out;
	size_t			 i;

	ck_assert_msg(len > 0 && out[len - 1] == '\n',
	    "output does not end with LF");
	ck_assert_msg(strlen(out) == len, "NUL in output");
	ck_assert_msg(utf8_valid(p, len), "output is not UTF-8");
	for (i = 0; i < len; i++) {
		ck_assert_msg(p[i] == '\n' || (p[i] >= 0x20 && p[i] != 0x7f),
		    "control byte 0x%02x at %zu", p[i], i);
		if (p[i] == 0xc2 && i + 1 < len)
			ck_assert_msg(p[i + 1] < 0x80 || p[i + 1] > 0x9f,
			    "C1 control at %zu", i);
		if (p[i] == 0xe2 && i + 2 < len)
			ck_assert_msg(p[i + 1] != 0x80 ||
			    (p[i + 2] != 0xa8 && p[i + 2] != 0xa9),
			    "line separator at %zu", i);
	}
}

/* name="value" pairs separated by single spaces, up to the end of the
 * line or (EXTINF) the comma before the display name. */
static const char *
parse_attrs(struct line *l, const char *p, const char *end, int extinf)
{
	const char	*q;

	for (;;) {
		if (p == end) {
			ck_assert_msg(!extinf, "EXTINF without a comma");
			return (p);
		}
		if (extinf && *p == ',')
			return (p);
		ck_assert_msg(*p == ' ', "'%c' where a space was expected",
		    *p);
		p++;
		for (q = p; q < end && ((*q >= 'a' && *q <= 'z') ||
		    *q == '-'); q++)
			;
		ck_assert_msg(q > p, "empty attribute name");
		ck_assert_msg(q + 1 < end && q[0] == '=' && q[1] == '"',
		    "attribute without =\"");
		ck_assert_uint_lt(l->nattrs, MAX_ATTRS);
		l->attrs[l->nattrs].name = strndup(p, (size_t)(q - p));
		p = q + 2;
		q = memchr(p, '"', (size_t)(end - p));
		ck_assert_msg(q != NULL, "attribute not closed");
		l->attrs[l->nattrs].value = strndup(p, (size_t)(q - p));
		l->nattrs++;
		p = q + 1;
	}
}

static void
parse_line(struct line *l, const char *p, const char *end)
{
	const char	*q;

	if (strncmp(p, "#EXTM3U", 7) == 0) {
		l->kind = LINE_HEADER;
		parse_attrs(l, p + 7, end, 0);
	} else if (strncmp(p, "#EXTINF:-1", 10) == 0) {
		l->kind = LINE_EXTINF;
		p = parse_attrs(l, p + 10, end, 1);
		l->name = strndup(p + 1, (size_t)(end - p - 1));
		ck_assert_msg(strchr(l->name, '"') == NULL,
		    "quote in the display name");
	} else if (strncmp(p, "#EXTREM:", 8) == 0) {
		l->kind = LINE_TAG;
		p += 8;
		for (q = p; q < end && ((*q >= 'A' && *q <= 'Z') ||
		    *q == '-'); q++)
			;
		ck_assert_msg(q > p, "empty tag name");
		l->tag = strndup(p, (size_t)(q - p));
		parse_attrs(l, q, end, 0);
		ck_assert_msg(l->nattrs > 0, "tag line without attributes");
	} else {
		ck_assert_msg(*p != '#', "unknown tag line");
		l->kind = LINE_URL;
		l->url = strndup(p, (size_t)(end - p));
		ck_assert_msg(l->url[0] != '\0', "empty line");
		ck_assert_msg(strpbrk(l->url, " \"<>\\^`{|}") == NULL,
		    "URL with a character a URI may not hold: %s", l->url);
		for (q = l->url; *q != '\0'; q++)
			ck_assert_msg((unsigned char)*q < 0x7f,
			    "URL not ASCII: %s", l->url);
	}
}

static void
parse(const char *out, size_t len, struct parsed *p)
{
	const char	*s = out, *nl;

	memset(p, 0, sizeof *p);
	check_bytes(out, len);
	while (s < out + len) {
		nl = strchr(s, '\n');
		ck_assert_uint_lt(p->n, MAX_LINES);
		parse_line(&p->lines[p->n++], s, nl);
		s = nl + 1;
	}
}

static const char *
attr(const struct line *l, const char *name)
{
	size_t	i;

	for (i = 0; i < l->nattrs; i++)
		if (strcmp(l->attrs[i].name, name) == 0)
			return (l->attrs[i].value);
	return (NULL);
}

static void
check_attr(const struct line *l, const char *name, const char *want)
{
	const char	*got;

	got = attr(l, name);
	ck_assert_msg(got != NULL, "no attribute %s", name);
	ck_assert_str_eq(got, want);
}

static void
check_entry(const struct m3u_entry *e, const char *want)
{
	struct buf	b = BUF_INIT;

	ck_assert_int_eq(m3u_entry(&b, e), 0);
	ck_assert_str_eq(b.data, want);
	buf_free(&b);
}

static const char *const us_gb[] = { "US", "GB" };
static const char *const fr[] = { "FR" };

static void
full_entry(struct m3u_entry *e)
{
	memset(e, 0, sizeof *e);
	e->tvg_id = "news.us";
	e->tvg_name = "News HD";
	e->tvg_logo = "http://img.example/news.png";
	e->group_title = "News";
	e->channel_number = 7;
	e->name = "News (SD)";
	e->next_title = "Headlines";
	e->next_start = 1714845600;
	e->next_end = 1714847400;
	e->next_description = "The day's news";
	e->program_feed = "http://feeds.example/news.json";
	e->description = "Round the clock news";
	e->variant_name = "sd";
	e->variant_label = "SD";
	e->variant_profile = "low";
	e->regions_allowed = us_gb;
	e->nregions_allowed = 2;
	e->regions_blocked = fr;
	e->nregions_blocked = 1;
	e->url = "http://tv.example:8080/stream/7?variant=sd&token=abc"
	    "&region=US";
}

START_TEST(test_full)
{
	struct m3u_entry	 e;

	full_entry(&e);
	check_entry(&e,
	    "#EXTINF:-1 tvg-id=\"news.us\" tvg-name=\"News HD\" "
	    "tvg-logo=\"http://img.example/news.png\" group-title=\"News\" "
	    "tvg-chno=\"7\" channel-number=\"7\",News (SD)\n"
	    "#EXTREM:AMP-NEXT title=\"Headlines\" "
	    "start=\"2024-05-04T18:00:00Z\" end=\"2024-05-04T18:30:00Z\" "
	    "description=\"The day's news\"\n"
	    "#EXTREM:AMP-PROGRAM-FEED url=\"http://feeds.example/news.json\"\n"
	    "#EXTREM:AMP-DESCRIPTION text=\"Round the clock news\"\n"
	    "#EXTREM:AMP-VARIANT name=\"sd\" label=\"SD\" profile=\"low\"\n"
	    "#EXTREM:AMP-REGION allow=\"US,GB\" block=\"FR\"\n"
	    "http://tv.example:8080/stream/7?variant=sd&token=abc&region=US\n");
}
END_TEST

START_TEST(test_header)
{
	struct buf	b = BUF_INIT;

	m3u_header(&b, NULL);
	ck_assert_str_eq(b.data, "#EXTM3U\n");
	buf_reset(&b);
	m3u_header(&b, "");
	ck_assert_str_eq(b.data, "#EXTM3U\n");
	buf_reset(&b);
	m3u_header(&b, "http://h:8080/epg.xml?token=a%20b&region=US");
	ck_assert_str_eq(b.data, "#EXTM3U "
	    "url-tvg=\"http://h:8080/epg.xml?token=a%20b&region=US\" "
	    "x-tvg-url=\"http://h:8080/epg.xml?token=a%20b&region=US\"\n");
	buf_reset(&b);
	/* A guide URL that was not encoded still cannot break out. */
	m3u_header(&b, "http://h/epg.xml?x=\"a b\"\r\n#EXTINF:-1,x");
	ck_assert_str_eq(b.data, "#EXTM3U "
	    "url-tvg=\"http://h/epg.xml?x=%22a%20b%22%0D%0A#EXTINF:-1,x\" "
	    "x-tvg-url=\"http://h/epg.xml?x=%22a%20b%22%0D%0A#EXTINF:-1,x\""
	    "\n");
	buf_free(&b);
}
END_TEST

START_TEST(test_absent)
{
	struct m3u_entry	 e;
	static const char *const empty[] = { "", NULL };

	memset(&e, 0, sizeof e);
	e.name = "Plain";
	e.url = "http://h/stream/1";
	check_entry(&e, "#EXTINF:-1,Plain\nhttp://h/stream/1\n");

	/* "" is absent too; so are times, lists and variants without
	 * their key field. */
	e.tvg_id = "";
	e.tvg_name = "";
	e.tvg_logo = "";
	e.group_title = "";
	e.next_title = "";
	e.next_start = 1714845600;
	e.next_description = "orphan";
	e.program_feed = "";
	e.description = "";
	e.variant_label = "SD";
	e.variant_profile = "low";
	e.regions_allowed = empty;
	e.nregions_allowed = 2;
	check_entry(&e, "#EXTINF:-1,Plain\nhttp://h/stream/1\n");

	/* A name that is absent leaves the comma: players need it. */
	e.name = NULL;
	check_entry(&e, "#EXTINF:-1,\nhttp://h/stream/1\n");

	/* Each attribute on its own. */
	memset(&e, 0, sizeof e);
	e.group_title = "Kids";
	e.name = "Toons";
	e.next_title = "Cartoons";
	e.regions_blocked = fr;
	e.nregions_blocked = 1;
	e.variant_name = "hd";
	e.url = "http://h/stream/2";
	check_entry(&e, "#EXTINF:-1 group-title=\"Kids\",Toons\n"
	    "#EXTREM:AMP-NEXT title=\"Cartoons\"\n"
	    "#EXTREM:AMP-VARIANT name=\"hd\"\n"
	    "#EXTREM:AMP-REGION block=\"FR\"\n"
	    "http://h/stream/2\n");

	e.channel_number = -3;
	e.group_title = NULL;
	e.next_title = NULL;
	e.variant_name = NULL;
	e.regions_blocked = NULL;
	e.nregions_blocked = 0;
	e.regions_allowed = us_gb;
	e.nregions_allowed = 1;
	check_entry(&e, "#EXTINF:-1 tvg-chno=\"-3\" channel-number=\"-3\","
	    "Toons\n#EXTREM:AMP-REGION allow=\"US\"\nhttp://h/stream/2\n");
}
END_TEST

START_TEST(test_no_url)
{
	struct buf		 b = BUF_INIT;
	struct m3u_entry	 e;

	full_entry(&e);
	buf_adds(&b, "#EXTM3U\n");
	e.url = NULL;
	ck_assert_int_eq(m3u_entry(&b, &e), -1);
	e.url = "";
	ck_assert_int_eq(m3u_entry(&b, &e), -1);
	ck_assert_str_eq(b.data, "#EXTM3U\n");
	ck_assert_uint_eq(b.len, 8);
	buf_free(&b);
}
END_TEST

/* Every field hostile: quotes, commas, CR, LF, injected entries.  The
 * output must parse back as the same seven lines with the same
 * attributes, holding the values with only the documented changes. */
START_TEST(test_hostile)
{
	struct buf		 b = BUF_INIT;
	struct m3u_entry	 e;
	struct parsed		 p;
	const struct line	*l;
	static const char *const allow[] = { "US\",GB", "\n#EXTINF:-1,x" };
	static const char *const block[] = { "F\rR", "" };

	memset(&e, 0, sizeof e);
	e.tvg_id = "id\" tvg-logo=\"http://evil/x.png";
	e.tvg_name = "A, B\n#EXTINF:-1 tvg-id=\"evil\",Evil\nhttp://evil/";
	e.tvg_logo = "http://img/a b\".png\r\n#EXTM3U";
	e.group_title = "News\",Evil\r\nhttp://evil/";
	e.channel_number = 12;
	e.name = "Evil \"Name\", Inc.\r\n#EXTINF:-1,Injected\nhttp://evil/\n";
	e.next_title = "T\"itle\n#EXTREM:AMP-NEXT title=\"x\"";
	e.next_start = 1714845600;
	e.next_description = "line one\nline two\r\nline\tthree\"";
	e.program_feed = "http://feed/\"\n#EXTINF:-1,x";
	e.description = "Desc\" text=\"forged\n";
	e.variant_name = "sd\"\n";
	e.variant_label = "S,D";
	e.variant_profile = "\"";
	e.regions_allowed = allow;
	e.nregions_allowed = 2;
	e.regions_blocked = block;
	e.nregions_blocked = 2;
	e.url = "http://h/stream/1?token=a b\"c\r\n#EXTINF:-1,Injected";

	ck_assert_int_eq(m3u_entry(&b, &e), 0);
	parse(b.data, b.len, &p);
	ck_assert_uint_eq(p.n, 7);

	l = &p.lines[0];
	ck_assert_int_eq(l->kind, LINE_EXTINF);
	ck_assert_uint_eq(l->nattrs, 6);
	ck_assert_str_eq(l->attrs[0].name, "tvg-id");
	ck_assert_str_eq(l->attrs[1].name, "tvg-name");
	ck_assert_str_eq(l->attrs[2].name, "tvg-logo");
	ck_assert_str_eq(l->attrs[3].name, "group-title");
	ck_assert_str_eq(l->attrs[4].name, "tvg-chno");
	ck_assert_str_eq(l->attrs[5].name, "channel-number");
	check_attr(l, "tvg-id", "id' tvg-logo='http://evil/x.png");
	check_attr(l, "tvg-name",
	    "A, B #EXTINF:-1 tvg-id='evil',Evil http://evil/");
	check_attr(l, "tvg-logo", "http://img/a%20b%22.png%0D%0A#EXTM3U");
	check_attr(l, "group-title", "News',Evil  http://evil/");
	check_attr(l, "tvg-chno", "12");
	check_attr(l, "channel-number", "12");
	ck_assert_str_eq(l->name,
	    "Evil 'Name', Inc.  #EXTINF:-1,Injected http://evil/ ");

	l = &p.lines[1];
	ck_assert_int_eq(l->kind, LINE_TAG);
	ck_assert_str_eq(l->tag, "AMP-NEXT");
	ck_assert_uint_eq(l->nattrs, 3);
	check_attr(l, "title", "T'itle #EXTREM:AMP-NEXT title='x'");
	check_attr(l, "start", "2024-05-04T18:00:00Z");
	check_attr(l, "description", "line one line two  line three'");

	l = &p.lines[2];
	ck_assert_str_eq(l->tag, "AMP-PROGRAM-FEED");
	ck_assert_uint_eq(l->nattrs, 1);
	check_attr(l, "url", "http://feed/%22%0A#EXTINF:-1,x");

	l = &p.lines[3];
	ck_assert_str_eq(l->tag, "AMP-DESCRIPTION");
	ck_assert_uint_eq(l->nattrs, 1);
	check_attr(l, "text", "Desc' text='forged ");

	l = &p.lines[4];
	ck_assert_str_eq(l->tag, "AMP-VARIANT");
	ck_assert_uint_eq(l->nattrs, 3);
	check_attr(l, "name", "sd' ");
	check_attr(l, "label", "S,D");
	check_attr(l, "profile", "'");

	l = &p.lines[5];
	ck_assert_str_eq(l->tag, "AMP-REGION");
	ck_assert_uint_eq(l->nattrs, 2);
	/* Inside a list a comma would add an item: it is a space. */
	check_attr(l, "allow", "US' GB, #EXTINF:-1 x");
	check_attr(l, "block", "F R");

	l = &p.lines[6];
	ck_assert_int_eq(l->kind, LINE_URL);
	ck_assert_str_eq(l->url,
	    "http://h/stream/1?token=a%20b%22c%0D%0A#EXTINF:-1,Injected");

	parsed_free(&p);
	buf_free(&b);
}
END_TEST

START_TEST(test_url_comment)
{
	struct m3u_entry	 e;

	/* A URL line that starts with '#' would be a comment, and the
	 * entry would take the next entry's URL. */
	memset(&e, 0, sizeof e);
	e.name = "x";
	e.url = "#EXTINF:-1,y";
	check_entry(&e, "#EXTINF:-1,x\n%23EXTINF:-1,y\n");
	e.url = "http://h/\xc3\xa9t\xc3\xa9 x";
	check_entry(&e, "#EXTINF:-1,x\nhttp://h/%C3%A9t%C3%A9%20x\n");
	e.url = "http://h/a%20b?c=d#frag";
	check_entry(&e, "#EXTINF:-1,x\nhttp://h/a%20b?c=d#frag\n");
}
END_TEST

START_TEST(test_utf8)
{
	struct m3u_entry	 e;

	memset(&e, 0, sizeof e);
	e.url = "http://h/s/1";

	/* Valid UTF-8 is kept byte for byte: Latin, Greek, CJK, emoji. */
	e.name = "\xc3\x9cml\xc3\xa4ut \xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4"
	    "\xce\xb1 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xba";
	e.tvg_name = e.name;
	check_entry(&e, "#EXTINF:-1 tvg-name=\"\xc3\x9cml\xc3\xa4ut "
	    "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1 "
	    "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xba\",\xc3\x9cml\xc3\xa4ut "
	    "\xce\x95\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1 "
	    "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x93\xba\nhttp://h/s/1\n");

	/* Line ends outside ASCII: NEL (U+0085), the other C1 controls,
	 * LINE and PARAGRAPH SEPARATOR. */
	e.tvg_name = NULL;
	e.name = "a\xc2\x85" "b\xc2\x80" "c\xc2\x9f" "d\xe2\x80\xa8"
	    "e\xe2\x80\xa9" "f\x7f" "g\x0b" "h\x0c" "i\x1c" "j";
	check_entry(&e, "#EXTINF:-1,a b c d e f g h i j\nhttp://h/s/1\n");
	/* Neighbours of those are kept. */
	e.name = "\xc2\xa0\xe2\x80\xa7\xe2\x80\xaa";
	check_entry(&e, "#EXTINF:-1,\xc2\xa0\xe2\x80\xa7\xe2\x80\xaa\n"
	    "http://h/s/1\n");

	/* Malformed UTF-8 becomes U+FFFD, byte by byte: a lone
	 * continuation, an overlong '/', an overlong NUL, a surrogate, a
	 * code point above U+10FFFF, 0xff, a sequence cut by a quote and
	 * one cut by the end. */
	e.name = "\x80|\xc0\xaf|\xc0\x80|\xed\xa0\x80|\xf4\x90\x80\x80|\xff|"
	    "\xe2\x82\"|\xe2\x82";
#define R "\xef\xbf\xbd"
	check_entry(&e, "#EXTINF:-1," R "|" R R "|" R R "|" R R R "|"
	    R R R R "|" R "|" R R "'|" R R "\nhttp://h/s/1\n");
#undef R
}
END_TEST

START_TEST(test_tag)
{
	struct buf	b = BUF_INIT;

	m3u_tag(&b, "AMP-X", "a", "1", "b", (const char *)NULL, "c", "",
	    "d", "4", (const char *)NULL);
	ck_assert_str_eq(b.data, "#EXTREM:AMP-X a=\"1\" d=\"4\"\n");
	buf_reset(&b);

	/* Nothing to say: no line. */
	m3u_tag(&b, "AMP-X", "a", (const char *)NULL, "b", "",
	    (const char *)NULL);
	m3u_tag(&b, "AMP-X", (const char *)NULL);
	ck_assert_uint_eq(b.len, 0);

	/* Names are constants, but a bad one still stays on its line. */
	m3u_tag(&b, "AMP X\n#EXTINF", "a\"b\n", "v", (const char *)NULL);
	ck_assert_str_eq(b.data, "#EXTREM:AMP-X--EXTINF a-b-=\"v\"\n");
	buf_free(&b);
}
END_TEST

/* The handler's pattern: a header then entries appended one by one. */
START_TEST(test_playlist)
{
	struct buf		 b = BUF_INIT;
	struct m3u_entry	 e;
	struct parsed		 p;

	m3u_header(&b, "http://h/epg.xml");
	full_entry(&e);
	ck_assert_int_eq(m3u_entry(&b, &e), 0);
	memset(&e, 0, sizeof e);
	e.tvg_id = "2";
	e.name = "Two";
	e.url = "http://h/stream/2";
	ck_assert_int_eq(m3u_entry(&b, &e), 0);
	parse(b.data, b.len, &p);
	ck_assert_uint_eq(p.n, 10);
	ck_assert_int_eq(p.lines[0].kind, LINE_HEADER);
	check_attr(&p.lines[0], "url-tvg", "http://h/epg.xml");
	check_attr(&p.lines[0], "x-tvg-url", "http://h/epg.xml");
	ck_assert_int_eq(p.lines[1].kind, LINE_EXTINF);
	ck_assert_int_eq(p.lines[7].kind, LINE_URL);
	ck_assert_int_eq(p.lines[8].kind, LINE_EXTINF);
	ck_assert_str_eq(p.lines[8].name, "Two");
	ck_assert_str_eq(p.lines[9].url, "http://h/stream/2");
	parsed_free(&p);
	buf_free(&b);
}
END_TEST

/* Pieces that attack the format, glued at random into every field. */
static const char *const pieces[] = {
	"\"", ",", "\n", "\r", "\r\n", "=", " ", "#", "#EXTINF:-1 ",
	"#EXTREM:AMP-NEXT ", "tvg-id=\"", "http://evil/", "\t", "\x1b[2J",
	"\x7f", "\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9", "\xc3\xa9",
	"\xf0\x9f\x93\xba", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "a",
	"Zz", "'", "\\", "%", "",
};

static char *
random_text(unsigned int *seed)
{
	struct buf	b = BUF_INIT;
	int		i, n;

	n = rand_r(seed) % 6;
	for (i = 0; i < n; i++)
		buf_adds(&b, pieces[rand_r(seed) %
		    (int)(sizeof pieces / sizeof pieces[0])]);
	return (buf_detach(&b));
}

START_TEST(test_random)
{
	struct buf		 b = BUF_INIT;
	struct m3u_entry	 e;
	struct parsed		 p;
	unsigned int		 seed = 20240504;
	char			*f[15];
	const char		*allow[2], *block[1];
	size_t			 i, k, want, nattrs;
	int			 iter;

	for (iter = 0; iter < 3000; iter++) {
		for (k = 0; k < sizeof f / sizeof f[0]; k++)
			f[k] = random_text(&seed);
		memset(&e, 0, sizeof e);
		e.tvg_id = f[0];
		e.tvg_name = f[1];
		e.tvg_logo = f[2];
		e.group_title = f[3];
		e.channel_number = rand_r(&seed) % 3;
		e.name = f[4];
		e.next_title = f[5];
		e.next_start = rand_r(&seed) % 2 ? 1714845600 : 0;
		e.next_description = f[6];
		e.program_feed = f[7];
		e.description = f[8];
		e.variant_name = f[9];
		e.variant_label = f[10];
		e.variant_profile = f[11];
		allow[0] = f[12];
		allow[1] = f[13];
		block[0] = f[14];
		e.regions_allowed = allow;
		e.nregions_allowed = 2;
		e.regions_blocked = block;
		e.nregions_blocked = 1;
		e.url = f[0][0] != '\0' ? f[0] : "http://h/s";

		buf_reset(&b);
		ck_assert_int_eq(m3u_entry(&b, &e), 0);
		parse(b.data, b.len, &p);

		/* The lines and attributes present are exactly those whose
		 * values are present. */
		nattrs = (f[0][0] != '\0') + (f[1][0] != '\0') +
		    (f[2][0] != '\0') + (f[3][0] != '\0') +
		    2 * (e.channel_number != 0);
		want = 2 + (f[5][0] != '\0') + (f[7][0] != '\0') +
		    (f[8][0] != '\0') + (f[9][0] != '\0') +
		    (f[12][0] != '\0' || f[13][0] != '\0' || f[14][0] != '\0');
		ck_assert_uint_eq(p.n, want);
		ck_assert_int_eq(p.lines[0].kind, LINE_EXTINF);
		ck_assert_uint_eq(p.lines[0].nattrs, nattrs);
		for (i = 1; i + 1 < p.n; i++)
			ck_assert_int_eq(p.lines[i].kind, LINE_TAG);
		ck_assert_int_eq(p.lines[p.n - 1].kind, LINE_URL);
		parsed_free(&p);
		for (k = 0; k < sizeof f / sizeof f[0]; k++)
			free(f[k]);
	}
	buf_free(&b);
}
END_TEST

static Suite *
m3u_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("m3u");
	tc = tcase_create("format");
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_absent);
	tcase_add_test(tc, test_no_url);
	tcase_add_test(tc, test_tag);
	tcase_add_test(tc, test_playlist);
	suite_add_tcase(s, tc);
	tc = tcase_create("escaping");
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_url_comment);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(m3u_suite()));
}
