/* Per-VIP source allow/deny lists: the flat form in the snapshot, its lookup, its builder and its check. */
#ifndef KEEL_CORE_SOURCE_LIST_H
#define KEEL_CORE_SOURCE_LIST_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pkt.h"

/*
 * Why a flat structure in the snapshot and not rte_lpm/rte_lpm6 (docs/config.md,
 * "Source lists"): the snapshot is one offset-based blob that keel-control
 * writes and every worker maps read-only; an rte_lpm would have to be built by
 * each worker (allocation, seconds for 100 000 IPv6 prefixes) at activation,
 * and freed after a grace period, in a core that has no EAL (keel-replay,
 * tests, fuzzers run it). Allow and deny entries may not overlap (the
 * configuration refuses it), so a list is one set of addresses plus a sense:
 * the set is merged into sorted, disjoint ranges and stored as their sorted
 * boundaries (each range's first address, and the one after its last). An
 * address is in the set when an odd number of boundaries are <= it. Large
 * lists add an index by the address's top 16 bits, so the binary search runs
 * over the few boundaries under one /16 (IPv4) or /16 of IPv6 space.
 */

enum keel_src_mode {
	KEEL_SRC_ENFORCE = 0, /* refused sources are dropped (source_denied) */
	KEEL_SRC_COUNT = 1,   /* refused sources are counted and forwarded (a dry run) */
};

#define KEEL_SRC_MAX_PREFIXES 262144u /* per host, allow and deny together, all VIPs */
#define KEEL_SRC_INDEX_MIN 1024u      /* boundaries from which a list gets its /16 index */
#define KEEL_SRC_INDEX_LEN 65537u     /* index entries: one per top-16-bit value, then n */

struct keel_src_key6 {
	uint64_t hi, lo; /* host order */
};

/* In the snapshot at keel_vip.src_off (8-aligned); written by the builder, read-only after. */
struct keel_src_list {
	uint8_t mode;       /* enum keel_src_mode */
	uint8_t refuse_in;  /* 1: the set is the deny list; 0: the allow list (all else refused) */
	uint8_t family;     /* the VIP's */
	uint8_t pad;
	uint32_t n;         /* boundaries */
	uint32_t bound_off; /* snapshot offset of n uint32_t (IPv4) or struct keel_src_key6, ascending */
	uint32_t index_off; /* 0, or snapshot offset of KEEL_SRC_INDEX_LEN uint32_t: entry t is the
			     * number of boundaries whose top 16 bits are below t */
};

/* A prefix as the builder takes it: host bits zero, of the VIP's family. */
struct keel_src_prefix {
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint8_t plen;
};

/* A VIP's list as configured (keel_vip_spec.sources, and the configuration model). */
struct keel_src_spec {
	uint8_t mode; /* enum keel_src_mode */
	uint32_t n_allow, n_deny;
	struct keel_src_prefix *allow, *deny;
};

static inline const struct keel_src_list *keel_src_list_at(const void *snap, uint32_t off)
{
	return (const struct keel_src_list *)((const uint8_t *)snap + off);
}

/* Boundaries in [lo, hi) that are <= x, IPv4: a branch-free lower bound (cmov, no mispredicts). */
static inline uint32_t keel_src_count4(const uint32_t *b, uint32_t lo, uint32_t hi, uint32_t x)
{
	uint32_t n = hi - lo;
	const uint32_t *p = b + lo;

	while (n > 1) {
		uint32_t half = n / 2;

		p = p[half - 1] <= x ? p + half : p;
		n -= half;
	}
	return (uint32_t)(p - b) + (n == 1 && *p <= x);
}

static inline int keel_src_le6(const struct keel_src_key6 *k, uint64_t hi, uint64_t lo)
{
	return k->hi < hi || (k->hi == hi && k->lo <= lo);
}

static inline uint32_t keel_src_count6(const struct keel_src_key6 *b, uint32_t lo, uint32_t hi,
				       uint64_t xh, uint64_t xl)
{
	uint32_t n = hi - lo;
	const struct keel_src_key6 *p = b + lo;

	while (n > 1) {
		uint32_t half = n / 2;

		p = keel_src_le6(&p[half - 1], xh, xl) ? p + half : p;
		n -= half;
	}
	return (uint32_t)(p - b) + (n == 1 && keel_src_le6(p, xh, xl));
}

/* Whether list l (of snapshot snap) refuses source src (network order, the VIP's family). */
static inline int keel_src_list_refuses(const void *snap, const struct keel_src_list *l,
					const uint8_t src[16])
{
	const uint8_t *base = snap;
	const uint32_t *idx = l->index_off ? (const uint32_t *)(base + l->index_off) : NULL;
	uint32_t lo = 0, hi = l->n, in;

	if (l->family == KEEL_AF_INET4) {
		uint32_t x;

		memcpy(&x, src, 4);
		x = __builtin_bswap32(x);
		if (idx) {
			lo = idx[x >> 16];
			hi = idx[(x >> 16) + 1];
		}
		in = keel_src_count4((const uint32_t *)(base + l->bound_off), lo, hi, x) & 1;
	} else {
		uint64_t xh, xl;

		memcpy(&xh, src, 8);
		memcpy(&xl, src + 8, 8);
		xh = __builtin_bswap64(xh);
		xl = __builtin_bswap64(xl);
		if (idx) {
			lo = idx[xh >> 48];
			hi = idx[(xh >> 48) + 1];
		}
		in = keel_src_count6((const struct keel_src_key6 *)(base + l->bound_off), lo, hi, xh,
				     xl) & 1;
	}
	return (int)(in ^ !l->refuse_in);
}

/*
 * Builder, in two steps so the snapshot can be laid out first: the bytes a
 * list needs (an upper bound: merging may shrink it), then the list written
 * at snapshot offset off of base (8-aligned). keel_src_list_write returns
 * the bytes used (<= the size) or a negative errno (-EINVAL: a prefix of the
 * wrong family or length, -ENOMEM).
 */
size_t keel_src_list_size(const struct keel_src_spec *spec, uint8_t family);
long keel_src_list_write(uint8_t *base, size_t off, const struct keel_src_spec *spec,
			 uint8_t family);

/* Whether a list at off of a snapshot of size bytes is sound for a VIP of family: 0 or -EINVAL. */
int keel_src_list_validate(const void *snap, uint64_t size, uint32_t off, uint8_t family,
			   const char **why);

#endif
