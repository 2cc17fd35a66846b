#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "channel.h"
#include "epg.h"
#include "filter.h"
#include "log.h"
#include "route.h"
#include "schema.h"
#include "store.h"
#include "timefmt.h"
#include "xmalloc.h"
#include "xmltv.h"

#define EPG_XML_TYPE	"application/xml; charset=utf-8"
#define EPG_JSON_TYPE	"application/json"
#define EPG_JSON_FLAGS	(JSON_C_TO_STRING_PLAIN | \
			    JSON_C_TO_STRING_NOSLASHESCAPE)

/* JSON is gathered up to this many bytes before it is handed to the
 * response (libxml2 buffers the XMLTV itself). */
#define EPG_CHUNK	16384

/* The guide keys that have a <channel>: a second channel with the same
 * key gets no second <channel> (the DTD wants ids unique), and the
 * programmes of the second pass go only to keys written in the first
 * (a channel added in between has none).  Open addressing. */
struct keyset {
	char	**v;		/* size slots; NULL = empty */
	size_t	  size;		/* a power of two */
	size_t	  n;
};

/* One guide request. */
struct guide {
	struct response	*resp;
	struct store	*store;
	const char	*content_type;
	struct xmltv	*x;
	struct keyset	 keys;
	struct buf	 out;		/* JSON not yet written */
	int		 channels;	/* JSON: channels written */
	int		 gone;		/* the client went away */
	int		 abort;		/* an error: send no more */
	struct filter	 f;		/* the request's filters */
	int		 have_filter;
	char		*cache_key;
};

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

/* Where s is, or the empty slot where it would go. */
static char **
keyset_slot(const struct keyset *ks, const char *s)
{
	size_t	i;

	i = hash(s) & (ks->size - 1);
	while (ks->v[i] != NULL && strcmp(ks->v[i], s) != 0)
		i = (i + 1) & (ks->size - 1);
	return (&ks->v[i]);
}

static int
keyset_has(const struct keyset *ks, const char *s)
{
	return (ks->size > 0 && *keyset_slot(ks, s) != NULL);
}

/* Adds s; returns 1 if it is new, 0 if it was there. */
static int
keyset_add(struct keyset *ks, const char *s)
{
	struct keyset	 bigger;
	char		**slot;
	size_t		 i;

	if ((ks->n + 1) * 2 > ks->size) {
		bigger.size = ks->size == 0 ? 64 : ks->size * 2;
		bigger.v = xcalloc(bigger.size, sizeof *bigger.v);
		bigger.n = ks->n;
		for (i = 0; i < ks->size; i++) {
			if (ks->v[i] != NULL)
				*keyset_slot(&bigger, ks->v[i]) = ks->v[i];
		}
		free(ks->v);
		*ks = bigger;
	}
	slot = keyset_slot(ks, s);
	if (*slot != NULL)
		return (0);
	*slot = xstrdup(s);
	ks->n++;
	return (1);
}

static void
keyset_free(struct keyset *ks)
{
	size_t	i;

	for (i = 0; i < ks->size; i++)
		free(ks->v[i]);
	free(ks->v);
	memset(ks, 0, sizeof *ks);
}

static void
guide_init(struct guide *g, struct response *resp, const char *type)
{
	memset(g, 0, sizeof *g);
	g->resp = resp;
	g->content_type = type;
	buf_init(&g->out);
}

static void
guide_free(struct guide *g)
{
	xmltv_close(g->x);
	keyset_free(&g->keys);
	buf_free(&g->out);
	if (g->have_filter)
		filter_free(&g->f);
	free(g->cache_key);
}

/* The start both guides share: the filters, then the ETag, HEAD and
 * cache steps.  Returns 0 with *done set when the answer is complete
 * (304, HEAD, sent from the cache, or the client left), 0 when the body
 * is to be written, or an errno with *cause. */
static int
guide_start(struct guide *g, struct request *r, const char *route,
    int *done, char **cause)
{
	char	*key;
	int	 error;

	*done = 0;
	if ((error = filter_from_request(&g->f, r, cause)) != 0)
		return (error);
	g->have_filter = 1;
	/* Programmes come from epg_programmes_each, not the catalogue. */
	g->f.cf.no_programmes = 1;
	key = filter_key(&g->f, r);
	g->cache_key = xprintf("%s;%s", key, route);
	free(key);
	if (response_begin_cacheable(g->resp, r, store_generation(r->store),
	    g->cache_key, g->content_type) != 0)
		*done = 1;
	return (0);
}

