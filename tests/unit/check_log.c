#include "config.h"

#include <sys/types.h>

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>

#include "log.h"
#include "testutil.h"

#define MAXLINES	16

struct capture {
	int		 n;
	enum log_level	 level[MAXLINES];
	char		*tag[MAXLINES];
	char		*line[MAXLINES];
};

static struct capture	cap;

static void
sink(enum log_level level, const char *tag, const char *line, void *arg)
{
	struct capture	*c = arg;

	if (c->n == MAXLINES)
		return;
	c->level[c->n] = level;
	c->tag[c->n] = strdup(tag != NULL ? tag : "(null)");
	c->line[c->n] = strdup(line);
	c->n++;
}

static void
setup(void)
{
	memset(&cap, 0, sizeof cap);
	log_close();
	log_set_level(LOG_LEVEL_INFO);
	log_set_sink(sink, &cap);
}

static void
teardown(void)
{
	int	i;

	log_set_sink(NULL, NULL);
	log_close();
	for (i = 0; i < cap.n; i++) {
		free(cap.tag[i]);
		free(cap.line[i]);
	}
	memset(&cap, 0, sizeof cap);
}

static int
matches(const char *s, const char *re)
{
	regex_t	r;
	int	ok;

	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return (ok);
}

static int
count_lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return (n);
}

START_TEST(test_level_names)
{
	ck_assert_str_eq(log_level_name(LOG_LEVEL_ERROR), "error");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_WARN), "warn");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_INFO), "info");
	ck_assert_str_eq(log_level_name(LOG_LEVEL_DEBUG), "debug");
	ck_assert_int_eq(log_level_from_name("error"), LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_level_from_name("warn"), LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_from_name("info"), LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_from_name("debug"), LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_from_name("DEBUG"), LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_from_name("warning"), LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_from_name("verbose"), -1);
	ck_assert_int_eq(log_level_from_name(""), -1);
	ck_assert_int_eq(log_level_from_name("info "), -1);
	ck_assert_int_eq(log_level_from_name(NULL), -1);
	ck_assert_str_eq(log_level_name((enum log_level)17), "unknown");
}
END_TEST

START_TEST(test_set_level)
{
	log_set_level(LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_DEBUG);
	log_set_level(LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_ERROR);
}
END_TEST

START_TEST(test_sink_line)
{
	char	*re;

	ck_assert_int_eq(log_open(NULL, "unittest", NULL), 0);
	log_info("store", "hello %d %s", 42, "world");
	ck_assert_int_eq(cap.n, 1);
	ck_assert_int_eq(cap.level[0], LOG_LEVEL_INFO);
	ck_assert_str_eq(cap.tag[0], "store");
	ck_assert_ptr_nonnull(strstr(cap.line[0],
	    " info store: hello 42 world"));
	ck_assert_ptr_null(strchr(cap.line[0], '\n'));
	if (asprintf(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
	    "[0-9]{2}\\.[0-9]{3}Z unittest\\[%ld\\] info store: hello 42 "
	    "world$", (long)getpid()) < 0)
		ck_abort_msg("asprintf");
	ck_assert_msg(matches(cap.line[0], re), "line \"%s\"", cap.line[0]);
	free(re);

	log_error("conf", "bad %s", "thing");
	ck_assert_int_eq(cap.n, 2);
	ck_assert_int_eq(cap.level[1], LOG_LEVEL_ERROR);
	ck_assert_str_eq(cap.tag[1], "conf");
	ck_assert(matches(cap.line[1], " unittest\\[[0-9]+\\] error conf: "
	    "bad thing$"));
}
END_TEST

