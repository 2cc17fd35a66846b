/* amps.conf <-> amps.db.
 *
 * Import (amps init, streamd reload) writes the config into the store in
 * one transaction and changes only what differs, so importing an unchanged
 * file writes nothing and bumps no generation.  Export (amps save, POST
 * /api/admin/save) writes the store back to the file atomically, keeping
 * the previous file as .bak.
 *
 * The merge rule, so that what the API wrote is never lost by a reimport:
 *   - a channel or API key that the API (or the CLI) created, changed or
 *     deleted since the last save is "dirty"; on import the store's
 *     version wins over the file's (a deletion stays deleted), and the
 *     import reports it as kept;
 *   - every other row follows the file: added, replaced, or removed when
 *     the file no longer has it;
 *   - the server and auth blocks, profiles, EPG sources, webhooks and
 *     plugins always follow the file (the API does not write them);
 *   - export writes everything, then clears every dirty mark: from then on
 *     the file is the truth again.
 * SYNC_FORCE makes the file win everywhere (amps init --force). */
#ifndef AMPS_SYNC_H
#define AMPS_SYNC_H

#include "conf.h"
#include "store.h"

#define SYNC_FORCE	0x01	/* import: the file wins everywhere */
#define SYNC_SAVED	0x02	/* export: path is the config file; clear
				   the dirty marks and remember path */

struct sync_report {
	unsigned	 added;
	unsigned	 updated;
	unsigned	 removed;
	unsigned	 kept;		/* dirty rows the file did not override */
	unsigned	 unchanged;
};

/* Imports cfg into s.  Returns 0, or -1 with *cause (nothing written). */
int	 sync_import(struct store *s, const struct config *cfg, int flags,
	    struct sync_report *report, char **cause);
/* Builds a config from the store (caller frees with conf_free); file and
 * dir are left NULL. */
int	 sync_to_config(struct store *s, struct config **out, char **cause);
/* Writes the store to path (conf_write); with SYNC_SAVED, path is the
 * config file and the store is marked saved (a copy elsewhere, amps save
 * -o, marks nothing).  Returns 0, or -1 with *cause (the file and the
 * store unchanged). */
int	 sync_export(struct store *s, const char *path, int flags,
	    char **cause);
/* The config file the store was last imported from or saved to: 0 and
 * *path (caller frees), ENOENT, or -1 with *cause. */
int	 sync_config_file(struct store *s, char **path, char **cause);

#endif
