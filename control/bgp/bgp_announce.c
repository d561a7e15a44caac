/* The announcement state machine: host and VIP facts to a wanted preference, damped per address. No I/O. */
#include "bgp_announce.h"

static const char *const pref_names[] = { "withdrawn", "degraded", "normal" };
static const char *const why_names[BGP_WHY_COUNT] = {
	[BGP_WHY_SERVING] = "serving",
	[BGP_WHY_ALL_DOWN] = "all backends down",
	[BGP_WHY_NO_BACKEND] = "no active backend configured",
	[BGP_WHY_DATAPLANE_DOWN] = "dataplane down",
	[BGP_WHY_STALLED] = "worker stalled",
	[BGP_WHY_GENERATION] = "generation not on every worker",
	[BGP_WHY_DRAINING] = "host draining",
	[BGP_WHY_HELD_DOWN] = "held down: flapping",
	[BGP_WHY_SETTLING] = "settling: backend health changed",
	[BGP_WHY_NO_INPUT] = "starting",
	[BGP_WHY_NOT_STEERED] = "not steered: no entry in the steering maps",
	[BGP_WHY_STORE_LOST] = "cut from the fleet store",
	[BGP_WHY_DEAD_HERE] = "a backend the fleet keeps is down from here",
};

const char *bgp_pref_name(enum bgp_pref p)
{
	return p <= BGP_PREF_NORMAL ? pref_names[p] : "?";
}

const char *bgp_why_name(enum bgp_why w)
{
	return w < BGP_WHY_COUNT ? why_names[w] : "?";
}

enum bgp_pref bgp_vip_want(const struct bgp_policy *pol, const struct bgp_host_view *h,
			   const struct bgp_vip_view *v, enum bgp_why *why)
{
	/* Draining first: an operator's drain must read as such whatever else is wrong. */
	if (h->draining)
		*why = BGP_WHY_DRAINING;
	else if (!h->dp_alive)
		*why = BGP_WHY_DATAPLANE_DOWN;
	else if (h->stalled)
		*why = BGP_WHY_STALLED;
	else if (!h->gen_current || !h->serving)
		*why = BGP_WHY_GENERATION;
	else if (!v->configured)
		*why = BGP_WHY_NO_BACKEND;
	else if (v->unsteered)
		/* Its packets would go to the kernel, not to the workers: announcing it blackholes it. */
		*why = BGP_WHY_NOT_STEERED;
	else if (!v->healthy) {
		/*
		 * Every host sees the same backends down: withdrawing everywhere would
		 * blackhole the VIP fleet-wide, so by default the dataplane keeps
		 * forwarding to them (panic mode) under a worse preference.
		 */
		*why = BGP_WHY_ALL_DOWN;
		return pol->down_withdraw ? BGP_PREF_WITHDRAWN : BGP_PREF_DEGRADED;
	} else if (h->store_lost) {
		/*
		 * It serves its last revision, which the others may have left behind: the
		 * routers prefer hosts that follow the store, and keep this one as a fallback.
		 * Every host cut at once (the store down) degrades alike: ECMP is unchanged.
		 */
		*why = BGP_WHY_STORE_LOST;
		return BGP_PREF_DEGRADED;
	} else if (v->dead_here) {
		/*
		 * The fleet keeps a backend this host cannot reach (its own check, past the
		 * disagreement bound): its table sends that backend's share where it may not
		 * arrive, so the routers prefer the hosts that reach every backend, and keep
		 * this one as a fallback. Only this host's path is in doubt: the others stay.
		 */
		*why = BGP_WHY_DEAD_HERE;
		return BGP_PREF_DEGRADED;
	} else {
		*why = BGP_WHY_SERVING;
		return BGP_PREF_NORMAL;
	}
	return BGP_PREF_WITHDRAWN;
}

void bgp_addr_fold(enum bgp_pref *pref, enum bgp_why *why, enum bgp_pref want,
		   enum bgp_why want_why)
{
	if (want > *pref || *why == BGP_WHY_NO_INPUT) {
		*pref = want > *pref ? want : *pref;
		*why = want_why;
	}
}

/* Changes within the window ending at now, from the newest backwards. */
static uint32_t recent_changes(const struct bgp_policy *pol, const struct bgp_addr_state *st,
			       uint64_t now)
{
	uint32_t n = st->n_changes < BGP_FLAP_HISTORY ? st->n_changes : BGP_FLAP_HISTORY, k;

	for (k = 0; k < n; k++) {
		uint64_t t = st->changes[(st->n_changes - 1 - k) % BGP_FLAP_HISTORY];

		if (now - t > pol->flap_window_ms)
			break;
	}
	return k;
}

bool bgp_addr_step(const struct bgp_policy *pol, struct bgp_addr_state *st, enum bgp_pref want,
		   enum bgp_why why, uint64_t now, uint64_t settle_until, uint64_t *until_ms)
{
	*until_ms = 0;
	if (want > st->pref && now < settle_until) {
		*until_ms = settle_until;
		st->why = BGP_WHY_SETTLING;
		return false;
	}
	if (want > st->pref && st->n_changes) {
		uint64_t last = st->changes[(st->n_changes - 1) % BGP_FLAP_HISTORY];

		if (recent_changes(pol, st, now) >= pol->flap_limit &&
		    now - last < pol->hold_down_ms) {
			*until_ms = last + pol->hold_down_ms;
			st->why = BGP_WHY_HELD_DOWN;
			return false;
		}
	}
	if (want == st->pref) {
		st->why = why;
		return false;
	}
	st->pref = want;
	st->why = why;
	st->since_ms = now;
	st->changes[st->n_changes % BGP_FLAP_HISTORY] = now;
	st->n_changes++;
	return true;
}
