/* Parse stage: validate Ethernet/VLAN, IPv4/IPv6 and the L4 header of one frame into a keel_pkt. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "csum.h"
#include "drop.h"
#include "parse.h"
#include "pkt.h"
#include "wire.h"

#define IP4_MIN_HLEN WIRE_IP4_HLEN
#define IP4_FLAG_DF 0x4000
#define IP4_FLAG_MF 0x2000
#define IP4_FRAG_MASK 0x1fff
#define IP_MAX_DATAGRAM 65535u

#define IP6_NH_HOPOPTS 0
#define IP6_NH_ROUTING 43
#define IP6_NH_FRAGMENT 44
#define IP6_NH_DSTOPTS 60
#define IP6_FRAG_HLEN 8
#define IP6_FRAG_M 0x0001
#define IP6_RH_TYPE0 0 /* RFC 5095: deprecated */

#define TCP_MIN_HLEN 20
#define ICMP_MIN_HLEN 8

/*
 * Everything but the VIP index starts at zero; the flow key in particular is
 * hashed as raw bytes, so its unused address bytes and pad must be zero.
 */
static inline void pkt_reset(struct keel_pkt *p)
{
	memset(&p->key, 0, sizeof(p->key));
	p->l3_off = 0;
	p->l4_off = 0;
	p->l3_len = 0;
	p->vlan_tci = 0;
	p->flags = 0;
	p->tcp_flags = 0;
	p->tos = 0;
	p->ttl = 0;
	p->icmp_type = 0;
	p->icmp_code = 0;
}

/* RFC 792 errors quoting the datagram: unreachable (3), time exceeded (11), param problem (12) */
#define ICMP4_ERROR_MASK ((1u << 3) | (1u << 11) | (1u << 12))

/*
 * The transport header at l4, with avail bytes of the datagram left after the
 * IP headers. first_frag: the datagram is the first piece of a fragmented one,
 * so lengths that cover the whole datagram cannot be checked against avail.
 */
static enum keel_drop parse_l4(const uint8_t *l4, uint32_t avail, uint8_t family, bool first_frag,
			       struct keel_pkt *p)
{
	uint32_t doff, ulen;
	uint8_t type;

	switch (p->key.proto) {
	case KEEL_PROTO_TCP:
		/* RFC 9293 3.1: 20-byte fixed header; RFC 1858: whole in a first fragment. */
		if (avail < TCP_MIN_HLEN)
			return KEEL_DROP_L4_TRUNCATED;
		/* RFC 9293 3.1: data offset in 32-bit words, at least 5, within the segment. */
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < TCP_MIN_HLEN || doff > avail)
			return KEEL_DROP_TCP_DATA_OFFSET;
		memcpy(&p->key.sport, l4, 2);
		memcpy(&p->key.dport, l4 + 2, 2);
		p->tcp_flags = l4[13];
		return KEEL_DROP_NONE;
	case KEEL_PROTO_UDP:
		if (avail < WIRE_UDP_HLEN)
			return KEEL_DROP_L4_TRUNCATED;
		/*
		 * RFC 768: the length covers header and data, so at least 8. A first
		 * fragment holds only part of the datagram the length describes, so
		 * only the lower bound holds there. UDP length 0 (RFC 2675 jumbograms)
		 * cannot occur without jumbo payloads, which are refused before this.
		 */
		ulen = wire_get16(l4 + 4);
		if (ulen < WIRE_UDP_HLEN || (!first_frag && ulen > avail))
			return KEEL_DROP_UDP_LENGTH;
		memcpy(&p->key.sport, l4, 2);
		memcpy(&p->key.dport, l4 + 2, 2);
		return KEEL_DROP_NONE;
	case KEEL_PROTO_ICMP:
	case KEEL_PROTO_ICMPV6:
		/* ICMP in IPv6 or ICMPv6 in IPv4 means nothing: an unknown protocol, ports 0. */
		if ((p->key.proto == KEEL_PROTO_ICMP) != (family == KEEL_AF_INET4))
			return KEEL_DROP_NONE;
		/* RFC 792 / RFC 4443 2.1: type, code, checksum and a 4-byte type-specific word. */
		if (avail < ICMP_MIN_HLEN)
			return KEEL_DROP_L4_TRUNCATED;
		type = l4[0];
		p->icmp_type = type;
		p->icmp_code = l4[1];
		if (family == KEEL_AF_INET4) {
			if (type < 32 && ((ICMP4_ERROR_MASK >> type) & 1))
				p->flags |= KEEL_PKT_ICMP_ERROR;
		} else if ((uint8_t)(type - 1) < 4) {
			/* RFC 4443 2.1: types 1-4 are the errors that quote a packet. */
			p->flags |= KEEL_PKT_ICMP_ERROR;
		}
		return KEEL_DROP_NONE;
	default:
		/* GRE, ESP, SCTP, No Next Header (59)...: valid, ports 0. */
		return KEEL_DROP_NONE;
	}
}

