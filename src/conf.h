/* amps.conf: the operator's file, in libconfig syntax.  One loader reads
 * it into struct config through the tables of schema.h, applies defaults
 * and limits, checks everything (types, unknown keys with a "did you mean"
 * hint, ids, profiles, regions, times) and reports the first error with
 * its file, line and key.  The rest of amps takes a const struct config *
 * and never calls config_lookup. */
#ifndef AMPS_CONF_H
#define AMPS_CONF_H

#include "schema.h"

struct server_conf {
	char		*listen;	/* "127.0.0.1:8080" */
	char		*base_url;
	char		*media_root;	/* paths: absolute after loading */
	char		*database;
	char		*control_socket;
	char		*control_socket_group;
	char		*control_socket_mode;	/* octal text, "0660" */
	char		*log_level;
	char		*log_file;
	long long	 idle_timeout;	/* seconds */
	long long	 max_body_size;	/* bytes */
	/* streamd: pipelines. */
	long long	 input_timeout;	/* seconds: open, read */
	long long	 stall_timeout;	/* seconds without packets */
	long long	 restart_delay_min;	/* backoff bounds, seconds */
	long long	 restart_delay_max;
	long long	 max_failures;	/* in a row; 0 = never give up */
	long long	 ensure_timeout;	/* seconds */
	long long	 cleanup_delay;	/* seconds */
	/* Delivery. */
	char		*ws_socket;	/* streamd's WebSocket listener */
	char		*playlist_format;	/* "ts" or "hls" */
	long long	 media_url_ttl;	/* seconds a signed media URL lives */
	/* Recordings. */
	char		*recording_format;	/* "ts" or "mp4" */
	long long	 recording_padding_before;	/* seconds */
	long long	 recording_padding_after;
	/* Guide ingestion. */
	long long	 epg_timeout;	/* seconds for one fetch */
	long long	 epg_max_size;	/* bytes, after decompression */
	/* Webhooks. */
	long long	 webhook_timeout;	/* seconds for one delivery */
	long long	 webhook_retry_for;	/* seconds before giving up */
};

struct api_key {
	char		*name;
	char		*key;		/* plain text; only in files */
	char		*key_hash;	/* "sha256:<hex>" */
	char		*role;		/* "viewer" or "admin" */
};

struct auth_conf {
	int		 enabled;
	char		*token;		/* plain text; only in files */
	char		*token_hash;	/* "sha256:<hex>" */
	struct objlist	 keys;		/* struct api_key */
};

struct epg_source {
	char		*name;
	char		*path;
	char		*url;
	char		*match_on;	/* "epg_id" or "tvg_name" */
	long long	 refresh_interval_minutes;	/* 0 = manual */
};

struct webhook {
	char		*name;
	char		*url;
	struct strlist	 events;	/* empty = every event */
	char		*secret;
};

struct plugin {
	char		*module;
	json_object	*config;
};

struct config {
	char		*file;		/* absolute path of the file */
	char		*dir;		/* its folder */
	struct server_conf server;
	struct auth_conf auth;
	struct objlist	 profiles;	/* struct profile (the file's own;
					   conf_profile adds built-ins) */
	struct objlist	 streams;	/* struct channel */
	struct objlist	 scheduled_streams;	/* struct channel */
	struct objlist	 epg_sources;	/* struct epg_source */
	struct objlist	 webhooks;	/* struct webhook */
	struct objlist	 plugins;	/* struct plugin */
};

extern const struct schema config_schema;
extern const struct schema server_schema;
extern const struct schema auth_schema;
extern const struct schema api_key_schema;
extern const struct schema epg_source_schema;
extern const struct schema webhook_schema;
extern const struct schema plugin_schema;

/* The webhook event names. */
extern const char *const conf_webhook_events[];

/* One error, as "file:line: key: message". */
struct conf_error {
	char		*file;
	int		 line;		/* 0 if unknown */
	char		*key;		/* "streams[2].name", may be NULL */
	char		*message;
};

/* Formats err as one line (caller frees). */
char	*conf_error_string(const struct conf_error *err);
void	 conf_error_clear(struct conf_error *err);

/* Reads and checks path.  Relative paths inside are made absolute against
 * the file's folder.  Returns 0 and *out (caller frees with conf_free), or
 * -1 with err filled. */
int	 conf_load(const char *path, struct config **out,
	    struct conf_error *err);
/* Reads only the server block (the rest of the file must parse but is not
 * checked or kept): for the responder, which needs the paths only and
 * must stay small however many channels the file holds. */
int	 conf_load_server(const char *path, struct config **out,
	    struct conf_error *err);
/* The same for text in memory; name stands for the file in errors and dir
 * for the folder. */
int	 conf_load_string(const char *text, const char *name, const char *dir,
	    struct config **out, struct conf_error *err);
/* An empty config with every default (caller frees). */
struct config *conf_new(void);
void	 conf_free(struct config *cfg);

/* Writes cfg to path: to a temporary file in the same folder, fsync'd,
 * then renamed over path; an existing path is kept as path.bak first.
 * Profiles marked builtin are not written.  Returns 0,
 * or -1 with *cause (caller frees). */
int	 conf_write(const struct config *cfg, const char *path, char **cause);
/* cfg as libconfig text (caller frees), as conf_write writes it. */
char	*conf_to_string(const struct config *cfg);

/* Checks that cfg, as conf_write would write it, loads back: the last
 * gate before a file is replaced.  Returns 0, or -1 with *cause (the
 * error line; caller frees). */
int	 conf_check(const struct config *cfg, char **cause);

/* Finds a profile by name (the config's own first, then built-ins). */
const struct profile *conf_profile(const struct config *cfg,
	    const char *name);

/* The default config path: $AMPS_CONF, else SYSCONFDIR/amps/amps.conf. */
const char *conf_default_path(void);

#endif
