/* Seeded hashes fully defined here, so that every host and every build computes the same value. */
#ifndef KEEL_CORE_HASH_H
#define KEEL_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkt.h"

/*
 * Loads are little-endian whatever the host, because the Maglev choice must
 * agree across a fleet that could mix architectures.
 */
static inline uint64_t keel_load64_le(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* MurmurHash3's 64-bit finaliser: every input bit affects every output bit. */
static inline uint64_t keel_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * keel_hash_step in two halves, for loops that absorb the same words many
 * times (maglev_digest_n): the word's multiply, done once per word, and the
 * part that depends on the state.
 */
static inline uint64_t keel_hash_word(uint64_t w)
{
	return w * 0x9e3779b97f4a7c15ULL;
}

static inline uint64_t keel_hash_absorb(uint64_t h, uint64_t hashed_word)
{
	h ^= hashed_word;
	h = (h << 29) | (h >> 35);
	return h * 0xbf58476d1ce4e5b9ULL;
}

/* One absorption step: multiply-rotate, cheap and with a short dependency chain. */
static inline uint64_t keel_hash_step(uint64_t h, uint64_t w)
{
	return keel_hash_absorb(h, keel_hash_word(w));
}

/* Hash of an arbitrary byte string; used off the hot path (backend keys, VIP keys, digests). */
static inline uint64_t keel_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = seed ^ (len * 0x94d049bb133111ebULL);
	uint8_t tail[8] = { 0 };

	while (len >= 8) {
		h = keel_hash_step(h, keel_load64_le(p));
		p += 8;
		len -= 8;
	}
	if (len) {
		memcpy(tail, p, len);
		h = keel_hash_step(h, keel_load64_le(tail));
	}
	return keel_mix64(h);
}

/* Hash of a flow key (40 bytes, five words). */
static inline uint64_t keel_hash_key(const struct keel_flow_key *k, uint64_t seed)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = seed;

	h = keel_hash_step(h, keel_load64_le(p));
	h = keel_hash_step(h, keel_load64_le(p + 8));
	h = keel_hash_step(h, keel_load64_le(p + 16));
	h = keel_hash_step(h, keel_load64_le(p + 24));
	h = keel_hash_step(h, keel_load64_le(p + 32));
	return keel_mix64(h);
}

/*
 * The fleet-wide flow hash that picks a Maglev slot: seeded with the fleet
 * seed from the configuration, never with anything host-local.
 */
static inline uint32_t keel_flow_hash(const struct keel_flow_key *k, uint64_t fleet_seed)
{
	return (uint32_t)(keel_hash_key(k, fleet_seed) >> 32);
}

#endif
