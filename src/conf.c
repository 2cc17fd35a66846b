#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libconfig.h>

#include "buf.h"
#include "channel.h"
#include "conf.h"
#include "profile.h"
#include "timefmt.h"
#include "xmalloc.h"

#define SV(m)	offsetof(struct server_conf, m)
#define AU(m)	offsetof(struct auth_conf, m)
#define KY(m)	offsetof(struct api_key, m)
#define ES(m)	offsetof(struct epg_source, m)
#define WH(m)	offsetof(struct webhook, m)
#define CF(m)	offsetof(struct config, m)

const char *const conf_webhook_events[] = {
	"stream.started", "stream.stopped", "stream.failed",
	"stream.restarted", "recording.started", "recording.stopped",
	"recording.failed", "clip.ready", "epg.refreshed", "epg.failed",
	NULL
};

static const char *const log_levels[] = {
	"error", "warn", "info", "debug", NULL
};
static const char *const roles[] = { "viewer", "admin", NULL };
static const char *const playlist_formats[] = { "ts", "hls", NULL };
static const char *const recording_formats[] = { "ts", "mp4", NULL };
static const char *const match_keys[] = { "epg_id", "tvg_name", NULL };

/* "host:port", "[v6]:port" or ":port". */
static int
check_listen(const void *value, char **cause)
{
	const char	*s = *(char *const *)value, *colon;
	char		*end;
	long		 port;

	colon = strrchr(s, ':');
	if (colon == NULL || (s[0] == '[' && (colon == s ||
	    colon[-1] != ']')))
		goto bad;
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	return (0);
bad:
	*cause = xprintf("'%s' is not HOST:PORT (like 127.0.0.1:8080)", s);
	return (-1);
}

static int
check_http_url(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;

	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
		*cause = xprintf("'%s' is not an http:// or https:// URL", s);
		return (-1);
	}
	if (strpbrk(s, " \t\r\n") != NULL) {
		*cause = xprintf("'%s' contains white space", s);
		return (-1);
	}
	return (0);
}

static int
check_mode(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;
	char		*end;
	long		 mode;

	mode = strtol(s, &end, 8);
	if (end == s || *end != '\0' || mode < 0 || mode > 0777) {
		*cause = xprintf("'%s' is not an octal file mode like 0660", s);
		return (-1);
	}
	return (0);
}

static int
check_hash(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;
	size_t		 i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		goto bad;
	for (i = 7; s[i] != '\0'; i++) {
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			goto bad;
	}
	return (0);
bad:
	*cause = xstrdup("expected \"sha256:\" and 64 lower-case hex digits");
	return (-1);
}

static int
check_secret(const void *value, char **cause)
{
	const char	*s = *(char *const *)value;

	if (strlen(s) < 8) {
		*cause = xstrdup("must be at least 8 characters");
		return (-1);
	}
	return (0);
}

