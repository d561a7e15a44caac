/* keel-control's core: the running configuration and its state, health, publishing, and the read-only views. */
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "bgp.h"
#include "config_field.h"
#include "control_bgp.h"
#include "control_fleet.h"
#include "control_fleet_health.h"
#include "control_lock.h"
#include "audit.h"
#include "config_diff.h"
#include "control_metrics_rows.h"
#include "control_slow_start.h"
#include "control_priv.h"
#include "drop.h"
#include "health.h"
#include "health_tunnel.h"
#include "ids.h"
#include "log.h"
#include "maglev.h"
#include "neighbours.h"
#include "pipeline.h"
#include "seam.h"
#include "plan/second_chance.h" /* not the packet core's second_chance.h */
#include "spec.h"
#include "state.h"
#include "steering.h"

uint64_t control_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t control_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- health ------------------------------------------------------------------ */

_Static_assert(CONFIG_HEALTH_TCP == (int)HEALTH_TCP && CONFIG_HEALTH_HTTP == (int)HEALTH_HTTP &&
		       CONFIG_HEALTH_HTTPS == (int)HEALTH_HTTPS && CONFIG_HEALTH_UDP == (int)HEALTH_UDP &&
		       CONFIG_HEALTH_DNS == (int)HEALTH_DNS,
	       "config and checker number the check types alike");
_Static_assert(CONFIG_HEALTH_HOST_MAX == HEALTH_HOST_MAX &&
		       CONFIG_HEALTH_PAYLOAD_MAX == HEALTH_PAYLOAD_MAX,
	       "config and checker bound names and payloads alike");

void control_health_target(const struct config_vip *v, const struct config_backend *b,
			   struct health_target *t)
{
	const struct config_health *hc = &v->health;

	memset(t, 0, sizeof(*t));
	/* health_check.address: one check address for every backend (they share its verdict). */
	t->family = hc->family ? hc->family : b->family;
	memcpy(t->addr, hc->family ? hc->addr : b->addr, 16);
	t->port = hc->port ? hc->port : v->port;
	/* The config's check types have the checker's numbers (config_model.h, health.h). */
	t->type = hc->type <= CONFIG_HEALTH_DNS ? (enum health_type)hc->type : HEALTH_NONE;
	snprintf(t->path, sizeof(t->path), "%s", hc->path);
	t->expect_status = hc->expect_status;
	t->expect_status_max = hc->expect_status_max;
	snprintf(t->host, sizeof(t->host), "%s", hc->host);
	t->qtype = hc->qtype;
	t->payload_len = hc->send_len;
	memcpy(t->payload, hc->send, hc->send_len);
	t->expect_len = hc->expect_len;
	memcpy(t->expect, hc->expect, hc->expect_len);
	t->interval_ms = v->health.interval_ms;
	t->timeout_ms = v->health.timeout_ms;
	t->rise = v->health.rise;
	t->fall = v->health.fall;
	/* via tunnel: a SYN to the VIP, encapsulated as the dataplane does (health_tunnel.h). */
	if (hc->via == CONFIG_VIA_TUNNEL) {
		t->via = HEALTH_VIA_TUNNEL;
		t->encap = v->encap;
		memcpy(t->vip, v->addr, 4);
	}
}

/* spec_health_fn over the live checker (edit_mu or mu is held: the configuration is stable). */
static int healthy(void *arg, const struct config_vip *v, const struct config_backend *b)
{
	struct keel_control *c = arg;
	struct health_status st;
	struct health_target t;
	int own;

	if (v->health.type == CONFIG_HEALTH_NONE || (!v->port && !v->health.port))
		return 1;
	control_health_target(v, b, &t);
	own = health_get(c->health, &t, &st) ? 1 /* not checked yet: a new backend starts up */ :
	      health_status_routable(&st);
	/* In a fleet the tables follow the fleet's verdict (control_fleet_health.c). */
	return c->fleet_health ? fleet_health_routable(c->fleet_health, v, b, own) : own;
}

int control_backend_healthy(void *arg, const struct config_vip *v, const struct config_backend *b)
{
	return healthy(arg, v, b);
}

