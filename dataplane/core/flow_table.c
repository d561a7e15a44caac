/* Per-worker connection table: two-choice buckets of 8 signatures, idle timeouts, LRU eviction, new-flow token bucket. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "flow_table.h"
#include "hash.h"

#define FT_SLOTS 8 /* slots per bucket: 8 signatures fill one SSE2 compare */
#define FT_SLOTS_LOG2 3
#define FT_CACHE_LINE 64
#define FT_CAPACITY_MIN 16u
#define FT_CAPACITY_MAX (1u << 31) /* keeps capacity a uint32_t power of two */
#define FT_MILLI 1000u             /* token bucket counts milli-tokens: no division per insert */

#define ft_likely(x) __builtin_expect(!!(x), 1)
#define ft_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * One cache line answers "is the key here, is it still alive, who is the
 * oldest" for 8 flows without touching the entries. A key lives in its
 * primary bucket when there is room, so a lookup usually reads one bucket
 * line and one entry line; the overflow count says when the secondary bucket
 * must be read too (the role of the overflow counts of folly's F14 tables).
 */
struct ft_bucket {
	uint16_t sig[FT_SLOTS];   /* 0 = empty slot */
	uint32_t seen[FT_SLOTS];  /* last use, ms, truncated: ages wrap after 49 days */
	uint8_t tclass[FT_SLOTS]; /* enum flow_timeout_class */
	uint8_t in_alt;           /* bit s: slot s holds a key whose primary is the other bucket */
	uint8_t overflow;         /* keys with this primary stored in their secondary; 255 sticks */
	uint8_t pad[6];
} __attribute__((aligned(FT_CACHE_LINE)));

_Static_assert(sizeof(struct ft_bucket) == FT_CACHE_LINE, "bucket is one cache line");

/* Entry i belongs to bucket i / 8, slot i % 8: no index stored anywhere. */
struct ft_entry {
	struct keel_flow_key key;
	struct flow_value value;
	uint8_t pad[FT_CACHE_LINE - sizeof(struct keel_flow_key) - sizeof(struct flow_value)];
} __attribute__((aligned(FT_CACHE_LINE)));

_Static_assert(sizeof(struct ft_entry) == FT_CACHE_LINE, "entry is one cache line");

/* Owned by one worker lcore: read and written only by it, so no atomics. */
struct flow_table {
	/* Read on every lookup. */
	struct ft_bucket *buckets;
	struct ft_entry *entries;
	uint64_t secret;
	uint32_t bucket_mask;
	uint32_t capacity;
	uint32_t timeout_ms[FLOW_TIMEOUT_MAX];

	/* New-flow token bucket, touched only on insert. */
	uint32_t new_flow_rate;  /* milli-tokens per ms == tokens per s; 0 = unlimited */
	uint64_t tb_max;         /* depth in milli-tokens */
	uint64_t tb_tokens;      /* milli-tokens available */
	uint64_t tb_last_ms;
	uint64_t tb_refill_cap;  /* elapsed ms that fill an empty bucket: bounds the product */

	struct flow_table_stats stats __attribute__((aligned(FT_CACHE_LINE)));
} __attribute__((aligned(FT_CACHE_LINE)));

static inline uint16_t ft_sig(uint64_t hash)
{
	uint16_t sig = (uint16_t)(hash >> 48);

	return sig ? sig : 1; /* 0 marks an empty slot */
}

static inline uint32_t ft_primary(const struct flow_table *ft, uint64_t hash)
{
	return (uint32_t)hash & ft->bucket_mask;
}

/*
 * The other bucket is the current one XOR a function of the signature, as in
 * rte_cuckoo_hash.c get_alt_bucket_index(): either bucket of a key gives the
 * other from the bucket line alone, so insert can move an entry to its
 * alternative without reading or rehashing its key. The multiply spreads the
 * signature's 16 bits over the index; never 0 so the two buckets differ.
 */
static inline uint32_t ft_alt(const struct flow_table *ft, uint32_t bkt, uint16_t sig)
{
	uint32_t d = (uint32_t)(((uint64_t)sig * 0x9e3779b97f4a7c15ULL) >> 32) & ft->bucket_mask;

	d += (d == 0);
	return bkt ^ d;
}

/* Bit s set when slot s holds sig; sig 0 gives the free slots. */
static inline uint32_t ft_sig_match(const struct ft_bucket *b, uint16_t sig)
{
#ifdef __SSE2__
	__m128i sigs = _mm_load_si128((const __m128i *)b->sig);
	__m128i eq = _mm_cmpeq_epi16(sigs, _mm_set1_epi16((short)sig));

	/* Pack the 8 16-bit lanes to bytes so movemask yields one bit per slot. */
	return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()));
