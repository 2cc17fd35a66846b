/* The client side of streamd's control socket: a unix stream socket
 * speaking newline-delimited JSON, one request object per line and one
 * reply object per line ({"ok": true, ...} or {"ok": false, "error":
 * "..."}).  The protocol is documented in streamd(8).  Used by the
 * responder and the amps CLI. */
#ifndef AMPS_CTL_H
#define AMPS_CTL_H

#include <json-c/json.h>

#include "buf.h"

/* The longest line either side accepts. */
#define CTL_LINE_MAX	65536

struct ctl;

/* Connects to the socket at path (a path longer than sun_path is an
 * error, not truncated), waiting at most timeout_ms.  Returns 0 and *out
 * (caller frees with ctl_close), or -1 with *cause. */
int		 ctl_connect(const char *path, int timeout_ms, struct ctl **out,
		    char **cause);
void		 ctl_close(struct ctl *c);
/* Sends req (not consumed) as one line and reads one reply line within
 * timeout_ms (-1 = no limit).  Returns 0 with *reply (caller puts), which may say
 * "ok": false; or -1 with *cause when the socket failed, timed out or
 * answered something that is not a JSON object. */
int		 ctl_request(struct ctl *c, json_object *req,
		    json_object **reply, int timeout_ms, char **cause);
/* Connects, sends one request and closes: for the CLI's one-shot
 * commands. */
int		 ctl_call(const char *path, json_object *req,
		    json_object **reply, int timeout_ms, char **cause);
/* Whether a reply says no: 0 for {"ok": true}; otherwise 1 with *cause
 * (caller frees) holding its "error", or what says so when it has none. */
int		 ctl_refused(json_object *reply, const char *what,
		    char **cause);
/* The socket (non-blocking: wait with poll), for a caller that goes on
 * reading raw bytes after an "attach" reply.  Bytes that arrived after
 * the reply line are in ctl_pending(). */
int		 ctl_fd(const struct ctl *c);
struct buf	*ctl_pending(struct ctl *c);

/* Line framing shared with the server: removes the first complete line
 * from b (which the caller fills) and returns it without its newline as a
 * NUL-terminated string (caller frees); NULL when no line is complete
 * yet.  *too_long is
 * set when b holds more than CTL_LINE_MAX without a newline. */
char		*ctl_take_line(struct buf *b, int *too_long);

/* Protocol parsing shared with the server: line (len bytes, without its
 * newline) must be exactly one JSON object (RFC 8259: no single quotes,
 * no NUL, nothing after it but blanks).  Returns it (caller puts), or
 * NULL with *cause naming what ("control socket reply", "request"). */
json_object	*ctl_parse_line(const char *line, size_t len, const char *what,
		    char **cause);

#endif
