/* What a host announces and when: the announcement state machine, pure functions over a simulated clock. */
#ifndef KEEL_CONTROL_BGP_ANNOUNCE_H
#define KEEL_CONTROL_BGP_ANNOUNCE_H

#include <stdbool.h>
#include <stdint.h>

/* Ordered: a higher value is more announced. */
enum bgp_pref {
	BGP_PREF_WITHDRAWN = 0,
	BGP_PREF_DEGRADED = 1, /* announced with the degraded metric (every backend down) */
	BGP_PREF_NORMAL = 2,
};

enum bgp_why {
	BGP_WHY_SERVING = 0,      /* announced: the dataplane runs it and a backend is usable */
	BGP_WHY_ALL_DOWN,         /* degraded or withdrawn (policy): every backend down by health */
	BGP_WHY_NO_BACKEND,       /* withdrawn: no active backend with a weight in the config */
	BGP_WHY_DATAPLANE_DOWN,   /* withdrawn: no dataplane, or its process is gone */
	BGP_WHY_STALLED,          /* withdrawn: a worker's heartbeat stopped */
	BGP_WHY_GENERATION,       /* withdrawn: a worker does not run the current generation */
	BGP_WHY_DRAINING,         /* withdrawn: keelctl host drain, or keel-control stopping */
	BGP_WHY_HELD_DOWN,        /* not (yet) re-announced: the address flapped */
	BGP_WHY_SETTLING,         /* not (yet) raised: its backends' health changed moments ago */
	BGP_WHY_NO_INPUT,         /* nothing decided yet (keel-control starting) */
	BGP_WHY_NOT_STEERED,      /* withdrawn: the NIC's steering program has no entry for it */
	BGP_WHY_STORE_LOST,       /* degraded: a fleet host cut from its store past the bound */
	BGP_WHY_DEAD_HERE,        /* degraded: a backend the fleet keeps is down from this host */
	BGP_WHY_COUNT,
};

const char *bgp_pref_name(enum bgp_pref p);
const char *bgp_why_name(enum bgp_why w);

/* Facts about the host, gathered by the caller (bgp.c) at >= 10 Hz. */
struct bgp_host_view {
	bool dp_alive;    /* region RUNNING and its process there */
	bool stalled;     /* some worker's heartbeat still for longer than the stall limit */
	bool gen_current; /* every worker at or past the generation keel-control published */
	bool serving;     /* the published snapshot carries the VIPs (not the drained one) */
	bool draining;
	bool store_lost;  /* fleet: cut from the store (etcd) for longer than its lease */
};

/* Facts about one VIP. */
struct bgp_vip_view {
	bool configured;    /* an active backend with a weight above 0 in the configuration */
	bool healthy;       /* ... and one of those passes its health check */
	uint32_t n_healthy; /* how many pass: a change restarts the settle time (bgp.c) */
	bool unsteered;     /* AF_XDP: the steering program would pass its packets to the kernel */
	/* fleet: a backend the fleet's verdict keeps is down by this host's own check, for longer
	 * than the disagreement bound (docs/fleet.md "Health the fleet agrees on") */
	bool dead_here;
};

struct bgp_policy {
	bool down_withdraw;     /* bgp.all_backends_down: withdraw */
	uint32_t flap_limit;    /* changes within flap_window_ms that make an address flapping */
	uint32_t flap_window_ms;
	uint32_t hold_down_ms;
};

/* What one VIP asks for, and why. Host reasons come first: they withdraw every VIP. */
enum bgp_pref bgp_vip_want(const struct bgp_policy *pol, const struct bgp_host_view *h,
			   const struct bgp_vip_view *v, enum bgp_why *why);

/*
 * One address carries several VIPs (ports, protocols): it is announced as the
 * best of what they ask for (one usable VIP is enough to attract its
 * traffic; the others' packets are then dropped here as they would be on any
 * host). Fold each VIP's want into (*pref, *why), starting from WITHDRAWN and
 * NO_INPUT.
 */
void bgp_addr_fold(enum bgp_pref *pref, enum bgp_why *why, enum bgp_pref want,
		   enum bgp_why want_why);

#define BGP_FLAP_HISTORY 128 /* >= the largest flap_limit */

/* An address's announcement over time. Zero it to start (withdrawn, no history). */
struct bgp_addr_state {
	enum bgp_pref pref;        /* what is announced now */
	enum bgp_why why;
	uint64_t since_ms;         /* when pref last changed */
	uint64_t changes[BGP_FLAP_HISTORY]; /* times of the last changes, a ring */
	uint32_t n_changes;        /* ever; the ring holds the last BGP_FLAP_HISTORY */
};

/*
 * Move st towards want at time now. Going down (withdraw, or normal to
 * degraded) is never delayed. Going up waits while the address is flapping:
 * flap_limit changes within flap_window and the last one less than
 * hold_down ago; then why is HELD_DOWN and *until_ms says till when.
 * Going up also waits until settle_until (the time the address's backends'
 * health has been quiet for bgp.settle): a host whose checks come back one
 * backend at a time (after its link returns, or at start) would otherwise
 * attract traffic with a Maglev table that differs from its peers' for a
 * moment and move established connections; then why is SETTLING.
 * Returns true when st->pref changed (the caller writes the route and logs).
 */
bool bgp_addr_step(const struct bgp_policy *pol, struct bgp_addr_state *st, enum bgp_pref want,
		   enum bgp_why why, uint64_t now, uint64_t settle_until, uint64_t *until_ms);

#endif
