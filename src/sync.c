#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

/* Settings keys: "server.<key>" for every key of the server block, then
 * these. */
#define SETTING_AUTH_ENABLED	"auth.enabled"
#define SETTING_AUTH_TOKEN	"auth.token_hash"
#define SETTING_CONFIG_FILE	"config.file"

/* A scalar field as settings text ("true", "30", the string). */
static char *
field_text(const struct schema_field *f, const void *obj)
{
	json_object	*j;
	char		*s;

	j = schema_field_to_json(f, obj);
	if (j == NULL)
		return (NULL);
	if (json_object_is_type(j, json_type_string))
		s = xstrdup(json_object_get_string(j));
	else
		s = xstrdup(json_object_to_json_string_ext(j,
		    JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return (s);
}

int
sync_config_file(struct store *s, char **path, char **cause)
{
	return (store_setting_get(s, SETTING_CONFIG_FILE, path, cause));
}

static int
put_settings(struct store *s, const struct config *cfg, char **cause)
{
	const struct schema_field	*f;
	char				*key, *value;
	char				 hash[CATALOG_HASH_SIZE];
	int				 rc;

	for (f = server_schema.fields; f->name != NULL; f++) {
		key = xprintf("server.%s", f->name);
		value = field_text(f, &cfg->server);
		rc = store_setting_set(s, key, value, cause);
		free(key);
		free(value);
		if (rc != 0)
			return (-1);
	}
	if (store_setting_set(s, SETTING_AUTH_ENABLED,
	    cfg->auth.enabled ? "true" : "false", cause) != 0)
		return (-1);
	if (cfg->auth.token != NULL) {
		catalog_hash_key(cfg->auth.token, hash);
		rc = store_setting_set(s, SETTING_AUTH_TOKEN, hash, cause);
	} else
		rc = store_setting_set(s, SETTING_AUTH_TOKEN,
		    cfg->auth.token_hash, cause);
	if (rc != 0)
		return (-1);
	if (cfg->file != NULL &&
	    store_setting_set(s, SETTING_CONFIG_FILE, cfg->file, cause) != 0)
		return (-1);
	return (0);
}

static int
get_settings(struct store *s, struct config *cfg, char **cause)
{
	const struct schema_field	*f;
	struct schema_error		 serr = { NULL, NULL };
	json_object			*obj;
	char				*key, *value, *end;
	long long			 n;
	int				 rc;

	obj = json_object_new_object();
	for (f = server_schema.fields; f->name != NULL; f++) {
		key = xprintf("server.%s", f->name);
		rc = store_setting_get(s, key, &value, cause);
		free(key);
		if (rc == ENOENT) {
			free(*cause);
			*cause = NULL;
			continue;
		}
		if (rc != 0)
			goto fail;
		if (f->type == SCHEMA_INT) {
			n = strtoll(value, &end, 10);
			json_object_object_add(obj, f->name, *end == '\0' ?
			    json_object_new_int64(n) :
			    json_object_new_string(value));
		} else if (f->type == SCHEMA_BOOL)
			json_object_object_add(obj, f->name,
			    json_object_new_boolean(strcmp(value, "true") == 0));
		else
			json_object_object_add(obj, f->name,
			    json_object_new_string(value));
		free(value);
	}
	schema_free(&server_schema, &cfg->server);
	schema_defaults(&server_schema, &cfg->server);
	if (schema_from_json(&server_schema, obj, &cfg->server, 0, "server",
	    &serr) != 0) {
		*cause = xprintf("stored setting %s: %s", serr.path,
		    serr.message);
		schema_error_clear(&serr);
		goto fail;
	}
	json_object_put(obj);

	rc = store_setting_get(s, SETTING_AUTH_ENABLED, &value, cause);
	if (rc == 0) {
		cfg->auth.enabled = strcmp(value, "true") == 0;
		free(value);
	} else if (rc != ENOENT)
		return (-1);
	free(*cause);
	*cause = NULL;
	rc = store_setting_get(s, SETTING_AUTH_TOKEN, &value, cause);
	if (rc == 0)
		cfg->auth.token_hash = value;
	else if (rc != ENOENT)
		return (-1);
	free(*cause);
	*cause = NULL;
	return (0);
fail:
	json_object_put(obj);
	return (-1);
}

static int
sync_profiles(struct store *s, const struct config *cfg,
    struct sync_report *r, char **cause)
{
	struct objlist		 have = { NULL, 0 };
	const struct profile	*p, *q;
	size_t			 i, j;
	int			 rc = -1, found;

	if (catalog_profiles(s, &have, cause) != 0)
		return (-1);
	for (i = 0; i < cfg->profiles.n; i++) {
		p = schema_list_at(&profile_schema, &cfg->profiles, i);
		for (j = 0, found = 0; j < have.n && !found; j++) {
			q = schema_list_at(&profile_schema, &have, j);
			if (strcmp(p->name, q->name) == 0)
				found = schema_equal(&profile_schema, p, q) ?
				    1 : 2;
		}
		if (found == 1) {
			r->unchanged++;
			continue;
		}
		if (catalog_profile_put(s, p, cause) != 0)
			goto out;
		if (found == 0)
			r->added++;
		else
			r->updated++;
	}
	for (j = 0; j < have.n; j++) {
		q = schema_list_at(&profile_schema, &have, j);
		for (i = 0, found = 0; i < cfg->profiles.n && !found; i++) {
			p = schema_list_at(&profile_schema, &cfg->profiles, i);
			found = strcmp(p->name, q->name) == 0;
		}
		if (found)
			continue;
		if (catalog_profile_delete(s, q->name, cause) != 0)
			goto out;
		r->removed++;
	}
	rc = 0;
out:
	schema_list_free(&profile_schema, &have);
	return (rc);
}

static int
sync_channel(struct store *s, const struct channel *ch, long long position,
    int flags, struct sync_report *r, char **cause)
{
	struct catalog_meta	 meta;
	struct channel		*have = NULL;
	int			 rc;

	rc = catalog_channel_meta(s, ch->id, &meta, cause);
	if (rc == ENOENT) {
		free(*cause);
		*cause = NULL;
	} else if (rc != 0)
		return (-1);
	if (rc == 0 && meta.dirty && !(flags & SYNC_FORCE)) {
		r->kept++;
		return (0);
	}
	if (rc == 0 && !meta.deleted && !meta.api) {
		if (catalog_channel_get(s, ch->id, &have, cause) != 0)
			return (-1);
		if (have->scheduled == ch->scheduled &&
		    schema_equal(&channel_schema, have, ch)) {
			channel_free(have);
			r->unchanged++;
			return (catalog_channel_set_position(s, ch->id, position,
		    cause));
		}
		channel_free(have);
	}
	if (catalog_channel_put(s, ch, 0, cause) != 0)
		return (-1);
	if (rc == ENOENT)
		r->added++;
	else
		r->updated++;
	return (catalog_channel_set_position(s, ch->id, position,
		    cause));
}

static int
in_config(const struct config *cfg, long long id)
{
	const struct objlist	*lists[2] = { &cfg->streams,
				    &cfg->scheduled_streams };
	const struct channel	*ch;
	size_t			 i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < lists[k]->n; i++) {
			ch = schema_list_at(&channel_schema, lists[k], i);
			if (ch->id == id)
				return (1);
		}
	}
	return (0);
}