/*
 * RFC 1812 5.3.7 martian sources, by first octet: 0/8 ("this network", only
 * legal while a host boots, RFC 1122 3.2.1.3), 127/8 (loopback, never on a wire),
 * 224/4 (multicast is never a source) and 240/4 (class E, which also holds the
 * limited broadcast 255.255.255.255). Bitwise ORs keep it one branch.
 */
static inline bool ip4_src_martian(uint8_t first_octet)
{
	return (first_octet == 0) | (first_octet == 127) | (first_octet >= 224);
}

static enum keel_drop parse_ip4(const uint8_t *frame, uint32_t len, uint32_t l3, struct keel_pkt *p)
{
	const uint8_t *ip = frame + l3;
	uint32_t avail = len - l3;
	uint32_t ihl, tot, frag, fo;

	p->key.family = KEEL_AF_INET4;
	/*
	 * RFC 1812 5.2.2 checks, reordered so each read is in bounds: (1) the link
	 * layer length holds a minimum header, (3) version 4, (4) IHL >= 5, then
	 * the header the IHL claims is present, (5) total length >= IHL*4 and no
	 * more than the link layer delivered, and only then (2) the checksum,
	 * which needs the IHL to know how many bytes to sum.
	 */
	if (avail < IP4_MIN_HLEN)
		return KEEL_DROP_IP4_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return KEEL_DROP_IP4_VERSION;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < IP4_MIN_HLEN)
		return KEEL_DROP_IP4_IHL;
	if (ihl > avail)
		return KEEL_DROP_IP4_TRUNCATED;
	tot = wire_get16(ip + 2);
	if (tot < ihl || tot > avail)
		return KEEL_DROP_IP4_TOTAL_LENGTH;
	/* RFC 1812 5.2.2 (2): a valid header, options included, sums to 0xffff. */
	/*
	 * The common header has no options: a constant length lets the
	 * compiler unroll the sum into five loads (measured: callgrind, see
	 * docs/performance.md); options take the general loop.
	 */
	if ((ihl == IP4_MIN_HLEN ? csum_ip4_header(ip, IP4_MIN_HLEN) : csum_ip4_header(ip, ihl)) != 0)
		return KEEL_DROP_IP4_CHECKSUM;
	/* RFC 1812 5.3.7: martian sources are never forwarded. */
	if (ip4_src_martian(ip[12]))
		return KEEL_DROP_IP4_BAD_SOURCE;
	/* RFC 3927 7: link-local sources are never forwarded, but the host may hear them. */
	if (ip[12] == 169 && ip[13] == 254)
		p->flags |= KEEL_PKT_SRC_SCOPED;

	memcpy(p->key.src, ip + 12, 4);
	memcpy(p->key.dst, ip + 16, 4);
	p->key.proto = ip[9];
	p->tos = ip[1];
	p->ttl = ip[8];
	/* Ethernet pads short frames (some NICs add trailers): the datagram ends where it says. */
	p->l3_len = (uint16_t)tot;
	/* Options are skipped whole via the IHL, so option bytes are never read as ports. */
	p->l4_off = (uint16_t)(l3 + ihl);

	/* The reserved flag bit is ignored on receipt, as Linux does (RFC 791: sender sets 0). */
	frag = wire_get16(ip + 6);
	if (frag & IP4_FLAG_DF)
		p->flags |= KEEL_PKT_DF;
	if (frag & (IP4_FLAG_MF | IP4_FRAG_MASK)) {
		p->flags |= KEEL_PKT_FRAG;
		fo = frag & IP4_FRAG_MASK;
		if (fo) {
			/*
			 * RFC 1858 3.4: a TCP fragment at offset 8 bytes can only exist to
			 * overwrite the TCP flags of the first fragment past a filter.
			 * RFC 791: a datagram is at most 65535 bytes; a fragment that would
			 * reassemble past that is an attack (ping of death).
			 */
			if ((fo == 1 && p->key.proto == KEEL_PROTO_TCP) ||
			    fo * 8 + (tot - ihl) > IP_MAX_DATAGRAM)
				return KEEL_DROP_IP4_FRAG_OFFSET;
			/* No L4 header in a later fragment: ports stay 0. */
			p->flags |= KEEL_PKT_FRAG_LATER;
			return KEEL_DROP_NONE;
		}
	}
	return parse_l4(ip + ihl, tot - ihl, KEEL_AF_INET4, frag & IP4_FLAG_MF, p);
}

