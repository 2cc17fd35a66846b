#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <libxml/xmlreader.h>
#include <sqlite3.h>
#include <zlib.h>

#include "buf.h"
#include "channel.h"
#include "epg.h"
#include "outbox.h"
#include "schema.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"

/* How a refresh runs (the what is in epg.h).  The document is fetched
 * to an unlinked temporary file (or is the local file), then, in one
 * transaction opened with the settings of struct bulk:
 *   the caller's thread parses it with xmlTextReader, one node at a time
 *   (element names told apart by their pointers into the reader's
 *   dictionary), matches each programme to its channels, and copies what
 *   is stored into a slot of a bounded ring (struct queue: 256 slots,
 *   2 MiB of text at most, each slot's buffers reused, no allocation per
 *   programme);
 *   a writer thread, the only user of the connection until it is
 *   joined, binds each slot to a prepared statement: the rows of the
 *   source's old guide, read by id a few hundred at a time, are
 *   overwritten in place (UPDATE by id: no table or programmes_source
 *   index entry to delete and insert again), new rows are inserted past
 *   them, and what is left of the old guide is deleted at the end.
 * So parsing the next programmes overlaps storing the last ones, and the
 * old guide costs no separate pass.  A parse error or a cancel stops the
 * writer, a failed statement stops the parser; either way the thread is
 * joined before the caller rolls back.  The guide keeps its document
 * order by id, as before; a row takes the id of the old row in its
 * place, as delete-then-insert also gave when the guide held the
 * largest ids (recordings.programme_id is only a hint).  Memory stays
 * flat whatever the guide's size. */

/* Defaults of server.epg_timeout and server.epg_max_size (conf.c). */
#define EPG_TIMEOUT		300
#define EPG_MAX_SIZE		536870912LL
#define EPG_CONNECT_TIMEOUT	30
#define EPG_MAX_REDIRS		5
/* Rows of the old guide read per statement (see next_old). */
#define OLD_ROWS		256
#define STRINGIFY(x)		STRINGIFY1(x)
#define STRINGIFY1(x)		#x
/* The queue between the parser and the writer (see struct queue): its
 * slots, how many the writer waits for before it wakes, how many the
 * parser fills before it hands them over, the bytes of text it may hold
 * before the parser waits, and the largest buffers a slot keeps for the
 * next programme (so that a few huge ones leave nothing behind). */
#define QUEUE_SLOTS		256
#define QUEUE_WAKE		32
#define QUEUE_BATCH		16
#define QUEUE_BYTES		(2 * 1024 * 1024)
#define QUEUE_KEEP		8192

/* Not XML_PARSE_NOENT (no entity is substituted) nor XML_PARSE_DTDLOAD
 * (no external subset is read); NONET in case anything would. */
#define EPG_PARSE_OPTS	(XML_PARSE_NONET | XML_PARSE_NOBLANKS | \
			    XML_PARSE_COMPACT | XML_PARSE_NOCDATA)

/* A key (trimmed, ASCII lower case) and the indexes of the channels
 * (struct parse's chans) it stands for.  Open addressing. */
struct entry {
	char	*key;
	size_t	*idx;
	size_t	 n;
};

struct map {
	struct entry	*v;
	size_t		 size;	/* a power of two, or 0 */
	size_t		 n;
};

struct chan {
	long long	 id;
	int		 hit;	/* got a programme */
};

/* The input: a file descriptor read through zlib, which passes plain
 * text through and inflates gzip, told apart by its magic bytes. */
struct input {
	gzFile		 gz;
	long long	 total;		/* bytes after decompression */
	long long	 max;
	int		 too_big;
	int		 cancelled;
	const struct epg_opts *o;
};

/* The text fields of a programme's row. */
#define FIELD_TITLE	0
#define FIELD_DESC	1
#define FIELD_SUB_TITLE	2
#define FIELD_CATS	3
#define FIELD_EPISODE	4
#define FIELD_ICON	5
#define NFIELDS		6

/* One programme to store, one row per channel id: a slot of the queue.
 * Its fields lie in text (length 0: NULL); the buffers are the slot's
 * and are reused by the programmes after it. */
struct rec {
	int64_t		 start;
	int64_t		 stop;		/* 0: none */
	long long	 position;
	size_t		 off[NFIELDS];
	size_t		 len[NFIELDS];
	struct buf	 text;
	long long	*ids;
	size_t		 nids;
	size_t		 idsize;
};

/* The parser (the caller's thread) fills slots; the writer (a thread of
 * its own, the only one to use the connection until it is joined) stores
 * them.  Slots from head, count of them, are the writer's; the rest the
 * parser's.  Each side sleeps only when it cannot go on and is woken
 * only when the other has a batch for it. */
struct queue {
	pthread_mutex_t	 lock;
	pthread_cond_t	 more;		/* the writer waits */
	pthread_cond_t	 room;		/* the parser waits */
	struct rec	*slots;
	size_t		 head;
	size_t		 count;
	size_t		 bytes;		/* of the queued slots */
	int		 wwait;		/* the writer is waiting */
	int		 pwait;		/* the parser is waiting */
	int		 done;		/* the parser pushed its last */
	int		 stop;		/* the parser gave up */
	int		 failed;	/* -1: storing a row, EIO: reading
					   or deleting the old guide */
	char		*error;		/* the writer's, when failed */

	/* The parser's alone: slots filled but not yet counted. */
	size_t		 tail;
	size_t		 pfree;		/* known free */
	size_t		 pending;
	size_t		 pbytes;

	/* The writer's: the statements, and the rows of the old guide,
	 * read a few at a time by id, that new rows overwrite. */
	sqlite3_stmt	*ins;
	sqlite3_stmt	*upd;
	sqlite3_stmt	*old;
	sqlite3_stmt	*del;
	int64_t		 oldids[OLD_ROWS];
	size_t		 nold;
	size_t		 iold;
	int64_t		 last;		/* the last id read */
	int		 more_old;
};

/* The element and attribute names read, looked up once in the reader's
 * dictionary: the names it returns are from there too, so a name is
 * told by its pointer (struct parse's word). */
#define W_TV		0
#define W_PROGRAMME	1
#define W_CHANNEL	2
#define W_DISPLAY_NAME	3
#define W_TITLE		4
#define W_SUB_TITLE	5
#define W_DESC		6
#define W_CATEGORY	7
#define W_ICON		8
#define W_EPISODE_NUM	9
#define W_START		10
#define W_STOP		11
#define W_ID		12
#define W_SRC		13
#define W_SYSTEM	14
#define NWORDS		15

static const char *const xmltv_words[NWORDS] = {
	"tv", "programme", "channel", "display-name", "title", "sub-title",
	"desc", "category", "icon", "episode-num", "start", "stop", "id",
	"src", "system"
};

/* One parse. */
struct parse {
	xmlTextReaderPtr r;
	struct input	*in;
	struct queue	*q;
	const char	*source;
	int		 tvg;		/* match_on tvg_name */

	struct chan	*chans;
	size_t		 nchans;
	struct map	 keys;		/* epg_id or tvg_name -> channels */
	struct map	 xmltv;		/* tvg_name: XMLTV id -> channels */

	const xmlChar	*word[NWORDS];

	char		*error;		/* the first error */
	int		 xml_level;	/* of the first libxml2 error */
	int		 root;		/* saw <tv> */

	/* The element being read. */
	int		 in_channel;
	int		 in_prog;
	struct buf	*target;	/* text goes here, or NULL */
	int		 first_only;	/* target keeps its first value */
	struct buf	 id;		/* <channel id> */
	struct buf	 names;		/* normalised display-names, NUL
					   separated */
	struct buf	 text;		/* display-name, category */
	struct buf	 norm;		/* a display-name, normalised */
	int		 text_kind;

	struct buf	 chan_attr;	/* <programme channel>, normalised */
	struct buf	 start, stop;
	struct buf	 title, sub_title, desc, icon, onscreen, ns;
	struct buf	 cats;		/* a JSON array, "]" to come */

