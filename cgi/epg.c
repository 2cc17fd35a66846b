#include "config.h"
#include <errno.h>
#include "route.h"
int
epg_xml_get(struct request *r, struct response *resp, json_object **j, char **c)
{
	return (ENOSYS);
}
int
epg_json_get(struct request *r, struct response *resp, json_object **j, char **c)
{
	return (ENOSYS);
}
