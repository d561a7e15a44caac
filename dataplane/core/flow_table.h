/* Per-worker connection table: fixed capacity, bucketised, keyed hash, idle timeouts, bounded new-flow rate. */
#ifndef KEEL_CORE_FLOW_TABLE_H
#define KEEL_CORE_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/*
 * What a tracked flow remembers, stored inside the table's slot: callers may
 * rewrite both fields through the pointer they are given (a re-chosen flow).
 */
struct flow_value {
	uint16_t backend; /* stable backend id */
	uint16_t vip;     /* stable VIP id */
};

/* Idle timeout classes (flow_table_params.timeout_ms[]). */
enum flow_timeout_class {
	FLOW_TIMEOUT_TCP = 0,         /* TCP, no FIN or RST seen */
	FLOW_TIMEOUT_TCP_CLOSING = 1, /* TCP after FIN or RST */
	FLOW_TIMEOUT_UDP = 2,         /* UDP and everything else */
	FLOW_TIMEOUT_MAX
};

struct flow_table_params {
	uint32_t capacity;      /* entries; rounded up to a power of two >= 8 */
	uint64_t secret;        /* per-host hash key */
	uint32_t timeout_ms[FLOW_TIMEOUT_MAX]; /* >= 2^28 - 1 (~74 h) never expires */
	uint32_t new_flow_rate; /* inserts per second allowed; 0 = unlimited */
	uint32_t new_flow_burst;/* token bucket depth */
};

struct flow_table_stats {
	uint64_t hits;
	uint64_t misses;
	uint64_t inserts;
	uint64_t evictions;     /* a live entry pushed out to make room */
	uint64_t expirations;   /* an idle entry found expired and reused or removed */
	uint64_t insert_skipped;/* new flows forwarded untracked: over the new-flow rate */
	uint64_t occupancy;     /* live entries (approximate: expired ones count until reclaimed) */
};

struct flow_table;

/* The capacity a table asked for this many entries gets (0: too many). */
uint32_t flow_table_round_capacity(uint32_t capacity);

/* Bytes needed for a table of this capacity (after rounding). */
size_t flow_table_mem_size(uint32_t capacity);

/*
 * Lay a table out in caller memory (zeroed or not: init clears it), so the
 * DPDK process can use hugepages on the worker's socket and tests plain
 * memory. Nothing is allocated afterwards. Returns NULL with errno EINVAL on
 * bad parameters or a too small area.
 */
struct flow_table *flow_table_init(void *mem, size_t mem_size, const struct flow_table_params *p);

/*
 * The table's own state (the pointer to its buckets, the hash key, sizes,
 * timeouts, counters) apart from its buckets, for buckets in memory that
 * is not trusted to keep it: a flow-table file another process could map
 * (dataplane/flow_store.c). Only buckets then go to that memory; the
 * state, read on every lookup, stays in the caller's private memory.
 */
#define FLOW_TABLE_STATE_SIZE 256u
struct flow_table_state {
	_Alignas(64) unsigned char opaque[FLOW_TABLE_STATE_SIZE];
};

/* Bytes of the buckets alone of a table of this capacity (0: too many); they must be 64-byte aligned. */
size_t flow_table_buckets_size(uint32_t capacity);

/* flow_table_init with the state in st and the buckets (zeroed here) at buckets. */
struct flow_table *flow_table_init_buckets(struct flow_table_state *st, void *buckets, size_t buckets_size,
					   const struct flow_table_params *p);

/*
 * Take over the buckets an earlier process left at buckets (a keel-dataplane
 * restart: see dataplane/flow_store.c), with the same capacity and secret,
 * the state in st. The timeouts and rate come from p; the statistics start
 * again. Every slot is checked: one that is impossible (a fingerprint
 * outside its two buckets, a timeout class out of range) or whose value
 * keep (when not NULL) returns 0 for is emptied and counted in *dropped;
 * the other flows are kept. NULL with EINVAL as flow_table_init_buckets.
 */
struct flow_table *flow_table_adopt_buckets(struct flow_table_state *st, void *buckets, size_t buckets_size,
					    const struct flow_table_params *p,
					    int (*keep)(const struct flow_value *, void *), void *arg,
					    uint32_t *dropped);

/*
 * Bumped whenever what flow_table_init lays out changes (struct flow_table,
 * buckets, slots, flow_value, the meta word, the hashing of fingerprints to
 * buckets): a table of another layout is never adopted.
 */
#define FLOW_TABLE_LAYOUT 2u /* 2: buckets alone in a file, the state apart (flow_table_init_buckets) */

/*
 * A hit restarts a flow's idle timer only once it has run this long (or an
 * eighth of the flow's timeout, when that is shorter), so that hit traffic
 * does not dirty a cache line per packet: idle timeouts are accurate to about
 * a second. A FIN or RST that moves a flow to the closing class always
 * restarts it.
 */
#define FLOW_TABLE_TOUCH_MS 1000u

