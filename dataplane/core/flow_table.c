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
#include "hash.h"

#define FT_SLOTS 4 /* 16-byte slots: one bucket per 64-byte line */
#define FT_SLOTS_LOG2 2
#define FT_CACHE_LINE 64
#define FT_CAPACITY_MIN 8u         /* two buckets, so a key's two candidates differ */
#define FT_CAPACITY_MAX (1u << 31) /* keeps capacity a uint32_t power of two */
#define FT_MILLI 1000u             /* token bucket counts milli-tokens: no division per insert */

/* Slot meta word: last use (ms, truncated), timeout class, two bits of the bucket's overflow count. */
#define FT_AGE_BITS 28
#define FT_AGE_MASK ((1u << FT_AGE_BITS) - 1)
#define FT_CLASS_SHIFT 28
#define FT_CLASS_MASK (3u << FT_CLASS_SHIFT)
#define FT_OVF_SHIFT 30
#define FT_OVF_MASK (3u << FT_OVF_SHIFT)
#define FT_OVF_MAX 255u /* 8 bits over the 4 slots; a saturated count sticks */

#define ft_unlikely(x) __builtin_expect(!!(x), 0)

struct ft_slot {
	uint64_t fp;             /* keel_hash_key() of the flow; 0 = empty (a hash of 0 is stored as 1) */
	struct flow_value value; /* handed to callers by pointer */
	uint32_t meta;           /* FT_AGE_MASK | FT_CLASS_MASK | FT_OVF_MASK, see above */
};

_Static_assert(sizeof(struct flow_value) == 4, "flow value packs into the slot");
_Static_assert(sizeof(struct ft_slot) == 16, "slot is 16 bytes");

/*
 * The overflow count of a bucket (keys whose primary is this bucket, stored
 * in their secondary) is spread over the FT_OVF_MASK bits of its 4 slots,
 * which belong to the bucket and survive the slot being emptied or reused.
 */
struct ft_bucket {
	struct ft_slot slot[FT_SLOTS];
} __attribute__((aligned(FT_CACHE_LINE)));

_Static_assert(sizeof(struct ft_bucket) == FT_CACHE_LINE, "bucket is one cache line");

/* Owned by one worker lcore: read and written only by it, so no atomics. */
struct flow_table {
	/* Read on every lookup. */
	struct ft_bucket *buckets;
	uint64_t secret;
	uint32_t bucket_mask;
	uint32_t capacity;
	uint32_t timeout_ms[FLOW_TIMEOUT_MAX]; /* clamped to FT_AGE_MASK: the largest age seen */
	uint32_t touch_ms[FLOW_TIMEOUT_MAX];   /* idle time after which a hit restarts the timer */
	uint32_t emptied;        /* slots emptied so far (ft_free_slot): the epoch of struct flow_hint */

	/* New-flow token bucket, touched only on insert. */
	uint32_t new_flow_rate;  /* milli-tokens per ms == tokens per s; 0 = unlimited */
	uint64_t tb_max;         /* depth in milli-tokens */
	uint64_t tb_tokens;      /* milli-tokens available */
	uint64_t tb_last_ms;
	uint64_t tb_refill_cap;  /* elapsed ms that fill an empty bucket: bounds the product */

	struct flow_table_stats stats __attribute__((aligned(FT_CACHE_LINE)));
} __attribute__((aligned(FT_CACHE_LINE)));

static inline uint64_t ft_fp(uint64_t hash)
{
	return hash ? hash : 1; /* 0 marks an empty slot */
}

static inline uint32_t ft_primary(const struct flow_table *ft, uint64_t fp)
{
	return (uint32_t)fp & ft->bucket_mask;
}

/* Other bits than the primary's, and never the primary itself (there are at least two buckets). */
static inline uint32_t ft_secondary_of(uint32_t bucket_mask, uint64_t fp)
{
	uint32_t d = (uint32_t)(fp >> 32) & bucket_mask;

	d += (d == 0);
	return ((uint32_t)fp & bucket_mask) ^ d;
}

static inline uint32_t ft_secondary(const struct flow_table *ft, uint64_t fp)
{
	return ft_secondary_of(ft->bucket_mask, fp);
}

