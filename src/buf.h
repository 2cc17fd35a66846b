/* A growable string buffer.  The data is always NUL terminated, so
 * buf.data can be used as a C string at any time (it may also hold
 * binary data with embedded NULs; len is authoritative). */
#ifndef AMPS_BUF_H
#define AMPS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* NUL terminated; NULL until the first add */
	size_t	 len;
	size_t	 size;
};

#define BUF_INIT { NULL, 0, 0 }

void	 buf_init(struct buf *b);
/* Frees the data; the buffer may be reused after buf_init. */
void	 buf_free(struct buf *b);
/* Empties the buffer but keeps its memory. */
void	 buf_reset(struct buf *b);
void	 buf_add(struct buf *b, const void *data, size_t len);
void	 buf_adds(struct buf *b, const char *s);
void	 buf_addc(struct buf *b, char c);
void	 buf_addf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vaddf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Returns the data ("" when empty) and leaves the buffer empty; the caller
 * frees the returned string. */
char	*buf_detach(struct buf *b);

#endif