enum ip6_src_class { IP6_SRC_OK, IP6_SRC_SCOPED, IP6_SRC_BAD };

/*
 * RFC 4291 2.7: a multicast address is never a source; RFC 4291 2.5.3: the
 * loopback ::1 must never leave a node. Both are dropped here. Scoped: the
 * unspecified address :: (2.5.2: never a source of a forwarded packet, but
 * DAD neighbour solicitations, RFC 4862 5.4.2, use it), link-local fe80::/10
 * (2.5.6: never forwarded off the link, but neighbour discovery uses it) and
 * IPv4-mapped ::ffff:0:0/96 (2.5.5.2: only inside a node's API, RFC 6890).
 * One compare for the common case: global sources start with neither 0x00
 * nor 0xfe/0xff.
 */
static inline enum ip6_src_class ip6_src_class(const uint8_t *src)
{
	static const uint8_t zero10[10];

	if ((uint8_t)(src[0] + 2) > 2)
		return IP6_SRC_OK;
	if (src[0] == 0xff)
		return IP6_SRC_BAD;
	if (src[0] == 0xfe)
		return (src[1] & 0xc0) == 0x80 ? IP6_SRC_SCOPED : IP6_SRC_OK;
	if (memcmp(src, zero10, sizeof(zero10)))
		return IP6_SRC_OK;
	if (src[10] == 0xff && src[11] == 0xff)
		return IP6_SRC_SCOPED;
	if (src[10] | src[11] | src[12] | src[13] | src[14])
		return IP6_SRC_OK; /* deprecated IPv4-compatible (2.5.5.1): routed like any */
	if (src[15] == 0)
		return IP6_SRC_SCOPED;
	return src[15] == 1 ? IP6_SRC_BAD : IP6_SRC_OK;
}

enum keel_drop keel_parse_source_reason(const struct keel_pkt *p)
{
	const uint8_t *src = p->key.src;

	if (!(p->flags & KEEL_PKT_SRC_SCOPED))
		return KEEL_DROP_NONE;
	if (p->key.family == KEEL_AF_INET4)
		return KEEL_DROP_IP4_SRC_LINK_LOCAL;
	if (src[0] == 0xfe)
		return KEEL_DROP_IP6_SRC_LINK_LOCAL;
	return src[10] == 0xff ? KEEL_DROP_IP6_SRC_V4MAPPED : KEEL_DROP_IP6_SRC_UNSPECIFIED;
}

