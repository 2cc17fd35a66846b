#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "schema.h"
#include "timefmt.h"
#include "xmalloc.h"

#define FIELD_PTR(obj, f)	((char *)(obj) + (f)->offset)
#define FIELD_CPTR(obj, f)	((const char *)(obj) + (f)->offset)

static int	parse_field(const struct schema_field *, json_object *, void *,
		    const char *, struct schema_error *);

void
schema_error_clear(struct schema_error *err)
{
	if (err == NULL)
		return;
	free(err->path);
	free(err->message);
	err->path = NULL;
	err->message = NULL;
}

static int
fail(struct schema_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct schema_error *err, const char *path, const char *fmt, ...)
{
	va_list	ap;

	schema_error_clear(err);
	err->path = xstrdup(path);
	va_start(ap, fmt);
	xvasprintf(&err->message, fmt, ap);
	va_end(ap);
	return (-1);
}

static char *
join_key(const char *path, const char *key)
{
	if (path == NULL || *path == '\0')
		return (xstrdup(key));
	return (xprintf("%s.%s", path, key));
}

static const char *
type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return ("nothing");
	case json_type_boolean:
		return ("a boolean");
	case json_type_double:
		return ("a number");
	case json_type_int:
		return ("an integer");
	case json_type_object:
		return ("an object");
	case json_type_array:
		return ("a list");
	case json_type_string:
		return ("a string");
	}
	return ("something else");
}

/* libconfig setting names: amps.conf must be able to hold every key that
 * the API can store, so map keys are held to the same rule. */
static int
legal_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '*')
		return (0);
	for (s++; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '*')
			return (0);
	}
	return (1);
}

void
strlist_add(struct strlist *l, const char *s)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
}

void
strlist_free(struct strlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
strlist_contains(const struct strlist *l, const char *s, int nocase)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		if ((nocase ? strcasecmp(l->v[i], s) : strcmp(l->v[i], s)) == 0)
			return (1);
	}
	return (0);
}

void
kvlist_set(struct kvlist *l, const char *key, const char *value)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0) {
			free(l->v[i].value);
			l->v[i].value = xstrdup(value);
			return;
		}
	}
	l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
	l->v[l->n].key = xstrdup(key);
	l->v[l->n].value = xstrdup(value);
	l->n++;
}

const char *
kvlist_get(const struct kvlist *l, const char *key)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].key, key) == 0)
			return (l->v[i].value);
	}
	return (NULL);
}

void
kvlist_free(struct kvlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void *
schema_list_at(const struct schema *s, const struct objlist *l, size_t i)
{
	return ((char *)l->v + i * s->size);
}

void *
schema_list_add(const struct schema *s, struct objlist *l)
{
	void	*obj;

	l->v = xreallocarray(l->v, l->n + 1, s->size);
	obj = (char *)l->v + l->n * s->size;
	memset(obj, 0, s->size);
	schema_defaults(s, obj);
	l->n++;
	return (obj);
}

void
schema_list_free(const struct schema *s, struct objlist *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		schema_free(s, schema_list_at(s, l, i));
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
schema_parse_bitrate(const char *s, long long *out)
{
	char		*end;
	double		 v;
	double		 mult = 1;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '.')
		return (-1);
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return (-1);
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1e3;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1e6;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1e9;
		end++;
		break;
	}
	if (*end != '\0')
		return (-1);
	v *= mult;
	if (v < 1 || v > 1e12)
		return (-1);
	*out = (long long)(v + 0.5);
	return (0);
}

static json_object *
bitrate_to_json(long long v)
{
	char	tmp[32];

	if (v % 1000000 == 0)
		snprintf(tmp, sizeof tmp, "%lldM", v / 1000000);
	else if (v % 1000 == 0)
		snprintf(tmp, sizeof tmp, "%lldk", v / 1000);
	else
		return (json_object_new_int64(v));
	return (json_object_new_string(tmp));
}

