#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>

#include "fsutil.h"
#include "xmalloc.h"

int
fs_mkdirs(const char *path, mode_t mode, char **failed)
{
	struct stat	 st;
	char		*copy, *p;
	int		 rc = -1, saved;

	copy = xstrdup(path);
	for (p = copy + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST)
			goto out;	/* copy names the folder that failed */
		*p = '/';
	}
	if (mkdir(copy, mode) != 0 && errno != EEXIST)
		goto out;
	if (stat(copy, &st) != 0)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	if (rc != 0 && failed != NULL)
		*failed = copy;
	else
		free(copy);
	errno = saved;
	return (rc);
}
