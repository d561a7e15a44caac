/*
 * keel-control in a fleet (docs/fleet.md): follow the fleet spec in etcd (list, then watch; apply
 * whole revisions through control_apply's path), report this host's status under a lease, and turn
 * edits into compare-and-swap transactions on the spec key.
 */
#ifndef KEEL_CONTROL_CONTROL_FLEET_H
#define KEEL_CONTROL_CONTROL_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config_model.h"

struct keel_control;
struct control_fleet;

/* Start the follower and the status threads (c->cfg->fleet.enabled). 0 or -errno with why. Never
 * waits for the store: the persisted revision runs until the store answers. */
int control_fleet_start(struct keel_control *c, char *why, size_t whylen);
void control_fleet_stop(struct control_fleet *f);

typedef int (*control_fleet_edit_fn)(const struct keel_config *cur, struct keel_config **next,
				     void *arg, char *why, size_t whylen);

/*
 * An edit through the store: computed on the newest spec, previewed and guarded here, written with
 * one transaction guarded by the spec's mod_revision. expect_revision > 0 (config apply): no retry,
 * a conflict is -ESTALE ("changed at revision N since your diff"); -1: the same for "no spec yet";
 * 0: re-based and retried. Waits for
 * the live hosts unless CONTROL_APPLY_NO_WAIT. -ENOLINK: the store is unreachable (nothing written).
 */
int control_fleet_edit(struct control_fleet *f, control_fleet_edit_fn edit, void *arg,
		       unsigned int flags, int64_t expect_revision, json_t **report, char *why,
		       size_t whylen);

/* SIGHUP in a fleet: *next (this host's keel.yaml) with the running spec; 0 or -EINVAL with why. */
int control_fleet_rebase(struct keel_control *c, struct keel_config **next, char *why, size_t whylen);

/* Wake the status thread now (this host's health verdicts changed: write them). */
void control_fleet_poke(struct control_fleet *f);

/* The "fleet" object of the status view, the fleet view (every host), the metrics. */
json_t *control_fleet_status_json(struct control_fleet *f);
json_t *control_fleet_hosts_json(struct control_fleet *f);
void control_fleet_metrics(struct control_fleet *f, FILE *out);

#endif
