/* The response a handler writes.  Small answers (JSON) are buffered and
 * sent with a Content-Length; large ones (playlists, guides) are streamed
 * with response_begin() then response_write(), so memory stays flat
 * whatever the catalogue's size.  gzip (RFC 1952, through zlib) is applied
 * when the client accepts it; ETag and 304 come from the store's
 * generation. */
#ifndef AMPS_CGI_RESPONSE_H
#define AMPS_CGI_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "buf.h"

struct request;

/* Where the bytes go: FCGX_PutStr or stdout.  Returns 0, or -1 when the
 * client is gone. */
typedef int (*response_sink_cb)(const void *data, size_t len, void *arg);
/* Pushes what the sink holds to the client now.  Returns 0 or -1. */
typedef int (*response_flush_cb)(void *arg);

struct response {
	int		 status;
	const char	*content_type;
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	struct buf	 body;		/* buffered body */

	/* Set up by route_process. */
	response_sink_cb sink;
	response_flush_cb flush;
	void		*sink_arg;
	int		 head;		/* HEAD: no body is sent */
	int		 gzip_ok;	/* the client accepts gzip */

	/* Streaming state. */
	int		 started;	/* headers sent */
	int		 failed;	/* the sink failed: stop writing */
	void		*z;		/* zlib stream while gzipping */
	size_t		 bytes;		/* body bytes handed to the sink */
	int		 capture;	/* fd of the cache file being written,
					   or -1 */
	char		*capture_tmp;	/* its temporary and final names */
	char		*capture_path;
};

void	 response_init(struct response *resp);
void	 response_free(struct response *resp);
/* Adds a header line (no CR or LF allowed in value). */
void	 response_header(struct response *resp, const char *name,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sets a buffered JSON body (application/json). */
void	 response_json(struct response *resp, int status, json_object *j);
/* {"error": message} with status. */
void	 response_error(struct response *resp, int status, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));

/* Sets ETag "g<generation>-<variant>" and Cache-Control: no-cache; if the
 * request's If-None-Match matches, sets 304 and returns 1 (the handler
 * writes nothing more), else 0.  variant distinguishes representations of
 * one generation (filters, token, region): any short string. */
int	 response_etag(struct response *resp, const struct request *r,
	    int64_t generation, const char *variant);

/* Starts a streamed body: sends the status line and headers now (no
 * Content-Length; gzip if accepted and compress is set).  Returns 0 or
 * -1 if the client is gone. */
int	 response_begin(struct response *resp, const char *content_type,
	    int compress);
/* Writes body bytes (compressed when gzip is on).  Returns 0 or -1. */
int	 response_write(struct response *resp, const void *data, size_t len);
int	 response_printf(struct response *resp, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Sends what is written so far to the client now (live streams).
 * Returns 0 or -1 if the client is gone. */
int	 response_flush(struct response *resp);

/* The response cache (cgit cache.c): an answer that depends only on the
 * catalogue's generation and a key (route, filters, credential, gzip) is
 * written once to a file under dir and then served from it; with
 * sendfile set (lighttpd's X-Sendfile), the web server sends the file
 * itself.  Call once at start; dir NULL disables the cache. */
void	 response_cache_init(const char *dir, int sendfile);

/* The start of every cacheable GET (playlists, guides, lists), in one
 * place: the ETag (304 when it matches), HEAD (headers only), then the
 * cache.  key names the representation (route and filters).  Returns 1
 * when the answer is complete (the handler returns 0 at once), 0 when the
 * handler must now write the body (the headers are sent), -1 when the
 * client is gone. */
int	 response_begin_cacheable(struct response *resp,
	    const struct request *r, int64_t generation, const char *key,
	    const char *content_type);

/* Sends a buffered response (status, headers, body; gzip when accepted
 * and the body is large enough), or finishes a streamed one (flushes the
 * gzip trailer).  Called once by the caller of route_process. */
int	 response_finish(struct response *resp);

#endif
