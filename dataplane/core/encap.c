/* Encapsulation towards a backend: prepend Ethernet + outer IPv4/IPv6 (+ UDP + GUE) in the headroom, in front of the untouched inner packet. */
#include "encap.h"

#include <arpa/inet.h>
#include <string.h>

#include "csum.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100

#define IPPROTO_IPIP_ 4  /* IPv4 payload, RFC 2003 */
#define IPPROTO_IPV6_ 41 /* IPv6 payload, RFC 2473 / RFC 4213 */

/* GUE variant 0 (draft-ietf-intarea-gue 3.1): ver 0, C 0, Hlen 0, proto, flags 0. */
#define GUE_HDR_LEN 4

/* Ephemeral port range (RFC 6335 6): source ports carrying entropy stay inside it. */
#define UDP_EPHEMERAL_BASE 0xc000u

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Mask of the host bits of a 32-bit word whose first plen bits are prefix (plen 0..32). */
static inline uint32_t host_mask32(unsigned int plen)
{
	return plen >= 32 ? 0 : 0xffffffffu >> plen;
}

/*
 * Outer IPv4 header (RFC 791): DF set and ID 0 (RFC 6864 4.1: the ID has no
 * meaning for atomic datagrams); TOS copied whole: DSCP per RFC 2983
 * uniform model, ECN per RFC 6040 normal mode, so congestion marks set on
 * the outer header can be propagated at decapsulation.
 */
static inline void encap_ip4(uint8_t *ip, const struct keel_snapshot *s,
			     const struct keel_backend *be, uint8_t tos, uint16_t total,
			     uint8_t proto, uint32_t entropy)
{
	uint32_t mask = host_mask32(s->src4_plen);
	uint32_t src = (get32(s->src4) & ~mask) | (entropy & mask);
	uint32_t dst = get32(be->addr);
	/*
	 * Checksum from the field values, not by reading the header back:
	 * re-reading freshly stored bytes as wider words defeats store-to-load
	 * forwarding and cost more than the rest of the encapsulation.
	 */
	uint32_t sum = (0x4500u | tos) + total + 0x4000u + ((uint32_t)s->ttl << 8 | proto) +
		       (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);

	uint32_t w0 = htonl(0x45000000u | (uint32_t)tos << 16 | total);
	uint32_t w1 = htonl(0x00004000u); /* ID 0, DF, offset 0 */
	uint32_t w2 = htonl((uint32_t)s->ttl << 24 | (uint32_t)proto << 16 | csum_fold(sum));
	uint32_t w3 = htonl(src), w4 = htonl(dst);

	/*
	 * Five 4-byte stores straight from registers instead of a dozen byte
	 * stores (and no staging buffer whose wide reload would stall): this
	 * runs for every forwarded packet.
	 */
	memcpy(ip, &w0, 4);
	memcpy(ip + 4, &w1, 4);
	memcpy(ip + 8, &w2, 4);
	memcpy(ip + 12, &w3, 4);
	memcpy(ip + 16, &w4, 4);
}

/*
 * Outer IPv6 header (RFC 8200). The flow label carries 20 bits of entropy
 * (RFC 6438: tunnel endpoints should set it per inner flow, so backends and
 * ECMP hash on it). The low 32 bits of the source hold the entropy in the
 * bits beyond src6_plen; host bits above the last 32 are the configured
 * address's own (normally zero).
 */
static inline void encap_ip6(uint8_t *ip, const struct keel_snapshot *s,
			     const struct keel_backend *be, uint8_t tclass, uint16_t plen,
			     uint8_t nexthdr, uint32_t entropy)
{
	uint32_t mask = s->src6_plen >= 96 ? host_mask32(s->src6_plen - 96u) : 0xffffffffu;
	uint32_t fl = entropy & 0xfffff;

	/* RFC 6437 2: a zero label means "unlabelled"; keep it a label. */
	if (fl == 0)
		fl = 1;
	put32(ip, 6u << 28 | (uint32_t)tclass << 20 | fl);
	put16(ip + 4, plen);
	ip[6] = nexthdr;
	ip[7] = s->ttl;
	memcpy(ip + 8, s->src6, 12);
	put32(ip + 20, (get32(s->src6 + 12) & ~mask) | (entropy & mask));
	memcpy(ip + 24, be->addr, 16);
}

/*
 * One body, specialised by the wrappers below on compile-time constants
 * (outer family, GUE or not, VLAN or not), so that each common case is
 * straight-line code without the selects between variants (VPP lb's
 * lb_node_fn idea; measured with callgrind, docs/performance.md).
 */
