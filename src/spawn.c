#include "config.h"

#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "buf.h"
#include "schema.h"
#include "spawn.h"
#include "timefmt.h"
#include "xmalloc.h"

extern char **environ;

/* execvp's search path when the environment has no PATH. */
#define SPAWN_DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"

/* How much yt-dlp may print: one JSON document is a few hundred KiB. */
#define YTDLP_OUT_MAX		(8 * 1024 * 1024)
/* Of its stderr only the end is kept, for the last line. */
#define YTDLP_ERR_MAX		(64 * 1024)
#define YTDLP_ERR_KEEP		(8 * 1024)
#define YTDLP_LINE_MAX		512
/* yt-dlp is Python: SIGTERM ends it at once. */
#define YTDLP_GRACE_MS		500

/* What the child reports through the close-on-exec pipe when it cannot
 * run the program. */
#define STAGE_SETUP		1
#define STAGE_CHDIR		2
#define STAGE_EXEC		3

struct child_error {
	int	stage;
	int	err;
};

/* The values of the placeholders. */
struct values {
	const char	*source;
	const char	*name;
	char		 id[32];
};

/* A NULL-terminated, growing argv. */
struct argvec {
	char	**v;
	size_t	  n;
};

static void
argvec_add(struct argvec *a, char *s)
{
	a->v = xreallocarray(a->v, a->n + 2, sizeof *a->v);
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static int64_t
now_ms(void)
{
	return (timefmt_monotonic_us() / 1000);
}

static void
sleep_ms(int ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

/*
 * Reads the brace at *pp: "{{" and "}}" give a literal brace in *c
 * (returns 0), a known placeholder its value in *value (returns 1).
 * Returns -1 with *cause for anything else.  *pp is moved past what was
 * read.
 */
static int
brace(const char **pp, const struct values *v, char *c, const char **value,
    char **cause)
{
	const char	*p = *pp, *end;
	size_t		 len;

	if (p[0] == p[1]) {
		*c = p[0];
		*pp = p + 2;
		return (0);
	}
	if (p[0] == '}') {
		*cause = xstrdup("unmatched '}' in command (write }} for a "
		    "brace)");
		return (-1);
	}
	if ((end = strchr(p + 1, '}')) == NULL) {
		*cause = xstrdup("unmatched '{' in command (write {{ for a "
		    "brace)");
		return (-1);
	}
	len = (size_t)(end - p) + 1;
	if (len == 8 && strncmp(p, "{source}", len) == 0)
		*value = v->source;
	else if (len == 4 && strncmp(p, "{id}", len) == 0)
		*value = v->id;
	else if (len == 6 && strncmp(p, "{name}", len) == 0)
		*value = v->name;
	else {
		*cause = xprintf("unknown placeholder %.*s in command "
		    "(known: {source}, {id}, {name})", (int)len, p);
		return (-1);
	}
	*pp = end + 1;
	return (1);
}

/*
 * Splits command into words by the quoting rules of sh (XCU 2.2: '...',
 * "..." with \ before " \ $ ` and newline, \ outside quotes) and nothing
 * else: $, globs, ~ and operators stay as they are.
 */
static int
split_words(const char *command, struct argvec *words, char **cause)
{
	struct buf	 w = BUF_INIT;
	const char	*p;
	int		 inword = 0;

	for (p = command; *p != '\0'; p++) {
		switch (*p) {
		case ' ':
		case '\t':
		case '\n':
			if (inword)
				argvec_add(words, buf_detach(&w));
			inword = 0;
			break;
		case '\\':
			if (p[1] == '\0') {
				*cause = xstrdup("command ends with a "
				    "backslash");
				goto fail;
			}
			if (*++p == '\n')
				break;
			buf_addc(&w, *p);
			inword = 1;
			break;
		case '\'':
			inword = 1;
			for (p++; *p != '\''; p++) {
				if (*p == '\0') {
					*cause = xstrdup("unbalanced ' in "
					    "command");
					goto fail;
				}
				buf_addc(&w, *p);
			}
			break;
		case '"':
			inword = 1;
			for (p++; *p != '"'; p++) {
				if (*p == '\0') {
					*cause = xstrdup("unbalanced \" in "
					    "command");
					goto fail;
				}
				if (*p == '\\' && p[1] != '\0' &&
				    strchr("\"\\$`\n", p[1]) != NULL) {
					if (*++p == '\n')
						continue;
				}
				buf_addc(&w, *p);
			}
			break;
		default:
			buf_addc(&w, *p);
			inword = 1;
			break;
		}
	}
	if (inword)
		argvec_add(words, buf_detach(&w));
	buf_free(&w);
	return (0);
fail:
	buf_free(&w);
	return (-1);
}

/* Replaces the placeholders inside one word. */
static char *
expand_word(const char *word, const struct values *v, char **cause)
{
	struct buf	 b = BUF_INIT;
	const char	*p, *value;
	char		 c;
	int		 r;

	for (p = word; *p != '\0';) {
		if (*p != '{' && *p != '}') {
			buf_addc(&b, *p++);
			continue;
		}
		if ((r = brace(&p, v, &c, &value, cause)) == -1) {
			buf_free(&b);
			return (NULL);
		}
		if (r == 1)
			buf_adds(&b, value);
		else
			buf_addc(&b, c);
	}
	return (buf_detach(&b));
}

/* Appends s as the inside of a single-quoted sh string: ' is closed,
 * escaped and opened again. */
static void
add_sq_inner(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			buf_adds(b, "'\\''");
		else
			buf_addc(b, *s);
	}
}

/* Appends s single-quoted for sh: nothing in it is special. */
static void
add_sq(struct buf *b, const char *s)
{
	buf_addc(b, '\'');
	add_sq_inner(b, s);
	buf_addc(b, '\'');
}

/*
 * Where a point of a shell command is, as far as quoting goes: enough of
 * the sh grammar (XCU 2.2, 2.3, 2.6.3) to put a value where it is
 * always one literal string, and to refuse the places where no quoting is
 * reliable: backquotes, ${...}, comments, here-documents, and arithmetic,
 * where bash expands $(...) even inside '...'.
 */
enum shq {
	SHQ_PLAIN,	/* unquoted, at top level */
	SHQ_SUBST,	/* unquoted, in $(...) */
	SHQ_PAREN,	/* unquoted, in (...) */
	SHQ_ARITH,	/* $((...)) or ((...)) */
	SHQ_PARAM,	/* ${...} */
	SHQ_SINGLE,	/* '...' */
	SHQ_DOUBLE,	/* "..." */
	SHQ_BACKQUOTE,	/* `...` */
	SHQ_ANSI	/* $'...' (bash, ksh) */
};

#define SHQ_DEPTH	32

struct shscan {
	enum shq	 stack[SHQ_DEPTH];
	int		 depth;		/* stack[depth - 1] is innermost */
	int		 escaped;	/* the next character is escaped */
	int		 comment;	/* inside # ... newline */
	int		 heredoc;	/* a << was seen */
	int		 overflow;
	char		 prev;		/* the previous character, '\0' first */
	char		 prev2;		/* the one before */
};

static void
shscan_push(struct shscan *s, enum shq q)
{
	if (s->depth == SHQ_DEPTH) {
		s->overflow = 1;
		return;
	}
	s->stack[s->depth++] = q;
}

static void
shscan_pop(struct shscan *s)
{
	if (s->depth > 1)
		s->depth--;
}

static void
shscan_feed(struct shscan *s, char ch)
{
	enum shq	q = s->stack[s->depth - 1];
	char		prev = s->prev, prev2 = s->prev2;

	s->prev2 = prev;
	s->prev = ch;
	if (s->overflow)
		return;
	if (s->escaped) {
		s->escaped = 0;
		s->prev = 'a';	/* an escaped character is a word character */
		return;
	}
	if (s->comment) {
		if (ch == '\n')
			s->comment = 0;
		return;
	}
	switch (q) {
	case SHQ_SINGLE:
		if (ch == '\'')
			shscan_pop(s);
		return;
	case SHQ_ANSI:
	case SHQ_BACKQUOTE:
		if (ch == '\\')
			s->escaped = 1;
		else if (ch == (q == SHQ_ANSI ? '\'' : '`'))
			shscan_pop(s);
		return;
	case SHQ_DOUBLE:
		if (ch == '\\')
			s->escaped = 1;
		else if (ch == '"')
			shscan_pop(s);
		else if (ch == '`')
			shscan_push(s, SHQ_BACKQUOTE);
		else if (prev == '$' && ch == '(')
			shscan_push(s, SHQ_SUBST);
		else if (prev == '$' && ch == '{')
			shscan_push(s, SHQ_PARAM);
		return;
	default:
		break;
	}
	if (ch == '\\')
		s->escaped = 1;
	else if (ch == '\'')
		shscan_push(s, prev == '$' ? SHQ_ANSI : SHQ_SINGLE);
	else if (ch == '"')
		shscan_push(s, SHQ_DOUBLE);
	else if (ch == '`')
		shscan_push(s, SHQ_BACKQUOTE);
	else if (ch == '(' && prev == '$')
		shscan_push(s, SHQ_SUBST);
	else if (ch == '(' && prev == '(' && (prev2 == '$' || q == SHQ_PAREN))
		shscan_push(s, SHQ_ARITH);
	else if (ch == '(')
		shscan_push(s, SHQ_PAREN);
	else if (ch == ')') {
		if (q == SHQ_SUBST || q == SHQ_PAREN || q == SHQ_ARITH)
			shscan_pop(s);
	} else if (ch == '{' && prev == '$')
		shscan_push(s, SHQ_PARAM);
	else if (ch == '}') {
		if (q == SHQ_PARAM)
			shscan_pop(s);
	} else if (ch == '#' && q != SHQ_PARAM &&
	    (prev == '\0' || strchr(" \t\n;&|()<>", prev) != NULL))
		s->comment = 1;
	else if (ch == '<' && prev == '<')
		s->heredoc = 1;
}

/* Says how a placeholder at the current point is quoted, or why it
 * cannot be. */
static int
shscan_where(const struct shscan *s, const char *ph, int len, enum shq *q,
    char **cause)
{
	const char	*where = NULL;
	int		 i;

	if (s->overflow)
		where = "too deeply nested quotes";
	else if (s->escaped)
		where = "a backslash";
	else if (s->comment)
		where = "a comment";
	else if (s->heredoc)
		where = "a here-document (<<)";
	for (i = 0; where == NULL && i < s->depth; i++) {
		if (s->stack[i] == SHQ_BACKQUOTE)
			where = "`...` (use $(...))";
		else if (s->stack[i] == SHQ_PARAM)
			where = "${...}";
		else if (s->stack[i] == SHQ_ARITH)
			where = "$((...))";
		else if (s->stack[i] == SHQ_ANSI)
			where = "$'...'";
	}
	if (where != NULL) {
		*cause = xprintf("placeholder %.*s after or inside %s in a "
		    "shell command", len, ph, where);
		return (-1);
	}
	*q = s->stack[s->depth - 1];
	return (0);
}

/* Refuses a shell command whose quotes are left open. */
static int
shscan_end(const struct shscan *s, char **cause)
{
	const char	*what = NULL;

	if (s->heredoc || s->overflow || s->comment)
		return (0);
	if (s->escaped)
		what = "command ends with a backslash";
	else {
		switch (s->stack[s->depth - 1]) {
		case SHQ_SINGLE:
		case SHQ_ANSI:
			what = "unbalanced ' in command";
			break;
		case SHQ_DOUBLE:
			what = "unbalanced \" in command";
			break;
		case SHQ_BACKQUOTE:
			what = "unbalanced ` in command";
			break;
		case SHQ_SUBST:
		case SHQ_PAREN:
		case SHQ_ARITH:
			what = "unbalanced ( in command";
			break;
		case SHQ_PARAM:
			what = "unbalanced ${ in command";
			break;
		case SHQ_PLAIN:
			break;
		}
	}
	if (what == NULL)
		return (0);
	*cause = xstrdup(what);
	return (-1);
}

/* The command for sh -c, each value quoted for where it goes: in plain
 * text as '...', inside '...' as '\'' for each quote, inside "..." by
 * closing the double quotes around a '...'.  {id} is digits, safe
 * anywhere as they are. */
static char *
shell_command(const char *command, const struct values *v, char **cause)
{
	struct shscan	 s;
	struct buf	 b = BUF_INIT;
	const char	*p, *start, *value;
	enum shq	 q;
	char		 c;
	int		 r;

	memset(&s, 0, sizeof s);
	s.stack[0] = SHQ_PLAIN;
	s.depth = 1;
	for (p = command; *p != '\0';) {
		if (*p != '{' && *p != '}') {
			shscan_feed(&s, *p);
			buf_addc(&b, *p++);
			continue;
		}
		start = p;
		if ((r = brace(&p, v, &c, &value, cause)) == -1)
			goto fail;
		if (r == 0) {
			shscan_feed(&s, c);
			buf_addc(&b, c);
			continue;
		}
		if (value == v->id) {
			buf_adds(&b, value);
			s.prev2 = s.prev;
			s.prev = 'a';
			continue;
		}
		if (shscan_where(&s, start, (int)(p - start), &q, cause) != 0)
			goto fail;
		if (q == SHQ_SINGLE)
			add_sq_inner(&b, value);
		else if (q == SHQ_DOUBLE) {
			buf_addc(&b, '"');
			add_sq(&b, value);
			buf_addc(&b, '"');
		} else
			add_sq(&b, value);
		s.prev2 = s.prev;
		s.prev = 'a';
	}
	if (shscan_end(&s, cause) != 0)
		goto fail;
	return (buf_detach(&b));
fail:
	buf_free(&b);
	return (NULL);
}

/* Custom commands come from the operator's config (S6); the values come
 * from channel data and must never become syntax. */
char **
spawn_command_argv(const char *command, int shell, const char *source,
    long long id, const char *name, char **cause)
{
	struct argvec	 words = { NULL, 0 }, argv = { NULL, 0 };
	struct values	 v;
	char		*s;
	size_t		 i;

	if (command == NULL || command[strspn(command, " \t\n")] == '\0') {
		*cause = xstrdup("empty command");
		return (NULL);
	}
	v.source = source != NULL ? source : "";
	v.name = name != NULL ? name : "";
	snprintf(v.id, sizeof v.id, "%lld", id);

	if (shell) {
		if ((s = shell_command(command, &v, cause)) == NULL)
			return (NULL);
		argvec_add(&argv, xstrdup("/bin/sh"));
		argvec_add(&argv, xstrdup("-c"));
		argvec_add(&argv, s);
		return (argv.v);
	}

	if (split_words(command, &words, cause) != 0)
		goto fail;
	if (words.n == 0) {
		*cause = xstrdup("empty command");
		goto fail;
	}
	for (i = 0; i < words.n; i++) {
		if ((s = expand_word(words.v[i], &v, cause)) == NULL)
			goto fail;
		argvec_add(&argv, s);
	}
	spawn_argv_free(words.v);
	return (argv.v);
fail:
	spawn_argv_free(words.v);
	spawn_argv_free(argv.v);
	return (NULL);
}

/* Frees an argv from spawn_command_argv; NULL is ignored. */
void
spawn_argv_free(char **argv)
{
	char	**p;

	if (argv == NULL)
		return;
	for (p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

/* The environment for the child: ours, with env's entries added or
 * replacing ours. */
static char **
make_envp(const struct kvlist *env, char **cause)
{
	struct argvec	 e = { NULL, 0 };
	char		**p;
	size_t		 i, len;
	int		 replaced;

	for (i = 0; env != NULL && i < env->n; i++) {
		if (env->v[i].key[0] == '\0' ||
		    strchr(env->v[i].key, '=') != NULL) {
			*cause = xprintf("bad environment variable name '%s'",
			    env->v[i].key);
			return (NULL);
		}
	}
	for (p = environ; p != NULL && *p != NULL; p++) {
		len = strcspn(*p, "=");
		replaced = 0;
		for (i = 0; env != NULL && i < env->n && !replaced; i++) {
			replaced = strlen(env->v[i].key) == len &&
			    strncmp(env->v[i].key, *p, len) == 0;
		}
		if (!replaced)
			argvec_add(&e, xstrdup(*p));
	}
	for (i = 0; env != NULL && i < env->n; i++)
		argvec_add(&e, xprintf("%s=%s", env->v[i].key,
		    env->v[i].value != NULL ? env->v[i].value : ""));
	if (e.v == NULL)
		e.v = xcalloc(1, sizeof *e.v);
	return (e.v);
}

/* The paths execvp would try for file, in order. */
static char **
search_paths(const char *file, char *const *envp)
{
	struct argvec	 a = { NULL, 0 };
	const char	*path = SPAWN_DEFAULT_PATH, *p, *end;
	char *const	*e;
	size_t		 len;

	if (strchr(file, '/') != NULL) {
		argvec_add(&a, xstrdup(file));
		return (a.v);
	}
	for (e = envp; *e != NULL; e++) {
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	}
	for (p = path;; p = end + 1) {
		end = strchr(p, ':');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len == 0)
			argvec_add(&a, xprintf("./%s", file));
		else
			argvec_add(&a, xprintf("%.*s/%s", (int)len, p, file));
		if (end == NULL)
			break;
	}
	return (a.v);
}

/* Moves a new descriptor above 2, so that the child's dup2 onto 0, 1
 * and 2 never overwrites one of ours. */
static int
lift_fd(int fd)
{
	int	nfd, saved;

	if (fd > 2)
		return (fd);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	saved = errno;
	close(fd);
	errno = saved;
	return (nfd);
}

static int
pipe_lifted(int p[2])
{
	int	saved;

	if (pipe2(p, O_CLOEXEC) != 0)
		return (-1);
	p[0] = lift_fd(p[0]);
	p[1] = lift_fd(p[1]);
	if (p[0] == -1 || p[1] == -1) {
		saved = errno;
		if (p[0] != -1)
			close(p[0]);
		if (p[1] != -1)
			close(p[1]);
		p[0] = p[1] = -1;
		errno = saved;
		return (-1);
	}
	return (0);
}

static void
close_if(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* close_range(2) where the kernel has it (Linux 5.9). */
static int
close_from_to(unsigned int first, unsigned int last)
{
#ifdef SYS_close_range
	return ((int)syscall(SYS_close_range, first, last, 0));
#else
	errno = ENOSYS;
	return (-1);
#endif
}

/* In the child: closes every descriptor from 3 up, except keep. */
static void
close_others(int keep, long maxfd)
{
	long	fd;

	if ((keep == 3 || close_from_to(3, (unsigned int)keep - 1) == 0) &&
	    close_from_to((unsigned int)keep + 1, ~0U) == 0)
		return;
	for (fd = 3; fd < maxfd; fd++) {
		if (fd != keep)
			close((int)fd);
	}
}

static void __attribute__((noreturn))
child_fail(int fd, int stage, int err)
{
	struct child_error	ce;
	ssize_t			n;

	ce.stage = stage;
	ce.err = err;
	do
		n = write(fd, &ce, sizeof ce);
	while (n == -1 && errno == EINTR);
	_exit(127);
}

/* The child between fork and exec: async-signal-safe calls only, on
 * memory prepared before the fork. */
static void __attribute__((noreturn))
child(const struct spawn *sp, char *const *paths, char *const *envp,
    int nullfd, int outfd, int errfd, int reportfd, long maxfd)
{
	struct sigaction	 sa;
	sigset_t		 none;
	int			 sig, err = ENOENT, eacces = 0;
	char *const		*p;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	setpgid(0, 0);

	if (nullfd != -1 && dup2(nullfd, STDIN_FILENO) == -1)
		child_fail(reportfd, STAGE_SETUP, errno);
	if (outfd != -1 && dup2(outfd, STDOUT_FILENO) == -1)
		child_fail(reportfd, STAGE_SETUP, errno);
	if (errfd != -1 && dup2(errfd, STDERR_FILENO) == -1)
		child_fail(reportfd, STAGE_SETUP, errno);
	close_others(reportfd, maxfd);

	if (sp->cwd != NULL && chdir(sp->cwd) != 0)
		child_fail(reportfd, STAGE_CHDIR, errno);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (p = paths; *p != NULL; p++) {
		execve(*p, sp->argv, envp);
		err = errno;
		if (err == EACCES)
			eacces = 1;
		else if (err != ENOENT && err != ENOTDIR && err != ELOOP &&
		    err != ENAMETOOLONG)
			break;
	}
	child_fail(reportfd, STAGE_EXEC, eacces && *p == NULL ? EACCES : err);
}

/* spawn_start, with stderr to a pipe too when err_fd is not NULL. */
static pid_t
start(const struct spawn *sp, int *out_fd, int *err_fd, char **cause)
{
	struct child_error	 ce;
	sigset_t		 all, old;
	char			**envp = NULL, **paths = NULL;
	int			 nullfd = -1, outp[2] = { -1, -1 };
	int			 errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
	long			 maxfd;
	ssize_t			 n;
	pid_t			 pid = -1;

	if (out_fd != NULL)
		*out_fd = -1;
	if (err_fd != NULL)
		*err_fd = -1;
	if (sp->argv == NULL || sp->argv[0] == NULL || *sp->argv[0] == '\0') {
		*cause = xstrdup("empty command");
		return (-1);
	}
	if ((envp = make_envp(sp->env, cause)) == NULL)
		return (-1);
	paths = search_paths(sp->argv[0], envp);
	if ((maxfd = sysconf(_SC_OPEN_MAX)) < 0)
		maxfd = 1024;

	if (sp->want_stdin_null &&
	    ((nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (nullfd = lift_fd(nullfd)) == -1)) {
		*cause = xprintf("/dev/null: %s", strerror(errno));
		goto out;
	}
	if ((sp->want_stdout && pipe_lifted(outp) != 0) ||
	    (err_fd != NULL && pipe_lifted(errp) != 0) ||
	    pipe_lifted(rep) != 0) {
		*cause = xprintf("pipe: %s", strerror(errno));
		goto out;
	}

	/* No handler of ours may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child(sp, paths, envp, nullfd, outp[1], errp[1], rep[1], maxfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		*cause = xprintf("fork: %s", strerror(errno));
		goto out;
	}
	/* Also here, so that kill(-pid) works as soon as we return. */
	setpgid(pid, pid);

	close_if(&rep[1]);
	do
		n = read(rep[0], &ce, sizeof ce);
	while (n == -1 && errno == EINTR);
	if (n != 0) {
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		if (n != (ssize_t)sizeof ce)
			*cause = xprintf("%s: could not be started",
			    sp->argv[0]);
		else if (ce.stage == STAGE_CHDIR)
			*cause = xprintf("chdir %s: %s", sp->cwd,
			    strerror(ce.err));
		else if (ce.stage == STAGE_EXEC)
			*cause = xprintf("%s: %s", sp->argv[0],
			    strerror(ce.err));
		else
			*cause = xprintf("%s: setting up: %s", sp->argv[0],
			    strerror(ce.err));
		pid = -1;
		goto out;
	}
	if (out_fd != NULL && sp->want_stdout) {
		*out_fd = outp[0];
		outp[0] = -1;
	}
	if (err_fd != NULL) {
		*err_fd = errp[0];
		errp[0] = -1;
	}
out:
	close_if(&rep[0]);
	close_if(&rep[1]);
	close_if(&errp[0]);
	close_if(&errp[1]);
	close_if(&outp[0]);
	close_if(&outp[1]);
	close_if(&nullfd);
	spawn_argv_free(paths);
	spawn_argv_free(envp);
	return (pid);
}

/* Pipelines and yt-dlp run as children of a threaded streamd: fork and
 * exec with everything prepared first, errors reported to the parent. */
pid_t
spawn_start(const struct spawn *sp, int *out_fd, char **cause)
{
	return (start(sp, out_fd, NULL, cause));
}

/* pidfd_open(2) where the kernel has it (Linux 5.3), so that a wait
 * with a timeout needs no polling. */
static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return ((int)syscall(SYS_pidfd_open, pid, 0));
#else
	errno = ENOSYS;
	return (-1);
#endif
}

/* A child may be waited for with a bound, so that one stuck program
 * cannot hold up a stop. */
int
spawn_wait(pid_t pid, int timeout_ms, int *status)
{
	struct pollfd	pfd;
	int64_t		deadline;
	pid_t		r;
	int		st, left, delay = 1;

	if (timeout_ms < 0) {
		do
			r = waitpid(pid, &st, 0);
		while (r == -1 && errno == EINTR);
		if (r == -1)
			return (-1);
		if (status != NULL)
			*status = st;
		return (1);
	}
	deadline = now_ms() + timeout_ms;
	pfd.fd = open_pidfd(pid);
	pfd.events = POLLIN;
	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			if (pfd.fd != -1)
				close(pfd.fd);
			return (-1);
		}
		left = (int)(deadline - now_ms());
		if (left <= 0) {
			if (pfd.fd != -1)
				close(pfd.fd);
			return (0);
		}
		if (pfd.fd != -1)
			poll(&pfd, 1, left);
		else {
			sleep_ms(delay < left ? delay : left);
			if (delay < 20)
				delay *= 2;
		}
	}
	if (pfd.fd != -1)
		close(pfd.fd);
	if (status != NULL)
		*status = st;
	return (1);
}

/* A stop asks first (ffmpeg writes its trailer on SIGTERM), then
 * insists. */
int
spawn_stop(pid_t pid, int grace_ms)
{
	int	st = -1, r;

	if (kill(-pid, SIGTERM) != 0)
		kill(pid, SIGTERM);
	r = spawn_wait(pid, grace_ms < 0 ? 0 : grace_ms, &st);
	if (r == 1)
		return (st);
	if (r == -1)
		return (-1);
	if (kill(-pid, SIGKILL) != 0)
		kill(pid, SIGKILL);
	if (spawn_wait(pid, -1, &st) != 1)
		return (-1);
	return (st);
}

/* The last non-empty line of what a program wrote to stderr, shortened. */
static char *
last_line(const struct buf *b)
{
	const char	*s, *end, *start;
	size_t		 len;

	if (b->len == 0)
		return (NULL);
	s = b->data;
	end = s + b->len;
	while (end > s && strchr(" \t\r\n", end[-1]) != NULL)
		end--;
	if (end == s)
		return (NULL);
	for (start = end; start > s && start[-1] != '\n'; start--)
		;
	len = (size_t)(end - start);
	if (len > YTDLP_LINE_MAX)
		len = YTDLP_LINE_MAX;
	return (xstrndup(start, len));
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	}
	return (0);
}

