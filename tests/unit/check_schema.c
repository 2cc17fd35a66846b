#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "schema.h"
#include "xmalloc.h"
#include "testutil.h"

/* A small table that uses every type. */
struct inner {
	char		*cmd;
	int		 flag;
};

struct item {
	char		*name;
	long long	 n;
};

struct thing {
	char		*name;
	long long	 count;
	int		 on;
	int64_t		 when;
	long long	 rate;
	struct strlist	 tags;
	struct kvlist	 opts;
	json_object	*blob;
	struct inner	 inner;
	struct objlist	 items;
	struct objlist	 named;
	char		*secret;
	char		*mode;
};

static const char *const modes[] = { "fast", "slow", NULL };

static const struct schema_field inner_fields[] = {
	{ .name = "cmd", .type = SCHEMA_STRING,
	  .offset = offsetof(struct inner, cmd), .flags = SCHEMA_REQUIRED },
	{ .name = "flag", .type = SCHEMA_BOOL,
	  .offset = offsetof(struct inner, flag) },
	{ .name = NULL }
};
static const struct schema inner_schema = {
	.name = "inner", .size = sizeof(struct inner), .fields = inner_fields,
	.strform = 1,
};

static const struct schema_field item_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING,
	  .offset = offsetof(struct item, name), .flags = SCHEMA_REQUIRED },
	{ .name = "n", .type = SCHEMA_INT, .offset = offsetof(struct item, n),
	  .def = "7" },
	{ .name = NULL }
};
static const struct schema item_schema = {
	.name = "item", .size = sizeof(struct item), .fields = item_fields,
};

static const struct schema_field thing_fields[] = {
	{ .name = "name", .type = SCHEMA_STRING,
	  .offset = offsetof(struct thing, name),
	  .flags = SCHEMA_REQUIRED | SCHEMA_NONEMPTY, .max = 10 },
	{ .name = "count", .type = SCHEMA_INT,
	  .offset = offsetof(struct thing, count), .def = "3", .min = 1,
	  .max = 100 },
	{ .name = "on", .type = SCHEMA_BOOL, .offset = offsetof(struct thing, on),
	  .def = "true" },
	{ .name = "when", .type = SCHEMA_TIME,
	  .offset = offsetof(struct thing, when) },
	{ .name = "rate", .type = SCHEMA_BITRATE,
	  .offset = offsetof(struct thing, rate) },
	{ .name = "tags", .type = SCHEMA_STRLIST,
	  .offset = offsetof(struct thing, tags), .flags = SCHEMA_UPPER,
	  .max = 3 },
	{ .name = "opts", .type = SCHEMA_MAP,
	  .offset = offsetof(struct thing, opts) },
	{ .name = "blob", .type = SCHEMA_JSON,
	  .offset = offsetof(struct thing, blob) },
	{ .name = "inner", .type = SCHEMA_OBJECT,
	  .offset = offsetof(struct thing, inner), .sub = &inner_schema },
	{ .name = "items", .type = SCHEMA_LIST,
	  .offset = offsetof(struct thing, items), .sub = &item_schema },
	{ .name = "named", .type = SCHEMA_DICT,
	  .offset = offsetof(struct thing, named), .sub = &item_schema },
	{ .name = "secret", .type = SCHEMA_STRING,
	  .offset = offsetof(struct thing, secret), .flags = SCHEMA_SECRET },
	{ .name = "mode", .type = SCHEMA_STRING,
	  .offset = offsetof(struct thing, mode), .choices = modes,
	  .flags = SCHEMA_LOWER },
	{ .name = NULL }
};
static const struct schema thing_schema = {
	.name = "thing", .size = sizeof(struct thing), .fields = thing_fields,
};

/* Parses JSON text into a fresh thing; returns 0 or -1 with err. */
static int
parse(const char *text, struct thing *t, struct schema_error *err)
{
	json_object	*j;
	int		 rc;

	j = json_tokener_parse(text);
	ck_assert_ptr_nonnull(j);
	memset(t, 0, sizeof *t);
	schema_defaults(&thing_schema, t);
	rc = schema_from_json(&thing_schema, j, t, 0, "", err);
	json_object_put(j);
	return (rc);
}

static void
assert_error(const char *text, const char *path, const char *needle)
{
	struct thing		t;
	struct schema_error	err = { NULL, NULL };

	ck_assert_int_eq(parse(text, &t, &err), -1);
	ck_assert_str_eq(err.path, path);
	ck_assert_msg(strstr(err.message, needle) != NULL, "'%s' not in '%s'",
	    needle, err.message);
	schema_error_clear(&err);
	schema_free(&thing_schema, &t);
}

START_TEST(test_defaults)
{
	struct thing		t;
	struct schema_error	err = { NULL, NULL };

	ck_assert_int_eq(parse("{\"name\":\"a\"}", &t, &err), 0);
	ck_assert_int_eq(t.count, 3);
	ck_assert_int_eq(t.on, 1);
	ck_assert_int_eq(t.when, 0);
	ck_assert_ptr_null(t.inner.cmd);
	ck_assert_uint_eq(t.items.n, 0);
	schema_free(&thing_schema, &t);
}
END_TEST

