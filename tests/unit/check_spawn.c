#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "buf.h"
#include "schema.h"
#include "spawn.h"
#include "testutil.h"
#include "xmalloc.h"

/* Values that would be syntax anywhere they were not quoted right.  An
 * injection makes the shell exit early or print something else; none of
 * them does harm if a bug lets it run. */
static const char *const hostile[] = {
	"; exit 7",
	"x; exit 7 #",
	"& exit 9 &",
	"| tr a-z A-Z",
	"$(id)",
	"`id`",
	"it's",
	"\"double\" 'single'",
	"a\nb",
	"\n",
	"trailing\\",
	"'",
	"''",
	"\\'",
	"\\",
	"$HOME ~ * ? [a] {name} {{ }}",
	"'; id; '",
	"\"; id; \"",
	"a b\tc",
	"",
	"-n",
	"#comment",
	"$'\\x41'",
	"\\\"$`",
	")",
	"'$(id)'\"$(id)\"",
	"a[$(exit 7)]",
	NULL
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* An argv of copies of the arguments, up to NULL (caller frees with
 * spawn_argv_free). */
static char **
mkargv(const char *first, ...)
{
	va_list		 ap;
	const char	*a;
	char		**argv = NULL;
	size_t		 n = 0;

	va_start(ap, first);
	for (a = first; a != NULL; a = va_arg(ap, const char *)) {
		argv = xreallocarray(argv, n + 2, sizeof *argv);
		argv[n++] = xstrdup(a);
	}
	va_end(ap);
	if (argv == NULL)
		argv = xcalloc(1, sizeof *argv);
	argv[n] = NULL;
	return (argv);
}

static size_t
argv_len(char **argv)
{
	size_t	n = 0;

	while (argv[n] != NULL)
		n++;
	return (n);
}

/* Builds argv and compares it with want (NULL-terminated). */
static void
check_argv(const char *command, int shell, const char *source, long long id,
    const char *name, const char *const *want)
{
	char	**argv, *cause = NULL;
	size_t	  i;

	argv = spawn_command_argv(command, shell, source, id, name, &cause);
	ck_assert_msg(argv != NULL, "%s: %s", command, cause);
	for (i = 0; want[i] != NULL; i++) {
		ck_assert_msg(argv[i] != NULL, "%s: only %zu words", command,
		    i);
		ck_assert_msg(strcmp(argv[i], want[i]) == 0,
		    "%s: word %zu is [%s], not [%s]", command, i, argv[i],
		    want[i]);
	}
	ck_assert_msg(argv[i] == NULL, "%s: extra word [%s]", command,
	    argv[i]);
	spawn_argv_free(argv);
}

/* Expects an error whose text holds want. */
static void
check_argv_error(const char *command, int shell, const char *want)
{
	char	**argv, *cause = NULL;

	argv = spawn_command_argv(command, shell, "src", 1, "name", &cause);
	ck_assert_msg(argv == NULL, "%s: no error", command);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "%s: cause [%s] lacks [%s]",
	    command, cause, want);
	free(cause);
}

/* Runs argv, returns what it printed (length in *len) and its status. */
static char *
run(char *const *argv, const struct kvlist *env, const char *cwd,
    int *status, size_t *len)
{
	struct spawn	 sp;
	struct buf	 b = BUF_INIT;
	char		 chunk[4096], *cause = NULL;
	ssize_t		 n;
	pid_t		 pid;
	int		 fd = -1;

	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.cwd = cwd;
	sp.env = env;
	sp.want_stdout = 1;
	sp.want_stdin_null = 1;
	pid = spawn_start(&sp, &fd, &cause);
	ck_assert_msg(pid > 0, "spawn_start %s: %s", argv[0], cause);
	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	ck_assert_int_eq(spawn_wait(pid, 10000, status), 1);
	if (len != NULL)
		*len = b.len;
	return (buf_detach(&b));
}

/* Runs a /bin/sh script and returns its output; it must exit 0. */
static char *
run_sh(const char *script, const struct kvlist *env, const char *cwd)
{
	char	**argv, *out;
	int	  status;

	argv = mkargv("/bin/sh", "-c", script, NULL);
	out = run(argv, env, cwd, &status, NULL);
	spawn_argv_free(argv);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s: status %d", script, status);
	return (out);
}

/* A process is gone when it was reaped, or is a zombie that init will
 * (or, in some containers, never will) reap. */
static int
gone(pid_t pid)
{
	char	 path[64], *stat, *p;
	int	 dead;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return (1);
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((stat = tu_read_file(path, NULL)) == NULL)
		return (1);
	p = strrchr(stat, ')');
	dead = p != NULL && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return (dead);
}

/* Makes an executable script. */
static char *
write_script(const char *dir, const char *name, const char *text)
{
	char	*path;

	path = xprintf("%s/%s", dir, name);
	tu_write_file(path, text);
	ck_assert_int_eq(chmod(path, 0755), 0);
	return (path);
}

/* Reads one line from fd (a child's stdout), without the newline. */
static char *
read_line(int fd)
{
	struct buf	b = BUF_INIT;
	char		c;
	ssize_t		n;

	for (;;) {
		n = read(fd, &c, 1);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_int_eq(n, 1);
		if (c == '\n')
			break;
		buf_addc(&b, c);
	}
	return (buf_detach(&b));
}

