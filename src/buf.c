#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

#define BUF_MINSIZE 64

/* Makes room for need more bytes plus the terminating NUL, doubling so
 * that a long run of small appends stays linear. */
static void
grow(struct buf *b, size_t need)
{
	size_t	want, size;

	if (need > SIZE_MAX - b->len - 1)
		abort();
	want = b->len + need + 1;
	if (b->data != NULL && want <= b->size)
		return;
	size = b->size < BUF_MINSIZE ? BUF_MINSIZE : b->size;
	while (size < want) {
		if (size > SIZE_MAX / 2) {
			size = want;
			break;
		}
		size *= 2;
	}
	b->data = xrealloc(b->data, size);
	b->size = size;
}

/* A buffer starts empty and allocates nothing until the first add. */
void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
}

/* Releases the memory; safe on a buffer that was never used. */
void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

/* Lets a loop reuse one allocation for many strings. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Appends raw bytes, which may include NULs. */
void
buf_add(struct buf *b, const void *data, size_t len)
{
	grow(b, len);
	if (len != 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Appends a C string. */
void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends one byte, the common case when escaping. */
void
buf_addc(struct buf *b, char c)
{
	grow(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

/* Appends printf output without an intermediate string. */
void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/* The va_list form of buf_addf: formats straight into the free space and
 * formats again only if it did not fit. */
void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	aq;
	size_t	avail;
	int	n;

	grow(b, 0);
	avail = b->size - b->len;
	va_copy(aq, ap);
	n = vsnprintf(b->data + b->len, avail, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->data[b->len] = '\0';
		return;
	}
	if ((size_t)n >= avail) {
		grow(b, (size_t)n);
		va_copy(aq, ap);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, aq);
		va_end(aq);
	}
	b->len += (size_t)n;
}

/* Hands the string over to the caller, who then owns it. */
char *
buf_detach(struct buf *b)
{
	char	*s;

	s = b->data != NULL ? b->data : xstrdup("");
	buf_init(b);
	return (s);
}