START_TEST(test_all_types)
{
	struct thing		 t;
	struct schema_error	 err = { NULL, NULL };
	const struct item	*it;

	ck_assert_int_eq(parse("{\"name\":\"a\",\"count\":5,\"on\":false,"
	    "\"when\":\"2026-11-21T18:00:00+01:00\",\"rate\":\"1.5M\","
	    "\"tags\":[\"x\",\"y\"],\"opts\":{\"a\":1,\"b\":true,\"c\":\"s\"},"
	    "\"blob\":{\"k\":[1,2]},\"inner\":\"run it\","
	    "\"items\":[{\"name\":\"i\"}],\"named\":{\"p\":{\"n\":2}},"
	    "\"mode\":\"FAST\"}", &t, &err), 0);
	ck_assert_int_eq(t.count, 5);
	ck_assert_int_eq(t.on, 0);
	ck_assert_int_eq(t.when, 1795280400);
	ck_assert_int_eq(t.rate, 1500000);
	ck_assert_str_eq(t.tags.v[1], "Y");
	ck_assert_str_eq(kvlist_get(&t.opts, "a"), "1");
	ck_assert_str_eq(kvlist_get(&t.opts, "b"), "true");
	ck_assert_str_eq(t.inner.cmd, "run it");
	it = schema_list_at(&item_schema, &t.items, 0);
	ck_assert_int_eq(it->n, 7);
	it = schema_list_at(&item_schema, &t.named, 0);
	ck_assert_str_eq(it->name, "p");
	ck_assert_int_eq(it->n, 2);
	ck_assert_str_eq(t.mode, "fast");
	schema_free(&thing_schema, &t);
}
END_TEST

START_TEST(test_errors)
{
	assert_error("{}", "name", "missing required key 'name'");
	assert_error("{\"name\":\"\"}", "name", "must not be empty");
	assert_error("{\"name\":\"abcdefghijk\"}", "name", "at most 10");
	assert_error("{\"name\":\"a\",\"count\":0}", "count", "out of range");
	assert_error("{\"name\":\"a\",\"count\":1.5}", "count",
	    "expected an integer, not a number");
	assert_error("{\"name\":\"a\",\"on\":1}", "on", "expected true or false");
	assert_error("{\"name\":\"a\",\"when\":\"noon\"}", "when",
	    "not an ISO 8601 time");
	assert_error("{\"name\":\"a\",\"rate\":\"-3\"}", "rate", "bit rate");
	assert_error("{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
	    "tags", "at most 3 entries");
	assert_error("{\"name\":\"a\",\"tags\":[\"a\",2]}", "tags[1]",
	    "expected a string");
	assert_error("{\"name\":\"a\",\"opts\":{\"1bad\":\"x\"}}", "opts.1bad",
	    "not a valid name");
	assert_error("{\"name\":\"a\",\"blob\":{\"k\":null}}", "blob.k",
	    "null is not allowed");
	assert_error("{\"name\":\"a\",\"inner\":{\"flag\":true}}", "inner.cmd",
	    "missing required key");
	assert_error("{\"name\":\"a\",\"items\":[{\"name\":\"i\",\"m\":1}]}",
	    "items[0].m", "unknown key 'm'");
	assert_error("{\"name\":\"a\",\"named\":{\"p\":{\"name\":\"q\"}}}",
	    "named.p", "given by the key");
	assert_error("{\"name\":\"a\",\"mode\":\"medium\"}", "mode",
	    "'medium' is not one of: fast, slow");
	assert_error("{\"nmae\":\"a\"}", "nmae", "did you mean 'name'");
	assert_error("{\"name\":\"a\\u0000b\"}", "name", "NUL");
	assert_error("{\"name\":\"a\xc3\x28\"}", "name", "not valid UTF-8");
	assert_error("{\"name\":\"\xed\xa0\x80\"}", "name", "not valid UTF-8");
	assert_error("{\"name\":\"\xc0\xaf\"}", "name", "not valid UTF-8");
	assert_error("[]", "", "expected an object");
}
END_TEST

START_TEST(test_partial)
{
	struct thing		 t;
	struct schema_error	 err = { NULL, NULL };
	json_object		*j;

	ck_assert_int_eq(parse("{\"name\":\"a\",\"count\":9,\"tags\":\"t\"}", &t,
	    &err), 0);
	/* A partial update keeps what it does not name; null resets. */
	j = json_tokener_parse("{\"on\":false,\"tags\":null}");
	ck_assert_int_eq(schema_from_json(&thing_schema, j, &t, 1, "", &err), 0);
	json_object_put(j);
	ck_assert_str_eq(t.name, "a");
	ck_assert_int_eq(t.count, 9);
	/* null puts scalars back to their defaults too. */
	j = json_tokener_parse("{\"count\":null}");
	ck_assert_int_eq(schema_from_json(&thing_schema, j, &t, 1, "", &err), 0);
	json_object_put(j);
	ck_assert_int_eq(t.count, 3);
	t.count = 9;
	ck_assert_int_eq(t.on, 0);
	ck_assert_uint_eq(t.tags.n, 0);
	j = json_tokener_parse("{\"name\":null}");
	ck_assert_int_eq(schema_from_json(&thing_schema, j, &t, 1, "", &err),
	    -1);
	schema_error_clear(&err);
	json_object_put(j);
	schema_free(&thing_schema, &t);
}
END_TEST

