/* The next_hop / next_hops keys of keel.yaml: one gateway or a list of them (dual-ToR uplinks), validated and put back. */
#ifndef KEEL_CONTROL_CONFIG_NEXT_HOP_H
#define KEEL_CONTROL_CONFIG_NEXT_HOP_H

#include <stdbool.h>

#include <jansson.h>

#include "config_check.h"
#include "config_model.h"

/*
 * `next_hop: {gateway|mac, interface}` (one) or `next_hops: [...]` (1 to
 * CONFIG_MAX_NEXT_HOPS of the same), never both, into cfg->next_hops. Two
 * entries with the same gateway or MAC are refused. 0 or -EINVAL.
 */
int config_next_hop_check(struct check *c, const struct loc *root, const json_t *top);

bool config_next_hops_equal(const struct keel_config *a, const struct keel_config *b);

/* Into obj, the canonical form: "next_hop" for one, "next_hops" for several. 0 or -ENOMEM. */
int config_next_hops_put(json_t *obj, const struct keel_config *cfg);

#endif
