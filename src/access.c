#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "catalog.h"
#include "channel.h"
#include "crypto.h"
#include "region.h"
#include "xmalloc.h"

/* Hex digits of the MAC kept in a token: 128 bits. */
#define MAC_HEX		32

static const struct {
	const char		*prefix;
	enum access_kind	 kind;
	int			 folder;	/* "/hls/<id>/..." */
} media_kinds[] = {
	{ "/hls/", ACCESS_HLS, 1 },
	{ "/dash/", ACCESS_DASH, 1 },
	{ "/stream/", ACCESS_STREAM, 0 },
	{ "/audio/", ACCESS_AUDIO, 0 },
	{ "/ws/", ACCESS_WS, 0 },
	{ "/rec/", ACCESS_REC, 1 },
};

int
access_split(const char *path, char token[ACCESS_TOKEN_MAX],
    const char **rest)
{
	size_t	len, plen = strlen(ACCESS_PREFIX);

	token[0] = '\0';
	*rest = path;
	if (strncmp(path, ACCESS_PREFIX, plen) != 0)
		return (0);
	len = strcspn(path + plen, "/");
	if (len == 0 || len >= ACCESS_TOKEN_MAX || path[plen + len] != '/' ||
	    strspn(path + plen, "0123456789abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-") < len)
		return (-1);
	memcpy(token, path + plen, len);
	token[len] = '\0';
	*rest = path + plen + len;
	return (0);
}

enum access_kind
access_media(const char *path, long long *id, const char **tail)
{
	const char	*p, *end;
	size_t		 i, len;
	long long	 v = 0;

	for (i = 0; i < sizeof media_kinds / sizeof *media_kinds; i++) {
		len = strlen(media_kinds[i].prefix);
		if (strncmp(path, media_kinds[i].prefix, len) == 0)
			break;
	}
	if (i == sizeof media_kinds / sizeof *media_kinds)
		return (ACCESS_NONE);
	p = path + len;
	for (end = p; *end >= '0' && *end <= '9'; end++) {
		if (v > (INT64_MAX - 9) / 10)
			return (ACCESS_NONE);
		v = v * 10 + (*end - '0');
	}
	/* No sign, no leading zero: one spelling per id. */
	if (end == p || *p == '0')
		return (ACCESS_NONE);
	if (media_kinds[i].folder ? *end != '/' : *end != '\0')
		return (ACCESS_NONE);
	*id = v;
	if (tail != NULL)
		*tail = *end == '/' ? end + 1 : end;
	return (media_kinds[i].kind);
}

static void
mac(const char *secret, long long id, int64_t expiry, const char *region,
    char out[MAC_HEX + 1])
{
	char	msg[96], hex[CRYPTO_SHA256_HEXLEN + 1];
	int	n;

	n = snprintf(msg, sizeof msg, "amps-media|%lld|%" PRId64 "|%s", id,
	    expiry, region);
	crypto_hmac_sha256_hex(secret, strlen(secret), msg, (size_t)n, hex);
	memcpy(out, hex, MAC_HEX);
	out[MAC_HEX] = '\0';
}

void
access_sign(const char *secret, long long id, int64_t expiry,
    const char *region, char out[ACCESS_TOKEN_MAX])
{
	char	m[MAC_HEX + 1];

	if (region == NULL || *region == '\0')
		region = "-";
	mac(secret, id, expiry, region, m);
	snprintf(out, ACCESS_TOKEN_MAX, "%" PRId64 ".%s.%s", expiry, region,
	    m);
}

