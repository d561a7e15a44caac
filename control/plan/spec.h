/* From the configuration, ids and health to a snapshot spec; and the disruption preview between two configurations. */
#ifndef KEEL_CONTROL_SPEC_H
#define KEEL_CONTROL_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ids.h"
#include "keel_api.h"
#include "config_model.h"
#include "snapshot_build.h"
#include "tables.h"

/* Whether a backend passes its health check now (1), fails it (0). */
typedef int (*spec_health_fn)(void *arg, const struct config_vip *v, const struct config_backend *b);

/*
 * The weight a backend goes into its VIP's table with (slow start,
 * control/plan/slow_start.h); bid is its id in the side's ids. NULL: the
 * configured weight.
 */
typedef uint32_t (*spec_weight_fn)(void *arg, const struct config_vip *v, const struct config_backend *b,
				   int bid);

struct spec_inputs {
	const struct keel_config *cfg;
	const struct ids *ids;
	spec_health_fn healthy; /* NULL: everything healthy */
	void *arg;
	uint8_t src_mac[6];     /* the dataplane port's MAC */
	uint8_t gw_mac[6];      /* next hop */
	uint64_t generation;
	/* Several next hops (next_hop.h): the usable ones, as keel_snapshot_spec takes them. */
	uint32_t n_next_hops;
	struct keel_next_hop next_hop[KEEL_MAX_NEXT_HOPS];
	uint32_t n_next_hops_configured;
	spec_weight_fn weight;  /* NULL: configured weights */
	void *weight_arg;
};

struct spec_out {
	struct keel_snapshot_spec spec;
	struct keel_vip_spec *vips;
	struct keel_backend_spec *backends;
	bool *panic;            /* per VIP: panic threshold crossed, health ignored */
};

/*
 * Backend state in the snapshot: configured active and healthy -> ACTIVE;
 * draining -> DRAINING (keeps its flows, health or not, until it is gone);
 * disabled or unhealthy -> DOWN. When more than panic_threshold of a VIP's
 * active backends fail their checks, the checks are ignored for that VIP:
 * a network blip must not empty it. 0 or -ENOMEM / -EINVAL (ids missing).
 */
int spec_build(const struct spec_inputs *in, struct spec_out *out);
void spec_free(struct spec_out *out);

/* One side of a preview: a configuration and the ids its backends have (or will have). */
struct spec_side {
	const struct keel_config *cfg;
	const struct ids *ids;
	spec_weight_fn weight;  /* NULL: configured weights (slow start's steps differ) */
	void *weight_arg;
};

/*
 * Share of each VIP's Maglev slots whose owner (by address) changes between
 * two configurations (health as given), with slot counts per backend, into
 * p (api/keel_api.h's preview: keel_api_preview_encode writes the API's
 * {VIP: {"moved_share", "new", "empty", "backends": {ADDR: {"before", "after"}}}},
 * and {"moved_share": 1, "removed": true} for a VIP that goes). Tables come
 * from vt (built only where the inputs changed). *max_moved and *emptied
 * (may be NULL) report the largest share among VIPs present in both, and
 * whether a VIP that had backends would have none. 0, or -ENOMEM (also ids
 * missing from a side); p is freed with keel_api_preview_free.
 */
int spec_preview_fill(struct vip_tables *vt, const struct spec_side *from,
		      const struct spec_side *to, spec_health_fn healthy, void *arg,
		      double *max_moved, bool *emptied, struct keel_api_preview *p);
/* The same, encoded by the contract (keel_api_preview_encode); NULL on failure. */
json_t *spec_preview(struct vip_tables *vt, const struct spec_side *from,
		     const struct spec_side *to, spec_health_fn healthy, void *arg,
		     double *max_moved, bool *emptied);

/*
 * The Maglev table of every VIP of out, from vt (built in parallel where
 * missing), set as each spec's prebuilt table. 0 or a negative errno.
 */
int spec_tables(struct spec_out *out, struct vip_tables *vt, vip_tables_progress_fn progress,
		void *arg);

#endif