#else
	uint32_t m = 0;

	for (unsigned int s = 0; s < FT_SLOTS; s++)
		m |= (uint32_t)(b->sig[s] == sig) << s;
	return m;
#endif
}

/* Five word compares without early exit: the key is 40 bytes with every pad byte zero. */
static inline bool ft_key_eq(const struct keel_flow_key *a, const struct keel_flow_key *b)
{
	const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
	uint64_t x = 0;

	for (unsigned int w = 0; w < sizeof(*a); w += 8) {
		uint64_t va, vb;

		memcpy(&va, pa + w, 8);
		memcpy(&vb, pb + w, 8);
		x |= va ^ vb;
	}
	return x == 0;
}

/* Entry index of key among the slots in hits of bucket bkt, or -1. */
static inline int64_t ft_find(const struct flow_table *ft, uint32_t bkt, uint32_t hits, uint16_t sig,
			      const struct keel_flow_key *key)
{
	const struct ft_bucket *b = &ft->buckets[bkt];

	while (hits) {
		unsigned int s = (unsigned int)__builtin_ctz(hits);
		uint64_t idx = ((uint64_t)bkt << FT_SLOTS_LOG2) | s;

		hits &= hits - 1;
		/* Re-check the signature: an earlier key of the burst may have freed the slot. */
		if (b->sig[s] == sig && ft_key_eq(&ft->entries[idx].key, key))
			return (int64_t)idx;
	}
	return -1;
}

static inline bool ft_expired(const struct flow_table *ft, const struct ft_bucket *b, unsigned int s,
			      uint32_t now32)
{
	/* Unsigned difference: correct across the 32-bit wrap of the truncated clock. */
	return now32 - b->seen[s] > ft->timeout_ms[b->tclass[s]];
}

static inline uint8_t ft_class_of(uint8_t proto, uint8_t tcp_flags)
{
	if (proto != KEEL_PROTO_TCP)
		return FLOW_TIMEOUT_UDP;
	return (tcp_flags & (KEEL_TCP_FIN | KEEL_TCP_RST)) ? FLOW_TIMEOUT_TCP_CLOSING : FLOW_TIMEOUT_TCP;
}

static inline void ft_overflow_inc(struct ft_bucket *b)
{
	b->overflow += (b->overflow != UINT8_MAX);
}

/* Saturated counts stay: the bucket then always sends lookups on to the secondary, which is safe. */
static inline void ft_overflow_dec(struct ft_bucket *b)
{
	b->overflow -= (b->overflow != UINT8_MAX);
}

/* Empty a slot, keeping the overflow count of the key's primary bucket exact. */
static inline void ft_free_slot(struct flow_table *ft, uint32_t bkt, unsigned int s)
{
	struct ft_bucket *b = &ft->buckets[bkt];

	if (b->in_alt & (1u << s)) {
		b->in_alt &= (uint8_t)~(1u << s);
		ft_overflow_dec(&ft->buckets[ft_alt(ft, bkt, b->sig[s])]);
	}
	b->sig[s] = 0;
	ft->stats.occupancy--;
}

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

size_t flow_table_mem_size(uint32_t capacity)
{
	uint32_t cap = ft_round_capacity(capacity);

	if (cap == 0)
		return 0;
	/* Slack so a caller's area need not be cache-line aligned. */
	return FT_CACHE_LINE - 1 + ft_header_size() + (size_t)(cap / FT_SLOTS) * sizeof(struct ft_bucket) +
	       (size_t)cap * sizeof(struct ft_entry);
}

