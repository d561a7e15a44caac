/* Maglev tables by content: each distinct table is built once and reused by the preview, second chance and the snapshot. */
#ifndef KEEL_CONTROL_TABLES_H
#define KEEL_CONTROL_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "maglev.h"
#include "snapshot_build.h"

/* One built table and what it was built from. Read-only to callers. */
struct vip_table {
	uint64_t key;              /* maglev_key of the inputs */
	uint64_t seed;
	uint32_t m;
	uint32_t n;                /* backends that take slots */
	struct maglev_backend *in; /* the n inputs, sorted by key */
	uint32_t *counts;          /* slots owned by each input */
	uint16_t *slots;           /* m backend ids, KEEL_BACKEND_NONE where empty */
	uint64_t used;             /* sweep epoch of the last use */
	uint64_t serial;           /* unique in its cache for the cache's life: names this very table */
	uint64_t sum[2];           /* checksum sums of slots (keel_snapshot_sum_table) */
	struct vip_table *next;    /* hash chain */
};

struct vip_tables;

/* Progress of a long build: done of total tables, called about once a second. */
typedef void (*vip_tables_progress_fn)(void *arg, uint32_t done, uint32_t total);

/*
 * A cache of built tables. threads bounds the builders of vip_tables_prepare
 * (0: one per online CPU, at most 8). Not thread-safe: keel-control uses it
 * under its edit lock. NULL with errno.
 */
struct vip_tables *vip_tables_new(unsigned int threads);
void vip_tables_free(struct vip_tables *vt);

/*
 * Build every table these VIPs need that is not in the cache yet, on up to
 * `threads` threads; progress (may be NULL) hears from a long build. 0, or a
 * negative errno (the first failure; tables built so far stay cached).
 */
int vip_tables_prepare(struct vip_tables *vt, const struct keel_vip_spec *vips, uint32_t n,
		       uint64_t seed, vip_tables_progress_fn progress, void *arg);

/*
 * vs's table: from the cache when a table of equal inputs (m, seed, sorted
 * active backends with ids and weights) is there, otherwise built now. Valid
 * until the second vip_tables_sweep after its last use. NULL with errno.
 */
const struct vip_table *vip_tables_get(struct vip_tables *vt, const struct keel_vip_spec *vs,
				       uint64_t seed);

/* Slots vs's backend `key` (address + family) owns in t; 0 when it takes none. */
uint32_t vip_table_count(const struct vip_table *t, const uint8_t key[17]);

/*
 * Forget the tables nobody asked for since the previous sweep: keel-control
 * sweeps after each publish, so the running tables and those of the last
 * preview stay.
 */
void vip_tables_sweep(struct vip_tables *vt);

/*
 * Start a new epoch without forgetting anything: the next sweep then keeps
 * only what was asked for since. keel-control calls it before it builds a
 * snapshot, so the sweep after the publish keeps just the running tables
 * (not also the previous ones and the apply's preview of them).
 */
void vip_tables_begin(struct vip_tables *vt);

/*
 * Whether the table that had this key and serial is still in the cache (t
 * is compared, never dereferenced, so it may point at freed memory).
 */
bool vip_tables_live(const struct vip_tables *vt, const struct vip_table *t, uint64_t key,
		     uint64_t serial);

/* Tables built so far (tests, logs). */
uint64_t vip_tables_builds(const struct vip_tables *vt);
/* Tables in the cache and their bytes. */
uint32_t vip_tables_count(const struct vip_tables *vt, uint64_t *bytes);

#endif
