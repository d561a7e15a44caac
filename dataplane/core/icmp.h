/* ICMP handled by the load balancer itself: echo replies, "too big" answers, and locating the connection an ICMP error is about. */
#ifndef KEEL_CORE_ICMP_H
#define KEEL_CORE_ICMP_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"

/*
 * Echo request (ICMP 8 / ICMPv6 128) to a VIP, answered in place: sent from
 * the port's MAC to the request's source MAC, addresses swapped, type changed
 * to reply, TTL reset to 64, checksums updated, padding trimmed. Returns
 * KEEL_DROP_NONE or a reason: KEEL_DROP_ICMP_UNSUPPORTED (a fragment, options),
 * KEEL_DROP_L4_TRUNCATED, KEEL_DROP_ICMP_CHECKSUM (the request's ICMP
 * checksum is wrong: RFC 792/4443 2.3, never answer what we cannot verify),
 * KEEL_DROP_ECHO_TOO_BIG (the reply would exceed port->mtu).
 */
enum keel_drop icmp_echo_reply(struct keel_buf *b, const struct keel_pkt *p,
			       const struct keel_port *port);

/*
 * Replace b with an ICMP "fragmentation needed" (type 3 code 4, RFC 1191) or
 * ICMPv6 "packet too big" (RFC 4443 3.2) sent from the packet's destination
 * to its source (Ethernet: from src_mac, the port's, to the packet's source), advertising mtu, quoting as much of the original IP packet
 * as keeps the error within 576 bytes (IPv4) or 1280 bytes (IPv6). Built in
 * place using headroom. Returns KEEL_DROP_NONE or KEEL_DROP_NO_HEADROOM.
 */
enum keel_drop icmp_too_big(struct keel_buf *b, const struct keel_pkt *p, const uint8_t src_mac[6],
			    uint16_t mtu);

/*
 * For an ICMP error (KEEL_PKT_ICMP_ERROR): the flow key of the connection it
 * reports on, as the client sends it. The quoted packet was sent from the
 * VIP to the client, so its addresses and ports are swapped back. Works with
 * only the quoted IP header and 8 bytes of L4 (RFC 792); a quoted IPv6
 * packet's extension headers are walked as the parser walks them
 * (keel_parse_ip6_chain), so errors about fragmented flows find them. Returns
 * KEEL_DROP_NONE or KEEL_DROP_ICMP_ERROR_INNER when the quote is unusable.
 */
enum keel_drop icmp_error_flow_key(const uint8_t *frame, uint32_t len, const struct keel_pkt *p,
				   struct keel_flow_key *key);

#endif