static void health_sync(struct keel_control *c)
{
	const struct keel_config *cfg = c->cfg;
	struct health_target *t;
	uint32_t i, j, n = 0;

	for (i = 0; i < cfg->n_vips; i++)
		n += cfg->vips[i].n_backends;
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return;
	n = 0;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		/* An all-ports VIP checks on its health port; without one it is not probed. */
		if (v->health.type == CONFIG_HEALTH_NONE || (!v->port && !v->health.port))
			continue;
		for (j = 0; j < v->n_backends; j++)
			control_health_target(v, &v->backends[j], &t[n++]);
	}
	/* Tunnel probes are encapsulated with the dataplane's parameters (as plan/spec.c gives them). */
	struct health_tunnel_conf tc = { .src4_plen = cfg->has_src4 ? cfg->src4_plen : 32,
					 .gue_port = cfg->gue_port, .mtu = cfg->mtu };
	memcpy(tc.src4, cfg->src4, 4);
	health_set_tunnel(c->health, &tc);
	health_set_targets(c->health, t, n);
	free(t);
}

/* --- the dataplane -------------------------------------------------------------- */

/* Readers hold mu while they use c->seam: it is replaced or closed under both locks only. */
static void seam_drop(struct keel_control *c)
{
	struct keel_seam *old;

	pthread_mutex_lock(&c->mu);
	old = c->seam;
	c->seam = NULL;
	c->dp_alive = false;
	pthread_mutex_unlock(&c->mu);
	keel_seam_close(old);
}

/*
 * Map the dataplane's region; a new epoch means a (re)started dataplane:
 * publish everything to it. edit_mu is held.
 */
static void seam_attach(struct keel_control *c)
{
	struct keel_seam_workers sum;
	const char *why = "";
	struct keel_seam *s;

	if (c->seam) {
		if (keel_seam_current(c->seam, c->cfg->instance))
			return;
		seam_drop(c);
	}
	s = keel_seam_attach(c->cfg->instance, &why);
	if (!s) {
		/* A region of another build is an operator's problem: say so, once per reason. */
		if (errno == EPROTO && why != c->attach_error)
			log_event(LOG_ERROR, "dataplane_refused", "instance=%s reason=%s", c->cfg->instance,
				  why);
		c->attach_error = why;
		return;
	}
	c->attach_error = NULL;
	keel_seam_workers(s, CONTROL_STALL_MS, &sum);
	pthread_mutex_lock(&c->mu);
	c->seam = s;
	c->dp_alive = true;
	if (sum.epoch != c->seam_epoch)
		memset(c->stalled, 0, sizeof(c->stalled));
	pthread_mutex_unlock(&c->mu);
	if (sum.epoch != c->seam_epoch) {
		c->seam_epoch = sum.epoch;
		c->need_publish = true;
		log_event(LOG_INFO, "dataplane_attached", "instance=%s epoch=%016llx pid=%u",
			  c->cfg->instance, (unsigned long long)c->seam_epoch, sum.pid);
	}
}

/*
 * Sync the steering program's maps with the running configuration and keep
 * what was found (views, metrics, control_bgp_feed: a VIP without its entries
 * is not announced). The program is looked for on the dataplane's interfaces.
 * edit_mu held; c->steer is written under mu.
 */
void control_steer(struct keel_control *c)
{
	struct steering_state st;
	struct keel_seam_port pp[8];
	const char *names[8];
	uint32_t np = 0, i;
	int ret;

	pthread_mutex_lock(&c->mu);
	st = c->steer;
	pthread_mutex_unlock(&c->mu);
	if (c->seam && keel_seam_alive(c->seam))
		np = keel_seam_ports(c->seam, pp, 8);
	for (i = 0; i < np; i++)
		names[i] = pp[i].name;
	ret = steering_sync(c->cfg, names, np, &st);
	if (ret > 0)
		log_event(LOG_INFO, "steering_updated", "vips=%u where=%s", (unsigned int)c->cfg->n_vips,
			  st.where);
	if (st.required && st.n_missing && (st.n_missing != c->steer.n_missing ||
					      strcmp(st.error, c->steer.error)))
		log_event(LOG_ERROR, "steering_missing", "vips=%u of=%u reason=%s announced=%s",
			  st.n_missing, st.n_vips,
			  st.visible ? "entries not in the maps (map full?)" : st.error, "not these VIPs");
	else if (!st.n_missing && c->steer.n_missing)
		log_event(LOG_INFO, "steering_complete", "vips=%u where=%s", st.n_vips, st.where);
	pthread_mutex_lock(&c->mu);
	c->steer = st;
	pthread_mutex_unlock(&c->mu);
}