struct flow_table *flow_table_init(void *mem, size_t mem_size, const struct flow_table_params *p)
{
	uintptr_t base = (uintptr_t)mem, aligned;
	struct flow_table *ft;
	uint32_t cap, nb;

	if (!mem || !p) {
		errno = EINVAL;
		return NULL;
	}
	cap = ft_round_capacity(p->capacity);
	if (cap == 0 || mem_size < flow_table_mem_size(cap)) {
		errno = EINVAL;
		return NULL;
	}
	nb = cap / FT_SLOTS;
	aligned = (base + FT_CACHE_LINE - 1) & ~(uintptr_t)(FT_CACHE_LINE - 1);
	ft = (struct flow_table *)aligned;
	memset(ft, 0, sizeof(*ft));
	ft->buckets = (struct ft_bucket *)(aligned + ft_header_size());
	ft->entries = (struct ft_entry *)(ft->buckets + nb);
	ft->secret = p->secret;
	ft->bucket_mask = nb - 1;
	ft->capacity = cap;
	memcpy(ft->timeout_ms, p->timeout_ms, sizeof(ft->timeout_ms));

	ft->new_flow_rate = p->new_flow_rate;
	if (p->new_flow_rate) {
		/* A zero depth would block every new flow; one second of rate is the natural default. */
		uint64_t burst = p->new_flow_burst ? p->new_flow_burst : p->new_flow_rate;

		ft->tb_max = burst * FT_MILLI;
		ft->tb_tokens = ft->tb_max;
		ft->tb_refill_cap = ft->tb_max / p->new_flow_rate + 1;
	}

	/*
	 * Only the signatures need clearing: an entry is read only behind a
	 * matching non-zero signature, i.e. after insert wrote it. Leaving the
	 * entry array untouched keeps init of a 16M table cheap.
	 */
	memset(ft->buckets, 0, (size_t)nb * sizeof(struct ft_bucket));
	return ft;
}

/*
 * Burst lookup in three passes over the burst, the shape of
 * rte_cuckoo_hash.c __bulk_lookup_prefetching_loop(): each pass issues the
 * loads the next one needs for every key before any of them is waited on, so
 * the DRAM misses of a burst overlap instead of adding up.
 */
void flow_table_lookup_burst(struct flow_table *ft, const struct keel_flow_key *const keys[],
			     const uint8_t tcp_flags[], uint32_t n, uint64_t now_ms,
			     struct flow_value *values[], uint64_t hashes[])
{
	uint32_t prim[FLOW_TABLE_BURST_MAX], sec[FLOW_TABLE_BURST_MAX];
	uint32_t prim_hits[FLOW_TABLE_BURST_MAX];
	uint16_t sigs[FLOW_TABLE_BURST_MAX];
	uint32_t now32 = (uint32_t)now_ms;
	uint64_t hits = 0, expired = 0;
	uint32_t i;

	if (n > FLOW_TABLE_BURST_MAX)
		n = FLOW_TABLE_BURST_MAX;

	/*
	 * Stage 1: hash each key and prefetch its primary bucket. The secondary
	 * is not prefetched here (rte_cuckoo_hash does): on this table's
	 * DRAM-bound path a third line per key costs a third more time, and
	 * keys rarely live there below ~80% load.
	 */
	for (i = 0; i < n; i++) {
		uint64_t h = keel_hash_key(keys[i], ft->secret);

		if (hashes)
			hashes[i] = h;
		sigs[i] = ft_sig(h);
		prim[i] = ft_primary(ft, h);
		__builtin_prefetch(&ft->buckets[prim[i]], 0, 3);
	}

