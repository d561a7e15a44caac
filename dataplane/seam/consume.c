/* The worker's side of the seam: one command from its ring, an activation bounded and validated before it is obeyed. */
#include "seam.h"

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "snapshot.h"

uint32_t keel_seam_worker_poll(struct keel_region *r, uint32_t w, const struct keel_snapshot **snap,
			       struct keel_cmd *cmd)
{
	struct keel_worker_status *st = keel_region_status(r, w);
	const struct keel_snapshot *next;
	const char *why = NULL;

	if (rte_ring_dequeue_elem(keel_region_ring(r, w), cmd, sizeof(*cmd)) != 0)
		return 0;
	if (cmd->type != KEEL_CMD_ACTIVATE)
		return cmd->type;
	if (cmd->slot >= r->n_slots)
		goto refuse;
	next = keel_region_slot(r, cmd->slot);
	/* Validated once here, so the per-packet code can trust every offset and index. */
	if (keel_snapshot_validate(next, r->slot_size, &why) || next->generation != cmd->generation)
		goto refuse;
	*snap = next;
	/* Reported in use, then the generation that lets keel-control reuse the old slot (region.h). */
	keel_status_activated(st, cmd->slot, cmd->generation);
	return KEEL_CMD_ACTIVATE;
refuse:
	/* Keep forwarding with the current snapshot; the refusal is what keel-control gets to see. */
	keel_status_refused(st);
	return KEEL_CMD_ACTIVATE;
}