static void
assert_no_children(void)
{
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

START_TEST(test_split)
{
	check_argv("a b  c", 0, NULL, 0, NULL,
	    (const char *[]){ "a", "b", "c", NULL });
	check_argv("  lead\ttab\nnewline  ", 0, NULL, 0, NULL,
	    (const char *[]){ "lead", "tab", "newline", NULL });
	check_argv("'a b' \"c d\"", 0, NULL, 0, NULL,
	    (const char *[]){ "a b", "c d", NULL });
	check_argv("a'b'\"c\"d", 0, NULL, 0, NULL,
	    (const char *[]){ "abcd", NULL });
	check_argv("''", 0, NULL, 0, NULL, (const char *[]){ "", NULL });
	check_argv("a '' \"\" b", 0, NULL, 0, NULL,
	    (const char *[]){ "a", "", "", "b", NULL });
	check_argv("\"a\\\"b\\\\c\\$d\\`e\"", 0, NULL, 0, NULL,
	    (const char *[]){ "a\"b\\c$d`e", NULL });
	check_argv("\"a\\nb\"", 0, NULL, 0, NULL,
	    (const char *[]){ "a\\nb", NULL });
	check_argv("a\\ b \\' \\\\", 0, NULL, 0, NULL,
	    (const char *[]){ "a b", "'", "\\", NULL });
	check_argv("'a\\b'", 0, NULL, 0, NULL,
	    (const char *[]){ "a\\b", NULL });
	check_argv("\"multi\\\nline\" a\\\nb \\\n c", 0, NULL, 0, NULL,
	    (const char *[]){ "multiline", "ab", "c", NULL });
	check_argv("'it'\\''s' \"'\" '\"'", 0, NULL, 0, NULL,
	    (const char *[]){ "it's", "'", "\"", NULL });
	/* No expansion of any kind, no operators. */
	check_argv("$HOME ~ *.ts $(id) `id` ; | > && ${{x}} #c", 0, NULL, 0,
	    NULL, (const char *[]){ "$HOME", "~", "*.ts", "$(id)", "`id`",
	    ";", "|", ">", "&&", "${x}", "#c", NULL });
	check_argv("\"$HOME\" '$HOME'", 0, NULL, 0, NULL,
	    (const char *[]){ "$HOME", "$HOME", NULL });
}
END_TEST

START_TEST(test_placeholders)
{
	check_argv("ffmpeg -i {source} -metadata title={name} out-{id}.ts",
	    0, "http://x/a b", 42, "News 24",
	    (const char *[]){ "ffmpeg", "-i", "http://x/a b", "-metadata",
	    "title=News 24", "out-42.ts", NULL });
	check_argv("{{literal}} }}{{ {{{id}}}", 0, NULL, 7, NULL,
	    (const char *[]){ "{literal}", "}{", "{7}", NULL });
	check_argv("'{name}' \"{source}\" {id}{id}", 0, "s", -5, "n",
	    (const char *[]){ "n", "s", "-5-5", NULL });
	check_argv("x {source} {name}", 0, NULL, 0, NULL,
	    (const char *[]){ "x", "", "", NULL });
	/* A value is never expanded again. */
	check_argv("{name}", 0, "S", 1, "{source}",
	    (const char *[]){ "{source}", NULL });
}
END_TEST

START_TEST(test_errors)
{
	char	**argv, *cause = NULL;

	check_argv_error("", 0, "empty command");
	check_argv_error(" \t\n", 0, "empty command");
	check_argv_error("", 1, "empty command");
	check_argv_error("  ", 1, "empty command");
	check_argv_error("a 'b", 0, "unbalanced '");
	check_argv_error("a \"b", 0, "unbalanced \"");
	check_argv_error("a \"b\\\"", 0, "unbalanced \"");
	check_argv_error("a b\\", 0, "backslash");
	check_argv_error("a {foo}", 0, "{foo}");
	check_argv_error("a {}", 0, "{}");
	check_argv_error("a {Name}", 0, "{Name}");
	check_argv_error("a {name", 0, "unmatched '{'");
	check_argv_error("a name}", 0, "unmatched '}'");
	check_argv_error("a {foo}", 1, "{foo}");
	check_argv_error("a {name", 1, "unmatched '{'");

	argv = spawn_command_argv(NULL, 0, NULL, 0, NULL, &cause);
	ck_assert_ptr_null(argv);
	ck_assert_str_eq(cause, "empty command");
	free(cause);
}
END_TEST

/* Outside shell mode a value is one argv element, whatever it holds. */
START_TEST(test_hostile_argv)
{
	char		**argv, *cause = NULL, *want;
	const char	*const *h;

	for (h = hostile; *h != NULL; h++) {
		argv = spawn_command_argv("printf %s {name} --x={source}y "
		    "'{name}'", 0, *h, 1, *h, &cause);
		ck_assert_msg(argv != NULL, "%s", cause);
		ck_assert_uint_eq(argv_len(argv), 5);
		ck_assert_str_eq(argv[2], *h);
		want = xprintf("--x=%sy", *h);
		ck_assert_str_eq(argv[3], want);
		free(want);
		ck_assert_str_eq(argv[4], *h);
		spawn_argv_free(argv);
	}
}
END_TEST

START_TEST(test_shell_argv)
{
	check_argv("echo {name}", 1, NULL, 0, "it's",
	    (const char *[]){ "/bin/sh", "-c", "echo 'it'\\''s'", NULL });
	check_argv("echo '{name}'", 1, NULL, 0, "it's",
	    (const char *[]){ "/bin/sh", "-c", "echo 'it'\\''s'", NULL });
	check_argv("echo \"{name}\"", 1, NULL, 0, "$x",
	    (const char *[]){ "/bin/sh", "-c", "echo \"\"'$x'\"\"", NULL });
	check_argv("f {id} ${{HOME}} {{ a; }} | g", 1, NULL, 3, NULL,
	    (const char *[]){ "/bin/sh", "-c",
	    "f 3 ${HOME} { a; } | g", NULL });
	/* {id} is digits: as it is, wherever it goes. */
	check_argv("echo `echo {id}` ${{x:-{id}}} $(( {id} + 1 )) \\{id} "
	    "# {id}", 1, NULL, -42, NULL, (const char *[]){ "/bin/sh", "-c",
	    "echo `echo -42` ${x:--42} $(( -42 + 1 )) \\-42 # -42", NULL });
	check_argv("echo {source}", 1, NULL, 0, NULL,
	    (const char *[]){ "/bin/sh", "-c", "echo ''", NULL });
}
END_TEST

START_TEST(test_shell_errors)
{
	check_argv_error("echo `echo {name}`", 1, "`...`");
	check_argv_error("echo \"`echo {name}`\"", 1, "`...`");
	check_argv_error("echo ${{x:-{name}}}", 1, "${...}");
	check_argv_error("echo \\{name}", 1, "backslash");
	check_argv_error("echo \"\\{name}\"", 1, "backslash");
	check_argv_error("echo hi # {name}", 1, "comment");
	check_argv_error("echo hi;# {name}", 1, "comment");
	check_argv_error("cat <<EOF\n{name}\nEOF", 1, "here-document");
	check_argv_error("echo $'{name}'", 1, "$'...'");
	check_argv_error("echo $(( {name} + 1 ))", 1, "$((...))");
	check_argv_error("echo \"$(( 1 + {source} ))\"", 1, "$((...))");
	check_argv_error("(( {name} > 1 )) && echo", 1, "$((...))");
	check_argv_error("echo $(( (1 + {name}) ))", 1, "$((...))");
	check_argv_error("echo '{name}", 1, "unbalanced '");
	check_argv_error("echo \"{name}", 1, "unbalanced \"");
	check_argv_error("echo `x", 1, "unbalanced `");
	check_argv_error("echo $(x", 1, "unbalanced (");
	check_argv_error("echo x\\", 1, "backslash");
	/* Not comments: the placeholder is replaced. */
	check_argv("echo a#{name} $#", 1, NULL, 0, "v",
	    (const char *[]){ "/bin/sh", "-c", "echo a#'v' $#", NULL });
	check_argv("echo 'a # b' {name}", 1, NULL, 0, "v",
	    (const char *[]){ "/bin/sh", "-c", "echo 'a # b' 'v'", NULL });
	/* Subshells and substitutions are not arithmetic. */
	check_argv("( echo {name} ); echo $( (echo {name}) )", 1, NULL, 0, "v",
	    (const char *[]){ "/bin/sh", "-c",
	    "( echo 'v' ); echo $( (echo 'v') )", NULL });
	check_argv("echo $((1)) {name}", 1, NULL, 0, "v",
	    (const char *[]){ "/bin/sh", "-c", "echo $((1)) 'v'", NULL });
	/* A comment ends at the newline. */
	check_argv("# note\necho {name}", 1, NULL, 0, "v",
	    (const char *[]){ "/bin/sh", "-c", "# note\necho 'v'", NULL });
}
END_TEST

/* In shell mode the value reaches the program byte for byte, wherever
 * the placeholder sits; with dash as /bin/sh and with bash, where an
 * operator may have made it /bin/sh. */
START_TEST(test_shell_hostile_run)
{
	static const struct {
		const char	*command;
		const char	*before;
		const char	*after;
	} t[] = {
		{ "printf '%s\\n' {name}", "", "\n" },
		{ "printf '%s\\n' \"{name}\"", "", "\n" },
		{ "printf '%s\\n' '{name}'", "", "\n" },
		{ "printf '%s\\n' \"x{name}y\"", "x", "y\n" },
		{ "printf '%s\\n' 'x'{name}\"y\"", "x", "y\n" },
		{ "printf '%s\\n' {name}#", "", "#\n" },
		{ "printf '%s\\n' \"$(printf '%s|' {name})\"", "", "|\n" },
		{ "printf '%s\\n' \"$(printf '%s|' \"{name}\")\"", "", "|\n" },
		{ "printf '%s\\n' \"$(printf '%s|' '{name}')\"", "", "|\n" },
		{ "v={name}; printf '%s\\n' \"$v\"", "", "\n" },
		{ "(printf '%s\\n' {name})", "", "\n" },
		{ "printf '%s\\n' \"$\"{name}", "$", "\n" },
	};
	static const char *const shells[] = { "/bin/sh", "/bin/bash" };
	const char	*const *h;
	struct buf	  command = BUF_INIT, want = BUF_INIT;
	char		**argv, *cause = NULL, *out;
	size_t		  i, j, len;
	int		  status;

	/* All the places in one script, one run per value and shell. */
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		buf_adds(&command, t[i].command);
		buf_addc(&command, '\n');
	}
	for (h = hostile; *h != NULL; h++) {
		argv = spawn_command_argv(command.data, 1, NULL, 0, *h, &cause);
		ck_assert_msg(argv != NULL, "%s", cause);
		ck_assert_uint_eq(argv_len(argv), 3);
		ck_assert_str_eq(argv[0], "/bin/sh");
		buf_reset(&want);
		for (i = 0; i < sizeof t / sizeof t[0]; i++)
			buf_addf(&want, "%s%s%s", t[i].before, *h, t[i].after);
		for (j = 0; j < sizeof shells / sizeof shells[0]; j++) {
			if (access(shells[j], X_OK) != 0)
				continue;
			free(argv[0]);
			argv[0] = xstrdup(shells[j]);
			out = run(argv, NULL, NULL, &status, &len);
			ck_assert_msg(WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0, "%s -c %s: status %d",
			    argv[0], argv[2], status);
			ck_assert_msg(len == want.len &&
			    memcmp(out, want.data, len) == 0,
			    "%s -c %s printed [%s], not [%s]", argv[0],
			    argv[2], out, want.data);
			free(out);
		}
		spawn_argv_free(argv);
	}
	buf_free(&command);
	buf_free(&want);

	/* {id} in arithmetic. */
	argv = spawn_command_argv("printf '%s\\n' $(( {id} + 1 ))", 1, NULL,
	    41, NULL, &cause);
	ck_assert_ptr_nonnull(argv);
	out = run(argv, NULL, NULL, &status, NULL);
	ck_assert_str_eq(out, "42\n");
	free(out);
	spawn_argv_free(argv);
}
END_TEST