	/*
	 * Stage 2: compare signatures and prefetch the first matching entry;
	 * with 16-bit signatures a second match is rare (1 in 8k per bucket),
	 * so it is left to stage 3. Only a primary that overflowed sends the
	 * key on to its secondary bucket (UINT32_MAX: not needed).
	 */
	for (i = 0; i < n; i++) {
		const struct ft_bucket *pb = &ft->buckets[prim[i]];

		prim_hits[i] = ft_sig_match(pb, sigs[i]);
		if (prim_hits[i])
			__builtin_prefetch(&ft->entries[((uint64_t)prim[i] << FT_SLOTS_LOG2) |
							(unsigned int)__builtin_ctz(prim_hits[i])], 0, 3);
		sec[i] = UINT32_MAX;
		if (pb->overflow) {
			sec[i] = ft_alt(ft, prim[i], sigs[i]);
			__builtin_prefetch(&ft->buckets[sec[i]], 0, 3);
		} else if (!prim_hits[i]) {
			/*
			 * A miss is usually followed by an insert: warm the line it
			 * will write (a free primary slot) or, with the primary
			 * full, the secondary bucket it will search next. Without
			 * this every new flow in a full table paid a serial miss.
			 */
			uint32_t free_mask = ft_sig_match(pb, 0);

			if (free_mask)
				__builtin_prefetch(&ft->entries[((uint64_t)prim[i] << FT_SLOTS_LOG2) |
								(unsigned int)__builtin_ctz(free_mask)],
						   1, 3);
			else
				__builtin_prefetch(&ft->buckets[ft_alt(ft, prim[i], sigs[i])], 1, 3);
		}
	}

	/* Stage 3: compare full keys, check the idle timer, refresh hits. */
	for (i = 0; i < n; i++) {
		int64_t idx = ft_find(ft, prim[i], prim_hits[i], sigs[i], keys[i]);
		struct ft_bucket *b;
		unsigned int s;

		if (idx < 0 && sec[i] != UINT32_MAX)
			idx = ft_find(ft, sec[i], ft_sig_match(&ft->buckets[sec[i]], sigs[i]), sigs[i], keys[i]);
		values[i] = NULL;
		if (idx < 0)
			continue;
		b = &ft->buckets[(uint64_t)idx >> FT_SLOTS_LOG2];
		s = (unsigned int)idx & (FT_SLOTS - 1);
		if (ft_unlikely(ft_expired(ft, b, s, now32))) {
			ft_free_slot(ft, (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2), s);
			expired++;
			continue;
		}
		b->seen[s] = now32;
		if (tcp_flags && ft_unlikely(tcp_flags[i] & (KEEL_TCP_FIN | KEEL_TCP_RST)) &&
		    b->tclass[s] == FLOW_TIMEOUT_TCP)
			b->tclass[s] = FLOW_TIMEOUT_TCP_CLOSING;
		values[i] = &ft->entries[idx].value;
		hits++;
	}

	ft->stats.hits += hits;
	ft->stats.misses += n - hits;
	ft->stats.expirations += expired;
}

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

/* Oldest expired slot of the two buckets, as an entry index, or -1. */
static int64_t ft_find_expired(const struct flow_table *ft, const uint32_t bkt[2], uint32_t now32)
{
	int64_t best = -1;
	uint32_t best_age = 0;

	for (unsigned int k = 0; k < 2; k++) {
		const struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			uint32_t age = now32 - b->seen[s];

			if (age > ft->timeout_ms[b->tclass[s]] && age >= best_age) {
				best_age = age;
				best = ((int64_t)bkt[k] << FT_SLOTS_LOG2) | s;
			}
		}
	}
	return best;
}

/*
 * Both buckets are full of live flows: try to move one of their entries to
 * its own other bucket (one cuckoo step, no chains) so the new flow evicts
 * nobody. The 16 other buckets are prefetched together, so the search costs
 * about one memory latency. Returns the freed entry index or -1.
 */