/* One field at its default (what it holds is not freed here). */
static void
field_default(const struct schema_field *f, void *obj)
{
	void	*p = FIELD_PTR(obj, f);

	switch (f->type) {
	case SCHEMA_STRING:
		*(char **)p = xstrdup(f->def);
		break;
	case SCHEMA_INT:
		*(long long *)p = f->def != NULL ?
		    strtoll(f->def, NULL, 10) : 0;
		break;
	case SCHEMA_BOOL:
		*(int *)p = f->def != NULL && strcmp(f->def, "true") == 0;
		break;
	case SCHEMA_TIME:
		*(int64_t *)p = 0;
		if (f->def != NULL)
			timefmt_parse_iso8601(f->def, (int64_t *)p);
		break;
	case SCHEMA_BITRATE:
		*(long long *)p = 0;
		if (f->def != NULL)
			schema_parse_bitrate(f->def, (long long *)p);
		break;
	case SCHEMA_STRLIST:
		memset(p, 0, sizeof(struct strlist));
		break;
	case SCHEMA_MAP:
		memset(p, 0, sizeof(struct kvlist));
		break;
	case SCHEMA_JSON:
		*(json_object **)p = NULL;
		break;
	case SCHEMA_OBJECT:
		schema_defaults(f->sub, p);
		break;
	case SCHEMA_LIST:
	case SCHEMA_DICT:
		memset(p, 0, sizeof(struct objlist));
		break;
	}
}

void
schema_defaults(const struct schema *s, void *obj)
{
	const struct schema_field	*f;

	for (f = s->fields; f->name != NULL; f++)
		field_default(f, obj);
}

static void
free_field(const struct schema_field *f, void *obj)
{
	void	*p = FIELD_PTR(obj, f);

	switch (f->type) {
	case SCHEMA_STRING:
		free(*(char **)p);
		*(char **)p = NULL;
		break;
	case SCHEMA_INT:
	case SCHEMA_BOOL:
	case SCHEMA_TIME:
	case SCHEMA_BITRATE:
		break;
	case SCHEMA_STRLIST:
		strlist_free(p);
		break;
	case SCHEMA_MAP:
		kvlist_free(p);
		break;
	case SCHEMA_JSON:
		json_object_put(*(json_object **)p);
		*(json_object **)p = NULL;
		break;
	case SCHEMA_OBJECT:
		schema_free(f->sub, p);
		break;
	case SCHEMA_LIST:
	case SCHEMA_DICT:
		schema_list_free(f->sub, p);
		break;
	}
}

void
schema_free(const struct schema *s, void *obj)
{
	const struct schema_field	*f;

	if (obj == NULL)
		return;
	for (f = s->fields; f->name != NULL; f++)
		free_field(f, obj);
}

const struct schema_field *
schema_field(const struct schema *s, const char *name)
{
	const struct schema_field	*f;

	for (f = s->fields; f->name != NULL; f++) {
		if (strcmp(f->name, name) == 0)
			return (f);
	}
	return (NULL);
}

/* Edit distance with transpositions (optimal string alignment): "nmae"
 * is one edit from "name".  Names are short; longer ones are not
 * compared. */
static size_t
distance(const char *a, const char *b)
{
	size_t	la = strlen(a), lb = strlen(b), i, j, cost, best;
	size_t	d[65][65];

	if (la > 64 || lb > 64)
		return (SIZE_MAX);
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 1]) ? 0 : 1;
			best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return (d[la][lb]);
}

const char *
schema_suggest(const struct schema *s, const char *name)
{
	const struct schema_field	*f;
	const char			*best = NULL;
	size_t				 d, bestd = SIZE_MAX, limit;

	limit = strlen(name) <= 4 ? 1 : 2;
	for (f = s->fields; f->name != NULL; f++) {
		d = distance(name, f->name);
		/* A missing or extra word part ("logo_url" for "logo"). */
		if (d > limit && (strncmp(f->name, name, strlen(f->name)) == 0 ||
		    strncmp(name, f->name, strlen(name)) == 0) &&
		    strlen(name) >= 3)
			d = limit;
		if (d <= limit && d < bestd) {
			bestd = d;
			best = f->name;
		}
	}
	return (best);
}

