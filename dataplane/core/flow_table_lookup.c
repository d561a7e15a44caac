/* The flow table's burst lookup: established flows found, their timers restarted, misses hinted for insert. */
#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"
#include "flow_table_priv.h"
#include "hash.h"

/*
 * Burst lookup in three passes over the burst, the shape of
 * rte_cuckoo_hash.c __bulk_lookup_prefetching_loop(): each pass issues the
 * loads the next one needs for every key before any of them is waited on, so
 * the DRAM misses of a burst overlap instead of adding up. hints may be NULL
 * (a constant in each caller, so the inlined copies carry no test for it).
 */
static inline __attribute__((always_inline)) void
ft_lookup_burst(struct flow_table *ft, const struct keel_flow_key *const keys[], const uint8_t tcp_flags[],
		uint32_t n, uint64_t now_ms, struct flow_value *values[], uint64_t hashes[],
		struct flow_hint hints[])
{
	uint64_t fps[FLOW_TABLE_BURST_MAX];
	uint32_t bkt[FLOW_TABLE_BURST_MAX]; /* bucket to resolve in stage 3, UINT32_MAX: a miss */
	uint8_t slot[FLOW_TABLE_BURST_MAX]; /* slot found in stage 2, FT_SLOTS: search bkt in stage 3 */
	uint32_t now32 = (uint32_t)now_ms, epoch = ft->emptied;
	/* In locals: the stores to the output arrays could alias *ft for the compiler. */
	struct ft_bucket *const buckets = ft->buckets;
	const uint64_t secret = ft->secret;
	const uint32_t mask = ft->bucket_mask;
	uint64_t hits = 0, expired = 0;
	uint32_t i;

	if (n > FLOW_TABLE_BURST_MAX)
		n = FLOW_TABLE_BURST_MAX;

	/* Stage 1: hash each key and prefetch its primary bucket, the only line most keys need. */
	for (i = 0; i < n; i++) {
		uint64_t h = keel_hash_key(keys[i], secret);

		if (hashes)
			hashes[i] = h;
		fps[i] = ft_fp(h);
		bkt[i] = (uint32_t)fps[i] & mask;
		__builtin_prefetch(&buckets[bkt[i]], 0, 3);
	}

	/*
	 * Stage 2: compare fingerprints in the primary. A key absent there is
	 * looked for in its secondary only when the primary overflowed; a key
	 * absent from a full primary that did not overflow is new, and its
	 * insert will search the secondary: warm that line for writing now, or
	 * every new flow in a full table pays a serial miss. A key absent from
	 * its primary notes the primary's first free slot for its insert.
	 */
	for (i = 0; i < n; i++) {
		const struct ft_bucket *pb = &buckets[bkt[i]];
		uint32_t m = ft_match(pb, fps[i]), fm;

		if (m) {
			slot[i] = (uint8_t)__builtin_ctz(m);
			continue;
		}
		slot[i] = FT_SLOTS;
		fm = ft_match(pb, 0);
		if (hints) {
			hints[i].epoch = epoch;
			hints[i].slot = fm ? (uint8_t)__builtin_ctz(fm) : FLOW_HINT_NONE;
		}
		if (ft_has_overflow(pb)) {
			bkt[i] = ft_secondary_of(mask, fps[i]);
			__builtin_prefetch(&buckets[bkt[i]], 0, 3);
		} else {
			if (!fm)
				__builtin_prefetch(&buckets[ft_secondary_of(mask, fps[i])], 1, 3);
			bkt[i] = UINT32_MAX;
		}
	}

	/* Stage 3: search the secondaries, check the idle timer, refresh hits. */
	for (i = 0; i < n; i++) {
		struct ft_slot *sl;
		uint32_t s = slot[i], age;

		values[i] = NULL;
		if (bkt[i] == UINT32_MAX)
			continue;
		if (s == FT_SLOTS) {
			uint32_t m = ft_match(&buckets[bkt[i]], fps[i]);

			if (!m)
				continue;
			s = (uint32_t)__builtin_ctz(m);
		}
		sl = &buckets[bkt[i]].slot[s];
		/* Re-check: an earlier key of the burst (the same flow, expired) may have emptied the slot. */
		if (sl->fp != fps[i])
			goto miss;
		age = ft_age(sl, now32);
		if (ft_unlikely(age > ft->timeout_ms[ft_class(sl)])) {
			ft_free_slot(ft, bkt[i], s);
			expired++;
			goto miss;
		}
		ft_touch(ft, sl, age, tcp_flags ? tcp_flags[i] : 0, now32);
		values[i] = &sl->value;
		hits++;
		continue;
miss:
		/* Found in stage 2 but not live: no hint was noted (and the epoch has moved on). */
		if (hints)
			hints[i].slot = FLOW_HINT_NONE;
	}

	ft->stats.hits += hits;
	ft->stats.misses += n - hits;
	ft->stats.expirations += expired;
}

void flow_table_lookup_burst(struct flow_table *ft, const struct keel_flow_key *const keys[],
			     const uint8_t tcp_flags[], uint32_t n, uint64_t now_ms,
			     struct flow_value *values[], uint64_t hashes[])
{
	ft_lookup_burst(ft, keys, tcp_flags, n, now_ms, values, hashes, NULL);
}

void flow_table_lookup_burst_hinted(struct flow_table *ft, const struct keel_flow_key *const keys[],
				    const uint8_t tcp_flags[], uint32_t n, uint64_t now_ms,
				    struct flow_value *values[], uint64_t hashes[], struct flow_hint hints[])
{
	/* Tested once here, so the inlined body knows hints is there and tests it per key no more. */
	if (!hints) {
		ft_lookup_burst(ft, keys, tcp_flags, n, now_ms, values, hashes, NULL);
		return;
	}
	ft_lookup_burst(ft, keys, tcp_flags, n, now_ms, values, hashes, hints);
}
