/* Who may fetch a media URL (P5, A2): the responder's media routes, its
 * FastCGI authorizer role in front of the web server's static media, and
 * streamd's WebSocket listener all decide with these functions.
 *
 * Media URLs that a playlist hands out carry a signed, expiring token in
 * their path: /m/<token>/hls/12/index.m3u8.  A player resolves a
 * playlist's relative segment URLs against it, so every segment request
 * carries the token too, and the web server still serves the segment as
 * a static file once the authorizer said yes.  The token is
 * "<expiry>.<region or ->.<mac>": the expiry in epoch seconds, the
 * viewer's region when the playlist was made, and HMAC-SHA256 over the
 * channel id, the expiry and the region with the database's secret
 * (store_secret), truncated to 128 bits as hex.  A token covers one
 * channel: its HLS and DASH folders, /stream, /audio and /ws. */
#ifndef AMPS_ACCESS_H
#define AMPS_ACCESS_H

#include <stdint.h>

struct channel;
struct store;

/* The path prefix of a signed media URL. */
#define ACCESS_PREFIX		"/m/"
/* Room for a token and its NUL. */
#define ACCESS_TOKEN_MAX	64

/* What a media path names. */
enum access_kind {
	ACCESS_NONE = 0,	/* not a media path */
	ACCESS_HLS,		/* /hls/<id>/... */
	ACCESS_DASH,		/* /dash/<id>/... */
	ACCESS_STREAM,		/* /stream/<id> */
	ACCESS_AUDIO,		/* /audio/<id> */
	ACCESS_WS,		/* /ws/<id> */
	ACCESS_REC,		/* /rec/<id>/...: recordings and clips */
};

/* The role a credential carries (cgi/request.h has the same order). */
enum access_role {
	ACCESS_ROLE_NONE = 0,
	ACCESS_ROLE_VIEWER,
	ACCESS_ROLE_ADMIN,
};

/* Splits a decoded request path.  With the signed prefix
 * ("/m/<token>/rest"), copies the token into token[ACCESS_TOKEN_MAX] and
 * sets *rest to "/rest" inside path; otherwise token is "" and *rest is
 * path.  Returns 0, or -1 for a "/m/" path without a well-formed token
 * (too long, empty, characters outside [0-9A-Za-z.-]). */
int	 access_split(const char *path, char token[ACCESS_TOKEN_MAX],
	    const char **rest);
/* Parses the channel that a media path (without the signed prefix)
 * names: "/hls/12/index.m3u8" is ACCESS_HLS, 12, tail "index.m3u8";
 * "/stream/12" is ACCESS_STREAM, 12, tail "".  Returns ACCESS_NONE when
 * path is no media path or the id is not a positive number.  tail may be
 * NULL. */
enum access_kind access_media(const char *path, long long *id,
	    const char **tail);
/* Writes the token for channel id, valid until expiry, for a viewer of
 * region (a normalised code, or NULL) into out[ACCESS_TOKEN_MAX].  secret
 * is store_secret's hex text. */
void	 access_sign(const char *secret, long long id, int64_t expiry,
	    const char *region, char out[ACCESS_TOKEN_MAX]);
/* Checks a token for channel id at time now.  Returns 0 and copies the
 * region it carries into region[3] ("" when none), or -1 with *cause
 * (caller frees): malformed, expired, or not signed by this secret.
 * The MAC is compared in constant time. */
int	 access_verify(const char *secret, const char *token, long long id,
	    int64_t now, char region[3], char **cause);
/* The expiry to sign now with a time to live of ttl seconds, rounded up
 * to a whole hour past now + ttl, so that a playlist asked for again
 * within the hour carries the same URLs (its cached answer stays
 * valid). */
int64_t	 access_expiry(int64_t now, long long ttl);
/* Where a caller's request headers come from (the responder's
 * meta-variables, streamd's own parse): the value of the header name, or
 * NULL. */
typedef const char *(*access_header_cb)(void *arg, const char *name);
/* The credential of a request, from the places A2 names, in order:
 * X-Amps-Token, X-Api-Key, Authorization: Bearer, then query_token (the
 * ?token= value, may be NULL).  NULL when there is none. */
const char *access_find_credential(access_header_cb header, void *arg,
	    const char *query_token);
/* The viewer's region from the CDN headers (X-Amps-Region, X-Region,
 * CF-IPCountry, X-Appengine-Country: the first valid one), normalised
 * into out[3].  Returns 0, or -1 when none says (invalid values are
 * skipped: a bad header means an unknown region, not an error). */
int	 access_header_region(access_header_cb header, void *arg,
	    char out[3]);
/* The role of a credential: the shared token (its hash token_hash, from
 * the settings, may be NULL) is admin, an API key has its own role.
 * Hashes are compared in constant time.  Returns the role
 * (ACCESS_ROLE_NONE for an unknown credential), or -1 with *cause when
 * the store cannot answer. */
int	 access_credential(struct store *s, const char *token_hash,
	    const char *cred, char **cause);
/* Whether a viewer of region (normalised, or NULL when unknown) may
 * watch ch at time now: 0; EACCES when its region rules refuse the
 * viewer; ENOENT when ch is outside its time window (P6: it does not
 * exist then).  A negative now skips the window (recordings).  *cause is set (caller frees) when not 0. */
int	 access_channel(const struct channel *ch, const char *region,
	    int64_t now, char **cause);

#endif