static inline __attribute__((always_inline)) enum keel_drop
encap_body(struct keel_buf *b, const struct keel_pkt *p, const struct keel_snapshot *s,
	   const struct keel_backend *be, const int outer6, const int gue, const int vlan,
	   uint32_t entropy, uint16_t *inner_mtu)
{
	const uint8_t inner_proto = p->key.family == KEEL_AF_INET6 ? IPPROTO_IPV6_ : IPPROTO_IPIP_;
	const uint16_t eth_len = ENCAP_ETH_LEN + (vlan ? ENCAP_VLAN_LEN : 0);
	const uint16_t overhead = encap_overhead(outer6 ? KEEL_AF_INET6 : KEEL_AF_INET4,
						 gue ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP);
	const uint32_t outer_total = (uint32_t)overhead + p->l3_len;
	uint32_t need, old_end;
	uint8_t *h, *ip, *l4;

	if (outer_total > s->mtu || outer_total + eth_len > UINT16_MAX) {
		*inner_mtu = s->mtu > overhead ? (uint16_t)(s->mtu - overhead) : 0;
		return KEEL_DROP_TOO_BIG;
	}
	/*
	 * The new headers end where the inner packet starts, overwriting the
	 * old Ethernet header and reaching back into the headroom.
	 */
	need = (uint32_t)eth_len + overhead;
	if (need > (uint32_t)p->l3_off + b->headroom)
		return KEEL_DROP_NO_HEADROOM;

	h = b->data + p->l3_off - need;
	/* Ethernet; the TCI is p's copy, the bytes it came from may be overwritten. */
	memcpy(h, be->mac, 6);
	memcpy(h + 6, s->src_mac, 6);
	if (vlan) {
		put16(h + 12, ETH_P_8021Q);
		put16(h + 14, p->vlan_tci);
	}
	put16(h + eth_len - 2, outer6 ? ETH_P_IPV6 : ETH_P_IP);

	ip = h + eth_len;
	if (outer6)
		encap_ip6(ip, s, be, p->tos, (uint16_t)(outer_total - 40),
			  gue ? KEEL_PROTO_UDP : inner_proto, entropy);
	else
		encap_ip4(ip, s, be, p->tos, (uint16_t)outer_total,
			  gue ? KEEL_PROTO_UDP : inner_proto, entropy);

	if (gue) {
		uint16_t udp_len = (uint16_t)(8 + GUE_HDR_LEN + p->l3_len);

		l4 = ip + (outer6 ? 40 : 20);
		/* Top 14 entropy bits: the flow label and source use the low ones. */
		put16(l4, (uint16_t)(UDP_EPHEMERAL_BASE | entropy >> 18));
		put16(l4 + 2, s->gue_port);
		put16(l4 + 4, udp_len);
		l4[6] = 0;
		l4[7] = 0;
		put32(l4 + 8, (uint32_t)inner_proto << 16);
		if (outer6) {
			/*
			 * RFC 8200 8.1: UDP over IPv6 needs a checksum (the
			 * zero-checksum exception of RFC 6935/6936 is opt-in per
			 * tunnel; we do not assume it). The only loop over the
			 * payload on this path.
			 */
			uint32_t sum = csum_pseudo6(ip + 8, ip + 24, KEEL_PROTO_UDP, udp_len);
			uint16_t c;

			sum = csum_add_bytes(sum, l4, udp_len);
			c = csum_fold(sum);
			csum_store(l4 + 6, c ? c : 0xffff); /* RFC 768: 0 means none */
		}
		/* IPv4: checksum 0, RFC 768 and draft-ietf-intarea-gue 5.6.1. */
	}

	/* Ethernet padding after the inner packet is dropped; it becomes tailroom. */
	old_end = (uint32_t)b->headroom + b->len + b->tailroom;
	b->headroom = (uint16_t)(b->headroom + p->l3_off - need);
	b->data = h;
	b->len = (uint16_t)(eth_len + outer_total);
	b->tailroom = (uint16_t)(old_end - b->headroom - b->len);
	return KEEL_DROP_NONE;
}

enum keel_drop encap_packet(struct keel_buf *b, const struct keel_pkt *p,
			    const struct keel_snapshot *s, const struct keel_backend *be,
			    uint8_t encap, uint32_t entropy, uint16_t *inner_mtu)
{
	const int outer6 = be->family == KEEL_AF_INET6;
	const int vlan = !!(p->flags & KEEL_PKT_VLAN);

	if (encap == KEEL_ENCAP_GUE)
		return encap_body(b, p, s, be, outer6, 1, vlan, entropy, inner_mtu);
	/* IP in IP, the default: one straight-line copy per outer family, untagged. */
	if (vlan)
		return encap_body(b, p, s, be, outer6, 0, 1, entropy, inner_mtu);
	if (outer6)
		return encap_body(b, p, s, be, 1, 0, 0, entropy, inner_mtu);
	return encap_body(b, p, s, be, 0, 0, 0, entropy, inner_mtu);
}