static int
sync_channels(struct store *s, const struct config *cfg, int flags,
    struct sync_report *r, char **cause)
{
	const struct objlist	*lists[2] = { &cfg->streams,
				    &cfg->scheduled_streams };
	struct catalog_meta	 meta;
	long long		*ids = NULL, position = 0;
	size_t			 i, k, n = 0;
	int			 rc = -1;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < lists[k]->n; i++) {
			if (sync_channel(s, schema_list_at(&channel_schema,
			    lists[k], i), position++, flags, r, cause) != 0)
				return (-1);
		}
	}
	if (catalog_channel_ids(s, &ids, &n, cause) != 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (in_config(cfg, ids[i]))
			continue;
		if (catalog_channel_meta(s, ids[i], &meta, cause) != 0)
			goto out;
		if (meta.dirty && !(flags & SYNC_FORCE)) {
			r->kept++;
			continue;
		}
		if (catalog_channel_delete(s, ids[i], 0, cause) != 0)
			goto out;
		if (!meta.deleted)
			r->removed++;
	}
	rc = 0;
out:
	free(ids);
	return (rc);
}

static int
sync_keys(struct store *s, const struct config *cfg, int flags,
    struct sync_report *r, char **cause)
{
	struct objlist		 have = { NULL, 0 };
	const struct api_key	*k, *h;
	struct catalog_meta	 meta;
	char			 hash[CATALOG_HASH_SIZE];
	const char		*want;
	size_t			 i, j;
	int			 rc = -1, found, mrc;

