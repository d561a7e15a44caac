/* The announcement runtime's state, shared by its files: bgp.c (life cycle, inputs, drain), bgp_live.c, bgp_sessions.c, bgp_views.c. */
#ifndef KEEL_CONTROL_BGP_PRIV_H
#define KEEL_CONTROL_BGP_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bgp.h"
#include "bgp_bird.h"
#include "bgp_kernel.h"
#include "config.h"
#include "config_field.h"
#include "seam.h"

/* One announced (or announceable) address and the state machine's memory of it. */
struct bgp_addr {
	uint8_t family;
	uint8_t addr[16];
	struct bgp_addr_state st;
	uint32_t installed;   /* metric of the route in the kernel table, 0: none */
	uint64_t held_until;  /* logged hold-down or settle, 0: none */
	uint64_t settle_until; /* raised no earlier: its VIPs' health changed (bgp.settle) */
	bool route_error;     /* the last write failed: logged once, retried every tick */
	enum bgp_pref want;   /* this tick's fold over the address's VIPs */
	enum bgp_why want_why;
	uint32_t exported;    /* bit k: BIRD exports it to peers[k] (its last "show route export") */
};

struct bgp_peer {
	char name[BGP_BIRD_NAME_MAX];
	char label[CONFIG_TEXT_MAX]; /* the neighbour's address, or BIRD's name for others */
	uint32_t asn;
	struct bgp_bird_proto p;
	bool seen;
	bool export_known;      /* BIRD answered "show route export" at the last poll */
	uint32_t exported;      /* routes BIRD exports to it */
	char export_error[128]; /* why nothing is known or exported ("" when known) */
};
_Static_assert(CONFIG_BGP_MAX_NEIGHBOURS + 8 <= 32, "one bit per peer in bgp_addr.exported");

/* Networks read per peer from one "show route export": every VIP address and then some. */
#define BGP_EXPORT_MAX (2 * CONFIG_MAX_VIPS)

struct bgp {
	pthread_mutex_t mu;  /* everything below; held briefly (netlink writes are ~10 us) */
	pthread_cond_t wake;
	pthread_t live_thread, bird_thread;
	bool stop;

	struct config_bgp cfg;
	char instance[CONFIG_NAME_MAX];

	/* from the control (bgp_set_inputs) */
	bool has_inputs;
	struct bgp_inputs in;
	struct bgp_vip_input *vips;
	uint32_t *vip_addr; /* index into addrs of each VIP */

	struct bgp_addr *addrs;
	uint32_t n_addrs;

	/* the dataplane, as this thread sees it (its own mapping: never waits on the control's lock) */
	struct keel_seam *seam;
	uint64_t seam_tried_ms;
	struct bgp_host_view host;
	uint64_t resync_ms; /* last time the installed routes were re-asserted */

	/* drain */
	bool draining, persisted, withdrawn_all;
	bool store_lost; /* bgp_set_store_lost */
	uint64_t drain_since_ms;
	uint32_t drain_wait_ms;

	/* BIRD */
	bool speaker_up;
	char speaker_error[256];
	struct bgp_peer peers[CONFIG_BGP_MAX_NEIGHBOURS + 8];
	uint32_t n_peers;
	uint64_t bird_polls, bird_failures;
	uint64_t announces, withdraws;
};

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint32_t metric_of(const struct bgp *b, enum bgp_pref p)
{
	return p == BGP_PREF_NORMAL ? b->cfg.metric : p == BGP_PREF_DEGRADED ? b->cfg.degraded_metric : 0;
}

static inline struct bgp_route route_of(const struct bgp_addr *a, uint32_t metric)
{
	struct bgp_route r = { .family = a->family, .metric = metric };

	memcpy(r.addr, a->addr, 16);
	return r;
}

static inline void seam_close(struct bgp *b)
{
	if (b->seam)
		keel_seam_close(b->seam);
	b->seam = NULL;
}

static inline bool elapsed_locked(struct bgp *b)
{
	return b->draining && now_ms() - b->drain_since_ms >= b->drain_wait_ms;
}

/* bgp_live.c: the liveness thread (pthread entry, arg: the struct bgp), and one decision now (under b->mu). */
void *bgp_live_main(void *arg);
void bgp_live_decide(struct bgp *b, uint64_t now);
/* bgp_sessions.c: the BIRD thread (pthread entry, arg: the struct bgp), and the configured neighbours as peers. */
void *bgp_sessions_main(void *arg);
void bgp_sessions_from_config(struct bgp *b);

#endif