/* Checks a string value: a STRING field, or one element of a STRLIST
 * (element set: min and max then count entries, not characters). */
static int
check_string(const struct schema_field *f, char **sp, int element,
    const char *path, struct schema_error *err)
{
	const char *const	*c;
	char			*s = *sp, *cause = NULL;
	size_t			 len = strlen(s), i;

	if (f->flags & (SCHEMA_LOWER | SCHEMA_UPPER)) {
		for (i = 0; i < len; i++) {
			s[i] = (f->flags & SCHEMA_LOWER) ?
			    tolower((unsigned char)s[i]) :
			    toupper((unsigned char)s[i]);
		}
	}
	if ((f->flags & SCHEMA_NONEMPTY) && len == 0)
		return (fail(err, path, "must not be empty"));
	if (!element && f->min > 0 && (long long)len < f->min)
		return (fail(err, path, "must be at least %lld characters",
		    f->min));
	if (!element && f->max > 0 && (long long)len > f->max)
		return (fail(err, path, "must be at most %lld characters",
		    f->max));
	if (f->choices != NULL) {
		for (c = f->choices; *c != NULL; c++) {
			if (strcmp(*c, s) == 0)
				break;
		}
		if (*c == NULL) {
			struct buf	b = BUF_INIT;
			char		*m;

			for (c = f->choices; *c != NULL; c++)
				buf_addf(&b, "%s%s", c == f->choices ? "" :
				    ", ", *c);
			m = buf_detach(&b);
			fail(err, path, "'%s' is not one of: %s", s, m);
			free(m);
			return (-1);
		}
	}
	if (f->check != NULL && f->check(sp, &cause) != 0) {
		fail(err, path, "%s", cause != NULL ? cause : "invalid value");
		free(cause);
		return (-1);
	}
	return (0);
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Everything amps stores is written again as XML, JSON and
 * M3U, so bad bytes are refused where they come in. */
static int
valid_utf8(const unsigned char *s)
{
	unsigned int	c;
	int		n, i;

	while (*s != '\0') {
		if (*s < 0x80) {
			s++;
			continue;
		}
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			c = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			c = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			c = *s & 0x07;
		} else
			return (0);
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return (0);
			c = (c << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) ||
		    (n == 3 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff))
			return (0);
		s += n + 1;
	}
	return (1);
}

static int
get_string(json_object *v, const char *path, char **out,
    struct schema_error *err)
{
	const char	*s;
	size_t		 len;

	if (!json_object_is_type(v, json_type_string))
		return (fail(err, path, "expected a string, not %s",
		    type_name(v)));
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return (fail(err, path, "must not contain a NUL character"));
	if (!valid_utf8((const unsigned char *)s))
		return (fail(err, path, "is not valid UTF-8"));
	*out = xstrdup(s);
	return (0);
}

static int
scalar_text(json_object *v, const char *path, char **out,
    struct schema_error *err)
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		return (get_string(v, path, out, err));
	case json_type_int:
		*out = xprintf("%lld", (long long)json_object_get_int64(v));
		return (0);
	case json_type_double:
		/* 29.97, not 29.969999999999999. */
		*out = xprintf("%.15g", json_object_get_double(v));
		return (0);
	case json_type_boolean:
		*out = xstrdup(json_object_get_boolean(v) ? "true" : "false");
		return (0);
	default:
		return (fail(err, path, "expected a string or a number, not %s",
		    type_name(v)));
	}
}

/* Any JSON the store may keep must also fit amps.conf: no null, keys that
 * are libconfig names. */
