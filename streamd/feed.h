/* A live byte feed (MPEG-TS for /stream, ADTS for /audio) shared by every
 * attached viewer: the pipeline appends chunks, each viewer reads from its
 * own position.  A chunk marked key starts with PAT/PMT and a keyframe, so
 * a new viewer starts on the newest one (B3: zap from the last keyframe).
 * The ring is bounded in bytes; a viewer that falls out of it is skipped
 * forward to the newest key chunk, and dropped after too many skips. */
#ifndef STREAMD_FEED_H
#define STREAMD_FEED_H

#include <stddef.h>
#include <stdint.h>

struct feed_chunk {
	int		 refs;		/* guarded by the feed's lock */
	uint64_t	 seq;
	int		 key;
	size_t		 len;
	unsigned char	 data[];
};

struct feed;

/* A feed keeping at most max_bytes (and always the chunks since the
 * newest key chunk).  Caller frees with feed_free. */
struct feed	*feed_new(size_t max_bytes);
void		 feed_free(struct feed *f);
/* Appends a copy of data as one chunk. */
void		 feed_push(struct feed *f, const void *data, size_t len,
		    int key);
/* Marks the feed as ended (the pipeline stopped): readers see EOF after
 * the last chunk.  feed_reset starts it again for a new run. */
void		 feed_end(struct feed *f);
void		 feed_reset(struct feed *f);
/* 1 once a key chunk has been pushed in this run. */
int		 feed_ready(struct feed *f);

struct feed_reader {
	uint64_t	 seq;		/* next chunk to read */
	size_t		 off;		/* bytes of it already sent */
	int		 started;
	unsigned	 skips;		/* times skipped forward */
};

/* The chunk the reader is at, with a reference (release with
 * feed_chunk_put), or NULL when there is none yet.  *eof is set when the
 * feed has ended and nothing is left; *skipped when the reader had fallen
 * behind the ring and was moved forward. */
struct feed_chunk *feed_next(struct feed *f, struct feed_reader *r,
		    int *eof, int *skipped);
/* Moves the reader past the chunk it has sent completely. */
void		 feed_advance(struct feed_reader *r, const struct feed_chunk *c);
void		 feed_chunk_put(struct feed *f, struct feed_chunk *c);

#endif