/* Hands bytes to the response, which starts on the first of them: until
 * then, a store that fails still gets a proper error status. */
static int
send_bytes(struct guide *g, const void *data, size_t len)
{
	if (g->gone || g->abort)
		return (-1);
	if (!g->resp->started &&
	    response_begin(g->resp, g->content_type, 1) != 0) {
		g->gone = 1;
		return (-1);
	}
	if (response_write(g->resp, data, len) != 0) {
		g->gone = 1;
		return (-1);
	}
	return (0);
}

/* The XMLTV writer's callback (xmltv_write_cb). */
static int
xml_write(const void *data, size_t len, void *arg)
{
	return (send_bytes(arg, data, len));
}

static int
flush_json(struct guide *g)
{
	if (send_bytes(g, g->out.data, g->out.len) != 0)
		return (-1);
	buf_reset(&g->out);
	return (0);
}

/* First pass: the <channel>, named by its name and, when it differs, its
 * tvg_name (display-name+, most canonical first). */
static int
put_channel(struct channel *ch, void *arg)
{
	struct guide	*g = arg;
	const char	*names[2], *id;
	char		 buf[32];
	size_t		 n = 0;

	id = channel_epg_key(ch, buf, sizeof buf);
	if (!keyset_add(&g->keys, id))
		return (0);
	names[n++] = ch->name;
	if (ch->tvg_name != NULL && (ch->name == NULL ||
	    strcmp(ch->tvg_name, ch->name) != 0))
		names[n++] = ch->tvg_name;
	return (xmltv_channel(g->x, id, names, n, ch->logo) != 0 ? -1 : 0);
}

struct guide_rows {
	struct guide	*g;
	const char	*id;
};

/* epg_programme_cb: one programme into the XMLTV. */
static int
put_guide_row(const struct program *p, long long rowid, const char *source,
    void *arg)
{
	struct guide_rows	*gr = arg;

	return (xmltv_programme(gr->g->x, gr->id, p) != 0 ? -1 : 0);
}

/* Second pass: the channel's programmes (next_programs and those of the
 * EPG sources, G3, by start time). */
static int
put_programmes(struct channel *ch, void *arg)
{
	struct guide		*g = arg;
	struct guide_rows	 gr;
	char			*cause = NULL;
	int			 rc;
	const char		*id;
	char			 buf[32];

	id = channel_epg_key(ch, buf, sizeof buf);
	if (!keyset_has(&g->keys, id))
		return (0);
	gr.g = g;
	gr.id = id;
	rc = epg_programmes_each(g->store, ch->id, put_guide_row, &gr,
	    &cause);
	if (cause != NULL) {
		log_error("epg", "%s", cause);
		free(cause);
	}
	return (rc != 0 ? -1 : 0);
}

/* Sorts out how a pass ended: the client leaving is no error; a
 * callback's -1 is the writer's failure; anything else is the store's
 * errno with *cause already set. */
static int
pass_error(struct guide *g, int error, char **cause)
{
	if (g->gone || error == -1) {
		free(*cause);
		*cause = NULL;
	}
	if (g->gone)
		return (0);
	if (error == -1) {
		*cause = xstrdup("writing the guide failed");
		return (EIO);
	}
	return (error);
}

/* XMLTV DTD: <!ELEMENT tv (channel*, programme*)>.  GET /epg.xml (G1): the
 * guide of the channels the playlist shows (the same filters, P3-P6), as
 * XMLTV, streamed.  Every <channel> must come before every <programme>, so
 * the catalogue is read twice, one channel at a time, rather than holding
 * programmes: memory stays flat whatever the guide's size.  ETag and 304
 * as for the playlist. */
int
epg_xml_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct guide	 g;
	int		 error = 0, done;

	(void)json;
	guide_init(&g, resp, EPG_XML_TYPE);
	if ((error = guide_start(&g, r, "epg.xml", &done, cause)) != 0 || done)
		goto out;

	g.store = r->store;
	if ((g.x = xmltv_open(xml_write, &g)) == NULL) {
		*cause = xstrdup("cannot start the XMLTV writer");
		error = ENOMEM;
		goto out;
	}
	error = catalog_channels_each(r->store, &g.f.cf, put_channel, &g,
	    cause);
	if (error == 0)
		error = catalog_channels_each(r->store, &g.f.cf, put_programmes,
		    &g, cause);
	if (error != 0) {
		error = pass_error(&g, error, cause);
		/* No </tv>: a cut document must not look whole. */
		g.abort = 1;
		goto out;
	}
	error = xmltv_close(g.x);
	g.x = NULL;
	if (error != 0)
		error = pass_error(&g, -1, cause);

