/* Second chance, Keel's side: a flow's previous slot owner, and carrying it to the new owner in a GUE private-data field. */
#ifndef KEEL_CORE_SECOND_CHANCE_H
#define KEEL_CORE_SECOND_CHANCE_H

#include <stdint.h>

#include "drop.h"
#include "pkt.h"
#include "snapshot.h"

/* GUE private data (docs/second-chance.md; the same values as bpf/keel_bpf.h, which the backend reads). */
#define SECOND_CHANCE_GUE_FLAG 0x0001   /* GUE flags field: private data present */
#define SECOND_CHANCE_PREV4 1           /* type: previous owner, IPv4 */
#define SECOND_CHANCE_LEN 8             /* bytes: type, flags, 2 zero, IPv4 address */
#define SECOND_CHANCE_WORDS (SECOND_CHANCE_LEN / 4)

/*
 * The backend that owned slot_of(hash) of VIP v (index vip_idx) before it
 * changed recently, when that is not cur and it can be carried (a backend of
 * this VIP, GUE, IPv4 like cur); NULL otherwise.
 */
const struct keel_backend *second_chance_prev(const struct keel_snapshot *s, const struct keel_vip *v,
					      uint16_t vip_idx, uint32_t hash, uint16_t cur);

/*
 * Insert the private data naming prev into a frame encap_packet() just made
 * (Ethernet [802.1Q], IPv4 without options, UDP, GUE): the headers move 8
 * bytes into the headroom, lengths and the IPv4 checksum are updated. The
 * frame is left as it was (and 0 returned false) when there is no headroom
 * or the MTU would be exceeded: it then goes without the hint.
 */
int second_chance_mark(struct keel_buf *b, const struct keel_backend *prev, uint16_t mtu);

#endif
