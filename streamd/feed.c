#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "xmalloc.h"

struct feed {
	pthread_mutex_t		 lock;
	struct feed_chunk	**ring;		/* oldest first */
	size_t			 n, cap;
	size_t			 bytes, max_bytes;
	uint64_t		 next_seq;
	uint64_t		 key_seq;	/* newest key chunk */
	int			 have_key;
	int			 ended;
};

struct feed *
feed_new(size_t max_bytes)
{
	struct feed	*f;

	f = xcalloc(1, sizeof *f);
	pthread_mutex_init(&f->lock, NULL);
	f->max_bytes = max_bytes;
	f->next_seq = 1;
	return (f);
}

static void
chunk_unref(struct feed_chunk *c)
{
	if (--c->refs == 0)
		free(c);
}

void
feed_free(struct feed *f)
{
	size_t	i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++)
		chunk_unref(f->ring[i]);
	free(f->ring);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Drops the oldest chunks while over the bound, never the newest key
 * chunk or anything after it. */
static void
trim(struct feed *f)
{
	size_t	drop = 0;

	while (drop < f->n && f->bytes > f->max_bytes &&
	    (!f->have_key || f->ring[drop]->seq < f->key_seq)) {
		f->bytes -= f->ring[drop]->len;
		chunk_unref(f->ring[drop]);
		drop++;
	}
	if (drop > 0) {
		memmove(f->ring, f->ring + drop,
		    (f->n - drop) * sizeof *f->ring);
		f->n -= drop;
	}
}

void
feed_push(struct feed *f, const void *data, size_t len, int key)
{
	struct feed_chunk	*c;

	if (len == 0)
		return;
	c = xmalloc(sizeof *c + len);
	c->refs = 1;
	c->key = key;
	c->len = len;
	memcpy(c->data, data, len);
	pthread_mutex_lock(&f->lock);
	c->seq = f->next_seq++;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->ring = xreallocarray(f->ring, f->cap, sizeof *f->ring);
	}
	f->ring[f->n++] = c;
	f->bytes += len;
	if (key) {
		f->key_seq = c->seq;
		f->have_key = 1;
	}
	trim(f);
	pthread_mutex_unlock(&f->lock);
}

void
feed_end(struct feed *f)
{
	pthread_mutex_lock(&f->lock);
	f->ended = 1;
	pthread_mutex_unlock(&f->lock);
}

void
feed_reset(struct feed *f)
{
	size_t	i;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->n; i++)
		chunk_unref(f->ring[i]);
	f->n = 0;
	f->bytes = 0;
	f->have_key = 0;
	f->ended = 0;
	pthread_mutex_unlock(&f->lock);
}

int
feed_ready(struct feed *f)
{
	int	ready;

	pthread_mutex_lock(&f->lock);
	ready = f->have_key;
	pthread_mutex_unlock(&f->lock);
	return (ready);
}

struct feed_chunk *
feed_next(struct feed *f, struct feed_reader *r, int *eof, int *skipped)
{
	struct feed_chunk	*c = NULL;
	uint64_t		 oldest;

	*eof = 0;
	*skipped = 0;
	pthread_mutex_lock(&f->lock);
	if (!r->started) {
		if (!f->have_key) {
			*eof = f->ended;
			goto out;
		}
		r->seq = f->key_seq;
		r->off = 0;
		r->started = 1;
	}
	oldest = f->n > 0 ? f->ring[0]->seq : f->next_seq;
	if (r->seq < oldest) {
		/* Fell out of the ring: go on from the newest keyframe. */
		r->seq = f->have_key ? f->key_seq : oldest;
		r->off = 0;
		r->skips++;
		*skipped = 1;
	}
	if (r->seq >= f->next_seq) {
		*eof = f->ended;
		goto out;
	}
	c = f->ring[r->seq - f->ring[0]->seq];
	c->refs++;
out:
	pthread_mutex_unlock(&f->lock);
	return (c);
}

void
feed_advance(struct feed_reader *r, const struct feed_chunk *c)
{
	r->seq = c->seq + 1;
	r->off = 0;
}

void
feed_chunk_put(struct feed *f, struct feed_chunk *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	chunk_unref(c);
	pthread_mutex_unlock(&f->lock);
}
