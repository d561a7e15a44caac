/* keel-control and the BGP runtime: what each VIP can serve, the host drain, the stop, the views. */
#include "control_bgp.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bgp.h"
#include "control_fleet_health.h"
#include "control_priv.h"
#include "health.h"
#include "log.h"

int control_bgp_start(struct keel_control *c, char *why, size_t whylen)
{
	c->bgp = bgp_create(&c->cfg->bgp, c->cfg->instance, c->host_drained, why, whylen);
	return c->bgp ? 0 : -ENOMEM;
}

void control_bgp_store_lost(struct keel_control *c, bool lost)
{
	if (c->bgp)
		bgp_set_store_lost(c->bgp, lost);
}

/* Same rule as the snapshot builder's: no check, or not checked yet, counts as up. */
static bool backend_healthy(struct keel_control *c, const struct config_vip *v,
			    const struct config_backend *b)
{
	struct health_status st;
	struct health_target t;

	if (v->health.type == CONFIG_HEALTH_NONE || (!v->port && !v->health.port))
		return true;
	control_health_target(v, b, &t);
	if (health_get(c->health, &t, &st))
		return true;
	return health_status_routable(&st);
}

void control_bgp_feed(struct keel_control *c)
{
	const struct keel_config *cfg = c->cfg;
	struct bgp_vip_input *vi;
	struct bgp_inputs in;
	bool stop;
	uint32_t i, j;

	if (!c->bgp)
		return;
	/* A drain whose wait is over: the dataplane gets the snapshot without VIPs (and back). */
	stop = bgp_forwarding_stopped(c->bgp);
	if (stop != c->drained) {
		c->drained = stop;
		c->need_publish = c->need_bump = true;
		log_event(LOG_INFO, stop ? "host_forwarding_stopped" : "host_forwarding_resumed",
			  "snapshot=%s", stop ? "without VIPs" : "with the VIPs");
	}
	vi = calloc(cfg->n_vips + 1, sizeof(*vi));
	if (!vi)
		return;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];

		memcpy(vi[i].name, v->name, sizeof(vi[i].name));
		vi[i].family = v->family;
		memcpy(vi[i].addr, v->addr, 16);
		/* control_steer ran on this configuration (apply_edit calls it before feeding us). */
		vi[i].view.unsteered = c->steer.required &&
				       (i >= KEEL_BPF_MAX_VIPS || c->steer.n_vips != cfg->n_vips ||
					c->steer.missing[i]);
		for (j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];

			if (b->state != CONFIG_BACKEND_ACTIVE || !b->weight)
				continue;
			vi[i].view.configured = true;
			if (backend_healthy(c, v, b)) {
				vi[i].view.healthy = true;
				vi[i].view.n_healthy++;
			}
		}
		/* The rules above read this host's own checks; this one compares them with the fleet's. */
		vi[i].view.dead_here = c->fleet_health && fleet_health_dead_here(c->fleet_health, v);
	}
	in = (struct bgp_inputs){
		.generation = c->seam && !c->need_publish ? c->generation : 0,
		.epoch = c->seam_epoch,
		.serving = !c->drained && !c->need_publish,
		.n_vips = cfg->n_vips,
		.vips = vi,
	};
	bgp_set_inputs(c->bgp, &in);
	free(vi);
}

/* The host drain in state.json; 0, or -EIO with why (nothing changed). */
static int persist_drain(struct keel_control *c, bool drained, char *why, size_t whylen)
{
	char err[256];
	int ret = 0;

	pthread_mutex_lock(&c->edit_mu);
	if (c->host_drained != drained) {
		c->host_drained = drained;
		ret = control_state_save(c, c->generation, c->cfg, c->ids, err, sizeof(err));
		if (ret) {
			c->host_drained = !drained;
			snprintf(why, whylen, "cannot persist the %s in %s/state.json: %s",
				 drained ? "drain" : "undrain", c->state_dir, err);
		}
	}
	pthread_mutex_unlock(&c->edit_mu);
	return ret;
}

int control_host_drain(struct keel_control *c, uint32_t wait_ms, char *why, size_t whylen)
{
	if (!c->cfg->bgp.enabled) {
		snprintf(why, whylen, "no bgp section: this host announces nothing to drain");
		return -EINVAL;
	}
	/* Acknowledged once persisted, with the rest of the state (state.json), under the edit lock. */
	if (persist_drain(c, true, why, whylen))
		return -EIO;
	return bgp_drain(c->bgp, true, wait_ms, why, whylen);
}

int control_host_undrain(struct keel_control *c, char *why, size_t whylen)
{
	int ret;

	if (!c->cfg->bgp.enabled) {
		snprintf(why, whylen, "no bgp section: this host announces nothing");
		return -EINVAL;
	}
	if (persist_drain(c, false, why, whylen))
		return -EIO;
	ret = bgp_undrain(c->bgp, why, whylen);
	if (!ret) {
		/* Forwarding first (the next tick publishes the VIPs), then the announcements. */
		pthread_mutex_lock(&c->edit_mu);
		control_bgp_feed(c);
		pthread_mutex_unlock(&c->edit_mu);
	}
	return ret;
}

void control_stop_announcing(struct keel_control *c)
{
	char why[256];

	if (!c->cfg->bgp.enabled)
		return;
	bgp_drain(c->bgp, false, UINT32_MAX, why, sizeof(why));
	/* The dataplane keeps forwarding what the routers still send while they move away. */
	while (!bgp_drain_elapsed(c->bgp)) {
		control_tick(c);
		poll(NULL, 0, 100);
	}
	bgp_withdraw_all(c->bgp);
	log_event(LOG_INFO, "bgp_stopped", "routes=%s", "all withdrawn");
}

/* The steering program's state (mu held): "required" false is a NIC Keel owns alone. */
json_t *control_steer_json(struct keel_control *c)
{
	const struct steering_state *st = &c->steer;
	json_t *missing = json_array();
	uint32_t i;

	for (i = 0; missing && st->required && i < c->cfg->n_vips && i < KEEL_BPF_MAX_VIPS; i++)
		if (st->n_vips != c->cfg->n_vips || st->missing[i])
			json_array_append_new(missing, json_string(c->cfg->vips[i].name));
	return json_pack("{s:b,s:b,s:s?,s:s?,s:I,s:o*}", "required", st->required, "maps_visible",
			 st->visible, "where", st->where[0] ? st->where : NULL, "error",
			 st->error[0] ? st->error : NULL, "vips_missing",
			 (json_int_t)(st->required ? st->n_missing : 0), "missing", missing);
}

json_t *control_bgp_json(struct keel_control *c)
{
	return bgp_json(c->bgp);
}

json_t *control_bgp_view(struct keel_control *c)
{
	json_t *o = bgp_json(c->bgp);

	if (o) {
		pthread_mutex_lock(&c->mu);
		json_object_set_new(o, "steering", control_steer_json(c));
		pthread_mutex_unlock(&c->mu);
	}
	return o;
}

void control_digest_metrics(struct keel_control *c, FILE *f);

void control_bgp_metrics(struct keel_control *c, FILE *f)
{
	control_digest_metrics(c, f);
	/* Hosts without a bgp: section have no speaker to be down: no series, no false alert. */
	if (c->cfg->bgp.enabled)
		bgp_metrics(c->bgp, f);
}
