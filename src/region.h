/* Region rules: ISO 3166-1 alpha-2 country codes, an allow list and a block
 * list per channel, and the viewer's region from a query or CDN header. */
#ifndef AMPS_REGION_H
#define AMPS_REGION_H

#include <stddef.h>

/* Returns 1 if s is an assigned ISO 3166-1 alpha-2 code (either case),
 * also accepting the user-assigned "XK" (Kosovo), which CDNs send; 0
 * otherwise. */
int	 region_valid(const char *s);
/* Upper-cases a two letter code into out[3].  Returns 0, or -1 if s is not
 * a valid code. */
int	 region_normalise(const char *s, char out[3]);
/* Decides whether a viewer may see a channel.  viewer is a normalised code
 * or NULL (unknown).  An empty allow list allows everyone not blocked; a
 * non-empty allow list needs a known viewer in it; the block list always
 * wins.  Returns 1 if permitted. */
int	 region_permits(const char *const *allowed, size_t nallowed,
	    const char *const *blocked, size_t nblocked, const char *viewer);

#endif
