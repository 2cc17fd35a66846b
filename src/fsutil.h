/* Small file system helpers shared by the programs. */
#ifndef AMPS_FSUTIL_H
#define AMPS_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: creates path and its missing parents with mode.  An existing
 * folder is fine; an existing file of another kind is ENOTDIR.  Returns 0,
 * or -1 with errno set and, when failed is not NULL, *failed naming the
 * folder that could not be made (caller frees). */
int	 fs_mkdirs(const char *path, mode_t mode, char **failed);

#endif
