/* Second chance, Keel's side: which flows carry a previous owner, and the GUE private-data field that carries it. */
/*
 * A packet that misses the flow table may belong to a connection begun
 * before its Maglev slot changed owner (another Keel host, another worker or
 * a fresh dataplane tracked it). Keel sends it to the slot's current owner
 * anyway and names the previous owner in the GUE header; the backend's
 * keel-decap hands it on to that owner when it has no socket for it
 * (bpf/decap.bpf.c). Only GUE has room for the hint: IPIP, 6in4 and the
 * other plain encapsulations carry nothing, so second chance needs GUE.
 */
#include "second_chance.h"

#include <string.h>

#include "csum.h"
#include "maglev.h"

const struct keel_backend *second_chance_prev(const struct keel_snapshot *s, const struct keel_vip *v,
					      uint16_t vip_idx, uint32_t hash, uint16_t cur)
{
	const uint16_t *prev = keel_snapshot_prev(s, v);
	const struct keel_backend *be;
	uint16_t id;

	if (!prev || v->encap != KEEL_ENCAP_GUE)
		return NULL;
	id = prev[maglev_slot(hash, v->table_size)];
	if (id == KEEL_BACKEND_NONE || id == cur || id >= s->n_backends || cur >= s->n_backends)
		return NULL;
	be = &keel_snapshot_backends(s)[id];
	/*
	 * Validated with the snapshot, checked again since it costs nothing: only
	 * a backend of this VIP, and of the family of the outer header the packet
	 * goes in (cur's): the backend hands it on by rewriting the destination.
	 */
	if (be->vip != vip_idx || be->state == KEEL_BACKEND_UNUSED ||
	    be->family != keel_snapshot_backends(s)[cur].family)
		return NULL;
	return be;
}

/* Make room for len bytes of private data after the GUE header ending at hdr: the headers move into the headroom. */
static void open_gap(struct keel_buf *b, uint32_t hdr, uint16_t len)
{
	memmove(b->data - len, b->data, hdr);
	b->data -= len;
	b->headroom = (uint16_t)(b->headroom - len);
	b->len = (uint16_t)(b->len + len);
}

/* The private data at priv: type, flags 0 (not redirected yet), two zero bytes, the address. */
static void put_priv(uint8_t *priv, uint8_t type, const uint8_t *addr, size_t alen)
{
	struct keel_gue_priv *pd = (struct keel_gue_priv *)priv;

	pd->type = type;
	pd->flags = 0;
	pd->zero[0] = pd->zero[1] = 0;
	memcpy(pd->addr, addr, alen);
}

/* IPv4 outer header: 8 bytes; UDP checksum stays 0 (RFC 768, GUE 5.6.1), the IPv4 one is redone. */
static int mark4(struct keel_buf *b, uint32_t l2, const struct keel_backend *prev, uint16_t mtu)
{
	const uint32_t hdr = l2 + WIRE_IP4_HLEN + WIRE_UDP_HLEN + KEEL_GUE_HLEN;
	uint8_t *ip = b->data + l2, *udp, *gue;
	uint16_t tot;

	if (b->len < hdr || b->headroom < KEEL_GUE_PRIV_PREV4_LEN || prev->family != KEEL_AF_INET4)
		return 0;
	tot = wire_get16(ip + 2);
	if (ip[0] != 0x45 || ip[9] != KEEL_PROTO_UDP || (uint32_t)tot + KEEL_GUE_PRIV_PREV4_LEN > mtu)
		return 0;
	gue = ip + WIRE_IP4_HLEN + WIRE_UDP_HLEN;
	if (gue[0] != 0 || gue[2] || gue[3])
		return 0; /* not Keel's plain GUE header: leave it alone */

	open_gap(b, hdr, KEEL_GUE_PRIV_PREV4_LEN);
	ip = b->data + l2;
	udp = ip + WIRE_IP4_HLEN;
	gue = udp + WIRE_UDP_HLEN;
	gue[0] = KEEL_GUE_PRIV_PREV4_WORDS; /* version 0, C 0, Hlen */
	wire_put16(gue + 2, KEEL_GUE_FLAG_PRIV);
	put_priv(gue + KEEL_GUE_HLEN, KEEL_GUE_PRIV_PREV4, prev->addr, 4);
	wire_put16(udp + 4, (uint16_t)(wire_get16(udp + 4) + KEEL_GUE_PRIV_PREV4_LEN)); /* UDP checksum stays 0 (IPv4) */
	wire_put16(ip + 2, (uint16_t)(tot + KEEL_GUE_PRIV_PREV4_LEN));
	ip[10] = ip[11] = 0;
	csum_store(ip + 10, csum_fold(csum_add_bytes(0, ip, WIRE_IP4_HLEN)));
	return 1;
}

