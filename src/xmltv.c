#include "config.h"

#include <stddef.h>
#include <stdlib.h>

#include <libxml/xmlIO.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlwriter.h>

#include "buf.h"
#include "channel.h"
#include "timefmt.h"
#include "xmalloc.h"
#include "xmltv.h"

/* libxml2 takes unsigned strings; this cast keeps const (BAD_CAST does
 * not). */
#define CX(s)	((const xmlChar *)(s))

#define INDENT	"  "

struct xmltv {
	xmlTextWriterPtr	 w;
	xmltv_write_cb		 cb;
	void			*arg;
	int			 failed;	/* cb or libxml2 failed */
	int			 programmes;	/* no more channels */
	struct buf		 scratch;	/* a sanitised value */
};

/* libxml2's output callback: forwards the bytes, and remembers a failure
 * so that every later call fails without calling cb again. */
static int
iowrite(void *ctx, const char *data, int len)
{
	struct xmltv	*x = ctx;

	if (x->failed)
		return (-1);
	if (len > 0 && x->cb(data, (size_t)len, x->arg) != 0) {
		x->failed = 1;
		return (-1);
	}
	return (len);
}

/* The caller owns what the callback writes to; nothing to close. */
static int
ioclose(void *ctx)
{
	(void)ctx;
	return (0);
}

/* libxml2 reports a failed write through its error handler, which prints
 * to stderr by default; the library does not print (the callback's
 * failure is reported by the return values). */
static void
quiet(void *ctx, xmlErrorPtr error)
{
	(void)ctx;
	(void)error;
}

/* The handler is per thread in libxml2: set ours around each call and
 * put the caller's back after. */
struct errsave {
	xmlStructuredErrorFunc	 func;
	void			*ctx;
};

static void
silence(struct errsave *save)
{
	save->func = xmlStructuredError;
	save->ctx = xmlStructuredErrorContext;
	xmlSetStructuredErrorFunc(NULL, quiet);
}

static void
restore(const struct errsave *save)
{
	xmlSetStructuredErrorFunc(save->ctx, save->func);
}

/* Decodes the UTF-8 sequence at s (NUL terminated): returns its length
 * and sets *cp, or, for an ill-formed sequence (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), returns the length of
 * its maximal bad subpart (at least 1, never past the NUL) and sets *cp
 * to -1, as Unicode's "substitution of maximal subparts" does. */
