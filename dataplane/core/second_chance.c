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

#define ETH_LEN 14
#define VLAN_LEN 4
#define IP4_LEN 20
#define IP6_LEN 40
#define UDP_LEN 8
#define GUE_LEN 4

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

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
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
	priv[0] = type;
	priv[1] = 0;
	priv[2] = priv[3] = 0;
	memcpy(priv + 4, addr, alen);
}

/* IPv4 outer header: 8 bytes; UDP checksum stays 0 (RFC 768, GUE 5.6.1), the IPv4 one is redone. */
static int mark4(struct keel_buf *b, uint32_t l2, const struct keel_backend *prev, uint16_t mtu)
{
	const uint32_t hdr = l2 + IP4_LEN + UDP_LEN + GUE_LEN;
	uint8_t *ip = b->data + l2, *udp, *gue;
	uint16_t tot;

	if (b->len < hdr || b->headroom < SECOND_CHANCE_LEN || prev->family != KEEL_AF_INET4)
		return 0;
	tot = rd16(ip + 2);
	if (ip[0] != 0x45 || ip[9] != KEEL_PROTO_UDP || (uint32_t)tot + SECOND_CHANCE_LEN > mtu)
		return 0;
	gue = ip + IP4_LEN + UDP_LEN;
	if (gue[0] != 0 || gue[2] || gue[3])
		return 0; /* not Keel's plain GUE header: leave it alone */

	open_gap(b, hdr, SECOND_CHANCE_LEN);
	ip = b->data + l2;
	udp = ip + IP4_LEN;
	gue = udp + UDP_LEN;
	gue[0] = SECOND_CHANCE_WORDS; /* version 0, C 0, Hlen */
	wr16(gue + 2, SECOND_CHANCE_GUE_FLAG);
	put_priv(gue + GUE_LEN, SECOND_CHANCE_PREV4, prev->addr, 4);
	wr16(udp + 4, (uint16_t)(rd16(udp + 4) + SECOND_CHANCE_LEN)); /* UDP checksum stays 0 (IPv4) */
	wr16(ip + 2, (uint16_t)(tot + SECOND_CHANCE_LEN));
	ip[10] = ip[11] = 0;
	csum_store(ip + 10, csum_fold(csum_add_bytes(0, ip, IP4_LEN)));
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
	const uint32_t hdr = l2 + IP6_LEN + UDP_LEN + GUE_LEN;
	uint8_t *ip = b->data + l2, *udp, *gue;
	uint16_t plen, ulen, ck, gue0;
	uint32_t sum;

	if (b->len < hdr || b->headroom < SECOND_CHANCE_LEN6 || prev->family != KEEL_AF_INET6)
		return 0;
	plen = rd16(ip + 4);
	if ((ip[0] >> 4) != 6 || ip[6] != KEEL_PROTO_UDP || IP6_LEN + (uint32_t)plen + SECOND_CHANCE_LEN6 > mtu)
		return 0;
	udp = ip + IP6_LEN;
	gue = udp + UDP_LEN;
	ulen = rd16(udp + 4);
	ck = rd16(udp + 6);
	if (gue[0] != 0 || gue[2] || gue[3] || ck == 0 || ulen != plen)
		return 0; /* not Keel's plain GUE header, or no checksum to keep: leave it alone */

	open_gap(b, hdr, SECOND_CHANCE_LEN6);
	ip = b->data + l2;
	udp = ip + IP6_LEN;
	gue = udp + UDP_LEN;
	gue0 = rd16(gue);
	gue[0] = SECOND_CHANCE_WORDS6; /* version 0, C 0, Hlen */
	wr16(gue + 2, SECOND_CHANCE_GUE_FLAG);
	put_priv(gue + GUE_LEN, SECOND_CHANCE_PREV6, prev->addr, 16);
	wr16(ip + 4, (uint16_t)(plen + SECOND_CHANCE_LEN6));
	wr16(udp + 4, (uint16_t)(ulen + SECOND_CHANCE_LEN6));

	sum = (uint16_t)~ck;
	sum += 2u * (uint16_t)~ulen + 2u * (uint32_t)(uint16_t)(ulen + SECOND_CHANCE_LEN6);
	sum += (uint16_t)~gue0 + (uint32_t)rd16(gue);
	sum += SECOND_CHANCE_GUE_FLAG; /* the flags word was 0 */
	sum = csum_add_bytes(sum, gue + GUE_LEN, SECOND_CHANCE_LEN6);
	ck = csum_fold(sum);
	csum_store(udp + 6, ck ? ck : 0xffff); /* RFC 768: 0 means none */
	return 1;
}

int second_chance_mark(struct keel_buf *b, const struct keel_backend *prev, uint16_t mtu)
{
	uint32_t l2;
	uint16_t etype;

	if (b->len < ETH_LEN + VLAN_LEN)
		return 0;
	l2 = rd16(b->data + 12) == 0x8100 ? ETH_LEN + VLAN_LEN : ETH_LEN;
	etype = rd16(b->data + l2 - 2);
	if (etype == 0x0800)
		return mark4(b, l2, prev, mtu);
	if (etype == 0x86dd)
		return mark6(b, l2, prev, mtu);
	return 0;
}
