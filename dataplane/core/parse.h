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

#endif
