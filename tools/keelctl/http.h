/* A minimal HTTP/1.1 client over a Unix socket: one request per connection, bounded answers. */
#ifndef KEELCTL_HTTP_H
#define KEELCTL_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEADERS (64u << 10)
#define HTTP_MAX_BODY (32u << 20) /* a config of 1 MiB, as JSON, with room to spare */

struct http_response {
	int status;
	char *body; /* NUL-terminated, malloc'd */
	size_t len;
	char etag[32]; /* the ETag header ("\"42\""), "" when none */
};

/*
 * Send one request (with If-Match: if_match unless NULL) and read the whole answer within timeout_ms. Returns 0, or
 * -errno: the connect errors as they are (-ENOENT, -ECONNREFUSED, -EACCES),
 * -ETIMEDOUT, -EMSGSIZE (answer over the bounds), -EPROTO (not HTTP we read).
 */
int http_request(const char *socket_path, const char *method, const char *path,
		 const char *content_type, const char *if_match, const char *body, size_t len,
		 int timeout_ms, struct http_response *rsp);
void http_response_free(struct http_response *rsp);

/* Decode a chunked body in place: 1 complete (*len set), 0 incomplete, -1 malformed. */
int http_dechunk(char *buf, size_t *len);

#endif
