#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "buf.h"
#include "catalog.h"
#include "channel.h"
#include "escape.h"
#include "filter.h"
#include "m3u.h"
#include "route.h"
#include "site.h"
#include "store.h"
#include "xmalloc.h"

/* Entries are gathered up to this many bytes before they are handed to
 * the response, so that memory stays flat and the sink is not called for
 * every line. */
#define PLAYLIST_CHUNK	16384

struct playlist {
	struct response	*resp;
	const char	*content_type;
	struct buf	 out;		/* entries not yet written */
	char		*base;		/* "http://host" */
	char		*query;		/* "token=..&region=.." or NULL */
	int		 variants;	/* list adaptive variants (P4) */
	int		 hls;		/* entries point at HLS, not /stream */
	const char	*secret;	/* sign media URLs with it, or NULL */
	const char	*region;	/* the viewer's, for signed URLs */
	int64_t		 expiry;	/* of signed URLs */
	int64_t		 now;
	int		 gone;		/* the client went away */
	int		 master;	/* this channel's HLS has a master */
};

/* "variants=false" hides the adaptive variants; a value that is neither
 * yes nor no is the client's error, not a silent default. */
static int
parse_variants(const struct request *r, int *variants, char **cause)
{
	static const char *const yes[] = { "true", "1", "yes", "on", NULL };
	static const char *const no[] = { "false", "0", "no", "off", NULL };
	const char	*v;
	size_t		 i;

	*variants = 1;
	if ((v = request_query(r, "variants")) == NULL)
		return (0);
	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return (0);
	}
	for (i = 0; no[i] != NULL; i++) {
		if (strcasecmp(v, no[i]) == 0) {
			*variants = 0;
			return (0);
		}
	}
	*cause = xprintf("variants: expected true or false");
	return (EINVAL);
}

/* format=ts|hls, else the configured default. */
static int
parse_format(const struct request *r, int *hls, char **cause)
{
	const char	*v;

	*hls = r->site->playlist_hls;
	if ((v = request_query(r, "format")) == NULL)
		return (0);
	if (strcasecmp(v, "hls") == 0)
		*hls = 1;
	else if (strcasecmp(v, "ts") == 0)
		*hls = 0;
	else {
		*cause = xstrdup("format: expected ts or hls");
		return (EINVAL);
	}
	return (0);
}

/* Whether the channel has renditions of its own input: then HLS has a
 * master playlist. */
static int
has_renditions(const struct channel *ch)
{
	const struct variant	*v;
	size_t			 i;

	for (i = 0; i < ch->adaptive_bitrates.n; i++) {
		v = schema_list_at(&variant_schema, &ch->adaptive_bitrates, i);
		if (v->source == NULL && v->custom_ffmpeg.command == NULL)
			return (1);
	}
	return (0);
}

/* The URL of a channel's media for this viewer.  With auth on (or a
 * region to carry), the path gets the signed prefix of access.h, which
 * players keep for every segment; otherwise the credential and region
 * ride in the query, as the seeds did. */
static char *
media_url(const struct playlist *pl, long long id, const char *variant)
{
	struct buf	 b = BUF_INIT;
	char		 token[ACCESS_TOKEN_MAX], *v = NULL;
	int		 q = 0;

	buf_adds(&b, pl->base);
	if (pl->secret != NULL) {
		access_sign(pl->secret, id, pl->expiry, pl->region, token);
		buf_addf(&b, "%s%s", ACCESS_PREFIX, token);
	}
	if (variant != NULL)
		v = escape_url(variant);
	if (pl->hls && v != NULL)
		buf_addf(&b, "/hls/%lld/%s/index.m3u8", id, v);
	else if (pl->hls)
		buf_addf(&b, "/hls/%lld/%s", id, pl->master ? "master.m3u8" :
		    "index.m3u8");
	else {
		buf_addf(&b, "/stream/%lld", id);
		if (v != NULL) {
			buf_addf(&b, "?variant=%s", v);
			q = 1;
		}
	}
	if (pl->secret == NULL && pl->query != NULL)
		buf_addf(&b, "%c%s", q ? '&' : '?', pl->query);
	free(v);
	return (buf_detach(&b));
}

/* What every URL of the playlist carries so that players pass the same
 * credential and region on to /stream and /epg.xml (seed 002). */
static char *
url_query(const struct request *r)
{
	struct buf	 b = BUF_INIT;
	char		*s;

	if (r->credential != NULL) {
		s = escape_url(r->credential);
		buf_addf(&b, "token=%s", s);
		free(s);
	}
	if (r->region != NULL) {
		s = escape_url(r->region);
		buf_addf(&b, "%sregion=%s", b.len > 0 ? "&" : "", s);
		free(s);
	}
	return (b.len > 0 ? buf_detach(&b) : NULL);
}

/* The programme for AMP-NEXT: the first one that has not ended (or, with
 * only a start, not started), else the first without any time. */
static const struct program *
next_program(const struct channel *ch, int64_t now)
{
	const struct program	*p, *untimed = NULL;
	int64_t			 t;
	size_t			 i;

	for (i = 0; i < ch->next_programs.n; i++) {
		p = schema_list_at(&program_schema, &ch->next_programs, i);
		t = p->end != 0 ? p->end : p->start;
		if (t == 0) {
			if (untimed == NULL)
				untimed = p;
		} else if (t > now)
			return (p);
	}
	return (untimed);
}