static int
check_json(json_object *v, const char *path, struct schema_error *err)
{
	char	*p;
	size_t	 i, n;
	int	 rc;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return (fail(err, path, "null is not allowed here"));
	case json_type_object:
		json_object_object_foreach(v, key, val) {
			if (!legal_name(key))
				return (fail(err, path, "'%s' is not a valid "
				    "name (letters, digits, '-' and '_', "
				    "starting with a letter)", key));
			p = join_key(path, key);
			rc = check_json(val, p, err);
			free(p);
			if (rc != 0)
				return (rc);
		}
		return (0);
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			p = xprintf("%s[%zu]", path, i);
			rc = check_json(json_object_array_get_idx(v, i), p, err);
			free(p);
			if (rc != 0)
				return (rc);
		}
		return (0);
	default:
		return (0);
	}
}

static int
check_count(const struct schema_field *f, size_t n, const char *path,
    struct schema_error *err)
{
	if (f->min > 0 && (long long)n < f->min)
		return (fail(err, path, "needs at least %lld entries", f->min));
	if (f->max > 0 && (long long)n > f->max)
		return (fail(err, path, "may have at most %lld entries",
		    f->max));
	return (0);
}

static int
parse_object(const struct schema *s, json_object *v, void *obj,
    const char *path, struct schema_error *err)
{
	const struct schema_field	*first = &s->fields[0];

	if (s->strform && json_object_is_type(v, json_type_string)) {
		char	*p = join_key(path, first->name);
		int	 rc = parse_field(first, v, obj, p, err);

		free(p);
		return (rc);
	}
	return (schema_from_json(s, v, obj, 0, path, err));
}

