/* What changed between two configuration models, compactly: "VIP/backend/field: old -> new" lines for the audit log. */
#ifndef KEEL_CONFIG_DIFF_H
#define KEEL_CONFIG_DIFF_H

#include <jansson.h>

#include "config_model.h"

/*
 * An array of strings, one per change from a to b, VIPs and backends by
 * name and address: "web: added", "web/10.0.0.5: removed",
 * "web/10.0.0.1/weight: 1 -> 20", "web/port: 80 -> 8080". Empty when the
 * VIPs are the same; NULL only when out of memory. At most max lines, then
 * one "... and N more".
 */
json_t *config_diff(const struct keel_config *a, const struct keel_config *b, size_t max);

#endif