/*
 * Burst lookup, in stages across the burst: hash every key and prefetch its
 * primary bucket, then compare fingerprints there (and prefetch the secondary
 * bucket only when needed), then resolve the rest. For each key, values[i] is
 * the tracked value (refreshed: see FLOW_TABLE_TOUCH_MS; tcp_flags with FIN
 * or RST move it to the closing class) or NULL on a miss or an expired entry.
 * hashes[i] receives the table hash for a following flow_table_insert. now_ms
 * is a monotonic clock in ms. n <= FLOW_TABLE_BURST_MAX. tcp_flags and hashes
 * may be NULL.
 */
#define FLOW_TABLE_BURST_MAX 64
void flow_table_lookup_burst(struct flow_table *ft, const struct keel_flow_key *const keys[],
			     const uint8_t tcp_flags[], uint32_t n, uint64_t now_ms,
			     struct flow_value *values[], uint64_t hashes[]);

/*
 * Where a lookup saw room for a key it did not find: a free slot of the key's
 * primary bucket, for flow_table_insert_hinted to take without searching the
 * buckets again. It stays good while no slot of the table has been emptied
 * since the lookup (epoch: the table counts every emptied slot); see
 * flow_table_insert_hinted for why that makes it safe.
 */
#define FLOW_HINT_NONE 0xffu
struct flow_hint {
	uint32_t epoch; /* the table's count of emptied slots when the lookup began */
	uint8_t slot;   /* free slot of the primary bucket, FLOW_HINT_NONE: none seen */
};

/*
 * flow_table_lookup_burst that also gives, in hints[i], for every key whose
 * values[i] is NULL, where its flow_table_insert_hinted may go (left unset
 * for the others).
 */
void flow_table_lookup_burst_hinted(struct flow_table *ft, const struct keel_flow_key *const keys[],
				    const uint8_t tcp_flags[], uint32_t n, uint64_t now_ms,
				    struct flow_value *values[], uint64_t hashes[], struct flow_hint hints[]);

/*
 * Track a new flow. Takes a free slot in the key's primary bucket, else in
 * its secondary, else the oldest expired slot of the two, else evicts the
 * least recently used entry there. Returns the stored value, or
 * NULL when the new-flow rate is exceeded (counted in insert_skipped): the
 * caller then forwards by hash without tracking. A key already tracked (a
 * second packet of a new flow in the same burst) is refreshed and its stored
 * value returned unchanged, without taking a token.
 */
struct flow_value *flow_table_insert(struct flow_table *ft, const struct keel_flow_key *key,
				     uint64_t hash, const struct flow_value *v, uint8_t tcp_flags,
				     uint64_t now_ms, bool *created);

/*
 * flow_table_insert for a key that flow_table_lookup_burst_hinted missed,
 * with the hint it gave (in the same burst: a 32-bit epoch that wrapped
 * would not be noticed): when the hinted slot is still free and no slot was emptied
 * since, the flow goes there without a second probe of its buckets (taking a
 * token as flow_table_insert does); otherwise this is flow_table_insert.
 * Another packet of the same new flow earlier in the burst needs no separate
 * guard: it had the same hint, so it either took that slot (now not free)
 * or found it taken already, and slots are not emptied without the epoch
 * moving on.
 */
struct flow_value *flow_table_insert_hinted(struct flow_table *ft, const struct keel_flow_key *key,
					    uint64_t hash, struct flow_hint hint,
					    const struct flow_value *v, uint8_t tcp_flags,
					    uint64_t now_ms, bool *created);

/*
 * The tracked value of a flow, or NULL when it is not tracked or idle past
 * its timeout; unlike a lookup it changes nothing (no refresh, no counter).
 * For operators' "which backend, and why" queries.
 */
const struct flow_value *flow_table_peek(const struct flow_table *ft,
					 const struct keel_flow_key *key, uint64_t now_ms);

/* Remove one flow; returns 0 or -ENOENT. */
int flow_table_remove(struct flow_table *ft, const struct keel_flow_key *key);

/*
 * Remove every flow whose value matches pred (e.g. those of a flushed
 * backend), scanning at most max_buckets buckets from *cursor so a worker can
 * spread the work between bursts. Returns the number removed; *cursor wraps
 * to 0 when a full pass is done.
 */
uint32_t flow_table_flush(struct flow_table *ft, int (*pred)(const struct flow_value *, void *),
			  void *arg, uint32_t *cursor, uint32_t max_buckets);

/*
 * Count the live flows by backend id (operators' "active connections"),
 * scanning at most max_buckets buckets from *cursor: counts[id] grows by one
 * per live flow of backend id < n_counts, and *hi becomes at least the
 * highest such id + 1. *cursor wraps to 0 when a full pass is done; the
 * counts of a pass are a census of the table spread over its duration, not a
 * snapshot. Changes nothing in the table.
 */
uint32_t flow_table_census(const struct flow_table *ft, uint64_t now_ms, uint64_t counts[],
			   uint32_t n_counts, uint32_t *hi, uint32_t *cursor, uint32_t max_buckets);

/* Buckets of the table (a full census pass scans this many). */
uint32_t flow_table_buckets(const struct flow_table *ft);

void flow_table_get_stats(const struct flow_table *ft, struct flow_table_stats *out);
uint32_t flow_table_capacity(const struct flow_table *ft);

#endif
