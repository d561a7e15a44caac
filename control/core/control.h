/* keel-control's core object: the running configuration, its persisted state, health, and publishing to the dataplane. */
#ifndef KEEL_CONTROL_CONTROL_H
#define KEEL_CONTROL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config_edit.h"
#include "config_model.h"

/*
 * The API's threads, the metrics endpoint and the main loop call everything
 * below concurrently. Mutating calls (and the main loop's republishing) are
 * serialised by one edit lock, held from reading the running configuration to
 * the end of the publish, and go through one path (control_apply): build the
 * next configuration, check it, preview the disruption, persist it (write,
 * fsync, rename) and only then publish it and acknowledge. A refused change
 * leaves everything as it was. Read-only views take only a short state lock,
 * never held while a publish waits for the workers (control_priv.h).
 */
struct keel_control;

struct control_params {
	const char *config_path; /* YAML file: read at first start, on SIGHUP */
	const char *state_dir;   /* persisted state (default /var/lib/keel) */
	double max_move_share;   /* apply refuses moving more of a VIP's slots without force (0.5) */
	uint32_t publish_timeout_ms; /* wait for worker acknowledgements (default 2000) */
	int64_t second_chance_s; /* how long a slot's previous owner is carried (-1: default 900, 0: off) */
};

/* Start: load persisted state if any (same generation), else the config file. NULL + why. */
struct keel_control *control_create(const struct control_params *p, char *why, size_t whylen);
void control_destroy(struct keel_control *c);

/* Periodic work (main loop, every ~100 ms): dataplane liveness and restarts, health changes, neighbours. */
void control_tick(struct keel_control *c);

/*
 * Re-read the configuration file (SIGHUP) and apply it as an apply would:
 * validated, previewed, refused over the max-move limit or when it empties a
 * VIP (unless CONTROL_APPLY_FORCE), and refused (-EPERM) when it would undo
 * API edits made since the file was last loaded (docs/config.md "Reload").
 * *report (when not NULL) is control_apply's plus "changes", a one-line
 * summary of what changed. Every outcome is one log line (control_reload.c).
 */
int control_reload(struct keel_control *c, unsigned int flags, json_t **report, char *why,
		   size_t whylen);

/* No precondition (control_apply_if and friends). */
#define CONTROL_IF_ANY UINT64_MAX

/*
 * The generation of the running configuration: the ETag of GET /v1/config
 * and what If-Match is compared with. It moves only when the configuration
 * changes (not on health republishes).
 */
uint64_t control_config_generation(struct keel_control *c);
/* The running configuration as control_config_json, and its generation, read together. */
json_t *control_config_json_at(struct keel_control *c, uint64_t *config_generation);

/* flags of control_apply */
#define CONTROL_APPLY_DRY_RUN (1u << 0) /* check and preview only */
#define CONTROL_APPLY_FORCE (1u << 1)   /* allow large disruption or emptying a VIP */
#define CONTROL_APPLY_NO_WAIT (1u << 2) /* fleet: answer once the store committed, not once hosts ran it */

/*
 * Apply a new configuration (ownership of next passes to the control, freed
 * on refusal). *report (when not NULL) receives
 *   {"applied": bool, "dry_run": bool, "generation": N, "changed": bool,
 *    "preview": {VIP: {"moved_share": f, "backends": {ADDR: {"before": n, "after": n}}}},
 *    "warnings": [...]}
 * Returns 0, -EINVAL (refused: why says it), -EPERM (needs force: why says
 * it), -EIO (could not persist: nothing changed).
 */
int control_apply(struct keel_control *c, struct keel_config *next, unsigned int flags,
		  json_t **report, char *why, size_t whylen);
/*
 * The same with a precondition: -ESTALE (nothing changed, why says so) when
 * the running configuration's generation is not if_match (CONTROL_IF_ANY:
 * none). Checked under the edit lock, so a concurrent change cannot slip in
 * between the check and the apply. A change of instance, api.socket,
 * api.group, api.admin_group or metrics.listen is refused (-EINVAL): they
 * are read only at start.
 */
int control_apply_if(struct keel_control *c, struct keel_config *next, unsigned int flags,
		     uint64_t if_match, json_t **report, char *why, size_t whylen);

