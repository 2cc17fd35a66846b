#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"

static void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Running out of memory is not something a caller can recover from. */
static void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fputs("amps: fatal: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* malloc that never returns NULL; a zero size gets a valid one byte block. */
void *
xmalloc(size_t size)
{
	void	*ptr;

	if (size == 0)
		size = 1;
	if ((ptr = malloc(size)) == NULL)
		fatal("xmalloc: allocating %zu bytes: %s", size,
		    strerror(errno));
	return (ptr);
}

/* calloc that never returns NULL; calloc itself checks the product. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void	*ptr;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((ptr = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: allocating %zu * %zu bytes: %s", nmemb, size,
		    strerror(errno));
	return (ptr);
}

/* realloc that never returns NULL. */
void *
xrealloc(void *ptr, size_t size)
{
	return (xreallocarray(ptr, 1, size));
}

/* Growing arrays without an unchecked multiplication. */
void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	void	*new_ptr;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (size > SIZE_MAX / nmemb)
		fatal("xreallocarray: %zu * %zu bytes overflows", nmemb, size);
	if ((new_ptr = realloc(ptr, nmemb * size)) == NULL)
		fatal("xreallocarray: allocating %zu * %zu bytes: %s", nmemb,
		    size, strerror(errno));
	return (new_ptr);
}

/* strdup that never fails; NULL passes through so optional strings copy. */
char *
xstrdup(const char *s)
{
	char	*cp;

	if (s == NULL)
		return (NULL);
	if ((cp = strdup(s)) == NULL)
		fatal("xstrdup: %s", strerror(errno));
	return (cp);
}

/* Copies at most n bytes of s, always NUL terminated. */
char *
xstrndup(const char *s, size_t n)
{
	char	*cp;

	if ((cp = strndup(s, n)) == NULL)
		fatal("xstrndup: %s", strerror(errno));
	return (cp);
}

/* asprintf that never fails. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	i;

	va_start(ap, fmt);
	i = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return (i);
}

/* vasprintf that never fails. */
int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	i;

	i = vasprintf(ret, fmt, ap);
	if (i < 0 || *ret == NULL)
		fatal("xasprintf: %s", strerror(errno));
	return (i);
}

/* The common case of xasprintf, usable inside an expression. */
char *
xprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	return (s);
}