static const struct schema_field server_fields[] = {
	{ .name = "listen", .type = SCHEMA_STRING, .offset = SV(listen),
	  .def = "127.0.0.1:8080", .check = check_listen,
	  .help = "address and port of the web server (amps serve)" },
	{ .name = "base_url", .type = SCHEMA_STRING, .offset = SV(base_url),
	  .check = check_http_url,
	  .help = "public URL; default: from the request's Host" },
	{ .name = "media_root", .type = SCHEMA_STRING,
	  .offset = SV(media_root), .def = "var/media",
	  .flags = SCHEMA_NONEMPTY, .max = PATH_MAX },
	{ .name = "database", .type = SCHEMA_STRING, .offset = SV(database),
	  .def = "var/amps.db", .flags = SCHEMA_NONEMPTY, .max = PATH_MAX },
	{ .name = "control_socket", .type = SCHEMA_STRING,
	  .offset = SV(control_socket), .def = "var/streamd.sock",
	  .flags = SCHEMA_NONEMPTY, .max = PATH_MAX },
	{ .name = "control_socket_group", .type = SCHEMA_STRING,
	  .offset = SV(control_socket_group), .max = 64 },
	{ .name = "control_socket_mode", .type = SCHEMA_STRING,
	  .offset = SV(control_socket_mode), .def = "0660",
	  .check = check_mode },
	{ .name = "log_level", .type = SCHEMA_STRING, .offset = SV(log_level),
	  .def = "info", .flags = SCHEMA_LOWER, .choices = log_levels },
	{ .name = "log_file", .type = SCHEMA_STRING, .offset = SV(log_file),
	  .max = PATH_MAX, .help = "default: standard error" },
	{ .name = "idle_timeout", .type = SCHEMA_INT,
	  .offset = SV(idle_timeout), .def = "30", .min = 1, .max = 86400,
	  .help = "seconds a channel runs without viewers" },
	{ .name = "max_body_size", .type = SCHEMA_INT,
	  .offset = SV(max_body_size), .def = "1048576", .min = 1024,
	  .max = 1073741824, .help = "largest request body, bytes" },
	{ .name = "input_timeout", .type = SCHEMA_INT,
	  .offset = SV(input_timeout), .def = "10", .min = 1, .max = 600,
	  .help = "seconds to open an input or wait for its data" },
	{ .name = "stall_timeout", .type = SCHEMA_INT,
	  .offset = SV(stall_timeout), .def = "10", .min = 1, .max = 600,
	  .help = "seconds without a packet before an input counts as "
	  "failed" },
	{ .name = "restart_delay_min", .type = SCHEMA_INT,
	  .offset = SV(restart_delay_min), .def = "1", .min = 1,
	  .max = 3600, .help = "first backoff after a failure, seconds" },
	{ .name = "restart_delay_max", .type = SCHEMA_INT,
	  .offset = SV(restart_delay_max), .def = "30", .min = 1,
	  .max = 86400, .help = "longest backoff, seconds" },
	{ .name = "max_failures", .type = SCHEMA_INT,
	  .offset = SV(max_failures), .def = "0", .min = 0, .max = 1000000,
	  .help = "failures in a row before a channel is given up "
	  "(state failed); 0 = never" },
	{ .name = "ensure_timeout", .type = SCHEMA_INT,
	  .offset = SV(ensure_timeout), .def = "15", .min = 1, .max = 600,
	  .help = "seconds a request waits for a channel to be playable" },
	{ .name = "cleanup_delay", .type = SCHEMA_INT,
	  .offset = SV(cleanup_delay), .def = "60", .min = 0, .max = 86400,
	  .help = "seconds before a stopped channel's files are removed" },
	{ .name = "ws_socket", .type = SCHEMA_STRING,
	  .offset = SV(ws_socket), .flags = SCHEMA_NONEMPTY, .max = PATH_MAX,
	  .help = "streamd's WebSocket listener (for /ws/<id>); default: "
	  "ws.sock beside control_socket" },
	{ .name = "playlist_format", .type = SCHEMA_STRING,
	  .offset = SV(playlist_format), .def = "ts", .flags = SCHEMA_LOWER,
	  .choices = playlist_formats,
	  .help = "what playlist entries point at: ts (/stream/<id>) or "
	  "hls" },
	{ .name = "media_url_ttl", .type = SCHEMA_INT,
	  .offset = SV(media_url_ttl), .def = "86400", .min = 60,
	  .max = 31536000,
	  .help = "seconds a signed media URL of a playlist stays valid" },
	{ .name = "recording_format", .type = SCHEMA_STRING,
	  .offset = SV(recording_format), .def = "ts", .flags = SCHEMA_LOWER,
	  .choices = recording_formats,
	  .help = "container of new recordings: ts or mp4" },
	{ .name = "recording_padding_before", .type = SCHEMA_INT,
	  .offset = SV(recording_padding_before), .def = "60", .min = 0,
	  .max = 86400,
	  .help = "seconds a timed recording starts before its programme" },
	{ .name = "recording_padding_after", .type = SCHEMA_INT,
	  .offset = SV(recording_padding_after), .def = "300", .min = 0,
	  .max = 86400,
	  .help = "seconds a timed recording goes on after its programme" },
	{ .name = "epg_timeout", .type = SCHEMA_INT,
	  .offset = SV(epg_timeout), .def = "300", .min = 1, .max = 86400,
	  .help = "seconds one guide fetch may take" },
	{ .name = "epg_max_size", .type = SCHEMA_INT,
	  .offset = SV(epg_max_size), .def = "536870912", .min = 1024,
	  .max = 17179869184LL,
	  .help = "largest guide, bytes after decompression" },
	{ .name = "webhook_timeout", .type = SCHEMA_INT,
	  .offset = SV(webhook_timeout), .def = "10", .min = 1, .max = 600,
	  .help = "seconds one webhook delivery may take" },
	{ .name = "webhook_retry_for", .type = SCHEMA_INT,
	  .offset = SV(webhook_retry_for), .def = "86400", .min = 60,
	  .max = 2592000,
	  .help = "seconds an undelivered event is retried before it is "
	  "given up" },
	{ .name = NULL }
};

/* The backoff bounds must be in order. */
static int
check_server(const void *obj, char *key, char **cause)
{
	const struct server_conf	*sv = obj;

	if (sv->restart_delay_max < sv->restart_delay_min) {
		snprintf(key, SCHEMA_KEYSIZE, "restart_delay_max");
		*cause = xstrdup("must not be below restart_delay_min");
		return (-1);
	}
	return (0);
}

const struct schema server_schema = {
	.name = "server", .size = sizeof(struct server_conf),
	.fields = server_fields, .check = check_server,
};

static int
check_key(const void *obj, char *key, char **cause)
{
	const struct api_key	*k = obj;

	if ((k->key == NULL) == (k->key_hash == NULL)) {
		snprintf(key, SCHEMA_KEYSIZE, "key");
		*cause = xstrdup("give either key or key_hash");
		return (-1);
	}
	return (0);
}

static const struct schema_field api_key_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING, .offset = KY(name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 64 },
	{ .name = "key", .type = SCHEMA_STRING, .offset = KY(key),
	  .flags = SCHEMA_SECRET | SCHEMA_NOSQL, .max = 256,
	  .check = check_secret, .help = "the key (stored hashed)" },
	{ .name = "key_hash", .type = SCHEMA_STRING, .offset = KY(key_hash),
	  .flags = SCHEMA_SECRET, .check = check_hash,
	  .help = "sha256:<hex>, as amps save writes it" },
	{ .name = "role", .type = SCHEMA_STRING, .offset = KY(role),
	  .def = "viewer", .flags = SCHEMA_LOWER, .choices = roles },
	{ .name = NULL }
};

