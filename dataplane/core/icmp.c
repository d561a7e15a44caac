/* ICMP handled by the load balancer itself: echo replies, "too big" errors, and the flow key of the connection an ICMP error is about. */
#include "icmp.h"

#include <stdbool.h>
#include <string.h>

#include "csum.h"
#include "parse.h"
#include "wire.h"

#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_ECHO 8
#define ICMPV6_PKT_TOOBIG 2
#define ICMPV6_ECHO_REQUEST 128
#define ICMPV6_ECHO_REPLY 129

#define ICMP_HDR_LEN 8
#define ICMP_REPLY_TTL 64
/* RFC 1812 4.3.2.5: ICMP errors SHOULD carry precedence 6 (internetwork control). */
#define ICMP4_ERROR_TOS 0xc0
/* Largest error datagrams: RFC 1812 4.3.2.3 (576) and RFC 4443 2.4(c) (IPv6 minimum MTU). */
#define ICMP4_ERROR_MAX 576
#define ICMP6_ERROR_MAX 1280

static inline void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[16];

	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

/* RFC 1624 eqn. 3: the checksum after one 16-bit word changed from old to new. */
static inline uint16_t csum_replace16(uint16_t check, uint16_t old, uint16_t new)
{
	return csum_fold((uint32_t)(uint16_t)~check + (uint16_t)~old + new);
}

