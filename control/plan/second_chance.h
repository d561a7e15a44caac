/* Second chance, keel-control's side: remember each VIP's last table and name, per slot, the owner it had before a recent change. */
#ifndef KEEL_CONTROL_SECOND_CHANCE_H
#define KEEL_CONTROL_SECOND_CHANCE_H

#include <stdint.h>

#include "snapshot_build.h"
#include "tables.h"

struct second_chance;

/* window_ms: how long a slot's previous owner is carried after it changed; 0 disables. NULL on ENOMEM. */
struct second_chance *second_chance_new(uint64_t window_ms);
void second_chance_free(struct second_chance *sc);

/*
 * Called with every spec about to be published: computes each VIP's Maglev
 * table as the snapshot builder will, compares it with the one published
 * before, and points vips[i].prev_owner at the previous owners still within
 * the window (owned by sc until the next call). A previous owner that is no
 * longer a backend of the VIP is not named. Returns 0 or -ENOMEM (then no
 * previous owners are set: the publish goes on without them).
 */
int second_chance_apply(struct second_chance *sc, struct keel_snapshot_spec *spec, struct keel_vip_spec *vips,
			uint64_t now_ms);

/*
 * Take each VIP's table from vt (the specs' tables then come from it,
 * spec_tables) and remember the last published one by reference rather than
 * in a copy of its own: 2 bytes a slot less per VIP (131 MB at 1000 VIPs of
 * 65537 slots). The caller sweeps vt only after second_chance_apply, so the
 * table last published is still there at the next call; one that is gone
 * (a drained host's publish of no VIPs) starts that VIP's history again.
 */
void second_chance_use_tables(struct second_chance *sc, struct vip_tables *vt);

/* Slots carrying a previous owner in the last spec, summed over VIPs (status, tests). */
uint64_t second_chance_slots(const struct second_chance *sc);

#endif