/* A value that tries to run a command leaves no trace. */
START_TEST(test_shell_canary)
{
	const char	*templates[][2] = { { "x'; touch ", "/c; '" },
	    { "$(touch ", "/c)" }, { "\"; touch ", "/c; \"" },
	    { "`touch ", "/c`" }, { "\ntouch ", "/c\n" } };
	const char	*commands[] = { "true {name}", "true \"{name}\"",
	    "true '{name}'", "true \"$(true {name})\"" };
	char		*dir, *value, *canary, **argv, *cause = NULL, *out;
	size_t		 i, j;
	int		 status;

	dir = tu_tmpdir();
	canary = xprintf("%s/c", dir);
	for (i = 0; i < sizeof templates / sizeof templates[0]; i++) {
		for (j = 0; j < sizeof commands / sizeof commands[0]; j++) {
			value = xprintf("%s%s%s", templates[i][0], dir,
			    templates[i][1]);
			argv = spawn_command_argv(commands[j], 1, NULL, 0,
			    value, &cause);
			ck_assert_msg(argv != NULL, "%s", cause);
			out = run_sh(argv[2], NULL, NULL);
			ck_assert_msg(access(canary, F_OK) == -1,
			    "%s ran the value's command", argv[2]);
			free(out);
			if (access("/bin/bash", X_OK) == 0) {
				free(argv[0]);
				argv[0] = xstrdup("/bin/bash");
				free(run(argv, NULL, NULL, &status, NULL));
				ck_assert_int_eq(status, 0);
				ck_assert_msg(access(canary, F_OK) == -1,
				    "bash -c %s ran the value's command",
				    argv[2]);
			}
			free(value);
			spawn_argv_free(argv);
		}
	}
	free(canary);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_start_not_found)
{
	struct spawn	 sp;
	char		**argv, **abs, **empty, *cause = NULL;
	int		  fd = 5;

	argv = mkargv("amps-no-such-program", NULL);
	abs = mkargv("/nonexistent/prog", NULL);
	empty = mkargv("", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.want_stdout = 1;
	ck_assert_int_eq(spawn_start(&sp, &fd, &cause), -1);
	ck_assert_int_eq(fd, -1);
	ck_assert_str_eq(cause, "amps-no-such-program: No such file or "
	    "directory");
	free(cause);
	assert_no_children();

	sp.argv = abs;
	ck_assert_int_eq(spawn_start(&sp, &fd, &cause), -1);
	ck_assert_str_eq(cause, "/nonexistent/prog: No such file or "
	    "directory");
	free(cause);

	sp.argv = empty;
	ck_assert_int_eq(spawn_start(&sp, &fd, &cause), -1);
	ck_assert_str_eq(cause, "empty command");
	free(cause);
	assert_no_children();
	spawn_argv_free(argv);
	spawn_argv_free(abs);
	spawn_argv_free(empty);
}
END_TEST

START_TEST(test_start_not_executable)
{
	struct spawn	 sp;
	struct kvlist	 env = { NULL, 0 };
	char		*dir, *path, **argv, *cause = NULL, *want;

	dir = tu_tmpdir();
	path = xprintf("%s/noexec", dir);
	tu_write_file(path, "#!/bin/sh\necho no\n");
	ck_assert_int_eq(chmod(path, 0644), 0);

	memset(&sp, 0, sizeof sp);
	argv = mkargv(path, NULL);
	sp.argv = argv;
	ck_assert_int_eq(spawn_start(&sp, NULL, &cause), -1);
	want = xprintf("%s: %s", path, strerror(EACCES));
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);

	/* Found in PATH but not executable: EACCES, as execvp says. */
	kvlist_set(&env, "PATH", dir);
	spawn_argv_free(argv);
	argv = mkargv("noexec", NULL);
	sp.argv = argv;
	sp.env = &env;
	ck_assert_int_eq(spawn_start(&sp, NULL, &cause), -1);
	want = xprintf("noexec: %s", strerror(EACCES));
	ck_assert_str_eq(cause, want);
	free(want);
	free(cause);
	assert_no_children();

	spawn_argv_free(argv);
	kvlist_free(&env);
	tu_rmtree(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_start_cwd)
{
	struct spawn	 sp;
	char		**argv, *dir, *real, *out, *want, *cause = NULL;

	argv = mkargv("true", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.cwd = "/nonexistent/dir";
	ck_assert_int_eq(spawn_start(&sp, NULL, &cause), -1);
	ck_assert_str_eq(cause, "chdir /nonexistent/dir: No such file or "
	    "directory");
	free(cause);
	assert_no_children();
	spawn_argv_free(argv);

	dir = tu_tmpdir();
	real = realpath(dir, NULL);
	ck_assert_ptr_nonnull(real);
	out = run_sh("pwd -P", NULL, dir);
	want = xprintf("%s\n", real);
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	free(real);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_start_env)
{
	struct spawn	 sp;
	struct kvlist	 env = { NULL, 0 };
	char		*dir, *out, *path, **argv, *cause = NULL;
	int		 status;

	ck_assert_int_eq(setenv("AMPS_T_INHERITED", "inherited", 1), 0);
	ck_assert_int_eq(setenv("AMPS_T_REPLACED", "old", 1), 0);
	kvlist_set(&env, "AMPS_T_ADDED", "a b=c\nd");
	kvlist_set(&env, "AMPS_T_REPLACED", "new");
	out = run_sh("printf '%s|%s|%s|' \"$AMPS_T_INHERITED\" "
	    "\"$AMPS_T_REPLACED\" \"$AMPS_T_ADDED\"; "
	    "env | grep -c '^AMPS_T_REPLACED='", &env, NULL);
	ck_assert_str_eq(out, "inherited|new|a b=c\nd|1\n");
	free(out);
	kvlist_free(&env);

	/* argv[0] is searched in the child's PATH. */
	dir = tu_tmpdir();
	path = write_script(dir, "amps-t-prog", "#!/bin/sh\necho found\n");
	kvlist_set(&env, "PATH", dir);
	argv = mkargv("amps-t-prog", NULL);
	out = run(argv, &env, NULL, &status, NULL);
	ck_assert_str_eq(out, "found\n");
	ck_assert_int_eq(status, 0);
	free(out);
	spawn_argv_free(argv);
	kvlist_free(&env);

	kvlist_set(&env, "BAD=NAME", "x");
	argv = mkargv("true", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.env = &env;
	ck_assert_int_eq(spawn_start(&sp, NULL, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "BAD=NAME"));
	free(cause);
	spawn_argv_free(argv);
	kvlist_free(&env);
	tu_rmtree(dir);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_start_fds)
{
	struct spawn	 sp;
	char		**argv, *script, *out, *want, *cause = NULL;
	pid_t		 pid;
	int		 fd, fd2, outfd;

	/* Descriptors without close-on-exec are not inherited. */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 3);
	fd2 = dup2(fd, 200);
	ck_assert_int_eq(fd2, 200);
	script = xprintf("for f in 0 1 2 %d %d; do "
	    "if [ -e /proc/self/fd/$f ]; then echo $f open; "
	    "else echo $f closed; fi; done; readlink /proc/self/fd/0", fd,
	    fd2);
	out = run_sh(script, NULL, NULL);
	want = xprintf("0 open\n1 open\n2 open\n%d closed\n200 closed\n"
	    "/dev/null\n", fd);
	ck_assert_str_eq(out, want);
	free(want);
	free(out);
	free(script);
	close(fd);
	close(fd2);

	/* The read end is close-on-exec; the child leads its own group. */
	argv = mkargv("sleep", "10", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.want_stdout = 1;
	pid = spawn_start(&sp, &outfd, &cause);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_ne(fcntl(outfd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(getpgid(pid), pid);
	close(outfd);
	spawn_stop(pid, 2000);
	spawn_argv_free(argv);
}
END_TEST

static void
on_hup(int sig)
{
}

/* The signals between 31 and SIGRTMIN belong to the C library (glibc's
 * thread cancellation): no sigaction can change them, and the library
 * sets them up again in the new program.  As a /proc mask. */
static unsigned long long
libc_signals(void)
{
	unsigned long long	mask = 0;
	int			sig;

	for (sig = 32; sig < SIGRTMIN; sig++)
		mask |= 1ULL << (sig - 1);
	return (mask);
}

/* Ignored and blocked signals are not passed on: streamd ignores
 * SIGPIPE, ffmpeg must not. */
START_TEST(test_start_signals)
{
	sigset_t	 set, old;
	char		**argv, *out, *p;
	int		  status;

	argv = mkargv("cat", "/proc/self/status", NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, on_hup);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &old);

	out = run(argv, NULL, NULL, &status, NULL);
	ck_assert_int_eq(status, 0);
	ck_assert_msg((p = strstr(out, "\nSigIgn:\t")) != NULL, "%s", out);
	ck_assert_msg((strtoull(p + 9, NULL, 16) & ~libc_signals()) == 0,
	    "%.27s", p);
	ck_assert_msg((p = strstr(out, "\nSigBlk:\t")) != NULL, "%s", out);
	ck_assert_msg((strtoull(p + 9, NULL, 16) & ~libc_signals()) == 0,
	    "%.27s", p);
	free(out);

	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	spawn_argv_free(argv);
}
END_TEST

#define THREADS		4
#define THREAD_RUNS	10

static void *
spawn_thread(void *arg)
{
	struct spawn	 sp;
	char		**argv, word[32], got[64], *cause = NULL;
	int		*failures = arg, i, fd, status;
	ssize_t		 n, len;
	pid_t		 pid;

	for (i = 0; i < THREAD_RUNS; i++) {
		snprintf(word, sizeof word, "w%p-%d", arg, i);
		argv = mkargv("echo", word, NULL);
		memset(&sp, 0, sizeof sp);
		sp.argv = argv;
		sp.want_stdout = 1;
		sp.want_stdin_null = 1;
		pid = spawn_start(&sp, &fd, &cause);
		spawn_argv_free(argv);
		if (pid == -1) {
			free(cause);
			(*failures)++;
			continue;
		}
		len = 0;
		while ((n = read(fd, got + len, sizeof got - 1 -
		    (size_t)len)) > 0)
			len += n;
		close(fd);
		got[len] = '\0';
		if (spawn_wait(pid, 10000, &status) != 1 || status != 0 ||
		    len == 0 || strncmp(got, word, strlen(word)) != 0 ||
		    got[len - 1] != '\n')
			(*failures)++;
	}
	return (NULL);
}

/* streamd starts pipelines from several threads at once. */
START_TEST(test_start_threads)
{
	pthread_t	t[THREADS];
	int		failures[THREADS];
	int		i;

	for (i = 0; i < THREADS; i++) {
		failures[i] = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, spawn_thread,
		    &failures[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(failures[i], 0);
	}
	assert_no_children();
}
END_TEST

START_TEST(test_wait)
{
	struct spawn	 sp;
	char		**exit3, **sleeper, *cause = NULL;
	int64_t		 t0, elapsed;
	pid_t		 pid;
	int		 status = -1;

	exit3 = mkargv("sh", "-c", "exit 3", NULL);
	sleeper = mkargv("sleep", "100", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = exit3;
	pid = spawn_start(&sp, NULL, &cause);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(spawn_wait(pid, 5000, &status), 1);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	ck_assert_int_eq(spawn_wait(pid, 0, &status), -1);

	pid = spawn_start(&sp, NULL, &cause);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(spawn_wait(pid, -1, &status), 1);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);

	sp.argv = sleeper;
	pid = spawn_start(&sp, NULL, &cause);
	ck_assert_int_gt(pid, 0);
	t0 = now_ms();
	ck_assert_int_eq(spawn_wait(pid, 200, &status), 0);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 195);
	ck_assert_int_lt(elapsed, 1000);
	ck_assert_int_eq(spawn_wait(pid, 0, &status), 0);
	ck_assert(!gone(pid));

	t0 = now_ms();
	status = spawn_stop(pid, 5000);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	assert_no_children();
	spawn_argv_free(exit3);
	spawn_argv_free(sleeper);
}
END_TEST

/* A child that ignores SIGTERM is killed once the grace is over. */
START_TEST(test_stop_kill)
{
	struct spawn	 sp;
	char		**argv, *line, *cause = NULL;
	int64_t		 t0, elapsed;
	pid_t		 pid, grandchild;
	int		 fd, status;

	argv = mkargv("sh", "-c", "trap '' TERM; sleep 100 & echo $!; wait",
	    NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.want_stdout = 1;
	pid = spawn_start(&sp, &fd, &cause);
	ck_assert_int_gt(pid, 0);
	spawn_argv_free(argv);
	line = read_line(fd);
	grandchild = (pid_t)strtol(line, NULL, 10);
	ck_assert_int_gt(grandchild, 0);
	free(line);

	t0 = now_ms();
	status = spawn_stop(pid, 300);
	elapsed = now_ms() - t0;
	ck_assert_int_ge(elapsed, 295);
	ck_assert_int_lt(elapsed, 2000);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert(gone(pid));
	/* The whole group: sleep ignored SIGTERM too. */
	t0 = now_ms();
	while (!gone(grandchild) && now_ms() - t0 < 2000)
		usleep(10000);
	ck_assert(gone(grandchild));
	close(fd);
	assert_no_children();
}
END_TEST

/* SIGTERM goes to the whole group, so sh's children stop too. */
START_TEST(test_stop_group)
{
	struct spawn	 sp;
	char		**argv, *line, *cause = NULL;
	int64_t		 t0;
	pid_t		 pid, grandchild;
	int		 fd, status;

	argv = mkargv("sh", "-c", "sleep 100 & echo $!; wait", NULL);
	memset(&sp, 0, sizeof sp);
	sp.argv = argv;
	sp.want_stdout = 1;
	pid = spawn_start(&sp, &fd, &cause);
	ck_assert_int_gt(pid, 0);
	spawn_argv_free(argv);
	line = read_line(fd);
	grandchild = (pid_t)strtol(line, NULL, 10);
	free(line);
	ck_assert(!gone(grandchild));

	t0 = now_ms();
	status = spawn_stop(pid, 5000);
	ck_assert_int_lt(now_ms() - t0, 2000);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	t0 = now_ms();
	while (!gone(grandchild) && now_ms() - t0 < 2000)
		usleep(10000);
	ck_assert(gone(grandchild));
	close(fd);
}
END_TEST

/* A scratch directory with a fake yt-dlp in it, named by $AMPS_YTDLP. */
struct fake {
	char	*dir;
	char	*prog;
};

static void
fake_open(struct fake *f, const char *body)
{
	char	*text;

	f->dir = tu_tmpdir();
	text = xprintf("#!/bin/sh\n"
	    "for a in \"$@\"; do printf '%%s\\n' \"$a\"; done > '%s/args'\n"
	    "%s", f->dir, body);
	f->prog = write_script(f->dir, "yt-dlp", text);
	free(text);
	ck_assert_int_eq(setenv("AMPS_YTDLP", f->prog, 1), 0);
}

static char *
fake_file(struct fake *f, const char *name)
{
	char	*path, *text;

	path = xprintf("%s/%s", f->dir, name);
	text = tu_read_file(path, NULL);
	free(path);
	return (text);
}

static void
fake_close(struct fake *f)
{
	unsetenv("AMPS_YTDLP");
	tu_rmtree(f->dir);
	free(f->dir);
	free(f->prog);
}

/* Runs the fake and expects a failure whose cause holds want. */
static void
ytdlp_fails(const char *body, int timeout_ms, const char *want)
{
	struct fake		 f;
	struct ytdlp_result	 r;
	char			*cause = NULL;

	fake_open(&f, body);
	ck_assert_int_eq(spawn_ytdlp("https://example.com/v", NULL, NULL,
	    timeout_ms, &r, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "cause [%s] lacks [%s]",
	    cause, want);
	ck_assert_ptr_null(r.url);
	ck_assert_uint_eq(r.headers.n, 0);
	free(cause);
	spawn_ytdlp_free(&r);
	assert_no_children();
	fake_close(&f);
}

START_TEST(test_ytdlp)
{
	struct fake		 f;
	struct ytdlp_result	 r;
	struct kvlist		 opts = { NULL, 0 };
	char			*cause = NULL, *args;

	fake_open(&f, "cat <<'EOF'\n"
	    "{\"id\": \"x\", \"url\": \"https://media.example/v.m3u8\", "
	    "\"http_headers\": {\"User-Agent\": \"UA/1.0 (x)\", "
	    "\"Referer\": \"https://example.com/\"}, "
	    "\"requested_formats\": [{\"url\": \"https://wrong/\"}]}\n"
	    "EOF\n"
	    "echo 'WARNING: noise' >&2\n");
	kvlist_set(&opts, "cookies", "/tmp/c.txt");
	kvlist_set(&opts, "4", "");
	kvlist_set(&opts, "no-check-certificate", "");
	kvlist_set(&opts, "--extractor-args", "youtube:player_client=web");
	ck_assert_msg(spawn_ytdlp("https://example.com/w?v=1&x=$(id) y",
	    "best[height<=720]", &opts, 5000, &r, &cause) == 0, "%s", cause);
	ck_assert_str_eq(r.url, "https://media.example/v.m3u8");
	ck_assert_uint_eq(r.headers.n, 2);
	ck_assert_str_eq(kvlist_get(&r.headers, "User-Agent"), "UA/1.0 (x)");
	ck_assert_str_eq(kvlist_get(&r.headers, "Referer"),
	    "https://example.com/");
	args = fake_file(&f, "args");
	ck_assert_str_eq(args, "--dump-json\n--no-playlist\n"
	    "-f\nbest[height<=720]\n--cookies\n/tmp/c.txt\n-4\n"
	    "--no-check-certificate\n"
	    "--extractor-args\nyoutube:player_client=web\n"
	    "--\nhttps://example.com/w?v=1&x=$(id) y\n");
	free(args);
	spawn_ytdlp_free(&r);
	spawn_ytdlp_free(&r);
	assert_no_children();
	fake_close(&f);

	/* No format, no options. */
	fake_open(&f, "echo '{\"url\": \"u\"}'\n");
	ck_assert_int_eq(spawn_ytdlp("page", NULL, NULL, 5000, &r, &cause), 0);
	ck_assert_str_eq(r.url, "u");
	ck_assert_uint_eq(r.headers.n, 0);
	args = fake_file(&f, "args");
	ck_assert_str_eq(args, "--dump-json\n--no-playlist\n--\npage\n");
	free(args);
	spawn_ytdlp_free(&r);
	fake_close(&f);

	kvlist_free(&opts);
	kvlist_set(&opts, "--", "x");
	fake_open(&f, "echo '{\"url\": \"u\"}'\n");
	ck_assert_int_eq(spawn_ytdlp("page", NULL, &opts, 5000, &r, &cause),
	    -1);
	ck_assert_str_eq(cause, "bad yt-dlp option '--'");
	free(cause);
	fake_close(&f);
	kvlist_free(&opts);
}
END_TEST

/* Merged formats: the first requested format has the URL. */
START_TEST(test_ytdlp_requested_formats)
{
	struct fake		 f;
	struct ytdlp_result	 r;
	char			*cause = NULL;

	fake_open(&f, "printf '%s' '{\"url\": null, \"requested_formats\": "
	    "[{\"url\": \"https://v/video\", \"http_headers\": "
	    "{\"X-A\": \"1\", \"X-N\": 2, \"X-Null\": null}}, "
	    "{\"url\": \"https://v/audio\"}]}'\n");
	ck_assert_msg(spawn_ytdlp("https://example.com/v", "bv+ba", NULL,
	    5000, &r, &cause) == 0, "%s", cause);
	ck_assert_str_eq(r.url, "https://v/video");
	ck_assert_uint_eq(r.headers.n, 2);
	ck_assert_str_eq(kvlist_get(&r.headers, "X-A"), "1");
	ck_assert_str_eq(kvlist_get(&r.headers, "X-N"), "2");
	spawn_ytdlp_free(&r);
	fake_close(&f);
}
END_TEST

START_TEST(test_ytdlp_failure)
{
	ytdlp_fails("echo 'WARNING: first' >&2\n"
	    "echo 'ERROR: [generic] Unsupported URL: x' >&2\n"
	    "printf '\\n  \\n' >&2\n"
	    "exit 1\n", 5000,
	    "yt-dlp failed with exit status 1: ERROR: [generic] "
	    "Unsupported URL: x");
	ytdlp_fails("exit 2\n", 5000, "yt-dlp failed with exit status 2");
	ytdlp_fails("echo 'Killed here' >&2; kill -9 $$\n", 5000,
	    "yt-dlp was killed by signal 9: Killed here");
	/* Only the end of a long stderr is kept; its last line counts. */
	ytdlp_fails("head -c 200000 /dev/zero | tr '\\0' x >&2\n"
	    "echo >&2; echo 'ERROR: the end' >&2; exit 1\n", 5000,
	    "exit status 1: ERROR: the end");
}
END_TEST

START_TEST(test_ytdlp_garbage)
{
	ytdlp_fails("echo 'this is not json'\n", 5000, "no JSON document");
	ytdlp_fails("echo '{\"url\": '\n", 5000, "no JSON document");
	ytdlp_fails("", 5000, "printed nothing");
	ytdlp_fails("echo '[1, 2]'\n", 5000, "not an object");
	ytdlp_fails("echo null\n", 5000, "not an object");
	ytdlp_fails("echo 42\n", 5000, "not an object");
	ytdlp_fails("echo '  '\n", 5000, "no JSON document");
	ytdlp_fails("echo '{\"id\": 1}'\n", 5000, "no media URL");
	ytdlp_fails("echo '{\"url\": 7}'\n", 5000, "no media URL");
	ytdlp_fails("echo '{\"url\": \"\"}'\n", 5000, "no media URL");
	ytdlp_fails("echo '{\"requested_formats\": []}'\n", 5000,
	    "no media URL");
	ytdlp_fails("echo '{\"url\": \"a\"}'; echo '{\"url\": \"b\"}'\n",
	    5000, "more than one JSON document");
	ytdlp_fails("printf '%s\\n' '{\"url\": \"a\\nb\"}'\n", 5000,
	    "control characters");
	ytdlp_fails("printf '%s\\n' '{\"url\": \"a\", \"http_headers\": "
	    "{\"X\": \"a\\r\\nInjected: 1\"}}'\n", 5000, "HTTP header");
	ytdlp_fails("echo '{\"url\": \"a\", \"http_headers\": "
	    "{\"X: Y\": \"a\"}}'\n", 5000, "HTTP header");
	ytdlp_fails("echo '{\"url\": \"a\", \"http_headers\": []}'\n", 5000,
	    "not an object");
	ytdlp_fails("printf '{\"url\": \"a\"}\\000'\n", 5000, "NUL");
	ytdlp_fails("head -c 9000000 /dev/zero | tr '\\0' ' '\n", 10000,
	    "more than 8388608 bytes");
}
END_TEST

START_TEST(test_ytdlp_missing)
{
	struct ytdlp_result	 r;
	char			*cause = NULL;

	ck_assert_int_eq(setenv("AMPS_YTDLP", "/nonexistent/yt-dlp", 1), 0);
	ck_assert_int_eq(spawn_ytdlp("u", NULL, NULL, 1000, &r, &cause), -1);
	ck_assert_str_eq(cause, "/nonexistent/yt-dlp: No such file or "
	    "directory");
	free(cause);
	unsetenv("AMPS_YTDLP");
}
END_TEST

/* A yt-dlp that hangs is killed and reaped, its children too. */
START_TEST(test_ytdlp_timeout)
{
	static const char *const bodies[] = {
		/* Hangs with its output open. */
		"echo $$ > \"$(dirname \"$0\")/pid\"\n"
		"sleep 1000 & echo $! > \"$(dirname \"$0\")/gpid\"\n"
		"echo '{\"url\": ' \nwait\n",
		/* Closes its output, then hangs. */
		"echo $$ > \"$(dirname \"$0\")/pid\"\n"
		"exec >/dev/null 2>&1\n"
		"sleep 1000 & echo $! > \"$(dirname \"$0\")/gpid\"\nwait\n",
	};
	struct fake		 f;
	struct ytdlp_result	 r;
	char			*cause = NULL, *text;
	int64_t			 t0, elapsed;
	pid_t			 pid, gpid;
	size_t			 i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		fake_open(&f, bodies[i]);
		t0 = now_ms();
		ck_assert_int_eq(spawn_ytdlp("u", NULL, NULL, 500, &r,
		    &cause), -1);
		elapsed = now_ms() - t0;
		ck_assert_str_eq(cause, "yt-dlp timed out after 500 ms");
		free(cause);
		ck_assert_int_ge(elapsed, 495);
		ck_assert_int_lt(elapsed, 500 + 1500);
		ck_assert_ptr_null(r.url);

		text = fake_file(&f, "pid");
		ck_assert_ptr_nonnull(text);
		pid = (pid_t)strtol(text, NULL, 10);
		free(text);
		text = fake_file(&f, "gpid");
		ck_assert_ptr_nonnull(text);
		gpid = (pid_t)strtol(text, NULL, 10);
		free(text);
		ck_assert_int_gt(pid, 0);
		ck_assert_int_gt(gpid, 0);
		/* Reaped: not even a zombie. */
		ck_assert_int_eq(kill(pid, 0), -1);
		ck_assert_int_eq(errno, ESRCH);
		assert_no_children();
		t0 = now_ms();
		while (!gone(gpid) && now_ms() - t0 < 2000)
			usleep(10000);
		ck_assert(gone(gpid));
		fake_close(&f);
	}
}
END_TEST

static Suite *
spawn_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("spawn");
	tc = tcase_create("command");
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_placeholders);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_hostile_argv);
	tcase_add_test(tc, test_shell_argv);
	tcase_add_test(tc, test_shell_errors);
	tcase_add_test(tc, test_shell_hostile_run);
	tcase_add_test(tc, test_shell_canary);
	suite_add_tcase(s, tc);
	tc = tcase_create("start");
	tcase_add_test(tc, test_start_not_found);
	tcase_add_test(tc, test_start_not_executable);
	tcase_add_test(tc, test_start_cwd);
	tcase_add_test(tc, test_start_env);
	tcase_add_test(tc, test_start_fds);
	tcase_add_test(tc, test_start_signals);
	tcase_add_test(tc, test_start_threads);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_stop_kill);
	tcase_add_test(tc, test_stop_group);
	suite_add_tcase(s, tc);
	tc = tcase_create("ytdlp");
	tcase_add_test(tc, test_ytdlp);
	tcase_add_test(tc, test_ytdlp_requested_formats);
	tcase_add_test(tc, test_ytdlp_failure);
	tcase_add_test(tc, test_ytdlp_garbage);
	tcase_add_test(tc, test_ytdlp_missing);
	tcase_add_test(tc, test_ytdlp_timeout);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tu_run(spawn_suite()));
}
