/* The announcement runtime: life cycle, inputs and drain; its threads are bgp_live.c (dataplane, routes) and bgp_sessions.c (BIRD). */
#include "bgp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bgp_bird.h"
#include "bgp_kernel.h"
#include "bgp_priv.h"
#include "config.h"
#include "config_field.h"
#include "log.h"
#include "pkt.h"
#include "seam.h"

/* --- life cycle, inputs ------------------------------------------------------------- */

static int find_addr(const struct bgp_addr *a, uint32_t n, uint8_t family, const uint8_t *addr)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (a[i].family == family && !memcmp(a[i].addr, addr, 16))
			return (int)i;
	return -1;
}

/* Adopt what a previous keel-control left: as announced, so that a restart does not flap. */
static void adopt_routes(struct bgp *b)
{
	struct bgp_route r[CONFIG_MAX_VIPS];
	char t[CONFIG_TEXT_MAX];
	int n = bgp_kernel_list(b->cfg.table, b->cfg.protocol, r, CONFIG_MAX_VIPS), i;

	if (n < 0) {
		log_event(LOG_ERROR, "bgp_table_unreadable", "table=%u reason=%s", b->cfg.table,
			  strerror(-n));
		return;
	}
	b->addrs = calloc((size_t)n + 1, sizeof(*b->addrs));
	if (!b->addrs)
		return;
	for (i = 0; i < n; i++) {
		struct bgp_addr *a;
		int k = find_addr(b->addrs, b->n_addrs, r[i].family, r[i].addr);

		if (k >= 0) { /* two metrics of one address: keep the first, drop the other */
			bgp_kernel_del(b->cfg.table, b->cfg.protocol, &r[i]);
			continue;
		}
		a = &b->addrs[b->n_addrs++];
		a->family = r[i].family;
		memcpy(a->addr, r[i].addr, 16);
		a->installed = r[i].metric;
		a->st.pref = r[i].metric >= b->cfg.degraded_metric ? BGP_PREF_DEGRADED : BGP_PREF_NORMAL;
		a->st.why = BGP_WHY_NO_INPUT;
		log_event(LOG_INFO, "bgp_route_adopted", "address=%s table=%u metric=%u",
			  config_format_addr(a->addr, a->family, t), b->cfg.table, r[i].metric);
	}
}

/* An operator's drain that the control's state kept across a restart. */
static void restore_drain(struct bgp *b, bool drained)
{
	if (!drained)
		return;
	b->draining = b->persisted = true;
	b->drain_since_ms = now_ms(); /* the wait starts again: forwarding may not have stopped */
	b->drain_wait_ms = b->cfg.drain_wait_ms;
	log_event(LOG_WARN, "host_drained_persisted", "path=%s announced=%s", "state.json",
		  "nothing until undrain");
}

struct bgp *bgp_create(const struct config_bgp *cfg, const char *instance, bool drained,
		       char *why, size_t whylen)
{
	struct bgp *b = calloc(1, sizeof(*b));
	pthread_condattr_t ca;

	if (!b) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	b->cfg = *cfg;
	snprintf(b->instance, sizeof(b->instance), "%s", instance);
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);
	bgp_sessions_from_config(b);
	snprintf(b->speaker_error, sizeof(b->speaker_error), "not polled yet");
	restore_drain(b, drained);
	if (b->cfg.enabled)
		adopt_routes(b);
	if (pthread_create(&b->live_thread, NULL, bgp_live_main, b)) {
		snprintf(why, whylen, "cannot start the BGP thread");
		goto out_free;
	}
	if (pthread_create(&b->bird_thread, NULL, bgp_sessions_main, b)) {
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_broadcast(&b->wake);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->live_thread, NULL);
		snprintf(why, whylen, "cannot start the BIRD thread");
		goto out_free;
	}
	return b;

out_free:
	free(b->addrs);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->mu);
	free(b);
	return NULL;
}