static int64_t ft_displace(struct flow_table *ft, const uint32_t bkt[2])
{
	uint32_t alt[2][FT_SLOTS];

	for (unsigned int k = 0; k < 2; k++) {
		const struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			alt[k][s] = ft_alt(ft, bkt[k], b->sig[s]);
			__builtin_prefetch(&ft->buckets[alt[k][s]], 0, 3);
		}
	}
	for (unsigned int k = 0; k < 2; k++) {
		struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			struct ft_bucket *ab = &ft->buckets[alt[k][s]];
			uint32_t free_mask = ft_sig_match(ab, 0);
			uint64_t from, to;
			unsigned int as;

			if (!free_mask)
				continue;
			as = (unsigned int)__builtin_ctz(free_mask);
			from = ((uint64_t)bkt[k] << FT_SLOTS_LOG2) | s;
			to = ((uint64_t)alt[k][s] << FT_SLOTS_LOG2) | as;
			ft->entries[to] = ft->entries[from];
			ab->seen[as] = b->seen[s];
			ab->tclass[as] = b->tclass[s];
			ab->sig[as] = b->sig[s];
			if (b->in_alt & (1u << s)) {
				/* Back home: ab is its primary. */
				b->in_alt &= (uint8_t)~(1u << s);
				ft_overflow_dec(ab);
			} else {
				ab->in_alt |= (uint8_t)(1u << as);
				ft_overflow_inc(b);
			}
			b->sig[s] = 0;
			return (int64_t)from;
		}
	}
	return -1;
}

/* Least recently used slot of the two buckets (all occupied), as an entry index. */
static int64_t ft_find_lru(const struct flow_table *ft, const uint32_t bkt[2], uint32_t now32)
{
	int64_t best = 0;
	uint32_t best_age = 0;
	bool first = true;

	for (unsigned int k = 0; k < 2; k++) {
		const struct ft_bucket *b = &ft->buckets[bkt[k]];

		for (unsigned int s = 0; s < FT_SLOTS; s++) {
			uint32_t age = now32 - b->seen[s];

			if (first || age > best_age) {
				first = false;
				best_age = age;
				best = ((int64_t)bkt[k] << FT_SLOTS_LOG2) | s;
			}
		}
	}
	return best;
}

/* Key's slot in its primary, or in its secondary when the primary overflowed; -1 if absent. */
static int64_t ft_find_key(const struct flow_table *ft, const uint32_t bkt[2], uint16_t sig,
			   const struct keel_flow_key *key)
{
	int64_t idx = ft_find(ft, bkt[0], ft_sig_match(&ft->buckets[bkt[0]], sig), sig, key);

	if (idx < 0 && ft->buckets[bkt[0]].overflow)
		idx = ft_find(ft, bkt[1], ft_sig_match(&ft->buckets[bkt[1]], sig), sig, key);
	return idx;
}

