/* The inside of struct keel_control, shared by the files of control/core/ that implement it: control.c (state, apply, publish), control_reload.c, control_views.c, control_metrics.c, control_digest.c, control_bgp.c, control_fleet.c and control_trace.c. */
#ifndef KEEL_CONTROL_CONTROL_PRIV_H
#define KEEL_CONTROL_CONTROL_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "control.h"
#include "health.h"
#include "ids.h"
#include "tables.h"
#include "seam.h"
#include "snapshot.h"
#include "steering.h"

struct bgp;
struct spec_inputs;
struct keel_worker_counters;

/* A next hop as last checked (control_next_hop.c). */
struct control_next_hop {
	bool known;            /* mac holds its last resolved (or configured) MAC */
	bool usable;           /* in the set snapshots carry */
	uint8_t mac[6];
	uint64_t changed_ms;   /* when known, usable or mac last changed */
	uint64_t transitions;  /* usable <-> not */
};
struct fleet_health;

/*
 * Two locks, always taken in this order:
 *   edit_mu  serialises every change and every publish: apply, backend edits,
 *            reload, and the main loop's tick. It is held from the copy of the
 *            running configuration through the edit, the persist and the
 *            publish (which may wait publish_timeout_ms for the workers), so
 *            that no edit is made against a configuration another replaces.
 *   mu       guards what readers see (views, /metrics): held briefly, never
 *            across a wait on the dataplane.
 * A field below is written with both held (or, for edit-only fields, with
 * edit_mu) and may be read with either; "edit" marks fields only the holders
 * of edit_mu read or write.
 */
struct keel_control {
	pthread_mutex_t edit_mu;
	pthread_mutex_t mu;
	struct control_params p;
	struct second_chance *sc; /* previous slot owners (second_chance.h); publish() only, under edit_mu */
	struct vip_tables *tables; /* Maglev tables by content (tables.h): edit_mu */
	struct control_digests *digests; /* the running snapshot's digests (control_digest.c): mu */
	struct metrics_rows *metrics; /* the scrape's per-configuration rows (control_metrics_rows.c): mu */
	char config_path[512];
	char state_dir[512];

	struct keel_config *cfg; /* running, persisted */
	struct ids *ids;
	struct audit *audit;     /* the audit log (audit.h): its own lock */
	uint64_t generation;     /* of the running state, persisted with it */

	struct health *health;
	uint64_t health_gen;     /* edit: last health generation acted upon */
	uint64_t last_health_publish_ms; /* edit */

	struct keel_seam *seam;  /* NULL while no dataplane is there */
	uint64_t seam_epoch;
	bool dp_alive;
	bool need_publish;       /* edit */
	bool need_bump;          /* edit: a change (health, next hop) not in any generation yet: publish as a new one */
	const char *attach_error; /* edit: why the region was last refused, logged once per reason */
	bool panic[KEEL_MAX_VIPS]; /* per VIP index of the running config, from the last publish */

	/* Next hops (control_next_hop.c), by configured index: written under edit_mu and mu, read under either. */
	struct control_next_hop nh[CONFIG_MAX_NEXT_HOPS];
	uint32_t nh_n;             /* edit: the configuration's next hops that nh describes */
	struct config_next_hop nh_cfg[CONFIG_MAX_NEXT_HOPS]; /* edit */
	uint64_t nh_checked_ms;    /* edit */
	uint64_t steer_checked_ms; /* edit */
	struct steering_state steer; /* written under edit_mu and mu (control_steer), read under either */

	/* Workers whose heartbeat stopped moving (keel_seam_workers), as last reported: mu. */
	bool stalled[KEEL_REGION_MAX_WORKERS];

	struct control_fleet *fleet; /* NULL outside a fleet (control_fleet.c) */
	struct fleet_health *fleet_health; /* the fleet's verdicts (control_fleet_health.c); NULL outside */
	struct bgp *bgp;         /* announcements (bgp.h); its own threads and lock */
	bool drained;            /* a finished host drain: snapshots are published without VIPs */
	bool host_drained;       /* keelctl host drain, persisted in state.json with the rest: edit */
	/* Health as last logged, by stable backend id: one log line per transition. */
	uint8_t be_logged_down[KEEL_MAX_BACKENDS]; /* edit */
	uint64_t health_logged_gen;                 /* edit */

