/* Encapsulation towards a backend: prepend Ethernet + outer IPv4/IPv6 (+ UDP + GUE) in the headroom, in front of the untouched inner packet. */
#include "encap.h"

#include <arpa/inet.h>
#include <string.h>

#include "csum.h"
#include "wire.h"

/* Ephemeral port range (RFC 6335 6): source ports carrying entropy stay inside it. */
#define UDP_EPHEMERAL_BASE 0xc000u

/* Mask of the host bits of a 32-bit word whose first plen bits are prefix (plen 0..32). */
static inline uint32_t host_mask32(unsigned int plen)
{
	return plen >= 32 ? 0 : 0xffffffffu >> plen;
}

void keel_encap_tmpl_fill(struct keel_encap_tmpl *t, const struct keel_snapshot *s,
			  const struct keel_backend *be)
{
	uint8_t *h = t->hdr, *ip = t->hdr + WIRE_ETH_HLEN, *l4;

	memset(t, 0, sizeof(*t));
	memcpy(h, be->mac, 6);
	memcpy(h + 6, s->src_mac, 6);
	if (be->family == KEEL_AF_INET6) {
		/*
		 * Outer IPv6 header (RFC 8200). The low 32 bits of the source
		 * carry entropy in the bits beyond src6_plen; host bits above
		 * the last 32 are the configured address's own (normally zero).
		 */
		uint32_t mask = s->src6_plen >= 96 ? host_mask32(s->src6_plen - 96u) : 0xffffffffu;
		uint32_t fixed = 0;

		/* Never the prefix's all-zeros host part: with a /64 that is the subnet-router
		 * anycast address (RFC 4291 2.6.1), no source. /127 and /128 are used as given. */
		if (mask >= 3) {
			fixed = 1;
			mask &= ~1u;
		}

		wire_put16(h + 12, WIRE_ETH_P_IPV6);
		ip[0] = 0x60;
		ip[7] = s->ttl;
		memcpy(ip + 8, s->src6, 12);
		wire_put32(ip + 20, (wire_get32(s->src6 + 12) & ~(mask | fixed)) | fixed);
		memcpy(ip + 24, be->addr, 16);
		t->ent_mask = mask;
		/* UDP pseudo-header (RFC 8200 8.1) less its length, plus the constant UDP port. */
		t->sum = csum_add_bytes(0, ip + 8, 32) + KEEL_PROTO_UDP + s->gue_port;
		l4 = ip + 40;
	} else {
		/*
		 * Outer IPv4 header (RFC 791): DF set and ID 0 (RFC 6864 4.1:
		 * the ID has no meaning for atomic datagrams).
		 */
		uint32_t mask = host_mask32(s->src4_plen);
		uint32_t fixed = 0;

		/*
		 * Never the network or the broadcast address of the prefix (a
		 * router drops a broadcast source as a martian, RFC 1812
		 * 5.3.7): for a /30 or shorter the lowest host bit is always
		 * 1 and the highest always 0, so two bits carry no entropy.
		 * A /31 (RFC 3021) and a /32 are used as given.
		 */
		if (mask >= 3) {
			fixed = 1;
			mask = (mask >> 1) & ~1u;
		}

		wire_put16(h + 12, WIRE_ETH_P_IPV4);
		ip[0] = 0x45;
		ip[6] = 0x40;
		ip[8] = s->ttl;
		wire_put32(ip + 12, (wire_get32(s->src4) & ~host_mask32(s->src4_plen)) | fixed);
		memcpy(ip + 16, be->addr, 4);
		t->ent_mask = mask;
		t->sum = csum_add_bytes(0, ip, 20);
		l4 = ip + 20;
	}
	/* UDP (source port, length, checksum per packet) and GUE variant 0 (protocol per packet). */
	wire_put16(l4 + 2, s->gue_port);
}

/*
 * One body, specialised by the wrappers below on compile-time constants
 * (outer family, GUE or not, VLAN or not), so that each common case is
 * straight-line code without the selects between variants (VPP lb's
 * lb_node_fn idea; measured with callgrind, docs/performance.md). The
 * headers come from the backend's template (a copy of constant length, a
 * few wide stores) and only the per-packet fields are written after it.
 */