/*
 * IPv6 outer header: 20 bytes. Keel's UDP over IPv6 always has a checksum
 * (encap.c, RFC 8200 8.1), so it is updated, incrementally (RFC 1624 eqn. 3)
 * rather than summed again over the payload: the UDP length twice (it is in
 * the pseudo-header too), GUE word 0 (Hlen), the flags word, the new private
 * data. The insertion is 4-byte aligned, so the payload's words keep their
 * places in the sum.
 */
static int mark6(struct keel_buf *b, uint32_t l2, const struct keel_backend *prev, uint16_t mtu)
{
	const uint32_t hdr = l2 + WIRE_IP6_HLEN + WIRE_UDP_HLEN + KEEL_GUE_HLEN;
	uint8_t *ip = b->data + l2, *udp, *gue;
	uint16_t plen, ulen, ck, gue0;
	uint32_t sum;

	if (b->len < hdr || b->headroom < KEEL_GUE_PRIV_PREV6_LEN || prev->family != KEEL_AF_INET6)
		return 0;
	plen = wire_get16(ip + 4);
	if ((ip[0] >> 4) != 6 || ip[6] != KEEL_PROTO_UDP || WIRE_IP6_HLEN + (uint32_t)plen + KEEL_GUE_PRIV_PREV6_LEN > mtu)
		return 0;
	udp = ip + WIRE_IP6_HLEN;
	gue = udp + WIRE_UDP_HLEN;
	ulen = wire_get16(udp + 4);
	ck = wire_get16(udp + 6);
	if (gue[0] != 0 || gue[2] || gue[3] || ck == 0 || ulen != plen)
		return 0; /* not Keel's plain GUE header, or no checksum to keep: leave it alone */

	open_gap(b, hdr, KEEL_GUE_PRIV_PREV6_LEN);
	ip = b->data + l2;
	udp = ip + WIRE_IP6_HLEN;
	gue = udp + WIRE_UDP_HLEN;
	gue0 = wire_get16(gue);
	gue[0] = KEEL_GUE_PRIV_PREV6_WORDS; /* version 0, C 0, Hlen */
	wire_put16(gue + 2, KEEL_GUE_FLAG_PRIV);
	put_priv(gue + KEEL_GUE_HLEN, KEEL_GUE_PRIV_PREV6, prev->addr, 16);
	wire_put16(ip + 4, (uint16_t)(plen + KEEL_GUE_PRIV_PREV6_LEN));
	wire_put16(udp + 4, (uint16_t)(ulen + KEEL_GUE_PRIV_PREV6_LEN));

	sum = (uint16_t)~ck;
	sum += 2u * (uint16_t)~ulen + 2u * (uint32_t)(uint16_t)(ulen + KEEL_GUE_PRIV_PREV6_LEN);
	sum += (uint16_t)~gue0 + (uint32_t)wire_get16(gue);
	sum += KEEL_GUE_FLAG_PRIV; /* the flags word was 0 */
	sum = csum_add_bytes(sum, gue + KEEL_GUE_HLEN, KEEL_GUE_PRIV_PREV6_LEN);
	ck = csum_fold(sum);
	csum_store(udp + 6, ck ? ck : 0xffff); /* RFC 768: 0 means none */
	return 1;
}

int second_chance_mark(struct keel_buf *b, const struct keel_backend *prev, uint16_t mtu)
{
	uint32_t l2;
	uint16_t etype;

	if (b->len < WIRE_ETH_HLEN + WIRE_VLAN_HLEN)
		return 0;
	l2 = wire_get16(b->data + 12) == WIRE_ETH_P_8021Q ? WIRE_ETH_HLEN + WIRE_VLAN_HLEN : WIRE_ETH_HLEN;
	etype = wire_get16(b->data + l2 - 2);
	if (etype == WIRE_ETH_P_IPV4)
		return mark4(b, l2, prev, mtu);
	if (etype == WIRE_ETH_P_IPV6)
		return mark6(b, l2, prev, mtu);
	return 0;
}
