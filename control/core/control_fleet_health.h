/*
 * Health the fleet agrees on (docs/fleet.md "Health the fleet agrees on"): this host's verdicts go to
 * <prefix>/health/<host> under its lease; a thread of its own lists and watches <prefix>/health/ and
 * folds every live host's verdicts with fleet_verdict.h's rule. Tables are built from the fold; after
 * the store has been lost for lease_ttl, from this host's own verdicts until it answers again.
 */
#ifndef KEEL_CONTROL_CONTROL_FLEET_HEALTH_H
#define KEEL_CONTROL_CONTROL_FLEET_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config_model.h"

struct keel_control;
struct keel_etcd;
struct fleet_health;

/* A disagreement between this host's verdict and the fleet's is shown after this long. */
#define FLEET_HEALTH_DISAGREE_MS 5000

/* Start the watcher on cli (owned from now on, closed by fleet_health_stop). NULL with why. */
struct fleet_health *fleet_health_start(struct keel_control *c, const struct config_fleet *conf,
					struct keel_etcd *cli, char *why, size_t whylen);
void fleet_health_stop(struct fleet_health *h);

/* The heart thread: write this host's verdicts under lease if they changed (or the lease is new).
 * 0 or the store's -errno. */
int fleet_health_put(struct fleet_health *h, struct keel_etcd *cli, int64_t lease);

/* The store did not answer one of this host's clients: the lost clock starts (if not running). */
void fleet_health_store_lost(struct fleet_health *h);

/* The verdict tables are built from: the fleet's, or own (the local checker's) in fallback.
 * edit_mu or mu held. */
int fleet_health_routable(struct fleet_health *h, const struct config_vip *v,
			  const struct config_backend *b, int own);

/* control_tick (edit_mu held): the fallback clock, the disagreement bookkeeping; hg the local
 * checker's generation. Returns what to compare for a republish: it moves when the verdicts the
 * tables follow may have (the fold, the fallback, and in fallback the local checker). */
uint64_t fleet_health_tick(struct fleet_health *h, uint64_t hg);

/* BGP (control_bgp_feed, edit_mu held): does this host's own check say an active backend of v that
 * the fleet keeps (in fallback: the last fold) is down, for FLEET_HEALTH_DISAGREE_MS or longer? */
bool fleet_health_dead_here(struct fleet_health *h, const struct config_vip *v);

/* GET /v1/fleet/health (mu held) and the keel_health_disagreement gauges (mu held). */
json_t *fleet_health_json(struct fleet_health *h);
void fleet_health_metrics(struct fleet_health *h, FILE *out);

#endif
