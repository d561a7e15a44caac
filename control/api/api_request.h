/* Management API requests, free of I/O and of libmicrohttpd: the access log's path, If-Match, content types, bounded bodies. */
#ifndef KEEL_CONTROL_API_REQUEST_H
#define KEEL_CONTROL_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "keel_api.h"

/*
 * Everything here is pure so that the unit tests and the libFuzzer harness
 * (tests/fuzz/fuzz_api.c) reach it without a socket. api.c feeds it what
 * libmicrohttpd hands over: the raw path (still %-encoded: api.c turns MHD's
 * unescaping off so that a %2F cannot create a path segment; keel_api_match
 * routes it), headers and the body as it arrives.
 */

/* Routes, path parameters, query and bodies are the contract's (api/keel_api.h). */

/*
 * The raw path as the access log shows it: %XX of a printable ASCII character
 * other than '%' decoded, so that grep 2001:db8::1 finds
 * /v1/vips/web/backends/2001%3Adb8%3A%3A1/weight; anything else (a control
 * character, a byte >= 0x80, a bad escape) stays or becomes %XX, so the line
 * holds only printable ASCII. log.c quotes and escapes spaces and quotes.
 * Cut to n - 1 bytes.
 */
void api_request_log_path(const char *raw, char *out, size_t n);

/*
 * If-Match of a change (docs/api.md "Preconditions"): one entity tag, the
 * ETag of GET /v1/config ("\"42\""; a bare 42 is taken too), or "*" (any:
 * no precondition). Weak tags (W/) and lists are refused: the configuration's
 * generation is one strong validator. 0 with *gen (API_IF_ANY for "*"), or
 * -EINVAL with why.
 */
#define API_IF_ANY UINT64_MAX
int api_request_if_match(const char *value, uint64_t *gen, char *why, size_t whylen);

enum api_content {
	API_CONTENT_NONE = 0, /* no Content-Type */
	API_CONTENT_JSON,
	API_CONTENT_YAML,
	API_CONTENT_OTHER,
};

/* application/json, application/yaml (also x-yaml, text/yaml), parameters ignored. */
enum api_content api_request_content(const char *content_type);

/*
 * A request body, bounded before it is buffered: the limit is checked against
 * Content-Length before any byte is read, and against each chunk before it
 * is copied. Memory grows to at most limit + 1 (a NUL for the parsers).
 */
struct api_body {
	char *buf;     /* NULL until the first byte; NUL-terminated after */
	size_t len, cap;
	size_t limit;  /* most bytes taken */
	size_t hint;   /* Content-Length + 1 when known: the first allocation */
};

/* content_length < 0: unknown (chunked). 0, or -EFBIG when it is over limit. */
int api_request_body_init(struct api_body *b, size_t limit, long long content_length);
/* 0, -EFBIG (nothing copied: the request is over its limit), -ENOMEM. */
int api_request_body_append(struct api_body *b, const char *data, size_t n);
void api_request_body_free(struct api_body *b);

/*
 * A JSON object body, duplicate keys refused (as in YAML). 0 or -EINVAL with
 * "line:column: reason" in why.
 */
int api_request_json(const char *buf, size_t len, json_t **out, char *why, size_t whylen);

#endif
