#include "config.h"

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "cli.h"
#include "serve.h"
#include "store.h"
#include "sync.h"
#include "xmalloc.h"

/*
 * amps serve: the embedded default stack in the foreground.
 *
 * serve imports the config (as amps init does), writes a lighttpd config
 * from the shipped template lighttpd/amps.conf.in, and runs lighttpd
 * (which spawns amps.fcgi through mod_fastcgi's bin-path) and streamd as
 * its children, each in its own process group so that the terminal's
 * Ctrl-C reaches serve alone and serve stops them in order.  serve is a
 * child subreaper: what lighttpd spawned comes back to serve if lighttpd
 * dies, so nothing is left behind and no zombie stays.
 *
 * Where things are found, first match wins:
 *   the template:  $AMPS_DATADIR/lighttpd/amps.conf.in (only there when
 *                  set); the source tree of the running amps (a folder
 *                  at most three levels above it holding
 *                  lighttpd/amps.conf.in, or the abs_top_srcdir of the
 *                  build tree's Makefile); PKGDATADIR/lighttpd/amps.conf.in
 *   amps.fcgi:     ../cgi/amps.fcgi beside the running amps (a build
 *                  tree); LIBEXECDIR/amps/amps.fcgi
 *   streamd:       ../streamd/streamd beside the running amps; SBINDIR
 *                  (when the build defines it), ../sbin/streamd
 *   lighttpd:      LIGHTTPD_PATH (configure), /usr/sbin/lighttpd
 * A build tree's own files win over installed ones, so that a freshly
 * built amps never runs an older installed responder.
 */

#define STOP_GRACE_MS	5000	/* SIGTERM, then SIGKILL after this */
#define READY_MS	10000	/* how long lighttpd may take to listen */
#define TREE_LEVELS	3	/* cli/ -> build/debug/ -> build/ -> top */
#define TEMPLATE	"lighttpd/amps.conf.in"
/* lighttpd's limit for a socket in fastcgi.server (sun_path less 3). */
#define FCGI_SOCKET_MAX	105

#ifndef LIBEXECDIR
#define LIBEXECDIR	"/usr/local/libexec"
#endif
#ifndef PKGDATADIR
#define PKGDATADIR	"/usr/local/share/amps"
#endif

/* Signal handlers only set flags; the loops act on them. */
static volatile sig_atomic_t	got_stop;
static volatile sig_atomic_t	got_hup;
static volatile sig_atomic_t	got_chld;

struct child {
	const char	*name;
	pid_t		 pid;		/* 0 when not running */
	int		 status;	/* wait status once reaped */
	int		 reaped;
};

struct serve {
	struct config	*cfg;
	char		*exe_dir;	/* folder of the running amps */
	char		*run_dir;	/* <database folder>/run */
	char		*cache_dir;	/* <database folder>/cache, amps.fcgi's */
	char		*lock_path;
	int		 lock_fd;
	char		*template;
	char		*lighttpd;
	char		*fcgi;
	char		*streamd;
	char		*conf_out;	/* the generated lighttpd config */
	char		*error_log;
	char		*pid_file;
	char		*socket;
	char		*bind;		/* server.bind: "127.0.0.1", "[::1]" */
	char		*port;
	char		*url;		/* what to print */
	sigset_t	 oldmask;	/* the mask before serve blocked signals */
	struct child	 lighttpd_child;
	struct child	 streamd_child;
};

static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

