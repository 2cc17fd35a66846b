#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "channel.h"
#include "filter.h"
#include "profile.h"
#include "route.h"
#include "store.h"
#include "xmalloc.h"

/* /api/streams (A1) and /api/streams/<id>/programs (G2).  Bodies are
 * validated by the tables the config loader uses (schema.c), so the API
 * accepts exactly what amps.conf accepts.  Every write is one
 * transaction: a rejected request changes nothing. */

static json_object *
channel_json(const struct channel *ch)
{
	json_object	*j;

	j = schema_to_json(&channel_schema, ch, SCHEMA_JSON_ALL |
	    SCHEMA_JSON_PUBLIC);
	json_object_object_add(j, "scheduled",
	    json_object_new_boolean(ch->scheduled));
	return (j);
}

static int
profile_exists(struct store *s, const char *name, char **cause)
{
	struct profile	*p = NULL;
	int		 rc;

	if (profile_builtin(name) != NULL)
		return (0);
	rc = catalog_profile_get(s, name, &p, cause);
	if (p != NULL) {
		schema_free(&profile_schema, p);
		free(p);
	}
	return (rc);
}

/* The checks that need the store: profiles that exist (as the loader
 * checks them against ffmpeg_profiles). */
static int
check_profiles(struct store *s, const struct channel *ch, char **cause)
{
	const struct variant	*v;
	char			*c = NULL;
	size_t			 i;
	int			 rc;

	if (ch->ffmpeg_profile != NULL &&
	    (rc = profile_exists(s, ch->ffmpeg_profile, &c)) != 0) {
		free(c);
		if (rc != ENOENT) {
			*cause = xstrdup("cannot read the profiles");
			return (EIO);
		}
		*cause = xprintf("ffmpeg_profile: no profile '%s'",
		    ch->ffmpeg_profile);
		return (EINVAL);
	}
	for (i = 0; i < ch->adaptive_bitrates.n; i++) {
		v = schema_list_at(&variant_schema, &ch->adaptive_bitrates, i);
		if (v->ffmpeg_profile == NULL)
			continue;
		if ((rc = profile_exists(s, v->ffmpeg_profile, &c)) == 0)
			continue;
		free(c);
		*cause = xprintf("adaptive_bitrates[%zu].ffmpeg_profile: no "
		    "profile '%s'", i, v->ffmpeg_profile);
		return (rc == ENOENT ? EINVAL : EIO);
	}
	return (0);
}

/* Parses a body into ch (which holds defaults, or the current channel for
 * a partial update).  id, when not 0, is the URL's: a body without an id
 * takes it. */
static int
parse_channel(const struct request *r, struct channel *ch, long long id,
    int partial, char **cause)
{
	struct schema_error	 err = { NULL, NULL };
	json_object		*j = NULL;
	int			 rc;

	if ((rc = request_json(r, &j, cause)) != 0)
		return (rc);
	if (id != 0 && json_object_is_type(j, json_type_object) &&
	    !json_object_object_get_ex(j, "id", NULL))
		json_object_object_add(j, "id", json_object_new_int64(id));
	if (schema_from_json(&channel_schema, j, ch, partial, "", &err) != 0) {
		*cause = err.path != NULL && *err.path != '\0' ?
		    xprintf("%s: %s", err.path, err.message) :
		    xstrdup(err.message);
		schema_error_clear(&err);
		json_object_put(j);
		return (EINVAL);
	}
	json_object_put(j);
	return (0);
}

/* Writes ch in its own transaction. */
static int
write_channel(struct store *s, const struct channel *ch, int flags,
    char **cause)
{
	char	*c = NULL;
	int	 rc;

	if ((rc = check_profiles(s, ch, cause)) != 0)
		return (rc);
	if (store_begin(s, &c) != 0) {
		*cause = c;
		return (EIO);
	}
	if ((rc = catalog_channel_put(s, ch, CATALOG_API | flags, cause)) != 0) {
		store_rollback(s);
		return (rc);
	}
	if (store_commit(s, cause) != 0) {
		store_rollback(s);
		return (EIO);
	}
	return (0);
}

/* The list streams one channel at a time (a catalogue of any size costs
 * one channel of memory) and is kept in the response cache. */
struct listing {
	struct response	*resp;
	struct buf	 out;
	size_t		 n;
};

static int
list_one(struct channel *ch, void *arg)
{
	struct listing	*l = arg;
	json_object	*j;

	j = channel_json(ch);
	buf_adds(&l->out, l->n++ == 0 ? "[" : ",");
	buf_adds(&l->out, json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	if (l->out.len >= 16384) {
		if (response_write(l->resp, l->out.data, l->out.len) != 0)
			return (-1);
		buf_reset(&l->out);
	}
	return (0);
}

int
streams_list(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct listing	 l;
	struct filter	 f;
	char		*key, *cache_key;
	int		 rc;

	if ((rc = filter_from_request(&f, r, cause)) != 0)
		return (rc);
	/* The API lists every channel, also outside its window or region:
	 * it is the catalogue, not a line-up. */
	f.cf.now = 0;
	f.cf.region = NULL;
	f.cf.region_known = 0;
	key = filter_key(&f, r);
	cache_key = xprintf("%s;api/streams", key);
	memset(&l, 0, sizeof l);
	l.resp = resp;
	if (response_begin_cacheable(resp, r, store_generation(r->store),
	    cache_key, "application/json") != 0)
		goto out;
	rc = catalog_channels_each(r->store, &f.cf, list_one, &l, cause);
	if (rc == -1 && resp->failed) {
		/* The client left. */
		free(*cause);
		*cause = NULL;
		rc = 0;
		goto out;
	}
	if (rc != 0) {
		rc = EIO;
		goto out;
	}
	buf_adds(&l.out, l.n == 0 ? "[]\n" : "]\n");
	response_write(resp, l.out.data, l.out.len);
out:
	buf_free(&l.out);
	free(cache_key);
	free(key);
	filter_free(&f);
	return (rc);
}

static int
get_channel(struct request *r, struct channel **ch, long long *id,
    char **cause)
{
	int	rc;

	if ((rc = request_param_id(r, 0, id, cause)) != 0)
		return (rc);
	rc = catalog_channel_get(r->store, *id, ch, cause);
	if (rc == ENOENT) {
		free(*cause);
		*cause = xprintf("no stream %lld", *id);
	}
	return (rc);
}

int
streams_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct channel	*ch = NULL;
	long long	 id;
	int		 rc;

	if ((rc = get_channel(r, &ch, &id, cause)) != 0)
		return (rc);
	*json = channel_json(ch);
	channel_free(ch);
	return (0);
}

