/* VIP lookup: open addressing over the snapshot's VIP hash, exact port first, then all-ports. */
#include "vip.h"

#include <string.h>

#include "hash.h"

/*
 * Runs per packet, so two multiply-rotate steps over the address words with
 * family, protocol and port folded in, not the general byte hash.
 */
uint64_t vip_hash_key(const uint8_t addr[16], uint8_t family, uint16_t port, uint8_t proto)
{
	uint64_t meta = (uint64_t)family | (uint64_t)proto << 8 | (uint64_t)port << 16;
	uint64_t h = keel_hash_step(KEEL_VIP_HASH_SEED ^ meta, keel_load64_le(addr));

	if (family == KEEL_AF_INET6)
		h = keel_hash_step(h, keel_load64_le(addr + 8));
	return h ^ (h >> 29);
}

enum match { MATCH_EXACT, MATCH_ALL_PORTS, MATCH_ADDR };

static inline int vip_matches(const struct keel_vip *v, uint8_t family, const uint8_t addr[16],
			      uint16_t port, uint8_t proto, enum match how)
{
	if (v->family != family || memcmp(v->addr, addr, 16))
		return 0;
	switch (how) {
	case MATCH_EXACT:
		return v->proto == proto && v->port == port && !(v->flags & KEEL_VIP_ALL_PORTS);
	case MATCH_ALL_PORTS:
		return v->proto == proto && (v->flags & KEEL_VIP_ALL_PORTS);
	default:
		return 1;
	}
}

static inline uint16_t probe(const struct keel_snapshot *s, uint8_t family, const uint8_t addr[16],
		      uint16_t port, uint8_t proto, enum match how)
{
	const struct keel_vip *vips = keel_snapshot_vips(s);
	const uint16_t *h = keel_snapshot_vip_hash(s);
	uint32_t mask = s->vip_hash_size - 1;
	uint32_t pos = (uint32_t)vip_hash_key(addr, family, how == MATCH_EXACT ? port : 0,
					      how == MATCH_ADDR ? 0 : proto) & mask;
	uint32_t n;

	/* The builder keeps the table at most half full, so chains are short and end on a hole. */
	for (n = 0; n <= mask; n++, pos = (pos + 1) & mask) {
		uint16_t e = h[pos];

		if (!e)
			break;
		if (vip_matches(&vips[e - 1], family, addr, port, proto, how))
			return (uint16_t)(e - 1);
	}
	return KEEL_VIP_NONE;
}

uint16_t vip_lookup(const struct keel_snapshot *s, uint8_t family, const uint8_t addr[16],
		    uint16_t port, uint8_t proto)
{
	uint16_t v = probe(s, family, addr, port, proto, MATCH_EXACT);

	if (v == KEEL_VIP_NONE)
		v = probe(s, family, addr, port, proto, MATCH_ALL_PORTS);
	return v;
}

uint16_t vip_lookup_addr(const struct keel_snapshot *s, uint8_t family, const uint8_t addr[16])
{
	return probe(s, family, addr, 0, 0, MATCH_ADDR);
}
