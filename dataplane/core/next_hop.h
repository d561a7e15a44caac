/* Several next hops (dual-ToR uplinks): which gateway an encapsulated packet leaves by, chosen by its flow's entropy. */
#ifndef KEEL_CORE_NEXT_HOP_H
#define KEEL_CORE_NEXT_HOP_H

#include <stdint.h>
#include <string.h>

#include "pkt.h"
#include "snapshot.h"

/*
 * The choice is a table of KEEL_NEXT_HOP_SLOTS slots indexed by the top
 * byte of the flow's entropy (the flow-table hash that also fills the outer
 * source and GUE port), so one connection keeps one next hop while the set
 * is stable. Slot i's home is configured next hop i % n_configured; a slot
 * whose home is unusable goes to the usable ones in turn. Removing a next
 * hop therefore moves only the flows of its own slots, and they come back
 * when it does. The backend is chosen before and apart from this (Maglev,
 * the flow table): a next hop leaving never changes a flow's backend.
 */

/*
 * Fill s->next_hop_slot from s->n_next_hops usable entries of s->next_hop
 * (each with its configured index in id, ids ascending, all < n_configured).
 * n_next_hops <= 1 leaves every slot 0.
 */
void keel_next_hop_slots(struct keel_snapshot *s, uint32_t n_configured);

/*
 * After encapsulation, with s->n_next_hops > 1: a frame that leaves by the
 * gateway (its destination is s->gw_mac, which every backend template
 * without a MAC of its own carries) gets the flow's next hop instead, and is
 * counted by that next hop's id. A backend with a MAC of its own (on the
 * link) keeps it. frame is the encapsulated packet's Ethernet header.
 */
static inline void next_hop_set(const struct keel_snapshot *s, uint8_t *frame, uint32_t entropy,
				uint64_t *pkts)
{
	const struct keel_next_hop *nh;

	if (memcmp(frame, s->gw_mac, 6) != 0)
		return;
	nh = &s->next_hop[s->next_hop_slot[entropy >> (32 - KEEL_NEXT_HOP_SLOT_BITS)]];
	memcpy(frame, nh->mac, 6);
	pkts[nh->id]++;
}

/*
 * next_hop_set when some next hop names its port (s->next_hop_ports): also
 * the port the frame leaves by into b->port (0 for a backend on the link,
 * which leaves as before) and, for a next hop with a port, that port's MAC
 * as the source.
 */
static inline void next_hop_set_port(const struct keel_snapshot *s, struct keel_buf *b,
				     uint32_t entropy, uint64_t *pkts)
{
	const struct keel_next_hop *nh;

	b->port = 0;
	if (memcmp(b->data, s->gw_mac, 6) != 0)
		return;
	nh = &s->next_hop[s->next_hop_slot[entropy >> (32 - KEEL_NEXT_HOP_SLOT_BITS)]];
	memcpy(b->data, nh->mac, 6);
	if (nh->port)
		memcpy(b->data + 6, nh->src_mac, 6);
	b->port = nh->port;
	pkts[nh->id]++;
}

#endif
