/* One VIP's Maglev table from its snapshot spec, and the key that names a table by its inputs. */
#include "vip_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "snapshot.h"

#define MAGLEV_KEY_SEED 0x6d61676c65764b59ULL /* "maglevKY" */

static int cmp_key(const void *a, const void *b)
{
	return memcmp(((const struct maglev_backend *)a)->key, ((const struct maglev_backend *)b)->key,
		      sizeof(((const struct maglev_backend *)a)->key));
}

uint32_t keel_vip_table_inputs(const struct keel_vip_spec *vs, struct maglev_backend *mb)
{
	uint32_t j, n = 0;

	for (j = 0; j < vs->n_backends; j++) {
		const struct keel_backend_spec *bs = &vs->backends[j];

		if (bs->state != KEEL_BACKEND_ACTIVE || !bs->weight)
			continue;
		memcpy(mb[n].key, bs->addr, 16);
		mb[n].key[16] = bs->family;
		mb[n].id = bs->id;
		mb[n].weight = bs->weight;
		n++;
	}
	/* The builder sorts by key too: the same order names the same table. */
	qsort(mb, n, sizeof(*mb), cmp_key);
	return n;
}

uint64_t maglev_key(uint32_t m, uint64_t seed, const struct maglev_backend *mb, uint32_t n)
{
	uint64_t h = keel_hash_step(keel_hash_step(MAGLEV_KEY_SEED, m), seed);
	uint32_t i;

	h = keel_hash_step(h, n);
	for (i = 0; i < n; i++) {
		h = keel_hash_step(h, keel_hash_bytes(mb[i].key, sizeof(mb[i].key), 0));
		h = keel_hash_step(h, ((uint64_t)mb[i].id << 32) | mb[i].weight);
	}
	return keel_mix64(h);
}

int keel_vip_table_fill(uint16_t *table, uint32_t m, const struct maglev_backend *mb, uint32_t n,
			uint64_t seed)
{
	uint32_t j;

	if (n)
		return maglev_build(table, m, mb, n, seed);
	for (j = 0; j < m; j++)
		table[j] = KEEL_BACKEND_NONE;
	return 0;
}

int keel_vip_table_build(uint16_t *table, const struct keel_vip_spec *vs, uint64_t seed)
{
	struct maglev_backend *mb;
	uint32_t n;
	int rc;

	mb = malloc(sizeof(*mb) * (vs->n_backends ? vs->n_backends : 1));
	if (!mb)
		return -ENOMEM;
	n = keel_vip_table_inputs(vs, mb);
	rc = keel_vip_table_fill(table, keel_vip_table_size(vs), mb, n, seed);
	free(mb);
	return rc;
}