	/* The last <programme channel> looked up. */
	struct buf	 last_key;
	struct entry	*last;

	long long	 position;
	long long	 rows, skipped, unmatched;
};

#define TEXT_NONE	0
#define TEXT_NAME	1
#define TEXT_CATEGORY	2

/* FNV-1a. */
static size_t
hash(const char *s)
{
	uint64_t	h = UINT64_C(14695981039346656037);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return ((size_t)h);
}

static struct entry *
map_find(struct map *m, const char *key)
{
	size_t	i;

	if (m->size == 0)
		return (NULL);
	for (i = hash(key) & (m->size - 1); m->v[i].key != NULL;
	    i = (i + 1) & (m->size - 1)) {
		if (strcmp(m->v[i].key, key) == 0)
			return (&m->v[i]);
	}
	return (NULL);
}

static void
map_free(struct map *m)
{
	size_t	i;

	for (i = 0; i < m->size; i++) {
		free(m->v[i].key);
		free(m->v[i].idx);
	}
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* Adds channel index idx under key (once). */
static void
map_add(struct map *m, const char *key, size_t idx)
{
	struct entry	*e, *old;
	size_t		 i, oldsize;

	if ((e = map_find(m, key)) == NULL) {
		if ((m->n + 1) * 2 > m->size) {
			old = m->v;
			oldsize = m->size;
			m->size = m->size == 0 ? 64 : m->size * 2;
			m->v = xcalloc(m->size, sizeof *m->v);
			for (i = 0; i < oldsize; i++) {
				if (old[i].key == NULL)
					continue;
				e = &m->v[hash(old[i].key) & (m->size - 1)];
				while (e->key != NULL) {
					if (++e == m->v + m->size)
						e = m->v;
				}
				*e = old[i];
			}
			free(old);
		}
		e = &m->v[hash(key) & (m->size - 1)];
		while (e->key != NULL) {
			if (++e == m->v + m->size)
				e = m->v;
		}
		e->key = xstrdup(key);
		m->n++;
	}
	for (i = 0; i < e->n; i++) {
		if (e->idx[i] == idx)
			return;
	}
	e->idx = xreallocarray(e->idx, e->n + 1, sizeof *e->idx);
	e->idx[e->n++] = idx;
}

/* The matching form of a key: trimmed, ASCII lower case. */
static void
normalise(struct buf *b, const char *s, size_t len)
{
	buf_reset(b);
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	buf_add(b, s, len);
	if (b->data == NULL)
		buf_add(b, "", 0);
	for (s = b->data; *s != '\0'; s++)
		b->data[s - b->data] = tolower((unsigned char)*s);
}

void
epg_result_clear(struct epg_result *res)
{
	if (res == NULL)
		return;
	free(res->name);
	free(res->error);
	memset(res, 0, sizeof *res);
}

static char *
db_cause(struct store *s, const char *what)
{
	return (xprintf("%s: %s", what, sqlite3_errmsg(store_db(s))));
}

/* The channels and their keys for match_on. */
static int
load_channels(struct store *s, struct parse *p, char **cause)
{
	sqlite3_stmt	*st;
	struct buf	 key = BUF_INIT;
	const char	*k;
	char		 num[32];
	size_t		 size = 0;
	int		 step;

	st = store_prepare(s, "SELECT id, epg_id, tvg_name, name FROM channels "
	    "WHERE deleted = 0 ORDER BY id", cause);
	if (st == NULL)
		return (EIO);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->nchans == size) {
			size = size == 0 ? 256 : size * 2;
			p->chans = xreallocarray(p->chans, size,
			    sizeof *p->chans);
		}
		p->chans[p->nchans].id = sqlite3_column_int64(st, 0);
		p->chans[p->nchans].hit = 0;
		if (p->tvg) {
			k = (const char *)sqlite3_column_text(st, 2);
			if (k == NULL || *k == '\0')
				k = (const char *)sqlite3_column_text(st, 3);
		} else {
			k = (const char *)sqlite3_column_text(st, 1);
			if (k == NULL || *k == '\0') {
				snprintf(num, sizeof num, "%lld",
				    p->chans[p->nchans].id);
				k = num;
			}
		}
		if (k != NULL) {
			normalise(&key, k, strlen(k));
			if (*key.data != '\0')
				map_add(&p->keys, key.data, p->nchans);
		}
		p->nchans++;
	}
	buf_free(&key);
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		*cause = db_cause(s, "channels");
		return (EIO);
	}
	return (0);
}

/* libxml2's errors: the first one is kept, with its line. */
static void
xml_error(void *arg, xmlErrorPtr e)
{
	struct parse	*p = arg;
	char		*msg;
	size_t		 len;

	if (e == NULL || e->level < XML_ERR_ERROR || p->error != NULL)
		return;
	msg = xstrdup(e->message != NULL ? e->message : "parse error");
	for (len = 0; msg[len] != '\0'; len++) {
		if (msg[len] == '\n' || msg[len] == '\r')
			msg[len] = ' ';
	}
	while (len > 0 && isspace((unsigned char)msg[len - 1]))
		msg[--len] = '\0';
	p->error = xprintf("line %d: %s", e->line, msg);
	p->xml_level = e->level;
	free(msg);
}

