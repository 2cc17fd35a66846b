#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "crypto.h"
#include "log.h"
#include "request.h"
#include "response.h"
#include "site.h"
#include "xmalloc.h"

/* Bodies smaller than this are not worth a gzip header. */
#define GZIP_MIN	1024
/* A cache file is removed once older than CACHE_MAX_AGE seconds, or, once
 * older than CACHE_GRACE, when it belongs to another generation. */
#define CACHE_MAX_AGE	600
#define CACHE_GRACE	30

static char	*cache_dir;
static int	 cache_sendfile;

void
response_init(struct response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->content_type = "application/json";
	resp->capture = -1;
}

static void
end_capture(struct response *resp, int keep)
{
	if (resp->capture == -1)
		return;
	close(resp->capture);
	resp->capture = -1;
	if (keep && rename(resp->capture_tmp, resp->capture_path) != 0)
		keep = 0;
	if (!keep)
		unlink(resp->capture_tmp);
	free(resp->capture_tmp);
	free(resp->capture_path);
	resp->capture_tmp = resp->capture_path = NULL;
}

static void
end_zlib(struct response *resp)
{
	if (resp->z != NULL) {
		deflateEnd(resp->z);
		free(resp->z);
		resp->z = NULL;
	}
}

void
response_free(struct response *resp)
{
	end_capture(resp, 0);
	end_zlib(resp);
	buf_free(&resp->headers);
	buf_free(&resp->body);
}

void
response_header(struct response *resp, const char *name, const char *fmt,
    ...)
{
	va_list	 ap;
	char	*value, *p;

	va_start(ap, fmt);
	xvasprintf(&value, fmt, ap);
	va_end(ap);
	/* A header value never carries a line break (response splitting). */
	for (p = value; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	}
	buf_addf(&resp->headers, "%s: %s\r\n", name, value);
	free(value);
}