/*
 * A Routing header (type, Segments Left) in a packet addressed to a VIP or
 * this host. RFC 5095 deprecates type 0 (source routing used to bounce
 * traffic and amplify it between hosts): refused whatever Segments Left
 * says, as firewalls do, since nothing legitimate sends it. Any other type
 * with segments left names a next hop after us: RFC 8200 4.4 says a node
 * that does not process that type discards the packet, and a load balancer
 * is never an intermediate node of a source route, whatever the type
 * (SRv6 endpoints included). With none left the header is spent: ignored,
 * the packet is delivered. Keel sends no Parameter Problem (nothing a
 * forged source could aim at someone else); the drop is counted.
 */
static inline enum keel_drop ip6_routing_verdict(uint8_t type, uint8_t segments_left)
{
	if (type == IP6_RH_TYPE0)
		return KEEL_DROP_IP6_ROUTING_TYPE0;
	return segments_left ? KEEL_DROP_IP6_ROUTING_SEGMENTS_LEFT : KEEL_DROP_NONE;
}

/*
 * The walk; refuse_routing (a constant at each call, so the parser's copy
 * pays nothing for packets without extension headers) applies
 * ip6_routing_verdict to each Routing header, in chain order.
 */
static inline enum keel_drop ip6_chain_walk(const uint8_t *ip, uint32_t end, struct keel_ip6_chain *c,
					    bool refuse_routing)
{
	uint32_t off = WIRE_IP6_HLEN, hlen;
	enum keel_drop r;
	unsigned int n;
	uint8_t nh = ip[6];

	c->frag = 0;
	for (n = 0;; n++) {
		switch (nh) {
		case IP6_NH_HOPOPTS:
			/* RFC 8200 4.3: Hop-by-Hop only right after the IPv6 header. */
			if (n != 0)
				return KEEL_DROP_IP6_EXTHDR_ORDER;
			/* fallthrough */
		case IP6_NH_ROUTING:
		case IP6_NH_DSTOPTS:
			if (n >= KEEL_PARSE_MAX_EXTHDRS)
				return KEEL_DROP_IP6_EXTHDR_TOO_MANY;
			/* RFC 8200 4.3-4.6: length in 8-octet units past the first 8. */
			if (end - off < 8)
				return KEEL_DROP_IP6_EXTHDR_TRUNCATED;
			hlen = ((uint32_t)ip[off + 1] + 1) * 8;
			if (hlen > end - off)
				return KEEL_DROP_IP6_EXTHDR_TRUNCATED;
			if (refuse_routing && nh == IP6_NH_ROUTING) {
				r = ip6_routing_verdict(ip[off + 2], ip[off + 3]);
				if (r != KEEL_DROP_NONE)
					return r;
			}
			nh = ip[off];
			off += hlen;
			continue;
		case IP6_NH_FRAGMENT:
			if (n >= KEEL_PARSE_MAX_EXTHDRS)
				return KEEL_DROP_IP6_EXTHDR_TOO_MANY;
			if (end - off < IP6_FRAG_HLEN)
				return KEEL_DROP_IP6_EXTHDR_TRUNCATED;
			/* RFC 8200 4.1: at most one Fragment header per packet. */
			if (c->frag)
				return KEEL_DROP_IP6_FRAG_INVALID;
			c->frag = off;
			nh = ip[off];
			off += IP6_FRAG_HLEN;
			/* A later fragment: payload, not headers, follows. */
			if (wire_get16(ip + c->frag + 2) >> 3)
				break;
			continue;
		default:
			break;
		}
		break;
	}
	c->off = off;
	c->nh = nh;
	return KEEL_DROP_NONE;
}

enum keel_drop keel_parse_ip6_chain(const uint8_t *ip, uint32_t end, struct keel_ip6_chain *c)
{
	return ip6_chain_walk(ip, end, c, false);
}

