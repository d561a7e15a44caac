/*
 * The parts of keel-control's fleet member (control_fleet.h) shared by its files:
 * control_fleet.c (life cycle, shared helpers), control_fleet_follow.c (following the spec),
 * control_fleet_heart.c (this host's lease and status), control_fleet_edit.c (edits through the
 * store), control_fleet_status.c (the views and metrics).
 */
#ifndef KEEL_CONTROL_CONTROL_FLEET_PRIV_H
#define KEEL_CONTROL_CONTROL_FLEET_PRIV_H

#include <pthread.h>

#include "config_fleet.h"
#include "control_fleet.h"
#include "etcd.h"

#define FLEET_EDIT_TRIES 8     /* a typed edit re-based this many times on a busy spec */
#define FLEET_HEART_MS 1000    /* status and hosts refreshed at least this often */
#define FLEET_VERSION "0.1.0"

struct control_fleet {
	struct keel_control *c;
	struct config_fleet conf;
	char spec_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char hosts_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char known_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char known_host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char user[128], password[256];
	struct keel_etcd *follow_cli, *heart_cli, *edit_cli;
	struct fleet_health *health; /* the fleet's verdicts (control_fleet_health.c) */
	pthread_t follow_thr, heart_thr;
	bool follow_started, heart_started;
	pthread_mutex_t edit_mu; /* one edit of this host at a time (edit_cli) */

	pthread_mutex_t mu;      /* everything below */
	pthread_cond_t cv;       /* applied moved, status changed, stop */
	bool stop;
	bool status_dirty;
	int64_t applied;         /* store revision of the running spec (persisted) */
	int64_t seen;            /* newest spec revision seen in the store */
	bool store_up;
	bool store_known;        /* store_up has been set once (the first state is logged too) */
	char store_error[256];
	uint64_t refused_total, applies;
	int64_t refused_revision;
	char last_refusal[512];
	uint64_t fingerprint;    /* FNV-1a of the running spec's canonical text */
	json_t *hosts;           /* {host: status} of the last listing (live hosts only: leased) */
	json_t *gone;            /* {host: last-known status} of hosts without a live key */
	/* Cut from the store: no lease kept for lease_ttl (the fleet counts this host as gone); the
	 * BGP announcements are lowered (degraded) until the follower has listed the store again. */
	bool store_lost;
	uint64_t lost_at_ms;     /* when store_lost was set */
	uint64_t follow_ok_ms;   /* the follower's last list or watch answer */
};

/* The spec merged onto this host's keys: config_fleet_merge as a control_fleet_edit_fn. */
struct fleet_merge_arg {
	const json_t *spec;
	char origin[64];
};

int fleet_merge_edit(const struct keel_config *cur, struct keel_config **next, void *arg, char *why,
		     size_t whylen);

/* control_fleet.c */
bool fleet_stopping(struct control_fleet *f);
/* Sleep up to ms, or less if stopped or poked. */
void fleet_nap(struct control_fleet *f, unsigned ms);
void fleet_set_store(struct control_fleet *f, bool up, const char *err);
uint64_t fleet_fnv1a(const char *s);

/* The threads: control_fleet_follow.c, control_fleet_heart.c. */
void *fleet_follow_main(void *arg);
void *fleet_heart_main(void *arg);

/* control_fleet_status.c: the live hosts and the last-known records, listed with cli. */
void fleet_list_hosts(struct control_fleet *f, struct keel_etcd *cli);

#endif
