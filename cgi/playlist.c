#include "config.h"
#include <errno.h>
#include "route.h"
int
playlist_get(struct request *r, struct response *resp, json_object **j, char **c)
{
	return (ENOSYS);
}