static int
parse_field(const struct schema_field *f, json_object *v, void *obj,
    const char *path, struct schema_error *err)
{
	void		*p = FIELD_PTR(obj, f);
	char		*s = NULL;
	long long	 n;
	size_t		 i, len;
	int64_t		 t;

	free_field(f, obj);
	if (json_object_is_type(v, json_type_null)) {
		/* null puts the key back to its default, whatever its type. */
		field_default(f, obj);
		if (f->flags & SCHEMA_REQUIRED)
			return (fail(err, path, "is required"));
		return (0);
	}

	switch (f->type) {
	case SCHEMA_STRING:
		if ((f->flags & SCHEMA_TEXT) ?
		    scalar_text(v, path, &s, err) != 0 :
		    get_string(v, path, &s, err) != 0)
			return (-1);
		*(char **)p = s;
		return (check_string(f, (char **)p, 0, path, err));
	case SCHEMA_INT:
		if (!json_object_is_type(v, json_type_int))
			return (fail(err, path, "expected an integer, not %s",
			    type_name(v)));
		errno = 0;
		n = json_object_get_int64(v);
		if (errno != 0)
			return (fail(err, path, "integer out of range"));
		if ((f->min != 0 || f->max != 0) && (n < f->min || n > f->max))
			return (fail(err, path, "%lld is out of range "
			    "(%lld to %lld)", n, f->min, f->max));
		*(long long *)p = n;
		return (0);
	case SCHEMA_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return (fail(err, path, "expected true or false, not %s",
			    type_name(v)));
		*(int *)p = json_object_get_boolean(v) ? 1 : 0;
		return (0);
	case SCHEMA_TIME:
		if (!json_object_is_type(v, json_type_string))
			return (fail(err, path, "expected an ISO 8601 time "
			    "string, not %s", type_name(v)));
		if (timefmt_parse_iso8601(json_object_get_string(v), &t) != 0)
			return (fail(err, path, "'%s' is not an ISO 8601 time "
			    "with a zone, like 2026-11-21T18:00:00Z",
			    json_object_get_string(v)));
		/* 0 stands for "unset" in the structs. */
		if (t <= 0)
			return (fail(err, path, "'%s' is not after "
			    "1970-01-01T00:00:00Z", json_object_get_string(v)));
		*(int64_t *)p = t;
		return (0);
	case SCHEMA_BITRATE:
		if (json_object_is_type(v, json_type_int)) {
			n = json_object_get_int64(v);
			if (n < 1)
				return (fail(err, path, "a bit rate must be "
				    "positive"));
		} else if (json_object_is_type(v, json_type_string)) {
			if (schema_parse_bitrate(json_object_get_string(v),
			    &n) != 0)
				return (fail(err, path, "'%s' is not a bit "
				    "rate (like 3000000, \"3000k\" or \"3M\")",
				    json_object_get_string(v)));
		} else
			return (fail(err, path, "expected a bit rate, not %s",
			    type_name(v)));
		if ((f->min != 0 || f->max != 0) && (n < f->min || n > f->max))
			return (fail(err, path, "%lld is out of range "
			    "(%lld to %lld)", n, f->min, f->max));
		*(long long *)p = n;
		return (0);
	case SCHEMA_STRLIST: {
		struct strlist	*l = p;
		json_object	*e;
		char		*ip;
		int		 rc;

		if (json_object_is_type(v, json_type_string)) {
			len = 1;
		} else if (json_object_is_type(v, json_type_array)) {
			len = json_object_array_length(v);
		} else
			return (fail(err, path, "expected a list of strings, "
			    "not %s", type_name(v)));
		for (i = 0; i < len; i++) {
			e = json_object_is_type(v, json_type_array) ?
			    json_object_array_get_idx(v, i) : v;
			ip = xprintf("%s[%zu]", path, i);
			rc = get_string(e, ip, &s, err);
			if (rc == 0) {
				l->v = xreallocarray(l->v, l->n + 1,
				    sizeof *l->v);
				l->v[l->n++] = s;
				rc = check_string(f, &l->v[l->n - 1], 1, ip,
				    err);
			}
			free(ip);
			if (rc != 0)
				return (-1);
		}
		return (check_count(f, l->n, path, err));
	}
	case SCHEMA_MAP: {
		struct kvlist	*l = p;
		char		*kp;
		int		 rc;

		if (!json_object_is_type(v, json_type_object))
			return (fail(err, path, "expected an object of "
			    "name = value pairs, not %s", type_name(v)));
		json_object_object_foreach(v, key, val) {
			kp = join_key(path, key);
			if (!legal_name(key)) {
				fail(err, kp, "'%s' is not a valid name "
				    "(letters, digits, '-' and '_', starting "
				    "with a letter)", key);
				free(kp);
				return (-1);
			}
			rc = scalar_text(val, kp, &s, err);
			free(kp);
			if (rc != 0)
				return (-1);
			kvlist_set(l, key, s);
			free(s);
		}
		return (check_count(f, l->n, path, err));
	}
	case SCHEMA_JSON:
		if (check_json(v, path, err) != 0)
			return (-1);
		*(json_object **)p = json_object_get(v);
		return (0);
	case SCHEMA_OBJECT:
		schema_defaults(f->sub, p);
		if (!json_object_is_type(v, json_type_object) &&
		    !(f->sub->strform &&
		    json_object_is_type(v, json_type_string)))
			return (fail(err, path, "expected %s, not %s",
			    f->sub->strform ? "a string or an object" :
			    "an object", type_name(v)));
		return (parse_object(f->sub, v, p, path, err));
	case SCHEMA_LIST: {
		struct objlist	*l = p;
		json_object	*e;
		char		*ip;
		void		*elem;
		int		 rc;

		if (!json_object_is_type(v, json_type_array))
			return (fail(err, path, "expected a list, not %s",
			    type_name(v)));
		len = json_object_array_length(v);
		for (i = 0; i < len; i++) {
			e = json_object_array_get_idx(v, i);
			ip = xprintf("%s[%zu]", path, i);
			elem = schema_list_add(f->sub, l);
			if (!json_object_is_type(e, json_type_object) &&
			    !(f->sub->strform &&
			    json_object_is_type(e, json_type_string)))
				rc = fail(err, ip, "expected %s, not %s",
				    f->sub->strform ? "a string or an object" :
				    "an object", type_name(e));
			else
				rc = parse_object(f->sub, e, elem, ip, err);
			free(ip);
			if (rc != 0)
				return (-1);
		}
		return (check_count(f, l->n, path, err));
	}
	case SCHEMA_DICT: {
		struct objlist			*l = p;
		const struct schema_field	*kf = &f->sub->fields[0];
		void				*elem;
		char				*kp;
		int				 rc;

		if (!json_object_is_type(v, json_type_object))
			return (fail(err, path, "expected an object, not %s",
			    type_name(v)));
		json_object_object_foreach(v, key, val) {
			kp = join_key(path, key);
			elem = schema_list_add(f->sub, l);
			if (!legal_name(key))
				rc = fail(err, kp, "'%s' is not a valid name "
				    "(letters, digits, '-' and '_', starting "
				    "with a letter)", key);
			else if (!json_object_is_type(val, json_type_object))
				rc = fail(err, kp, "expected an object, not %s",
				    type_name(val));
			else if (json_object_object_get_ex(val, kf->name,
			    NULL))
				rc = fail(err, kp, "'%s' is given by the key "
				    "'%s'", kf->name, key);
			else {
				/* The key is the element's first field. */
				json_object	*named;

				named = json_object_new_object();
				json_object_object_add(named, kf->name,
				    json_object_new_string(key));
				json_object_object_foreach(val, k2, v2) {
					json_object_object_add(named, k2,
					    json_object_get(v2));
				}
				rc = schema_from_json(f->sub, named, elem, 0,
				    kp, err);
				json_object_put(named);
			}
			free(kp);
			if (rc != 0)
				return (-1);
		}
		return (check_count(f, l->n, path, err));
	}
	}
	return (fail(err, path, "unsupported type"));
}

