/* Typed edits of the configuration model (no JSON): a backend change, or a server in every VIP. */
#ifndef KEEL_CONTROL_CONFIG_EDIT_H
#define KEEL_CONTROL_CONFIG_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "config_model.h"
#include "keel_api.h"

/* What the management API edits today (docs/api.md); VIPs change through config apply. */
enum config_edit_op {
	CONFIG_EDIT_BACKEND_ADD,     /* addr, weight: a new active backend of vip */
	CONFIG_EDIT_BACKEND_DEL,
	CONFIG_EDIT_BACKEND_WEIGHT,  /* weight */
	CONFIG_EDIT_BACKEND_DRAIN,   /* state draining */
	CONFIG_EDIT_BACKEND_UNDRAIN, /* state active */
	CONFIG_EDIT_BACKEND_DISABLE, /* state disabled */
	CONFIG_EDIT_SERVER_DRAIN,    /* addr in every VIP: active -> draining (vip unused) */
	CONFIG_EDIT_SERVER_UNDRAIN,  /* addr in every VIP: draining -> active; disabled stays */
};

/* One edit; the address is bytes (parsed once, where the request came in). */
struct config_edit {
	enum config_edit_op op;
	const char *vip;  /* the VIP's name (backend ops) */
	uint8_t addr[16]; /* IPv4 in the first 4 bytes */
	uint8_t family;   /* KEEL_AF_INET4 or KEEL_AF_INET6 */
	uint32_t weight;  /* ADD and WEIGHT: 0..65535 */
	uint32_t server_id; /* ADD to a QUIC VIP: 1..65535, unique in the VIP (docs/quic.md); else 0 */
};

/* The weight range of a backend: the contract's (api/keel_api.h), written once. */
#define CONFIG_WEIGHT_MAX KEEL_API_WEIGHT_MAX

/*
 * A deep copy of a model (warnings included); NULL on out of memory. No JSON:
 * the model's arrays are copied as they are.
 */
struct keel_config *config_copy(const struct keel_config *cfg);

/*
 * Apply e to a copy of cur and check the result with the rules a file with
 * that change would meet (address usable, a source prefix for its family,
 * no duplicate, no VIP's address, outside encap_source, table size, the
 * global backend limit, IPv6 and the MTU); the warnings are recomputed, with
 * "edit" as their origin. 0 and the new model in *out, or a negative errno and
 * why, *out untouched: -ENOENT (no such VIP or backend), -EEXIST (the backend
 * is there), -EINVAL (the result would be refused), -ENOMEM. cur never changes.
 */
int config_edit_apply(const struct keel_config *cur, const struct config_edit *e,
		      struct keel_config **out, char *why, size_t whylen);

/* The backend's index in v, or -1. */
int config_backend_index(const struct config_vip *v, const uint8_t addr[16], uint8_t family);

#endif
