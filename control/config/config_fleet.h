/*
 * The fleet: section of keel.yaml (where the fleet's store is and who this host is in it), and the
 * split of the configuration into the fleet spec (equal on every host, kept in etcd) and the keys
 * that belong to one host (docs/fleet.md).
 */
#ifndef KEEL_CONTROL_CONFIG_FLEET_H
#define KEEL_CONTROL_CONFIG_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#define CONFIG_FLEET_MAX_ENDPOINTS 8
#define CONFIG_FLEET_URL_MAX 256
#define CONFIG_FLEET_PATH_MAX 256
#define CONFIG_FLEET_PREFIX_MAX 128
#define CONFIG_FLEET_HOST_MAX 64
/* The version of the spec document this keel-control understands ("version" in <prefix>/spec). */
#define CONFIG_FLEET_SPEC_VERSION 1

/* Embedded in struct keel_config (fixed size); enabled is false without a fleet: section. */
struct config_fleet {
	bool enabled;
	uint32_t n_endpoints;
	char endpoints[CONFIG_FLEET_MAX_ENDPOINTS][CONFIG_FLEET_URL_MAX]; /* http(s)://host:port */
	char prefix[CONFIG_FLEET_PREFIX_MAX]; /* "/keel/site1": starts with '/', no '/' at the end */
	char host[CONFIG_FLEET_HOST_MAX];     /* this host's name in the fleet (default: instance) */
	char credentials_file[CONFIG_FLEET_PATH_MAX]; /* "" or a file holding "user:password" */
	char ca_file[CONFIG_FLEET_PATH_MAX];   /* optional TLS */
	char cert_file[CONFIG_FLEET_PATH_MAX];
	char key_file[CONFIG_FLEET_PATH_MAX];
	uint32_t timeout_ms;      /* one store call, every endpoint included (1500ms) */
	uint32_t lease_ttl_ms;    /* this host's status key outlives it by this much (5s) */
	uint32_t watch_idle_ms;   /* a watch silent for this long is listed again (10s) */
	uint32_t wait_ms;         /* an edit waits this long for the live hosts to apply it (10s) */
	/* The fleet's identity (<prefix>/fleet, docs/fleet.md): a host whose name differs from the one
	 * the store holds refuses to join. Default: the prefix's last segment. */
	char name[CONFIG_FLEET_HOST_MAX];
	uint32_t forget_after_ms; /* this host's last-known record outlives its renewal so long; 0: ever */
};

void config_fleet_defaults(struct config_fleet *f);

struct check;
struct loc;
/* The schema walk of top["fleet"] into c->cfg->fleet, and, for a keel.yaml (config_load_file)
 * with a fleet: section, the refusal of fleet spec keys (config_schema.c calls it): 0, -EINVAL. */
int config_fleet_check(struct check *c, const struct loc *root, const json_t *top);

bool config_fleet_equal(const struct config_fleet *a, const struct config_fleet *b);
json_t *config_fleet_to_json(const struct config_fleet *f);

/* A top-level key of the fleet spec (fleet_seed, vips, ...), not of the host. */
bool config_fleet_is_spec_key(const char *key);

struct keel_config;
struct config_error;
/*
 * The fleet spec of cfg: {"version":1, <the spec keys of config_to_json(cfg)>}. NULL with errno.
 */
json_t *config_fleet_spec_json(const struct keel_config *cfg);

/*
 * The configuration a host runs: local's host keys with spec's keys. A spec that is not an object
 * of spec keys with "version" 1 is refused (-EINVAL, err says why); the merge is validated as a
 * whole (config_from_json). *out only on success.
 */
int config_fleet_merge(const struct keel_config *local, const json_t *spec, const char *origin,
		       struct keel_config **out, struct config_error *err);

#endif