int
schema_from_json(const struct schema *s, json_object *in, void *obj,
    int partial, const char *path, struct schema_error *err)
{
	const struct schema_field	*f;
	const char			*hint;
	char				*p, *cause = NULL, key[SCHEMA_KEYSIZE];
	json_object			*v;
	int				 rc;

	if (!json_object_is_type(in, json_type_object))
		return (fail(err, path, "expected an object, not %s",
		    type_name(in)));

	json_object_object_foreach(in, name, val) {
		(void)val;
		if (schema_field(s, name) != NULL)
			continue;
		p = join_key(path, name);
		hint = schema_suggest(s, name);
		if (hint != NULL)
			fail(err, p, "unknown key '%s' (did you mean '%s'?)",
			    name, hint);
		else
			fail(err, p, "unknown key '%s'", name);
		free(p);
		return (-1);
	}

	for (f = s->fields; f->name != NULL; f++) {
		p = join_key(path, f->name);
		if (!json_object_object_get_ex(in, f->name, &v)) {
			rc = 0;
			if ((f->flags & SCHEMA_REQUIRED) && !partial)
				rc = fail(err, p, "missing required key '%s'",
				    f->name);
		} else
			rc = parse_field(f, v, obj, p, err);
		free(p);
		if (rc != 0)
			return (-1);
	}

	key[0] = '\0';
	if (s->check != NULL && s->check(obj, key, &cause) != 0) {
		p = key[0] != '\0' ? join_key(path, key) : xstrdup(path);
		fail(err, p, "%s", cause != NULL ? cause : "invalid");
		free(p);
		free(cause);
		return (-1);
	}
	return (0);
}