static int
is_file(const char *path)
{
	struct stat	st;

	return (stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

static int
is_program(const char *path)
{
	return (is_file(path) && access(path, X_OK) == 0);
}

static char *
folder_of(const char *path)
{
	char	*copy, *dir;

	copy = xstrdup(path);
	dir = xstrdup(dirname(copy));
	free(copy);
	return (dir);
}

/* The folder of /proc/self/exe, or NULL. */
static char *
exe_folder(void)
{
	char	 path[PATH_MAX];
	ssize_t	 n;

	n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		return (NULL);
	path[n] = '\0';
	return (folder_of(path));
}

/* The abs_top_srcdir that automake writes into a build tree's Makefile
 * (a build outside the source tree), or NULL. */
static char *
makefile_srcdir(const char *dir)
{
	FILE	*f;
	char	*path, *line = NULL, *v, *end, *out = NULL;
	size_t	 size = 0;

	path = xprintf("%s/Makefile", dir);
	f = fopen(path, "r");
	free(path);
	if (f == NULL)
		return (NULL);
	while (out == NULL && getline(&line, &size, f) != -1) {
		if (strncmp(line, "abs_top_srcdir = ", 17) != 0)
			continue;
		v = line + 17;
		end = v + strcspn(v, "\r\n");
		*end = '\0';
		if (*v == '/')
			out = xstrdup(v);
	}
	free(line);
	fclose(f);
	return (out);
}

/* rel in the tree the running amps was built in: a folder at most
 * TREE_LEVELS above it that holds rel, or the source folder that such a
 * build folder names.  NULL if none. */
static char *
find_in_tree(const char *exe_dir, const char *rel)
{
	char	*dir, *up, *path, *src;
	int	 i;

	if (exe_dir == NULL)
		return (NULL);
	dir = xstrdup(exe_dir);
	for (i = 0; i <= TREE_LEVELS; i++) {
		path = xprintf("%s/%s", dir, rel);
		if (is_file(path)) {
			free(dir);
			return (path);
		}
		free(path);
		if ((src = makefile_srcdir(dir)) != NULL) {
			path = xprintf("%s/%s", src, rel);
			free(src);
			if (is_file(path)) {
				free(dir);
				return (path);
			}
			free(path);
		}
		if (strcmp(dir, "/") == 0)
			break;
		up = folder_of(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	return (NULL);
}

static char *
find_template(const char *exe_dir)
{
	const char	*env;
	char		*path;

	env = getenv("AMPS_DATADIR");
	if (env != NULL && *env != '\0') {
		path = xprintf("%s/%s", env, TEMPLATE);
		if (is_file(path))
			return (path);
		cli_warn("%s: no such file ($AMPS_DATADIR is set)", path);
		free(path);
		return (NULL);
	}
	if ((path = find_in_tree(exe_dir, TEMPLATE)) != NULL)
		return (path);
	path = xstrdup(PKGDATADIR "/" TEMPLATE);
	if (is_file(path))
		return (path);
	cli_warn("%s: no such file (nor in a source tree above %s; set "
	    "$AMPS_DATADIR to the folder that holds lighttpd/)", path,
	    exe_dir != NULL ? exe_dir : "amps");
	free(path);
	return (NULL);
}

/* A program of the build tree beside the running amps (../tree_rel),
 * else the first installed path that exists. */
static char *
find_program(const char *exe_dir, const char *name, const char *tree_rel,
    const char *const *installed)
{
	struct buf	 tried = BUF_INIT;
	char		*path, *real;

	if (exe_dir != NULL && tree_rel != NULL) {
		path = xprintf("%s/../%s", exe_dir, tree_rel);
		if (is_program(path)) {
			if ((real = realpath(path, NULL)) != NULL) {
				free(path);
				path = real;
			}
			return (path);
		}
		buf_addf(&tried, " %s", path);
		free(path);
	}
	for (; *installed != NULL; installed++) {
		if (**installed == '\0')
			continue;
		if (is_program(*installed)) {
			buf_free(&tried);
			return (xstrdup(*installed));
		}
		buf_addf(&tried, " %s", *installed);
	}
	cli_warn("%s not found (tried%s)", name, tried.data != NULL ? tried.data :
	    " nothing");
	buf_free(&tried);
	return (NULL);
}

static int
find_programs(struct serve *sv)
{
	const char	*lighttpd[] = { LIGHTTPD_PATH, "/usr/sbin/lighttpd",
			    NULL };
	const char	*fcgi[] = { LIBEXECDIR "/amps/amps.fcgi", NULL };
	char		*sbin = NULL;
	const char	*streamd[3];
	int		 rc = 0;

#ifdef SBINDIR
	streamd[0] = SBINDIR "/streamd";
#else
	streamd[0] = "";
#endif
	if (sv->exe_dir != NULL)
		sbin = xprintf("%s/../sbin/streamd", sv->exe_dir);
	streamd[1] = sbin != NULL ? sbin : "";
	streamd[2] = NULL;

	if ((sv->lighttpd = find_program(NULL, "lighttpd", NULL,
	    lighttpd)) == NULL) {
		cli_warn("install lighttpd (tools/install-deps does)");
		rc = -1;
	} else if ((sv->fcgi = find_program(sv->exe_dir, "amps.fcgi",
	    "cgi/amps.fcgi", fcgi)) == NULL ||
	    (sv->streamd = find_program(sv->exe_dir, "streamd",
	    "streamd/streamd", streamd)) == NULL)
		rc = -1;
	free(sbin);
	return (rc);
}

/* Splits server.listen ("host:port", "[v6]:port", ":port") into what
 * lighttpd's server.bind and server.port take. */
static void
split_listen(struct serve *sv)
{
	const char	*spec = sv->cfg->server.listen, *colon;
	char		*host;

	colon = strrchr(spec, ':');	/* conf.c checked the form */
	host = xstrndup(spec, (size_t)(colon - spec));
	sv->port = xstrdup(colon + 1);
	if (*host == '\0') {
		free(host);
		host = xstrdup("0.0.0.0");	/* ":port": every address */
	}
	sv->bind = host;
	sv->url = xprintf("http://%s:%s/", host, sv->port);
}

/* Values go between double quotes in lighttpd's syntax. */
static int
quotable(const char *name, const char *value)
{
	const char	*p;

	for (p = value; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) {
			cli_warn("%s '%s' has a character that lighttpd's config "
			    "cannot hold (\", \\ or a control character)",
			    name, value);
			return (-1);
		}
	}
	return (0);
}

struct subst {
	const char	*name;
	const char	*value;
};

/* Replaces every @NAME@ of text from vars.  An @NAME@ that vars lacks
 * is an error: the template and this file must agree. */
static int
fill_template(const char *path, const char *text, const struct subst *vars,
    struct buf *out)
{
	const struct subst	*v;
	const char		*p, *end;
	size_t			 n, line = 1;

	for (p = text; *p != '\0'; p++) {
		if (*p == '\n')
			line++;
		if (*p != '@') {
			buf_addc(out, *p);
			continue;
		}
		for (end = p + 1; isupper((unsigned char)*end) ||
		    *end == '_'; end++)
			;
		if (*end != '@' || end == p + 1) {
			buf_addc(out, *p);
			continue;
		}
		n = (size_t)(end - p - 1);
		for (v = vars; v->name != NULL; v++) {
			if (strlen(v->name) == n &&
			    strncmp(v->name, p + 1, n) == 0)
				break;
		}
		if (v->name == NULL) {
			cli_warn("%s:%zu: unknown placeholder %.*s", path, line,
			    (int)(n + 2), p);
			return (-1);
		}
		buf_adds(out, v->value);
		p = end;
	}
	return (0);
}

static char *
read_file(const char *path)
{
	struct buf	 b = BUF_INIT;
	char		 chunk[8192];
	size_t		 n;
	FILE		*f;

	if ((f = fopen(path, "r")) == NULL) {
		cli_warn("%s: %s", path, strerror(errno));
		return (NULL);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(&b, chunk, n);
	if (ferror(f)) {
		cli_warn("%s: read error", path);
		fclose(f);
		buf_free(&b);
		return (NULL);
	}
	fclose(f);
	return (buf_detach(&b));
}

/* Writes data to path through a temporary file and rename(). */
static int
write_file(const char *path, const char *data, size_t len)
{
	char	*tmp;
	FILE	*f;
	int	 rc = 0;

	tmp = xprintf("%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		cli_warn("%s: %s", tmp, strerror(errno));
		free(tmp);
		return (-1);
	}
	if (fwrite(data, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0) {
		cli_warn("%s: %s", path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	return (rc);
}

/* The lighttpd config for this amps.conf, from the shipped template.
 * lighttpd and amps.fcgi run as serve does (drop_root has already left
 * root when the data is another user's), so the server.username lines
 * stay commented out. */
static int
write_lighttpd_conf(struct serve *sv)
{
	struct subst	 vars[16];
	struct passwd	*pw;
	struct group	*gr;
	struct buf	 out = BUF_INIT;
	char		*text = NULL, *user, *group;
	size_t		 i;
	int		 rc = -1;

	pw = getpwuid(geteuid());
	gr = getgrgid(getegid());
	user = pw != NULL ? xstrdup(pw->pw_name) :
	    xprintf("%u", (unsigned)geteuid());
	group = gr != NULL ? xstrdup(gr->gr_name) :
	    xprintf("%u", (unsigned)getegid());
	i = 0;
	vars[i++] = (struct subst){ "LISTEN_ADDRESS", sv->bind };
	vars[i++] = (struct subst){ "LISTEN_PORT", sv->port };
	vars[i++] = (struct subst){ "MEDIA_ROOT", sv->cfg->server.media_root };
	vars[i++] = (struct subst){ "FCGI_SOCKET", sv->socket };
	vars[i++] = (struct subst){ "WS_SOCKET", sv->cfg->server.ws_socket };
	vars[i++] = (struct subst){ "FCGI_BIN", sv->fcgi };
	vars[i++] = (struct subst){ "AMPS_CONF", sv->cfg->file };
	vars[i++] = (struct subst){ "DATABASE", sv->cfg->server.database };
	vars[i++] = (struct subst){ "CACHE_DIR", sv->cache_dir };
	vars[i++] = (struct subst){ "PID_FILE", sv->pid_file };
	vars[i++] = (struct subst){ "ERROR_LOG", sv->error_log };
	vars[i++] = (struct subst){ "USER", user };
	vars[i++] = (struct subst){ "GROUP", group };
	vars[i++] = (struct subst){ "SETUID", "#" };
	vars[i] = (struct subst){ NULL, NULL };

	for (i = 0; vars[i].name != NULL; i++) {
		if (quotable(vars[i].name, vars[i].value) != 0)
			goto out;
	}
	if ((text = read_file(sv->template)) == NULL ||
	    fill_template(sv->template, text, vars, &out) != 0)
		goto out;
	rc = write_file(sv->conf_out, out.data != NULL ? out.data : "",
	    out.len);
out:
	buf_free(&out);
	free(text);
	free(user);
	free(group);
	return (rc);
}

/* Takes the lock next to the database.  Returns 0, 1 when another amps
 * serve holds it (reported), or -1. */
static int
take_lock(struct serve *sv)
{
	char	 text[32];
	ssize_t	 n;
	long	 pid;

	sv->lock_fd = open(sv->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (sv->lock_fd == -1) {
		cli_warn("%s: %s", sv->lock_path, strerror(errno));
		return (-1);
	}
	if (flock(sv->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK) {
			cli_warn("%s: %s", sv->lock_path, strerror(errno));
			return (-1);
		}
		n = pread(sv->lock_fd, text, sizeof text - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		pid = strtol(text, NULL, 10);
		if (pid > 0)
			cli_warn("already running (pid %ld)", pid);
		else
			cli_warn("already running (%s is locked)", sv->lock_path);
		return (1);
	}
	n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(sv->lock_fd, 0) != 0 ||
	    pwrite(sv->lock_fd, text, (size_t)n, 0) != n) {
		cli_warn("%s: %s", sv->lock_path, strerror(errno));
		return (-1);
	}
	return (0);
}

/* Run as root, serve becomes the owner of the database's folder (or of
 * its nearest existing parent) when that is not root, before it creates
 * anything: the whole stack then runs as the user whose data it is. */
static int
drop_root(const struct config *cfg)
{
	struct passwd	*pw;
	struct stat	 st;
	char		*dir, *up;

	if (geteuid() != 0)
		return (0);
	memset(&st, 0, sizeof st);
	dir = folder_of(cfg->server.database);
	while (stat(dir, &st) != 0 && strcmp(dir, "/") != 0) {
		up = folder_of(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	if (st.st_uid == 0)
		return (0);
	if ((pw = getpwuid(st.st_uid)) == NULL) {
		cli_warn("uid %u owns the database's folder but has no account",
		    (unsigned)st.st_uid);
		return (-1);
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		cli_warn("cannot switch to %s: %s", pw->pw_name, strerror(errno));
		return (-1);
	}
	cli_warn("running as %s, the owner of the database's folder",
	    pw->pw_name);
	return (0);
}

/* Creates the folders, takes the lock and imports the config.  Returns
 * 0, or the exit status. */
static int
prepare(struct serve *sv)
{
	char			*dbdir, *old;
	int			 rc;

	dbdir = folder_of(sv->cfg->server.database);
	sv->run_dir = xprintf("%s/run", dbdir);
	sv->cache_dir = xprintf("%s/cache", dbdir);
	rc = cli_make_dirs(dbdir, 0750) != 0 ||
	    cli_make_dirs(sv->run_dir, 0750) != 0;
	free(dbdir);
	if (rc != 0)
		return (1);

	sv->lock_path = xprintf("%s.serve.lock", sv->cfg->server.database);
	if ((rc = take_lock(sv)) != 0)
		return (1);
	if (cli_import(sv->cfg, 0) != 0)
		return (1);

	sv->conf_out = xprintf("%s/lighttpd.conf", sv->run_dir);
	sv->error_log = xprintf("%s/lighttpd.log", sv->run_dir);
	sv->pid_file = xprintf("%s/lighttpd.pid", sv->run_dir);
	sv->socket = xprintf("%s/fcgi.sock", sv->run_dir);
	/* lighttpd appends "-0" to the socket of a bin-path backend, and
	 * the authorizer's entry names that socket. */
	if (strlen(sv->socket) + 2 > FCGI_SOCKET_MAX) {
		cli_warn("%s: too long for a unix socket (%d bytes at most); "
		    "move the database to a shorter path", sv->socket,
		    FCGI_SOCKET_MAX - 2);
		return (1);
	}
	/* A fresh log for each run, so what serve shows of it when
	 * something stops is about this run; the last one is kept. */
	old = xprintf("%s.1", sv->error_log);
	rename(sv->error_log, old);
	free(old);
	split_listen(sv);
	if (write_lighttpd_conf(sv) != 0)
		return (1);
	return (0);
}

/* Starts path with argv as a child in its own process group (the
 * terminal's signals go to serve only), stdin from /dev/null, and
 * SIGTERM if serve dies first. */
static int
spawn(struct serve *sv, struct child *c, const char *path, char *const *argv)
{
	extern char	**environ;
	pid_t		  parent = getpid(), pid;
	int		  fd;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		cli_warn("fork: %s", strerror(errno));
		return (-1);
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigprocmask(SIG_SETMASK, &sv->oldmask, NULL);
		if ((fd = open("/dev/null", O_RDONLY)) != -1) {
			dup2(fd, STDIN_FILENO);
			if (fd != STDIN_FILENO)
				close(fd);
		}
		execve(path, argv, environ);
		fprintf(stderr, "amps: %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	c->pid = pid;
	c->reaped = 0;
	return (0);
}

static void
describe_exit(const struct child *c)
{
	if (WIFEXITED(c->status))
		cli_warn("%s (pid %ld) exited with status %d", c->name,
		    (long)c->pid, WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		cli_warn("%s (pid %ld) was killed by signal %d", c->name,
		    (long)c->pid, WTERMSIG(c->status));
}

/* The last lines of lighttpd's error log, where lighttpd and amps.fcgi
 * write, to show why something stopped. */
static void
show_log_tail(const char *path, int lines)
{
	char	*text, *p;
	int	 n = 0;

	if ((text = read_file(path)) == NULL || *text == '\0') {
		free(text);
		return;
	}
	p = text + strlen(text);
	if (p > text && p[-1] == '\n')
		p--;
	while (p > text && n < lines) {
		p--;
		if (*p == '\n')
			n++;
	}
	if (*p == '\n')
		p++;
	cli_warn("the end of %s:", path);
	fputs(p, stderr);
	if (*p != '\0' && text[strlen(text) - 1] != '\n')
		fputc('\n', stderr);
	free(text);
}

/* Notes the end of pid if it is one of ours.  Returns 1 if it was. */
static int
record(struct serve *sv, pid_t pid, int status)
{
	struct child	*cs[] = { &sv->lighttpd_child, &sv->streamd_child };
	size_t		 i;

	for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		if (cs[i]->pid == pid && !cs[i]->reaped) {
			cs[i]->status = status;
			cs[i]->reaped = 1;
			return (1);
		}
	}
	return (0);
}

/* Reaps every child that has exited, ours or orphans of lighttpd that
 * came to serve as the subreaper.  Returns the number of our children
 * that ended. */
static int
reap(struct serve *sv)
{
	pid_t	pid;
	int	status, ended = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		ended += record(sv, pid, status);
	return (ended);
}

/* Whether serve has any child left, without reaping it. */
static int
has_children(void)
{
	siginfo_t	info;

	memset(&info, 0, sizeof info);
	return (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0);
}

static int
running(const struct child *c)
{
	return (c->pid > 0 && !c->reaped);
}

/* Sleeps up to ms with the signals unblocked, so a signal ends the sleep
 * at once and without a race (pselect). */
static void
pause_ms(struct serve *sv, long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	pselect(0, NULL, NULL, NULL, ms >= 0 ? &ts : NULL, &sv->oldmask);
}

static long long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Whether something accepts connections on the address lighttpd binds. */
static int
listening(const struct serve *sv)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		*host;
	size_t		 len;
	int		 fd, ok = 0;

	if (strcmp(sv->bind, "0.0.0.0") == 0)
		host = xstrdup("127.0.0.1");
	else if (strcmp(sv->bind, "[::]") == 0)
		host = xstrdup("::1");
	else if (sv->bind[0] == '[') {
		len = strlen(sv->bind);
		host = xstrndup(sv->bind + 1, len > 2 ? len - 2 : 0);
	} else
		host = xstrdup(sv->bind);
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, sv->port, &hints, &res) == 0) {
		for (ai = res; ai != NULL && !ok; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype |
			    SOCK_CLOEXEC, ai->ai_protocol);
			if (fd == -1)
				continue;
			ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
			close(fd);
		}
		freeaddrinfo(res);
	}
	free(host);
	return (ok);
}

/* Every process whose parent is serve: its own children and the
 * orphans it adopted as subreaper.  Sends sig to each. */
static void
signal_children(int sig)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300], text[512], *p;
	long		 ppid;
	pid_t		 me = getpid();
	FILE		*f;
	size_t		 n;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		/* "pid (comm) state ppid ...": comm may hold spaces and
		 * parentheses, so parse after the last ')'. */
		if ((p = strrchr(text, ')')) == NULL ||
		    sscanf(p + 1, " %*c %ld", &ppid) != 1)
			continue;
		if (ppid == (long)me)
			kill((pid_t)strtol(de->d_name, NULL, 10), sig);
	}
	closedir(d);
}

/* Stops everything: SIGTERM to each child's process group (lighttpd
 * with the amps.fcgi it spawned, streamd), then to any orphan that came
 * to serve, SIGKILL to whatever is left after STOP_GRACE_MS, and reaps
 * all of it. */
static void
stop_all(struct serve *sv)
{
	struct child	*cs[] = { &sv->lighttpd_child, &sv->streamd_child };
	long long	 deadline;
	pid_t		 pid;
	size_t		 i;
	int		 status, orphans = 0;

	for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		if (cs[i]->pid > 0 && kill(-cs[i]->pid, SIGTERM) != 0 &&
		    running(cs[i]))
			kill(cs[i]->pid, SIGTERM);
	}
	deadline = now_ms() + STOP_GRACE_MS;
	for (;;) {
		reap(sv);
		if (!has_children())
			return;
		if (!orphans && !running(cs[0]) && !running(cs[1])) {
			signal_children(SIGTERM);
			orphans = 1;
		}
		if (now_ms() >= deadline)
			break;
		pause_ms(sv, 50);
	}
	for (i = 0; i < sizeof cs / sizeof cs[0]; i++) {
		if (running(cs[i]))
			cli_warn("%s (pid %ld) did not stop in %d s; killing it",
			    cs[i]->name, (long)cs[i]->pid,
			    STOP_GRACE_MS / 1000);
		if (cs[i]->pid > 0)
			kill(-cs[i]->pid, SIGKILL);
	}
	signal_children(SIGKILL);
	while ((pid = waitpid(-1, &status, 0)) > 0 || errno == EINTR) {
		if (pid > 0)
			record(sv, pid, status);
	}
}

/* Reports a child that ended on its own. */
static void
report_dead(struct serve *sv)
{
	if (sv->lighttpd_child.reaped) {
		describe_exit(&sv->lighttpd_child);
		show_log_tail(sv->error_log, 10);
	}
	if (sv->streamd_child.reaped)
		describe_exit(&sv->streamd_child);
}

/* Runs the children until a signal or until one of them ends.  Returns
 * the exit status. */
static int
run(struct serve *sv)
{
	char		 lname[] = "lighttpd", sname[] = "streamd";
	char		 dflag[] = "-D", fflag[] = "-f", cflag[] = "-c";
	char		*largv[] = { lname, dflag, fflag, sv->conf_out, NULL };
	char		*sargv[] = { sname, cflag, sv->cfg->file, NULL };
	long long	 deadline;

	sv->lighttpd_child.name = "lighttpd";
	sv->streamd_child.name = "streamd";
	/* Else the wait below would take the other server for lighttpd. */
	if (listening(sv)) {
		cli_warn("something already listens on %s; stop it or change "
		    "server.listen in %s", sv->url, sv->cfg->file);
		return (1);
	}
	if (spawn(sv, &sv->lighttpd_child, sv->lighttpd, largv) != 0)
		return (1);
	if (spawn(sv, &sv->streamd_child, sv->streamd, sargv) != 0) {
		stop_all(sv);
		return (1);
	}

	/* Wait until lighttpd accepts connections. */
	deadline = now_ms() + READY_MS;
	while (!listening(sv)) {
		if (reap(sv) > 0) {
			report_dead(sv);
			stop_all(sv);
			return (1);
		}
		if (got_stop) {
			stop_all(sv);
			return (0);
		}
		if (now_ms() >= deadline) {
			cli_warn("lighttpd does not answer on %s after %d s",
			    sv->url, READY_MS / 1000);
			show_log_tail(sv->error_log, 10);
			stop_all(sv);
			return (1);
		}
		pause_ms(sv, 50);
	}
	printf("amps: serving %s (lighttpd pid %ld, streamd pid %ld)\n"
	    "amps: lighttpd config %s (from %s), log %s\n"
	    "amps: Ctrl-C or SIGTERM stops everything\n", sv->url,
	    (long)sv->lighttpd_child.pid, (long)sv->streamd_child.pid,
	    sv->conf_out, sv->template, sv->error_log);
	fflush(stdout);

	for (;;) {
		if (got_chld) {
			got_chld = 0;
			if (reap(sv) > 0) {
				report_dead(sv);
				cli_warn("stopping everything");
				stop_all(sv);
				return (1);
			}
		}
		if (got_hup) {
			/* streamd imports amps.conf again on SIGHUP. */
			got_hup = 0;
			if (running(&sv->streamd_child))
				kill(sv->streamd_child.pid, SIGHUP);
		}
		if (got_stop) {
			cli_warn("stopping");
			stop_all(sv);
			return (0);
		}
		pause_ms(sv, -1);
	}
}

static void
serve_free(struct serve *sv)
{
	if (sv->lock_fd != -1)
		close(sv->lock_fd);
	conf_free(sv->cfg);
	free(sv->exe_dir);
	free(sv->run_dir);
	free(sv->cache_dir);
	free(sv->lock_path);
	free(sv->template);
	free(sv->lighttpd);
	free(sv->fcgi);
	free(sv->streamd);
	free(sv->conf_out);
	free(sv->error_log);
	free(sv->pid_file);
	free(sv->socket);
	free(sv->bind);
	free(sv->port);
	free(sv->url);
}

int
cmd_serve(const char *conf, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct serve		 sv;
	struct sigaction	 sa;
	sigset_t		 block;
	int			 ch, rc;

	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		if (ch != 'c') {
			cli_warn("usage: amps serve [-c FILE]");
			return (EXIT_USAGE);
		}
		conf = optarg;
	}
	if (optind != argc) {
		cli_warn("usage: amps serve [-c FILE]");
		return (EXIT_USAGE);
	}

	memset(&sv, 0, sizeof sv);
	sv.lock_fd = -1;
	if ((rc = cli_load_config(conf, &sv.cfg)) != 0)
		return (rc);

	/* Signals are blocked except while serve sleeps in pselect. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &sv.oldmask);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* What lighttpd spawned comes to serve if lighttpd dies. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	sv.exe_dir = exe_folder();
	if (drop_root(sv.cfg) != 0 ||
	    (sv.template = find_template(sv.exe_dir)) == NULL ||
	    find_programs(&sv) != 0)
		rc = 1;
	else if ((rc = prepare(&sv)) == 0)
		rc = run(&sv);
	serve_free(&sv);
	return (rc);
}
