/* Escaping by context.  URL components here (RFC 3986); M3U attributes and
 * XML have their own writers. */
#ifndef AMPS_ESCAPE_H
#define AMPS_ESCAPE_H

#include <stddef.h>

/* Percent-encodes everything but the RFC 3986 unreserved characters
 * (A-Z a-z 0-9 - . _ ~).  Returns a new string (caller frees). */
char	*escape_url(const char *s);
/* Decodes %XX and, when plus is non-zero, '+' as space (query strings).
 * Returns a new string (caller frees) with its length in *len (it may
 * contain NULs), or NULL if a '%' is not followed by two hex digits. */
char	*escape_url_decode(const char *s, size_t n, int plus, size_t *len);

#endif