static json_object *
field_json(const struct schema_field *f, const void *obj, int flags)
{
	const void	*p = FIELD_CPTR(obj, f);
	json_object	*j;
	size_t		 i;
	char		 tbuf[TIMEFMT_BUFSIZE];

	switch (f->type) {
	case SCHEMA_STRING:
		if (*(char *const *)p == NULL)
			return (NULL);
		return (json_object_new_string(*(char *const *)p));
	case SCHEMA_INT:
		return (json_object_new_int64(*(const long long *)p));
	case SCHEMA_BOOL:
		return (json_object_new_boolean(*(const int *)p));
	case SCHEMA_TIME:
		if (*(const int64_t *)p == 0)
			return (NULL);
		return (json_object_new_string(timefmt_format_iso8601(
		    *(const int64_t *)p, tbuf, sizeof tbuf)));
	case SCHEMA_BITRATE:
		if (*(const long long *)p == 0)
			return (NULL);
		return (bitrate_to_json(*(const long long *)p));
	case SCHEMA_STRLIST: {
		const struct strlist	*l = p;

		if (l->n == 0 && !(flags & SCHEMA_JSON_ALL))
			return (NULL);
		j = json_object_new_array();
		for (i = 0; i < l->n; i++)
			json_object_array_add(j,
			    json_object_new_string(l->v[i]));
		return (j);
	}
	case SCHEMA_MAP: {
		const struct kvlist	*l = p;

		if (l->n == 0 && !(flags & SCHEMA_JSON_ALL))
			return (NULL);
		j = json_object_new_object();
		for (i = 0; i < l->n; i++)
			json_object_object_add(j, l->v[i].key,
			    json_object_new_string(l->v[i].value));
		return (j);
	}
	case SCHEMA_JSON:
		return (json_object_get(*(json_object *const *)p));
	case SCHEMA_OBJECT:
		/* An object at its defaults is unset (null with
		 * SCHEMA_JSON_ALL), not a tree of defaults. */
		j = schema_to_json(f->sub, p, flags & ~SCHEMA_JSON_ALL);
		if (json_object_is_type(j, json_type_object) &&
		    json_object_object_length(j) == 0) {
			json_object_put(j);
			return (NULL);
		}
		if (flags & SCHEMA_JSON_ALL) {
			json_object_put(j);
			j = schema_to_json(f->sub, p, flags);
		}
		return (j);
	case SCHEMA_LIST: {
		const struct objlist	*l = p;

		if (l->n == 0 && !(flags & SCHEMA_JSON_ALL))
			return (NULL);
		j = json_object_new_array();
		for (i = 0; i < l->n; i++)
			json_object_array_add(j, schema_to_json(f->sub,
			    schema_list_at(f->sub, l, i), flags));
		return (j);
	}
	case SCHEMA_DICT: {
		const struct objlist		*l = p;
		const struct schema_field	*kf = &f->sub->fields[0];
		json_object			*e;
		const void			*elem;

		if (l->n == 0 && !(flags & SCHEMA_JSON_ALL))
			return (NULL);
		j = json_object_new_object();
		for (i = 0; i < l->n; i++) {
			elem = schema_list_at(f->sub, l, i);
			e = schema_to_json(f->sub, elem, flags);
			json_object_object_del(e, kf->name);
			json_object_object_add(j,
			    *(char *const *)FIELD_CPTR(elem, kf), e);
		}
		return (j);
	}
	}
	return (NULL);
}

json_object *
schema_field_to_json(const struct schema_field *f, const void *obj)
{
	return (field_json(f, obj, 0));
}

json_object *
schema_to_json(const struct schema *s, const void *obj, int flags)
{
	const struct schema_field	*f;
	json_object			*out, *v, *d, *first;
	void				*def = NULL;

	if (!(flags & SCHEMA_JSON_ALL)) {
		def = xcalloc(1, s->size);
		schema_defaults(s, def);
	}
	out = json_object_new_object();
	for (f = s->fields; f->name != NULL; f++) {
		if ((flags & SCHEMA_JSON_PUBLIC) && (f->flags & SCHEMA_SECRET))
			continue;
		if ((flags & SCHEMA_JSON_EXPORT) &&
		    (f->flags & SCHEMA_NOEXPORT))
			continue;
		v = field_json(f, obj, flags);
		if (def != NULL) {
			d = field_json(f, def, flags);
			if (v == NULL || (d != NULL &&
			    json_object_equal(v, d))) {
				json_object_put(v);
				json_object_put(d);
				continue;
			}
			json_object_put(d);
		}
		/* v NULL is JSON null, with SCHEMA_JSON_ALL. */
		json_object_object_add(out, f->name, v);
	}
	if (def != NULL) {
		schema_free(s, def);
		free(def);
	}

	/* The short form: { command = "x" } is written "x". */
	if (s->strform && !(flags & SCHEMA_JSON_ALL) &&
	    json_object_object_length(out) == 1 &&
	    json_object_object_get_ex(out, s->fields[0].name, &first) &&
	    json_object_is_type(first, json_type_string)) {
		first = json_object_get(first);
		json_object_put(out);
		return (first);
	}
	return (out);
}

