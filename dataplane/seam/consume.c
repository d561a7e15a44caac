/* The worker's side of the seam: one command from its ring, an activation bounded and validated before it is obeyed. */
#include "seam.h"

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "snapshot.h"

uint32_t keel_seam_worker_poll(struct keel_region *r, uint32_t w, struct keel_seam_consumer *cons,
			       const struct keel_snapshot **snap, struct keel_cmd *cmd)
{
	struct keel_worker_status *st = keel_region_status(r, w);
	const struct keel_snapshot *next;
	const char *why = NULL;
	int ret;

	if (!cons->checking) {
		if (rte_ring_dequeue_elem(keel_region_ring(r, w), cmd, sizeof(*cmd)) != 0)
			return 0;
		if (cmd->type != KEEL_CMD_ACTIVATE)
			return cmd->type;
		if (cmd->slot >= r->n_slots)
			goto refuse;
		cons->cmd = *cmd;
		cons->checking = true;
		keel_snapshot_check_start(&cons->check, keel_region_slot(r, cmd->slot), r->slot_size);
	}
	/* Validated once here, in steps, so the per-packet code can trust every offset and index. */
	ret = keel_snapshot_check_step(&cons->check, KEEL_SEAM_CHECK_BUDGET, &why);
	if (ret > 0)
		return KEEL_SEAM_CHECKING;
	cons->checking = false;
	*cmd = cons->cmd;
	next = cons->check.s;
	if (ret || next->generation != cmd->generation)
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
