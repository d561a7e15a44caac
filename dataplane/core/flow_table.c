/* Per-worker connection table: one-line buckets of 4 fingerprinted slots, two choices, idle timeouts, LRU eviction, new-flow token bucket. */
/*
 * An established flow costs one random cache line per lookup: a bucket is one
 * 64-byte line of 4 slots, and a slot holds everything the table knows of a
 * flow (fingerprint, value, last use, timeout class), so no second line with
 * the 40-byte key is read.
 *
 * Flows are identified by a 64-bit keyed hash of the 5-tuple,
 * keel_hash_key(key, secret), not by the key itself. Two live flows share a
 * fingerprint with probability about n^2 / 2^65 (about 3e-8 for a million
 * flows in one table), and since the secret is per host an outsider cannot
 * craft a colliding tuple. A collision would give the newer flow the older
 * one's stored backend, possibly of another VIP: the pipeline accepts a
 * tracked backend only when it belongs to the packet's VIP and is usable
 * (tracked_usable() in pipeline.c) and re-chooses otherwise, so the worst
 * case is a flow sent to another backend of its own VIP.
 *
 * Each key has two candidate buckets computed from its fingerprint alone: the
 * primary from the low bits, the secondary the primary XOR the bits above 32
 * (never 0), so either can be recomputed from a stored slot. Inserts go to
 * the primary while it has room; a per-bucket overflow count says whether any
 * key of this primary went to its secondary (the role of the overflow counts
 * of folly's F14 tables), so a lookup reads the secondary only then. With
 * both buckets full the oldest expired flow's slot is reused, else one entry
 * moves to its own other bucket (one cuckoo step, ft_displace(), no chains;
 * skipped once the table is 7/8 full, where a storm of new flows would pay
 * the search for nothing), and only then is the least recently used of the 8
 * evicted.
 *
 * Idle timers count ms modulo 2^28 (about 74 hours), and a hit restarts one
 * only every FLOW_TABLE_TOUCH_MS (see flow_table.h), so hit traffic leaves
 * bucket lines clean and timeouts are accurate to about a second. A flow idle
 * for longer than the wrap may look recently used again; the pipeline's
 * backend check above still applies to it.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "flow_table.h"
#include "flow_table_priv.h"
#include "hash.h"

static uint32_t ft_round_capacity(uint32_t capacity)
{
	if (capacity <= FT_CAPACITY_MIN)
		return FT_CAPACITY_MIN;
	if (capacity > FT_CAPACITY_MAX)
		return 0;
	return 1u << (32 - __builtin_clz(capacity - 1));
}

static size_t ft_header_size(void)
{
	return (sizeof(struct flow_table) + FT_CACHE_LINE - 1) & ~(size_t)(FT_CACHE_LINE - 1);
}

uint32_t flow_table_round_capacity(uint32_t capacity)
{
	return ft_round_capacity(capacity);
}

size_t flow_table_mem_size(uint32_t capacity)
{
	uint32_t cap = ft_round_capacity(capacity);

	if (cap == 0)
		return 0;
	/* Slack so a caller's area need not be cache-line aligned. */
	return FT_CACHE_LINE - 1 + ft_header_size() + (size_t)(cap / FT_SLOTS) * sizeof(struct ft_bucket);
}

/* Everything of init but the buckets: what adoption redoes over buckets some earlier process left. */
static void ft_setup_state(struct flow_table *ft, struct ft_bucket *buckets, uint32_t cap,
			   const struct flow_table_params *p)
{
	memset(ft, 0, sizeof(*ft));
	ft->buckets = buckets;
	ft->secret = p->secret;
	ft->bucket_mask = cap / FT_SLOTS - 1;
	ft->capacity = cap;
	for (unsigned int c = 0; c < FLOW_TIMEOUT_MAX; c++) {
		/* An age never exceeds FT_AGE_MASK, so a timeout that large never fires. */
		ft->timeout_ms[c] = p->timeout_ms[c] < FT_AGE_MASK ? p->timeout_ms[c] : FT_AGE_MASK;
		ft->touch_ms[c] = ft->timeout_ms[c] / 8 < FLOW_TABLE_TOUCH_MS ? ft->timeout_ms[c] / 8 :
										   FLOW_TABLE_TOUCH_MS;
	}

	ft->new_flow_rate = p->new_flow_rate;
	if (p->new_flow_rate) {
		/* A zero depth would block every new flow; one second of rate is the natural default. */
		uint64_t burst = p->new_flow_burst ? p->new_flow_burst : p->new_flow_rate;

		ft->tb_max = burst * FT_MILLI;
		ft->tb_tokens = ft->tb_max;
		ft->tb_refill_cap = ft->tb_max / p->new_flow_rate + 1;
	}
}

