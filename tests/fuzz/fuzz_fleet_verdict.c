/*
 * libFuzzer harness: the fleet's health fold (control/plan/fleet_verdict.c) on documents of any
 * bytes, as other hosts (or anyone with write access to the prefix) could leave them in the store.
 * The input is cut at NUL bytes into up to 8 documents; the first byte of each picks its lease
 * (0: none). Checks: no crash, down <= checking <= number of documents (one vote per host, however
 * often a document lists a backend), and the fold of the
 * documents in reverse order is the same (every host folds the same revision the same way).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_verdict_doc d[8], r[8];
	size_t n = 0, start = 0;
	json_t *a, *b, *v, *c;
	const char *vip, *addr;

	for (size_t i = 0; i <= size && n < 8; i++) {
		if (i < size && data[i])
			continue;
		if (i > start)
			d[n++] = (struct fleet_verdict_doc){ .host = "h", .lease = data[start] & 1,
							     .value = (const char *)data + start + 1,
							     .len = i - start - 1 };
		start = i + 1;
	}
	for (size_t i = 0; i < n; i++)
		r[i] = d[n - 1 - i];
	a = fleet_verdict_fold(d, n, NULL);
	b = fleet_verdict_fold(r, n, NULL);
	if (!a || !b || !json_equal(a, b))
		abort();
	json_object_foreach(a, vip, v)
		json_object_foreach(v, addr, c) {
			uint32_t down, checking;

			fleet_verdict_counts(a, vip, addr, &down, &checking);
			if (down > checking || checking > n) /* one host, one vote */
				abort();
			(void)fleet_verdict_routable(a, vip, addr);
		}
	json_decref(a);
	json_decref(b);
	return 0;
}