static enum keel_drop parse_ip6(const uint8_t *frame, uint32_t len, uint32_t l3, struct keel_pkt *p)
{
	const uint8_t *ip = frame + l3;
	uint32_t avail = len - l3;
	struct keel_ip6_chain c;
	uint32_t plen, end, fo, more, data_len;
	enum ip6_src_class sc;
	bool first_frag = false;
	enum keel_drop r;

	p->key.family = KEEL_AF_INET6;
	if (avail < WIRE_IP6_HLEN)
		return KEEL_DROP_IP6_TRUNCATED;
	/* RFC 8200 3: version 6. */
	if ((ip[0] >> 4) != 6)
		return KEEL_DROP_IP6_VERSION;
	/*
	 * RFC 8200 3: the payload length counts what follows the fixed header and
	 * cannot pass what the link layer delivered. Offsets are 16-bit, so the
	 * whole datagram must also end within 64 KiB of the frame start; payload
	 * length 0 with a Jumbo option (RFC 2675) is not supported and fails the
	 * extension header walk below as truncated.
	 */
	plen = wire_get16(ip + 4);
	if (plen > avail - WIRE_IP6_HLEN || l3 + WIRE_IP6_HLEN + plen > UINT16_MAX)
		return KEEL_DROP_IP6_PAYLOAD_LENGTH;
	sc = ip6_src_class(ip + 8);
	if (sc == IP6_SRC_BAD)
		return KEEL_DROP_IP6_BAD_SOURCE;
	if (sc == IP6_SRC_SCOPED)
		p->flags |= KEEL_PKT_SRC_SCOPED;

	memcpy(p->key.src, ip + 8, 16);
	memcpy(p->key.dst, ip + 24, 16);
	p->tos = (uint8_t)((ip[0] << 4) | (ip[1] >> 4));
	p->ttl = ip[7];
	end = WIRE_IP6_HLEN + plen;
	p->l3_len = (uint16_t)end;

	/* Every read of the walk is checked against end (the datagram), which the checks above keep within the frame. */
	r = ip6_chain_walk(ip, end, &c, true);
	if (r != KEEL_DROP_NONE)
		return r;
	if (c.frag) {
		/* RFC 8200 4.5: both reserved fields are ignored on receipt. */
		fo = wire_get16(ip + c.frag + 2) >> 3;
		more = ip[c.frag + 3] & IP6_FRAG_M;
		data_len = end - c.frag - IP6_FRAG_HLEN;
		/*
		 * RFC 8200 4.5: a fragment with M set must carry a multiple of 8
		 * bytes, and no fragment may reassemble past 65535 bytes.
		 */
		if ((more && (data_len & 7)) || fo * 8 + data_len > IP_MAX_DATAGRAM)
			return KEEL_DROP_IP6_FRAG_INVALID;
		/* RFC 6946: offset 0 with M clear is an atomic fragment, a whole packet. */
		if (fo | more) {
			p->flags |= KEEL_PKT_FRAG;
			if (fo) {
				/* Later fragment: no L4 header, ports stay 0. */
				p->flags |= KEEL_PKT_FRAG_LATER;
				p->key.proto = c.nh;
				p->l4_off = (uint16_t)(l3 + c.off);
				return KEEL_DROP_NONE;
			}
			/* RFC 7112: a first fragment holds the whole chain. */
			first_frag = true;
		}
	}

	p->key.proto = c.nh;
	p->l4_off = (uint16_t)(l3 + c.off);
	return parse_l4(ip + c.off, end - c.off, KEEL_AF_INET6, first_frag, p);
}

