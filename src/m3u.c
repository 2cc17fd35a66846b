#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "m3u.h"
#include "timefmt.h"

/* The contexts of outside text. */
#define TEXT_ATTR	0	/* inside an attribute's quotes */
#define TEXT_LIST	1	/* one item of a comma-separated attribute */
#define TEXT_NAME	2	/* the display name after the comma */

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD in UTF-8 */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) with its code point in
 * *cp, or 0 if the bytes there are not one.  p is NUL terminated, and a
 * NUL is never a continuation byte, so this never reads past the end. */
static size_t
utf8_seq(const unsigned char *p, uint32_t *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return (1);
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		*cp = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		*cp = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return (0);
	for (i = 1; i < n; i++) {
		if (p[i] < lo || p[i] > hi)
			return (0);
		*cp = (*cp << 6) | (p[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	return (n);
}

/* Code points that some reader takes as the end of a line (C0 controls,
 * DEL, the C1 controls with NEL, LINE and PARAGRAPH SEPARATOR): Python's
 * splitlines, JavaScript and Unicode-aware editors all differ, so none
 * is let through. */
static int
breaks_line(uint32_t cp)
{
	return (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
	    cp == 0x2029);
}

/* The one place where outside text is written: escaped for ctx as m3u.h
 * describes. */
static void
put_text(struct buf *b, const char *s, int ctx)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 n;

	while (*p != '\0') {
		/* Runs of plain ASCII, most of any text, go in one copy. */
		for (n = 0; p[n] >= 0x20 && p[n] < 0x7f && p[n] != '"' &&
		    (p[n] != ',' || ctx != TEXT_LIST); n++)
			;
		if (n > 0) {
			buf_add(b, p, n);
			p += n;
			continue;
		}
		n = utf8_seq(p, &cp);
		if (n == 0) {
			buf_adds(b, REPLACEMENT);
			p++;
		} else if (breaks_line(cp))
			buf_addc(b, ' ');
		else if (cp == '"')
			buf_addc(b, '\'');
		else if (cp == ',' && ctx == TEXT_LIST)
			buf_addc(b, ' ');
		else
			buf_add(b, p, n);
		p += n;
	}
}

/* Tag and attribute names are the caller's constants; a stray character
 * in one still must not break the line. */
static void
put_token(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_')
			buf_addc(b, *s);
		else
			buf_addc(b, '-');
	}
}

/* A URI may hold none of these (RFC 3986 section 2). */
static int
url_byte(unsigned char c)
{
	return (c > 0x20 && c < 0x7f && strchr("\"<>\\^`{|}", c) == NULL);
}

/* Bytes a URI may not hold are encoded rather than dropped, so that a
 * sloppy URL still points where it meant to; a leading '#' too, which
 * would turn the URL line into a comment. */
static void
put_url(struct buf *b, const char *url)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)url;
	size_t			 n;

	while (*p != '\0') {
		for (n = 0; url_byte(p[n]) &&
		    (p[n] != '#' || p + n != (const unsigned char *)url); n++)
			;
		if (n > 0) {
			buf_add(b, p, n);
			p += n;
			continue;
		}
		buf_addc(b, '%');
		buf_addc(b, hex[*p >> 4]);
		buf_addc(b, hex[*p & 0xf]);
		p++;
	}
}

static int
present(const char *value)
{
	return (value != NULL && *value != '\0');
}

/* " name="value"", or nothing when the value is absent. */
static void
put_attr(struct buf *b, const char *name, const char *value)
{
	if (!present(value))
		return;
	buf_addc(b, ' ');
	put_token(b, name);
	buf_adds(b, "=\"");
	put_text(b, value, TEXT_ATTR);
	buf_addc(b, '"');
}

/* A URL in an attribute: sanitised as a URL, then as an attribute (a URL
 * holds no '"' once sanitised). */
static void
put_url_attr(struct buf *b, const char *name, const char *url)
{
	if (!present(url))
		return;
	buf_addc(b, ' ');
	put_token(b, name);
	buf_adds(b, "=\"");
	put_url(b, url);
	buf_addc(b, '"');
}