int
schema_equal(const struct schema *s, const void *a, const void *b)
{
	json_object	*ja, *jb;
	int		 eq;

	ja = schema_to_json(s, a, SCHEMA_JSON_ALL);
	jb = schema_to_json(s, b, SCHEMA_JSON_ALL);
	eq = json_object_equal(ja, jb);
	json_object_put(ja);
	json_object_put(jb);
	return (eq);
}

static void
copy_field(const struct schema_field *f, void *dst, const void *src)
{
	void		*d = FIELD_PTR(dst, f);
	const void	*s = FIELD_CPTR(src, f);
	size_t		 i;

	switch (f->type) {
	case SCHEMA_STRING:
		*(char **)d = xstrdup(*(char *const *)s);
		break;
	case SCHEMA_INT:
	case SCHEMA_BITRATE:
		*(long long *)d = *(const long long *)s;
		break;
	case SCHEMA_BOOL:
		*(int *)d = *(const int *)s;
		break;
	case SCHEMA_TIME:
		*(int64_t *)d = *(const int64_t *)s;
		break;
	case SCHEMA_STRLIST: {
		const struct strlist	*sl = s;
		struct strlist		*dl = d;

		memset(dl, 0, sizeof *dl);
		for (i = 0; i < sl->n; i++)
			strlist_add(dl, sl->v[i]);
		break;
	}
	case SCHEMA_MAP: {
		const struct kvlist	*sl = s;
		struct kvlist		*dl = d;

		memset(dl, 0, sizeof *dl);
		for (i = 0; i < sl->n; i++)
			kvlist_set(dl, sl->v[i].key, sl->v[i].value);
		break;
	}
	case SCHEMA_JSON:
		*(json_object **)d = json_object_get(
		    *(json_object *const *)s);
		break;
	case SCHEMA_OBJECT:
		schema_copy(f->sub, d, s);
		break;
	case SCHEMA_LIST:
	case SCHEMA_DICT: {
		const struct objlist	*sl = s;
		struct objlist		*dl = d;

		dl->n = sl->n;
		dl->v = sl->n == 0 ? NULL : xcalloc(sl->n, f->sub->size);
		for (i = 0; i < sl->n; i++)
			schema_copy(f->sub, schema_list_at(f->sub, dl, i),
			    schema_list_at(f->sub, sl, i));
		break;
	}
	}
}

void
schema_copy(const struct schema *s, void *dst, const void *src)
{
	const struct schema_field	*f;

	/* Members outside the table (bookkeeping) are copied as they are. */
	memcpy(dst, src, s->size);
	for (f = s->fields; f->name != NULL; f++)
		copy_field(f, dst, src);
}

int
schema_validate(const struct schema *s, const void *obj,
    struct schema_error *err)
{
	json_object	*j;
	void		*tmp;
	int		 rc;

	/* The written form loads back only if every rule holds. */
	j = schema_to_json(s, obj, 0);
	tmp = xcalloc(1, s->size);
	schema_defaults(s, tmp);
	rc = parse_object(s, j, tmp, "", err);
	schema_free(s, tmp);
	free(tmp);
	json_object_put(j);
	return (rc);
}