/* Sends what is gathered (the response has started). */
static int
flush(struct playlist *pl)
{
	if (response_write(pl->resp, pl->out.data, pl->out.len) != 0) {
		pl->gone = 1;
		return (-1);
	}
	buf_reset(&pl->out);
	return (0);
}

/* One channel and, unless hidden, one entry per adaptive variant. */
static int
add_channel(struct channel *ch, void *arg)
{
	struct playlist		*pl = arg;
	struct m3u_entry	 e;
	const struct program	*next;
	const struct variant	*v;
	char			 key[32], *label, *name, *url;
	size_t			 i, j;

	memset(&e, 0, sizeof e);
	e.tvg_id = channel_epg_key(ch, key, sizeof key);
	e.tvg_name = ch->tvg_name != NULL ? ch->tvg_name : ch->name;
	e.tvg_logo = ch->logo;
	e.group_title = ch->group;
	e.channel_number = ch->channel_number;
	e.name = ch->name;
	if ((next = next_program(ch, pl->now)) != NULL) {
		e.next_title = next->title;
		e.next_start = next->start;
		e.next_end = next->end;
		e.next_description = next->description;
	}
	e.program_feed = ch->program_feed;
	e.description = ch->description;
	e.regions_allowed = (const char *const *)ch->regions_allowed.v;
	e.nregions_allowed = ch->regions_allowed.n;
	e.regions_blocked = (const char *const *)ch->regions_blocked.v;
	e.nregions_blocked = ch->regions_blocked.n;

	pl->master = has_renditions(ch);
	url = media_url(pl, ch->id, NULL);
	e.url = url;
	m3u_entry(&pl->out, &e);
	free(url);

	for (i = 0; pl->variants && i < ch->adaptive_bitrates.n; i++) {
		v = schema_list_at(&variant_schema, &ch->adaptive_bitrates, i);
		if (v->label != NULL && *v->label != '\0')
			label = xstrdup(v->label);
		else {
			label = xstrdup(v->name);
			for (j = 0; label[j] != '\0'; j++)
				label[j] = (char)toupper((unsigned char)label[j]);
		}
		name = xprintf("%s (%s)", ch->name != NULL ? ch->name : "",
		    label);
		url = media_url(pl, ch->id, v->name);
		e.name = name;
		e.variant_name = v->name;
		e.variant_label = label;
		e.variant_profile = v->ffmpeg_profile;
		e.url = url;
		m3u_entry(&pl->out, &e);
		free(url);
		free(name);
		free(label);
	}

	if (pl->out.len >= PLAYLIST_CHUNK && flush(pl) != 0)
		return (-1);
	return (0);
}

/* GET /playlist.m3u and /playlist.m3u8 (P1-P6): the extended M3U of every
 * channel the viewer may see, streamed entry by entry, with an ETag from
 * the store's generation so that players that poll get a 304. */
int
playlist_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct playlist	 pl;
	struct filter	 f;
	char		*key = NULL, *variant = NULL, *epg = NULL;
	size_t		 n;
	int		 error, m3u8, have_filter = 0;

	memset(&pl, 0, sizeof pl);
	pl.resp = resp;
	if ((error = parse_variants(r, &pl.variants, cause)) != 0 ||
	    (error = parse_format(r, &pl.hls, cause)) != 0)
		goto out;
	if ((error = filter_from_request(&f, r, cause)) != 0)
		goto out;
	have_filter = 1;

	n = strlen(r->path);
	m3u8 = n >= 5 && strcmp(r->path + n - 5, ".m3u8") == 0;
	/* RFC 8216 section 4: .m3u8 is UTF-8 by definition; plain .m3u
	 * needs the charset said. */
	pl.content_type = m3u8 ? "application/vnd.apple.mpegurl" :
	    "audio/x-mpegurl; charset=utf-8";
	pl.base = request_base_url(r);
	pl.query = url_query(r);
	pl.now = f.minute;
	if (r->site->secret != NULL && (r->site->auth_enabled ||
	    r->region != NULL)) {
		pl.secret = r->site->secret;
		pl.region = r->region;
		pl.expiry = access_expiry(pl.now, r->site->media_url_ttl);
	}

	/* The body depends on the filters, the credential and region in
	 * its URLs, the base URL and the variants switch. */
	key = filter_key(&f, r);
	variant = xprintf("%s;v=%d;b=%s;x=%s;f=%s;e=%lld", key, pl.variants,
	    pl.base, m3u8 ? "m3u8" : "m3u", pl.hls ? "hls" : "ts",
	    (long long)pl.expiry);
	if (response_begin_cacheable(resp, r, store_generation(r->store),
	    variant, pl.content_type) != 0)
		goto out;

	epg = xprintf("%s/epg.xml%s%s", pl.base, pl.query != NULL ? "?" : "",
	    pl.query != NULL ? pl.query : "");
	m3u_header(&pl.out, epg);
	error = catalog_channels_each(r->store, &f.cf, add_channel, &pl,
	    cause);
	if (pl.gone) {
		/* The client left: nothing more to say to anyone. */
		free(*cause);
		*cause = NULL;
		error = 0;
		goto out;
	}
	if (error != 0)
		goto out;
	flush(&pl);

out:
	free(epg);
	free(variant);
	free(key);
	free(pl.query);
	free(pl.base);
	buf_free(&pl.out);
	if (have_filter)
		filter_free(&f);
	return (error);
}
