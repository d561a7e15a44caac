/* libFuzzer harness: flow_table_adopt_buckets over whatever a flow-table file's buckets may hold (a killed or hostile writer), then use the table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64 /* 16 buckets: small enough that inputs cover every slot */

/* As dataplane/flow_store.c: ids no snapshot can hold are not adopted. */
static int keep(const struct flow_value *v, void *arg)
{
	(void)arg;
	return v->backend < 16384 && v->vip < 1024;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The state is private (as in the dataplane); only the buckets come from the "file". */
	static struct flow_table_state st;
	static uint8_t buckets[8192] __attribute__((aligned(64)));
	struct flow_table_params p = { .capacity = CAP, .secret = 0x5eed, .timeout_ms = { 900000, 10000, 300000 } };
	size_t bsz = flow_table_buckets_size(CAP);
	struct flow_table_stats s;
	struct flow_table *ft;
	uint32_t dropped;

	if (bsz == 0 || bsz > sizeof(buckets))
		abort();
	if (size == 0)
		return 0;
	/* The buckets as the file left them: the input, repeated. */
	for (size_t off = 0; off < bsz; off++)
		buckets[off] = data[off % size];
	ft = flow_table_adopt_buckets(&st, buckets, bsz, &p, keep, NULL, &dropped);
	if (!ft)
		abort(); /* good parameters: bad slots are dropped, the table is always adopted */
	flow_table_get_stats(ft, &s);
	if (s.occupancy + dropped > CAP)
		abort();
	/* Adopted: every operation must stay in bounds and consistent. */
	for (uint32_t i = 0; i < 2 * CAP; i++) {
		struct keel_flow_key k = { .family = 4, .proto = 6, .sport = (uint16_t)i, .dport = 80 };
		const struct keel_flow_key *keys[1] = { &k };
		struct flow_value v = { .backend = (uint16_t)i, .vip = 1 }, *vals[1];
		uint8_t fl[1] = { (uint8_t)(i & 0x05) };
		uint64_t h[1];
		bool created;

		k.src[3] = (uint8_t)(i * 7);
		flow_table_lookup_burst(ft, keys, fl, 1, 1000 + i, vals, h);
		if (!vals[0])
			flow_table_insert(ft, &k, h[0], &v, fl[0], 1000 + i, &created);
		if (i % 5 == 0)
			flow_table_remove(ft, &k);
	}
	return 0;
}
