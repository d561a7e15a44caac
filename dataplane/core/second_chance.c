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
	/* Validated with the snapshot, checked again since it costs nothing: only a backend of this VIP. */
	if (be->vip != vip_idx || be->state == KEEL_BACKEND_UNUSED || be->family != KEEL_AF_INET4 ||
	    keel_snapshot_backends(s)[cur].family != KEEL_AF_INET4)
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

int second_chance_mark(struct keel_buf *b, const struct keel_backend *prev, uint16_t mtu)
{
	uint32_t l2, hdr;
	uint8_t *ip, *udp, *gue, *priv;
	uint16_t tot;

	if (b->len < ETH_LEN)
		return 0;
	l2 = rd16(b->data + 12) == 0x8100 ? ETH_LEN + VLAN_LEN : ETH_LEN;
	hdr = l2 + IP4_LEN + UDP_LEN + GUE_LEN;
	if (b->len < hdr || b->headroom < SECOND_CHANCE_LEN)
		return 0;
	ip = b->data + l2;
	tot = rd16(ip + 2);
	if (ip[0] != 0x45 || ip[9] != KEEL_PROTO_UDP || (uint32_t)tot + SECOND_CHANCE_LEN > mtu)
		return 0;
	gue = ip + IP4_LEN + UDP_LEN;
	if (gue[0] != 0 || gue[2] || gue[3])
		return 0; /* not Keel's plain GUE header: leave it alone */

	memmove(b->data - SECOND_CHANCE_LEN, b->data, hdr);
	b->data -= SECOND_CHANCE_LEN;
	b->headroom = (uint16_t)(b->headroom - SECOND_CHANCE_LEN);
	b->len = (uint16_t)(b->len + SECOND_CHANCE_LEN);
	ip = b->data + l2;
	udp = ip + IP4_LEN;
	gue = udp + UDP_LEN;
	priv = gue + GUE_LEN;

	gue[0] = SECOND_CHANCE_WORDS; /* version 0, C 0, Hlen */
	wr16(gue + 2, SECOND_CHANCE_GUE_FLAG);
	priv[0] = SECOND_CHANCE_PREV4;
	priv[1] = 0; /* not redirected yet */
	priv[2] = priv[3] = 0;
	memcpy(priv + 4, prev->addr, 4);
	wr16(udp + 4, (uint16_t)(rd16(udp + 4) + SECOND_CHANCE_LEN)); /* UDP checksum stays 0 (IPv4) */
	wr16(ip + 2, (uint16_t)(tot + SECOND_CHANCE_LEN));
	ip[10] = ip[11] = 0;
	csum_store(ip + 10, csum_fold(csum_add_bytes(0, ip, IP4_LEN)));
	return 1;
}