/* Bit s set when slot s holds fp; fp 0 gives the free slots. */
static inline uint32_t ft_match(const struct ft_bucket *b, uint64_t fp)
{
	return (uint32_t)(b->slot[0].fp == fp) | (uint32_t)(b->slot[1].fp == fp) << 1 |
	       (uint32_t)(b->slot[2].fp == fp) << 2 | (uint32_t)(b->slot[3].fp == fp) << 3;
}

static inline bool ft_has_overflow(const struct ft_bucket *b)
{
	return ((b->slot[0].meta | b->slot[1].meta | b->slot[2].meta | b->slot[3].meta) & FT_OVF_MASK) != 0;
}

static inline uint32_t ft_overflow(const struct ft_bucket *b)
{
	uint32_t c = 0;

	for (unsigned int s = 0; s < FT_SLOTS; s++)
		c |= (b->slot[s].meta >> FT_OVF_SHIFT) << (2 * s);
	return c;
}

static inline void ft_overflow_set(struct ft_bucket *b, uint32_t c)
{
	for (unsigned int s = 0; s < FT_SLOTS; s++)
		b->slot[s].meta = (b->slot[s].meta & ~FT_OVF_MASK) | (((c >> (2 * s)) & 3u) << FT_OVF_SHIFT);
}

static inline void ft_overflow_inc(struct ft_bucket *b)
{
	uint32_t c = ft_overflow(b);

	if (c != FT_OVF_MAX)
		ft_overflow_set(b, c + 1);
}

/* Saturated counts stay: the bucket then always sends misses on to the secondary, which is safe. */
static inline void ft_overflow_dec(struct ft_bucket *b)
{
	uint32_t c = ft_overflow(b);

	if (c != FT_OVF_MAX && c != 0)
		ft_overflow_set(b, c - 1);
}

static inline uint32_t ft_age(const struct ft_slot *sl, uint32_t now32)
{
	/* Unsigned difference: correct across the wrap of the truncated clock. */
	return (now32 - sl->meta) & FT_AGE_MASK;
}

static inline uint32_t ft_class(const struct ft_slot *sl)
{
	return (sl->meta & FT_CLASS_MASK) >> FT_CLASS_SHIFT;
}

static inline uint8_t ft_class_of(uint8_t proto, uint8_t tcp_flags)
{
	if (proto != KEEL_PROTO_TCP)
		return FLOW_TIMEOUT_UDP;
	return (tcp_flags & (KEEL_TCP_FIN | KEEL_TCP_RST)) ? FLOW_TIMEOUT_TCP_CLOSING : FLOW_TIMEOUT_TCP;
}

/*
 * A hit on a live slot: restart its idle timer only when it has run
 * touch_ms or the class changes, so steady hit traffic reads the line
 * without writing it.
 */
static inline void ft_touch(const struct flow_table *ft, struct ft_slot *sl, uint32_t age, uint8_t tcp_flags,
			    uint32_t now32)
{
	uint32_t cls = ft_class(sl);

	if ((tcp_flags & (KEEL_TCP_FIN | KEEL_TCP_RST)) && cls == FLOW_TIMEOUT_TCP)
		cls = FLOW_TIMEOUT_TCP_CLOSING;
	else if (age < ft->touch_ms[cls])
		return;
	sl->meta = (sl->meta & FT_OVF_MASK) | (cls << FT_CLASS_SHIFT) | (now32 & FT_AGE_MASK);
}

/* Empty a slot, keeping the overflow count of its key's primary bucket exact. */
static inline void ft_free_slot(struct flow_table *ft, uint32_t bkt, unsigned int s)
{
	struct ft_slot *sl = &ft->buckets[bkt].slot[s];
	uint32_t prim = ft_primary(ft, sl->fp);

	if (prim != bkt)
		ft_overflow_dec(&ft->buckets[prim]);
	sl->fp = 0;
	ft->emptied++;
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

/* Slot index of fp in its primary, or in its secondary when the primary overflowed; -1 if absent. */
static int64_t ft_find_fp(const struct flow_table *ft, const uint32_t bkt[2], uint64_t fp)
{
	const struct ft_bucket *pb = &ft->buckets[bkt[0]];
	uint32_t m = ft_match(pb, fp);

	if (m)
		return ((int64_t)bkt[0] << FT_SLOTS_LOG2) | __builtin_ctz(m);
	if (ft_has_overflow(pb) && (m = ft_match(&ft->buckets[bkt[1]], fp)) != 0)
		return ((int64_t)bkt[1] << FT_SLOTS_LOG2) | __builtin_ctz(m);
	return -1;
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
