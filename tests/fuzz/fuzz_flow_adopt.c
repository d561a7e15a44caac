/* libFuzzer harness: flow_table_adopt over whatever a flow-table file may hold (a killed or hostile writer), then use the table. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow_table.h"
#include "hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 64 /* 16 buckets: small enough that inputs cover every slot */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[8192] __attribute__((aligned(64)));
	struct flow_table_params p = { .capacity = CAP, .secret = 0x5eed, .timeout_ms = { 900000, 10000, 300000 } };
	size_t msz = flow_table_mem_size(CAP);
	struct flow_table *ft;
	uint32_t bad;

	if (msz > sizeof(mem))
		abort();
	/* The table's area as the file left it: the input, repeated; the layout init would write first. */
	ft = flow_table_init(mem, msz, &p);
	if (!ft || size == 0)
		return 0;
	for (size_t off = 0; off < msz; off++)
		mem[off] ^= data[off % size];
	ft = flow_table_adopt(mem, msz, &p, &bad);
	if (!ft)
		return 0; /* refused: the dataplane starts empty */
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
