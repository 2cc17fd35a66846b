/* What the responder needs from the settings (the server and auth blocks
 * of amps.conf, as imported into the store), read once and refreshed when
 * the store's generation moves. */
#ifndef AMPS_CGI_SITE_H
#define AMPS_CGI_SITE_H

#include <stdint.h>

struct store;

struct site {
	int64_t		 generation;
	char		*base_url;	/* NULL: from the Host header */
	int		 auth_enabled;
	char		*token_hash;	/* "sha256:<hex>" or NULL */
	long long	 max_body_size;
	char		*config_file;	/* for POST /api/admin/save */
	char		*media_root;
	char		*store_id;	/* this database's identity */
	char		*secret;	/* signs media URLs (access.h) */
	char		*control_socket;	/* streamd's */
	int		 playlist_hls;	/* playlist_format = "hls" */
	long long	 media_url_ttl;	/* seconds */
	long long	 ensure_timeout;	/* seconds */
	long long	 idle_timeout;	/* seconds */
};

/* Returns the current snapshot for s (reloaded when the generation moved),
 * or NULL when s is NULL or a setting cannot be read (the caller then
 * refuses the request: auth must never fail open).  Owned by the process; valid until the next
 * call from the same thread. */
const struct site *site_get(struct store *s);
void	 site_free(struct site *site);
/* Frees the calling thread's snapshot (when a worker ends). */
void	 site_free_thread(void);

#endif
