/* Classify a frame for the host: its control protocols go first and unbounded, the rest within a budget. */
#include "exception_class.h"

#define ETH_ARP 0x0806
#define ETH_IP4 0x0800
#define ETH_IP6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8

#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMP6 58
#define PROTO_OSPF 89

#define PORT_BGP 179
#define PORT_BFD 3784       /* RFC 5881, single hop */
#define PORT_BFD_ECHO 3785  /* RFC 5881 */
#define PORT_BFD_MULTI 4784 /* RFC 5883 */

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The transport of an IP packet at l4 (len bytes from there), ttl its TTL or hop limit. */
static enum keel_exc_class transport(uint8_t proto, const uint8_t *l4, uint32_t len, uint8_t ttl)
{
	uint16_t sport, dport;

	if (proto == PROTO_OSPF)
		return KEEL_EXC_CONTROL;
	if (proto == PROTO_ICMP6)
		/* RS, RA, NS, NA, redirect: only from the link (hop limit 255) */
		return len >= 1 && l4[0] >= 133 && l4[0] <= 137 && ttl == 255 ? KEEL_EXC_CONTROL :
										 KEEL_EXC_OTHER;
	if ((proto != PROTO_TCP && proto != PROTO_UDP) || len < 4)
		return KEEL_EXC_OTHER;
	sport = be16(l4);
	dport = be16(l4 + 2);
	if (proto == PROTO_TCP)
		return sport == PORT_BGP || dport == PORT_BGP ? KEEL_EXC_CONTROL : KEEL_EXC_OTHER;
	if (dport == PORT_BFD_MULTI)
		return KEEL_EXC_CONTROL;
	/* Single-hop BFD is sent with TTL 255 (GTSM): an off-link flood cannot pass as it. */
	return (dport == PORT_BFD || dport == PORT_BFD_ECHO) && ttl == 255 ? KEEL_EXC_CONTROL :
									     KEEL_EXC_OTHER;
}

enum keel_exc_class keel_exc_classify(const uint8_t *f, uint32_t len)
{
	uint32_t off = 12;
	uint16_t type;

	if (len < 14)
		return KEEL_EXC_OTHER;
	type = be16(f + off);
	if (type == ETH_VLAN || type == ETH_QINQ) {
		if (len < 18)
			return KEEL_EXC_OTHER;
		off += 4;
		type = be16(f + off);
	}
	off += 2;
	if (type == ETH_ARP)
		return KEEL_EXC_CONTROL;
	if (type == ETH_IP4) {
		const uint8_t *ip = f + off;
		uint32_t ihl;

		if (len - off < 20 || ip[0] >> 4 != 4)
			return KEEL_EXC_OTHER;
		ihl = (uint32_t)(ip[0] & 0x0f) * 4;
		/* A later fragment has no ports: OTHER (BGP and BFD are never fragmented in practice). */
		if (ihl < 20 || len - off < ihl || (be16(ip + 6) & 0x1fff))
			return KEEL_EXC_OTHER;
		return transport(ip[9], ip + ihl, len - off - ihl, ip[8]);
	}
	if (type == ETH_IP6) {
		const uint8_t *ip = f + off;

		if (len - off < 40 || ip[0] >> 4 != 6)
			return KEEL_EXC_OTHER;
		/* Only the first next header: the control protocols carry no extension headers. */
		return transport(ip[6], ip + 40, len - off - 40, ip[7]);
	}
	return KEEL_EXC_OTHER;
}
