#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "crypto.h"
#include "request.h"
#include "response.h"
#include "xmalloc.h"

/* Bodies smaller than this are not worth a gzip header. */
#define GZIP_MIN	1024

void
response_init(struct response *resp)
{
	memset(resp, 0, sizeof *resp);
	resp->status = 200;
	resp->content_type = "application/json";
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
	etag = xprintf("\"g%lld-%s\"", (long long)generation, hash);
	response_header(resp, "ETag", "%s", etag);
	response_header(resp, "Cache-Control", "no-cache");
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
	if (resp->failed || len == 0)
		return (resp->failed ? -1 : 0);
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
	response_header(resp, "Vary", "Accept-Encoding");
	if (compress && resp->gzip_ok && !resp->head && start_zlib(resp) != 0)
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