void
response_json(struct response *resp, int status, json_object *j)
{
	resp->status = status;
	resp->content_type = "application/json";
	buf_reset(&resp->body);
	buf_adds(&resp->body, json_object_to_json_string_ext(j,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_addc(&resp->body, '\n');
}

void
response_error(struct response *resp, int status, const char *fmt, ...)
{
	json_object	*j;
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	j = json_object_new_object();
	json_object_object_add(j, "error", json_object_new_string(msg));
	response_json(resp, status, j);
	json_object_put(j);
	free(msg);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return ("OK");
	case 201:
		return ("Created");
	case 204:
		return ("No Content");
	case 304:
		return ("Not Modified");
	case 400:
		return ("Bad Request");
	case 401:
		return ("Unauthorized");
	case 403:
		return ("Forbidden");
	case 404:
		return ("Not Found");
	case 405:
		return ("Method Not Allowed");
	case 409:
		return ("Conflict");
	case 413:
		return ("Payload Too Large");
	case 503:
		return ("Service Unavailable");
	default:
		return (status >= 500 ? "Internal Server Error" : "Error");
	}
}

/* RFC 7232: a strong ETag from the catalogue's generation and the
 * representation (filters, credential), hashed so it stays short. */
int
response_etag(struct response *resp, const struct request *r,
    int64_t generation, const char *variant)
{
	char		 hash[CRYPTO_SHA256_HEXLEN + 1], *etag;
	const char	*inm;
	int		 match = 0;

	crypto_sha256_hex(variant != NULL ? variant : "",
	    variant != NULL ? strlen(variant) : 0, hash);
	hash[16] = '\0';
	/* The gzip body is another representation: another tag. */
	etag = xprintf("\"g%lld-%s%s\"", (long long)generation, hash,
	    resp->gzip_ok ? "-gz" : "");
	response_header(resp, "ETag", "%s", etag);
	response_header(resp, "Cache-Control", "no-cache");
	/* RFC 9110 15.4.5: a 304 carries the Vary of its 200. */
	response_header(resp, "Vary", "Accept-Encoding");
	inm = request_header(r, "If-None-Match");
	if (inm != NULL && (strstr(inm, etag) != NULL ||
	    strcmp(inm, "*") == 0))
		match = 1;
	free(etag);
	if (match)
		resp->status = 304;
	return (match);
}

static int
send_bytes(struct response *resp, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 off;
	ssize_t		 n;

	if (resp->failed || len == 0)
		return (resp->failed ? -1 : 0);
	if (resp->capture != -1 && resp->started) {
		/* The cache copy: a short write drops it, not the answer. */
		for (off = 0; off < len; off += (size_t)n) {
			n = write(resp->capture, p + off, len - off);
			if (n <= 0) {
				end_capture(resp, 0);
				break;
			}
		}
	}
	if (resp->sink(data, len, resp->sink_arg) != 0) {
		resp->failed = 1;
		return (-1);
	}
	resp->bytes += len;
	return (0);
}

static int
send_head(struct response *resp, long long length)
{
	struct buf	h = BUF_INIT;
	int		rc;

	buf_addf(&h, "Status: %d %s\r\n", resp->status, reason(resp->status));
	if (resp->status != 304 && resp->status != 204)
		buf_addf(&h, "Content-Type: %s\r\n", resp->content_type);
	if (length >= 0)
		buf_addf(&h, "Content-Length: %lld\r\n", length);
	if (resp->headers.len > 0)
		buf_add(&h, resp->headers.data, resp->headers.len);
	buf_adds(&h, "\r\n");
	rc = send_bytes(resp, h.data, h.len);
	buf_free(&h);
	resp->bytes = 0;
	resp->started = 1;
	return (rc);
}

static int
start_zlib(struct response *resp)
{
	z_stream	*z;

	z = xcalloc(1, sizeof *z);
	/* windowBits 15 + 16: a gzip wrapper (RFC 1952), not zlib's. */
	if (deflateInit2(z, 6, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return (-1);
	}
	resp->z = z;
	response_header(resp, "Content-Encoding", "gzip");
	return (0);
}

/* Feeds data through deflate to the sink; flush Z_FINISH at the end. */
static int
deflate_out(struct response *resp, const void *data, size_t len, int flush)
{
	z_stream	*z = resp->z;
	unsigned char	 out[16384];
	int		 rc;

	z->next_in = (Bytef *)(uintptr_t)data;
	z->avail_in = (uInt)len;
	do {
		z->next_out = out;
		z->avail_out = sizeof out;
		rc = deflate(z, flush);
		if (rc == Z_STREAM_ERROR)
			return (-1);
		if (send_bytes(resp, out, sizeof out - z->avail_out) != 0)
			return (-1);
	} while (z->avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
	return (0);
}

int
response_begin(struct response *resp, const char *content_type,
    int compress)
{
	resp->content_type = content_type;
	if (strstr(resp->headers.data != NULL ? resp->headers.data : "",
	    "Vary:") == NULL)
		response_header(resp, "Vary", "Accept-Encoding");
	if (compress && resp->gzip_ok && resp->head)
		response_header(resp, "Content-Encoding", "gzip");
	else if (compress && resp->gzip_ok && start_zlib(resp) != 0)
		return (-1);
	return (send_head(resp, -1));
}

int
response_write(struct response *resp, const void *data, size_t len)
{
	if (resp->head || len == 0)
		return (resp->failed ? -1 : 0);
	if (resp->z != NULL)
		return (deflate_out(resp, data, len, Z_NO_FLUSH));
	return (send_bytes(resp, data, len));
}

int
response_flush(struct response *resp)
{
	if (resp->failed)
		return (-1);
	if (resp->flush != NULL && resp->flush(resp->sink_arg) != 0) {
		resp->failed = 1;
		return (-1);
	}
	return (0);
}

int
response_printf(struct response *resp, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n, rc;

	va_start(ap, fmt);
	n = xvasprintf(&s, fmt, ap);
	va_end(ap);
	rc = response_write(resp, s, (size_t)n);
	free(s);
	return (rc);
}

static int
compressible(const char *type)
{
	return (strncmp(type, "application/json", 16) == 0 ||
	    strncmp(type, "text/", 5) == 0 ||
	    strstr(type, "xml") != NULL || strstr(type, "mpegurl") != NULL);
}

int
response_finish(struct response *resp)
{
	int	rc = 0;

	if (resp->started) {
		if (resp->z != NULL)
			rc = deflate_out(resp, NULL, 0, Z_FINISH);
		end_zlib(resp);
		/* Only a whole answer goes into the cache. */
		end_capture(resp, rc == 0 && !resp->failed);
		return (rc);
	}
	if (resp->status == 304 || resp->status == 204) {
		buf_reset(&resp->body);
		return (send_head(resp, -1));
	}
	if (resp->gzip_ok && resp->body.len >= GZIP_MIN &&
	    compressible(resp->content_type)) {
		/* Compressed bodies are streamed: their length is not known
		 * up front. */
		response_header(resp, "Vary", "Accept-Encoding");
		if (resp->head) {
			response_header(resp, "Content-Encoding", "gzip");
			return (send_head(resp, -1));
		}
		if (start_zlib(resp) != 0 || send_head(resp, -1) != 0)
			return (-1);
		rc = deflate_out(resp, resp->body.data, resp->body.len,
		    Z_FINISH);
		end_zlib(resp);
		return (rc);
	}
	if (send_head(resp, (long long)resp->body.len) != 0)
		return (-1);
	if (!resp->head)
		rc = send_bytes(resp, resp->body.data, resp->body.len);
	return (rc);
}

void
response_cache_init(const char *dir, int sendfile)
{
	free(cache_dir);
	cache_dir = NULL;
	if (dir == NULL)
		return;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		log_warn("cache", "%s: %s; answers are not cached", dir,
		    strerror(errno));
		return;
	}
	cache_dir = xstrdup(dir);
	cache_sendfile = sendfile;
}

/* Removes entries of other generations and old ones.  Runs when a new
 * entry is written, so at most once per miss. */
static void
cache_prune(int64_t generation)
{
	DIR		*d;
	struct dirent	*e;
	struct stat	 st;
	char		*path, prefix[32];
	time_t		 now = time(NULL);

	if ((d = opendir(cache_dir)) == NULL)
		return;
	snprintf(prefix, sizeof prefix, "g%lld-", (long long)generation);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != 'g')
			continue;
		path = xprintf("%s/%s", cache_dir, e->d_name);
		/* Another generation's file may just have been named in an
		 * X-Sendfile that the web server has not opened yet: it gets
		 * a grace period. */
		if (stat(path, &st) == 0 &&
		    (now - st.st_mtime > CACHE_MAX_AGE ||
		    (strncmp(e->d_name, prefix, strlen(prefix)) != 0 &&
		    now - st.st_mtime > CACHE_GRACE)))
			unlink(path);
		free(path);
	}
	closedir(d);
}