/*
 * Publish the running state as generation gen (bump: one past the current).
 * A dataplane that already runs the current generation needs nothing.
 * edit_mu is held, mu is not: the wait for the workers (up to
 * publish_timeout_ms) holds up no reader; what readers see is updated
 * under mu at the end.
 */
static void tables_progress(void *arg, uint32_t done, uint32_t total)
{
	(void)arg;
	log_event(LOG_INFO, "tables_building", "done=%u total=%u", done, total);
}

/*
 * Each worker validates (checksums, and checks every table slot of) the
 * whole snapshot between two bursts, and the publisher writes what changed:
 * allow for both at a pessimistic 20 MB/s on top of the configured time, so
 * a large publish never fails spuriously (50 MB/s did, for 39 MB snapshots
 * on a 2-core machine at a load average of 25). A worker that is gone is
 * noticed at once anyway (keel_seam_alive).
 */
static uint32_t publish_timeout_ms(const struct keel_control *c, const struct keel_snapshot_spec *spec)
{
	uint64_t t = c->p.publish_timeout_ms + keel_snapshot_size(spec) / 20000;

	return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static int publish(struct keel_control *c, bool bump)
{
	struct spec_inputs in = { .cfg = c->cfg, .ids = c->ids, .healthy = healthy, .arg = c };
	struct keel_config none; /* a drained host: the same configuration without its VIPs */
	struct spec_out out;
	struct keel_seam_workers sum;
	struct keel_seam_port port0;
	uint64_t gen, lo, hi, t0, t1, t2, builds;
	const char *why = "";
	char err[256];
	bool moved;
	int ret;

	/*
	 * A change that is not in the running generation (health, next hop) needs a new one, or
	 * the dataplane, already at the current generation, would be deemed up to date; it stays
	 * pending until a publish succeeds.
	 */
	bump = bump || c->need_bump;
	c->need_bump = bump;
	seam_attach(c);
	if (!c->seam) {
		c->need_publish = true;
		return -EPIPE;
	}
	keel_seam_workers(c->seam, CONTROL_STALL_MS, &sum);
	lo = sum.min_generation;
	hi = sum.max_generation;
	if (!bump && lo == hi && hi == c->generation && c->generation) {
		c->need_publish = false;
		return 0;
	}
	gen = bump || !c->generation ? c->generation + 1 : c->generation;
	if (hi >= gen)
		gen = hi + 1;
	/* Past what the state file holds: refuse rather than publish one that a restart loses. */
	if (gen > STATE_GENERATION_MAX || gen < hi) {
		pthread_mutex_lock(&c->mu);
		snprintf(c->publish_error, sizeof(c->publish_error),
			 "the generation counter is exhausted (2^63-1): nothing more can be published");
		pthread_mutex_unlock(&c->mu);
		return -EOVERFLOW;
	}
	control_next_hop_check(c);
	control_next_hop_inputs(c, &in);
	control_slow_start_inputs(c, &in); /* slow start's weights: ramps begin and end here */
	if (keel_seam_ports(c->seam, &port0, 1) == 1)
		memcpy(in.src_mac, port0.mac, 6);
	in.generation = gen;
	if (c->drained) {
		none = *c->cfg;
		none.n_vips = 0;
		in.cfg = &none;
	}
	t0 = control_now_ms();
	builds = vip_tables_builds(c->tables);
	/* The sweep after this publish keeps only the tables it uses (not the last ones, not a preview's). */
	vip_tables_begin(c->tables);
	ret = spec_build(&in, &out);
	/* Each changed table is built once, spread over the control cores; the rest are reused. */
	if (!ret)
		ret = spec_tables(&out, c->tables, tables_progress, c);
	t1 = control_now_ms();
	if (ret) {
		pthread_mutex_lock(&c->mu);
		snprintf(c->publish_error, sizeof(c->publish_error), "building the snapshot: %s",
			 strerror(-ret));
		pthread_mutex_unlock(&c->mu);
		return ret;
	}
	/* Best effort: without the previous owners the snapshot is still right, only less forgiving. */
	if (second_chance_apply(c->sc, &out.spec, out.vips, control_now_ms()))
		log_event(LOG_WARN, "second_chance_skipped", "generation=%llu reason=%s", (unsigned long long)gen,
			  "out of memory");
	ret = keel_seam_publish(c->seam, &out.spec, publish_timeout_ms(c, &out.spec), &why);
	t2 = control_now_ms();
	if (ret) {
		pthread_mutex_lock(&c->mu);
		c->publish_failures++;
		snprintf(c->publish_error, sizeof(c->publish_error), "generation %llu: %s",
			 (unsigned long long)gen, why);
		pthread_mutex_unlock(&c->mu);
		log_event(LOG_ERROR, "publish_failed", "generation=%llu reason=%s",
			  (unsigned long long)gen, why);
		c->need_publish = true;
		spec_free(&out);
		return ret;
	}
	/* A shared NIC's steering program must know every VIP the workers balance. */
	control_steer(c);
	/* A drained snapshot has no VIPs: out.panic has no entries to compare. */
	for (size_t i = 0; !c->drained && i < c->cfg->n_vips && i < KEEL_MAX_VIPS; i++)
		if (out.panic[i] != c->panic[i])
			log_event(out.panic[i] ? LOG_ERROR : LOG_INFO,
				  out.panic[i] ? "vip_panic" : "vip_panic_over",
				  "vip=%s threshold=%.2f", c->cfg->vips[i].name, c->cfg->panic_threshold);
	moved = gen != c->generation;
	pthread_mutex_lock(&c->mu);
	if (c->drained)
		memset(c->panic, 0, sizeof(c->panic));
	else
		memcpy(c->panic, out.panic, c->cfg->n_vips * sizeof(bool));
	c->publishes++;
	c->publish_error[0] = 0;
	c->last_publish_ms = control_now_ms();
	c->generation = gen;
	pthread_mutex_unlock(&c->mu);
	log_event(LOG_INFO, "published", "generation=%llu vips=%u tables_built=%llu build_ms=%llu publish_ms=%llu",
		  (unsigned long long)gen, out.spec.n_vips,
		  (unsigned long long)(vip_tables_builds(c->tables) - builds), (unsigned long long)(t1 - t0),
		  (unsigned long long)(t2 - t1));
	spec_free(&out);
	/*
	 * Only this snapshot's tables stay cached (vip_tables_begin above): the previews' and the
	 * last ones go. Not after a drained one: second chance holds the tables of before the drain.
	 */
	if (!c->drained)
		vip_tables_sweep(c->tables);
	c->need_publish = false;
	c->need_bump = false;
	if (moved) {
		/* The generation is part of the state: a restart must not disturb the dataplane. */
		if (control_state_save(c, c->generation, c->cfg, c->ids, err, sizeof(err)))
			log_event(LOG_ERROR, "state_save_failed", "generation=%llu reason=%s",
				  (unsigned long long)gen, err);
	}
	return 0;
}

/* --- life cycle --------------------------------------------------------------- */

int control_state_save(struct keel_control *c, uint64_t generation, const struct keel_config *cfg,
		       const struct ids *ids, char *why, size_t whylen)
{
	return state_save_host(c->state_dir, generation, cfg, ids, c->host_drained, why, whylen);
}

/*
 * An upgrade from a version that kept the host drain in its own file: read it
 * once into state.json, then remove it (in that order: a crash between the
 * two finds the drain in both, and folds it again).
 */
static int fold_old_drain(struct keel_control *c, char *why, size_t whylen)
{
	if (!state_old_drain(c->state_dir))
		return 0;
	c->host_drained = true;
	if (control_state_save(c, c->generation, c->cfg, c->ids, why, whylen) ||
	    state_old_drain_remove(c->state_dir, why, whylen))
		return -EIO;
	log_event(LOG_WARN, "host_drain_folded", "from=%s/bgp-drained into=%s/state.json",
		  c->state_dir, c->state_dir);
	return 0;
}

struct keel_control *control_create(const struct control_params *p, char *why, size_t whylen)
{
	struct keel_control *c = calloc(1, sizeof(*c));
	struct config_error err = { 0 };
	int ret;

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	c->p = *p;
	c->sc = second_chance_new((uint64_t)(p->second_chance_s < 0 ? 900 : p->second_chance_s) * 1000);
	c->tables = vip_tables_new(0);
	if (!c->sc || !c->tables) {
		snprintf(why, whylen, "out of memory");
		free(c);
		return NULL;
	}
	/* Second chance remembers the running tables by reference, not in copies of its own. */
	second_chance_use_tables(c->sc, c->tables);
	if (!c->p.max_move_share)
		c->p.max_move_share = 0.5;
	if (!c->p.publish_timeout_ms)
		c->p.publish_timeout_ms = 2000;
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", p->state_dir ? p->state_dir : "/var/lib/keel");
	snprintf(c->config_path, sizeof(c->config_path), "%s", p->config_path ? p->config_path : "");
	pthread_mutex_init(&c->edit_mu, NULL);
	pthread_mutex_init(&c->mu, NULL);
	c->started_ms = control_wall_ms();
	c->lock_instance_fd = -1;
	/* One keel-control per state directory, then per dataplane (control_lock.h). */
	c->lock_state_fd = control_lock_state(c->state_dir, why, whylen);
	if (c->lock_state_fd < 0)
		goto out_free;

	ret = state_load_host(c->state_dir, &c->generation, &c->cfg, &c->ids, &c->host_drained, why,
			      whylen);
	if (ret == -ENOENT) {
		/* First start: the file is the state. */
		if (!c->config_path[0]) {
			snprintf(why, whylen, "no state in %s and no --config file", c->state_dir);
			goto out_free;
		}
		if (config_load_file(c->config_path, &c->cfg, &err)) {
			snprintf(why, whylen, "%s", err.msg);
			goto out_free;
		}
		c->ids = ids_new();
		if (!c->ids || ids_sync(c->ids, c->cfg, control_now_ms())) {
			snprintf(why, whylen, "cannot assign ids");
			goto out_free;
		}
		if (control_state_save(c, 0, c->cfg, c->ids, why, whylen))
			goto out_free;
	} else if (ret) {
		goto out_free;
	}
	if (fold_old_drain(c, why, whylen))
		goto out_free;
	c->lock_instance_fd = control_lock_instance(c->cfg->instance, why, whylen);
	if (c->lock_instance_fd < 0)
		goto out_free;
	c->config_generation = c->generation;
	if (control_reload_init(c, ret == -ENOENT, why, whylen))
		goto out_free;
	c->audit = audit_open(c->state_dir);
	c->health = health_create();
	if (!c->health) {
		snprintf(why, whylen, "cannot start the health checker: %s", strerror(errno));
		goto out_free;
	}
	health_sync(c);
	c->need_publish = true;
	c->health_gen = health_generation(c->health);
	if (control_bgp_start(c, why, whylen)) {
		health_destroy(c->health);
		goto out_free;
	}
	/* A fleet: the follower starts from the persisted revision (never waiting for the store). */
	if (c->cfg->fleet.enabled && control_fleet_start(c, why, whylen)) {
		control_destroy(c);
		return NULL;
	}
	return c;

out_free:
	if (c->lock_instance_fd >= 0)
		close(c->lock_instance_fd);
	if (c->lock_state_fd >= 0)
		close(c->lock_state_fd);
	config_free(c->file_base);
	audit_free(c->audit);
	config_free(c->cfg);
	ids_free(c->ids);
	second_chance_free(c->sc);
	vip_tables_free(c->tables);
	control_digest_free(c);
	control_metrics_free(c);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->edit_mu);
	free(c);
	return NULL;
}

