#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "conf.h"
#include "log.h"
#include "route.h"
#include "store.h"
#include "xmalloc.h"

extern char **environ;

/* One request, whatever the transport: parse, route, serialise. */
static char *
handle(char *const *envp, struct store *s, size_t *len)
{
	struct request	 r;
	struct response	 resp;
	char		*out;
	int		 status;

	response_init(&resp);
	status = request_parse(&r, envp);
	r.store = s;
	if (status != 0)
		response_error(&resp, status, "malformed request");
	else
		route_process(&r, &resp);
	out = response_serialise(&resp, r.head, len);
	response_free(&resp);
	request_free(&r);
	return (out);
}

/* The store is opened once per process, read-only: a FastCGI responder
 * serves thousands of requests on it. */
static struct store *
open_store(void)
{
	struct config		*cfg;
	struct conf_error	 err;
	struct store		*s = NULL;
	char			*line, *cause = NULL;

	if (conf_load(conf_default_path(), &cfg, &err) != 0) {
		line = conf_error_string(&err);
		log_error("config", "%s", line);
		free(line);
		conf_error_clear(&err);
		return (NULL);
	}
	if (store_open(cfg->server.database, 0, &s, &cause) != 0) {
		log_error("store", "%s", cause);
		free(cause);
	}
	conf_free(cfg);
	return (s);
}

int
main(int argc, char **argv)
{
	FCGX_Request	 req;
	struct store	*s;
	char		*out;
	size_t		 len;

	if (argc > 1 && strcmp(argv[1], "-V") == 0) {
		printf("amps.fcgi %s\n", PACKAGE_VERSION);
		return (0);
	}
	log_open(NULL, "amps.fcgi", NULL);
	s = open_store();

	if (FCGX_IsCGI()) {
		/* Plain CGI (RFC 3875), for shared hosting: one request. */
		out = handle(environ, s, &len);
		fwrite(out, 1, len, stdout);
		free(out);
		store_close(s);
		return (0);
	}
	FCGX_Init();
	FCGX_InitRequest(&req, 0, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		out = handle(req.envp, s, &len);
		FCGX_PutStr(out, (int)len, req.out);
		free(out);
		FCGX_Finish_r(&req);
	}
	store_close(s);
	return (0);
}