/* Sends a cached file: the web server sends it (X-Sendfile), or the bytes
 * are copied to the sink. */
static int
cache_send(struct response *resp, const char *path, int fd, off_t size)
{
	char	chunk[65536];
	ssize_t	n;
	int	rc = 0;

	if (cache_sendfile && !resp->head) {
		response_header(resp, "X-Sendfile", "%s", path);
		return (send_head(resp, -1));
	}
	if (send_head(resp, (long long)size) != 0)
		return (-1);
	if (resp->head)
		return (0);
	while ((n = read(fd, chunk, sizeof chunk)) > 0) {
		if ((rc = send_bytes(resp, chunk, (size_t)n)) != 0)
			break;
	}
	return (rc);
}

/* Starts a streamed, cacheable body: if the cache holds it, sends it and
 * returns 1; else sends the headers, captures what follows into the cache
 * and returns 0; -1 if the client is gone.  Only through
 * response_begin_cacheable, whose ETag step adds Vary. */
static int
response_begin_cached(struct response *resp, int64_t generation,
    const char *key, const char *content_type)
{
	struct stat	 st;
	char		 hash[CRYPTO_SHA256_HEXLEN + 1], *path, *tmp;
	int		 gz, fd, rc;

	gz = resp->gzip_ok && !resp->head;
	if (cache_dir == NULL || generation < 0)
		return (response_begin(resp, content_type, 1));
	crypto_sha256_hex(key, strlen(key), hash);
	path = xprintf("%s/g%lld-%s%s", cache_dir, (long long)generation,
	    hash, gz ? ".gz" : "");
	resp->content_type = content_type;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd != -1 && fstat(fd, &st) == 0 &&
	    time(NULL) - st.st_mtime <= CACHE_MAX_AGE) {
		if (gz)
			response_header(resp, "Content-Encoding", "gzip");
		rc = cache_send(resp, path, fd, st.st_size);
		close(fd);
		free(path);
		return (rc == 0 ? 1 : -1);
	}
	if (fd != -1)
		close(fd);

	/* A miss: write the answer and a copy.  Concurrent misses each
	 * write their own temporary file; the last rename wins. */
	cache_prune(generation);
	tmp = xprintf("%s.%ld.%lx.tmp", path, (long)getpid(),
	    (unsigned long)(uintptr_t)resp);
	/* HEAD writes no body: nothing to keep. */
	resp->capture = resp->head ? -1 : open(tmp, O_WRONLY | O_CREAT |
	    O_EXCL | O_CLOEXEC, 0640);
	if (resp->capture == -1) {
		free(tmp);
		free(path);
	} else {
		resp->capture_tmp = tmp;
		resp->capture_path = path;
	}
	if (gz && start_zlib(resp) != 0)
		return (-1);
	return (send_head(resp, -1) == 0 ? 0 : -1);
}

int
response_begin_cacheable(struct response *resp, const struct request *r,
    int64_t generation, const char *key, const char *content_type)
{
	char	*full;
	int	 rc;

	/* The database's identity first: one made again from scratch
	 * starts its generation over. */
	full = xprintf("%s;%s", r->site != NULL && r->site->store_id != NULL ?
	    r->site->store_id : "", key);
	if (response_etag(resp, r, generation, full))
		rc = 1;
	else if (r->head) {
		response_begin(resp, content_type, 1);
		rc = 1;
	} else
		rc = response_begin_cached(resp, generation, full,
		    content_type);
	free(full);
	return (rc);
}