START_TEST(test_to_json)
{
	struct thing		 t, u;
	struct schema_error	 err = { NULL, NULL };
	json_object		*j, *v;
	const char		*text;

	ck_assert_int_eq(parse("{\"name\":\"a\",\"rate\":3000000,"
	    "\"inner\":{\"cmd\":\"c\"},\"secret\":\"s\","
	    "\"when\":\"2026-11-21T18:00:00Z\"}", &t, &err), 0);
	j = schema_to_json(&thing_schema, &t, 0);
	text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	/* Defaults left out, short forms used. */
	ck_assert_str_eq(text, "{\"name\":\"a\",\"when\":\"2026-11-21T18:00:00Z\","
	    "\"rate\":\"3M\",\"inner\":\"c\",\"secret\":\"s\"}");
	/* And it loads back to the same thing. */
	memset(&u, 0, sizeof u);
	schema_defaults(&thing_schema, &u);
	ck_assert_int_eq(schema_from_json(&thing_schema, j, &u, 0, "", &err), 0);
	ck_assert_int_eq(schema_equal(&thing_schema, &t, &u), 1);
	json_object_put(j);

	j = schema_to_json(&thing_schema, &t, SCHEMA_JSON_ALL |
	    SCHEMA_JSON_PUBLIC);
	ck_assert_int_eq(json_object_object_get_ex(j, "secret", NULL), 0);
	ck_assert_int_eq(json_object_object_get_ex(j, "count", &v), 1);
	ck_assert_int_eq(json_object_get_int(v), 3);
	ck_assert_int_eq(json_object_object_get_ex(j, "blob", &v), 1);
	ck_assert_ptr_null(v);
	json_object_put(j);

	u.count = 4;
	ck_assert_int_eq(schema_equal(&thing_schema, &t, &u), 0);
	schema_free(&thing_schema, &t);
	schema_free(&thing_schema, &u);
}
END_TEST

START_TEST(test_copy_is_deep)
{
	struct thing		 t, c;
	struct schema_error	 err = { NULL, NULL };

	ck_assert_int_eq(parse("{\"name\":\"a\",\"tags\":[\"x\"],"
	    "\"opts\":{\"a\":\"1\"},\"items\":[{\"name\":\"i\"}],"
	    "\"blob\":[1]}", &t, &err), 0);
	schema_copy(&thing_schema, &c, &t);
	ck_assert_int_eq(schema_equal(&thing_schema, &t, &c), 1);
	ck_assert_ptr_ne(c.name, t.name);
	ck_assert_ptr_ne(c.tags.v[0], t.tags.v[0]);
	ck_assert_ptr_ne(c.items.v, t.items.v);
	free(c.name);
	c.name = xstrdup("b");
	ck_assert_str_eq(t.name, "a");
	schema_free(&thing_schema, &t);
	ck_assert_str_eq(((struct item *)c.items.v)->name, "i");
	schema_free(&thing_schema, &c);
}
END_TEST

START_TEST(test_bitrate_and_suggest)
{
	long long	v;

	ck_assert_int_eq(schema_parse_bitrate("3000k", &v), 0);
	ck_assert_int_eq(v, 3000000);
	ck_assert_int_eq(schema_parse_bitrate("2.5M", &v), 0);
	ck_assert_int_eq(v, 2500000);
	ck_assert_int_eq(schema_parse_bitrate("800", &v), 0);
	ck_assert_int_eq(v, 800);
	ck_assert_int_eq(schema_parse_bitrate("fast", &v), -1);
	ck_assert_int_eq(schema_parse_bitrate("3Mb", &v), -1);
	ck_assert_int_eq(schema_parse_bitrate("0", &v), -1);
	ck_assert_int_eq(schema_parse_bitrate("", &v), -1);
	ck_assert_str_eq(schema_suggest(&thing_schema, "cuont"), "count");
	ck_assert_str_eq(schema_suggest(&thing_schema, "tag"), "tags");
	ck_assert_ptr_null(schema_suggest(&thing_schema, "zzzzzz"));
}
END_TEST

static Suite *
schema_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("schema");
	tc = tcase_create("schema");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_types);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_partial);
	tcase_add_test(tc, test_to_json);
	tcase_add_test(tc, test_copy_is_deep);
	tcase_add_test(tc, test_bitrate_and_suggest);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(schema_suite()));
}