/* How far the tokener read. */
static size_t
parse_end(json_tokener *tok)
{
#if JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	return (json_tokener_get_parse_end(tok));
#else
	return ((size_t)tok->char_offset);
#endif
}

/* Takes the media URL and its headers out of yt-dlp's JSON. */
static int
parse_ytdlp(const struct buf *b, struct ytdlp_result *out, char **cause)
{
	json_tokener	*tok;
	json_object	*j = NULL, *v, *fmts, *f0 = NULL, *h = NULL;
	const char	*url = NULL, *value;
	size_t		 end;
	int		 rc = -1;

	if (b->len == 0) {
		*cause = xstrdup("yt-dlp printed nothing");
		return (-1);
	}
	if (memchr(b->data, '\0', b->len) != NULL) {
		*cause = xstrdup("yt-dlp printed a NUL byte, not JSON");
		return (-1);
	}
	/* With its NUL, so that a bare number or literal is complete. */
	tok = json_tokener_new();
	j = json_tokener_parse_ex(tok, b->data, (int)b->len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		*cause = xprintf("yt-dlp printed no JSON document: %s",
		    json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	end = parse_end(tok);
	if (b->data[end + strspn(b->data + end, " \t\r\n")] != '\0') {
		*cause = xstrdup("yt-dlp printed more than one JSON document "
		    "(a playlist?)");
		goto out;
	}
	if (j == NULL || !json_object_is_type(j, json_type_object)) {
		*cause = xstrdup("yt-dlp printed JSON that is not an object");
		goto out;
	}

	if (json_object_object_get_ex(j, "url", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) != 0)
		url = json_object_get_string(v);
	else if (json_object_object_get_ex(j, "requested_formats", &fmts) &&
	    json_object_is_type(fmts, json_type_array) &&
	    json_object_array_length(fmts) != 0 &&
	    (f0 = json_object_array_get_idx(fmts, 0)) != NULL &&
	    json_object_is_type(f0, json_type_object) &&
	    json_object_object_get_ex(f0, "url", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) != 0)
		url = json_object_get_string(v);
	if (url == NULL) {
		*cause = xstrdup("yt-dlp gave no media URL");
		goto out;
	}
	if (has_control(url)) {
		*cause = xstrdup("yt-dlp gave a media URL with control "
		    "characters");
		goto out;
	}

	if (!json_object_object_get_ex(j, "http_headers", &h) && f0 != NULL)
		json_object_object_get_ex(f0, "http_headers", &h);
	if (h != NULL && !json_object_is_type(h, json_type_object) &&
	    !json_object_is_type(h, json_type_null)) {
		*cause = xstrdup("yt-dlp gave http_headers that are not an "
		    "object");
		goto out;
	}
	if (h != NULL && json_object_is_type(h, json_type_object)) {
		json_object_object_foreach(h, key, hv) {
			if (hv == NULL || json_object_is_type(hv,
			    json_type_null))
				continue;
			value = json_object_get_string(hv);
			if (*key == '\0' || strchr(key, ':') != NULL ||
			    has_control(key) || has_control(value)) {
				*cause = xstrdup("yt-dlp gave an HTTP header "
				    "that cannot be sent");
				kvlist_free(&out->headers);
				goto out;
			}
			kvlist_set(&out->headers, key, value);
		}
	}
	out->url = xstrdup(url);
	rc = 0;
out:
	json_object_put(j);
	json_tokener_free(tok);
	return (rc);
}

/*
 * Reads the child's stdout and stderr until both are closed.  Returns 0,
 * 1 when the deadline passed, or -1 with *cause.
 */
static int
collect(int fds[2], struct buf *out, struct buf *err, int64_t deadline,
    char **cause)
{
	struct pollfd	 pfd[2];
	struct buf	*to;
	char		 chunk[16384];
	ssize_t		 n;
	nfds_t		 npfd;
	int		 i, r, wait;

	while (fds[0] != -1 || fds[1] != -1) {
		npfd = 0;
		for (i = 0; i < 2; i++) {
			if (fds[i] == -1)
				continue;
			pfd[npfd].fd = fds[i];
			pfd[npfd].events = POLLIN;
			pfd[npfd].revents = 0;
			npfd++;
		}
		wait = -1;
		if (deadline >= 0 && (wait = (int)(deadline - now_ms())) <= 0)
			return (1);
		if ((r = poll(pfd, npfd, wait)) == -1) {
			if (errno == EINTR)
				continue;
			*cause = xprintf("poll: %s", strerror(errno));
			return (-1);
		}
		if (r == 0)
			return (1);
		for (i = 0; i < (int)npfd; i++) {
			if (pfd[i].revents == 0)
				continue;
			to = pfd[i].fd == fds[0] ? out : err;
			n = read(pfd[i].fd, chunk, sizeof chunk);
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n == -1) {
				*cause = xprintf("reading from yt-dlp: %s",
				    strerror(errno));
				return (-1);
			}
			if (n == 0) {
				close(pfd[i].fd);
				if (pfd[i].fd == fds[0])
					fds[0] = -1;
				else
					fds[1] = -1;
				continue;
			}
			if (to == out && out->len + (size_t)n > YTDLP_OUT_MAX) {
				*cause = xprintf("yt-dlp printed more than %d "
				    "bytes", YTDLP_OUT_MAX);
				return (-1);
			}
			buf_add(to, chunk, (size_t)n);
			if (to == err && err->len > YTDLP_ERR_MAX) {
				memmove(err->data, err->data + err->len -
				    YTDLP_ERR_KEEP, YTDLP_ERR_KEEP);
				err->len = YTDLP_ERR_KEEP;
				err->data[err->len] = '\0';
			}
		}
	}
	return (0);
}

/* S7: a channel whose source is a web page plays the media URL yt-dlp
 * finds in it, with the headers the site wants. */
int
spawn_ytdlp(const char *url, const char *format,
    const struct kvlist *options, int timeout_ms, struct ytdlp_result *out,
    char **cause)
{
	struct argvec	 argv = { NULL, 0 };
	struct spawn	 sp;
	struct buf	 obuf = BUF_INIT, ebuf = BUF_INIT;
	const char	*prog, *key;
	char		*line = NULL;
	int64_t		 deadline = -1;
	int		 fds[2] = { -1, -1 }, status = 0, r, left, rc = -1;
	size_t		 i;
	pid_t		 pid = -1;

	memset(out, 0, sizeof *out);
	if (timeout_ms > 0)
		deadline = now_ms() + timeout_ms;

	prog = getenv("AMPS_YTDLP");
	if (prog == NULL || *prog == '\0')
		prog = "yt-dlp";
	argvec_add(&argv, xstrdup(prog));
	argvec_add(&argv, xstrdup("--dump-json"));
	argvec_add(&argv, xstrdup("--no-playlist"));
	if (format != NULL && *format != '\0') {
		argvec_add(&argv, xstrdup("-f"));
		argvec_add(&argv, xstrdup(format));
	}
	for (i = 0; options != NULL && i < options->n; i++) {
		key = options->v[i].key + strspn(options->v[i].key, "-");
		if (*key == '\0') {
			*cause = xprintf("bad yt-dlp option '%s'",
			    options->v[i].key);
			goto out;
		}
		argvec_add(&argv, xprintf(key[1] == '\0' ? "-%s" : "--%s",
		    key));
		if (options->v[i].value != NULL && *options->v[i].value != '\0')
			argvec_add(&argv, xstrdup(options->v[i].value));
	}
	argvec_add(&argv, xstrdup("--"));
	argvec_add(&argv, xstrdup(url));

	memset(&sp, 0, sizeof sp);
	sp.argv = argv.v;
	sp.want_stdout = 1;
	sp.want_stdin_null = 1;
	if ((pid = start(&sp, &fds[0], &fds[1], cause)) == -1)
		goto out;

	r = collect(fds, &obuf, &ebuf, deadline, cause);
	if (r == 0) {
		left = -1;
		if (deadline >= 0 && (left = (int)(deadline - now_ms())) < 0)
			left = 0;
		if ((r = spawn_wait(pid, left, &status)) == 1) {
			pid = -1;
			r = 0;
		} else if (r == 0)
			r = 1;
		else {
			*cause = xprintf("waiting for yt-dlp: %s",
			    strerror(errno));
			pid = -1;
			goto out;
		}
	}
	if (r == 1) {
		*cause = xprintf("yt-dlp timed out after %d ms", timeout_ms);
		goto out;
	}
	if (r == -1)
		goto out;

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		line = last_line(&ebuf);
		if (WIFSIGNALED(status))
			*cause = xprintf("yt-dlp was killed by signal %d%s%s",
			    WTERMSIG(status), line != NULL ? ": " : "",
			    line != NULL ? line : "");
		else
			*cause = xprintf("yt-dlp failed with exit status "
			    "%d%s%s", WEXITSTATUS(status),
			    line != NULL ? ": " : "", line != NULL ? line : "");
		goto out;
	}
	rc = parse_ytdlp(&obuf, out, cause);
out:
	if (pid != -1)
		spawn_stop(pid, YTDLP_GRACE_MS);
	close_if(&fds[0]);
	close_if(&fds[1]);
	free(line);
	buf_free(&obuf);
	buf_free(&ebuf);
	spawn_argv_free(argv.v);
	return (rc);
}

/* Frees what spawn_ytdlp filled in; the struct itself is the caller's. */
void
spawn_ytdlp_free(struct ytdlp_result *r)
{
	if (r == NULL)
		return;
	free(r->url);
	r->url = NULL;
	kvlist_free(&r->headers);
}
