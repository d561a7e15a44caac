/* Second chance, Keel's side: a flow's previous slot owner, and carrying it to the new owner in a GUE private-data field. */
#ifndef KEEL_CORE_SECOND_CHANCE_H
#define KEEL_CORE_SECOND_CHANCE_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"
#include "snapshot.h"

/* GUE private data (docs/second-chance.md; the same values as bpf/keel_bpf.h, which the backend reads). */
#define SECOND_CHANCE_GUE_FLAG 0x0001   /* GUE flags field: private data present */
#define SECOND_CHANCE_PREV4 1           /* type: previous owner, IPv4 (IPv4 outer header) */
#define SECOND_CHANCE_PREV6 2           /* type: previous owner, IPv6 (IPv6 outer header) */
#define SECOND_CHANCE_LEN 8             /* bytes: type, flags, 2 zero, IPv4 address */
#define SECOND_CHANCE_WORDS (SECOND_CHANCE_LEN / 4)
#define SECOND_CHANCE_LEN6 20           /* bytes: type, flags, 2 zero, IPv6 address */
#define SECOND_CHANCE_WORDS6 (SECOND_CHANCE_LEN6 / 4)

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
