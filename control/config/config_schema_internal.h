/*
 * What the schema's files share: the key and value tables (config_schema.c),
 * the checks one section lends another, and the timing limits. Not for users
 * of config_check.h.
 */
#ifndef KEEL_CONFIG_SCHEMA_INTERNAL_H
#define KEEL_CONFIG_SCHEMA_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "config_check.h"

#define INTERVAL_MIN_MS 100u
#define TIMEOUT_MIN_MS 10u
#define TIMING_MAX_MS 3600000u /* an hour: longer is a typo, not a health check */

/* The keys each object may hold, and the names of enumerated values (config_schema.c). */
extern const char *const config_schema_vip_keys[];
extern const char *const config_schema_backend_keys[];
extern const char *const config_schema_health_keys[];
extern const char *const config_schema_health_vias[];
extern const char *const config_schema_health_types[];
extern const char *const config_schema_backend_states[];
extern const char *const config_schema_encaps[];
extern const char *const config_schema_protos[];

/* Checks more than one section uses (config_schema.c). */
const char *config_schema_fam_name(uint8_t family);
int config_schema_check_usable(struct check *c, const struct loc *at, const json_t *o,
			       const char *key, const uint8_t addr[16], uint8_t family,
			       const char *role, bool link_local_ok);
int config_schema_check_name(struct check *c, const struct loc *at, const json_t *obj,
			     const char *key, size_t max, char *out);

/* Health checks (config_schema_health.c). */
int config_schema_check_timing(struct check *c, const struct loc *at, const json_t *o,
			       struct config_health *h, bool inherited);
int config_schema_check_health(struct check *c, const struct loc *at, const json_t *o,
			       const struct config_vip *v, struct config_health *h);

/* A VIP's backends (config_schema_backend.c). */
int config_schema_check_backends(struct check *c, const struct loc *vat, const json_t *o,
				 struct config_vip *v);

/* The VIPs (config_schema_vip.c). */
int config_schema_check_vips(struct check *c, const struct loc *root, const json_t *top);

/* Addresses across sections (config_schema_addresses.c). */
int config_schema_check_vip_addresses(struct check *c, const struct loc *root, const json_t *top);
int config_schema_check_mtu_v6(struct check *c, const struct loc *root, const json_t *top);

#endif
