/* Maglev consistent hashing: deterministic table builder, lookup by multiply-shift, and table digest. */
#ifndef KEEL_CORE_MAGLEV_H
#define KEEL_CORE_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One backend as the builder sees it. key identifies the backend stably across
 * hosts and restarts (its address bytes: 16, IPv4 in the first 4, rest zero,
 * followed by the family byte). id is what goes into the table slots.
 */
struct maglev_backend {
	uint8_t key[17];
	uint16_t id;
	uint32_t weight; /* 0 takes no slots */
};

/* Whether m is prime (trial division; builder-side only). */
bool maglev_is_prime(uint32_t m);

/*
 * Fill table[0..m) with backend ids. Backends are ordered by key before
 * filling, so the caller's order does not matter; offset and skip of each
 * backend come from keel_hash_bytes(key, seed) with two fixed derivations.
 * Weights share the slots by proportional turns. When every weight is 0 the
 * table is filled with KEEL_BACKEND_NONE.
 * Returns 0, -EINVAL (m not prime, m > KEEL_MAGLEV_MAX_SIZE, n > m, duplicate
 * keys, a backend of nonzero weight with id KEEL_BACKEND_NONE) or -ENOMEM.
 */
int maglev_build(uint16_t *table, uint32_t m, const struct maglev_backend *backends,
		 uint32_t n, uint64_t seed);

/* Slot for a 32-bit flow hash: multiply-shift range reduction, not modulo. */
static inline uint32_t maglev_slot(uint32_t hash, uint32_t m)
{
	return (uint32_t)(((uint64_t)hash * m) >> 32);
}

static inline uint16_t maglev_lookup(const uint16_t *table, uint32_t m, uint32_t hash)
{
	return table[maglev_slot(hash, m)];
}

/*
 * Digest operators compare across hosts: a hash over, slot by slot, the key
 * of the backend that owns it (not its id, which is host-local). keys[id] is
 * the key of backend id; nkeys bounds the ids. Empty slots hash as zeros.
 */
uint64_t maglev_digest(const uint16_t *table, uint32_t m, const uint8_t (*keys)[17],
		       uint32_t nkeys);

/*
 * maglev_digest of n tables (tables[j] of m[j] slots) into out[j], the same
 * values, several times faster: one digest is a chain of dependent steps,
 * and here four tables' chains are interleaved, with each key's words
 * multiplied once. Returns 0 or -ENOMEM.
 */
int maglev_digest_n(const uint16_t *const *tables, const uint32_t *m, uint32_t n, const uint8_t (*keys)[17],
		    uint32_t nkeys, uint64_t *out);

/*
 * A fast fingerprint of a table's raw ids (not keyed by address: not for
 * comparing hosts): four independent hash lanes, about 20 times cheaper than
 * maglev_digest, whose three dependent steps a slot bound it. It tells a
 * table unchanged since its digest was computed (keel_seam_digests' memo).
 */
uint64_t maglev_table_fingerprint(const uint16_t *table, uint32_t m);

#endif
