#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

/* One snapshot per worker thread: each thread has its own store
 * connection, so there is nothing to share or lock. */
static __thread struct site	*current;
static __thread struct store	*current_store;

void
site_free(struct site *site)
{
	if (site == NULL)
		return;
	free(site->base_url);
	free(site->token_hash);
	free(site->config_file);
	free(site->media_root);
	free(site->store_id);
	free(site->secret);
	free(site->control_socket);
	free(site);
}

/* A setting: 0 with *value (NULL when absent: the default applies), or
 * -1 when it cannot be read. */
static int
setting(struct store *s, const char *key, char **value)
{
	char	*cause = NULL;
	int	 rc;

	*value = NULL;
	rc = store_setting_get(s, key, value, &cause);
	free(cause);
	if (rc == ENOENT)
		return (0);
	return (rc == 0 ? 0 : -1);
}

/* A positive number setting, def when absent or not positive. */
static int
setting_int(struct store *s, const char *key, long long def,
    long long *out)
{
	char	*v;

	if (setting(s, key, &v) != 0)
		return (-1);
	*out = v != NULL ? strtoll(v, NULL, 10) : 0;
	if (*out <= 0)
		*out = def;
	free(v);
	return (0);
}

const struct site *
site_get(struct store *s)
{
	struct site	*site;
	int64_t		 gen;
	char		*v;

	if (s == NULL)
		return (NULL);
	gen = store_generation(s);
	if (current != NULL && current_store == s && current->generation == gen)
		return (current);

	site = xcalloc(1, sizeof *site);
	site->generation = gen;
	if (gen < 0 ||
	    setting(s, "server.base_url", &site->base_url) != 0 ||
	    setting(s, "server.media_root", &site->media_root) != 0 ||
	    setting(s, "auth.token_hash", &site->token_hash) != 0 ||
	    setting(s, "auth.enabled", &v) != 0) {
		site_free(site);
		return (NULL);
	}
	site->auth_enabled = v != NULL && strcmp(v, "true") == 0;
	free(v);
	v = NULL;
	if (store_identity(s, &site->store_id, &v) != 0) {
		free(v);
		site_free(site);
		return (NULL);
	}
	if (store_secret(s, &site->secret, &v) != 0 ||
	    setting(s, "server.control_socket", &site->control_socket) != 0) {
		free(v);
		site_free(site);
		return (NULL);
	}
	if (setting_int(s, "server.max_body_size", 1048576,
	    &site->max_body_size) != 0 ||
	    setting_int(s, "server.media_url_ttl", 86400,
	    &site->media_url_ttl) != 0 ||
	    setting_int(s, "server.ensure_timeout", 15,
	    &site->ensure_timeout) != 0 ||
	    setting_int(s, "server.idle_timeout", 30,
	    &site->idle_timeout) != 0 ||
	    setting(s, "server.playlist_format", &v) != 0) {
		site_free(site);
		return (NULL);
	}
	site->playlist_hls = v != NULL && strcmp(v, "hls") == 0;
	free(v);
	if (sync_config_file(s, &site->config_file, &v) != 0) {
		free(v);
		site->config_file = NULL;
	}
	site_free(current);
	current = site;
	current_store = s;
	return (current);
}

void
site_free_thread(void)
{
	site_free(current);
	current = NULL;
	current_store = NULL;
}