void bgp_destroy(struct bgp *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->live_thread, NULL);
	pthread_join(b->bird_thread, NULL);
	seam_close(b);
	free(b->vips);
	free(b->vip_addr);
	free(b->addrs);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

/* Delete every route of ours from the table (under b->mu). */
static void remove_all(struct bgp *b)
{
	uint32_t i;

	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_addr *a = &b->addrs[i];
		struct bgp_route r = route_of(a, a->installed);

		if (a->installed && !bgp_kernel_del(b->cfg.table, b->cfg.protocol, &r))
			a->installed = 0;
		if (a->st.pref != BGP_PREF_WITHDRAWN) {
			uint64_t until;

			bgp_addr_step(&(struct bgp_policy){ 0 }, &a->st, BGP_PREF_WITHDRAWN,
				      BGP_WHY_DRAINING, now_ms(), 0, &until);
		}
	}
}

void bgp_set_config(struct bgp *b, const struct config_bgp *cfg, const char *instance)
{
	pthread_mutex_lock(&b->mu);
	if (config_bgp_equal(&b->cfg, cfg) && !strcmp(b->instance, instance)) {
		pthread_mutex_unlock(&b->mu);
		return;
	}
	/* Routes live in the old table under the old protocol: take them out of there. */
	if (cfg->table != b->cfg.table || cfg->protocol != b->cfg.protocol || !cfg->enabled)
		remove_all(b);
	b->cfg = *cfg;
	if (strcmp(b->instance, instance)) {
		snprintf(b->instance, sizeof(b->instance), "%s", instance);
		seam_close(b);
	}
	bgp_sessions_from_config(b);
	/* Peer indexes changed: what BIRD exports is known again at its next poll. */
	for (uint32_t i = 0; i < b->n_addrs; i++)
		b->addrs[i].exported = 0;
	log_event(LOG_INFO, "bgp_settings", "enabled=%s table=%u neighbours=%u",
		  cfg->enabled ? "yes" : "no", cfg->table, cfg->n_neighbours);
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->mu);
}

static bool same_vips(const struct bgp *b, const struct bgp_inputs *in)
{
	uint32_t i;

	if (!b->has_inputs || b->in.n_vips != in->n_vips)
		return false;
	for (i = 0; i < in->n_vips; i++)
		if (strcmp(b->vips[i].name, in->vips[i].name) ||
		    b->vips[i].family != in->vips[i].family ||
		    memcmp(b->vips[i].addr, in->vips[i].addr, 16))
			return false;
	return true;
}

/* A new VIP list: addresses regrouped; kept addresses keep their state, gone ones are withdrawn. */
static int regroup(struct bgp *b, const struct bgp_inputs *in)
{
	struct bgp_vip_input *vips = calloc(in->n_vips + 1, sizeof(*vips));
	uint32_t *va = calloc(in->n_vips + 1, sizeof(*va));
	struct bgp_addr *na = calloc(in->n_vips + 1, sizeof(*na));
	uint32_t i, nn = 0;

	if (!vips || !va || !na) {
		free(vips);
		free(va);
		free(na);
		return -ENOMEM;
	}
	memcpy(vips, in->vips, in->n_vips * sizeof(*vips));
	for (i = 0; i < in->n_vips; i++) {
		int k = find_addr(na, nn, vips[i].family, vips[i].addr), old;

		if (k < 0) {
			k = (int)nn++;
			old = find_addr(b->addrs, b->n_addrs, vips[i].family, vips[i].addr);
			if (old >= 0) {
				na[k] = b->addrs[old];
				b->addrs[old].installed = 0; /* moved, not to be deleted below */
				b->addrs[old].family = 0xff;
			} else {
				na[k].family = vips[i].family;
				memcpy(na[k].addr, vips[i].addr, 16);
				na[k].st.why = BGP_WHY_NO_INPUT;
				na[k].settle_until = now_ms() + b->cfg.settle_ms;
			}
		}
		va[i] = (uint32_t)k;
	}
	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_addr *a = &b->addrs[i];
		char t[CONFIG_TEXT_MAX];

		if (a->family == 0xff || !a->installed)
			continue;
		struct bgp_route r = route_of(a, a->installed);

		bgp_kernel_del(b->cfg.table, b->cfg.protocol, &r);
		log_event(LOG_INFO, "bgp_withdraw", "address=%s reason=%s",
			  config_format_addr(a->addr, a->family, t), "no VIP on it any more");
	}
	free(b->vips);
	free(b->vip_addr);
	free(b->addrs);
	b->vips = vips;
	b->vip_addr = va;
	b->addrs = na;
	b->n_addrs = nn;
	return 0;
}

