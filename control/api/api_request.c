/* Management API requests: the access log's path, If-Match, content types, bounded bodies (no I/O; routes are api/keel_api_routes.c's). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_request.h"

void api_request_log_path(const char *raw, char *out, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (!n)
		return;
	for (const char *r = raw; *r && o + 1 < n; r++) {
		unsigned char ch = (unsigned char)*r;
		int hi = ch == '%' ? keel_api_hexval(r[1]) : -1, lo = hi < 0 ? -1 : keel_api_hexval(r[2]);
		unsigned char d = lo < 0 ? 0 : (unsigned char)(hi << 4 | lo);

		if (lo >= 0 && d >= 0x20 && d < 0x7f && d != '%') {
			out[o++] = (char)d;
			r += 2;
		} else if (ch > 0x20 && ch < 0x7f) {
			out[o++] = (char)ch; /* a kept escape is copied as written */
		} else if (o + 3 < n) {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			break;
		}
	}
	out[o] = '\0';
}

int api_request_if_match(const char *value, uint64_t *gen, char *why, size_t whylen)
{
	const char *p = value, *end;
	unsigned long long v = 0;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 1 && p[0] == '*') {
		*gen = API_IF_ANY;
		return 0;
	}
	/* "N" as an entity tag is written, or N as a script may send it. */
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	end = p + n;
	if (!n || n > 19)
		goto bad;
	for (const char *d = p; d < end; d++) {
		if (*d < '0' || *d > '9')
			goto bad;
		v = v * 10 + (unsigned long long)(*d - '0');
	}
	/* 19 digits fit in 64 bits; the generation of a state file is at most 2^63-1. */
	if (v > (unsigned long long)INT64_MAX)
		goto bad;
	*gen = v;
	return 0;
bad:
	keel_api_say(why, whylen,
	    "If-Match: expected one entity tag, the configuration's generation as GET /v1/config's "
	    "ETag gives it (\"42\"), or *");
	return -EINVAL;
}

enum api_content api_request_content(const char *ct)
{
	static const struct {
		const char *name;
		enum api_content kind;
	} types[] = {
		{ "application/json", API_CONTENT_JSON },
		{ "application/yaml", API_CONTENT_YAML },
		{ "application/x-yaml", API_CONTENT_YAML },
		{ "text/yaml", API_CONTENT_YAML },
		{ "text/x-yaml", API_CONTENT_YAML },
	};
	size_t n;

	if (!ct)
		return API_CONTENT_NONE;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == n && !strncasecmp(ct, types[i].name, n))
			return types[i].kind;
	return API_CONTENT_OTHER;
}

int api_request_body_init(struct api_body *b, size_t limit, long long content_length)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	if (content_length > (long long)limit)
		return -EFBIG;
	if (content_length > 0)
		b->hint = (size_t)content_length + 1;
	return 0;
}

int api_request_body_append(struct api_body *b, const char *data, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->limit - b->len)
		return -EFBIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap ? b->cap * 2 : (b->hint ? b->hint : 4096);
		if (cap < need)
			cap = need;
		if (cap > b->limit + 1)
			cap = b->limit + 1;
		p = realloc(b->buf, cap);
		if (!p)
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

void api_request_body_free(struct api_body *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

int api_request_json(const char *buf, size_t len, json_t **out, char *why, size_t whylen)
{
	json_error_t err;
	json_t *j;

	j = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		keel_api_say(why, whylen, "malformed JSON: %d:%d: %s", err.line, err.column, err.text);
		return -EINVAL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		keel_api_say(why, whylen, "the body must be a JSON object");
		return -EINVAL;
	}
	*out = j;
	return 0;
}