/* The state and the buckets in one caller area: the state first, then the buckets. */
static struct flow_table *ft_setup(void *mem, size_t mem_size, const struct flow_table_params *p)
{
	uintptr_t base = (uintptr_t)mem, aligned;
	struct flow_table *ft;
	uint32_t cap;

	if (!mem || !p) {
		errno = EINVAL;
		return NULL;
	}
	cap = ft_round_capacity(p->capacity);
	if (cap == 0 || mem_size < flow_table_mem_size(cap)) {
		errno = EINVAL;
		return NULL;
	}
	aligned = (base + FT_CACHE_LINE - 1) & ~(uintptr_t)(FT_CACHE_LINE - 1);
	ft = (struct flow_table *)aligned;
	ft_setup_state(ft, (struct ft_bucket *)(aligned + ft_header_size()), cap, p);
	return ft;
}

_Static_assert(sizeof(struct flow_table) <= FLOW_TABLE_STATE_SIZE, "the state fits its private area");
_Static_assert(_Alignof(struct flow_table) <= _Alignof(struct flow_table_state), "and its alignment");

size_t flow_table_buckets_size(uint32_t capacity)
{
	uint32_t cap = ft_round_capacity(capacity);

	return cap ? (size_t)(cap / FT_SLOTS) * sizeof(struct ft_bucket) : 0;
}

/* The state in st, the buckets apart: both checked as ft_setup checks its one area. */
static struct flow_table *ft_setup_apart(struct flow_table_state *st, void *buckets, size_t buckets_size,
					 const struct flow_table_params *p)
{
	struct flow_table *ft;
	uint32_t cap;

	if (!st || !buckets || !p || ((uintptr_t)buckets & (FT_CACHE_LINE - 1))) {
		errno = EINVAL;
		return NULL;
	}
	cap = ft_round_capacity(p->capacity);
	if (cap == 0 || buckets_size < flow_table_buckets_size(cap)) {
		errno = EINVAL;
		return NULL;
	}
	ft = (struct flow_table *)(void *)st->opaque;
	ft_setup_state(ft, buckets, cap, p);
	return ft;
}

static void ft_clear_buckets(struct flow_table *ft)
{
	/* Zero fingerprints are empty slots and zero meta words zero overflow counts. */
	memset(ft->buckets, 0, (size_t)(ft->bucket_mask + 1) * sizeof(struct ft_bucket));
}

struct flow_table *flow_table_init(void *mem, size_t mem_size, const struct flow_table_params *p)
{
	struct flow_table *ft = ft_setup(mem, mem_size, p);

	if (ft)
		ft_clear_buckets(ft);
	return ft;
}

struct flow_table *flow_table_init_buckets(struct flow_table_state *st, void *buckets, size_t buckets_size,
					   const struct flow_table_params *p)
{
	struct flow_table *ft = ft_setup_apart(st, buckets, buckets_size, p);

	if (ft)
		ft_clear_buckets(ft);
	return ft;
}

/*
 * The buckets are taken as they are, but nothing in them is trusted: a slot
 * whose fingerprint does not belong in its bucket, or whose timeout class is
 * out of range (it indexes timeout_ms[]), or whose value the caller's keep
 * refuses, is emptied and counted; the other flows stay. The overflow counts are rebuilt from the slots, so a count
 * torn by a killed writer cannot hide a key in its secondary bucket.
 */
static struct flow_table *ft_adopt_slots(struct flow_table *ft, int (*keep)(const struct flow_value *, void *),
					 void *arg, uint32_t *dropped)
{
	uint32_t b, nb, ndropped = 0;
	uint64_t live = 0;

	if (!ft)
		return NULL;
	nb = ft->bucket_mask + 1;
	for (b = 0; b < nb; b++)
		ft_overflow_set(&ft->buckets[b], 0);
	for (b = 0; b < nb; b++) {
		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			struct ft_slot *sl = &ft->buckets[b].slot[s];
			uint32_t prim;

			if (!sl->fp)
				continue;
			prim = ft_primary(ft, sl->fp);
			if ((b != prim && b != ft_secondary(ft, sl->fp)) || ft_class(sl) >= FLOW_TIMEOUT_MAX ||
			    (keep && !keep(&sl->value, arg))) {
				sl->fp = 0;
				sl->meta &= FT_OVF_MASK;
				ndropped++;
				continue;
			}
			live++;
			if (b != prim)
				ft_overflow_inc(&ft->buckets[prim]);
		}
	}
	*dropped = ndropped;
	ft->stats.occupancy = live;
	return ft;
}

