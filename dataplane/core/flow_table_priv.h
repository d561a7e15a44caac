/* The flow table's layout (slots, buckets, the table) and the slot helpers its files share; see flow_table.c for why. */
#ifndef KEEL_CORE_FLOW_TABLE_PRIV_H
#define KEEL_CORE_FLOW_TABLE_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"

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

/* Slot index of fp in its primary, or in its secondary when the primary overflowed; -1 if absent. */
static inline int64_t ft_find_fp(const struct flow_table *ft, const uint32_t bkt[2], uint64_t fp)
{
	const struct ft_bucket *pb = &ft->buckets[bkt[0]];
	uint32_t m = ft_match(pb, fp);

	if (m)
		return ((int64_t)bkt[0] << FT_SLOTS_LOG2) | __builtin_ctz(m);
	if (ft_has_overflow(pb) && (m = ft_match(&ft->buckets[bkt[1]], fp)) != 0)
		return ((int64_t)bkt[1] << FT_SLOTS_LOG2) | __builtin_ctz(m);
	return -1;
}

#endif
