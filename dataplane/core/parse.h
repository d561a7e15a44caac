/* Parser: Ethernet (one 802.1Q tag), IPv4 with options, IPv6 with extension headers, TCP/UDP/ICMP/ICMPv6. */
#ifndef KEEL_CORE_PARSE_H
#define KEEL_CORE_PARSE_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"

/* Longest IPv6 extension-header chain walked before the packet is refused. */
#define KEEL_PARSE_MAX_EXTHDRS 8

/*
 * Parse a frame of len bytes and fill p (p->vip is left untouched).
 * Returns KEEL_DROP_NONE for an IP packet that may be classified, or for a
 * non-IP frame (ARP, LLDP, ...) with KEEL_PKT_NOT_IP set in p->flags; any
 * other value names why the frame is malformed. Never reads outside
 * [frame, frame + len).
 */
enum keel_drop keel_parse(const uint8_t *frame, uint32_t len, struct keel_pkt *p);

/*
 * The same without the common-case fast path: every frame through the full
 * parser. keel_parse must give exactly its result; tests and the fuzzer compare.
 */
enum keel_drop keel_parse_full(const uint8_t *frame, uint32_t len, struct keel_pkt *p);

/*
 * For a packet the parser flagged KEEL_PKT_SRC_SCOPED: the reason it is
 * refused when it is aimed at a VIP (ip6_src_unspecified, ip6_src_link_local,
 * ip6_src_v4mapped, ip4_src_link_local); KEEL_DROP_NONE for any other packet.
 */
enum keel_drop keel_parse_source_reason(const struct keel_pkt *p);

/* Where an IPv6 extension-header chain ends (keel_parse_ip6_chain). */
struct keel_ip6_chain {
	uint32_t off;  /* first byte after the chain, from the start of the IPv6 header */
	uint32_t frag; /* offset of the Fragment header, 0 when there is none */
	uint8_t nh;    /* the header that follows the chain */
};

/*
 * RFC 8200 4: walk the extension headers of the IPv6 packet at ip, whose
 * bytes end at end (at least 40): Hop-by-Hop only first, at most one Fragment
 * header, at most KEEL_PARSE_MAX_EXTHDRS headers, so a chain of tiny headers
 * cannot cost unbounded time. Stops after a Fragment header with a non-zero
 * offset (payload follows, not headers). Never reads at or past end. The
 * parser and the walk over the packet an ICMPv6 error quotes share it; only
 * the parser refuses Routing headers (ip6_routing_type0,
 * ip6_routing_segments_left): a quoted packet was in flight, its segments
 * not yet used.
 * Returns KEEL_DROP_NONE or an ip6_exthdr_* / ip6_frag_invalid reason.
 */
enum keel_drop keel_parse_ip6_chain(const uint8_t *ip, uint32_t end, struct keel_ip6_chain *c);

#endif
