/* The announcement runtime's liveness thread: the dataplane watched at 20 Hz, the state machine per address, the kernel routes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "bgp_kernel.h"
#include "bgp_priv.h"
#include "config.h"
#include "config_field.h"
#include "log.h"
#include "seam.h"

static struct bgp_policy policy(const struct bgp *b)
{
	return (struct bgp_policy){
		.down_withdraw = b->cfg.all_backends_down == CONFIG_BGP_DOWN_WITHDRAW,
		.flap_limit = b->cfg.flap_limit,
		.flap_window_ms = b->cfg.flap_window_ms,
		.hold_down_ms = b->cfg.hold_down_ms,
	};
}

/* Make the kernel table hold what st says: the new route first, then the old one out. */
static void sync_route(struct bgp *b, struct bgp_addr *a)
{
	uint32_t want = b->withdrawn_all ? 0 : metric_of(b, a->st.pref);
	char t[CONFIG_TEXT_MAX];
	int ret = 0;

	if (a->installed == want)
		return;
	if (want) {
		struct bgp_route r = route_of(a, want);

		ret = bgp_kernel_add(b->cfg.table, b->cfg.protocol, &r);
	}
	if (!ret && a->installed) {
		struct bgp_route r = route_of(a, a->installed);

		ret = bgp_kernel_del(b->cfg.table, b->cfg.protocol, &r);
	}
	if (ret) {
		if (!a->route_error)
			log_event(LOG_ERROR, "bgp_route_failed", "address=%s table=%u reason=%s retry=%s",
				  config_format_addr(a->addr, a->family, t), b->cfg.table, strerror(-ret),
				  "every tick");
		a->route_error = true;
		return;
	}
	a->route_error = false;
	a->installed = want;
}

/* --- the dataplane, from this thread ----------------------------------------------- */

static void watch_dataplane(struct bgp *b, uint64_t now)
{
	struct bgp_host_view *h = &b->host;
	struct keel_seam_workers sum;

	if (b->seam && !keel_seam_current(b->seam, b->instance))
		seam_close(b);
	if (!b->seam && now - b->seam_tried_ms >= 200) {
		b->seam_tried_ms = now;
		b->seam = keel_seam_attach(b->instance, NULL);
	}
	h->dp_alive = b->seam && keel_seam_alive(b->seam);
	h->stalled = false;
	h->gen_current = false;
	if (!h->dp_alive)
		return;
	keel_seam_workers(b->seam, BGP_STALL_MS, &sum);
	h->stalled = sum.stalled != 0;
	h->gen_current = b->has_inputs && b->in.generation && sum.epoch == b->in.epoch && sum.n &&
			 sum.min_generation >= b->in.generation;
}

/* --- the decision, every tick -------------------------------------------------------- */

void bgp_live_decide(struct bgp *b, uint64_t now)
{
	struct bgp_policy pol = policy(b);
	struct bgp_host_view h = b->host;
	char t[CONFIG_TEXT_MAX];
	uint32_t i;

	h.draining = b->draining;
	h.serving = b->in.serving;
	h.store_lost = b->store_lost;
	for (i = 0; i < b->n_addrs; i++) {
		b->addrs[i].want = BGP_PREF_WITHDRAWN;
		b->addrs[i].want_why = BGP_WHY_NO_INPUT;
	}
	/* One pass over the VIPs (1024 at 20 Hz), folded into their addresses. */
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++) {
		struct bgp_addr *a = &b->addrs[b->vip_addr[i]];
		enum bgp_why w;
		enum bgp_pref p = bgp_vip_want(&pol, &h, &b->vips[i].view, &w);

		bgp_addr_fold(&a->want, &a->want_why, p, w);
	}
	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_addr *a = &b->addrs[i];
		enum bgp_pref want = a->want, before = a->st.pref;
		enum bgp_why why = a->want_why;
		uint64_t until;
		if (!b->cfg.enabled || b->withdrawn_all)
			want = BGP_PREF_WITHDRAWN, why = BGP_WHY_DRAINING;
		config_format_addr(a->addr, a->family, t);
		if (bgp_addr_step(&pol, &a->st, want, why, now, a->settle_until, &until)) {
			if (a->st.pref == BGP_PREF_WITHDRAWN) {
				b->withdraws++;
				log_event(LOG_WARN, "bgp_withdraw", "address=%s reason=%s", t,
					  bgp_why_name(why));
			} else {
				b->announces++;
				log_event(LOG_INFO,
					  before == BGP_PREF_WITHDRAWN ? "bgp_announce" : "bgp_preference",
					  "address=%s preference=%s metric=%u reason=%s", t,
					  bgp_pref_name(a->st.pref), metric_of(b, a->st.pref),
					  bgp_why_name(why));
			}
			a->held_until = 0;
		} else if (until && until != a->held_until && a->st.why == BGP_WHY_SETTLING) {
			a->held_until = until;
			log_event(LOG_INFO, "bgp_settling", "address=%s wait_ms=%" PRIu64, t,
				  until - now);
		} else if (until && until != a->held_until) {
			a->held_until = until;
			log_event(LOG_WARN, "bgp_hold_down", "address=%s hold_ms=%" PRIu64
				  " changes=%u window_ms=%u", t, until - now, pol.flap_limit,
				  pol.flap_window_ms);
		}
		sync_route(b, a);
	}
}

/*
 * Put back any installed route someone else deleted: keel-announce-guard deletes the table's routes
 * whenever it sees the dataplane down or stalled, and its view can differ from ours by a tick. An
 * existing route is left as it is (one netlink round trip per address, once a second).
 */
static void resync_routes(struct bgp *b, uint64_t now)
{
	uint32_t i;

	if (now - b->resync_ms < 1000 || b->withdrawn_all)
		return;
	b->resync_ms = now;
	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_route r = route_of(&b->addrs[i], b->addrs[i].installed);

		if (b->addrs[i].installed)
			bgp_kernel_add(b->cfg.table, b->cfg.protocol, &r);
	}
}

void *bgp_live_main(void *arg)
{
	struct bgp *b = arg;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		struct timespec dl;
		uint64_t now = now_ms();

		if (b->cfg.enabled) /* without a bgp: section nothing here reads the region */
			watch_dataplane(b, now);
		if (b->has_inputs || b->withdrawn_all)
			bgp_live_decide(b, now);
		if (b->cfg.enabled && b->has_inputs)
			resync_routes(b, now);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += BGP_TICK_MS * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->wake, &b->mu, &dl);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}