out:
	g.abort = 1;
	guide_free(&g);
	return (error);
}

static json_object *
string_or_null(const char *s)
{
	return (s != NULL ? json_object_new_string(s) : NULL);
}

/* epg_programme_cb: one programme into a JSON array, with its id and
 * source. */
static int
add_json_row(const struct program *p, long long rowid, const char *source,
    void *arg)
{
	json_object	*o;

	o = schema_to_json(&program_schema, p, SCHEMA_JSON_ALL);
	json_object_object_add(o, "id", json_object_new_int64(rowid));
	json_object_object_add(o, "source", string_or_null(source));
	json_object_array_add(arg, o);
	return (0);
}

/* One channel of /api/epg; its programmes as /api/streams/<id>/programs
 * writes them, every key present (null when unset), with the id that
 * POST /api/streams/<id>/recordings/start takes and the guide source
 * they came from (null: next_programs). */
static int
put_json_channel(struct channel *ch, void *arg)
{
	struct guide	*g = arg;
	json_object	*o, *programs;
	char		 buf[32], *cause = NULL;

	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(ch->id));
	json_object_object_add(o, "epg_id",
	    json_object_new_string(channel_epg_key(ch, buf, sizeof buf)));
	json_object_object_add(o, "name", string_or_null(ch->name));
	json_object_object_add(o, "tvg_name", string_or_null(ch->tvg_name));
	json_object_object_add(o, "group", string_or_null(ch->group));
	json_object_object_add(o, "logo", string_or_null(ch->logo));
	programs = json_object_new_array();
	if (epg_programmes_each(g->store, ch->id, add_json_row, programs,
	    &cause) != 0) {
		if (cause != NULL)
			log_error("epg", "%s", cause);
		free(cause);
		json_object_put(programs);
		json_object_put(o);
		return (-1);
	}
	json_object_object_add(o, "programs", programs);

	if (g->channels++ > 0)
		buf_addc(&g->out, ',');
	buf_adds(&g->out, json_object_to_json_string_ext(o, EPG_JSON_FLAGS));
	json_object_put(o);
	if (g->out.len >= EPG_CHUNK && flush_json(g) != 0)
		return (-1);
	return (0);
}

/* GET /api/epg (G1): the same guide as /epg.xml, as JSON for dashboards:
 *   {"generated": "<ISO 8601>", "channels": [{"id", "epg_id", "name",
 *    "tvg_name", "group", "logo", "programs": [{"title", "start", "end",
 *    "description", "sub_title", "categories", "episode_num", "icon"}]}]}
 * with times in ISO 8601 (UTC).  Unlike the XMLTV, programmes without a
 * start are listed (JSON does not need one).  Streamed channel by channel
 * like the XMLTV, each channel serialised by json-c.  "generated" is the
 * minute the guide was taken at: the time window and the ETag move by
 * the minute, so one ETag always names one body. */
int
epg_json_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct guide	 g;
	json_object	*generated;
	char		 t[TIMEFMT_BUFSIZE];
	int		 error = 0, done;

	(void)json;
	guide_init(&g, resp, EPG_JSON_TYPE);
	if ((error = guide_start(&g, r, "api/epg", &done, cause)) != 0 || done)
		goto out;

	timefmt_format_iso8601(g.f.minute, t, sizeof t);
	generated = json_object_new_string(t);
	buf_adds(&g.out, "{\"generated\":");
	buf_adds(&g.out, json_object_to_json_string_ext(generated,
	    EPG_JSON_FLAGS));
	buf_adds(&g.out, ",\"channels\":[");
	json_object_put(generated);
	g.store = r->store;
	error = catalog_channels_each(r->store, &g.f.cf, put_json_channel, &g,
	    cause);
	if (error != 0) {
		error = pass_error(&g, error, cause);
		g.abort = 1;
		goto out;
	}
	buf_adds(&g.out, "]}\n");
	if (flush_json(&g) != 0)
		error = pass_error(&g, -1, cause);

out:
	g.abort = 1;
	guide_free(&g);
	return (error);
}
