#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "xmalloc.h"

static int
unreserved(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~');
}

/* Locale independent; returns -1 for anything but a hex digit. */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* RFC 3986 section 2.1 and 2.3: upper-case hex, only unreserved left
 * alone, so the result is safe in a path segment and in a query. */
char *
escape_url(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct buf		 b = BUF_INIT;
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (unreserved(*p))
			buf_addc(&b, (char)*p);
		else {
			buf_addc(&b, '%');
			buf_addc(&b, hex[*p >> 4]);
			buf_addc(&b, hex[*p & 0xf]);
		}
	}
	return (buf_detach(&b));
}

/* Decodes a path segment or (plus set) an
 * application/x-www-form-urlencoded query value; a malformed escape is an
 * error rather than passed through, so callers can answer 400. */
char *
escape_url_decode(const char *s, size_t n, int plus, size_t *len)
{
	char	*out;
	size_t	 i, o = 0;
	int	 hi, lo;

	out = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			if (n - i < 3 || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0) {
				free(out);
				return (NULL);
			}
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus && s[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = s[i];
	}
	out[o] = '\0';
	if (len != NULL)
		*len = o;
	return (out);
}