static inline enum keel_drop parse_frame(const uint8_t *frame, uint32_t len, struct keel_pkt *p)
{
	uint32_t l3 = WIRE_ETH_HLEN;
	uint16_t etype;

	pkt_reset(p);
	if (len < WIRE_ETH_HLEN)
		return KEEL_DROP_L2_TRUNCATED;
	etype = wire_get16(frame + 12);
	/* The common case first: untagged IPv4 goes straight to its parser. */
	if (etype == WIRE_ETH_P_IPV4) {
		p->l3_off = WIRE_ETH_HLEN;
		return parse_ip4(frame, len, WIRE_ETH_HLEN, p);
	}
	if (etype == WIRE_ETH_P_8021Q) {
		if (len < WIRE_ETH_HLEN + WIRE_VLAN_HLEN)
			return KEEL_DROP_VLAN_TRUNCATED;
		p->vlan_tci = wire_get16(frame + 14);
		p->flags |= KEEL_PKT_VLAN;
		/* IEEE 802.1Q 9.6: VID 0xfff is reserved and never forwarded (VID 0 is a priority tag). */
		if ((p->vlan_tci & 0x0fff) == 0x0fff)
			return KEEL_DROP_VLAN_RESERVED;
		etype = wire_get16(frame + 16);
		l3 += WIRE_VLAN_HLEN;
		/* One 802.1Q tag only: a second C-tag or an inner S-tag is QinQ. */
		if (etype == WIRE_ETH_P_8021Q || etype == WIRE_ETH_P_8021AD || etype == WIRE_ETH_P_QINQ_OLD)
			return KEEL_DROP_VLAN_STACKED;
	} else if (etype == WIRE_ETH_P_8021AD || etype == WIRE_ETH_P_QINQ_OLD) {
		/* An outer 802.1ad S-tag always carries a C-tag: stacked. */
		return KEEL_DROP_VLAN_STACKED;
	}
	p->l3_off = (uint16_t)l3;

	if (etype == WIRE_ETH_P_IPV4)
		return parse_ip4(frame, len, l3, p);
	if (etype == WIRE_ETH_P_IPV6)
		return parse_ip6(frame, len, l3, p);
	/* ARP, LLDP, LACP, 802.3 length frames...: the kernel's business, not malformed. */
	p->flags |= KEEL_PKT_NOT_IP;
	return KEEL_DROP_NONE;
}

/*
 * Rewrite the flow key as five 8-byte stores, taking the addresses from the
 * frame itself. The stages above fill it field by field (2- and 4-byte
 * stores over a memset); the VIP lookup and the flow hash then read it in
 * 8- and 16-byte words, and a load that spans several smaller stores cannot
 * be forwarded from the store buffer: measured, those stalls cost more than
 * the whole parse. Loads of the same width as the stores (ports, proto,
 * family) forward fine.
 */
static inline void key_settle(const uint8_t *frame, struct keel_pkt *p)
{
	const uint8_t *ip = frame + p->l3_off;
	uint8_t *k = (uint8_t *)&p->key;
	uint64_t s0, s1, d0, d1, tail;
	uint32_t a;

	if (p->key.family == KEEL_AF_INET4) {
		memcpy(&a, ip + 12, 4);
		s0 = a;
		memcpy(&a, ip + 16, 4);
		d0 = a;
		s1 = d1 = 0;
	} else {
		memcpy(&s0, ip + 8, 8);
		memcpy(&s1, ip + 16, 8);
		memcpy(&d0, ip + 24, 8);
		memcpy(&d1, ip + 32, 8);
	}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	tail = (uint64_t)p->key.sport | (uint64_t)p->key.dport << 16 |
	       (uint64_t)p->key.proto << 32 | (uint64_t)p->key.family << 40;
#else
	tail = (uint64_t)p->key.sport << 48 | (uint64_t)p->key.dport << 32 |
	       (uint64_t)p->key.proto << 24 | (uint64_t)p->key.family << 16;
#endif
	/* Straight from registers: no staging buffer whose wide reload would stall in turn. */
	memcpy(k, &s0, 8);
	memcpy(k + 8, &s1, 8);
	memcpy(k + 16, &d0, 8);
	memcpy(k + 24, &d1, 8);
	memcpy(k + 32, &tail, 8);
}

/*
 * The common case in a few wide loads: untagged IPv4 without options, not a
 * fragment (DF alone allowed), TCP or UDP, a source that is neither martian
 * nor link-local, every length consistent and the checksum valid. Returns
 * false, having written nothing, for anything else: the full parser then
 * decides, so what it rejects is still rejected (and counted by its reason).
 * The result must equal the full parser's byte for byte; the pipeline fuzzer
 * checks that on every input (keel_parse_full).
 */
