/* Tables that describe structs: one table per kind of object (a channel, a
 * profile, the server block ...) gives each key its type, offset, default
 * and limits.  The same table validates input (from amps.conf through the
 * conf module, or from a JSON body in the API), fills the struct, writes it
 * back as JSON (for the API and for amps save) and maps it to SQLite
 * columns, so a key is described once.  (tmux options-table.c; nginx
 * create/merge conf.) */
#ifndef AMPS_SCHEMA_H
#define AMPS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* A list of strings (regions, input_args, events). */
struct strlist {
	char	**v;
	size_t	  n;
};

/* An ordered string map (input_options, env).  Scalar values of any type
 * in the input are stored as their text. */
struct kv {
	char	*key;
	char	*value;
};
struct kvlist {
	struct kv *v;
	size_t	   n;
};

/* An array of structs described by a sub-schema. */
struct objlist {
	void	*v;	/* n elements of schema->size bytes */
	size_t	 n;
};

enum schema_type {
	SCHEMA_STRING,	/* char * (NULL = unset) */
	SCHEMA_INT,	/* long long */
	SCHEMA_BOOL,	/* int, 0 or 1 */
	SCHEMA_TIME,	/* int64_t epoch seconds; ISO 8601 text outside;
			   0 = unset */
	SCHEMA_BITRATE,	/* long long bits per second; 3000000, "3000k",
			   "3M" outside */
	SCHEMA_STRLIST,	/* struct strlist; a single string is accepted as
			   a list of one */
	SCHEMA_MAP,	/* struct kvlist */
	SCHEMA_JSON,	/* json_object * (any value, kept as is) */
	SCHEMA_OBJECT,	/* a nested struct at offset, described by sub;
			   absent in the input means all defaults */
	SCHEMA_LIST,	/* struct objlist of sub */
	SCHEMA_DICT,	/* struct objlist of sub, written as an object whose
			   keys are the elements' first field (a string) */
};

/* Field flags. */
#define SCHEMA_REQUIRED	0x01	/* must be present */
#define SCHEMA_NOSQL	0x02	/* not a column in the object's table */
#define SCHEMA_SECRET	0x04	/* never written by schema_to_json(...,
				   SCHEMA_JSON_PUBLIC) */
#define SCHEMA_NOEXPORT	0x08	/* derived; never written back to a file */
#define SCHEMA_LOWER	0x10	/* STRING/STRLIST: stored lower case */
#define SCHEMA_UPPER	0x20	/* STRING/STRLIST: stored upper case */
#define SCHEMA_NONEMPTY	0x40	/* STRING: "" is an error */
#define SCHEMA_TEXT	0x80	/* STRING: numbers and booleans are taken
				   as their text (hwaccel device = 0) */

struct schema;

/* Extra validation of one value, after type and range checks: value points
 * at the field inside the struct.  Returns 0, or -1 with *cause set (caller
 * frees), e.g. "'XX' is not an ISO 3166 alpha-2 code". */
typedef int (*schema_check_cb)(const void *value, char **cause);
/* Cross-field validation of a whole object after its fields are filled.
 * Returns 0, or -1 with the offending key written into key (a buffer of
 * SCHEMA_KEYSIZE bytes owned by the caller; left empty for the object
 * itself) and *cause (caller frees).  No static buffers: the responder
 * validates in several threads at once. */
#define SCHEMA_KEYSIZE	64
typedef int (*schema_object_cb)(const void *obj, char *key, char **cause);

struct schema_field {
	const char	*name;
	enum schema_type type;
	size_t		 offset;
	int		 flags;
	const char	*def;	/* default, as text: "25", "true", "ts" */
	long long	 min;	/* INT/BITRATE: value; STRING: length;  */
	long long	 max;	/* lists: count.  max 0 = no limit */
	const char *const *choices;	/* NULL-terminated allowed values */
	schema_check_cb	 check;	/* STRLIST: called per element, with a
				   pointer to the char * */
	const struct schema *sub;
	const char	*help;	/* one line, for docs and errors */
};