	char publish_error[256];
	uint64_t publishes, publish_failures, health_publishes, applies, refused;
	uint64_t dry_run_refused; /* refused previews (dry runs): not in refused */
	uint64_t last_publish_ms;
	uint64_t started_ms;

	/*
	 * Issue 21 item 6 (control_reload.c, control_lock.c). config_generation:
	 * the generation at which the running configuration was applied (the
	 * API's ETag; health republishes do not move it). file_base: the
	 * configuration as last loaded from the file (persisted as file.json in
	 * the state directory), NULL when unknown; what differs from it in the
	 * running configuration are API edits that a reload must not drop.
	 */
	uint64_t config_generation;
	struct keel_config *file_base; /* edit */
	uint64_t reloads_applied, reloads_unchanged, reloads_refused;
	uint64_t applies_at_file; /* applies when the file was last loaded */
	int lock_state_fd, lock_instance_fd; /* -1: not held */

	/* Slow start's ramps (control_slow_start.c): written under edit_mu and mu, read under either. */
	struct control_slow_start *slow_start;

};

/* A worker whose heartbeat has not moved for this long is reported stalled. */
#define CONTROL_STALL_MS 1000

/*
 * An edit of the running configuration: from cur, make *next (a new
 * configuration, checked as a file would be) or return a negative errno with
 * why. Called with edit_mu held.
 */
typedef int (*control_edit_fn)(const struct keel_config *cur, struct keel_config **next, void *arg,
			       char *why, size_t whylen);

/*
 * Run edit on the running configuration and apply its result (as
 * control_apply), all under edit_mu: an edit always starts from the
 * configuration the previous edit left.
 */
int control_edit(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
		 uint64_t if_match, json_t **report, char *why, size_t whylen);

/*
 * control_apply's body, edit_mu held by the caller: the precondition
 * (if_match, CONTROL_IF_ANY for none), restart-only keys, preview, guard,
 * persist, publish. Owns next.
 */
int control_apply_locked(struct keel_control *c, struct keel_config *next, unsigned int flags,
			 uint64_t if_match, json_t **report, char *why, size_t whylen);

/* control_reload.c: the file's baseline at start (after the state is loaded); 0 or -errno with why. */
int control_reload_init(struct keel_control *c, bool first_start, char *why, size_t whylen);
/* control_reload.c: refuse a change of a key read only at start (instance, API socket, metrics). */
int control_restart_only(const struct keel_config *cur, const struct keel_config *next, char *why,
			 size_t whylen);
/* control_reload.c: the reload counters and API changes since the file, in Prometheus text (mu held). */
void control_reload_metrics(struct keel_control *c, FILE *f);

/* control_edit on this host only (the fleet follower applies store revisions with it). */
int control_edit_local(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
		       json_t **report, char *why, size_t whylen);

uint64_t control_now_ms(void);

/* Persist the state (configuration, ids, generation and the host drain) in state.json (edit_mu held). */
int control_state_save(struct keel_control *c, uint64_t generation, const struct keel_config *cfg,
		       const struct ids *ids, char *why, size_t whylen);

/* Sync the steering maps and keep their state in c->steer (edit_mu held). */
void control_steer(struct keel_control *c);
uint64_t control_wall_ms(void);

/* The health target of a backend under its VIP's check. */
void control_health_target(const struct config_vip *v, const struct config_backend *b,
			   struct health_target *t);

/* spec_health_fn over the live checker (or the fleet's verdicts): 1 routable, 0 not. */
int control_backend_healthy(void *arg, const struct config_vip *v, const struct config_backend *b);

/* Free the digest cache (control_digest.c). */
void control_digest_free(struct keel_control *c);

/* Next hops (control_next_hop.c): check them (edit_mu held), the usable set for a publish, views (mu held). */
void control_next_hop_check(struct keel_control *c);
void control_next_hop_inputs(struct keel_control *c, struct spec_inputs *in);
void control_next_hop_name(const struct config_next_hop *h, char *t, size_t n);
json_t *control_next_hop_view(struct keel_control *c, const struct keel_worker_counters *k);
void control_next_hop_metrics(struct keel_control *c, const struct keel_worker_counters *k, FILE *f);

#endif