/*
 * The API's config apply: control_apply on one host; in a fleet (a fleet: section) the spec keys of
 * next go to the store (control_fleet.h), guarded by revision when it is not 0 (-ESTALE: the spec
 * changed since; -ENOLINK: the store is unreachable); on one host if_match guards it as
 * control_apply_if does.
 */
int control_config_apply(struct keel_control *c, struct keel_config *next, unsigned int flags,
			 int64_t revision, uint64_t if_match, json_t **report, char *why, size_t whylen);
/* The fleet view (GET /fleet): this host and every live host's status; NULL + ENOENT outside a fleet. */
json_t *control_fleet_json(struct keel_control *c);
/* GET /fleet/health: per backend this host's verdict and the fleet's; NULL + ENOENT outside a fleet. */
json_t *control_fleet_health_view(struct keel_control *c);
/* DELETE /fleet/hosts/{host}: a gone host's last-known record taken out (control_fleet_forget.c).
 * 0 with *out, or -ENOENT (not in a fleet, no such record), -EEXIST (the host is live), -EXDEV
 * (another fleet's prefix), -ENOLINK (the store is unreachable), with why. */
int control_fleet_forget(struct keel_control *c, const char *host, json_t **out, char *why,
			 size_t whylen);

/*
 * One typed edit of the configuration (config_edit.h: a backend's add, del,
 * weight, drain, undrain, disable, or one server drained or undrained in every
 * VIP) through the same path as control_apply_if: the address is bytes, parsed
 * once where the request came in. -ENOENT: no such VIP/backend, -EEXIST: the
 * backend is there, -EINVAL: the result is refused (why). A server edit's
 * *report is control_apply's plus "vips": the VIPs whose copy changed state
 * (drain: active -> draining, undrain: draining -> active; a disabled one is
 * left as it is).
 */
int control_config_edit(struct keel_control *c, const struct config_edit *e, unsigned int flags,
			uint64_t if_match, json_t **report, char *why, size_t whylen);

/* Drop every tracked flow of a backend on every worker. */
int control_flush(struct keel_control *c, const char *vip, const uint8_t addr[16], uint8_t family,
		  char *why, size_t whylen);

/* Read-only views, as JSON (NULL + errno ENOENT for an unknown name). */
json_t *control_config_json(struct keel_control *c);
json_t *control_vips_json(struct keel_control *c, const char *vip /* NULL: all */);
json_t *control_health_json(struct keel_control *c);
json_t *control_stats_json(struct keel_control *c);
json_t *control_table_json(struct keel_control *c, const char *vip);
json_t *control_status_json(struct keel_control *c);
/* Which backend would this client's flow hit now, and why. proto: "tcp"/"udp". */
/*
 * Packet traces (control_trace.c): arm one with filter f, vip a VIP name or "" (NULL with
 * errno and why: EINVAL, ENOENT no such VIP, ENOTCONN/EPIPE not running),
 * stop it (0 or -ENOTCONN), and the current or last trace's records.
 */
struct keel_trace_filter;
json_t *control_trace_arm(struct keel_control *c, const struct keel_trace_filter *f, const char *vip,
			  char *why, size_t whylen);
int control_trace_stop(struct keel_control *c, char *why, size_t whylen);
json_t *control_trace_json(struct keel_control *c, char *why, size_t whylen);

/* The audit log's last n changes and refusals, newest last: {"events": [...]} (control_trace.c). */
json_t *control_history_json(struct keel_control *c, size_t n);

json_t *control_lookup_json(struct keel_control *c, const char *vip, const char *src,
			    uint16_t sport, int dport, char *why, size_t whylen);
/* Disruption preview of a candidate configuration against the running one (no change). */
json_t *control_diff_json(struct keel_control *c, const struct keel_config *next);

/* Prometheus text exposition (format 0.0.4) of everything above into f. */
void control_metrics(struct keel_control *c, FILE *f);

/* Where the API listens (from the running configuration). */
void control_api_params(struct keel_control *c, char *socket_path, size_t len, char *group,
			size_t glen, char *admin_group, size_t alen, uint8_t metrics_addr[16],
			uint8_t *metrics_family, uint16_t *metrics_port);

#endif