void control_destroy(struct keel_control *c)
{
	if (!c)
		return;
	control_fleet_stop(c->fleet);
	c->fleet = NULL;
	bgp_destroy(c->bgp);
	if (c->health)
		health_destroy(c->health);
	seam_drop(c);
	config_free(c->file_base);
	config_free(c->cfg);
	ids_free(c->ids);
	/* Last: the locks say this process no longer drives the instance. */
	if (c->lock_instance_fd >= 0)
		close(c->lock_instance_fd);
	if (c->lock_state_fd >= 0)
		close(c->lock_state_fd);
	audit_free(c->audit);
	control_metrics_free(c);
	control_slow_start_free(c);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->edit_mu);
	free(c);
}

/* One line per backend whose health changed since the last look (edit_mu is held). */
static void health_log_changes(struct keel_control *c)
{
	char a[INET6_ADDRSTRLEN];
	size_t i, j;

	for (i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		if (v->health.type == CONFIG_HEALTH_NONE)
			continue;
		for (j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int id = ids_backend(c->ids, v->name, b->addr, b->family);
			struct health_status st;
			struct health_target t;
			bool down;

			if (id < 0 || id >= KEEL_MAX_BACKENDS)
				continue;
			control_health_target(v, b, &t);
			if (health_get(c->health, &t, &st))
				continue;
			down = !health_status_routable(&st);
			if (down == (bool)c->be_logged_down[id])
				continue;
			c->be_logged_down[id] = down;
			config_format_addr(b->addr, b->family, a);
			if (down)
				log_event(LOG_WARN, "backend_down", "vip=%s backend=%s check=%s reason=%s",
					  v->name, a, config_health_type_name(v->health.type), st.last_text);
			else
				log_event(LOG_INFO, "backend_up", "vip=%s backend=%s", v->name, a);
		}
	}
}

