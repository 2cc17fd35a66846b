/* The filters that the playlist, the guide and the API lists share (P3):
 * region (query, or the X-Amps-Region, X-Region, CF-IPCountry and
 * X-Appengine-Country headers: route_process resolves it into
 * request.region), group (comma list, case-insensitive), ids (comma list)
 * and the time window (P6).  Region rules (P5) always apply: a viewer
 * outside a channel's allow list, or inside its block list, does not see
 * it. */
#ifndef AMPS_CGI_FILTER_H
#define AMPS_CGI_FILTER_H

#include "catalog.h"
#include "request.h"

struct filter {
	struct catalog_filter	 cf;
	struct strlist		 groups;
	long long		*ids;
	size_t			 nids;
	int64_t			 minute;	/* now, to the minute: the next
						   programme moves with it */
	int64_t			 window;	/* catalog_window_epoch */
};

/* Fills f from r's query.  Returns 0, or EINVAL with *cause for a bad
 * ids list (EIO when the store fails).  Free with filter_free. */
int	 filter_from_request(struct filter *f, const struct request *r,
	    char **cause);
void	 filter_free(struct filter *f);
/* A short text that identifies the filter, for ETag variants. */
char	*filter_key(const struct filter *f, const struct request *r);

#endif