void bgp_set_inputs(struct bgp *b, const struct bgp_inputs *in)
{
	uint32_t i;

	pthread_mutex_lock(&b->mu);
	if (!same_vips(b, in)) {
		if (regroup(b, in)) {
			pthread_mutex_unlock(&b->mu);
			return;
		}
	} else {
		uint64_t now = now_ms();

		for (i = 0; i < in->n_vips; i++) {
			if (b->vips[i].view.n_healthy != in->vips[i].view.n_healthy)
				b->addrs[b->vip_addr[i]].settle_until = now + b->cfg.settle_ms;
			b->vips[i].view = in->vips[i].view;
		}
	}
	b->in = *in;
	b->in.vips = b->vips;
	b->has_inputs = true;
	pthread_mutex_unlock(&b->mu);
}

void bgp_set_store_lost(struct bgp *b, bool lost)
{
	pthread_mutex_lock(&b->mu);
	b->store_lost = lost;
	pthread_mutex_unlock(&b->mu);
}

/* --- drain ------------------------------------------------------------------------- */

int bgp_drain(struct bgp *b, bool persist, uint32_t wait_ms, char *why, size_t whylen)
{
	(void)why; /* nothing here can fail now; the signature keeps the callers' */
	(void)whylen;
	pthread_mutex_lock(&b->mu);
	/* The control persisted an operator's drain (state.json) before it asked for it. */
	if (persist)
		b->persisted = true;
	if (!b->draining || wait_ms != UINT32_MAX) {
		b->drain_since_ms = now_ms();
		b->drain_wait_ms = wait_ms == UINT32_MAX ? b->cfg.drain_wait_ms : wait_ms;
	}
	if (!b->draining)
		log_event(LOG_WARN, persist ? "host_drain" : "bgp_stopping",
			  "withdraw=%s forwarding_ends_ms=%u", "everything", b->drain_wait_ms);
	b->draining = true;
	/* Withdraw now, not at the next tick. */
	if (b->has_inputs)
		bgp_live_decide(b, now_ms());
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

int bgp_undrain(struct bgp *b, char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	pthread_mutex_lock(&b->mu);
	if (b->draining)
		log_event(LOG_INFO, "host_undrain", "then=%s", "forwarding, then announcements");
	b->persisted = b->draining = false;
	pthread_cond_broadcast(&b->wake);
	pthread_mutex_unlock(&b->mu);
	return 0;
}

bool bgp_forwarding_stopped(struct bgp *b)
{
	bool r;

	pthread_mutex_lock(&b->mu);
	r = b->persisted && elapsed_locked(b);
	pthread_mutex_unlock(&b->mu);
	return r;
}

bool bgp_drain_elapsed(struct bgp *b)
{
	bool r;

	pthread_mutex_lock(&b->mu);
	r = elapsed_locked(b);
	pthread_mutex_unlock(&b->mu);
	return r;
}

void bgp_withdraw_all(struct bgp *b)
{
	pthread_mutex_lock(&b->mu);
	b->withdrawn_all = true;
	remove_all(b);
	pthread_mutex_unlock(&b->mu);
}
