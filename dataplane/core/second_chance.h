/* Second chance, Keel's side: a flow's previous slot owner, and carrying it to the new owner in a GUE private-data field. */
#ifndef KEEL_CORE_SECOND_CHANCE_H
#define KEEL_CORE_SECOND_CHANCE_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"
#include "snapshot.h"
#include "wire.h" /* the GUE private-data layout (KEEL_GUE_PRIV_*), shared with bpf/decap.bpf.c */

/*
 * The backend that owned slot_of(hash) of VIP v (index vip_idx) before it
 * changed recently, when that is not cur and it can be carried (a backend of
 * this VIP, GUE, of cur's address family: the backend that hands the packet
 * on only rewrites the outer destination); NULL otherwise.
 */
const struct keel_backend *second_chance_prev(const struct keel_snapshot *s, const struct keel_vip *v,
					      uint16_t vip_idx, uint32_t hash, uint16_t cur);

/*
 * Insert the private data naming prev into a frame encap_packet() just made
 * (Ethernet [802.1Q], IPv4 without options or IPv6 without extension
 * headers, UDP, GUE): the headers move 8 (IPv4 previous owner) or 20 (IPv6)
 * bytes into the headroom, and the lengths and the IPv4 header checksum or
 * the UDP checksum (IPv6) are updated. prev must be of the outer header's
 * family. The frame is left as it was (and 0 returned) when it is not of
 * that form, there is no headroom or the MTU would be exceeded: it then goes
 * without the hint.
 */
int second_chance_mark(struct keel_buf *b, const struct keel_backend *prev, uint16_t mtu);

#endif