static size_t
decode(const unsigned char *s, long *cp)
{
	unsigned char	c = s[0], lo = 0x80, hi = 0xBF;
	size_t		n, i;
	long		v;

	if (c < 0x80) {
		*cp = c;
		return (1);
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		v = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		v = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else {
		*cp = -1;
		return (1);
	}
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi) {
			*cp = -1;
			return (i);
		}
		v = (v << 6) | (s[i] & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = v;
	return (n);
}

/* XML 1.0 section 2.2: Char, less the characters it discourages (DEL,
 * C1 controls, noncharacters). */
static int
allowed(long cp)
{
	if (cp < 0x20)
		return (cp == 0x09 || cp == 0x0A || cp == 0x0D);
	if (cp >= 0x7F && cp <= 0x9F)
		return (0);
	if (cp >= 0xFDD0 && cp <= 0xFDEF)
		return (0);
	if ((cp & 0xFFFE) == 0xFFFE)
		return (0);
	return (1);
}

/* Returns s when it may go into the document as it is, else a copy in
 * x->scratch (valid until the next call) with every bad sequence or
 * character replaced by '?'. */
static const char *
clean(struct xmltv *x, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;
	long			 cp;
	int			 copying = 0;

	while (*p != '\0') {
		n = decode(p, &cp);
		if (cp != -1 && allowed(cp)) {
			if (copying)
				buf_add(&x->scratch, p, n);
		} else {
			if (!copying) {
				buf_reset(&x->scratch);
				buf_add(&x->scratch, s,
				    (size_t)(p - (const unsigned char *)s));
				copying = 1;
			}
			buf_addc(&x->scratch, '?');
		}
		p += n;
	}
	return (copying ? x->scratch.data : s);
}

/* NULL, "" and white space only count as absent. */
static int
blank(const char *s)
{
	if (s == NULL)
		return (1);
	for (; *s != '\0'; s++) {
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return (0);
	}
	return (1);
}

/* Records the result of a libxml2 call: 0, or -1 from now on. */
static int
check(struct xmltv *x, int rc)
{
	if (rc < 0)
		x->failed = 1;
	return (x->failed ? -1 : 0);
}

static int
start(struct xmltv *x, const char *name)
{
	return (check(x, xmlTextWriterStartElement(x->w, CX(name))));
}

static int
end(struct xmltv *x)
{
	return (check(x, xmlTextWriterEndElement(x->w)));
}

static int
attribute(struct xmltv *x, const char *name, const char *value)
{
	return (check(x, xmlTextWriterWriteAttribute(x->w, CX(name),
	    CX(clean(x, value != NULL ? value : "")))));
}

/* <name attr="value">text</name>, or nothing when text is blank; attr
 * may be NULL. */
static int
element(struct xmltv *x, const char *name, const char *attr,
    const char *value, const char *text)
{
	if (blank(text))
		return (0);
	if (start(x, name) != 0)
		return (-1);
	if (attr != NULL && attribute(x, attr, value) != 0)
		return (-1);
	if (check(x, xmlTextWriterWriteString(x->w, CX(clean(x, text)))) != 0)
		return (-1);
	return (end(x));
}

/* <icon src="..."/>, or nothing when src is blank. */
static int
put_icon(struct xmltv *x, const char *src)
{
	if (blank(src))
		return (0);
	if (start(x, "icon") != 0 || attribute(x, "src", src) != 0)
		return (-1);
	return (end(x));
}

/* XMLTV DTD: the document is <tv> with its DOCTYPE, in UTF-8, which the
 * DTD and tv_validate_file expect; generator-info-name names us. */
struct xmltv *
xmltv_open(xmltv_write_cb cb, void *arg)
{
	struct xmltv		*x;
	xmlOutputBufferPtr	 out;
	struct errsave		 save;

	x = xcalloc(1, sizeof *x);
	x->cb = cb;
	x->arg = arg;
	buf_init(&x->scratch);
	silence(&save);
	out = xmlOutputBufferCreateIO(iowrite, ioclose, x, NULL);
	if (out == NULL)
		goto fail;
	/* Once the writer exists, it owns out. */
	if ((x->w = xmlNewTextWriter(out)) == NULL) {
		xmlOutputBufferClose(out);
		goto fail;
	}
	/* Indented, but the DOCTYPE on one line (indenting folds it). */
	if (xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0 ||
	    xmlTextWriterWriteDTD(x->w, CX("tv"), NULL, CX("xmltv.dtd"),
	    NULL) < 0 ||
	    xmlTextWriterWriteRaw(x->w, CX("\n")) < 0 ||
	    xmlTextWriterSetIndent(x->w, 1) < 0 ||
	    xmlTextWriterSetIndentString(x->w, CX(INDENT)) < 0 ||
	    start(x, "tv") != 0 ||
	    attribute(x, "generator-info-name", "amps") != 0)
		goto fail;
	restore(&save);
	return (x);

fail:
	if (x->w != NULL)
		xmlFreeTextWriter(x->w);
	restore(&save);
	buf_free(&x->scratch);
	free(x);
	return (NULL);
}

/* XMLTV DTD: <!ELEMENT channel (display-name+, icon*, url*)>, and
 * <!ELEMENT tv (channel*, programme*)>: channels come first. */
int
xmltv_channel(struct xmltv *x, const char *id, const char *const *names,
    size_t nnames, const char *icon)
{
	struct errsave	save;
	size_t		i;
	int		any = 0, rc = -1;

	if (x->failed || x->programmes)
		return (-1);
	silence(&save);
	if (start(x, "channel") != 0 || attribute(x, "id", id) != 0)
		goto out;
	for (i = 0; i < nnames; i++) {
		if (blank(names[i]))
			continue;
		if (element(x, "display-name", NULL, NULL, names[i]) != 0)
			goto out;
		any = 1;
	}
	if (!any && element(x, "display-name", NULL, NULL,
	    blank(id) ? "?" : id) != 0)
		goto out;
	if (put_icon(x, icon) != 0 || end(x) != 0)
		goto out;
	rc = 0;
out:
	restore(&save);
	return (rc);
}

/* XMLTV DTD: <!ELEMENT programme (title+, sub-title*, desc*, credits?,
 * date?, category*, ..., icon*, url*, country*, episode-num*, ...)>, with
 * start and channel required; times as "YYYYmmddHHMMSS +0000". */
int
xmltv_programme(struct xmltv *x, const char *channel_id,
    const struct program *p)
{
	struct errsave	save;
	char		t[TIMEFMT_BUFSIZE];
	size_t		i;
	int		rc = -1;

	if (x->failed)
		return (-1);
	if (p->start == 0 || blank(p->title))
		return (0);
	x->programmes = 1;
	silence(&save);
	if (start(x, "programme") != 0)
		goto out;
	timefmt_format_xmltv(p->start, t, sizeof t);
	if (attribute(x, "start", t) != 0)
		goto out;
	if (p->end > p->start) {
		timefmt_format_xmltv(p->end, t, sizeof t);
		if (attribute(x, "stop", t) != 0)
			goto out;
	}
	if (attribute(x, "channel", channel_id) != 0)
		goto out;
	if (element(x, "title", NULL, NULL, p->title) != 0 ||
	    element(x, "sub-title", NULL, NULL, p->sub_title) != 0 ||
	    element(x, "desc", NULL, NULL, p->description) != 0)
		goto out;
	for (i = 0; i < p->categories.n; i++) {
		if (element(x, "category", NULL, NULL,
		    p->categories.v[i]) != 0)
			goto out;
	}
	if (put_icon(x, p->icon) != 0 ||
	    element(x, "episode-num", "system", "onscreen",
	    p->episode_num) != 0 ||
	    end(x) != 0)
		goto out;
	rc = 0;
out:
	restore(&save);
	return (rc);
}

/* XMLTV DTD: the document ends with </tv>; the flush hands the last
 * buffered bytes to the callback. */
int
xmltv_close(struct xmltv *x)
{
	struct errsave	save;
	int		rc;

	if (x == NULL)
		return (0);
	silence(&save);
	if (!x->failed)
		check(x, xmlTextWriterEndDocument(x->w));
	/* Frees the output buffer too, flushing it first. */
	xmlFreeTextWriter(x->w);
	restore(&save);
	rc = x->failed ? -1 : 0;
	buf_free(&x->scratch);
	free(x);
	return (rc);
}