static inline bool parse_fast4(const uint8_t *f, uint32_t len, struct keel_pkt *p)
{
	const uint8_t *ip = f + WIRE_ETH_HLEN, *l4 = ip + IP4_MIN_HLEN;
	uint32_t tot, avail, doff, ulen;
	uint64_t s0, d0, tail;
	uint32_t a;
	uint16_t frag;

	if (len < WIRE_ETH_HLEN + IP4_MIN_HLEN + WIRE_UDP_HLEN || wire_get16(f + 12) != WIRE_ETH_P_IPV4 ||
	    ip[0] != 0x45)
		return false;
	tot = wire_get16(ip + 2);
	frag = wire_get16(ip + 6);
	if (tot > len - WIRE_ETH_HLEN || tot < IP4_MIN_HLEN + WIRE_UDP_HLEN ||
	    (frag & (IP4_FLAG_MF | IP4_FRAG_MASK)) || ip4_src_martian(ip[12]) ||
	    (ip[12] == 169 && ip[13] == 254))
		return false;
	avail = tot - IP4_MIN_HLEN;
	if (ip[9] == KEEL_PROTO_TCP) {
		if (avail < TCP_MIN_HLEN)
			return false;
		doff = (uint32_t)(l4[12] >> 4) * 4;
		if (doff < TCP_MIN_HLEN || doff > avail)
			return false;
		p->tcp_flags = l4[13];
	} else if (ip[9] == KEEL_PROTO_UDP) {
		ulen = wire_get16(l4 + 4);
		if (ulen < WIRE_UDP_HLEN || ulen > avail)
			return false;
		p->tcp_flags = 0;
	} else {
		return false;
	}
	if (csum_ip4_header(ip, IP4_MIN_HLEN) != 0)
		return false;

	memcpy(&a, ip + 12, 4);
	s0 = a;
	memcpy(&a, ip + 16, 4);
	d0 = a;
	memcpy(&a, l4, 4); /* both ports, network order, as the key holds them */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	tail = (uint64_t)a | (uint64_t)ip[9] << 32 | (uint64_t)KEEL_AF_INET4 << 40;
#else
	tail = (uint64_t)a << 32 | (uint64_t)ip[9] << 24 | (uint64_t)KEEL_AF_INET4 << 16;
#endif
	/* Five 8-byte stores, as key_settle does, so the hash's wide loads forward. */
	{
		uint8_t *k = (uint8_t *)&p->key;
		uint64_t z = 0;

		memcpy(k, &s0, 8);
		memcpy(k + 8, &z, 8);
		memcpy(k + 16, &d0, 8);
		memcpy(k + 24, &z, 8);
		memcpy(k + 32, &tail, 8);
	}
	p->l3_off = WIRE_ETH_HLEN;
	p->l4_off = WIRE_ETH_HLEN + IP4_MIN_HLEN;
	p->l3_len = (uint16_t)tot;
	p->vlan_tci = 0;
	p->flags = (frag & IP4_FLAG_DF) ? KEEL_PKT_DF : 0;
	p->tos = ip[1];
	p->ttl = ip[8];
	p->icmp_type = 0;
	p->icmp_code = 0;
	return true;
}

enum keel_drop keel_parse_full(const uint8_t *frame, uint32_t len, struct keel_pkt *p)
{
	enum keel_drop r = parse_frame(frame, len, p);

	if (r == KEEL_DROP_NONE && !(p->flags & KEEL_PKT_NOT_IP))
		key_settle(frame, p);
	return r;
}

enum keel_drop keel_parse(const uint8_t *frame, uint32_t len, struct keel_pkt *p)
{
	if (parse_fast4(frame, len, p))
		return KEEL_DROP_NONE;
	return keel_parse_full(frame, len, p);
}
