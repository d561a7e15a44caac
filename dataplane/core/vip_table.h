/* One VIP's Maglev table from its snapshot spec: the single builder behind the snapshot, the preview, second chance and the digest. */
#ifndef KEEL_CORE_VIP_TABLE_H
#define KEEL_CORE_VIP_TABLE_H

#include <stdint.h>

#include "maglev.h"
#include "snapshot_build.h"

/*
 * The builder's inputs for vs: its ACTIVE backends of weight > 0 as
 * (key = address + family, id, weight), sorted by key, into mb (room for
 * vs->n_backends). Returns how many.
 */
uint32_t keel_vip_table_inputs(const struct keel_vip_spec *vs, struct maglev_backend *mb);

/*
 * A 64-bit name for a table's content: m, the seed and the sorted inputs.
 * Equal inputs give equal tables (maglev_build is deterministic), so a table
 * may be reused wherever its key is equal (plan/tables.c compares the inputs
 * too, so a collision cannot hand out a wrong table).
 */
uint64_t maglev_key(uint32_t m, uint64_t seed, const struct maglev_backend *mb, uint32_t n);

/* vs's table size: KEEL_MAGLEV_DEFAULT_SIZE for 0. */
static inline uint32_t keel_vip_table_size(const struct keel_vip_spec *vs)
{
	return vs->table_size ? vs->table_size : KEEL_MAGLEV_DEFAULT_SIZE;
}

/* The table of sorted inputs (keel_vip_table_inputs): all KEEL_BACKEND_NONE when n is 0. */
int keel_vip_table_fill(uint16_t *table, uint32_t m, const struct maglev_backend *mb, uint32_t n,
			uint64_t seed);

/*
 * Fill table (keel_vip_table_size(vs) entries) with vs's Maglev table:
 * backend ids, KEEL_BACKEND_NONE everywhere when no backend takes slots.
 * 0, -EINVAL (maglev_build refused: duplicate address, bad size) or -ENOMEM.
 */
int keel_vip_table_build(uint16_t *table, const struct keel_vip_spec *vs, uint64_t seed);

#endif
