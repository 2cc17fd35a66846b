/* Allocation that aborts on failure, as tmux's xmalloc.c does: ordinary
 * allocations never return NULL, so callers need no checks.  libav
 * allocations are not routed through here; they are checked by callers. */
#ifndef AMPS_XMALLOC_H
#define AMPS_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
void	*xrealloc(void *ptr, size_t size);
/* realloc of nmemb * size bytes with an overflow check. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
/* xstrdup(NULL) returns NULL. */
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
/* Returns the length written; the string is stored in *ret (caller frees). */
int	 xasprintf(char **ret, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **ret, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* Formats into a fresh string and returns it (caller frees). */
char	*xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
