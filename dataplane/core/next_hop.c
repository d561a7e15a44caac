/* The next-hop slot table a snapshot carries: each slot at its home next hop while usable, else spread over the others. */
#include "next_hop.h"

void keel_next_hop_slots(struct keel_snapshot *s, uint32_t n_configured)
{
	uint8_t at[KEEL_MAX_NEXT_HOPS]; /* configured index -> entry in next_hop[] + 1, 0: unusable */
	uint32_t i, orphan = 0, n = s->n_next_hops;

	memset(s->next_hop_slot, 0, sizeof(s->next_hop_slot));
	if (n <= 1 || n_configured == 0)
		return;
	if (n_configured > KEEL_MAX_NEXT_HOPS)
		n_configured = KEEL_MAX_NEXT_HOPS;
	memset(at, 0, sizeof(at));
	for (i = 0; i < n; i++)
		if (s->next_hop[i].id < n_configured)
			at[s->next_hop[i].id] = (uint8_t)(i + 1);
	for (i = 0; i < KEEL_NEXT_HOP_SLOTS; i++) {
		uint32_t home = i % n_configured;

		/* Orphans in turn: the usable ones share a lost next hop's flows evenly. */
		s->next_hop_slot[i] = at[home] ? (uint8_t)(at[home] - 1) : (uint8_t)(orphan++ % n);
	}
}