int
streams_post(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct channel	*ch;
	int		 rc;

	ch = channel_new();
	if ((rc = parse_channel(r, ch, 0, 0, cause)) != 0 ||
	    (rc = write_channel(r->store, ch, CATALOG_CREATE, cause)) != 0) {
		if (rc == EEXIST) {
			free(*cause);
			*cause = xprintf("stream %lld already exists", ch->id);
		}
		channel_free(ch);
		return (rc);
	}
	resp->status = 201;
	response_header(resp, "Location", "/api/streams/%lld", ch->id);
	*json = channel_json(ch);
	channel_free(ch);
	return (0);
}

/* PUT replaces the whole channel; PATCH changes the keys it names. */
static int
update(struct request *r, json_object **json, int partial, char **cause)
{
	struct channel	*ch = NULL, *old = NULL;
	long long	 id;
	int		 rc;

	if ((rc = get_channel(r, &old, &id, cause)) != 0)
		return (rc);
	if (partial)
		ch = channel_dup(old);
	else {
		ch = channel_new();
		ch->id = id;
	}
	ch->scheduled = old->scheduled;
	channel_free(old);
	if ((rc = parse_channel(r, ch, id, partial, cause)) != 0)
		goto out;
	if (ch->id != id) {
		*cause = xprintf("id: %lld does not match the URL (%lld)",
		    ch->id, id);
		rc = EINVAL;
		goto out;
	}
	if ((rc = write_channel(r->store, ch, CATALOG_UPDATE, cause)) != 0)
		goto out;
	*json = channel_json(ch);
out:
	channel_free(ch);
	return (rc);
}

int
streams_put(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	return (update(r, json, 0, cause));
}

int
streams_patch(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	return (update(r, json, 1, cause));
}

int
streams_delete(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	long long	 id;
	char		*c = NULL;
	int		 rc;

	if ((rc = request_param_id(r, 0, &id, cause)) != 0)
		return (rc);
	if (store_begin(r->store, &c) != 0) {
		*cause = c;
		return (EIO);
	}
	rc = catalog_channel_delete(r->store, id, CATALOG_API, cause);
	if (rc != 0) {
		store_rollback(r->store);
		if (rc == ENOENT) {
			free(*cause);
			*cause = xprintf("no stream %lld", id);
		}
		return (rc);
	}
	if (store_commit(r->store, cause) != 0) {
		store_rollback(r->store);
		return (EIO);
	}
	resp->status = 204;
	return (0);
}

static json_object *
programs_json(const struct objlist *l)
{
	json_object	*arr;
	size_t		 i;

	arr = json_object_new_array();
	for (i = 0; i < l->n; i++)
		json_object_array_add(arr, schema_to_json(&program_schema,
		    schema_list_at(&program_schema, l, i), 0));
	return (arr);
}

int
programs_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct channel	*ch = NULL;
	long long	 id;
	int		 rc;

	if ((rc = get_channel(r, &ch, &id, cause)) != 0)
		return (rc);
	*json = programs_json(&ch->next_programs);
	channel_free(ch);
	return (0);
}

/* PUT /api/streams/<id>/programs: a JSON array of programmes (G2), each
 * checked as a next_programs entry of amps.conf. */
int
programs_put(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	struct schema_error	 err = { NULL, NULL };
	struct objlist		 list = { NULL, 0 };
	struct channel		*ch = NULL;
	json_object		*j = NULL;
	long long		 id;
	char			*path, *c = NULL;
	size_t			 i, n;
	int			 rc;

	if ((rc = get_channel(r, &ch, &id, cause)) != 0)
		return (rc);
	channel_free(ch);
	if ((rc = request_json(r, &j, cause)) != 0)
		return (rc);
	if (!json_object_is_type(j, json_type_array)) {
		json_object_put(j);
		*cause = xstrdup("expected a JSON array of programmes");
		return (EINVAL);
	}
	n = json_object_array_length(j);
	for (i = 0; i < n; i++) {
		path = xprintf("[%zu]", i);
		rc = schema_from_json(&program_schema,
		    json_object_array_get_idx(j, i),
		    schema_list_add(&program_schema, &list), 0, path, &err);
		free(path);
		if (rc != 0) {
			*cause = xprintf("%s: %s", err.path, err.message);
			schema_error_clear(&err);
			rc = EINVAL;
			goto out;
		}
	}
	if (store_begin(r->store, &c) != 0) {
		*cause = c;
		rc = EIO;
		goto out;
	}
	if ((rc = catalog_programs_put(r->store, id, &list, CATALOG_API,
	    cause)) != 0 || (rc = store_commit(r->store, cause)) != 0) {
		store_rollback(r->store);
		if (rc == -1)
			rc = EIO;
		goto out;
	}
	*json = programs_json(&list);
out:
	schema_list_free(&program_schema, &list);
	json_object_put(j);
	return (rc);
}
