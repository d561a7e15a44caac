/* keel-control's side of the announcements: feeding the BGP runtime, host drain, and the digest and BGP views. */
#ifndef KEEL_CONTROL_CONTROL_BGP_H
#define KEEL_CONTROL_CONTROL_BGP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct keel_control;

/* Start the runtime from the running configuration (control_create). 0 or -errno + why. */
int control_bgp_start(struct keel_control *c, char *why, size_t whylen);
/* With the control's edit_mu held: hand the BGP runtime what it decides from, and follow a finished drain. */
void control_bgp_feed(struct keel_control *c);
/* A fleet host cut from its store past the bound, or back (control_fleet.c): no lock needed. */
void control_bgp_store_lost(struct keel_control *c, bool lost);

/*
 * keelctl host drain: persisted, then every address withdrawn; after
 * wait_ms (UINT32_MAX: bgp.drain_wait) the dataplane gets a snapshot
 * without VIPs. -EINVAL without a bgp section, -EIO when not persisted.
 */
int control_host_drain(struct keel_control *c, uint32_t wait_ms, char *why, size_t whylen);
int control_host_undrain(struct keel_control *c, char *why, size_t whylen);
/*
 * SIGTERM: withdraw everything, keep forwarding for bgp.drain_wait, then
 * delete the routes. Blocks; tick is called every 100 ms meanwhile.
 */
void control_stop_announcing(struct keel_control *c);

json_t *control_bgp_json(struct keel_control *c);
/* /v1/bgp: control_bgp_json and the steering state (takes mu: not under it). */
json_t *control_bgp_view(struct keel_control *c);
/* The steering state (c->steer) as JSON; mu held. */
json_t *control_steer_json(struct keel_control *c);
/* {"fleet_seed_fingerprint": "...", "vips": [{"vip", "digest", "digest48"}...]} from the running tables. */
json_t *control_digest_json(struct keel_control *c);
/* keel_bgp_*, keel_host_draining, keel_maglev_table_digest, keel_fleet_seed_fingerprint. */
void control_bgp_metrics(struct keel_control *c, FILE *f);

/* Low 48 bits (exact in a float64 gauge) of a stable hash of the fleet seed. */
uint64_t control_seed_fingerprint(uint64_t seed);

#endif