/* Health flapping is coalesced: at most one health-driven publish per interval. */
#define HEALTH_PUBLISH_MIN_MS 500

void control_tick(struct keel_control *c)
{
	uint64_t now = control_now_ms(), hg;

	pthread_mutex_lock(&c->edit_mu);
	seam_attach(c);
	if (c->seam) {
		bool stalled[KEEL_REGION_MAX_WORKERS];
		struct keel_seam_workers sum;
		uint32_t w;

		control_next_hop_check(c);
		/*
		 * The process can be alive with a worker stuck (a hung lcore, a
		 * stopped VM vCPU): its heartbeat stops moving. Report it; its old
		 * slot stays reserved by the publisher anyway.
		 */
		keel_seam_workers(c->seam, CONTROL_STALL_MS, &sum);
		for (w = 0; w < sum.n; w++) {
			stalled[w] = (sum.stalled >> w) & 1;
			if (stalled[w] && !c->stalled[w])
				log_event(LOG_ERROR, "worker_stalled", "worker=%u still_ms=%llu", w,
					  (unsigned long long)sum.still_ms[w]);
			else if (!stalled[w] && c->stalled[w])
				log_event(LOG_INFO, "worker_resumed", "worker=%u", w);
		}
		pthread_mutex_lock(&c->mu);
		memcpy(c->stalled, stalled, w * sizeof(bool));
		pthread_mutex_unlock(&c->mu);
	}
	/*
	 * The af_xdp PMD may load the steering program after we started, a restarted
	 * dataplane attaches a new one: checked again, sooner while a VIP is not steered
	 * (it is not announced until it is).
	 */
	if (now - c->steer_checked_ms >= (c->steer.n_missing ? 250u : 2000u)) {
		c->steer_checked_ms = now;
		control_steer(c);
	}
	control_slow_start_tick(c); /* a ramp's step boundary: preview, guard, audit, publish below */
	hg = health_generation(c->health);
	if (hg != c->health_logged_gen) {
		c->health_logged_gen = hg;
		health_log_changes(c);
	}
	/* In a fleet the tables follow the fleet's verdicts: they, not the local checker, republish. */
	if (c->fleet_health)
		hg = fleet_health_tick(c->fleet_health, hg);
	if (hg != c->health_gen && now - c->last_health_publish_ms >= HEALTH_PUBLISH_MIN_MS) {
		c->health_gen = hg;
		c->last_health_publish_ms = now;
		pthread_mutex_lock(&c->mu);
		c->health_publishes++;
		pthread_mutex_unlock(&c->mu);
		publish(c, true);
	} else if (c->need_publish && c->seam) {
		publish(c, false);
	}
	control_bgp_feed(c);
	if (c->need_publish && c->seam)
		publish(c, false); /* a drain that just finished (or was undone) */
	control_bgp_feed(c);
	pthread_mutex_unlock(&c->edit_mu);
}

