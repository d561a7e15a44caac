/*
 * The parts of keel-control's fleet member (control_fleet.h) shared by its files:
 * control_fleet.c (life cycle, shared helpers), control_fleet_identity.c (which fleet a prefix
 * belongs to), control_fleet_follow.c (following the spec), control_fleet_heart.c (this host's lease
 * and status), control_fleet_edit.c (edits through the store), control_fleet_status.c (the views
 * and metrics), control_fleet_forget.c (last-known records taken out).
 */
#ifndef KEEL_CONTROL_CONTROL_FLEET_PRIV_H
#define KEEL_CONTROL_CONTROL_FLEET_PRIV_H

#include <pthread.h>

#include "config_fleet.h"
#include "control_fleet.h"
#include "etcd.h"

#define FLEET_EDIT_TRIES 8     /* a typed edit re-based this many times on a busy spec */
#define FLEET_RETRY_MS 1000    /* a store call that failed is tried again after this long */
#define FLEET_DENIED_MS 5000   /* ... one the store refused (credentials): no hammering of its auth */
#define FLEET_JOIN_RECHECK_MS 5000 /* a refused join (another fleet's prefix) is checked this often */
#define FLEET_VERSION "0.1.0"

struct control_fleet {
	struct keel_control *c;
	struct config_fleet conf;
	char spec_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char hosts_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char known_key[CONFIG_FLEET_PREFIX_MAX + 8];
	char known_host_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 8];
	char fleet_key[CONFIG_FLEET_PREFIX_MAX + 8]; /* <prefix>/fleet: the fleet's identity */
	char user[128], password[256];
	struct keel_etcd *follow_cli, *heart_cli, *edit_cli;
	struct keel_etcd *view_cli;  /* GET /v1/fleet's listing and forget (view_mu) */
	pthread_mutex_t view_mu;
	struct keel_etcd *health_cli; /* handed to the health watcher when the fleet is joined */
	struct fleet_health *health; /* the fleet's verdicts (control_fleet_health.c); set once joined */
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
	int64_t hosts_live;      /* live status keys, counted by the heart at each keepalive */
	/* The fleet's identity (control_fleet_identity.c): joined once <prefix>/fleet names this
	 * host's fleet; until then nothing is read from or written to the fleet's keys. */
	bool joined;
	bool join_refused;       /* <prefix>/fleet names another fleet (join_error says which) */
	char join_error[512];
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
/* An edit refused by the store's error rc (err its words): why, in one line, for the API. */
void fleet_store_why(struct control_fleet *f, const char *err, int rc, char *why, size_t whylen);

/* The threads: control_fleet_follow.c, control_fleet_heart.c. */
void *fleet_follow_main(void *arg);
void *fleet_heart_main(void *arg);

/* control_fleet_status.c: the live hosts (with_known: and the last-known records), listed with cli;
 * 0 or the store's -errno. */
int fleet_list_hosts(struct control_fleet *f, struct keel_etcd *cli, bool with_known);

/* control_fleet_identity.c: does <prefix>/fleet name this host's fleet (created if absent)? 0,
 * -EXDEV (another fleet: why says which) or the store's -errno (why says it). */
int fleet_identity_check(struct control_fleet *f, struct keel_etcd *cli, char *why, size_t whylen);
/* The follower: check, and join (the heart and the health watcher start) or refuse. 0 once joined. */
int fleet_join(struct control_fleet *f);
/* An edit's gate: 0 if this host may write to the fleet's keys, else -EXDEV / -ENOLINK with why. */
int fleet_may_write(struct control_fleet *f, struct keel_etcd *cli, char *why, size_t whylen);

#endif