const struct schema api_key_schema = {
	.name = "key", .size = sizeof(struct api_key),
	.fields = api_key_fields, .check = check_key,
};

static int
check_auth(const void *obj, char *key, char **cause)
{
	const struct auth_conf	*a = obj;
	const struct api_key	*k, *j;
	size_t			 i, n;

	if (a->token != NULL && a->token_hash != NULL) {
		snprintf(key, SCHEMA_KEYSIZE, "token_hash");
		*cause = xstrdup("give either token or token_hash");
		return (-1);
	}
	for (i = 0; i < a->keys.n; i++) {
		k = schema_list_at(&api_key_schema, &a->keys, i);
		for (n = 0; n < i; n++) {
			j = schema_list_at(&api_key_schema, &a->keys, n);
			if (strcmp(j->name, k->name) == 0) {
				snprintf(key, SCHEMA_KEYSIZE,
				    "keys[%zu].name", i);
					*cause = xprintf("key '%s' is defined twice",
				    k->name);
				return (-1);
			}
		}
	}
	if (a->enabled && a->token == NULL && a->token_hash == NULL &&
	    a->keys.n == 0) {
		snprintf(key, SCHEMA_KEYSIZE, "enabled");
		*cause = xstrdup("auth is enabled but has no token and no "
		    "keys");
		return (-1);
	}
	return (0);
}

static const struct schema_field auth_fields[] = {
	{ .name = "enabled", .type = SCHEMA_BOOL, .offset = AU(enabled),
	  .help = "require a token or key" },
	{ .name = "token", .type = SCHEMA_STRING, .offset = AU(token),
	  .flags = SCHEMA_SECRET | SCHEMA_NOSQL, .max = 256,
	  .check = check_secret, .help = "the shared token (stored hashed)" },
	{ .name = "token_hash", .type = SCHEMA_STRING,
	  .offset = AU(token_hash), .flags = SCHEMA_SECRET,
	  .check = check_hash },
	{ .name = "keys", .type = SCHEMA_LIST, .offset = AU(keys),
	  .max = 10000, .sub = &api_key_schema },
	{ .name = NULL }
};

const struct schema auth_schema = {
	.name = "auth", .size = sizeof(struct auth_conf),
	.fields = auth_fields, .check = check_auth,
};

static int
check_epg_source(const void *obj, char *key, char **cause)
{
	const struct epg_source	*e = obj;

	if ((e->path == NULL) == (e->url == NULL)) {
		snprintf(key, SCHEMA_KEYSIZE, "path");
		*cause = xstrdup("give either path or url");
		return (-1);
	}
	return (0);
}

static const struct schema_field epg_source_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING, .offset = ES(name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 64 },
	{ .name = "path", .type = SCHEMA_STRING, .offset = ES(path),
	  .flags = SCHEMA_NONEMPTY, .max = PATH_MAX,
	  .help = "a local XMLTV file (.gz too)" },
	{ .name = "url", .type = SCHEMA_STRING, .offset = ES(url),
	  .check = check_http_url, .max = 4096 },
	{ .name = "match_on", .type = SCHEMA_STRING, .offset = ES(match_on),
	  .def = "epg_id", .flags = SCHEMA_LOWER, .choices = match_keys },
	{ .name = "refresh_interval_minutes", .type = SCHEMA_INT,
	  .offset = ES(refresh_interval_minutes), .min = 0, .max = 525600,
	  .help = "0: refresh only on request" },
	{ .name = NULL }
};

const struct schema epg_source_schema = {
	.name = "epg_source", .size = sizeof(struct epg_source),
	.fields = epg_source_fields, .check = check_epg_source,
};

static const struct schema_field webhook_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING, .offset = WH(name),
	  .max = 64 },
	{ .name = "url", .type = SCHEMA_STRING, .offset = WH(url),
	  .flags = SCHEMA_REQUIRED, .check = check_http_url, .max = 4096 },
	{ .name = "events", .type = SCHEMA_STRLIST, .offset = WH(events),
	  .flags = SCHEMA_LOWER, .choices = conf_webhook_events, .max = 32,
	  .help = "default: every event" },
	{ .name = "secret", .type = SCHEMA_STRING, .offset = WH(secret),
	  .flags = SCHEMA_SECRET, .max = 256,
	  .help = "signs the body: X-Amps-Signature" },
	{ .name = NULL }
};

const struct schema webhook_schema = {
	.name = "webhook", .size = sizeof(struct webhook),
	.fields = webhook_fields,
};

static const struct schema_field plugin_fields[] = {
	{ .name = "module", .type = SCHEMA_STRING,
	  .offset = offsetof(struct plugin, module),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = PATH_MAX,
	  .help = "shared object path or name" },
	{ .name = "config", .type = SCHEMA_JSON,
	  .offset = offsetof(struct plugin, config),
	  .help = "passed to the plugin as it is" },
	{ .name = NULL }
};

const struct schema plugin_schema = {
	.name = "plugin", .size = sizeof(struct plugin),
	.fields = plugin_fields, .strform = 1,
};

