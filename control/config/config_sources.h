/* Per-VIP source lists in the configuration: the `sources` key's checks, equality and canonical JSON. */
#ifndef KEEL_CONTROL_CONFIG_SOURCES_H
#define KEEL_CONTROL_CONFIG_SOURCES_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "source_list.h"

struct check;
struct loc;
struct config_vip;

/*
 * The VIP's `sources: {allow: [CIDR...], deny: [CIDR...], mode: enforce|count}`
 * (vip is the VIP's mapping, at its location): fills v->sources, or leaves it
 * NULL when the key is absent. Refused: a bad CIDR, host bits set, a prefix
 * of the other family, an allow entry overlapping a deny entry, no entry at
 * all, and more than KEEL_SRC_MAX_PREFIXES prefixes over all VIPs so far
 * (cfg->vips before v). 0, -EINVAL or -ENOMEM.
 */
int config_sources_check(struct check *c, const struct loc *at, const json_t *vip,
			 struct config_vip *v);

void config_sources_free(struct keel_src_spec *s);
/* A copy of its own (each configuration frees its lists: config_copy must not share them); NULL for
 * NULL or on ENOMEM. */
struct keel_src_spec *config_sources_dup(const struct keel_src_spec *s);
bool config_sources_equal(const struct keel_src_spec *a, const struct keel_src_spec *b);
/* {"mode": ..., "allow": [...], "deny": [...]}; NULL on ENOMEM. */
json_t *config_sources_to_json(const struct keel_src_spec *s, uint8_t family);
/* "none", or "enforce, 2 allow, 0 deny": what a preview or the audit log says of a list. */
void config_sources_describe(const struct keel_src_spec *s, char *buf, size_t n);
/* The prefixes of every VIP's list. */
uint32_t config_sources_total(const struct config_vip *vips, uint32_t n);

#endif
