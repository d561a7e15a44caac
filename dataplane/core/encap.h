/* Encapsulation towards a backend: IPIP, IPv6-in-IPv6, 4in6, 6in4 and GUE, with per-flow entropy in the outer header. */
#ifndef KEEL_CORE_ENCAP_H
#define KEEL_CORE_ENCAP_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"
#include "snapshot.h"
#include "wire.h"

#define ENCAP_GUE_DEFAULT_PORT 6080

/* Outer header bytes (IP, plus UDP and GUE for GUE) for an outer family and encap kind. */
static inline uint16_t encap_overhead(uint8_t outer_family, uint8_t encap)
{
	uint16_t ip = outer_family == KEEL_AF_INET6 ? WIRE_IP6_HLEN : WIRE_IP4_HLEN;

	return encap == KEEL_ENCAP_GUE ? (uint16_t)(ip + WIRE_UDP_HLEN + KEEL_GUE_HLEN) : ip;
}

/*
 * Fill be's outer header template (struct keel_encap_tmpl, snapshot.h) from
 * the backend (family, address, MAC) and the snapshot's output parameters
 * (src_mac, src4/src6 and their prefix lengths, ttl, gue_port).
 * keel_snapshot_build does it for every backend; whoever builds a backend
 * record otherwise (the unit tests) calls it after setting those fields.
 */
void keel_encap_tmpl_fill(struct keel_encap_tmpl *t, const struct keel_snapshot *s,
			  const struct keel_backend *be);

/*
 * Encapsulate the IP packet in b (parsed as p) for backend be. The output
 * frame is: Ethernet (src s->src_mac, dst be->mac; the input's 802.1Q tag
 * kept if it had one) + outer IPv4/IPv6 (+ UDP + GUE) + the inner IP packet
 * exactly as received, without Ethernet padding. The outer source is taken
 * from s->src4/src6 with the host bits set from entropy (for GUE the UDP
 * source port carries entropy too, in 49152-65535; the IPv6 flow label
 * carries 20 bits of it); outer TTL is s->ttl; DSCP and ECN are copied from
 * the inner packet (RFC 6040 normal mode); IPv4 DF is set; all checksums are
 * valid (UDP checksum computed for IPv6, zero for IPv4 as RFC 768 allows).
 * p must describe b (l3_off + l3_len <= b->len), as keel_parse leaves it;
 * be->tmpl must be filled for s (keel_encap_tmpl_fill): the headers are
 * written from it.
 *
 * Returns KEEL_DROP_NONE; KEEL_DROP_TOO_BIG when the outer IP packet would
 * exceed s->mtu, with *inner_mtu set to the largest inner packet that fits
 * (for the ICMP answer); or KEEL_DROP_NO_HEADROOM.
 */
enum keel_drop encap_packet(struct keel_buf *b, const struct keel_pkt *p,
			    const struct keel_snapshot *s, const struct keel_backend *be,
			    uint8_t encap, uint32_t entropy, uint16_t *inner_mtu);

#endif
