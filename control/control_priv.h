/* The inside of struct keel_control, shared by control.c (state, apply, publish) and control_views.c (views, metrics). */
#ifndef KEEL_CONTROL_CONTROL_PRIV_H
#define KEEL_CONTROL_CONTROL_PRIV_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.h"
#include "health.h"
#include "ids.h"
#include "seam.h"
#include "snapshot.h"

struct keel_control {
	pthread_mutex_t mu; /* API threads, metrics and the main loop all come through here */
	struct control_params p;
	char config_path[512];
	char state_dir[512];

	struct keel_config *cfg; /* running, persisted */
	struct ids *ids;
	uint64_t generation;     /* of the running state, persisted with it */

	struct health *health;
	uint64_t health_gen;     /* last health generation acted upon */
	uint64_t last_health_publish_ms;

	struct keel_seam *seam;  /* NULL while no dataplane is there */
	ino_t seam_ino;
	uint64_t seam_epoch;
	bool dp_alive;
	bool need_publish;
	bool need_bump;          /* a change (health, next hop) not in any generation yet: publish as a new one */
	bool panic[KEEL_MAX_VIPS]; /* per VIP index of the running config, from the last publish */

	bool gw_ok;
	uint8_t gw_mac[6];
	uint64_t gw_checked_ms;
	uint64_t steer_checked_ms;

	/* Worker heartbeats as last seen, and when each last moved: a stuck worker is reported. */
	uint64_t hb_seen[KEEL_REGION_MAX_WORKERS];
	uint64_t hb_moved_ms[KEEL_REGION_MAX_WORKERS];
	bool stalled[KEEL_REGION_MAX_WORKERS];

	/* Health as last logged, by stable backend id: one log line per transition. */
	uint8_t be_logged_down[KEEL_MAX_BACKENDS];
	uint64_t health_logged_gen;

	char publish_error[256];
	uint64_t publishes, publish_failures, health_publishes, applies, refused;
	uint64_t last_publish_ms;
	uint64_t started_ms;

};

/* A worker whose heartbeat has not moved for this long is reported stalled. */
#define CONTROL_STALL_MS 1000

uint64_t control_now_ms(void);
uint64_t control_wall_ms(void);

/* The health target of a backend under its VIP's check. */
void control_health_target(const struct config_vip *v, const struct config_backend *b,
			   struct health_target *t);

#endif