struct schema {
	const char	*name;	/* "stream", "profile", ... */
	size_t		 size;	/* sizeof the struct */
	const struct schema_field *fields;	/* ends with a NULL name */
	schema_object_cb check;
	int		 strform;	/* may be written as a string, which
					   sets its first field (custom_ffmpeg,
					   plugins) */
};

/* Where a validation error is: a path such as "streams[2].next_programs[0]
 * .start" and a message.  Both owned by the error; schema_error_clear()
 * frees them. */
struct schema_error {
	char	*path;
	char	*message;
};

void	 schema_error_clear(struct schema_error *err);

/* Sets every field of obj to its default (strings to a copy of def or
 * NULL, lists empty). */
void	 schema_defaults(const struct schema *s, void *obj);

/* Validates in (a JSON object) against s and fills obj, which must hold
 * defaults first (schema_defaults) or a previous value (for a partial
 * update, with partial set: absent required keys are then not errors).
 * path is the prefix for error paths ("" at the top).  Unknown keys are
 * errors with a "did you mean" hint.  Returns 0, or -1 with err filled;
 * on error obj may be partly filled and must still be freed with
 * schema_free(). */
int	 schema_from_json(const struct schema *s, json_object *in, void *obj,
	    int partial, const char *path, struct schema_error *err);

/* Flags for schema_to_json. */
#define SCHEMA_JSON_ALL		0x01	/* write defaults and unset fields
					   (as null) too */
#define SCHEMA_JSON_PUBLIC	0x02	/* leave out SCHEMA_SECRET fields */
#define SCHEMA_JSON_EXPORT	0x04	/* leave out SCHEMA_NOEXPORT fields */

/* Writes obj as a JSON object (new reference, caller puts it).  Without
 * SCHEMA_JSON_ALL, fields equal to their default are left out, so that the
 * result is the shortest text that loads back to the same struct. */
json_object *schema_to_json(const struct schema *s, const void *obj,
	    int flags);
/* The JSON of one field, or NULL when it is unset. */
json_object *schema_field_to_json(const struct schema_field *f,
	    const void *obj);

/* Checks a struct built in code (not parsed) against its table, with
 * every rule schema_from_json applies.  Returns 0, or -1 with err. */
int	 schema_validate(const struct schema *s, const void *obj,
	    struct schema_error *err);

/* Frees what the fields of obj own (not obj itself). */
void	 schema_free(const struct schema *s, void *obj);
/* Deep copy of src into dst (dst is overwritten, not freed). */
void	 schema_copy(const struct schema *s, void *dst, const void *src);
/* Compares two objects field by field through their JSON.  Returns 1 if
 * equal. */
int	 schema_equal(const struct schema *s, const void *a, const void *b);

/* Looks a field up by name; NULL if none. */
const struct schema_field *schema_field(const struct schema *s,
	    const char *name);
/* The closest field name to name within edit distance 2 (or 1 for short
 * names), for "did you mean" hints; NULL if nothing is close. */
const char *schema_suggest(const struct schema *s, const char *name);

/* Accessors for the element i of an objlist of s. */
void	*schema_list_at(const struct schema *s, const struct objlist *l,
	    size_t i);
/* Appends a defaulted element and returns it. */
void	*schema_list_add(const struct schema *s, struct objlist *l);
void	 schema_list_free(const struct schema *s, struct objlist *l);

/* Small list helpers shared by the modules. */
void	 strlist_add(struct strlist *l, const char *s);
void	 strlist_free(struct strlist *l);
int	 strlist_contains(const struct strlist *l, const char *s,
	    int nocase);
void	 kvlist_set(struct kvlist *l, const char *key, const char *value);
const char *kvlist_get(const struct kvlist *l, const char *key);
void	 kvlist_free(struct kvlist *l);

/* Parses "3000000", "3000k", "3M", "1.5M" into bits per second.  Returns
 * 0, or -1 if not a positive rate. */
int	 schema_parse_bitrate(const char *s, long long *out);

#endif