static inline __attribute__((always_inline)) enum keel_drop
encap_body(struct keel_buf *b, const struct keel_pkt *p, const struct keel_snapshot *s,
	   const struct keel_backend *be, const int outer6, const int gue, const int vlan,
	   uint32_t entropy, uint16_t *inner_mtu)
{
	const struct keel_encap_tmpl *t = &be->tmpl;
	const uint8_t inner_proto = p->key.family == KEEL_AF_INET6 ? WIRE_IPPROTO_IPV6 : WIRE_IPPROTO_IPIP;
	const uint8_t proto = gue ? KEEL_PROTO_UDP : inner_proto;
	const uint16_t eth_len = WIRE_ETH_HLEN + (vlan ? WIRE_VLAN_HLEN : 0);
	const uint16_t ip_len = outer6 ? 40 : 20;
	const uint16_t overhead = encap_overhead(outer6 ? KEEL_AF_INET6 : KEEL_AF_INET4,
						 gue ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP);
	const size_t tlen = WIRE_ETH_HLEN + (size_t)overhead; /* template bytes sent */
	/*
	 * Every field of p and b read before the first header store: the
	 * byte stores may alias them, which would make the compiler load
	 * them again after.
	 */
	const uint16_t l3_len = p->l3_len, l3_off = p->l3_off;
	const uint8_t tos = p->tos;
	const uint16_t headroom = b->headroom;
	const uint32_t old_end = (uint32_t)headroom + b->len + b->tailroom;
	const uint32_t outer_total = (uint32_t)overhead + l3_len;
	/* Source host bits: disjoint from the template's prefix bits, so OR and one's-complement add agree. */
	const uint32_t ent = entropy & t->ent_mask;
	uint32_t need, w0, src_tail, sum;
	uint16_t new_head, new_len;
	uint8_t *h, *ip;

	if (outer_total > s->mtu || outer_total + eth_len > UINT16_MAX) {
		*inner_mtu = s->mtu > overhead ? (uint16_t)(s->mtu - overhead) : 0;
		return KEEL_DROP_TOO_BIG;
	}
	/*
	 * The new headers end where the inner packet starts, overwriting the
	 * old Ethernet header and reaching back into the headroom.
	 */
	need = (uint32_t)eth_len + overhead;
	if (need > (uint32_t)l3_off + headroom)
		return KEEL_DROP_NO_HEADROOM;

	h = b->data + l3_off - need;
	/* Ethernet padding after the inner packet is dropped; it becomes tailroom. */
	new_head = (uint16_t)(headroom + l3_off - need);
	new_len = (uint16_t)(eth_len + outer_total);
	b->data = h;
	b->headroom = new_head;
	b->len = new_len;
	b->tailroom = (uint16_t)(old_end - new_head - new_len);
	if (vlan) {
		/* The TCI is p's copy, the bytes it came from may be overwritten. */
		uint32_t tag = htonl((uint32_t)WIRE_ETH_P_8021Q << 16 | p->vlan_tci);

		memcpy(h, t->hdr, 12);
		memcpy(h + 12, &tag, 4);
		memcpy(h + 16, t->hdr + 12, tlen - 12);
	} else {
		memcpy(h, t->hdr, tlen);
	}
	ip = h + eth_len;

	/*
	 * Per-packet fields over the copy, from registers: re-reading freshly
	 * stored bytes as wider words (to checksum them) defeats store-to-load
	 * forwarding, so sums are built from the template's partial sum and
	 * the values. TOS / traffic class copied whole: DSCP per RFC 2983
	 * uniform model, ECN per RFC 6040 normal mode, so congestion marks set
	 * on the outer header can be propagated at decapsulation.
	 */
	memcpy(&src_tail, t->hdr + WIRE_ETH_HLEN + (outer6 ? 20 : 12), 4);
	src_tail |= htonl(ent);
	if (outer6) {
		/*
		 * The flow label carries 20 bits of entropy (RFC 6438: tunnel
		 * endpoints should set it per inner flow, so backends and ECMP
		 * hash on it); RFC 6437 2: a zero label means "unlabelled",
		 * keep it a label.
		 */
		uint32_t fl = entropy & 0xfffff;
		uint16_t plen = htons((uint16_t)(outer_total - 40));

		if (fl == 0)
			fl = 1;
		w0 = htonl(6u << 28 | (uint32_t)tos << 20 | fl);
		memcpy(ip, &w0, 4);
		memcpy(ip + 4, &plen, 2);
		ip[6] = proto;
		memcpy(ip + 20, &src_tail, 4);
	} else {
		uint16_t c;

		w0 = htonl(0x45000000u | (uint32_t)tos << 16 | outer_total);
		sum = t->sum + tos + outer_total + proto + (ent >> 16) + (ent & 0xffff);
		c = htons(csum_fold(sum));
		memcpy(ip, &w0, 4);
		ip[9] = proto;
		memcpy(ip + 10, &c, 2);
		memcpy(ip + 12, &src_tail, 4);
	}

	if (gue) {
		uint8_t *l4 = ip + ip_len;
		uint16_t udp_len = (uint16_t)(8 + KEEL_GUE_HLEN + l3_len);
		/* Top 14 entropy bits: the flow label and source use the low ones. */
		uint16_t sport = (uint16_t)(UDP_EPHEMERAL_BASE | entropy >> 18);
		uint32_t ports = htonl((uint32_t)sport << 16 | s->gue_port);
		uint16_t ulen = htons(udp_len);

		memcpy(l4, &ports, 4);
		memcpy(l4 + 4, &ulen, 2);
		l4[9] = inner_proto; /* GUE: version 0, C 0, Hlen 0, proto, flags 0 */
		if (outer6) {
			/*
			 * RFC 8200 8.1: UDP over IPv6 needs a checksum (the
			 * zero-checksum exception of RFC 6935/6936 is opt-in per
			 * tunnel; we do not assume it). Pseudo-header and UDP +
			 * GUE from the values; the only loop over the payload on
			 * this path is the inner packet's.
			 */
			uint16_t c;

			sum = t->sum + (ent >> 16) + (ent & 0xffff) + 2u * udp_len + sport + inner_proto;
			sum = csum_add_bytes(sum, l4 + 8 + KEEL_GUE_HLEN, l3_len);
			c = csum_fold(sum);
			csum_store(l4 + 6, c ? c : 0xffff); /* RFC 768: 0 means none */
		}
		/* IPv4: checksum 0, RFC 768 and draft-ietf-intarea-gue 5.6.1. */
	}
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