/* Joins a list of items with ',' into out, each escaped as a list item;
 * empty items are skipped. */
static void
join_list(struct buf *out, const char *const *v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (!present(v[i]))
			continue;
		if (out->len > 0)
			buf_addc(out, ',');
		put_text(out, v[i], TEXT_LIST);
	}
}

/* RFC 8216 section 4.1 keeps the "#EXTM3U" first line; url-tvg and
 * x-tvg-url are how IPTV players find the guide. */
void
m3u_header(struct buf *b, const char *epg_url)
{
	buf_adds(b, "#EXTM3U");
	put_url_attr(b, "url-tvg", epg_url);
	put_url_attr(b, "x-tvg-url", epg_url);
	buf_addc(b, '\n');
}

/* Custom tags ride on #EXTREM so that players that do not know them skip
 * them as comments (P2). */
void
m3u_tag(struct buf *b, const char *tag, ...)
{
	va_list		 ap;
	const char	*name, *value;
	int		 any = 0;

	va_start(ap, tag);
	while (!any && (name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		any = present(value);
	}
	va_end(ap);
	if (!any)
		return;

	buf_adds(b, "#EXTREM:");
	put_token(b, tag);
	va_start(ap, tag);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		put_attr(b, name, value);
	}
	va_end(ap);
	buf_addc(b, '\n');
}

/* One channel or variant, #EXTINF and its tags then the URL (P1, P2),
 * built whole in b so that the caller can stream entry by entry. */
int
m3u_entry(struct buf *b, const struct m3u_entry *e)
{
	struct buf	 allow = BUF_INIT, block = BUF_INIT;
	char		 start[TIMEFMT_BUFSIZE], end[TIMEFMT_BUFSIZE];
	char		 chno[32];

	if (!present(e->url))
		return (-1);

	buf_adds(b, "#EXTINF:-1");
	put_attr(b, "tvg-id", e->tvg_id);
	put_attr(b, "tvg-name", e->tvg_name);
	put_url_attr(b, "tvg-logo", e->tvg_logo);
	put_attr(b, "group-title", e->group_title);
	if (e->channel_number != 0) {
		snprintf(chno, sizeof chno, "%lld", e->channel_number);
		put_attr(b, "tvg-chno", chno);
		put_attr(b, "channel-number", chno);
	}
	buf_addc(b, ',');
	if (e->name != NULL)
		put_text(b, e->name, TEXT_NAME);
	buf_addc(b, '\n');

	if (present(e->next_title)) {
		start[0] = end[0] = '\0';
		if (e->next_start != 0)
			timefmt_format_iso8601(e->next_start, start,
			    sizeof start);
		if (e->next_end != 0)
			timefmt_format_iso8601(e->next_end, end, sizeof end);
		m3u_tag(b, "AMP-NEXT", "title", e->next_title, "start", start,
		    "end", end, "description", e->next_description,
		    (const char *)NULL);
	}
	if (present(e->program_feed)) {
		buf_adds(b, "#EXTREM:AMP-PROGRAM-FEED");
		put_url_attr(b, "url", e->program_feed);
		buf_addc(b, '\n');
	}
	m3u_tag(b, "AMP-DESCRIPTION", "text", e->description,
	    (const char *)NULL);
	if (present(e->variant_name))
		m3u_tag(b, "AMP-VARIANT", "name", e->variant_name, "label",
		    e->variant_label, "profile", e->variant_profile,
		    (const char *)NULL);
	join_list(&allow, e->regions_allowed, e->nregions_allowed);
	join_list(&block, e->regions_blocked, e->nregions_blocked);
	m3u_tag(b, "AMP-REGION", "allow", allow.data, "block", block.data,
	    (const char *)NULL);
	buf_free(&block);
	buf_free(&allow);

	put_url(b, e->url);
	buf_addc(b, '\n');
	return (0);
}
