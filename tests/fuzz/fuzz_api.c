/* libFuzzer harness: the management API's request parsing (route, query, content type, bounded body, JSON edits) on arbitrary requests. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_request.h"
#include "keel_api.h"

/*
 * Input: one byte choosing the method, then four '\n'-separated fields (path,
 * query "k=v&k", Content-Type, body); the body's bytes are fed in chunks
 * whose sizes come from the method byte, as a socket would hand them over.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH" };

/* The next field up to '\n' (NUL-terminated copy, caller frees), advancing *p. */
static char *field(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += n + (nl != NULL);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	char *path, *query, *ctype, why[256];
	struct keel_api_query q = { 0 };
	struct keel_api_backend_body bb;
	struct keel_api_addr check;
	struct keel_api_target t;
	struct api_body b;
	const char *allow;
	size_t chunk, limit;
	json_t *j;
	int rc;

	if (size < 1)
		return 0;
	path = field(&p, end);
	{
		/* The access log's form of the path: printable ASCII only, always terminated. */
		char lp[160];

		api_request_log_path(path, lp, sizeof(lp));
		for (const char *s = lp; *s; s++)
			if (*s < 0x20 || *s > 0x7e)
				abort();
	}
	query = field(&p, end);
	ctype = field(&p, end);

	rc = keel_api_match(methods[data[0] % 6], path, &t, &allow, why, sizeof(why));
	if (rc == -EOPNOTSUPP && !allow)
		abort();
	if (!rc) {
		/* A route names a real route, and its parameters are canonical. */
		if (t.route <= KEEL_API_ROUTE_NONE || t.route >= KEEL_API_ROUTE_COUNT || allow)
			abort();
		if (t.addr.family &&
		    (keel_api_addr_parse(t.addr.text, &check) || strcmp(check.text, t.addr.text)))
			abort();
	}
	for (char *save = NULL, *kv = strtok_r(query, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		if (keel_api_query_set(&q, kv, eq, why, sizeof(why)))
			break;
	}
	(void)api_request_content(ctype);
	/* The same field as an If-Match header: a generation the state file can hold, or any. */
	{
		uint64_t gen;

		if (!api_request_if_match(ctype, &gen, why, sizeof(why)) && gen != API_IF_ANY &&
		    gen > (uint64_t)INT64_MAX)
			abort();
	}

	limit = rc ? KEEL_API_BODY_EDIT_MAX : keel_api_route_body_limit(t.route);
	chunk = 1 + (data[0] >> 3);
	if (!api_request_body_init(&b, limit, (long long)(end - p))) {
		for (const uint8_t *c = p; c < end; c += chunk) {
			size_t n = (size_t)(end - c) < chunk ? (size_t)(end - c) : chunk;

			if (api_request_body_append(&b, (const char *)c, n))
				break;
		}
		if (b.len > limit || (b.buf && (b.cap > limit + 1 || b.buf[b.len])))
			abort();
		if (!api_request_json(b.buf, b.len, &j, why, sizeof(why))) {
			if (!keel_api_backend_body_decode(j, data[0] & 1, &bb, why, sizeof(why)) &&
			    !keel_api_weight_ok(bb.weight))
				abort();
			json_decref(j);
		}
		api_request_body_free(&b);
	}
	free(path);
	free(query);
	free(ctype);
	return 0;
}