START_TEST(test_filter)
{
	log_set_level(LOG_LEVEL_WARN);
	log_debug("t", "debug");
	log_info("t", "info");
	ck_assert_int_eq(cap.n, 0);
	log_warn("t", "warn");
	log_error("t", "error");
	ck_assert_int_eq(cap.n, 2);
	ck_assert_int_eq(cap.level[0], LOG_LEVEL_WARN);
	ck_assert(matches(cap.line[0], " warn t: warn$"));
	ck_assert(matches(cap.line[1], " error t: error$"));

	log_set_level(LOG_LEVEL_DEBUG);
	log_debug("t", "now %s", "seen");
	ck_assert_int_eq(cap.n, 3);
	ck_assert(matches(cap.line[2], " debug t: now seen$"));

	log_set_sink(NULL, NULL);
	log_error("t", "not captured");
	ck_assert_int_eq(cap.n, 3);
}
END_TEST

START_TEST(test_newlines)
{
	log_info("t", "trailing\n");
	log_info("t", "one\ntwo\r\n");
	log_info("t", "bell\a tab\t");
	ck_assert_int_eq(cap.n, 3);
	ck_assert(matches(cap.line[0], " info t: trailing$"));
	ck_assert_ptr_nonnull(strstr(cap.line[1], " info t: one\\ntwo"));
	ck_assert_ptr_null(strchr(cap.line[1], '\n'));
	ck_assert_ptr_nonnull(strstr(cap.line[2], "bell\\x07 tab\t"));
}
END_TEST