static int
fail(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Our own refusal, with the parser's line. */
static int
fail(struct parse *p, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->error == NULL) {
		va_start(ap, fmt);
		if (xvasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		p->error = xprintf("line %d: %s",
		    xmlTextReaderGetParserLineNumber(p->r),
		    msg != NULL ? msg : "refused");
		free(msg);
	}
	return (-1);
}

/* XML 1.0 section 4 allows entities; a guide needs none, and refusing
 * every declaration keeps out expansion bombs and external entities. */
static int
check_entities(struct parse *p, xmlDtdPtr dtd)
{
	if (dtd == NULL)
		return (0);
	if ((dtd->entities != NULL &&
	    xmlHashSize((xmlHashTablePtr)dtd->entities) > 0) ||
	    (dtd->pentities != NULL &&
	    xmlHashSize((xmlHashTablePtr)dtd->pentities) > 0))
		return (fail(p, "the document declares entities: refused"));
	return (0);
}

static void
clear_programme(struct parse *p)
{
	buf_reset(&p->chan_attr);
	buf_reset(&p->start);
	buf_reset(&p->stop);
	buf_reset(&p->title);
	buf_reset(&p->sub_title);
	buf_reset(&p->desc);
	buf_reset(&p->icon);
	buf_reset(&p->onscreen);
	buf_reset(&p->ns);
	buf_reset(&p->cats);
}

/* Walks the attributes of the current element (the reader is back on
 * the element afterwards), refusing any value over EPG_MAX_VALUE; want
 * (may be NULL) names (W_*) the attributes whose values go into out. */
static int
attributes(struct parse *p, const int *want, struct buf **out,
    size_t nwant)
{
	const xmlChar	*name, *value;
	size_t		 i, len;
	int		 rc;

	while ((rc = xmlTextReaderMoveToNextAttribute(p->r)) == 1) {
		value = xmlTextReaderConstValue(p->r);
		name = xmlTextReaderConstName(p->r);
		len = value != NULL ? strlen((const char *)value) : 0;
		if (len > EPG_MAX_VALUE) {
			xmlTextReaderMoveToElement(p->r);
			return (fail(p, "attribute %s is longer than %d bytes",
			    name != NULL ? (const char *)name : "?",
			    EPG_MAX_VALUE));
		}
		for (i = 0; i < nwant && name != NULL; i++) {
			if (name == p->word[want[i]]) {
				buf_reset(out[i]);
				buf_add(out[i], value, len);
			}
		}
	}
	xmlTextReaderMoveToElement(p->r);
	if (rc < 0)
		return (fail(p, "cannot read attributes"));
	return (0);
}

/* The xmltv_ns episode-num ("season.episode.part", each from zero, each
 * maybe "n/total" or empty) as on-screen text: "S01E05". */
static void
episode_from_ns(const char *ns, struct buf *out)
{
	long long	 v[2] = { -1, -1 };
	const char	*s = ns;
	char		*end;
	int		 i;

	buf_reset(out);
	for (i = 0; i < 2; i++) {
		while (isspace((unsigned char)*s))
			s++;
		if (isdigit((unsigned char)*s)) {
			v[i] = strtoll(s, &end, 10);
			s = end;
		}
		while (*s != '\0' && *s != '.')
			s++;
		if (*s != '.')
			break;
		s++;
	}
	if (v[0] >= 0 && v[0] < 100000)
		buf_addf(out, "S%02lld", v[0] + 1);
	if (v[1] >= 0 && v[1] < 100000)
		buf_addf(out, "E%02lld", v[1] + 1);
}

static int
element(struct parse *p)
{
	static const int prog_attrs[] = { W_START, W_STOP, W_CHANNEL };
	static const int id_attr[] = { W_ID };
	static const int src_attr[] = { W_SRC };
	static const int sys_attr[] = { W_SYSTEM };
	const xmlChar	*name;
	struct buf	*outs[3], sys = BUF_INIT;
	xmlNodePtr	 node;
	int		 depth, rc = 0;

	name = xmlTextReaderConstLocalName(p->r);
	if (name == NULL)
		return (fail(p, "an element without a name"));
	depth = xmlTextReaderDepth(p->r);

	if (depth == 0) {
		if (name != p->word[W_TV])
			return (fail(p, "not XMLTV: the root element is <%s>, "
			    "not <tv>", (const char *)name));
		node = xmlTextReaderCurrentNode(p->r);
		if (node != NULL && node->doc != NULL &&
		    check_entities(p, node->doc->intSubset) != 0)
			return (-1);
		p->root = 1;
		return (attributes(p, NULL, NULL, 0));
	}
	if (depth == 1) {
		p->in_channel = p->in_prog = 0;
		p->target = NULL;
		if (name == p->word[W_PROGRAMME]) {
			clear_programme(p);
			p->in_prog = 1;
			outs[0] = &p->start;
			outs[1] = &p->stop;
			outs[2] = &p->chan_attr;
			return (attributes(p, prog_attrs, outs, 3));
		}
		if (name == p->word[W_CHANNEL]) {
			p->in_channel = 1;
			buf_reset(&p->id);
			buf_reset(&p->names);
			outs[0] = &p->id;
			return (attributes(p, id_attr, outs, 1));
		}
		return (attributes(p, NULL, NULL, 0));
	}
	if (depth != 2 || (!p->in_prog && !p->in_channel))
		return (attributes(p, NULL, NULL, 0));

	p->target = NULL;
	p->first_only = 1;
	p->text_kind = TEXT_NONE;
	if (p->in_channel) {
		if (name == p->word[W_DISPLAY_NAME]) {
			buf_reset(&p->text);
			p->target = &p->text;
			p->first_only = 0;
			p->text_kind = TEXT_NAME;
		}
		return (attributes(p, NULL, NULL, 0));
	}
	if (name == p->word[W_TITLE])
		p->target = &p->title;
	else if (name == p->word[W_SUB_TITLE])
		p->target = &p->sub_title;
	else if (name == p->word[W_DESC])
		p->target = &p->desc;
	else if (name == p->word[W_CATEGORY]) {
		buf_reset(&p->text);
		p->target = &p->text;
		p->first_only = 0;
		p->text_kind = TEXT_CATEGORY;
	} else if (name == p->word[W_ICON]) {
		if (p->icon.len == 0) {
			outs[0] = &p->icon;
			return (attributes(p, src_attr, outs, 1));
		}
	} else if (name == p->word[W_EPISODE_NUM]) {
		outs[0] = &sys;
		rc = attributes(p, sys_attr, outs, 1);
		if (rc == 0 && (sys.data == NULL ||
		    strcmp(sys.data, "xmltv_ns") != 0)) {
			/* onscreen, and the default system. */
			if (sys.data == NULL || strcmp(sys.data,
			    "onscreen") == 0)
				p->target = &p->onscreen;
		} else if (rc == 0)
			p->target = &p->ns;
		buf_free(&sys);
		return (rc);
	}
	/* The text of a first-only field that is already set is dropped;
	 * a second <title> starts empty otherwise. */
	if (p->target != NULL && p->first_only && p->target->len > 0)
		p->target = NULL;
	return (attributes(p, NULL, NULL, 0));
}

/* tvg_name: an XMLTV channel's display-names name amps channels. */
static void
end_channel(struct parse *p)
{
	struct buf	 key = BUF_INIT;
	struct entry	*e;
	const char	*n;
	size_t		 i;

	if (!p->tvg || p->id.len == 0)
		return;
	normalise(&key, p->id.data, p->id.len);
	for (n = p->names.data; n != NULL && n < p->names.data + p->names.len;
	    n += strlen(n) + 1) {
		if ((e = map_find(&p->keys, n)) == NULL)
			continue;
		for (i = 0; i < e->n; i++)
			map_add(&p->xmltv, key.data, e->idx[i]);
	}
	buf_free(&key);
	p->last = NULL;
	buf_reset(&p->last_key);
}

/* Trims white space at both ends, in place. */
static void
trim(struct buf *b)
{
	size_t	i = 0;

	if (b->len == 0)
		return;
	while (i < b->len && isspace((unsigned char)b->data[i]))
		i++;
	if (i > 0) {
		memmove(b->data, b->data + i, b->len - i);
		b->len -= i;
	}
	while (b->len > 0 && isspace((unsigned char)b->data[b->len - 1]))
		b->len--;
	b->data[b->len] = '\0';
}

/* Hands the slots filled since the last call to the writer, then
 * waits, when wait is set, until there is a free slot and the queued
 * text is under QUEUE_BYTES.  Returns 0, or -1 when the writer failed. */
static int
queue_publish(struct queue *q, int wait)
{
	int	rc;

	pthread_mutex_lock(&q->lock);
	q->count += q->pending;
	q->bytes += q->pbytes;
	q->pending = q->pbytes = 0;
	if (q->wwait && q->count >= QUEUE_WAKE)
		pthread_cond_signal(&q->more);
	while (wait && !q->failed && (q->count == QUEUE_SLOTS ||
	    (q->count > 0 && q->bytes > QUEUE_BYTES))) {
		q->pwait = 1;
		if (q->wwait)
			pthread_cond_signal(&q->more);
		pthread_cond_wait(&q->room, &q->lock);
	}
	q->pfree = QUEUE_SLOTS - q->count;
	rc = q->failed ? -1 : 0;
	pthread_mutex_unlock(&q->lock);
	return (rc);
}

/* The parser's next slot to fill, or NULL when the writer failed. */
static struct rec *
queue_slot(struct queue *q)
{
	if (q->pfree == 0 && queue_publish(q, 1) != 0)
		return (NULL);
	return (&q->slots[q->tail]);
}

/* The slot from queue_slot is filled: it goes to the writer with a few
 * others, so that the two threads meet once per QUEUE_BATCH.  Returns
 * 0, or -1 when the writer failed. */
static int
queue_push(struct queue *q, const struct rec *r)
{
	q->tail = (q->tail + 1) % QUEUE_SLOTS;
	q->pfree--;
	q->pending++;
	q->pbytes += r->text.len + r->nids * sizeof *r->ids;
	if (q->pending >= QUEUE_BATCH || q->pbytes > QUEUE_BYTES)
		return (queue_publish(q, 1));
	return (0);
}

/* A JSON string, byte for byte as json-c 0.16 writes it with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (RFC 8259
 * escapes, control characters as \u00xx), without an object per
 * category. */
static void
json_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char	*run = s, *end = s + len;
	char		 esc[7];
	unsigned char	 c;

	buf_addc(b, '"');
	for (; s < end; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		esc[2] = '\0';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			esc[6] = '\0';
			break;
		}
		buf_adds(b, esc);
	}
	buf_add(b, run, (size_t)(end - run));
	buf_addc(b, '"');
}