struct flow_value *flow_table_insert(struct flow_table *ft, const struct keel_flow_key *key,
				     uint64_t hash, const struct flow_value *v, uint8_t tcp_flags,
				     uint64_t now_ms, bool *created)
{
	uint16_t sig = ft_sig(hash);
	uint32_t now32 = (uint32_t)now_ms;
	uint32_t bkt[2], free_mask, b_idx;
	struct ft_bucket *b;
	struct ft_entry *e;
	int64_t idx;
	unsigned int s;

	if (created)
		*created = false;
	bkt[0] = ft_primary(ft, hash);
	bkt[1] = ft_alt(ft, bkt[0], sig);

	/*
	 * A burst can carry several packets of one new flow, all of which
	 * missed in the lookup: the first inserts, the others must find that
	 * entry rather than add a duplicate, and keep its backend.
	 */
	idx = ft_find_key(ft, bkt, sig, key);
	if (idx >= 0) {
		b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
		b = &ft->buckets[b_idx];
		s = (unsigned int)idx & (FT_SLOTS - 1);
		if (!ft_expired(ft, b, s, now32)) {
			b->seen[s] = now32;
			if ((tcp_flags & (KEEL_TCP_FIN | KEEL_TCP_RST)) && b->tclass[s] == FLOW_TIMEOUT_TCP)
				b->tclass[s] = FLOW_TIMEOUT_TCP_CLOSING;
			return &ft->entries[idx].value;
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
	 * takes the overflow. Then an expired slot, then one cuckoo move, and
	 * only then the least recently used flow of the 16 goes.
	 */
	free_mask = ft_sig_match(&ft->buckets[bkt[0]], 0);
	if (free_mask) {
		idx = ((int64_t)bkt[0] << FT_SLOTS_LOG2) | __builtin_ctz(free_mask);
	} else if ((free_mask = ft_sig_match(&ft->buckets[bkt[1]], 0)) != 0) {
		idx = ((int64_t)bkt[1] << FT_SLOTS_LOG2) | __builtin_ctz(free_mask);
	} else {
		idx = ft_find_expired(ft, bkt, now32);
		if (idx >= 0) {
			ft->stats.expirations++;
		} else {
			/*
			 * The cuckoo move costs a memory latency for its 16 other
			 * buckets; when the table is nearly full (a new-flow storm)
			 * it rarely finds room, so go straight to LRU eviction.
			 */
			idx = ft->stats.occupancy < ft->capacity - (ft->capacity >> 4) ?
				      ft_displace(ft, bkt) : -1;
			if (idx < 0) {
				idx = ft_find_lru(ft, bkt, now32);
				ft->stats.evictions++;
			}
		}
		b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
		s = (unsigned int)idx & (FT_SLOTS - 1);
		if (ft->buckets[b_idx].sig[s]) {
			/*
			 * Reusing a slot in a full pair of buckets: leave the
			 * victim's primary overflow count high instead of
			 * touching a third, cold bucket. An over-count only sends
			 * some lookups on to their secondary bucket; the next
			 * exact removal or expiry lookup settles nothing, so the
			 * count stays conservative, never wrong.
			 */
			ft->buckets[b_idx].in_alt &= (uint8_t)~(1u << s);
			ft->buckets[b_idx].sig[s] = 0;
			ft->stats.occupancy--;
		}
	}

	b_idx = (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2);
	b = &ft->buckets[b_idx];
	s = (unsigned int)idx & (FT_SLOTS - 1);
	e = &ft->entries[idx];
	e->key = *key;
	e->value = *v;
	b->seen[s] = now32;
	b->tclass[s] = ft_class_of(key->proto, tcp_flags);
	b->sig[s] = sig;
	if (b_idx != bkt[0]) {
		b->in_alt |= (uint8_t)(1u << s);
		ft_overflow_inc(&ft->buckets[bkt[0]]);
	}
	ft->stats.inserts++;
	ft->stats.occupancy++;
	if (created)
		*created = true;
	return &e->value;
}

int flow_table_remove(struct flow_table *ft, const struct keel_flow_key *key)
{
	uint64_t hash = keel_hash_key(key, ft->secret);
	uint16_t sig = ft_sig(hash);
	uint32_t bkt[2];
	int64_t idx;

	bkt[0] = ft_primary(ft, hash);
	bkt[1] = ft_alt(ft, bkt[0], sig);
	idx = ft_find_key(ft, bkt, sig, key);
	if (idx < 0)
		return -ENOENT;
	ft_free_slot(ft, (uint32_t)((uint64_t)idx >> FT_SLOTS_LOG2), (unsigned int)idx & (FT_SLOTS - 1));
	return 0;
}

uint32_t flow_table_flush(struct flow_table *ft, int (*pred)(const struct flow_value *, void *),
			  void *arg, uint32_t *cursor, uint32_t max_buckets)
{
	uint32_t nb = ft->bucket_mask + 1;
	uint32_t bkt = *cursor < nb ? *cursor : 0;
	uint32_t removed = 0;

	for (uint32_t n = 0; n < max_buckets && bkt < nb; n++, bkt++) {
		struct ft_bucket *b = &ft->buckets[bkt];
		uint32_t used = ~ft_sig_match(b, 0) & ((1u << FT_SLOTS) - 1);

		while (used) {
			unsigned int s = (unsigned int)__builtin_ctz(used);

			used &= used - 1;
			if (pred(&ft->entries[((uint64_t)bkt << FT_SLOTS_LOG2) | s].value, arg)) {
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