int
access_verify(const char *secret, const char *token, long long id,
    int64_t now, char region[3], char **cause)
{
	const char	*dot1, *dot2, *p;
	char		 reg[3], m[MAC_HEX + 1];
	int64_t		 expiry = 0;
	size_t		 rlen;

	region[0] = '\0';
	dot1 = strchr(token, '.');
	dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || dot1 == token ||
	    dot1 - token > 18 || strlen(dot2 + 1) != MAC_HEX)
		goto malformed;
	for (p = token; p < dot1; p++) {
		if (*p < '0' || *p > '9')
			goto malformed;
		expiry = expiry * 10 + (*p - '0');
	}
	rlen = (size_t)(dot2 - dot1 - 1);
	if (rlen == 1 && dot1[1] == '-')
		strcpy(reg, "-");
	else if (rlen == 2) {
		memcpy(reg, dot1 + 1, 2);
		reg[2] = '\0';
		if (region_normalise(reg, region) != 0 ||
		    strcmp(reg, region) != 0)
			goto malformed;
	} else
		goto malformed;
	mac(secret, id, expiry, reg, m);
	if (!crypto_equal(m, dot2 + 1)) {
		region[0] = '\0';
		*cause = xstrdup("the signed URL is not valid for this "
		    "channel");
		return (-1);
	}
	if (expiry <= now) {
		region[0] = '\0';
		*cause = xstrdup("the signed URL has expired");
		return (-1);
	}
	return (0);
malformed:
	region[0] = '\0';
	*cause = xstrdup("malformed signed URL");
	return (-1);
}

int64_t
access_expiry(int64_t now, long long ttl)
{
	int64_t	t = now + ttl;

	return (t + 3600 - t % 3600);
}

const char *
access_find_credential(access_header_cb header, void *arg,
    const char *query_token)
{
	const char	*v;

	if ((v = header(arg, "X-Amps-Token")) != NULL && *v != '\0')
		return (v);
	if ((v = header(arg, "X-Api-Key")) != NULL && *v != '\0')
		return (v);
	if ((v = header(arg, "Authorization")) != NULL &&
	    strncasecmp(v, "Bearer ", 7) == 0) {
		v += 7;
		while (*v == ' ')
			v++;
		if (*v != '\0')
			return (v);
	}
	if (query_token != NULL && *query_token != '\0')
		return (query_token);
	return (NULL);
}

int
access_header_region(access_header_cb header, void *arg, char out[3])
{
	static const char *const headers[] = {
		"X-Amps-Region", "X-Region", "CF-IPCountry",
		"X-Appengine-Country", NULL
	};
	const char *const	*h;
	const char		*v;

	for (h = headers; *h != NULL; h++) {
		v = header(arg, *h);
		if (v != NULL && region_normalise(v, out) == 0)
			return (0);
	}
	out[0] = '\0';
	return (-1);
}

int
access_credential(struct store *s, const char *token_hash, const char *cred,
    char **cause)
{
	char	 hash[CATALOG_HASH_SIZE], *role = NULL, *why = NULL;
	int	 rc;

	if (cred == NULL || *cred == '\0')
		return (ACCESS_ROLE_NONE);
	catalog_hash_key(cred, hash);
	if (token_hash != NULL && crypto_equal(hash, token_hash))
		return (ACCESS_ROLE_ADMIN);
	rc = catalog_key_check(s, cred, &role, &why);
	if (rc == ENOENT || rc == EACCES) {
		free(why);
		return (ACCESS_ROLE_NONE);
	}
	if (rc != 0) {
		*cause = why;
		return (-1);
	}
	free(why);
	rc = strcmp(role, "admin") == 0 ? ACCESS_ROLE_ADMIN :
	    ACCESS_ROLE_VIEWER;
	free(role);
	return (rc);
}

int
access_channel(const struct channel *ch, const char *region, int64_t now,
    char **cause)
{
	if (now >= 0 && !channel_in_window(ch, now)) {
		*cause = xprintf("stream %lld is not on now", ch->id);
		return (ENOENT);
	}
	if (!channel_region_permits(ch, region)) {
		*cause = xprintf("stream %lld is not available in %s", ch->id,
		    region != NULL ? region : "an unknown region");
		return (EACCES);
	}
	return (0);
}