static void
rec_field(struct rec *r, int i, const struct buf *b)
{
	r->off[i] = r->text.len;
	r->len[i] = b->len;
	if (b->len > 0)
		buf_add(&r->text, b->data, b->len);
}

static int
end_programme(struct parse *p)
{
	struct map	*m = p->tvg ? &p->xmltv : &p->keys;
	struct entry	*e;
	struct rec	*r;
	struct buf	 key = BUF_INIT;
	int64_t		 start, stop = 0;
	size_t		 i;

	p->in_prog = 0;
	p->target = NULL;
	/* Programmes come in runs of one channel. */
	if (p->last != NULL && p->chan_attr.len > 0 && p->last_key.len > 0 &&
	    p->chan_attr.len == p->last_key.len &&
	    memcmp(p->chan_attr.data, p->last_key.data,
	    p->chan_attr.len) == 0)
		e = p->last;
	else {
		if (p->chan_attr.len == 0)
			e = NULL;
		else {
			normalise(&key, p->chan_attr.data, p->chan_attr.len);
			e = map_find(m, key.data);
			buf_free(&key);
		}
		buf_reset(&p->last_key);
		if (e != NULL)
			buf_add(&p->last_key, p->chan_attr.data,
			    p->chan_attr.len);
		p->last = e;
	}
	if (e == NULL || e->n == 0) {
		p->unmatched++;
		return (0);
	}

	trim(&p->title);
	if (p->start.len == 0 || timefmt_parse_xmltv(p->start.data,
	    &start) != 0 || (p->stop.len > 0 &&
	    (timefmt_parse_xmltv(p->stop.data, &stop) != 0 || stop < start)) ||
	    p->title.len == 0) {
		p->skipped++;
		return (0);
	}
	trim(&p->sub_title);
	trim(&p->desc);
	trim(&p->icon);
	trim(&p->onscreen);
	if (p->onscreen.len == 0 && p->ns.len > 0)
		episode_from_ns(p->ns.data, &p->onscreen);

	if ((r = queue_slot(p->q)) == NULL)
		return (fail(p, "%s", p->q->error));
	r->start = start;
	r->stop = stop;
	r->position = p->position++;
	buf_reset(&r->text);
	rec_field(r, FIELD_TITLE, &p->title);
	rec_field(r, FIELD_DESC, &p->desc);
	rec_field(r, FIELD_SUB_TITLE, &p->sub_title);
	if (p->cats.len > 0)
		buf_addc(&p->cats, ']');
	rec_field(r, FIELD_CATS, &p->cats);
	rec_field(r, FIELD_EPISODE, &p->onscreen);
	rec_field(r, FIELD_ICON, &p->icon);
	if (r->idsize < e->n) {
		r->ids = xreallocarray(r->ids, e->n, sizeof *r->ids);
		r->idsize = e->n;
	}
	for (i = 0; i < e->n; i++) {
		r->ids[i] = p->chans[e->idx[i]].id;
		/* Counted now: a row that then fails fails the refresh. */
		p->chans[e->idx[i]].hit = 1;
	}
	r->nids = e->n;
	p->rows += (long long)e->n;
	if (queue_push(p->q, r) != 0)
		return (fail(p, "%s", p->q->error));
	return (0);
}

static int
end_element(struct parse *p)
{
	int	depth = xmlTextReaderDepth(p->r);

	if (depth == 2 && p->target != NULL) {
		if (p->text_kind == TEXT_NAME) {
			normalise(&p->norm, p->text.data != NULL ?
			    p->text.data : "", p->text.len);
			if (*p->norm.data != '\0')
				buf_add(&p->names, p->norm.data,
				    p->norm.len + 1);
		} else if (p->text_kind == TEXT_CATEGORY) {
			trim(&p->text);
			if (p->text.len > 0) {
				buf_addc(&p->cats, p->cats.len == 0 ?
				    '[' : ',');
				json_string(&p->cats, p->text.data,
				    p->text.len);
			}
		}
		p->target = NULL;
		p->text_kind = TEXT_NONE;
		return (0);
	}
	if (depth == 1 && p->in_prog)
		return (end_programme(p));
	if (depth == 1 && p->in_channel) {
		end_channel(p);
		p->in_channel = 0;
	}
	return (0);
}

/* xmlInputReadCallback: at most len bytes of the document. */
static int
input_read(void *arg, char *buf, int len)
{
	struct input	*in = arg;
	int		 n;

	if (in->o->cancel != NULL && in->o->cancel(in->o->arg)) {
		in->cancelled = 1;
		return (-1);
	}
	n = gzread(in->gz, buf, (unsigned)len);
	if (n < 0)
		return (-1);
	in->total += n;
	if (in->total > in->max) {
		in->too_big = 1;
		return (-1);
	}
	return (n);
}

static int
input_close(void *arg)
{
	(void)arg;
	return (0);
}

/* Reads the whole document into the prepared INSERT.  Returns 0, or -1
 * with p->error (or in->cancelled). */
static int
parse_document(struct parse *p)
{
	const xmlChar	*v;
	size_t		 len, i;
	int		 rc, type, empty;

	p->r = xmlReaderForIO(input_read, input_close, p->in, NULL, NULL,
	    EPG_PARSE_OPTS);
	if (p->r == NULL) {
		p->error = xstrdup("cannot start the XML reader");
		return (-1);
	}
	xmlTextReaderSetStructuredErrorHandler(p->r, xml_error, p);
	for (i = 0; i < NWORDS; i++) {
		p->word[i] = xmlTextReaderConstString(p->r,
		    (const xmlChar *)xmltv_words[i]);
		if (p->word[i] == NULL) {
			p->error = xstrdup("cannot start the XML reader");
			return (-1);
		}
	}
	while ((rc = xmlTextReaderRead(p->r)) == 1) {
		type = xmlTextReaderNodeType(p->r);
		switch (type) {
		case XML_READER_TYPE_ELEMENT:
			empty = xmlTextReaderIsEmptyElement(p->r);
			if (element(p) != 0)
				return (-1);
			if (empty && end_element(p) != 0)
				return (-1);
			break;
		case XML_READER_TYPE_END_ELEMENT:
			if (end_element(p) != 0)
				return (-1);
			break;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
		case XML_READER_TYPE_WHITESPACE:
			v = xmlTextReaderConstValue(p->r);
			len = v != NULL ? strlen((const char *)v) : 0;
			if (len > EPG_MAX_VALUE ||
			    (p->target != NULL &&
			    p->target->len + len > EPG_MAX_VALUE))
				return (fail(p, "a text longer than %d bytes",
				    EPG_MAX_VALUE));
			if (p->target != NULL)
				buf_add(p->target, v, len);
			break;
		case XML_READER_TYPE_ENTITY_REFERENCE:
			return (fail(p, "an entity reference: refused"));
		case XML_READER_TYPE_DOCUMENT_TYPE:
			if (check_entities(p,
			    (xmlDtdPtr)xmlTextReaderCurrentNode(p->r)) != 0)
				return (-1);
			break;
		default:
			break;
		}
		if (p->error != NULL && p->xml_level == XML_ERR_FATAL)
			break;
	}
	if (p->in->cancelled)
		return (-1);
	if (p->in->too_big) {
		free(p->error);
		p->error = xprintf("the guide is larger than %lld bytes",
		    p->in->max);
		return (-1);
	}
	if (p->in->total == 0) {
		free(p->error);
		p->error = xstrdup("the guide is empty");
		return (-1);
	}
	if (rc != 0 || (p->error != NULL && p->xml_level == XML_ERR_FATAL)) {
		if (p->error == NULL)
			p->error = xprintf("line %d: parse error",
			    xmlTextReaderGetParserLineNumber(p->r));
		return (-1);
	}
	if (!p->root) {
		free(p->error);
		p->error = xstrdup("not XMLTV: no <tv> element (an empty "
		    "document?)");
		return (-1);
	}
	return (0);
}