/* --- apply ---------------------------------------------------------------------- */

/*
 * Check, preview, persist and publish next against the running configuration.
 * edit_mu is held (by the caller, since the copy of the configuration that
 * next was edited from), mu is not.
 */
int control_apply_locked(struct keel_control *c, struct keel_config *next, unsigned int flags,
			 uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	struct ids *ids = ids_clone(c->ids);
	double moved = 0;
	bool emptied = false, changed = !config_equal(c->cfg, next);
	struct keel_api_preview preview = { 0 };
	json_t *diff = NULL;
	struct keel_config *swap_cfg;
	struct ids *swap_ids;
	int ret = 0;

	/* The precondition first: a change computed from an older configuration changes nothing. */
	if (if_match != CONTROL_IF_ANY && if_match != c->config_generation) {
		snprintf(why, whylen,
			 "the configuration changed: it is at generation %llu, not %llu (If-Match); "
			 "read it again and retry",
			 (unsigned long long)c->config_generation, (unsigned long long)if_match);
		ret = -ESTALE;
		goto out;
	}
	ret = control_restart_only(c->cfg, next, why, whylen);
	if (ret)
		goto out;
	if (!ids || ids_sync(ids, next, control_now_ms())) {
		snprintf(why, whylen, "out of ids (VIPs or backends)");
		ret = -EINVAL;
		goto out;
	}
	if (spec_preview_fill(c->tables, control_slow_start_side(c, &(struct spec_side){ c->cfg, c->ids }),
			      control_slow_start_side(c, &(struct spec_side){ next, ids }), healthy, c, &moved,
			      &emptied, &preview)) {
		snprintf(why, whylen, "cannot build the preview");
		ret = -ENOMEM;
		goto out;
	}
	/* The audit log's diff, while the running configuration is still the old one. */
	if (!(flags & CONTROL_APPLY_DRY_RUN))
		diff = config_diff(c->cfg, next, AUDIT_DIFF_LINES);
	if (!(flags & CONTROL_APPLY_FORCE)) {
		if (emptied) {
			snprintf(why, whylen, "refused: a VIP would be left without any backend (force to apply)");
			ret = -EPERM;
		} else if (moved > c->p.max_move_share) {
			snprintf(why, whylen,
				 "refused: %.1f%% of a VIP's slots would move, over the %.0f%% limit (force to apply)",
				 moved * 100, c->p.max_move_share * 100);
			ret = -EPERM;
		}
	}
	if (!ret && !(flags & CONTROL_APPLY_DRY_RUN) && changed) {
		char err[256];

		if (control_state_save(c, c->generation + 1, next, ids, err, sizeof(err))) {
			snprintf(why, whylen, "not applied, state not persisted: %s", err);
			ret = -EIO;
			goto out;
		}
		pthread_mutex_lock(&c->mu);
		swap_cfg = c->cfg;
		swap_ids = c->ids;
		c->cfg = next;
		c->ids = ids;
		c->generation++;
		c->applies++;
		pthread_mutex_unlock(&c->mu);
		next = NULL;
		ids = swap_ids;
		config_free(swap_cfg);
		health_sync(c);
		/* The new generation carries every pending change (health, next hop) too. */
		c->need_bump = false;
		/* Persisted: acknowledged even if the dataplane is away; it gets it when it comes. */
		publish(c, false);
		control_steer(c);
		bgp_set_config(c->bgp, &c->cfg->bgp, c->cfg->instance);
		control_bgp_feed(c);
		/* The ETag: the generation this configuration was published as (or will be). */
		pthread_mutex_lock(&c->mu);
		c->config_generation = c->generation;
		pthread_mutex_unlock(&c->mu);
	}
	if (report) {
		/* The API contract's report (api/keel_api.h), written by its encoder: no field name here. */
		const struct keel_config *now = next ? next : c->cfg;
		struct keel_api_report r = {
			.applied = !ret && !(flags & CONTROL_APPLY_DRY_RUN) && changed,
			.dry_run = !!(flags & CONTROL_APPLY_DRY_RUN),
			.has_changed = true,
			.changed = changed,
			.generation = (int64_t)c->generation,
			.has_config_generation = true,
			.config_generation = (int64_t)c->config_generation,
			.has_preview = true,
			.preview = preview, /* borrowed: freed below, not by keel_api_report_free */
			.n_warnings = now->n_warnings,
			.warnings = now->warnings,
			.has_published = true,
			.published = !c->need_publish,
			.publish_error = c->publish_error[0] ? c->publish_error : NULL,
		};

		*report = keel_api_report_encode(&r);
	}
	if (ret) {
		/* A refused preview is the preview doing its job: counted apart, so it pages nobody. */
		pthread_mutex_lock(&c->mu);
		if (flags & CONTROL_APPLY_DRY_RUN)
			c->dry_run_refused++;
		else
			c->refused++;
		pthread_mutex_unlock(&c->mu);
	}
out:
	/* Every change and every refusal (not dry runs, not no-op applies): one audit event. */
	if (!(flags & CONTROL_APPLY_DRY_RUN) && (changed || ret) && c->audit) {
		audit_event(c->audit, c->generation, !ret, why, &preview, diff);
		diff = NULL;
	}
	json_decref(diff);
	keel_api_preview_free(&preview);
	ids_free(ids);
	config_free(next);
	return ret;
}

