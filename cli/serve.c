#include "config.h"
#include "serve.h"
int
cmd_serve(const char *conf, int argc, char **argv)
{
	(void)conf; (void)argc; (void)argv;
	return (1);
}