	if (catalog_keys(s, &have, cause) != 0)
		return (-1);
	for (i = 0; i < cfg->auth.keys.n; i++) {
		k = schema_list_at(&api_key_schema, &cfg->auth.keys, i);
		memset(&meta, 0, sizeof meta);
		mrc = catalog_key_meta(s, k->name, &meta, cause);
		if (mrc != 0 && mrc != ENOENT)
			goto out;
		free(*cause);
		*cause = NULL;
		if (mrc == 0 && meta.dirty && !(flags & SYNC_FORCE)) {
			r->kept++;
			continue;
		}
		if (k->key != NULL) {
			catalog_hash_key(k->key, hash);
			want = hash;
		} else
			want = k->key_hash;
		for (j = 0, found = 0; j < have.n && !found; j++) {
			h = schema_list_at(&api_key_schema, &have, j);
			found = strcmp(h->name, k->name) == 0 &&
			    strcmp(h->key_hash, want) == 0 &&
			    strcmp(h->role, k->role) == 0 && !meta.api;
		}
		if (found) {
			r->unchanged++;
			continue;
		}
		if (catalog_key_put(s, k, 0, cause) != 0)
			goto out;
		if (mrc == ENOENT)
			r->added++;
		else
			r->updated++;
	}
	for (j = 0; j < have.n; j++) {
		h = schema_list_at(&api_key_schema, &have, j);
		for (i = 0, found = 0; i < cfg->auth.keys.n && !found; i++) {
			k = schema_list_at(&api_key_schema, &cfg->auth.keys, i);
			found = strcmp(h->name, k->name) == 0;
		}
		if (found)
			continue;
		if (catalog_key_meta(s, h->name, &meta, cause) != 0)
			goto out;
		if (meta.dirty && !(flags & SYNC_FORCE)) {
			r->kept++;
			continue;
		}
		if (catalog_key_delete(s, h->name, 0, cause) != 0)
			goto out;
		r->removed++;
	}
	rc = 0;
out:
	schema_list_free(&api_key_schema, &have);
	return (rc);
}

typedef int (*list_get_cb)(struct store *, struct objlist *, char **);
typedef int (*list_set_cb)(struct store *, const struct objlist *, char **);

/* EPG sources, webhooks and plugins follow the file as whole lists,
 * compared entry by entry. */
static int
sync_list(struct store *s, const struct schema *sc, const struct objlist *want,
    list_get_cb get, list_set_cb set, struct sync_report *r, char **cause)
{
	struct objlist	 have = { NULL, 0 };
	json_object	*a, *b;
	size_t		 i;
	unsigned	 changed = 0;

	if (get(s, &have, cause) != 0)
		return (-1);
	for (i = 0; i < want->n && i < have.n; i++) {
		a = schema_to_json(sc, schema_list_at(sc, want, i),
		    SCHEMA_JSON_ALL);
		b = schema_to_json(sc, schema_list_at(sc, &have, i),
		    SCHEMA_JSON_ALL);
		if (json_object_equal(a, b))
			r->unchanged++;
		else
			changed++;
		json_object_put(a);
		json_object_put(b);
	}
	if (want->n > have.n)
		r->added += (unsigned)(want->n - have.n);
	else
		r->removed += (unsigned)(have.n - want->n);
	r->updated += changed;
	i = have.n;
	schema_list_free(sc, &have);
	if (changed == 0 && i == want->n)
		return (0);
	return (set(s, want, cause));
}

/* Every profile a channel or variant names exists after the import: a
 * channel kept from the API may name one the file no longer defines. */