static const struct schema_field config_fields[] = {
	{ .name = "server", .type = SCHEMA_OBJECT, .offset = CF(server),
	  .sub = &server_schema },
	{ .name = "auth", .type = SCHEMA_OBJECT, .offset = CF(auth),
	  .sub = &auth_schema },
	{ .name = "ffmpeg_profiles", .type = SCHEMA_DICT,
	  .offset = CF(profiles), .max = 1000, .sub = &profile_schema },
	{ .name = "streams", .type = SCHEMA_LIST, .offset = CF(streams),
	  .max = 1000000, .sub = &channel_schema },
	{ .name = "scheduled_streams", .type = SCHEMA_LIST,
	  .offset = CF(scheduled_streams), .max = 1000000,
	  .sub = &channel_schema },
	{ .name = "epg_sources", .type = SCHEMA_LIST,
	  .offset = CF(epg_sources), .max = 1000, .sub = &epg_source_schema },
	{ .name = "webhooks", .type = SCHEMA_LIST, .offset = CF(webhooks),
	  .max = 1000, .sub = &webhook_schema },
	{ .name = "plugins", .type = SCHEMA_LIST, .offset = CF(plugins),
	  .max = 1000, .sub = &plugin_schema },
	{ .name = NULL }
};

const struct schema config_schema = {
	.name = "config", .size = sizeof(struct config),
	.fields = config_fields,
};

char *
conf_error_string(const struct conf_error *err)
{
	struct buf	b = BUF_INIT;

	buf_adds(&b, err->file != NULL ? err->file : "amps.conf");
	if (err->line > 0)
		buf_addf(&b, ":%d", err->line);
	if (err->key != NULL && *err->key != '\0')
		buf_addf(&b, ": %s", err->key);
	buf_addf(&b, ": %s", err->message != NULL ? err->message : "error");
	return (buf_detach(&b));
}

void
conf_error_clear(struct conf_error *err)
{
	if (err == NULL)
		return;
	free(err->file);
	free(err->key);
	free(err->message);
	memset(err, 0, sizeof *err);
}

static int
set_error(struct conf_error *err, const char *file, int line,
    const char *key, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
set_error(struct conf_error *err, const char *file, int line,
    const char *key, const char *fmt, ...)
{
	va_list	ap;

	conf_error_clear(err);
	err->file = xstrdup(file);
	err->line = line;
	err->key = xstrdup(key);
	va_start(ap, fmt);
	xvasprintf(&err->message, fmt, ap);
	va_end(ap);
	return (-1);
}

struct config *
conf_new(void)
{
	struct config	*cfg;

	cfg = xcalloc(1, sizeof *cfg);
	schema_defaults(&config_schema, cfg);
	return (cfg);
}

void
conf_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	schema_free(&config_schema, cfg);
	free(cfg->file);
	free(cfg->dir);
	free(cfg);
}

const char *
conf_default_path(void)
{
	const char	*env;

	env = getenv("AMPS_CONF");
	if (env != NULL && *env != '\0')
		return (env);
	return (SYSCONFDIR "/amps/amps.conf");
}

const struct profile *
conf_profile(const struct config *cfg, const char *name)
{
	const struct profile	*p;
	size_t			 i;

	for (i = 0; i < cfg->profiles.n; i++) {
		p = schema_list_at(&profile_schema, &cfg->profiles, i);
		if (strcmp(p->name, name) == 0)
			return (p);
	}
	return (profile_builtin(name));
}

/* libconfig's tree as JSON, so that one validator (schema.c) serves the
 * config file and the API alike. */
static json_object *
setting_to_json(config_setting_t *s)
{
	config_setting_t	*e;
	json_object		*j;
	int			 i, n;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP:
		j = json_object_new_object();
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			e = config_setting_get_elem(s, i);
			json_object_object_add(j, config_setting_name(e),
			    setting_to_json(e));
		}
		return (j);
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		j = json_object_new_array();
		n = config_setting_length(s);
		for (i = 0; i < n; i++)
			json_object_array_add(j,
			    setting_to_json(config_setting_get_elem(s, i)));
		return (j);
	case CONFIG_TYPE_INT:
		return (json_object_new_int64(config_setting_get_int(s)));
	case CONFIG_TYPE_INT64:
		return (json_object_new_int64(config_setting_get_int64(s)));
	case CONFIG_TYPE_FLOAT:
		return (json_object_new_double(config_setting_get_float(s)));
	case CONFIG_TYPE_STRING:
		return (json_object_new_string(config_setting_get_string(s)));
	case CONFIG_TYPE_BOOL:
		return (json_object_new_boolean(config_setting_get_bool(s)));
	}
	return (NULL);
}

/* Finds the setting that an error path ("streams[2].name") names, or the
 * deepest one that exists (the group that lacks a required key). */
static config_setting_t *
setting_at(config_t *c, const char *path)
{
	config_setting_t	*s = config_root_setting(c), *next;
	char			*copy, *p, *name, *end;
	long			 idx;

	copy = xstrdup(path);
	p = copy;
	while (*p != '\0' && s != NULL) {
		if (*p == '.')
			p++;
		if (*p == '[') {
			idx = strtol(p + 1, &end, 10);
			if (*end != ']')
				break;
			next = config_setting_get_elem(s, (unsigned)idx);
			p = end + 1;
		} else {
			name = p;
			p += strcspn(p, ".[");
			if (*p != '\0') {
				char	save = *p;

				*p = '\0';
				next = config_setting_is_group(s) ?
				    config_setting_get_member(s, name) : NULL;
				*p = save;
			} else
				next = config_setting_is_group(s) ?
				    config_setting_get_member(s, name) : NULL;
		}
		if (next == NULL)
			break;
		s = next;
	}
	free(copy);
	return (s);
}

