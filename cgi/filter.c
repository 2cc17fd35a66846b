#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "filter.h"
#include "xmalloc.h"

/* Splits "a,b , c" into trimmed, non-empty parts. */
static void
split_list(const char *s, struct strlist *out)
{
	const char	*p = s, *end;
	char		*part;
	size_t		 n;

	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		n = (size_t)(end - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n > 0) {
			part = xstrndup(p, n);
			strlist_add(out, part);
			free(part);
		}
		p = *end == ',' ? end + 1 : end;
	}
}

int
filter_from_request(struct filter *f, const struct request *r, char **cause)
{
	struct strlist	 ids = { NULL, 0 };
	char		*end;
	long long	 v;
	size_t		 i;
	int		 have_ids = 0;

	memset(f, 0, sizeof *f);
	/* Windows apply to the second; the next programme moves with the
	 * minute.  The cache key (filter_key) names both, so that one key
	 * always names one answer. */
	f->cf.now = (int64_t)time(NULL);
	f->minute = f->cf.now / 60 * 60;
	if (r->store != NULL && catalog_window_epoch(r->store, f->cf.now,
	    &f->window, cause) != 0)
		return (EIO);
	f->cf.region = r->region;
	/* Region rules always apply: an unknown viewer does not see a
	 * channel that has an allow list (P5). */
	f->cf.region_known = 1;
	for (i = 0; i < r->query.n; i++) {
		if (strcmp(r->query.v[i].key, "group") == 0)
			split_list(r->query.v[i].value, &f->groups);
		else if (strcmp(r->query.v[i].key, "ids") == 0) {
			split_list(r->query.v[i].value, &ids);
			have_ids = 1;
		}
	}
	for (i = 0; i < ids.n; i++) {
		v = strtoll(ids.v[i], &end, 10);
		if (!isdigit((unsigned char)ids.v[i][0]) || *end != '\0' ||
		    v < 1 || v > 2147483647) {
			*cause = xprintf("ids: '%s' is not a channel id",
			    ids.v[i]);
			strlist_free(&ids);
			filter_free(f);
			return (EINVAL);
		}
		f->ids = xreallocarray(f->ids, f->nids + 1, sizeof *f->ids);
		f->ids[f->nids++] = v;
	}
	strlist_free(&ids);
	if (f->groups.n > 0)
		f->cf.groups = &f->groups;
	if (have_ids) {
		/* "ids=" with nothing in it selects nothing. */
		if (f->ids == NULL)
			f->ids = xcalloc(1, sizeof *f->ids);
		f->cf.ids = f->ids;
		f->cf.nids = f->nids;
	}
	return (0);
}

void
filter_free(struct filter *f)
{
	strlist_free(&f->groups);
	free(f->ids);
	memset(f, 0, sizeof *f);
}

char *
filter_key(const struct filter *f, const struct request *r)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	buf_addf(&b, "r=%s;c=%s;g=", r->region != NULL ? r->region : "",
	    r->credential != NULL ? r->credential : "");
	for (i = 0; i < f->groups.n; i++)
		buf_addf(&b, "%s,", f->groups.v[i]);
	buf_adds(&b, ";i=");
	for (i = 0; i < f->nids; i++)
		buf_addf(&b, "%lld,", f->ids[i]);
	/* Time changes the answer without a new generation: the next
	 * programme with the minute, the channels listed with each window
	 * start or end passed. */
	buf_addf(&b, ";t=%lld;w=%lld", (long long)(f->minute / 60),
	    (long long)f->window);
	return (buf_detach(&b));
}
