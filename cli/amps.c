#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "cli.h"
#include "channel.h"
#include "conf.h"
#include "crypto.h"
#include "serve.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

struct cmd {
	const char	*name;
	int		(*fn)(const char *, int, char **);
	const char	*usage;
	const char	*help;
};

static int
open_store(const struct config *cfg, int flags, struct store **s)
{
	char	*cause = NULL;

	if (!(flags & STORE_CREATE) && access(cfg->server.database, F_OK) != 0) {
		cli_warn("%s: no database; run amps init first",
		    cfg->server.database);
		return (1);
	}
	if (store_open(cfg->server.database, flags, s, &cause) != 0) {
		cli_warn("%s", cause);
		free(cause);
		return (1);
	}
	return (0);
}

static int
cmd_init(const char *conf, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct config		*cfg = NULL;
	int			 ch, flags = 0, rc;

	while ((ch = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (ch != 'f')
			return (EXIT_USAGE);
		flags |= SYNC_FORCE;
	}
	if (optind != argc) {
		cli_warn("init takes no arguments");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	rc = cli_import(cfg, flags);
	conf_free(cfg);
	return (rc);
}

static int
cmd_check_config(const char *conf, int argc, char **argv)
{
	struct config	*cfg;
	int		 rc;

	if (argc > 1) {
		cli_warn("check-config takes no arguments");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	printf("%s: ok: %zu streams, %zu scheduled streams, %zu profiles, "
	    "%zu EPG sources, %zu webhooks\n", cfg->file, cfg->streams.n,
	    cfg->scheduled_streams.n, cfg->profiles.n, cfg->epg_sources.n,
	    cfg->webhooks.n);
	conf_free(cfg);
	return (0);
}

static const char *
orempty(const char *s)
{
	return (s != NULL ? s : "");
}

/* Tabs, newlines and other controls would break a line of output. */
static void
print_field(const char *s, int last)
{
	for (; s != NULL && *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 ? ' ' : *s);
	putchar(last ? '\n' : '\t');
}

static int
list_text(struct channel *ch, void *arg)
{
	char	id[32];

	snprintf(id, sizeof id, "%lld", ch->id);
	print_field(id, 0);
	print_field(ch->name, 0);
	print_field(orempty(ch->group), 0);
	print_field(ch->custom_ffmpeg.command != NULL ? "custom" :
	    orempty(ch->ffmpeg_profile), 0);
	print_field(ch->source, 1);
	return (0);
}

static int
list_json(struct channel *ch, void *arg)
{
	json_object_array_add(arg, schema_to_json(&channel_schema, ch,
	    SCHEMA_JSON_PUBLIC));
	return (0);
}

static int
cmd_list(const char *conf, int argc, char **argv)
{
	struct catalog_filter	 all;
	struct config		*cfg;
	struct store		*s;
	json_object		*arr = NULL;
	char			*cause = NULL;
	int			 rc, json = 0;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc > 1) {
		cli_warn("usage: amps list [--json]");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if ((rc = open_store(cfg, STORE_READONLY, &s)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	memset(&all, 0, sizeof all);
	if (json) {
		arr = json_object_new_array();
		rc = catalog_channels_each(s, &all, list_json, arr, &cause);
	} else {
		printf("ID\tNAME\tGROUP\tPROFILE\tSOURCE\n");
		rc = catalog_channels_each(s, &all, list_text, NULL, &cause);
	}
	if (rc != 0) {
		cli_warn("%s", cause);
		free(cause);
		rc = 1;
	} else if (json)
		printf("%s\n", json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	json_object_put(arr);
	store_close(s);
	conf_free(cfg);
	return (rc);
}

static int
cmd_save(const char *conf, int argc, char **argv)
{
	struct config	*cfg;
	struct store	*s;
	const char	*out = NULL;
	char		*cause = NULL;
	int		 ch, rc;

	while ((ch = getopt(argc, argv, "o:")) != -1) {
		if (ch != 'o')
			return (EXIT_USAGE);
		out = optarg;
	}
	if (optind != argc) {
		cli_warn("usage: amps save [-o FILE]");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if ((rc = open_store(cfg, 0, &s)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	if (sync_export(s, out != NULL ? out : cfg->file,
	    out != NULL ? 0 : SYNC_SAVED, &cause) != 0) {
		cli_warn("%s", cause);
		free(cause);
		rc = 1;
	} else
		printf("amps: wrote %s\n", out != NULL ? out : cfg->file);
	store_close(s);
	conf_free(cfg);
	return (rc);
}

static int
key_add(struct store *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	struct api_key	 k;
	char		 key[65], *cause = NULL;
	const char	*role = "viewer";
	int		 ch, rc;

	while ((ch = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		if (ch != 'r')
			return (EXIT_USAGE);
		role = optarg;
	}
	if (optind + 1 != argc) {
		cli_warn("usage: amps key add NAME [--role viewer|admin]");
		return (EXIT_USAGE);
	}
	if (strcmp(role, "viewer") != 0 && strcmp(role, "admin") != 0) {
		cli_warn("role must be viewer or admin, not '%s'", role);
		return (EXIT_USAGE);
	}
	if (crypto_random_hex(32, key) != 0) {
		cli_warn("no random numbers");
		return (1);
	}
	memset(&k, 0, sizeof k);
	k.name = argv[optind];
	k.key = key;
	k.role = xstrdup(role);
	rc = 0;
	if (store_begin(s, &cause) != 0 ||
	    catalog_key_put(s, &k, CATALOG_API | CATALOG_CREATE, &cause) != 0 ||
	    store_commit(s, &cause) != 0) {
		store_rollback(s);
		cli_warn("%s", cause);
		free(cause);
		rc = 1;
	} else
		printf("%s\n", key);
	free(k.role);
	return (rc);
}

static int
key_list(struct store *s)
{
	struct objlist		 keys = { NULL, 0 };
	struct catalog_meta	 meta;
	const struct api_key	*k;
	char			*cause = NULL;
	size_t			 i;

	if (catalog_keys(s, &keys, &cause) != 0) {
		cli_warn("%s", cause);
		free(cause);
		return (1);
	}
	printf("NAME\tROLE\tORIGIN\n");
	for (i = 0; i < keys.n; i++) {
		k = schema_list_at(&api_key_schema, &keys, i);
		memset(&meta, 0, sizeof meta);
		if (catalog_key_meta(s, k->name, &meta, &cause) != 0) {
			free(cause);
			cause = NULL;
		}
		print_field(k->name, 0);
		print_field(k->role, 0);
		print_field(meta.api ? "api" : "config", 1);
	}
	schema_list_free(&api_key_schema, &keys);
	return (0);
}

static int
key_revoke(struct store *s, int argc, char **argv)
{
	char	*cause = NULL;

	if (argc != 2) {
		cli_warn("usage: amps key revoke NAME");
		return (EXIT_USAGE);
	}
	if (store_begin(s, &cause) != 0 ||
	    catalog_key_delete(s, argv[1], CATALOG_API, &cause) != 0 ||
	    store_commit(s, &cause) != 0) {
		store_rollback(s);
		cli_warn("%s", cause);
		free(cause);
		return (1);
	}
	printf("amps: revoked %s\n", argv[1]);
	return (0);
}

static int
cmd_key(const char *conf, int argc, char **argv)
{
	struct config	*cfg;
	struct store	*s;
	int		 rc;

	if (argc < 2 || (strcmp(argv[1], "add") != 0 &&
	    strcmp(argv[1], "list") != 0 && strcmp(argv[1], "revoke") != 0)) {
		cli_warn("usage: amps key add|list|revoke ...");
		return (EXIT_USAGE);
	}
	if ((rc = cli_load_config(conf, &cfg)) != 0)
		return (rc);
	if ((rc = open_store(cfg, 0, &s)) != 0) {
		conf_free(cfg);
		return (rc);
	}
	optind = 0;
	if (strcmp(argv[1], "add") == 0)
		rc = key_add(s, argc - 1, argv + 1);
	else if (strcmp(argv[1], "list") == 0)
		rc = argc == 2 ? key_list(s) : EXIT_USAGE;
	else
		rc = key_revoke(s, argc - 1, argv + 1);
	store_close(s);
	conf_free(cfg);
	return (rc);
}

static const struct cmd cmds[] = {
	{ "init", cmd_init, "init [--force]",
	  "create or migrate the database and import the config" },
	{ "check-config", cmd_check_config, "check-config",
	  "check the config and print its first error" },
	{ "list", cmd_list, "list [--json]", "list the channels" },
	{ "save", cmd_save, "save [-o FILE]",
	  "write the database back to the config (or FILE)" },
	{ "key", cmd_key, "key add NAME [--role viewer|admin] | list | "
	  "revoke NAME", "manage API keys" },
	{ "tuners", cmd_tuners, "tuners [--json]",
	  "list the pipelines streamd runs" },
	{ "shutdown", cmd_shutdown, "shutdown",
	  "stop streamd cleanly and wait for it" },
	{ "epg-refresh", cmd_epg_refresh, "epg-refresh [NAME]",
	  "refresh the guide from every EPG source (or NAME)" },
	{ "serve", cmd_serve, "serve",
	  "run lighttpd, amps.fcgi and streamd in the foreground" },
	{ NULL, NULL, NULL, NULL }
};

static void
usage(FILE *f)
{
	const struct cmd	*c;

	fprintf(f, "usage: amps [-c FILE] [-h] [-V] COMMAND [ARGS]\n\n"
	    "commands:\n");
	for (c = cmds; c->name != NULL; c++)
		fprintf(f, "  %-48s %s\n", c->usage, c->help);
	fprintf(f, "\nThe config is -c FILE, else $AMPS_CONF, else %s.\n",
	    SYSCONFDIR "/amps/amps.conf");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cmd	*c;
	const char		*conf = NULL;
	int			 ch;

	while ((ch = getopt_long(argc, argv, "+c:hV", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'h':
			usage(stdout);
			return (0);
		case 'V':
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return (0);
		default:
			usage(stderr);
			return (EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return (EXIT_USAGE);
	}
	if (conf == NULL)
		conf = conf_default_path();
	for (c = cmds; c->name != NULL; c++) {
		if (strcmp(c->name, argv[0]) == 0) {
			optind = 0;	/* glibc: 0 resets getopt fully */
			return (c->fn(conf, argc, argv));
		}
	}
	cli_warn("unknown command '%s'", argv[0]);
	usage(stderr);
	return (EXIT_USAGE);
}