static int
has_scheme(const char *s)
{
	const char	*p = s;

	if (strstr(s, "://") != NULL)
		return (1);
	if (!isalpha((unsigned char)*p))
		return (0);
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.')
		p++;
	return (*p == ':' && p - s > 1);
}

/* Lexical clean-up of an absolute path: "//", "/./" and "x/.." go, as
 * they would in the shell's cd -L (links are not followed). */
static void
clean_path(char *path)
{
	char	*in = path, *out = path;

	while (*in != '\0') {
		if (in[0] == '/' && in[1] == '/') {
			in++;
		} else if (in[0] == '/' && in[1] == '.' &&
		    (in[2] == '/' || in[2] == '\0')) {
			in += 2;
		} else if (in[0] == '/' && in[1] == '.' && in[2] == '.' &&
		    (in[3] == '/' || in[3] == '\0')) {
			in += 3;
			while (out > path && *--out != '/')
				;
		} else
			*out++ = *in++;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

static void
resolve(char **path, const char *dir)
{
	char	*abs;

	if (*path == NULL || dir == NULL)
		return;
	if (**path == '/')
		abs = xstrdup(*path);
	else
		abs = xprintf("%s/%s", dir, *path);
	clean_path(abs);
	free(*path);
	*path = abs;
}

static void
resolve_source(char **source, const char *input_format, const char *dir)
{
	if (*source == NULL || input_format != NULL || has_scheme(*source))
		return;
	resolve(source, dir);
}

/* Relative paths are relative to the config file's folder. */
static void
resolve_paths(struct config *cfg)
{
	struct channel		*ch;
	struct variant		*v;
	struct epg_source	*e;
	struct plugin		*p;
	struct objlist		*lists[2];
	size_t			 i, j, k;
	char			*slash;

	resolve(&cfg->server.media_root, cfg->dir);
	resolve(&cfg->server.database, cfg->dir);
	resolve(&cfg->server.control_socket, cfg->dir);
	if (cfg->server.ws_socket == NULL) {
		/* Beside the control socket: a folder the web server may
		 * reach already, and short enough for a socket's path. */
		slash = strrchr(cfg->server.control_socket, '/');
		cfg->server.ws_socket = xprintf("%.*s/ws.sock",
		    slash != NULL ? (int)(slash - cfg->server.control_socket) :
		    0, cfg->server.control_socket);
	} else
		resolve(&cfg->server.ws_socket, cfg->dir);
	resolve(&cfg->server.log_file, cfg->dir);
	lists[0] = &cfg->streams;
	lists[1] = &cfg->scheduled_streams;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < lists[k]->n; i++) {
			ch = schema_list_at(&channel_schema, lists[k], i);
			resolve_source(&ch->source, ch->input_format, cfg->dir);
			resolve(&ch->custom_ffmpeg.cwd, cfg->dir);
			for (j = 0; j < ch->adaptive_bitrates.n; j++) {
				v = schema_list_at(&variant_schema,
				    &ch->adaptive_bitrates, j);
				resolve_source(&v->source, ch->input_format,
				    cfg->dir);
				resolve(&v->custom_ffmpeg.cwd, cfg->dir);
			}
		}
	}
	for (i = 0; i < cfg->epg_sources.n; i++) {
		e = schema_list_at(&epg_source_schema, &cfg->epg_sources, i);
		resolve(&e->path, cfg->dir);
	}
	for (i = 0; i < cfg->plugins.n; i++) {
		p = schema_list_at(&plugin_schema, &cfg->plugins, i);
		if (strchr(p->module, '/') != NULL)
			resolve(&p->module, cfg->dir);
	}
}

/* Checks that span objects: unique ids across both stream lists, profiles
 * that exist, unique names.  Returns 0, or -1 with *path (caller frees)
 * and *cause. */
