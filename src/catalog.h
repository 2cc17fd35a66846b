/* The catalogue in the store: channels with their variants and programmes,
 * profiles, API keys, EPG sources, webhooks and plugins; queries with the
 * filters that playlists, guides and the API share.
 *
 * Every channel and key row records where it came from and what the API
 * did to it, for the merge rule of sync.h:
 *   origin   "config" (imported from amps.conf) or "api" (created by the
 *            API or the CLI);
 *   dirty    written by the API since the last import or save;
 *   deleted  a tombstone: deleted by the API since the last save (hidden
 *            from every query).
 * Functions return 0, or an errno value with *cause set (caller frees):
 * ENOENT not found, EEXIST already there, EINVAL bad input, EIO for a
 * database error. */
#ifndef AMPS_CATALOG_H
#define AMPS_CATALOG_H

#include <stdint.h>

#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "store.h"

/* Flags for the put functions. */
#define CATALOG_API	0x01	/* an API/CLI write: origin "api" if new,
				   dirty set */
#define CATALOG_CREATE	0x02	/* fail with EEXIST if the row exists (a
				   tombstone does not count) */
#define CATALOG_UPDATE	0x04	/* fail with ENOENT if the row is missing */

struct catalog_meta {
	int		 api;		/* origin "api" */
	int		 dirty;
	int		 deleted;
	long long	 position;
};

/* Filters of the playlist, the guide and the API. */
struct catalog_filter {
	int64_t		 now;		/* hide channels outside their window;
					   0 = do not filter by time */
	const char	*region;	/* viewer's normalised region or NULL:
					   hide channels it may not see */
	int		 region_known;	/* apply region rules even when region
					   is NULL (unknown viewer) */
	const struct strlist *groups;	/* case-insensitive; NULL = any */
	const long long	*ids;		/* NULL = any */
	size_t		 nids;
	int		 no_programmes;	/* leave next_programs empty (the
					   guide reads every programme row
					   itself, epg.h) */
};

typedef int (*catalog_channel_cb)(struct channel *ch, void *arg);

/* Loads one channel with its variants and programmes (tombstones are not
 * found).  *out is the caller's (channel_free). */
int	 catalog_channel_get(struct store *s, long long id,
	    struct channel **out, char **cause);
/* Bookkeeping of a row, tombstones included. */
int	 catalog_channel_meta(struct store *s, long long id,
	    struct catalog_meta *meta, char **cause);
/* Writes a channel, replacing its variants and next_programs. */
int	 catalog_channel_put(struct store *s, const struct channel *ch,
	    int flags, char **cause);
/* Moves a channel in the playlist order (the importer follows the file's
 * order; a new channel is put last).  ENOENT if there is no row. */
int	 catalog_channel_set_position(struct store *s, long long id,
	    long long position, char **cause);
/* With CATALOG_API, leaves a dirty tombstone; otherwise removes the row. */
int	 catalog_channel_delete(struct store *s, long long id, int flags,
	    char **cause);
/* Calls cb for every channel that passes filter, in playlist order
 * (position, then id), one at a time (memory stays flat).  The channel is
 * freed after cb returns; cb returns non-zero to stop (that value is
 * returned). */
int	 catalog_channels_each(struct store *s,
	    const struct catalog_filter *filter, catalog_channel_cb cb,
	    void *arg, char **cause);
/* The same into an array (caller frees with catalog_channels_free). */
int	 catalog_channels(struct store *s, const struct catalog_filter *filter,
	    struct channel ***out, size_t *n, char **cause);
void	 catalog_channels_free(struct channel **v, size_t n);
/* Ids of every row, tombstones included (caller frees *ids). */
int	 catalog_channel_ids(struct store *s, long long **ids, size_t *n,
	    char **cause);
/* Replaces a channel's next_programs (PUT /api/streams/<id>/programs). */
int	 catalog_programs_put(struct store *s, long long id,
	    const struct objlist *programs, int flags, char **cause);

/* Profiles defined in the config (built-ins are not stored unless
 * overridden). */
int	 catalog_profile_get(struct store *s, const char *name,
	    struct profile **out, char **cause);
int	 catalog_profile_put(struct store *s, const struct profile *p,
	    char **cause);
int	 catalog_profile_delete(struct store *s, const char *name,
	    char **cause);
/* All stored profiles, in name order (objlist of struct profile; caller
 * frees with schema_list_free(&profile_schema, out)). */
int	 catalog_profiles(struct store *s, struct objlist *out, char **cause);

/* API keys: stored as "sha256:<hex>" of the key. */
int	 catalog_key_put(struct store *s, const struct api_key *k, int flags,
	    char **cause);
int	 catalog_key_delete(struct store *s, const char *name, int flags,
	    char **cause);
/* All keys that are not tombstones (key field NULL, key_hash set). */
int	 catalog_keys(struct store *s, struct objlist *out, char **cause);
/* Looks a presented key up by its hash (compared in constant time);
 * returns 0 and the role ("viewer"/"admin", caller frees) or ENOENT. */
int	 catalog_key_check(struct store *s, const char *key, char **role,
	    char **cause);
int	 catalog_key_meta(struct store *s, const char *name,
	    struct catalog_meta *meta, char **cause);

/* The latest window start or end (P6) at or before now, 0 when none: which
 * channels are in their windows stays the same until the next one, so a
 * cached answer is valid while this value is. */
int	 catalog_window_epoch(struct store *s, int64_t now, int64_t *out,
	    char **cause);

/* EPG sources, webhooks, plugins: the config's lists, kept in order. */
int	 catalog_epg_sources(struct store *s, struct objlist *out,
	    char **cause);
int	 catalog_epg_sources_set(struct store *s, const struct objlist *l,
	    char **cause);
int	 catalog_webhooks(struct store *s, struct objlist *out, char **cause);
int	 catalog_webhooks_set(struct store *s, const struct objlist *l,
	    char **cause);
int	 catalog_plugins(struct store *s, struct objlist *out, char **cause);
int	 catalog_plugins_set(struct store *s, const struct objlist *l,
	    char **cause);

/* Clears every dirty mark, purges tombstones and marks every row as
 * origin "config" (after the DB was written to amps.conf). */
int	 catalog_mark_saved(struct store *s, char **cause);

/* Hashes a key as stored: "sha256:<64 hex>" into out (72 bytes). */
#define CATALOG_HASH_SIZE 72
void	 catalog_hash_key(const char *key, char *out);

#endif
