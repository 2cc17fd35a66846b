#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "route.h"
#include "site.h"
#include "sync.h"
#include "xmalloc.h"

/* POST /api/admin/save (A6): the store back into amps.conf, atomically,
 * keeping the previous file as .bak; the dirty marks are cleared. */
int
admin_save(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	const char	*file;

	file = r->site != NULL ? r->site->config_file : NULL;
	if (file == NULL) {
		*cause = xstrdup("the store does not know its config file; "
		    "run amps init");
		return (ENOENT);
	}
	if (sync_export(r->store, file, SYNC_SAVED, cause) != 0)
		return (EIO);
	*json = json_object_new_object();
	json_object_object_add(*json, "saved", json_object_new_string(file));
	return (0);
}