static void
parse_free(struct parse *p)
{
	if (p->r != NULL)
		xmlFreeTextReader(p->r);
	map_free(&p->keys);
	map_free(&p->xmltv);
	free(p->chans);
	free(p->error);
	clear_programme(p);
	buf_free(&p->id);
	buf_free(&p->names);
	buf_free(&p->text);
	buf_free(&p->chan_attr);
	buf_free(&p->start);
	buf_free(&p->stop);
	buf_free(&p->title);
	buf_free(&p->sub_title);
	buf_free(&p->desc);
	buf_free(&p->icon);
	buf_free(&p->onscreen);
	buf_free(&p->ns);
	buf_free(&p->cats);
	buf_free(&p->last_key);
	buf_free(&p->norm);
	memset(p, 0, sizeof *p);
}

/* One source's row. */
struct source {
	char		*name;
	char		*path;
	char		*url;
	char		*match_on;
	long long	 interval;
	char		*etag;
	char		*last_modified;
};

static void
source_free(struct source *src)
{
	free(src->name);
	free(src->path);
	free(src->url);
	free(src->match_on);
	free(src->etag);
	free(src->last_modified);
}

static int
source_load(struct store *s, const char *name, struct source *src,
    char **cause)
{
	sqlite3_stmt	*st;
	int		 step;

	memset(src, 0, sizeof *src);
	st = store_prepare(s, "SELECT name, path, url, match_on, "
	    "refresh_interval_minutes, etag, last_modified FROM epg_sources "
	    "WHERE name = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		src->name = store_column_dup(st, 0);
		src->path = store_column_dup(st, 1);
		src->url = store_column_dup(st, 2);
		src->match_on = store_column_dup(st, 3);
		src->interval = sqlite3_column_int64(st, 4);
		src->etag = store_column_dup(st, 5);
		src->last_modified = store_column_dup(st, 6);
	}
	sqlite3_reset(st);
	if (step == SQLITE_ROW)
		return (0);
	if (step == SQLITE_DONE) {
		*cause = xprintf("no EPG source '%s'", name);
		return (ENOENT);
	}
	*cause = db_cause(s, "epg_sources");
	return (EIO);
}

static long long
setting_num(struct store *s, const char *key, long long def)
{
	char		*v = NULL, *cause = NULL;
	long long	 n = def;

	if (store_setting_get(s, key, &v, &cause) == 0 && v != NULL)
		n = strtoll(v, NULL, 10);
	free(v);
	free(cause);
	return (n > 0 ? n : def);
}

/* A download: the body goes to an unlinked temporary file. */
struct fetch {
	int		 fd;
	long long	 total;
	long long	 max;
	int		 too_big;
	int		 write_error;
	int		 cancelled;
	const struct epg_opts *o;
	char		*etag;
	char		*last_modified;
};

static size_t
fetch_write(char *data, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;
	size_t		 len = size * n, done = 0;
	ssize_t		 w;

	if (f->total + (long long)len > f->max) {
		f->too_big = 1;
		return (0);
	}
	while (done < len) {
		w = write(f->fd, data + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			f->write_error = errno != 0 ? errno : EIO;
			return (0);
		}
		done += (size_t)w;
	}
	f->total += (long long)len;
	return (len);
}

/* Keeps ETag and Last-Modified of the last response (a redirect's own
 * headers are dropped when the next response starts). */
static size_t
fetch_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;
	size_t		 len = size * n, nlen;
	char		**to = NULL;
	const char	*v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(f->etag);
		free(f->last_modified);
		f->etag = f->last_modified = NULL;
		return (len);
	}
	if (len > 5 && strncasecmp(data, "ETag:", 5) == 0) {
		to = &f->etag;
		nlen = 5;
	} else if (len > 14 && strncasecmp(data, "Last-Modified:", 14) == 0) {
		to = &f->last_modified;
		nlen = 14;
	} else
		return (len);
	v = data + nlen;
	len -= nlen;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)v[len - 1]))
		len--;
	free(*to);
	*to = len > 0 && len < 1024 ? xstrndup(v, len) : NULL;
	return (size * n);
}

static int
fetch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct fetch	*f = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (f->o->cancel != NULL && f->o->cancel(f->o->arg)) {
		f->cancelled = 1;
		return (1);
	}
	return (0);
}

/* GET url into f->fd, conditional on what the source's row remembers.
 * Returns 0 and *code (200 or 304), or -1 with *error. */
