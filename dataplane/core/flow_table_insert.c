/* The flow table's insert: the new-flow token bucket, then a free slot, an expired one, one cuckoo step, or LRU eviction. */
#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"
#include "flow_table_priv.h"
#include "hash.h"

/* Refill from the clock and take one token; always true when the rate is unlimited. */
static bool ft_take_token(struct flow_table *ft, uint64_t now_ms)
{
	if (!ft->new_flow_rate)
		return true;
	if (now_ms > ft->tb_last_ms) {
		uint64_t elapsed = now_ms - ft->tb_last_ms;

		/* Past a full refill more time changes nothing; the cap keeps the product from overflowing. */
		if (elapsed > ft->tb_refill_cap)
			elapsed = ft->tb_refill_cap;
		ft->tb_tokens += elapsed * ft->new_flow_rate;
		if (ft->tb_tokens > ft->tb_max)
			ft->tb_tokens = ft->tb_max;
		ft->tb_last_ms = now_ms;
	}
	if (ft->tb_tokens < FT_MILLI)
		return false;
	ft->tb_tokens -= FT_MILLI;
	return true;
}

/* Slot index (bucket << FT_SLOTS_LOG2 | slot) of the oldest expired slot of the two buckets, or -1. */
static int64_t ft_find_expired(const struct flow_table *ft, const uint32_t bkt[2], uint32_t now32)
{
	int64_t best = -1;
	uint32_t best_age = 0;

	for (unsigned int k = 0; k < 2; k++) {
		const struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			uint32_t age = ft_age(&b->slot[s], now32);

			if (age > ft->timeout_ms[ft_class(&b->slot[s])] && age >= best_age) {
				best_age = age;
				best = ((int64_t)bkt[k] << FT_SLOTS_LOG2) | s;
			}
		}
	}
	return best;
}

/* Least recently used slot of the two buckets (all occupied), as a slot index. */
static int64_t ft_find_lru(const struct flow_table *ft, const uint32_t bkt[2], uint32_t now32)
{
	int64_t best = 0;
	uint32_t best_age = 0;
	bool first = true;

	for (unsigned int k = 0; k < 2; k++) {
		const struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			uint32_t age = ft_age(&b->slot[s], now32);

			if (first || age > best_age) {
				first = false;
				best_age = age;
				best = ((int64_t)bkt[k] << FT_SLOTS_LOG2) | s;
			}
		}
	}
	return best;
}

/*
 * Both buckets are full of live flows: move one of their entries to its
 * own other bucket (one cuckoo step, no chains) so that the new flow evicts
 * nobody. The 8 other buckets are prefetched together, so the search costs
 * about one memory latency, and only inserts into a full pair pay it.
 * Without it a table at half load forgot ~0.4% of its live flows; with it,
 * none at half load and ~0.02% at 75%. Returns the freed slot or -1.
 */
static int64_t ft_displace(struct flow_table *ft, const uint32_t bkt[2])
{
	uint32_t alt[2][FT_SLOTS];
	unsigned int k, s;

	for (k = 0; k < 2; k++) {
		for (s = 0; s < FT_SLOTS; s++) {
			uint64_t f = ft->buckets[bkt[k]].slot[s].fp;
			uint32_t p = ft_primary(ft, f);

			alt[k][s] = p == bkt[k] ? ft_secondary(ft, f) : p;
			__builtin_prefetch(&ft->buckets[alt[k][s]], 1, 3);
		}
	}
	for (k = 0; k < 2; k++) {
		for (s = 0; s < FT_SLOTS; s++) {
			struct ft_bucket *ab = &ft->buckets[alt[k][s]];
			uint32_t fm = ft_match(ab, 0);
			struct ft_slot *from, *to;
			uint32_t p;

			if (!fm)
				continue;
			from = &ft->buckets[bkt[k]].slot[s];
			to = &ab->slot[__builtin_ctz(fm)];
			p = ft_primary(ft, from->fp);
			to->fp = from->fp;
			to->value = from->value;
			/* The overflow bits belong to the bucket, not the slot: they stay. */
			to->meta = (to->meta & FT_OVF_MASK) | (from->meta & ~FT_OVF_MASK);
			if (p == bkt[k])
				ft_overflow_inc(&ft->buckets[p]); /* now in its secondary */
			else
				ft_overflow_dec(ab);              /* back in its primary */
			from->fp = 0;
			return ((int64_t)bkt[k] << FT_SLOTS_LOG2) | s;
		}
	}
	return -1;
}

