/* The announcement runtime: dataplane liveness at 20 Hz, the state machine per VIP address, kernel routes, BIRD sessions, drain. */
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
#include "config.h"
#include "config_field.h"
#include "log.h"
#include "pkt.h"
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static struct bgp_policy policy(const struct bgp *b)
{
	return (struct bgp_policy){
		.down_withdraw = b->cfg.all_backends_down == CONFIG_BGP_DOWN_WITHDRAW,
		.flap_limit = b->cfg.flap_limit,
		.flap_window_ms = b->cfg.flap_window_ms,
		.hold_down_ms = b->cfg.hold_down_ms,
	};
}

static uint32_t metric_of(const struct bgp *b, enum bgp_pref p)
{
	return p == BGP_PREF_NORMAL ? b->cfg.metric : p == BGP_PREF_DEGRADED ? b->cfg.degraded_metric : 0;
}

static struct bgp_route route_of(const struct bgp_addr *a, uint32_t metric)
{
	struct bgp_route r = { .family = a->family, .metric = metric };

	memcpy(r.addr, a->addr, 16);
	return r;
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

static void seam_close(struct bgp *b)
{
	if (b->seam)
		keel_seam_close(b->seam);
	b->seam = NULL;
}

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

static void decide(struct bgp *b, uint64_t now)
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

static void *live_main(void *arg)
{
	struct bgp *b = arg;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		struct timespec dl;
		uint64_t now = now_ms();

		if (b->cfg.enabled) /* without a bgp: section nothing here reads the region */
			watch_dataplane(b, now);
		if (b->has_inputs || b->withdrawn_all)
			decide(b, now);
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

/* --- BIRD ------------------------------------------------------------------------------ */

/* Record what BIRD exports to peers[k] (under b->mu): got < 0 is unknown, why says why. */
static void peer_exports(struct bgp *b, uint32_t k, const struct bgp_bird_net *nets, int got,
			 const char *why)
{
	struct bgp_peer *pe = &b->peers[k];
	uint32_t i, bit = 1u << k;
	int j, n = got < BGP_EXPORT_MAX ? got : BGP_EXPORT_MAX;

	pe->export_known = got >= 0;
	pe->exported = got > 0 ? (uint32_t)got : 0;
	snprintf(pe->export_error, sizeof(pe->export_error), "%s", got >= 0 ? "" : why);
	for (i = 0; i < b->n_addrs; i++) {
		struct bgp_addr *a = &b->addrs[i];
		uint8_t full = a->family == KEEL_AF_INET4 ? 32 : 128;
		bool in = false;

		for (j = 0; j < n && !in; j++)
			in = nets[j].family == a->family && nets[j].len == full &&
			     !memcmp(nets[j].addr, a->addr, a->family == KEEL_AF_INET4 ? 4 : 16);
		a->exported = in ? a->exported | bit : a->exported & ~bit;
	}
}

/*
 * What BIRD exports to each BGP peer ("show route export NAME": its export
 * filter applied), one request per peer outside the lock. The kernel table
 * says what keel-control asks for; this is what the routers are sent.
 */
static void bird_exports(struct bgp *b, const char *path, const struct bgp_bird_proto *p, int n)
{
	struct bgp_bird_net *nets = malloc(BGP_EXPORT_MAX * sizeof(*nets));
	char why[160];
	uint32_t k;
	int i, got;

	for (i = 0; i < n; i++) {
		if (strcmp(p[i].proto, "BGP"))
			continue;
		if (!nets) {
			got = -ENOMEM;
			snprintf(why, sizeof(why), "out of memory");
		} else if (!p[i].up) {
			/* No session, nothing sent, whatever the table holds. */
			got = 0;
		} else {
			got = bgp_bird_show_export(path, p[i].name, BGP_BIRD_TIMEOUT_MS, nets,
						   BGP_EXPORT_MAX, why, sizeof(why));
			if (got == -EREMOTEIO)
				got = 0; /* "No valid tables": the channel is down, nothing exported */
		}
		pthread_mutex_lock(&b->mu);
		for (k = 0; k < b->n_peers; k++)
			if (!strcmp(b->peers[k].name, p[i].name))
				break;
		if (k < b->n_peers)
			peer_exports(b, k, nets, got, why);
		pthread_mutex_unlock(&b->mu);
	}
	free(nets);
}

static void bird_poll(struct bgp *b)
{
	struct bgp_bird_proto p[64];
	char path[CONFIG_BGP_SOCKET_MAX], why[256];
	int n, i;
	uint32_t k;

	pthread_mutex_lock(&b->mu);
	snprintf(path, sizeof(path), "%s", b->cfg.bird_socket);
	pthread_mutex_unlock(&b->mu);
	/* The slow part (up to the timeout) outside the lock: the live thread never waits on BIRD. */
	n = bgp_bird_show_protocols(path, BGP_BIRD_TIMEOUT_MS, p, 64, why, sizeof(why));
	pthread_mutex_lock(&b->mu);
	b->bird_polls++;
	if (n < 0) {
		b->bird_failures++;
		if (b->speaker_up || strcmp(b->speaker_error, why))
			log_event(LOG_ERROR, "bgp_speaker_down", "socket=%s reason=%s table=%u retry_ms=%u",
				  path, why, b->cfg.table, BGP_BIRD_POLL_MS);
		snprintf(b->speaker_error, sizeof(b->speaker_error), "%s", why);
		b->speaker_up = false;
		for (k = 0; k < b->n_peers; k++) {
			b->peers[k].p.up = false;
			peer_exports(b, k, NULL, -1, why);
		}
		pthread_mutex_unlock(&b->mu);
		return;
	}
	if (!b->speaker_up)
		log_event(LOG_INFO, "bgp_speaker_up", "socket=%s", path);
	b->speaker_up = true;
	b->speaker_error[0] = 0;
	for (k = 0; k < b->n_peers; k++)
		b->peers[k].seen = false;
	for (i = 0; i < n && i < 64; i++) {
		if (strcmp(p[i].proto, "BGP"))
			continue;
		for (k = 0; k < b->n_peers; k++)
			if (!strcmp(b->peers[k].name, p[i].name))
				break;
		if (k == b->n_peers) {
			if (k == sizeof(b->peers) / sizeof(b->peers[0]))
				continue;
			memset(&b->peers[k], 0, sizeof(b->peers[k]));
			/* Same sizes (BGP_BIRD_NAME_MAX, CONFIG_TEXT_MAX), NUL-terminated by the parser. */
			_Static_assert(sizeof(b->peers[k].label) == sizeof(p[i].name), "label size");
			memcpy(b->peers[k].name, p[i].name, sizeof(b->peers[k].name));
			memcpy(b->peers[k].label, p[i].name, sizeof(b->peers[k].label));
			b->n_peers++;
		}
		if (b->peers[k].p.up != p[i].up)
			log_event(p[i].up ? LOG_INFO : LOG_WARN,
				  p[i].up ? "bgp_session_up" : "bgp_session_down",
				  "peer=%s protocol=%s info=%s", b->peers[k].label, p[i].name, p[i].info);
		b->peers[k].p = p[i];
		b->peers[k].seen = true;
	}
	for (k = 0; k < b->n_peers; k++)
		if (!b->peers[k].seen) {
			b->peers[k].p.up = false;
			peer_exports(b, k, NULL, -1, "no such protocol in BIRD");
		}
	pthread_mutex_unlock(&b->mu);
	bird_exports(b, path, p, n < 64 ? n : 64);
}

static void *bird_main(void *arg)
{
	struct bgp *b = arg;

	for (;;) {
		struct timespec dl;
		bool enabled;

		pthread_mutex_lock(&b->mu);
		enabled = b->cfg.enabled && !b->stop;
		pthread_mutex_unlock(&b->mu);
		if (enabled)
			bird_poll(b);
		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += BGP_BIRD_POLL_MS / 1000;
		while (!b->stop && pthread_cond_timedwait(&b->wake, &b->mu, &dl) != ETIMEDOUT)
			;
		if (b->stop) {
			pthread_mutex_unlock(&b->mu);
			return NULL;
		}
		pthread_mutex_unlock(&b->mu);
	}
}

/* The configured neighbours as peers (BIRD's names from config_bgp_peer_name). */
static void peers_from_config(struct bgp *b)
{
	uint32_t i;

	b->n_peers = 0;
	for (i = 0; i < b->cfg.n_neighbours; i++) {
		struct bgp_peer *p = &b->peers[b->n_peers++];

		memset(p, 0, sizeof(*p));
		config_bgp_peer_name(i, p->name, sizeof(p->name));
		config_format_addr(b->cfg.neighbours[i].addr, b->cfg.neighbours[i].family, p->label);
		p->asn = b->cfg.neighbours[i].asn;
	}
}

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
	peers_from_config(b);
	snprintf(b->speaker_error, sizeof(b->speaker_error), "not polled yet");
	restore_drain(b, drained);
	if (b->cfg.enabled)
		adopt_routes(b);
	if (pthread_create(&b->live_thread, NULL, live_main, b)) {
		snprintf(why, whylen, "cannot start the BGP thread");
		goto out_free;
	}
	if (pthread_create(&b->bird_thread, NULL, bird_main, b)) {
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
	peers_from_config(b);
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
		decide(b, now_ms());
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

static bool elapsed_locked(struct bgp *b)
{
	return b->draining && now_ms() - b->drain_since_ms >= b->drain_wait_ms;
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

/* --- views --------------------------------------------------------------------------- */

json_t *bgp_json(struct bgp *b)
{
	json_t *vips = json_array(), *peers = json_array(), *o;
	uint64_t now = now_ms();
	char t[CONFIG_TEXT_MAX];
	uint32_t i;

	pthread_mutex_lock(&b->mu);
	for (i = 0; vips && i < b->in.n_vips && b->has_inputs; i++) {
		const struct bgp_addr *a = &b->addrs[b->vip_addr[i]];

		json_t *to = json_array();
		uint32_t k;

		/* announced: in keel's kernel table; exported: what BIRD sends each peer. */
		for (k = 0; to && k < b->n_peers; k++)
			if (b->speaker_up && (a->exported >> k) & 1)
				json_array_append_new(to, json_string(b->peers[k].label));
		json_array_append_new(vips, json_pack("{s:s,s:s,s:b,s:I,s:o*,s:s,s:I,s:s,s:I,s:I}",
			"vip", b->vips[i].name, "address",
			config_format_addr(a->addr, a->family, t), "announced",
			a->st.pref != BGP_PREF_WITHDRAWN, "exported", (json_int_t)json_array_size(to),
			"exported_to", to, "preference", bgp_pref_name(a->st.pref),
			"metric", (json_int_t)metric_of(b, a->st.pref), "reason",
			bgp_why_name(a->st.why), "for_ms", (json_int_t)(a->st.since_ms ? now - a->st.since_ms : 0),
			"held_for_ms", (json_int_t)(a->held_until > now ? a->held_until - now : 0)));
	}
	for (i = 0; peers && i < b->n_peers; i++)
		json_array_append_new(peers, json_pack("{s:s,s:s,s:I,s:b,s:s,s:s,s:o,s:s?}", "peer",
			b->peers[i].label, "protocol", b->peers[i].name, "asn",
			(json_int_t)b->peers[i].asn, "up", b->peers[i].p.up, "state",
			b->peers[i].p.state[0] ? b->peers[i].p.state : "unknown", "info",
			b->peers[i].p.info, "exported_routes",
			b->speaker_up && b->peers[i].export_known ?
				json_integer((json_int_t)b->peers[i].exported) : json_null(),
			"export_error", b->peers[i].export_error[0] ? b->peers[i].export_error : NULL));
	o = json_pack("{s:b,s:b,s:s?,s:b,s:b,s:I,s:I,s:{s:b,s:b,s:b},s:I,s:I,s:I,s:o,s:o}",
		"enabled", b->cfg.enabled, "speaker_up", b->speaker_up, "speaker_error",
		b->speaker_error[0] ? b->speaker_error : NULL, "draining", b->draining,
		"forwarding_stopped", b->persisted && elapsed_locked(b), "drain_wait_ms",
		(json_int_t)(b->draining ? b->drain_wait_ms : b->cfg.drain_wait_ms),
		"drain_left_ms", (json_int_t)(b->draining && !elapsed_locked(b) ?
			b->drain_wait_ms - (now - b->drain_since_ms) : 0),
		"dataplane", "alive", b->host.dp_alive, "stalled", b->host.stalled,
		"generation_current", b->host.gen_current, "table", (json_int_t)b->cfg.table,
		"announces", (json_int_t)b->announces, "withdraws", (json_int_t)b->withdraws,
		"vips", vips, "peers", peers);
	if (o)
		json_object_set_new(o, "store_lost", json_boolean(b->store_lost));
	pthread_mutex_unlock(&b->mu);
	if (!o)
		errno = ENOMEM;
	return o;
}

static void head(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void bgp_metrics(struct bgp *b, FILE *f)
{
	uint32_t i;

	pthread_mutex_lock(&b->mu);
	head(f, "keel_bgp_speaker_up", "Whether BIRD answered on its control socket at the last poll.");
	fprintf(f, "keel_bgp_speaker_up %d\n", b->cfg.enabled && b->speaker_up);
	head(f, "keel_host_draining", "Whether this host is drained (keelctl host drain) or stopping.");
	fprintf(f, "keel_host_draining %d\n", b->draining);
	head(f, "keel_bgp_announced", "Whether the VIP's address is announced (a route in keel's table).");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_announced{vip=\"%s\"} %d\n", b->vips[i].name,
			b->addrs[b->vip_addr[i]].st.pref != BGP_PREF_WITHDRAWN);
	head(f, "keel_bgp_preference",
	     "Route metric (BGP MED) announced for the VIP's address: lower is preferred, 0 withdrawn.");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_preference{vip=\"%s\"} %u\n", b->vips[i].name,
			metric_of(b, b->addrs[b->vip_addr[i]].st.pref));
	head(f, "keel_bgp_exported_peers",
	     "BGP peers BIRD exports the VIP's address to (show route export), whatever keel's table holds.");
	for (i = 0; b->has_inputs && i < b->in.n_vips; i++)
		fprintf(f, "keel_bgp_exported_peers{vip=\"%s\"} %d\n", b->vips[i].name,
			b->speaker_up ? __builtin_popcount(b->addrs[b->vip_addr[i]].exported) : 0);
	head(f, "keel_bgp_peer_exported_routes", "Routes BIRD exports to the peer (0 while BIRD or the session is down).");
	for (i = 0; i < b->n_peers; i++)
		fprintf(f, "keel_bgp_peer_exported_routes{peer=\"%s\"} %u\n", b->peers[i].label,
			b->speaker_up ? b->peers[i].exported : 0);
	head(f, "keel_bgp_session_up", "Whether BIRD's BGP session to the peer is Established.");
	for (i = 0; i < b->n_peers; i++)
		fprintf(f, "keel_bgp_session_up{peer=\"%s\"} %d\n", b->peers[i].label,
			b->speaker_up && b->peers[i].p.up);
	pthread_mutex_unlock(&b->mu);
}
