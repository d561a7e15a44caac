/* keel-control's announcements: a thread that watches the dataplane at 20 Hz and keeps keel's kernel table, one that reads BIRD. */
#ifndef KEEL_CONTROL_BGP_H
#define KEEL_CONTROL_BGP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "bgp_announce.h"
#include "config_bgp.h"
#include "config_model.h"

struct bgp;

/* One VIP as the control sees it (under its own mutex), handed over whole by bgp_set_inputs. */
struct bgp_vip_input {
	char name[CONFIG_NAME_MAX];
	uint8_t family;
	uint8_t addr[16];
	struct bgp_vip_view view;
};

struct bgp_inputs {
	uint64_t generation; /* last published to every worker (0: none yet) */
	uint64_t epoch;      /* of the dataplane it was published to */
	bool serving;        /* that snapshot has the VIPs (not the drained one) */
	uint32_t n_vips;
	const struct bgp_vip_input *vips;
};

/*
 * Start both threads (events: log_event, one line each). drained: an
 * operator's drain that the control's state kept (an acknowledged drain
 * survives restarts); routes a previous keel-control left in the table are
 * adopted, not flapped. NULL + why.
 */
struct bgp *bgp_create(const struct config_bgp *cfg, const char *instance, bool drained,
		       char *why, size_t whylen);
/* Stop the threads. Routes stay (a crashed keel-control leaves them too); see bgp_withdraw_all. */
void bgp_destroy(struct bgp *b);

/* A new configuration (apply, reload): policy and BIRD settings; a new table or protocol moves the routes. */
void bgp_set_config(struct bgp *b, const struct config_bgp *cfg, const char *instance);
/* What the control knows (copied). The thread decides from the last one. */
void bgp_set_inputs(struct bgp *b, const struct bgp_inputs *in);
/* A fleet host cut from its store past the bound (control_fleet.c): serving VIPs go degraded. */
void bgp_set_store_lost(struct bgp *b, bool lost);

/*
 * Drain: withdraw everything now, and after wait_ms (UINT32_MAX: the
 * configured drain_wait) report forwarding stopped. persist: an operator's
 * drain, which the control saved in its state (state.json) before the call;
 * a stop (SIGTERM) is not persisted. 0 (why and whylen are not used).
 */
int bgp_drain(struct bgp *b, bool persist, uint32_t wait_ms, char *why, size_t whylen);
int bgp_undrain(struct bgp *b, char *why, size_t whylen);
/* The drain's wait is over: the control stops forwarding (operator drain only). */
bool bgp_forwarding_stopped(struct bgp *b);
/* A drain or stop whose wait is over (or no drain at all: false). */
bool bgp_drain_elapsed(struct bgp *b);
/* Delete every route now (the end of a stop); the thread announces nothing afterwards. */
void bgp_withdraw_all(struct bgp *b);

json_t *bgp_json(struct bgp *b);
void bgp_metrics(struct bgp *b, FILE *f);

/* The region heartbeat that has not moved for this long withdraws (well inside the 1 s budget). */
#define BGP_STALL_MS 400
#define BGP_TICK_MS 50
#define BGP_BIRD_POLL_MS 1000
#define BGP_BIRD_TIMEOUT_MS 250

#endif