struct flow_value *flow_table_insert(struct flow_table *ft, const struct keel_flow_key *key,
				     uint64_t hash, const struct flow_value *v, uint8_t tcp_flags,
				     uint64_t now_ms, bool *created)
{
	uint64_t fp = ft_fp(hash);
	uint32_t now32 = (uint32_t)now_ms;
	uint32_t bkt[2], free_mask, b_idx;
	struct ft_slot *sl;
	int64_t idx;
	unsigned int s;

	if (created)
		*created = false;
	bkt[0] = ft_primary(ft, fp);
	bkt[1] = ft_secondary(ft, fp);

	/*
	 * A burst can carry several packets of one new flow, all of which
	 * missed in the lookup: the first inserts, the others must find that
	 * slot rather than add a duplicate, and keep its backend.
	 */
	idx = ft_find_fp(ft, bkt, fp);
	if (idx >= 0) {
		uint32_t age;

		b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
		s = (unsigned int)idx & (FT_SLOTS - 1);
		sl = &ft->buckets[b_idx].slot[s];
		age = ft_age(sl, now32);
		if (age <= ft->timeout_ms[ft_class(sl)]) {
			ft_touch(ft, sl, age, tcp_flags, now32);
			return &sl->value;
		}
		ft_free_slot(ft, b_idx, s);
		ft->stats.expirations++;
	}

	if (!ft_take_token(ft, now_ms)) {
		ft->stats.insert_skipped++;
		return NULL;
	}

	/*
	 * Primary first, so lookups usually read one bucket; the secondary
	 * takes the overflow. Then the oldest expired slot, then one cuckoo
	 * move, and only then the least recently used flow of the 8 goes.
	 */
	free_mask = ft_match(&ft->buckets[bkt[0]], 0);
	if (free_mask) {
		idx = ((int64_t)bkt[0] << FT_SLOTS_LOG2) | __builtin_ctz(free_mask);
	} else if ((free_mask = ft_match(&ft->buckets[bkt[1]], 0)) != 0) {
		idx = ((int64_t)bkt[1] << FT_SLOTS_LOG2) | __builtin_ctz(free_mask);
	} else {
		uint32_t victim_prim;

		idx = ft_find_expired(ft, bkt, now32);
		if (idx >= 0) {
			ft->stats.expirations++;
		} else {
			/*
			 * A nearly full table (a new-flow storm) rarely has room
			 * nearby: skip the move there and evict at once.
			 */
			if (ft->stats.occupancy < ft->capacity - (ft->capacity >> 3)) {
				idx = ft_displace(ft, bkt);
				if (idx >= 0)
					goto place;
			}
			idx = ft_find_lru(ft, bkt, now32);
			ft->stats.evictions++;
		}
		b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
		s = (unsigned int)idx & (FT_SLOTS - 1);
		/*
		 * The victim's primary overflow count is settled when that is
		 * one of the two lines at hand; when it is a third, cold bucket
		 * the count is left high. An over-count only sends some misses
		 * on to their secondary bucket, never loses a flow.
		 */
		victim_prim = ft_primary(ft, ft->buckets[b_idx].slot[s].fp);
		if (victim_prim != b_idx && (victim_prim == bkt[0] || victim_prim == bkt[1]))
			ft_overflow_dec(&ft->buckets[victim_prim]);
		ft->stats.occupancy--;
	}

place:
	b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
	s = (unsigned int)idx & (FT_SLOTS - 1);
	sl = &ft->buckets[b_idx].slot[s];
	sl->fp = fp;
	sl->value = *v;
	sl->meta = (sl->meta & FT_OVF_MASK) | ((uint32_t)ft_class_of(key->proto, tcp_flags) << FT_CLASS_SHIFT) |
		   (now32 & FT_AGE_MASK);
	if (b_idx != bkt[0])
		ft_overflow_inc(&ft->buckets[bkt[0]]);
	ft->stats.inserts++;
	ft->stats.occupancy++;
	if (created)
		*created = true;
	return &sl->value;
}

/*
 * Why a hint needs no probe for the same flow: every packet of one new flow in
 * a burst was looked up before any of them was inserted, so all got the same
 * hint. The first to be inserted either took the hinted slot or found it
 * taken; slots are then never emptied without ft->emptied moving on (only
 * ft_free_slot empties one; ft_displace refills the slot it empties at once,
 * with the flow being inserted). So a free hinted slot under an unchanged
 * epoch means that no packet of this flow has been inserted since the lookup
 * found it absent. A hint is a slot of the key's own primary bucket, which
 * is computed here from the hash, so even a wrong hint cannot misplace a
 * flow; and the overflow counts do not change (the primary is not full).
 */
struct flow_value *flow_table_insert_hinted(struct flow_table *ft, const struct keel_flow_key *key,
					    uint64_t hash, struct flow_hint hint,
					    const struct flow_value *v, uint8_t tcp_flags,
					    uint64_t now_ms, bool *created)
{
	uint64_t fp = ft_fp(hash);
	struct ft_slot *sl;

	if (hint.slot >= FT_SLOTS || hint.epoch != ft->emptied)
		return flow_table_insert(ft, key, hash, v, tcp_flags, now_ms, created);
	sl = &ft->buckets[ft_primary(ft, fp)].slot[hint.slot];
	if (sl->fp != 0)
		return flow_table_insert(ft, key, hash, v, tcp_flags, now_ms, created);
	if (!ft_take_token(ft, now_ms)) {
		ft->stats.insert_skipped++;
		if (created)
			*created = false;
		return NULL;
	}
	sl->fp = fp;
	sl->value = *v;
	sl->meta = (sl->meta & FT_OVF_MASK) | ((uint32_t)ft_class_of(key->proto, tcp_flags) << FT_CLASS_SHIFT) |
		   ((uint32_t)now_ms & FT_AGE_MASK);
	ft->stats.inserts++;
	ft->stats.occupancy++;
	if (created)
		*created = true;
	return &sl->value;
}