static int all_zero(const uint8_t *p, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Shrink b to the IP packet's end: Ethernet padding becomes tailroom. */
static inline void trim_padding(struct keel_buf *b, uint32_t end)
{
	if (end < b->len) {
		b->tailroom = (uint16_t)(b->tailroom + b->len - end);
		b->len = (uint16_t)end;
	}
}

/* Whether the ICMP message of len bytes at icmp checksums right (RFC 792; RFC 4443 2.3 with the pseudo-header). */
static inline bool icmp_checksum_ok(const uint8_t *ip, const uint8_t *icmp, uint32_t len, int v6)
{
	uint32_t sum = v6 ? csum_pseudo6(ip + 8, ip + 24, KEEL_PROTO_ICMPV6, len) : 0;

	return csum_fold(csum_add_bytes(sum, icmp, len)) == 0;
}

enum keel_drop icmp_echo_reply(struct keel_buf *b, const struct keel_pkt *p,
			       const struct keel_port *port)
{
	const int v6 = p->key.family == KEEL_AF_INET6;
	uint8_t *ip = b->data + p->l3_off;
	uint8_t *icmp = b->data + p->l4_off;
	uint32_t end = (uint32_t)p->l3_off + p->l3_len;
	uint16_t old_word, new_word, check;

	if (p->flags & KEEL_PKT_FRAG)
		return KEEL_DROP_ICMP_UNSUPPORTED; /* would need reassembly */
	if (p->key.proto != (v6 ? KEEL_PROTO_ICMPV6 : KEEL_PROTO_ICMP) ||
	    p->icmp_type != (v6 ? ICMPV6_ECHO_REQUEST : ICMP_ECHO))
		return KEEL_DROP_ICMP_UNSUPPORTED;
	/*
	 * Requests with IPv4 options or IPv6 extension headers are not
	 * answered: RFC 1122 3.2.2.6 asks for record-route and timestamp
	 * options to be updated and source routes reversed, which a load
	 * balancer has no business doing; copying them back blindly is wrong.
	 */
	if (p->l4_off != p->l3_off + (v6 ? 40 : 20))
		return KEEL_DROP_ICMP_UNSUPPORTED;
	if (end > b->len || (uint32_t)p->l4_off + ICMP_HDR_LEN > end)
		return KEEL_DROP_L4_TRUNCATED;
	/* The reply is as long as the request: it must fit the port it leaves by. */
	if (p->l3_len > port->mtu)
		return KEEL_DROP_ECHO_TOO_BIG;
	/*
	 * A corrupted request is not answered (Linux's icmp_rcv does the same):
	 * the incremental update below would otherwise carry the damage into a
	 * reply that only looks like ours. Echo requests are rare: the full sum
	 * costs nothing that matters.
	 */
	if (!icmp_checksum_ok(ip, icmp, end - p->l4_off, v6))
		return KEEL_DROP_ICMP_CHECKSUM;

	/* To whoever asked, from the port's own MAC, never the address the request was sent to. */
	memcpy(b->data, b->data + WIRE_ETH_ALEN, WIRE_ETH_ALEN);
	memcpy(b->data + WIRE_ETH_ALEN, port->mac, WIRE_ETH_ALEN);
	if (v6) {
		swap_bytes(ip + 8, ip + 24, 16);
		ip[7] = ICMP_REPLY_TTL;
	} else {
		swap_bytes(ip + 12, ip + 16, 4);
		ip[8] = ICMP_REPLY_TTL;
		ip[10] = 0;
		ip[11] = 0;
		csum_store(ip + 10, csum_ip4_header(ip, 20));
	}
	/*
	 * Only the type changes (the ICMPv6 pseudo-header sum does not depend
	 * on the order of the addresses), so update incrementally; the request's
	 * checksum was verified above.
	 */
	old_word = wire_get16(icmp);
	icmp[0] = v6 ? ICMPV6_ECHO_REPLY : ICMP_ECHOREPLY;
	new_word = wire_get16(icmp);
	check = csum_replace16(wire_get16(icmp + 2), old_word, new_word);
	csum_store(icmp + 2, 0);
	/*
	 * RFC 1624 eqn. 3 yields 0x0000 where a full computation over an
	 * all-zero message yields 0xffff (only +0 verifies there). Possible
	 * for ICMPv4 only (the ICMPv6 pseudo-header is never zero); the scan
	 * runs once in 65536 replies.
	 */
	if (check == 0 && !v6 && all_zero(icmp, end - p->l4_off))
		check = 0xffff;
	csum_store(icmp + 2, check);
	trim_padding(b, end);
	return KEEL_DROP_NONE;
}

/* Whether an ICMP message may be answered with an error (RFC 1122 3.2.2, RFC 4443 2.4(e)). */
static inline int icmp_may_trigger_error(const struct keel_pkt *p)
{
	if (p->flags & KEEL_PKT_ICMP_ERROR)
		return 0;
	if (p->key.proto == KEEL_PROTO_ICMPV6)
		return p->icmp_type >= 128; /* informational, RFC 4443 2.1 */
	if (p->key.proto == KEEL_PROTO_ICMP)
		/* Only the queries we know; an unknown type could be an error. */
		return p->icmp_type == ICMP_ECHO || p->icmp_type == ICMP_ECHOREPLY;
	return 1;
}

enum keel_drop icmp_too_big(struct keel_buf *b, const struct keel_pkt *p, const uint8_t src_mac[6],
			    uint16_t mtu)
{
	const int v6 = p->key.family == KEEL_AF_INET6;
	const uint16_t eth_len = p->l3_off;
	const uint16_t ip_len = v6 ? 40 : 20;
	const uint32_t max = v6 ? ICMP6_ERROR_MAX : ICMP4_ERROR_MAX;
	const uint8_t *orig = b->data + p->l3_off;
	uint8_t mac_src[WIRE_ETH_ALEN];
	uint8_t addr_src[16], addr_dst[16];
	uint32_t quote, total_room;
	uint16_t shift, icmp_len;
	uint8_t *h, *ip, *icmp;
	uint32_t sum;

	/* RFC 1812 4.3.2.7 / RFC 4443 2.4(e): never about an error or a later fragment. */
	if (p->flags & KEEL_PKT_FRAG_LATER || !icmp_may_trigger_error(p))
		return KEEL_DROP_ICMP_UNSUPPORTED;

	quote = p->l3_len;
	if (quote > max - ip_len - ICMP_HDR_LEN)
		quote = max - ip_len - ICMP_HDR_LEN;
	/*
	 * Layout: the quote stays where the original packet starts; the new
	 * Ethernet, IP and ICMP headers go in front of it, over the old
	 * Ethernet header and into the headroom.
	 */
	shift = ip_len + ICMP_HDR_LEN;
	if (shift > b->headroom)
		return KEEL_DROP_NO_HEADROOM;

	/* Save what the new headers will overwrite (the old Ethernet header). */
	memcpy(mac_src, b->data + WIRE_ETH_ALEN, WIRE_ETH_ALEN);
	if (v6) {
		memcpy(addr_src, orig + 8, 16);
		memcpy(addr_dst, orig + 24, 16);
	} else {
		memcpy(addr_src, orig + 12, 4);
		memcpy(addr_dst, orig + 16, 4);
	}

	h = b->data - shift;
	memcpy(h, mac_src, WIRE_ETH_ALEN);
	memcpy(h + WIRE_ETH_ALEN, src_mac, WIRE_ETH_ALEN); /* the port's own MAC */
	if (p->flags & KEEL_PKT_VLAN) {
		wire_put16(h + 12, WIRE_ETH_P_8021Q);
		wire_put16(h + 14, p->vlan_tci);
	}
	wire_put16(h + eth_len - 2, v6 ? WIRE_ETH_P_IPV6 : WIRE_ETH_P_IPV4);

	ip = h + eth_len;
	icmp = ip + ip_len;
	icmp_len = (uint16_t)(ICMP_HDR_LEN + quote);
	if (v6) {
		wire_put16(ip, 0x6000); /* version 6, traffic class 0, flow label 0 */
		wire_put16(ip + 2, 0);
		wire_put16(ip + 4, icmp_len);
		ip[6] = KEEL_PROTO_ICMPV6;
		ip[7] = ICMP_REPLY_TTL;
		memcpy(ip + 8, addr_dst, 16); /* from the VIP */
		memcpy(ip + 24, addr_src, 16);
		icmp[0] = ICMPV6_PKT_TOOBIG;
		icmp[1] = 0;
		wire_put16(icmp + 2, 0);
		wire_put16(icmp + 4, 0);
		wire_put16(icmp + 6, mtu); /* 32-bit MTU field, RFC 4443 3.2 */
		sum = csum_pseudo6(ip + 8, ip + 24, KEEL_PROTO_ICMPV6, icmp_len);
	} else {
		ip[0] = 0x45;
		ip[1] = ICMP4_ERROR_TOS;
		wire_put16(ip + 2, (uint16_t)(ip_len + icmp_len));
		wire_put16(ip + 4, 0); /* ID */
		wire_put16(ip + 6, 0); /* flags, offset */
		ip[8] = ICMP_REPLY_TTL;
		ip[9] = KEEL_PROTO_ICMP;
		wire_put16(ip + 10, 0);
		memcpy(ip + 12, addr_dst, 4);
		memcpy(ip + 16, addr_src, 4);
		csum_store(ip + 10, csum_ip4_header(ip, 20));
		icmp[0] = ICMP_DEST_UNREACH;
		icmp[1] = ICMP_FRAG_NEEDED;
		wire_put16(icmp + 2, 0);
		wire_put16(icmp + 4, 0);
		wire_put16(icmp + 6, mtu); /* next-hop MTU, RFC 1191 4 */
		sum = 0;
	}
	csum_store(icmp + 2, csum_fold(csum_add_bytes(sum, icmp, icmp_len)));

	total_room = (uint32_t)b->headroom + b->len + b->tailroom;
	b->data = h;
	b->headroom = (uint16_t)(b->headroom - shift);
	b->len = (uint16_t)(eth_len + ip_len + icmp_len);
	b->tailroom = (uint16_t)(total_room - b->headroom - b->len);
	return KEEL_DROP_NONE;
}

enum keel_drop icmp_error_flow_key(const uint8_t *frame, uint32_t len, const struct keel_pkt *p,
				   struct keel_flow_key *key)
{
	const int v6 = p->key.family == KEEL_AF_INET6;
	uint32_t end = (uint32_t)p->l3_off + p->l3_len;
	uint32_t q = (uint32_t)p->l4_off + ICMP_HDR_LEN;
	const uint8_t *iq, *l4;
	uint32_t hl;
	uint8_t proto;

	if (!(p->flags & KEEL_PKT_ICMP_ERROR) || p->flags & KEEL_PKT_FRAG_LATER ||
	    p->key.proto != (v6 ? KEEL_PROTO_ICMPV6 : KEEL_PROTO_ICMP))
		return KEEL_DROP_ICMP_ERROR_INNER;
	if (end > len)
		end = len;
	if (q > end)
		return KEEL_DROP_ICMP_ERROR_INNER;
	iq = frame + q;

	if (v6) {
		/* An ICMPv6 error quotes an IPv6 packet (RFC 4443 2.4(c)). */
		struct keel_ip6_chain c;
		uint32_t qend = end - q;

		if (qend < 40 || iq[0] >> 4 != 6)
			return KEEL_DROP_ICMP_ERROR_INNER;
		/* The quote ends where the quoted packet does, or earlier where the error cut it. */
		if (qend > 40 + (uint32_t)wire_get16(iq + 4))
			qend = 40 + (uint32_t)wire_get16(iq + 4);
		/*
		 * The parser's own bounded walk (Fragment, Hop-by-Hop, Routing,
		 * Destination Options), so a flow whose packets carry extension
		 * headers still gets its PMTUD errors. A later fragment quotes no ports.
		 */
		if (keel_parse_ip6_chain(iq, qend, &c) != KEEL_DROP_NONE ||
		    (c.frag && wire_get16(iq + c.frag + 2) >> 3))
			return KEEL_DROP_ICMP_ERROR_INNER;
		hl = c.off;
		proto = c.nh;
	} else {
		/* RFC 792: the quoted IPv4 header, options included, then 64 bits of data. */
		if (end - q < 20 || iq[0] >> 4 != 4)
			return KEEL_DROP_ICMP_ERROR_INNER;
		hl = (uint32_t)(iq[0] & 0x0f) * 4;
		if (hl < 20)
			return KEEL_DROP_ICMP_ERROR_INNER;
		/* A non-first fragment carries no ports. */
		if (wire_get16(iq + 6) & 0x1fff)
			return KEEL_DROP_ICMP_ERROR_INNER;
		proto = iq[9];
	}
	if (proto != KEEL_PROTO_TCP && proto != KEEL_PROTO_UDP)
		return KEEL_DROP_ICMP_ERROR_INNER;
	/* Ports are the first 4 bytes of the 8 that RFC 792 / RFC 4443 guarantee. */
	if (end - q < hl + 8)
		return KEEL_DROP_ICMP_ERROR_INNER;
	l4 = iq + hl;

	memset(key, 0, sizeof(*key));
	if (v6) {
		memcpy(key->src, iq + 24, 16);
		memcpy(key->dst, iq + 8, 16);
	} else {
		memcpy(key->src, iq + 16, 4);
		memcpy(key->dst, iq + 12, 4);
	}
	memcpy(&key->sport, l4 + 2, 2);
	memcpy(&key->dport, l4, 2);
	key->proto = proto;
	key->family = v6 ? KEEL_AF_INET6 : KEEL_AF_INET4;
	return KEEL_DROP_NONE;
}