static int
check_config(struct config *cfg, char **path, char **cause)
{
	const char		*lname[2] = { "streams", "scheduled_streams" };
	struct objlist		*lists[2];
	const struct channel	*ch, *other;
	const struct variant	*v;
	const struct epg_source	*e, *f;
	const struct webhook	*w, *x;
	size_t			 i, j, k, m, n;

	lists[0] = &cfg->streams;
	lists[1] = &cfg->scheduled_streams;
	for (k = 0; k < 2; k++) {
		for (i = 0; i < lists[k]->n; i++) {
			ch = schema_list_at(&channel_schema, lists[k], i);
			for (m = 0; m <= k; m++) {
				n = (m == k) ? i : lists[m]->n;
				for (j = 0; j < n; j++) {
					other = schema_list_at(&channel_schema,
					    lists[m], j);
					if (other->id != ch->id)
						continue;
					*path = xprintf("%s[%zu].id", lname[k],
					    i);
					*cause = xprintf("id %lld is already "
					    "used by %s[%zu] (\"%s\")", ch->id,
					    lname[m], j, other->name);
					return (-1);
				}
			}
			if (ch->ffmpeg_profile != NULL &&
			    conf_profile(cfg, ch->ffmpeg_profile) == NULL) {
				*path = xprintf("%s[%zu].ffmpeg_profile",
				    lname[k], i);
				*cause = xprintf("no profile '%s' in "
				    "ffmpeg_profiles (built in: copy, audio)",
				    ch->ffmpeg_profile);
				return (-1);
			}
			for (j = 0; j < ch->adaptive_bitrates.n; j++) {
				v = schema_list_at(&variant_schema,
				    &ch->adaptive_bitrates, j);
				if (v->ffmpeg_profile == NULL ||
				    conf_profile(cfg, v->ffmpeg_profile) != NULL)
					continue;
				*path = xprintf("%s[%zu].adaptive_bitrates[%zu]"
				    ".ffmpeg_profile", lname[k], i, j);
				*cause = xprintf("no profile '%s' in "
				    "ffmpeg_profiles (built in: copy, audio)",
				    v->ffmpeg_profile);
				return (-1);
			}
		}
	}
	for (i = 0; i < cfg->epg_sources.n; i++) {
		e = schema_list_at(&epg_source_schema, &cfg->epg_sources, i);
		for (j = 0; j < i; j++) {
			f = schema_list_at(&epg_source_schema,
			    &cfg->epg_sources, j);
			if (strcmp(e->name, f->name) == 0) {
				*path = xprintf("epg_sources[%zu].name", i);
				*cause = xprintf("source '%s' is defined twice",
				    e->name);
				return (-1);
			}
		}
	}
	for (i = 0; i < cfg->webhooks.n; i++) {
		w = schema_list_at(&webhook_schema, &cfg->webhooks, i);
		for (j = 0; w->name != NULL && j < i; j++) {
			x = schema_list_at(&webhook_schema, &cfg->webhooks, j);
			if (x->name != NULL && strcmp(w->name, x->name) == 0) {
				*path = xprintf("webhooks[%zu].name", i);
				*cause = xprintf("webhook '%s' is defined "
				    "twice", w->name);
				return (-1);
			}
		}
	}
	return (0);
}

static void
mark_scheduled(struct config *cfg)
{
	struct channel	*ch;
	size_t		 i;

	for (i = 0; i < cfg->scheduled_streams.n; i++) {
		ch = schema_list_at(&channel_schema, &cfg->scheduled_streams, i);
		ch->scheduled = 1;
	}
}

/* name is the file as loaded (cfg->file), shown as display in errors.
 * With server_only, only the server block is read and checked. */
static int
load(config_t *c, const char *name, const char *display, const char *dir,
    int server_only, struct config **out, struct conf_error *err)
{
	struct config		*cfg;
	struct schema_error	 serr = { NULL, NULL };
	config_setting_t	*s;
	json_object		*root;
	const char		*file;
	char			*path = NULL, *cause = NULL;
	int			 rc;

	if (server_only) {
		root = json_object_new_object();
		s = config_setting_get_member(config_root_setting(c), "server");
		if (s != NULL)
			json_object_object_add(root, "server",
			    setting_to_json(s));
	} else
		root = setting_to_json(config_root_setting(c));
	cfg = conf_new();
	cfg->file = xstrdup(name);
	cfg->dir = xstrdup(dir);

	rc = schema_from_json(&config_schema, root, cfg, 0, "", &serr);
	json_object_put(root);
	if (rc == 0) {
		mark_scheduled(cfg);
		rc = check_config(cfg, &path, &cause);
		if (rc != 0) {
			serr.path = path;
			serr.message = cause;
		}
	}
	if (rc != 0) {
		s = setting_at(c, serr.path);
		file = s != NULL ? config_setting_source_file(s) : NULL;
		if (file == NULL || strcmp(file, name) == 0)
			path = xstrdup(display);
		else if (*file != '/' && dir != NULL)
			path = xprintf("%s/%s", dir, file);	/* @include */
		else
			path = xstrdup(file);
		set_error(err, path, s != NULL ?
		    (int)config_setting_source_line(s) : 0, serr.path, "%s",
		    serr.message);
		free(path);
		schema_error_clear(&serr);
		conf_free(cfg);
		return (-1);
	}
	resolve_paths(cfg);
	*out = cfg;
	return (0);
}

/* libconfig 1.5 (Debian 12) wraps an integer beyond 32 bits that has no
 * L suffix instead of refusing it, so 5000000000 would load as
 * 705032704.  The text is scanned first for such literals, skipping
 * strings and comments; key is the setting name before the literal. */
static int
check_int_literals(const char *text, const char *name,
    struct conf_error *err)
{
	const char	*p = text, *start;
	char		 key[64] = "", word[64];
	size_t		 n;
	int		 line = 1, neg;
	unsigned long long v;

