/*
 * libFuzzer harness: etcd's answers as the client parses them (control/fleet/etcd_parse.c), on
 * arbitrary bytes. The first byte picks the HTTP status and the size of the pieces the rest is
 * fed in (as curl's write callback would), the rest is a watch stream; every line is also parsed
 * as a unary answer (range, watch message), and the whole input as base64.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 400, 401, 404, 429, 503, 502, 0};

static void check_kv(const struct keel_etcd_kv *kv)
{
	/* The key is text without NUL; the value has a NUL after value_len bytes. */
	if (!kv->key || !kv->value || kv->value[kv->value_len] != '\0' || strlen(kv->key) > 1 << 20)
		abort();
}

static int line(void *arg, const char *s, size_t len)
{
	long status = *(const long *)arg;
	struct keel_etcd_range r;
	struct etcd_watch_msg m;
	char err[160];
	json_t *root;
	size_t i;
	int rc;

	rc = etcd_parse_answer(s, len, status, &root, err, sizeof(err));
	if (rc) {
		if (root || !memchr(err, '\0', sizeof(err)) || !*err || rc >= 0)
			abort();
		return 0;
	}
	if (!json_is_object(root))
		abort();
	if (!etcd_parse_range(root, &r)) {
		for (i = 0; i < r.n; i++)
			check_kv(&r.kvs[i]);
		keel_etcd_range_free(&r);
	}
	if (!etcd_parse_watch(root, &m)) {
		for (i = 0; i < m.n_events; i++)
			check_kv(&m.events[i].kv);
		if (strlen(m.reason) >= sizeof(m.reason))
			abort();
		etcd_watch_msg_free(&m);
	} else if (m.events || m.n_events) {
		abort();
	}
	json_decref(root);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct etcd_lines lines = {.max = 2048};
	size_t piece, i, n;
	long status;
	char *buf, *out;

	if (size < 1)
		return 0;
	status = statuses[data[0] & 7];
	piece = (size_t)(data[0] >> 3) + 1;
	/* A copy of exactly the input: ASan catches any read past it. */
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		abort();
	memcpy(buf, data + 1, size - 1);
	for (i = 0; i < size - 1; i += piece) {
		int rc = etcd_lines_feed(&lines, buf + i, size - 1 - i < piece ? size - 1 - i : piece, line, &status);

		if (rc == -E2BIG)
			break;
		if (rc)
			abort();
		if (lines.len > lines.max)
			abort();
	}
	if (lines.len)
		line(&status, lines.buf, lines.len); /* the last answer may have no newline */
	etcd_lines_free(&lines);

	if (!etcd_b64_decode(buf, size - 1, &out, &n)) {
		char *back = etcd_b64_encode(out, n);

		/* Canonical base64 decodes and encodes back to itself. */
		if (!back || n > size || (memcmp(back, buf, size - 1) && memchr(buf, '=', size - 1) == NULL))
			abort();
		free(back);
		free(out);
	}
	free(buf);
	return 0;
}
