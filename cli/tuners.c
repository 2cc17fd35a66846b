#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "conf.h"
#include "ctl.h"
#include "timefmt.h"

/* One request to streamd; prints why it failed.  Returns 0 with *reply,
 * or 1. */
static int
ask(const struct config *cfg, const char *cmd, json_object **reply)
{
	json_object	*req;
	char		*cause = NULL;

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (ctl_call(cfg->server.control_socket, req, reply, 5000,
	    &cause) != 0) {
		cli_warn("streamd (%s): %s", cfg->server.control_socket,
		    cause);
		free(cause);
		json_object_put(req);
		return (1);
	}
	json_object_put(req);
	if (ctl_refused(*reply, "request", &cause)) {
		cli_warn("streamd: %s", cause);
		free(cause);
		json_object_put(*reply);
		return (1);
	}
	return (0);
}

static const char *
field(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return ("-");
	return (json_object_get_string(v));
}

/* amps tuners: the pipelines streamd runs now (A8). */
int
cmd_tuners(const char *conf, int argc, char **argv)
{
	struct config	*cfg;
	json_object	*reply, *a, *p, *v;
	char		 when[64];
	size_t		 i, k;
	int		 rc, json = 0;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc > 1) {
		cli_warn("usage: amps tuners [--json]");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if ((rc = ask(cfg, "status", &reply)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	json_object_object_get_ex(reply, "pipelines", &a);
	if (json)
		printf("%s\n", json_object_to_json_string_ext(a,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	else {
		printf("ID\tVARIANT\tSTATE\tPID\tSTARTED\tVIEWERS\tOUTPUTS\n");
		for (i = 0; a != NULL && i < json_object_array_length(a);
		    i++) {
			p = json_object_array_get_idx(a, i);
			json_object_object_get_ex(p, "started", &v);
			timefmt_format_iso8601(json_object_get_int64(v), when,
			    sizeof when);
			printf("%s\t%s\t%s\t%s\t%s\t%s\t", field(p, "stream"),
			    field(p, "variant")[0] ? field(p, "variant") : "-",
			    field(p, "state"), field(p, "pid"), when,
			    field(p, "viewers"));
			json_object_object_get_ex(p, "outputs", &v);
			for (k = 0; v != NULL && k <
			    json_object_array_length(v); k++)
				printf("%s%s", k ? "," : "",
				    json_object_get_string(
				    json_object_array_get_idx(v, k)));
			printf("%s\n", k == 0 ? "-" : "");
		}
	}
	json_object_put(reply);
	conf_free(cfg);
	return (0);
}

/* 1 while pid is a live process (a zombie is not). */
static int
alive(pid_t pid)
{
	char	 path[64], buf[256], *p;
	FILE	*f;
	int	 live = 0;

	if (pid <= 0)
		return (0);
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (kill(pid, 0) == 0);
	if (fgets(buf, sizeof buf, f) != NULL &&
	    (p = strrchr(buf, ')')) != NULL && p[1] == ' ')
		live = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return (live);
}

/* amps shutdown: asks streamd to stop and waits until it has (A8). */
int
cmd_shutdown(const char *conf, int argc, char **argv)
{
	struct config	*cfg;
	json_object	*reply, *v;
	pid_t		 pid;
	int		 rc, i;

	(void)argv;
	if (argc > 1) {
		cli_warn("shutdown takes no arguments");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if ((rc = ask(cfg, "status", &reply)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	json_object_object_get_ex(reply, "pid", &v);
	pid = (pid_t)json_object_get_int64(v);
	json_object_put(reply);
	if ((rc = ask(cfg, "shutdown", &reply)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	json_object_put(reply);
	/* streamd removes its socket once every pipeline is final. */
	for (i = 0; i < 600; i++) {
		if (access(cfg->server.control_socket, F_OK) != 0 &&
		    !alive(pid))
			break;
		usleep(100000);
	}
	conf_free(cfg);
	if (i == 600) {
		cli_warn("streamd did not stop within 60 s");
		return (1);
	}
	printf("streamd stopped\n");
	return (0);
}