	while (*p != '\0') {
		if (*p == '\n') {
			line++;
			p++;
		} else if (*p == '"') {
			for (p++; *p != '\0' && *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				else if (*p == '\n')
					line++;
			}
			if (*p == '"')
				p++;
		} else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/');
			    p++) {
				if (*p == '\n')
					line++;
			}
			if (*p != '\0')
				p += 2;
		} else if (isalpha((unsigned char)*p) || *p == '*') {
			/* A name: remember it as the key of what follows. */
			start = p;
			while (isalnum((unsigned char)*p) || *p == '_' ||
			    *p == '-' || *p == '*')
				p++;
			n = (size_t)(p - start) < sizeof word ?
			    (size_t)(p - start) : sizeof word - 1;
			memcpy(word, start, n);
			word[n] = '\0';
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '=' || *p == ':')
				snprintf(key, sizeof key, "%s", word);
		} else if (isdigit((unsigned char)*p) || ((*p == '-' ||
		    *p == '+') && isdigit((unsigned char)p[1]))) {
			neg = *p == '-';
			if (*p == '-' || *p == '+')
				p++;
			start = p;
			v = 0;
			if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
				for (p += 2; isxdigit((unsigned char)*p); p++)
					v = v > 0xffffffffffULL ? v : v * 16 +
					    (unsigned)(isdigit((unsigned char)*p) ?
					    *p - '0' : (tolower((unsigned char)*p) -
					    'a' + 10));
			} else {
				for (; isdigit((unsigned char)*p); p++)
					v = v > 0xffffffffffULL ? v :
					    v * 10 + (unsigned)(*p - '0');
			}
			if (*p == '.' || *p == 'e' || *p == 'E' || *p == 'L')
				while (isalnum((unsigned char)*p) || *p == '.' ||
				    ((*p == '-' || *p == '+') &&
				    (p[-1] == 'e' || p[-1] == 'E')))
					p++;
			else if (v > (neg ? 0x80000000ULL : 0x7fffffffULL))
				return (set_error(err, name, line, key[0] !=
				    '\0' ? key : NULL, "%s%.*s does not fit in "
				    "32 bits: write it with an L suffix "
				    "(%s%.*sL)", neg ? "-" : "",
				    (int)(p - start), start, neg ? "-" : "",
				    (int)(p - start), start));
		} else
			p++;
	}
	return (0);
}

static void
setup(config_t *c, const char *dir)
{
	config_init(c);
	if (dir != NULL)
		config_set_include_dir(c, dir);
}

static int
parse_error(config_t *c, const char *name, struct conf_error *err)
{
	const char	*file = config_error_file(c);

	return (set_error(err, file != NULL ? file : name,
	    config_error_line(c), NULL, "%s", config_error_text(c) != NULL ?
	    config_error_text(c) : "cannot be read"));
}

/* The whole file, or NULL (libconfig then reports why it cannot read
 * it). */
static char *
read_text(const char *path)
{
	FILE	*f;
	char	*text = NULL;
	size_t	 len = 0;
	ssize_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return (NULL);
	n = getdelim(&text, &len, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		return (NULL);
	}
	return (text);
}

static int
read_file(const char *path, int server_only, struct config **out,
    struct conf_error *err)
{
	config_t	 c;
	char		*abs, *dir, *tmp, *text;
	int		 rc;

	memset(err, 0, sizeof *err);
	abs = realpath(path, NULL);
	if (abs == NULL)
		return (set_error(err, path, 0, NULL, "%s", strerror(errno)));
	tmp = xstrdup(abs);
	dir = xstrdup(dirname(tmp));
	free(tmp);

	text = read_text(abs);
	if (text != NULL && check_int_literals(text, path, err) != 0) {
		free(text);
		free(abs);
		free(dir);
		return (-1);
	}
	free(text);
	setup(&c, dir);
	if (config_read_file(&c, abs) != CONFIG_TRUE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
			rc = set_error(err, path, 0, NULL, "cannot be read");
		else
			rc = parse_error(&c, path, err);
	} else
		rc = load(&c, abs, path, dir, server_only, out, err);
	config_destroy(&c);
	free(abs);
	free(dir);
	return (rc);
}

int
conf_load(const char *path, struct config **out, struct conf_error *err)
{
	return (read_file(path, 0, out, err));
}

int
conf_load_server(const char *path, struct config **out,
    struct conf_error *err)
{
	return (read_file(path, 1, out, err));
}

int
conf_load_string(const char *text, const char *name, const char *dir,
    struct config **out, struct conf_error *err)
{
	config_t	c;
	int		rc;

	memset(err, 0, sizeof *err);
	if (check_int_literals(text, name, err) != 0)
		return (-1);
	setup(&c, dir);
	if (config_read_string(&c, text) != CONFIG_TRUE)
		rc = parse_error(&c, name, err);
	else
		rc = load(&c, name, name, dir, 0, out, err);
	config_destroy(&c);
	return (rc);
}

/* JSON back into libconfig's tree: objects are groups, lists of scalars of
 * one type are arrays, other lists are lists. */
