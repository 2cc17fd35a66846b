#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "route.h"
#include "store.h"
#include "xmalloc.h"

/* GET /api/health: the responder runs and reads the store.  The
 * generation lets a monitor see that imports and API writes land. */
int
health_get(struct request *r, struct response *resp, json_object **json,
    char **cause)
{
	if (r->store == NULL) {
		resp->status = 503;
		*json = json_object_new_object();
		json_object_object_add(*json, "status",
		    json_object_new_string("no database"));
		return (0);
	}
	*json = json_object_new_object();
	json_object_object_add(*json, "status", json_object_new_string("ok"));
	json_object_object_add(*json, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(*json, "schema",
	    json_object_new_int(store_version(r->store)));
	json_object_object_add(*json, "generation",
	    json_object_new_int64(store_generation(r->store)));
	return (0);
}