int control_apply(struct keel_control *c, struct keel_config *next, unsigned int flags,
		  json_t **report, char *why, size_t whylen)
{
	return control_apply_if(c, next, flags, CONTROL_IF_ANY, report, why, whylen);
}

int control_apply_if(struct keel_control *c, struct keel_config *next, unsigned int flags,
		     uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	int ret;

	pthread_mutex_lock(&c->edit_mu);
	ret = control_apply_locked(c, next, flags, if_match, report, why, whylen);
	pthread_mutex_unlock(&c->edit_mu);
	return ret;
}

static int edit_local_if(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
			 uint64_t if_match, json_t **report, char *why, size_t whylen);

int control_edit(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
		 uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	/* In a fleet an edit is a transaction on the store (its revision is the precondition); the follower applies it here. */
	if (c->fleet)
		return control_fleet_edit(c->fleet, edit, arg, flags, 0, report, why, whylen);
	return edit_local_if(c, edit, arg, flags, if_match, report, why, whylen);
}

int control_edit_local(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
		       json_t **report, char *why, size_t whylen)
{
	return edit_local_if(c, edit, arg, flags, CONTROL_IF_ANY, report, why, whylen);
}

static int edit_local_if(struct keel_control *c, control_edit_fn edit, void *arg, unsigned int flags,
			 uint64_t if_match, json_t **report, char *why, size_t whylen)
{
	struct keel_config *next;
	int ret;

	/* One edit lock from the copy to the publish: no concurrent edit is lost (issue 14). */
	pthread_mutex_lock(&c->edit_mu);
	ret = edit(c->cfg, &next, arg, why, whylen);
	if (!ret)
		ret = control_apply_locked(c, next, flags, if_match, report, why, whylen);
	pthread_mutex_unlock(&c->edit_mu);
	return ret;
}

json_t *control_diff_json(struct keel_control *c, const struct keel_config *next)
{
	struct ids *ids;
	json_t *p = NULL;

	/* The edit lock: the table cache and the running configuration stay put meanwhile. */
	pthread_mutex_lock(&c->edit_mu);
	ids = ids_clone(c->ids);
	if (ids && !ids_sync(ids, next, control_now_ms()))
		p = spec_preview(c->tables, control_slow_start_side(c, &(struct spec_side){ c->cfg, c->ids }),
				 control_slow_start_side(c, &(struct spec_side){ next, ids }), healthy, c, NULL,
				 NULL);
	ids_free(ids);
	pthread_mutex_unlock(&c->edit_mu);
	return p;
}