static void
json_to_setting(config_setting_t *parent, const char *name, json_object *v)
{
	config_setting_t	*s;
	json_object		*e;
	enum json_type		 t0;
	size_t			 i, n;
	int			 type, homogeneous;
	int64_t			 iv;

	switch (json_object_get_type(v)) {
	case json_type_object:
		s = config_setting_add(parent, name, CONFIG_TYPE_GROUP);
		json_object_object_foreach(v, key, val)
			json_to_setting(s, key, val);
		return;
	case json_type_array:
		n = json_object_array_length(v);
		homogeneous = n > 0;
		t0 = n > 0 ? json_object_get_type(
		    json_object_array_get_idx(v, 0)) : json_type_null;
		for (i = 0; i < n && homogeneous; i++) {
			e = json_object_array_get_idx(v, i);
			if (json_object_get_type(e) != t0 ||
			    t0 == json_type_object || t0 == json_type_array ||
			    (t0 == json_type_int && (json_object_get_int64(e) >
			    INT32_MAX || json_object_get_int64(e) < INT32_MIN)))
				homogeneous = 0;
		}
		type = homogeneous ? CONFIG_TYPE_ARRAY : CONFIG_TYPE_LIST;
		s = config_setting_add(parent, name, type);
		for (i = 0; i < n; i++)
			json_to_setting(s, NULL, json_object_array_get_idx(v,
			    i));
		return;
	case json_type_int:
		iv = json_object_get_int64(v);
		if (iv > INT32_MAX || iv < INT32_MIN) {
			s = config_setting_add(parent, name, CONFIG_TYPE_INT64);
			config_setting_set_int64(s, iv);
		} else {
			s = config_setting_add(parent, name, CONFIG_TYPE_INT);
			config_setting_set_int(s, (int)iv);
		}
		return;
	case json_type_double:
		s = config_setting_add(parent, name, CONFIG_TYPE_FLOAT);
		config_setting_set_float(s, json_object_get_double(v));
		return;
	case json_type_boolean:
		s = config_setting_add(parent, name, CONFIG_TYPE_BOOL);
		config_setting_set_bool(s, json_object_get_boolean(v));
		return;
	case json_type_string:
		s = config_setting_add(parent, name, CONFIG_TYPE_STRING);
		config_setting_set_string(s, json_object_get_string(v));
		return;
	case json_type_null:
		return;
	}
}

/* The config as written back: built-in profiles that were not overridden
 * are left out, and so are plain-text secrets that have a hash. */
static json_object *
export_json(const struct config *cfg)
{
	struct config	 copy;
	struct profile	*p;
	struct objlist	 kept = { NULL, 0 };
	json_object	*j;
	size_t		 i;

	memcpy(&copy, cfg, sizeof copy);
	for (i = 0; i < cfg->profiles.n; i++) {
		p = schema_list_at(&profile_schema, &cfg->profiles, i);
		if (p->builtin)
			continue;
		kept.v = xreallocarray(kept.v, kept.n + 1,
		    profile_schema.size);
		memcpy(schema_list_at(&profile_schema, &kept, kept.n), p,
		    profile_schema.size);
		kept.n++;
	}
	copy.profiles = kept;
	j = schema_to_json(&config_schema, &copy, SCHEMA_JSON_EXPORT);
	free(kept.v);
	return (j);
}

char *
conf_to_string(const struct config *cfg)
{
	config_t	 c;
	json_object	*j;
	FILE		*f;
	char		*text = NULL, tbuf[TIMEFMT_BUFSIZE];
	size_t		 len = 0;

	config_init(&c);
	config_set_options(&c, CONFIG_OPTION_SEMICOLON_SEPARATORS);
	config_set_tab_width(&c, 2);
	j = export_json(cfg);
	json_object_object_foreach(j, key, val)
		json_to_setting(config_root_setting(&c), key, val);
	json_object_put(j);

	f = open_memstream(&text, &len);
	if (f == NULL)
		abort();
	fprintf(f, "# amps.conf, written by amps save at %s.\n"
	    "# The previous file, with its comments, is kept as .bak.\n\n",
	    timefmt_format_iso8601((int64_t)time(NULL), tbuf, sizeof tbuf));
	config_write(&c, f);
	fclose(f);
	config_destroy(&c);
	return (text);
}

int
conf_write(const struct config *cfg, const char *path, char **cause)
{
	char	*text, *tmp = NULL, *bak = NULL;
	size_t	 len, off = 0;
	ssize_t	 n;
	int	 fd = -1, rc = -1;
	struct stat st;
	mode_t	 mode = 0640;

	text = conf_to_string(cfg);
	len = strlen(text);
	if (stat(path, &st) == 0)
		mode = st.st_mode & 0777;
	tmp = xprintf("%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd == -1) {
		*cause = xprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*cause = xprintf("%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		*cause = xprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	n = close(fd);
	fd = -1;
	if (n != 0) {
		*cause = xprintf("%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (access(path, F_OK) == 0) {
		bak = xprintf("%s.bak", path);
		unlink(bak);
		if (link(path, bak) != 0) {
			*cause = xprintf("%s: %s", bak, strerror(errno));
			goto out;
		}
	}
	if (rename(tmp, path) != 0) {
		*cause = xprintf("%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc != 0 && tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(bak);
	free(text);
	return (rc);
}

int
conf_check(const struct config *cfg, char **cause)
{
	struct config		*again = NULL;
	struct conf_error	 err;
	char			*text, *line;
	int			 rc;

	text = conf_to_string(cfg);
	rc = conf_load_string(text, "the saved config", NULL, &again, &err);
	free(text);
	if (rc != 0) {
		line = conf_error_string(&err);
		*cause = xprintf("it would not load: %s", line);
		free(line);
		conf_error_clear(&err);
		return (-1);
	}
	conf_free(again);
	return (0);
}