struct flow_table *flow_table_adopt_buckets(struct flow_table_state *st, void *buckets, size_t buckets_size,
					    const struct flow_table_params *p,
					    int (*keep)(const struct flow_value *, void *), void *arg,
					    uint32_t *dropped)
{
	*dropped = 0;
	return ft_adopt_slots(ft_setup_apart(st, buckets, buckets_size, p), keep, arg, dropped);
}

int flow_table_remove(struct flow_table *ft, const struct keel_flow_key *key)
{
	uint64_t fp = ft_fp(keel_hash_key(key, ft->secret));
	uint32_t bkt[2];
	int64_t idx;

	bkt[0] = ft_primary(ft, fp);
	bkt[1] = ft_secondary(ft, fp);
	idx = ft_find_fp(ft, bkt, fp);
	if (idx < 0)
		return -ENOENT;
	ft_free_slot(ft, (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2), (unsigned int)idx & (FT_SLOTS - 1));
	return 0;
}

const struct flow_value *flow_table_peek(const struct flow_table *ft,
					 const struct keel_flow_key *key, uint64_t now_ms)
{
	uint64_t fp = ft_fp(keel_hash_key(key, ft->secret));
	const struct ft_slot *sl;
	uint32_t bkt[2];
	int64_t idx;

	bkt[0] = ft_primary(ft, fp);
	bkt[1] = ft_secondary(ft, fp);
	idx = ft_find_fp(ft, bkt, fp);
	if (idx < 0)
		return NULL;
	sl = &ft->buckets[(uint64_t)idx >> FT_SLOTS_LOG2].slot[(unsigned int)idx & (FT_SLOTS - 1)];
	if (ft_age(sl, (uint32_t)now_ms) > ft->timeout_ms[ft_class(sl)])
		return NULL;
	return &sl->value;
}

uint32_t flow_table_flush(struct flow_table *ft, int (*pred)(const struct flow_value *, void *),
			  void *arg, uint32_t *cursor, uint32_t max_buckets)
{
	uint32_t nb = ft->bucket_mask + 1;
	uint32_t bkt = *cursor < nb ? *cursor : 0;
	uint32_t removed = 0;

	for (uint32_t n = 0; n < max_buckets && bkt < nb; n++, bkt++) {
		struct ft_bucket *b = &ft->buckets[bkt];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			if (b->slot[s].fp && pred(&b->slot[s].value, arg)) {
				ft_free_slot(ft, bkt, s);
				removed++;
			}
		}
	}
	*cursor = bkt < nb ? bkt : 0;
	return removed;
}

void flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *out)
{
	*out = ft->stats;
}

uint32_t flow_table_capacity(const struct flow_table *ft)
{
	return ft->capacity;
}

/*
 * Read-only, like a lookup that finds nothing: live slots are counted where
 * they are, expired ones not (they are only reclaimed when met), so the
 * counts are what would still be forwarded by the table.
 */
uint32_t flow_table_census(const struct flow_table *ft, uint64_t now_ms, uint64_t counts[],
			   uint32_t n_counts, uint32_t *hi, uint32_t *cursor, uint32_t max_buckets)
{
	uint32_t nb = ft->bucket_mask + 1, now32 = (uint32_t)now_ms;
	uint32_t bkt = *cursor < nb ? *cursor : 0, n;

	for (n = 0; n < max_buckets && bkt < nb; n++, bkt++) {
		const struct ft_bucket *b = &ft->buckets[bkt];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			const struct ft_slot *sl = &b->slot[s];
			uint32_t id = sl->value.backend;

			if (!sl->fp || ft_age(sl, now32) > ft->timeout_ms[ft_class(sl)] || id >= n_counts)
				continue;
			counts[id]++;
			if (id >= *hi)
				*hi = id + 1;
		}
	}
	*cursor = bkt < nb ? bkt : 0;
	return n;
}

uint32_t flow_table_buckets(const struct flow_table *ft)
{
	return ft->bucket_mask + 1;
}