START_TEST(test_file)
{
	char	*dir, *path, *bad, *cause = NULL, *text;
	size_t	 len;

	dir = tu_tmpdir();
	if (asprintf(&path, "%s/amps.log", dir) < 0 ||
	    asprintf(&bad, "%s/missing/amps.log", dir) < 0)
		ck_abort_msg("asprintf");

	ck_assert_int_eq(log_open(path, "filetest", &cause), 0);
	ck_assert_ptr_null(cause);
	log_warn("sync", "first %d", 1);
	/* Line buffered: on disk before the file is closed. */
	text = tu_read_file(path, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_int_eq(count_lines(text), 1);
	ck_assert(matches(text, "^[0-9-]+T[0-9:.]+Z filetest\\[[0-9]+\\] "
	    "warn sync: first 1\n$"));
	/* The file gets exactly the line the sink saw, plus a newline. */
	ck_assert_int_eq(cap.n, 1);
	ck_assert_uint_eq(len, strlen(cap.line[0]) + 1);
	ck_assert_mem_eq(text, cap.line[0], len - 1);
	free(text);

	/* A failed open reports why and keeps the current file. */
	ck_assert_int_eq(log_open(bad, NULL, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_nonnull(strstr(cause, bad));
	free(cause);
	log_info("sync", "second");
	log_close();

	/* Reopening appends. */
	ck_assert_int_eq(log_open(path, "filetest", NULL), 0);
	log_info("sync", "third");
	log_close();
	text = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(count_lines(text), 3);
	ck_assert(matches(text, "first 1\n.* info sync: second\n.* info sync: "
	    "third\n$"));
	free(text);

	tu_rmtree(dir);
	free(bad);
	free(path);
	free(dir);
}
END_TEST

struct worker {
	int	id;
};

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	int		 i;

	for (i = 0; i < 500; i++)
		log_info("thread", "worker %d line %d padding padding padding",
		    w->id, i);
	return (NULL);
}

START_TEST(test_threads)
{
	struct worker	 w[4];
	pthread_t	 th[4];
	char		*dir, *path, *text, *line, *save;
	int		 i, n = 0;

	dir = tu_tmpdir();
	if (asprintf(&path, "%s/threads.log", dir) < 0)
		ck_abort_msg("asprintf");
	log_set_sink(NULL, NULL);
	ck_assert_int_eq(log_open(path, "threads", NULL), 0);
	for (i = 0; i < 4; i++) {
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	log_close();

	text = tu_read_file(path, NULL);
	ck_assert_ptr_nonnull(text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(matches(line, "^[0-9-]+T[0-9:.]+Z "
		    "threads\\[[0-9]+\\] info thread: worker [0-3] line "
		    "[0-9]+ padding padding padding$"), "torn line \"%s\"",
		    line);
		n++;
	}
	ck_assert_int_eq(n, 4 * 500);
	free(text);
	tu_rmtree(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_libav)
{
	log_set_level(LOG_LEVEL_DEBUG);
	av_log_set_level(AV_LOG_INFO);
	log_hook_libav();
	av_log(NULL, AV_LOG_ERROR, "x %d\n", 1);
	ck_assert_int_eq(cap.n, 1);
	ck_assert_str_eq(cap.tag[0], "libav");
	ck_assert_int_eq(cap.level[0], LOG_LEVEL_ERROR);
	ck_assert_ptr_nonnull(strstr(cap.line[0], "x 1"));
	ck_assert(matches(cap.line[0], " error libav: x 1$"));

	av_log(NULL, AV_LOG_WARNING, "w\n");
	/* libav's info is our debug. */
	av_log(NULL, AV_LOG_INFO, "i\n");
	av_log(NULL, AV_LOG_FATAL, "f\n");
	ck_assert_int_eq(cap.n, 4);
	ck_assert_int_eq(cap.level[1], LOG_LEVEL_WARN);
	ck_assert_int_eq(cap.level[2], LOG_LEVEL_DEBUG);
	ck_assert_int_eq(cap.level[3], LOG_LEVEL_ERROR);
	ck_assert(matches(cap.line[3], " error libav: f$"));
}
END_TEST

START_TEST(test_libav_levels)
{
	log_set_level(LOG_LEVEL_DEBUG);
	log_hook_libav();

	/* libav's own level filters first. */
	av_log_set_level(AV_LOG_ERROR);
	av_log(NULL, AV_LOG_WARNING, "dropped\n");
	av_log(NULL, AV_LOG_QUIET, "quiet\n");
	ck_assert_int_eq(cap.n, 0);

	av_log_set_level(AV_LOG_DEBUG);
	av_log(NULL, AV_LOG_VERBOSE, "verbose\n");
	av_log(NULL, AV_LOG_DEBUG, "debug\n");
	av_log(NULL, AV_LOG_TRACE, "trace\n");
	ck_assert_int_eq(cap.n, 2);
	ck_assert_int_eq(cap.level[0], LOG_LEVEL_DEBUG);
	ck_assert_int_eq(cap.level[1], LOG_LEVEL_DEBUG);

	/* Then ours. */
	log_set_level(LOG_LEVEL_WARN);
	av_log(NULL, AV_LOG_INFO, "info\n");
	ck_assert_int_eq(cap.n, 2);
	av_log(NULL, AV_LOG_WARNING, "warning\n");
	ck_assert_int_eq(cap.n, 3);
	ck_assert(matches(cap.line[2], " warn libav: warning$"));
}
END_TEST

START_TEST(test_libav_pieces)
{
	static const AVClass	 cls = {
		.class_name = "demo",
		.item_name = av_default_item_name,
		.version = LIBAVUTIL_VERSION_INT,
	};
	struct {
		const AVClass	*class;
	}			 ctx = { &cls };

	av_log_set_level(AV_LOG_INFO);
	log_hook_libav();

	/* One line written in pieces arrives as one line. */
	av_log(NULL, AV_LOG_WARNING, "part %d, ", 1);
	ck_assert_int_eq(cap.n, 0);
	av_log(NULL, AV_LOG_WARNING, "part %d\n", 2);
	ck_assert_int_eq(cap.n, 1);
	ck_assert(matches(cap.line[0], " warn libav: part 1, part 2$"));

	/* A context adds libav's usual "[name @ address]" prefix. */
	av_log(&ctx, AV_LOG_ERROR, "boom\n");
	ck_assert_int_eq(cap.n, 2);
	ck_assert(matches(cap.line[1], " error libav: \\[demo @ 0x[0-9a-f]+\\] "
	    "boom$"));
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("log");
	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_set_level);
	tcase_add_test(tc, test_sink_line);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_newlines);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	tc = tcase_create("libav");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_libav);
	tcase_add_test(tc, test_libav_levels);
	tcase_add_test(tc, test_libav_pieces);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(log_suite()));
}