static int
fetch_url(const struct source *src, long long timeout, struct fetch *f,
    long *code, char **error)
{
	CURL			*c;
	struct curl_slist	*hdrs = NULL;
	char			 errbuf[CURL_ERROR_SIZE], *h;
	CURLcode		 cc;
	int			 rc = -1;

	if ((c = curl_easy_init()) == NULL) {
		*error = xstrdup("cannot start libcurl");
		return (-1);
	}
	errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, src->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)EPG_MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    (long)(timeout < EPG_CONNECT_TIMEOUT ? timeout :
	    EPG_CONNECT_TIMEOUT));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PACKAGE_NAME "/"
	    PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, fetch_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	if (src->etag != NULL) {
		h = xprintf("If-None-Match: %s", src->etag);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (src->last_modified != NULL) {
		h = xprintf("If-Modified-Since: %s", src->last_modified);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (hdrs != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(c);
	*code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	if (f->cancelled)
		*error = xstrdup("cancelled");
	else if (f->too_big)
		*error = xprintf("the guide is larger than %lld bytes",
		    f->max);
	else if (f->write_error != 0)
		*error = xprintf("writing the download: %s",
		    strerror(f->write_error));
	else if (cc != CURLE_OK)
		*error = xprintf("%s: %s", src->url, errbuf[0] != '\0' ?
		    errbuf : curl_easy_strerror(cc));
	else if (*code != 200 && *code != 304)
		*error = xprintf("%s: HTTP status %ld", src->url, *code);
	else
		rc = 0;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return (rc);
}

/* An unlinked temporary file beside the database. */
static int
temp_file(struct store *s, char **error)
{
	char	*copy, *tmpl;
	int	 fd;

	copy = xstrdup(store_path(s));
	tmpl = xprintf("%s/.epg-XXXXXX", dirname(copy));
	free(copy);
	if ((fd = mkstemp(tmpl)) < 0)
		*error = xprintf("%s: %s", tmpl, strerror(errno));
	else
		unlink(tmpl);
	free(tmpl);
	return (fd);
}

/* The status row and the event, inside the caller's transaction. */
static int
record(struct store *s, const struct source *src, struct epg_result *res,
    int64_t now, const char *etag, const char *last_modified,
    char **cause)
{
	static const char *const words[] = { "ok", "not modified", "error" };
	sqlite3_stmt	*st;
	json_object	*subj;
	int		 rc;

	if (res->status == EPG_OK)
		st = store_prepare(s, "UPDATE epg_sources SET last_refresh = ?, "
		    "last_status = ?, last_error = NULL, last_success = ?1, "
		    "programmes = ?, channels = ?, skipped = ?, etag = ?, "
		    "last_modified = ? WHERE name = ?", cause);
	else if (res->status == EPG_NOT_MODIFIED)
		st = store_prepare(s, "UPDATE epg_sources SET last_refresh = ?, "
		    "last_status = ?, last_error = NULL, last_success = ?1 "
		    "WHERE name = ?", cause);
	else
		st = store_prepare(s, "UPDATE epg_sources SET last_refresh = ?, "
		    "last_status = ?, last_error = ? WHERE name = ?", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_text(st, 2, words[res->status], -1, SQLITE_STATIC);
	if (res->status == EPG_OK) {
		sqlite3_bind_int64(st, 3, res->programmes);
		sqlite3_bind_int64(st, 4, res->channels);
		sqlite3_bind_int64(st, 5, res->skipped);
		if (etag != NULL)
			sqlite3_bind_text(st, 6, etag, -1, SQLITE_STATIC);
		if (last_modified != NULL)
			sqlite3_bind_text(st, 7, last_modified, -1,
			    SQLITE_STATIC);
		sqlite3_bind_text(st, 8, src->name, -1, SQLITE_STATIC);
	} else if (res->status == EPG_NOT_MODIFIED)
		sqlite3_bind_text(st, 3, src->name, -1, SQLITE_STATIC);
	else {
		sqlite3_bind_text(st, 3, res->error, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, src->name, -1, SQLITE_STATIC);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = db_cause(s, "epg_sources");
		return (EIO);
	}

	subj = json_object_new_object();
	json_object_object_add(subj, "source",
	    json_object_new_string(src->name));
	json_object_object_add(subj, "status",
	    json_object_new_string(words[res->status]));
	if (res->status == EPG_OK) {
		json_object_object_add(subj, "programmes",
		    json_object_new_int64(res->programmes));
		json_object_object_add(subj, "channels",
		    json_object_new_int64(res->channels));
		json_object_object_add(subj, "skipped",
		    json_object_new_int64(res->skipped));
		json_object_object_add(subj, "unmatched",
		    json_object_new_int64(res->unmatched));
	}
	if (res->status == EPG_FAILED)
		json_object_object_add(subj, "error",
		    json_object_new_string(res->error));
	rc = outbox_emit(s, res->status == EPG_FAILED ? "epg.failed" :
	    "epg.refreshed", subj, cause) < 0 ? EIO : 0;
	json_object_put(subj);
	return (rc);
}

/* The next row of the old guide to overwrite, read OLD_ROWS at a time
 * in the order of ids.  Returns 1 and *id, 0 once none is left, or -1
 * (q->old not reset, for its error). */
static int
next_old(struct queue *q, int64_t *id)
{
	int	step;

	if (q->iold == q->nold) {
		if (!q->more_old)
			return (0);
		q->nold = q->iold = 0;
		sqlite3_bind_int64(q->old, 2, q->last);
		while ((step = sqlite3_step(q->old)) == SQLITE_ROW)
			q->oldids[q->nold++] = sqlite3_column_int64(q->old, 0);
		if (step != SQLITE_DONE)
			return (-1);
		sqlite3_reset(q->old);
		if (q->nold < OLD_ROWS)
			q->more_old = 0;
		if (q->nold == 0)
			return (0);
		q->last = q->oldids[q->nold - 1];
	}
	*id = q->oldids[q->iold++];
	return (1);
}

/* Deletes the rows of the old guide that no new row overwrote.
 * Returns 0, or -1 with the failed statement in *failed (not reset). */
static int
delete_old(struct queue *q, sqlite3_stmt **failed)
{
	int64_t	id;
	int	rc;

	while ((rc = next_old(q, &id)) == 1) {
		sqlite3_bind_int64(q->del, 1, id);
		if (sqlite3_step(q->del) != SQLITE_DONE) {
			*failed = q->del;
			return (-1);
		}
		sqlite3_reset(q->del);
	}
	if (rc < 0)
		*failed = q->old;
	return (rc);
}

/* Binds a programme's values to the INSERT or the UPDATE (the same
 * parameter numbers); the text stays in the slot until it is reused. */
static void
bind_rec(sqlite3_stmt *st, const struct rec *r)
{
	int	f, i;

	sqlite3_bind_int64(st, 3, r->position);
	sqlite3_bind_int64(st, 5, r->start);
	if (r->stop != 0)
		sqlite3_bind_int64(st, 6, r->stop);
	else
		sqlite3_bind_null(st, 6);
	for (f = 0; f < NFIELDS; f++) {
		/* title, description, sub_title, categories, episode_num,
		 * icon: parameters 4 and 7 to 11. */
		i = f == FIELD_TITLE ? 4 : 6 + f;
		if (r->len[f] == 0)
			sqlite3_bind_null(st, i);
		else
			sqlite3_bind_text(st, i, r->text.data + r->off[f],
			    (int)r->len[f], SQLITE_STATIC);
	}
}

/* Stores one queued programme, a row for each of its channels: over a
 * row of the old guide while there is one, else a new row.  Returns 0,
 * or -1 or EIO with the failed statement in *failed (not reset). */
static int
store_rec(struct queue *q, const struct rec *r, sqlite3_stmt **failed)
{
	sqlite3_stmt	*st;
	int64_t		 id;
	size_t		 i;
	int		 rc, bound = 0;

	for (i = 0; i < r->nids; i++) {
		if ((rc = next_old(q, &id)) < 0) {
			*failed = q->old;
			return (EIO);
		}
		if (rc == 1) {
			st = q->upd;
			sqlite3_bind_int64(st, 12, id);
		} else
			st = q->ins;
		if ((bound & (st == q->upd ? 1 : 2)) == 0) {
			bind_rec(st, r);
			bound |= st == q->upd ? 1 : 2;
		}
		sqlite3_bind_int64(st, 1, r->ids[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			*failed = st;
			return (-1);
		}
		sqlite3_reset(st);
	}
	return (0);
}

/* The writer's failure: the parser stops at its next programme. */
static void
writer_fail(struct queue *q, int failed, const char *what,
    sqlite3_stmt *st)
{
	char	*msg;

	msg = xprintf("%s: %s", what, sqlite3_errmsg(sqlite3_db_handle(st)));
	sqlite3_reset(st);
	pthread_mutex_lock(&q->lock);
	q->failed = failed;
	q->error = msg;
	pthread_cond_signal(&q->room);
	pthread_mutex_unlock(&q->lock);
}

/* The writer thread: stores what the parser queues, in order, then
 * deletes what is left of the old guide. */
static void *
writer(void *arg)
{
	struct queue	*q = arg;
	struct rec	*r;
	sqlite3_stmt	*failed;
	size_t		 n, i, bytes;
	int		 done, stop, rc;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->stop && !q->done && !q->pwait &&
		    q->count < QUEUE_WAKE) {
			q->wwait = 1;
			pthread_cond_wait(&q->more, &q->lock);
			q->wwait = 0;
		}
		n = q->count;
		done = q->done;
		stop = q->stop;
		pthread_mutex_unlock(&q->lock);
		if (stop)
			break;
		if (n > 0) {
			bytes = 0;
			for (i = 0; i < n; i++) {
				r = &q->slots[(q->head + i) % QUEUE_SLOTS];
				if ((rc = store_rec(q, r, &failed)) != 0) {
					writer_fail(q, rc, rc == EIO ?
					    "programmes" : "storing a programme",
					    failed);
					return (NULL);
				}
				bytes += r->text.len + r->nids * sizeof *r->ids;
				if (r->text.size > QUEUE_KEEP)
					buf_free(&r->text);
				if (r->idsize * sizeof *r->ids > QUEUE_KEEP) {
					free(r->ids);
					r->ids = NULL;
					r->idsize = 0;
				}
			}
			pthread_mutex_lock(&q->lock);
			q->head = (q->head + n) % QUEUE_SLOTS;
			q->count -= n;
			q->bytes -= bytes;
			if (q->pwait) {
				/* Not waiting any more, as far as the
				 * loop above is concerned. */
				q->pwait = 0;
				pthread_cond_signal(&q->room);
			}
			pthread_mutex_unlock(&q->lock);
		} else if (done)
			break;
	}
	if (!stop && delete_old(q, &failed) != 0)
		writer_fail(q, EIO, "programmes", failed);
	return (NULL);
}

static void
queue_free(struct queue *q)
{
	size_t	i;

	for (i = 0; i < QUEUE_SLOTS; i++) {
		buf_free(&q->slots[i].text);
		free(q->slots[i].ids);
	}
	free(q->slots);
	free(q->error);
	pthread_cond_destroy(&q->room);
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
}

/* Tells the writer the parse is over (or given up) and waits for it. */
static void
queue_end(struct queue *q, pthread_t t, int stop)
{
	pthread_mutex_lock(&q->lock);
	q->count += q->pending;
	q->bytes += q->pbytes;
	q->pending = q->pbytes = 0;
	if (stop)
		q->stop = 1;
	else
		q->done = 1;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
	pthread_join(t, NULL);
}

static void
unbind(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/* The largest programme id before the refresh: the old guide is the
 * source's rows up to it, new rows get ids above it.  Returns 0, or EIO
 * with *cause. */
static int
max_id(struct store *s, int64_t *id, int *any, char **cause)
{
	sqlite3_stmt	*st;
	int		 step;

	st = store_prepare(s, "SELECT max(id) FROM programmes", cause);
	if (st == NULL)
		return (EIO);
	step = sqlite3_step(st);
	*any = step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
	*id = *any ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	if (step != SQLITE_ROW) {
		*cause = db_cause(s, "programmes");
		return (EIO);
	}
	return (0);
}

/* Replaces the source's programmes from fd, in the open transaction:
 * this thread parses, a writer thread stores (struct queue).  Returns
 * 0, -1 with *error (a bad guide), or EIO/ECANCELED with *cause. */
static int
ingest(struct store *s, const struct source *src, int fd, long long max,
    const struct epg_opts *o, struct epg_result *res, char **error,
    char **cause)
{
	struct parse	 p;
	struct input	 in;
	struct queue	 q;
	sqlite3_stmt	*st;
	pthread_t	 t;
	int64_t		 old;
	size_t		 i;
	int		 rc = EIO, any;

	memset(&p, 0, sizeof p);
	memset(&in, 0, sizeof in);
	memset(&q, 0, sizeof q);
	pthread_mutex_init(&q.lock, NULL);
	pthread_cond_init(&q.more, NULL);
	pthread_cond_init(&q.room, NULL);
	q.slots = xcalloc(QUEUE_SLOTS, sizeof *q.slots);
	in.max = max;
	in.o = o;
	p.in = &in;
	p.q = &q;
	p.source = src->name;
	p.tvg = src->match_on != NULL && strcmp(src->match_on,
	    "tvg_name") == 0;
	if ((in.gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		queue_free(&q);
		*cause = xstrdup("cannot start zlib");
		return (EIO);
	}
	gzbuffer(in.gz, 65536);

	if ((rc = load_channels(s, &p, cause)) != 0 ||
	    (rc = max_id(s, &old, &any, cause)) != 0)
		goto out;
	/* OR FAIL: see struct bulk.  The UPDATE has the INSERT's
	 * parameter numbers (its ?2, source, stays). */
	q.ins = store_prepare(s, "INSERT OR FAIL INTO programmes (channel_id, "
	    "source, position, title, start, \"end\", description, "
	    "sub_title, categories, episode_num, icon) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cause);
	if (q.ins != NULL)
		q.upd = store_prepare(s, "UPDATE OR FAIL programmes SET "
		    "channel_id = ?1, position = ?3, title = ?4, start = ?5, "
		    "\"end\" = ?6, description = ?7, sub_title = ?8, "
		    "categories = ?9, episode_num = ?10, icon = ?11 "
		    "WHERE id = ?12", cause);
	if (q.upd != NULL)
		q.old = store_prepare(s, "SELECT id FROM programmes WHERE "
		    "source = ? AND id > ? AND id <= ? ORDER BY id LIMIT "
		    STRINGIFY(OLD_ROWS), cause);
	if (q.old != NULL)
		q.del = store_prepare(s, "DELETE FROM programmes WHERE id = ?",
		    cause);
	if (q.del == NULL) {
		rc = EIO;
		goto out;
	}
	sqlite3_bind_text(q.ins, 2, src->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q.old, 1, src->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q.old, 3, old);
	q.last = INT64_MIN;
	q.more_old = any;
	/* Past the largest rowid SQLite picks new ids at random, maybe
	 * among the old ones: then the old guide goes first. */
	if (any && old == INT64_MAX && delete_old(&q, &st) != 0) {
		*cause = db_cause(s, "programmes");
		rc = EIO;
		goto out;
	}
	if (pthread_create(&t, NULL, writer, &q) != 0) {
		*cause = xstrdup("cannot start the guide writer");
		rc = EIO;
		goto out;
	}
	rc = parse_document(&p);
	queue_end(&q, t, rc != 0);
	if (in.cancelled) {
		*cause = xstrdup("cancelled");
		rc = ECANCELED;
		goto out;
	}
	if (q.failed == EIO) {
		*cause = q.error;
		q.error = NULL;
		rc = EIO;
		goto out;
	}
	if (rc == 0 && q.failed != 0)
		rc = fail(&p, "%s", q.error);
	if (rc != 0) {
		*error = p.error;
		p.error = NULL;
		rc = -1;
		goto out;
	}
	res->programmes = p.rows;
	res->skipped = p.skipped;
	res->unmatched = p.unmatched;
	for (i = 0; i < p.nchans; i++)
		res->channels += p.chans[i].hit;
	/* Guide rows bump no generation one by one (store.c). */
	st = store_prepare(s, "UPDATE generation SET value = value + 1", cause);
	if (st == NULL) {
		rc = EIO;
		goto out;
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		*cause = db_cause(s, "generation");
		rc = EIO;
		goto out;
	}
	rc = 0;

out:
	/* The bindings point into the slots and src. */
	unbind(q.ins);
	unbind(q.upd);
	unbind(q.old);
	unbind(q.del);
	queue_free(&q);
	parse_free(&p);
	gzclose(in.gz);
	return (rc);
}

/* Opens the source's document: a local file as it is, or a download.
 * Returns an fd (positioned at 0), -2 for 304 Not Modified, or -1 with
 * *error; ECANCELED is told through *cancelled. */
static int
open_source(struct store *s, const struct source *src, long long timeout,
    long long max, const struct epg_opts *o, char **etag,
    char **last_modified, int *cancelled, char **error)
{
	struct fetch	 f;
	long		 code;
	int		 fd;

	*cancelled = 0;
	if (src->path != NULL) {
		if ((fd = open(src->path, O_RDONLY | O_CLOEXEC)) < 0)
			*error = xprintf("%s: %s", src->path, strerror(errno));
		return (fd);
	}
	if (src->url == NULL) {
		*error = xstrdup("the source has neither path nor url");
		return (-1);
	}
	if ((fd = temp_file(s, error)) < 0)
		return (-1);
	memset(&f, 0, sizeof f);
	f.fd = fd;
	f.max = max;
	f.o = o;
	if (fetch_url(src, timeout, &f, &code, error) != 0) {
		*cancelled = f.cancelled;
		free(f.etag);
		free(f.last_modified);
		close(fd);
		return (-1);
	}
	if (code == 304) {
		free(f.etag);
		free(f.last_modified);
		close(fd);
		return (-2);
	}
	*etag = f.etag;
	*last_modified = f.last_modified;
	if (lseek(fd, 0, SEEK_SET) != 0) {
		*error = xprintf("temporary file: %s", strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Connection settings for the one big transaction of a refresh, set
 * before it begins (SQLite ignores both inside a transaction) and put
 * back after it.  An INSERT that may abort half-way (a foreign key, a
 * NOT NULL, a trigger) keeps a statement journal of the pages it
 * changes; on disk, once one journal outgrows 64 KiB it becomes a file
 * that every later statement of the transaction writes its pages to, ten
 * times the work of the refresh.  So: journals in memory (temp_store),
 * where each is freed as its statement ends; no foreign key checks (the
 * channel ids were read from channels inside this same transaction); and
 * INSERT OR FAIL (one row: nothing to undo when it fails). */
struct bulk {
	int	temp_store;
	int	foreign_keys;
};

static int
pragma_int(struct store *s, const char *sql)
{
	sqlite3_stmt	*st;
	int		 v = 0;

	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return (v);
}

static void
bulk_begin(struct store *s, struct bulk *b)
{
	b->temp_store = pragma_int(s, "PRAGMA temp_store");
	b->foreign_keys = pragma_int(s, "PRAGMA foreign_keys");
	sqlite3_exec(store_db(s), "PRAGMA temp_store = MEMORY; "
	    "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
}

static void
bulk_end(struct store *s, const struct bulk *b)
{
	char	*sql;

	sql = xprintf("PRAGMA temp_store = %d; PRAGMA foreign_keys = %d",
	    b->temp_store, b->foreign_keys);
	sqlite3_exec(store_db(s), sql, NULL, NULL, NULL);
	free(sql);
}

/* Records a failure or a 304 in a transaction of its own. */
static int
record_alone(struct store *s, const struct source *src,
    struct epg_result *res, int64_t now, char **cause)
{
	int	rc;

	if (store_begin(s, cause) != 0)
		return (EIO);
	if ((rc = record(s, src, res, now, NULL, NULL, cause)) != 0 ||
	    store_commit(s, cause) != 0) {
		store_rollback(s);
		return (rc != 0 ? rc : EIO);
	}
	return (0);
}

int
epg_refresh(struct store *s, const struct epg_opts *o, const char *name,
    struct epg_result *res, char **cause)
{
	struct epg_opts	 none;
	struct source	 src;
	char		*etag = NULL, *last_modified = NULL, *error = NULL;
	long long	 timeout, max;
	int64_t		 t0, now;
	struct bulk	 bulk;
	int		 fd, rc, cancelled;

	memset(res, 0, sizeof *res);
	res->name = xstrdup(name);
	if (o == NULL) {
		memset(&none, 0, sizeof none);
		o = &none;
	}
	t0 = timefmt_monotonic_us();
	if ((rc = source_load(s, name, &src, cause)) != 0)
		return (rc);
	timeout = o->timeout > 0 ? o->timeout :
	    setting_num(s, "server.epg_timeout", EPG_TIMEOUT);
	max = o->max_size > 0 ? o->max_size :
	    setting_num(s, "server.epg_max_size", EPG_MAX_SIZE);

	fd = open_source(s, &src, timeout, max, o, &etag, &last_modified,
	    &cancelled, &error);
	now = (int64_t)time(NULL);
	if (cancelled) {
		*cause = error;
		error = NULL;
		rc = ECANCELED;
		goto out;
	}
	if (fd == -2) {
		res->status = EPG_NOT_MODIFIED;
		rc = record_alone(s, &src, res, now, cause);
		goto out;
	}
	if (fd >= 0) {
		bulk_begin(s, &bulk);
		if (store_begin(s, cause) != 0) {
			bulk_end(s, &bulk);
			close(fd);
			rc = EIO;
			goto out;
		}
		rc = ingest(s, &src, fd, max, o, res, &error, cause);
		if (rc == 0) {
			res->status = EPG_OK;
			/* A local file has no validators. */
			if ((rc = record(s, &src, res, now, etag,
			    last_modified, cause)) == 0 &&
			    store_commit(s, cause) != 0)
				rc = EIO;
			if (rc != 0)
				store_rollback(s);
			bulk_end(s, &bulk);
			goto out;
		}
		store_rollback(s);
		bulk_end(s, &bulk);
		if (rc != -1)
			goto out;
	}
	res->status = EPG_FAILED;
	res->programmes = res->channels = res->skipped = res->unmatched = 0;
	res->error = error;
	error = NULL;
	rc = record_alone(s, &src, res, now, cause);

out:
	res->elapsed_us = timefmt_monotonic_us() - t0;
	free(error);
	free(etag);
	free(last_modified);
	source_free(&src);
	return (rc);
}

int
epg_refresh_all(struct store *s, const struct epg_opts *o, int due,
    int64_t now, epg_result_cb cb, void *arg, int *failed, char **cause)
{
	struct epg_result	 res;
	sqlite3_stmt		*st;
	char			**names = NULL;
	size_t			 n = 0, i;
	int			 step, rc = 0;

	*failed = 0;
	st = store_prepare(s, due ?
	    "SELECT name FROM epg_sources WHERE refresh_interval_minutes > 0 "
	    "AND (last_refresh IS NULL OR "
	    "last_refresh + refresh_interval_minutes * 60 <= ?) "
	    "ORDER BY position, name" :
	    "SELECT name FROM epg_sources ORDER BY position, name", cause);
	if (st == NULL)
		return (EIO);
	if (due)
		sqlite3_bind_int64(st, 1, now);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		names = xreallocarray(names, n + 1, sizeof *names);
		names[n++] = store_column_dup(st, 0);
	}
	sqlite3_reset(st);
	if (step != SQLITE_DONE) {
		*cause = db_cause(s, "epg_sources");
		rc = EIO;
	}
	for (i = 0; rc == 0 && i < n; i++) {
		if ((rc = epg_refresh(s, o, names[i], &res, cause)) == 0) {
			if (res.status == EPG_FAILED)
				(*failed)++;
			if (cb != NULL)
				cb(&res, arg);
		} else if (rc == ENOENT) {
			/* Gone since the list was read. */
			free(*cause);
			*cause = NULL;
			rc = 0;
		}
		epg_result_clear(&res);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return (rc);
}

int
epg_next_due(struct store *s, int64_t *when, char **cause)
{
	sqlite3_stmt	*st;
	int		 step;

	*when = -1;
	st = store_prepare(s, "SELECT min(coalesce(last_refresh + "
	    "refresh_interval_minutes * 60, 0)) FROM epg_sources "
	    "WHERE refresh_interval_minutes > 0", cause);
	if (st == NULL)
		return (EIO);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*when = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (step != SQLITE_ROW) {
		*cause = db_cause(s, "epg_sources");
		return (EIO);
	}
	return (0);
}

/* struct program holds char *; the row's text is only lent to cb. */
static char *
column(sqlite3_stmt *st, int i)
{
	return ((char *)(uintptr_t)sqlite3_column_text(st, i));
}

int
epg_programmes_each(struct store *s, long long channel_id,
    epg_programme_cb cb, void *arg, char **cause)
{
	sqlite3_stmt	*st;
	struct program	 p;
	const char	*cats;
	json_object	*j, *v;
	size_t		 i, n;
	int		 step = SQLITE_DONE, rc = 0;

	st = store_prepare(s, "SELECT title, start, \"end\", description, "
	    "sub_title, categories, episode_num, icon, id, source "
	    "FROM programmes WHERE channel_id = ? "
	    "ORDER BY start, source IS NOT NULL, position", cause);
	if (st == NULL)
		return (EIO);
	sqlite3_bind_int64(st, 1, channel_id);
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&p, 0, sizeof p);
		p.title = column(st, 0);
		p.start = sqlite3_column_int64(st, 1);
		p.end = sqlite3_column_int64(st, 2);
		p.description = column(st, 3);
		p.sub_title = column(st, 4);
		p.episode_num = column(st, 6);
		p.icon = column(st, 7);
		cats = (const char *)sqlite3_column_text(st, 5);
		j = cats != NULL ? json_tokener_parse(cats) : NULL;
		if (j != NULL && json_object_is_type(j, json_type_array)) {
			n = json_object_array_length(j);
			p.categories.v = xcalloc(n + 1, sizeof *p.categories.v);
			for (i = 0; i < n; i++) {
				v = json_object_array_get_idx(j, i);
				if (json_object_is_type(v, json_type_string))
					p.categories.v[p.categories.n++] =
					    (char *)(uintptr_t)
					    json_object_get_string(v);
			}
		}
		rc = cb(&p, sqlite3_column_int64(st, 8), (const char *)
		    sqlite3_column_text(st, 9), arg);
		free(p.categories.v);
		json_object_put(j);
	}
	if (rc == 0 && step != SQLITE_DONE) {
		*cause = db_cause(s, "programmes");
		rc = EIO;
	}
	sqlite3_reset(st);
	return (rc);
}