static int
check_profiles(struct store *s, char **cause)
{
	sqlite3_stmt	*st;
	const char	*name;
	int		 rc;

	st = store_prepare(s, "SELECT c.id, c.ffmpeg_profile FROM channels c "
	    "WHERE c.deleted = 0 AND c.ffmpeg_profile IS NOT NULL AND "
	    "c.ffmpeg_profile NOT IN (SELECT name FROM profiles) "
	    "UNION ALL SELECT v.channel_id, v.ffmpeg_profile FROM variants v "
	    "JOIN channels c ON c.id = v.channel_id WHERE c.deleted = 0 AND "
	    "v.ffmpeg_profile IS NOT NULL AND "
	    "v.ffmpeg_profile NOT IN (SELECT name FROM profiles)", cause);
	if (st == NULL)
		return (-1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 1);
		if (profile_builtin(name) != NULL)
			continue;
		*cause = xprintf("channel %lld, kept from the API, uses profile "
		    "'%s', which the file no longer defines (define it, or "
		    "import with --force)", sqlite3_column_int64(st, 0), name);
		sqlite3_reset(st);
		return (-1);
	}
	if (rc != SQLITE_DONE) {
		*cause = xstrdup(sqlite3_errmsg(store_db(s)));
		return (-1);
	}
	return (0);
}

int
sync_import(struct store *s, const struct config *cfg, int flags,
    struct sync_report *report, char **cause)
{
	struct sync_report	r;

	memset(&r, 0, sizeof r);
	if (store_begin(s, cause) != 0)
		return (-1);
	if (put_settings(s, cfg, cause) != 0 ||
	    sync_profiles(s, cfg, &r, cause) != 0 ||
	    sync_channels(s, cfg, flags, &r, cause) != 0 ||
	    check_profiles(s, cause) != 0 ||
	    sync_keys(s, cfg, flags, &r, cause) != 0 ||
	    sync_list(s, &epg_source_schema, &cfg->epg_sources,
	    catalog_epg_sources, catalog_epg_sources_set, &r, cause) != 0 ||
	    sync_list(s, &webhook_schema, &cfg->webhooks, catalog_webhooks,
	    catalog_webhooks_set, &r, cause) != 0 ||
	    sync_list(s, &plugin_schema, &cfg->plugins, catalog_plugins,
	    catalog_plugins_set, &r, cause) != 0) {
		store_rollback(s);
		return (-1);
	}
	if (store_commit(s, cause) != 0) {
		store_rollback(s);
		return (-1);
	}
	if (report != NULL)
		*report = r;
	return (0);
}

static int
add_channel(struct channel *ch, void *arg)
{
	struct config	*cfg = arg;
	struct channel	*slot;

	slot = schema_list_add(&channel_schema, ch->scheduled ?
	    &cfg->scheduled_streams : &cfg->streams);
	schema_free(&channel_schema, slot);
	schema_copy(&channel_schema, slot, ch);
	return (0);
}

int
sync_to_config(struct store *s, struct config **out, char **cause)
{
	struct catalog_filter	 all;
	struct config		*cfg;

	cfg = conf_new();
	memset(&all, 0, sizeof all);
	if (get_settings(s, cfg, cause) != 0 ||
	    catalog_keys(s, &cfg->auth.keys, cause) != 0 ||
	    catalog_profiles(s, &cfg->profiles, cause) != 0 ||
	    catalog_channels_each(s, &all, add_channel, cfg, cause) != 0 ||
	    catalog_epg_sources(s, &cfg->epg_sources, cause) != 0 ||
	    catalog_webhooks(s, &cfg->webhooks, cause) != 0 ||
	    catalog_plugins(s, &cfg->plugins, cause) != 0) {
		conf_free(cfg);
		return (-1);
	}
	*out = cfg;
	return (0);
}

int
sync_export(struct store *s, const char *path, int flags, char **cause)
{
	struct config	*cfg;
	int		 rc;

	/* Read and mark in one transaction, so that an API write between
	 * the two is not marked saved without being in the file. */
	if (store_begin(s, cause) != 0)
		return (-1);
	if (sync_to_config(s, &cfg, cause) != 0) {
		store_rollback(s);
		return (-1);
	}
	/* What the API wrote may not make a valid file (a channel whose
	 * profile was removed from it, the last key revoked while auth is
	 * on): refuse rather than write a file that will not load. */
	rc = conf_check(cfg, cause);
	if (rc == 0)
		rc = conf_write(cfg, path, cause);
	conf_free(cfg);
	if (rc != 0 || ((flags & SYNC_SAVED) &&
	    (catalog_mark_saved(s, cause) != 0 ||
	    store_setting_set(s, SETTING_CONFIG_FILE, path, cause) != 0)) ||
	    store_commit(s, cause) != 0) {
		store_rollback(s);
		return (-1);
	}
	return (0);
}
