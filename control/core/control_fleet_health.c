/*
 * Health the fleet agrees on (control_fleet_health.h). Every host writes its own verdicts (after its
 * rise/fall) to <prefix>/health/<host> under its lease, on change only; every host lists and
 * watches <prefix>/health/ and folds what is there with fleet_verdict.h's rule. A watch delivers
 * whole revisions, so after each answer this host holds exactly the keys of that revision: hosts
 * that reached the same revision fold the same documents and build the same tables. A dead host's
 * key goes with its lease, so only live hosts count. No leader, no clock in the rule itself.
 *
 * Store lost: the fold is kept (it is what the other hosts had too) for lease_ttl, the time after
 * which the others have dropped this host's verdicts as well; then this host's own verdicts, until
 * a listing succeeds again.
 */
#include "control_fleet_health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_field.h"
#include "config_fleet.h"
#include "control_fleet.h"
#include "control_priv.h"
#include "etcd.h"
#include "fleet_verdict.h"
#include "log.h"

/* 16384 backends of at most 41 bytes of text each stay well below it, and it below etcd's 1.5 MiB
 * request limit: a guard, never reached by a valid configuration. */
#define FLEET_HEALTH_DOC_MAX (1u << 20)

struct fleet_health {
	struct keel_control *c;
	struct keel_etcd *cli; /* the watcher's */
	char prefix[CONFIG_FLEET_PREFIX_MAX + 16];
	char own_key[CONFIG_FLEET_PREFIX_MAX + CONFIG_FLEET_HOST_MAX + 16];
	uint32_t lost_bound_ms;
	uint32_t idle_ms;
	pthread_t thr;
	bool started;

	/* heart thread only */
	char *last_put;
	int64_t last_lease;
	bool too_big_logged;

	/* tick only (edit_mu) */
	uint64_t seen_hg, seen_gen;
	/*
	 * A switch between fleet and own verdicts that changes no verdict holds
	 * the value fleet_health_tick returned before it (last_ret), so nothing
	 * republishes: a host cut from the store keeps serving its last
	 * generation. Held until the checker's or the fold's generation moves.
	 */
	bool hold;
	uint64_t hold_hg, hold_gen, last_ret;

	pthread_mutex_t mu; /* below; taken inside the control's locks, never around them */
	bool stop;
	json_t *docs;          /* {host: {"lease": n, "value": text}} as of revision */
	json_t *fold;          /* fleet_verdict_fold of docs */
	uint32_t ignored;      /* documents that counted as no verdicts */
	int64_t revision;      /* the store revision docs are at */
	uint64_t gen;          /* bumped when fold or fallback changed */
	uint64_t lost_since;   /* control_now_ms() of the first failure since the last good answer; 0 */
	bool fallback;         /* own verdicts: the store lost for lost_bound_ms */
	json_t *since;         /* {"vip addr": ms}: own and fleet verdicts differ since then */
	json_t *changed;       /* {"vip addr": revision}: the fleet's verdict became what it is there */
};

static bool h_stopping(struct fleet_health *h)
{
	bool s;

	pthread_mutex_lock(&h->mu);
	s = h->stop;
	pthread_mutex_unlock(&h->mu);
	return s;
}

static void h_nap(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Note the revision where a backend's fleet verdict changed: every host notes the same one.
 * Whether any did. */
static bool note_changes(struct fleet_health *h, const json_t *old, const json_t *fold, int64_t rev)
{
	const json_t *sides[2] = { old, fold }, *v, *c;
	const char *vip, *addr;
	char key[CONFIG_NAME_MAX + INET6_ADDRSTRLEN + 2];
	bool any = false;

	for (int s = 0; s < 2; s++)
		json_object_foreach((json_t *)sides[s], vip, v)
			json_object_foreach((json_t *)v, addr, c)
				if (fleet_verdict_routable(old, vip, addr) !=
				    fleet_verdict_routable(fold, vip, addr)) {
					snprintf(key, sizeof(key), "%s %s", vip, addr);
					json_object_set_new(h->changed, key, json_integer(rev));
					any = true;
				}
	return any;
}

/* Fold docs again, as of store revision rev (mu held). */
static void refold(struct fleet_health *h, int64_t rev)
{
	size_t n = json_object_size(h->docs), i = 0;
	struct fleet_verdict_doc *d = calloc(n ? n : 1, sizeof(*d));
	const char *host;
	json_t *v, *fold;

	if (!d)
		return;
	json_object_foreach(h->docs, host, v) {
		d[i].host = host;
		d[i].lease = json_integer_value(json_object_get(v, "lease"));
		d[i].value = json_string_value(json_object_get(v, "value"));
		d[i].len = json_string_length(json_object_get(v, "value"));
		i++;
	}
	fold = fleet_verdict_fold(d, i, &h->ignored);
	free(d);
	if (!fold)
		return;
	if (!h->fold || !json_equal(fold, h->fold)) {
		const char *key;
		json_t *cv, *tmp;

		/* Only a verdict that changed republishes: a count that moved (1 of 2 down) must not
		 * spend the health publish interval that the verdict following it would wait for. */
		if (note_changes(h, h->fold, fold, rev) || !h->fold)
			h->gen++;
		/* Bounded: a backend no live host checks any more is forgotten. */
		json_object_foreach_safe(h->changed, tmp, key, cv) {
			const char *sp = strchr(key, ' ');
			char vip[CONFIG_NAME_MAX];

			snprintf(vip, sizeof(vip), "%.*s", sp ? (int)(sp - key) : 0, key);
			if (!sp || !json_object_get(json_object_get(fold, vip), sp + 1))
				json_object_del(h->changed, key);
		}
	}
	json_decref(h->fold);
	h->fold = fold;
}

static void set_doc(struct fleet_health *h, const struct keel_etcd_kv *kv)
{
	const char *host = kv->key + strlen(h->prefix);
	json_t *v = json_object();

	json_object_set_new(v, "lease", json_integer(kv->lease));
	json_object_set_new(v, "value", json_stringn_nocheck(kv->value, kv->value_len));
	json_object_set_new(h->docs, host, v);
}

static void mark_ok(struct fleet_health *h, int64_t revision)
{
	if (revision > h->revision)
		h->revision = revision;
	h->lost_since = 0;
}

void fleet_health_store_lost(struct fleet_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	if (!h->lost_since)
		h->lost_since = control_now_ms();
	pthread_mutex_unlock(&h->mu);
}

static int watch_cb(void *arg, const struct keel_etcd_watch_resp *r)
{
	struct fleet_health *h = arg;
	int64_t rev = r->revision;
	bool stop;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < r->n_events; i++) {
		const struct keel_etcd_event *e = &r->events[i];

		rev = e->kv.mod_revision; /* the revision of the change (a delete's too) */

		if (e->is_delete)
			json_object_del(h->docs, e->kv.key + strlen(h->prefix));
		else
			set_doc(h, &e->kv);
	}
	/* One answer is one whole revision (or several): fold once, at its end. */
	if (r->n_events)
		refold(h, rev);
	mark_ok(h, r->revision);
	stop = h->stop;
	pthread_mutex_unlock(&h->mu);
	return stop;
}

static void *watch_main(void *arg)
{
	struct fleet_health *h = arg;

	while (!h_stopping(h)) {
		struct keel_etcd_watch_opts w = { .key = h->prefix, .flags = KEEL_ETCD_PREFIX,
						  .progress_notify = true, .idle_timeout_ms = h->idle_ms };
		struct keel_etcd_watch_end end = { 0 };
		struct keel_etcd_range r;
		int rc;

		/* Linearizable: a member cut from the others does not answer with old verdicts. */
		rc = keel_etcd_range(h->cli, h->prefix, KEEL_ETCD_PREFIX, 0, &r);
		if (rc) {
			fleet_health_store_lost(h);
			h_nap(500);
			continue;
		}
		pthread_mutex_lock(&h->mu);
		json_object_clear(h->docs);
		for (size_t i = 0; i < r.n; i++)
			set_doc(h, &r.kvs[i]);
		refold(h, r.revision);
		h->revision = 0;
		mark_ok(h, r.revision);
		pthread_mutex_unlock(&h->mu);
		w.start_revision = r.revision + 1;
		keel_etcd_range_free(&r);
		rc = keel_etcd_watch(h->cli, &w, watch_cb, h, &end);
		if (h_stopping(h))
			break;
		/* Compacted, cancelled, silent or broken: list again (the list is the truth). */
		if (rc && rc != -ESTALE)
			fleet_health_store_lost(h);
		h_nap(200);
	}
	return NULL;
}

struct fleet_health *fleet_health_start(struct keel_control *c, const struct config_fleet *conf,
					struct keel_etcd *cli, char *why, size_t whylen)
{
	struct fleet_health *h = calloc(1, sizeof(*h));

	if (!h || !(h->docs = json_object()) || !(h->since = json_object()) ||
	    !(h->changed = json_object())) {
		snprintf(why, whylen, "out of memory");
		if (h) {
			json_decref(h->docs);
			json_decref(h->since);
		}
		free(h);
		keel_etcd_close(cli);
		return NULL;
	}
	h->c = c;
	h->cli = cli;
	snprintf(h->prefix, sizeof(h->prefix), "%s/health/", conf->prefix);
	snprintf(h->own_key, sizeof(h->own_key), "%s/health/%s", conf->prefix, conf->host);
	h->lost_bound_ms = conf->lease_ttl_ms;
	h->idle_ms = conf->watch_idle_ms;
	pthread_mutex_init(&h->mu, NULL);
	/* Until the first listing answers, the store counts as lost since now: the bound then says
	 * when a host that starts without a store checks for itself. */
	h->lost_since = control_now_ms();
	if (pthread_create(&h->thr, NULL, watch_main, h)) {
		snprintf(why, whylen, "cannot start the fleet health watcher");
		fleet_health_stop(h);
		return NULL;
	}
	h->started = true;
	return h;
}

void fleet_health_stop(struct fleet_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_mutex_unlock(&h->mu);
	keel_etcd_watch_stop(h->cli);
	if (h->started)
		pthread_join(h->thr, NULL);
	keel_etcd_close(h->cli);
	json_decref(h->docs);
	json_decref(h->fold);
	json_decref(h->since);
	json_decref(h->changed);
	free(h->last_put);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* The local checker's verdict of one backend: 1 up, 0 down, -1 none yet (not probed, no check). */
static int own_verdict(struct keel_control *c, const struct config_vip *v, const struct config_backend *b)
{
	struct health_status st;
	struct health_target t;

	if (v->health.type == CONFIG_HEALTH_NONE || (!v->port && !v->health.port))
		return -1;
	control_health_target(v, b, &t);
	if (health_get(c->health, &t, &st) || st.state == HEALTH_STATE_UNKNOWN)
		return -1;
	return st.state == HEALTH_STATE_UP;
}

int fleet_health_put(struct fleet_health *h, struct keel_etcd *cli, int64_t lease)
{
	struct keel_control *c = h->c;
	json_t *doc = fleet_verdict_doc_new();
	char a[INET6_ADDRSTRLEN], *text;
	int rc = 0;

	if (!doc)
		return 0;
	pthread_mutex_lock(&c->mu);
	for (uint32_t i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		for (uint32_t j = 0; j < v->n_backends; j++) {
			int own = own_verdict(c, v, &v->backends[j]);

			if (own >= 0)
				fleet_verdict_doc_add(doc, v->name, config_format_addr(v->backends[j].addr,
							v->backends[j].family, a), !own);
		}
	}
	pthread_mutex_unlock(&c->mu);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (!text)
		return 0;
	if (strlen(text) > FLEET_HEALTH_DOC_MAX) {
		if (!h->too_big_logged)
			log_event(LOG_ERROR, "fleet_health_too_big", "bytes=%zu limit=%u", strlen(text),
				  FLEET_HEALTH_DOC_MAX);
		h->too_big_logged = true;
		free(text);
		return 0;
	}
	/* On change only (or under a new lease: the old key went with the old lease). */
	if (lease != h->last_lease || !h->last_put || strcmp(text, h->last_put)) {
		int64_t rev;

		rc = keel_etcd_put(cli, h->own_key, text, strlen(text), lease, &rev);
		if (!rc) {
			free(h->last_put);
			h->last_put = text;
			h->last_lease = lease;
			text = NULL;
		}
	}
	free(text);
	return rc;
}

int fleet_health_routable(struct fleet_health *h, const struct config_vip *v,
			  const struct config_backend *b, int own)
{
	char a[INET6_ADDRSTRLEN];
	int r;

	pthread_mutex_lock(&h->mu);
	r = h->fallback ? own :
	    fleet_verdict_routable(h->fold, v->name, config_format_addr(b->addr, b->family, a));
	pthread_mutex_unlock(&h->mu);
	return r;
}

/* Where own and fleet verdicts differ, keep (or start) the time they began to (edit_mu held). */
static void track(struct fleet_health *h)
{
	struct keel_control *c = h->c;
	json_t *since = json_object();
	uint64_t now = control_now_ms();
	char a[INET6_ADDRSTRLEN], key[CONFIG_NAME_MAX + INET6_ADDRSTRLEN + 2];

	if (!since)
		return;
	pthread_mutex_lock(&h->mu);
	/*
	 * In fallback too, against the last fold (what the others had): a disagreement that outlives a
	 * store cut keeps its start, so the BGP preference it lowered (fleet_health_dead_here) does not
	 * come back up for the bound's length when the store answers again.
	 */
	for (uint32_t i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		for (uint32_t j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int own = own_verdict(c, v, b);
			json_t *old;

			if (own < 0)
				continue;
			config_format_addr(b->addr, b->family, a);
			if (own == fleet_verdict_routable(h->fold, v->name, a))
				continue;
			snprintf(key, sizeof(key), "%s %s", v->name, a);
			old = json_object_get(h->since, key);
			json_object_set_new(since, key, json_integer(old ? json_integer_value(old) :
								       (json_int_t)now));
		}
	}
	json_decref(h->since);
	h->since = since;
	pthread_mutex_unlock(&h->mu);
}

/* Does any checked backend's own verdict differ from the fleet's? h->mu held. */
static bool verdicts_differ(struct fleet_health *h)
{
	struct keel_control *c = h->c;
	char a[INET6_ADDRSTRLEN];

	for (uint32_t i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		for (uint32_t j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int own = own_verdict(c, v, b);

			if (own >= 0 && own != fleet_verdict_routable(h->fold, v->name,
								       config_format_addr(b->addr, b->family, a)))
				return true;
		}
	}
	return false;
}

uint64_t fleet_health_tick(struct fleet_health *h, uint64_t hg)
{
	uint64_t now = control_now_ms(), gen, ret;
	bool fb, changed, held;

	pthread_mutex_lock(&h->mu);
	fb = h->lost_since && now - h->lost_since >= h->lost_bound_ms;
	changed = fb != h->fallback;
	if (changed) {
		h->fallback = fb;
		h->gen++;
		h->hold = !verdicts_differ(h);
		h->hold_hg = hg;
		h->hold_gen = h->gen;
	}
	gen = h->gen;
	/* gen moves on every switch, so the two halves never collide across one. */
	ret = (gen << 32) + (fb ? (hg & 0xffffffffu) : 0);
	held = h->hold && hg == h->hold_hg && gen == h->hold_gen;
	if (held)
		ret = h->last_ret;
	else
		h->hold = false;
	h->last_ret = ret;
	pthread_mutex_unlock(&h->mu);
	if (changed)
		log_event(fb ? LOG_WARN : LOG_INFO, fb ? "fleet_health_own" : "fleet_health_fleet",
			  "reason=%s bound_ms=%u", fb ? "the store is lost: own verdicts" :
			  "the store answers: fleet verdicts", h->lost_bound_ms);
	if (hg != h->seen_hg || gen != h->seen_gen) {
		if (hg != h->seen_hg && h->c->fleet)
			control_fleet_poke(h->c->fleet); /* publish this host's new verdicts now */
		h->seen_hg = hg;
		h->seen_gen = gen;
		track(h);
	}
	return ret;
}

bool fleet_health_dead_here(struct fleet_health *h, const struct config_vip *v)
{
	uint64_t now = control_now_ms();
	char a[INET6_ADDRSTRLEN], key[CONFIG_NAME_MAX + INET6_ADDRSTRLEN + 2];
	bool dead = false;

	pthread_mutex_lock(&h->mu);
	/* In fallback against the last fold: the store lost, the others still keep what it kept. */
	for (uint32_t j = 0; !dead && j < v->n_backends; j++) {
		const struct config_backend *b = &v->backends[j];
		json_t *s;

		/* Only a backend that takes traffic: a drained one's share is not this host's to lose. */
		if (b->state != CONFIG_BACKEND_ACTIVE || !b->weight || own_verdict(h->c, v, b) != 0)
			continue;
		config_format_addr(b->addr, b->family, a);
		if (fleet_verdict_routable(h->fold, v->name, a) != 1)
			continue;
		/* track() keeps when own and fleet began to differ: the same bound as the metric's. */
		snprintf(key, sizeof(key), "%s %s", v->name, a);
		s = json_object_get(h->since, key);
		dead = s && now - (uint64_t)json_integer_value(s) >= FLEET_HEALTH_DISAGREE_MS;
	}
	pthread_mutex_unlock(&h->mu);
	return dead;
}

json_t *fleet_health_json(struct fleet_health *h)
{
	struct keel_control *c = h->c;
	json_t *o, *rows = json_array();
	uint64_t now = control_now_ms();
	char a[INET6_ADDRSTRLEN], key[CONFIG_NAME_MAX + INET6_ADDRSTRLEN + 2];

	pthread_mutex_lock(&h->mu);
	for (uint32_t i = 0; rows && i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		if (v->health.type == CONFIG_HEALTH_NONE)
			continue;
		for (uint32_t j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int own = own_verdict(c, v, b);
			uint32_t down, checking;
			json_t *s;
			uint64_t for_ms;

			config_format_addr(b->addr, b->family, a);
			fleet_verdict_counts(h->fold, v->name, a, &down, &checking);
			snprintf(key, sizeof(key), "%s %s", v->name, a);
			s = json_object_get(h->since, key);
			for_ms = s ? now - (uint64_t)json_integer_value(s) : 0;
			json_array_append_new(rows, json_pack(
				"{s:s,s:s,s:s,s:s,s:i,s:i,s:I,s:b,s:I}", "vip", v->name, "backend", a, "own",
				own < 0 ? "unknown" : own ? "up" : "down", "fleet",
				fleet_verdict_down(down, checking) ? "down" : "up", "hosts_down", (int)down,
				"hosts_checking", (int)checking, "disagree_for_ms", (json_int_t)for_ms,
				"disagreement", s && for_ms >= FLEET_HEALTH_DISAGREE_MS, "fleet_since_revision",
				(json_int_t)json_integer_value(json_object_get(h->changed, key))));
		}
	}
	o = json_pack("{s:s,s:I,s:i,s:I,s:I,s:i,s:i,s:o}", "verdicts", h->fallback ? "own" : "fleet",
		      "revision", (json_int_t)h->revision, "hosts_with_verdicts",
		      (int)json_object_size(h->docs), "store_lost_ms",
		      (json_int_t)(h->lost_since ? now - h->lost_since : 0), "fallback_after_ms",
		      (json_int_t)h->lost_bound_ms, "disagreement_after_ms", FLEET_HEALTH_DISAGREE_MS,
		      "ignored_documents", (int)h->ignored, "backends", rows);
	pthread_mutex_unlock(&h->mu);
	return o;
}

/* Label values: VIP names and addresses are [A-Za-z0-9._:-] (config.md): nothing to escape. */
void fleet_health_metrics(struct fleet_health *h, FILE *out)
{
	struct keel_control *c = h->c;
	uint64_t now = control_now_ms();
	char a[INET6_ADDRSTRLEN], key[CONFIG_NAME_MAX + INET6_ADDRSTRLEN + 2];

	fprintf(out, "# HELP keel_health_disagreement 1 while this host's own verdict of a backend has "
		"differed from the fleet's for longer than %u ms.\n# TYPE keel_health_disagreement gauge\n",
		FLEET_HEALTH_DISAGREE_MS);
	pthread_mutex_lock(&h->mu);
	for (uint32_t i = 0; i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		if (v->health.type == CONFIG_HEALTH_NONE)
			continue;
		for (uint32_t j = 0; j < v->n_backends; j++) {
			json_t *s;

			config_format_addr(v->backends[j].addr, v->backends[j].family, a);
			snprintf(key, sizeof(key), "%s %s", v->name, a);
			s = json_object_get(h->since, key);
			fprintf(out, "keel_health_disagreement{vip=\"%s\",backend=\"%s\"} %d\n", v->name, a,
				s && now - (uint64_t)json_integer_value(s) >= FLEET_HEALTH_DISAGREE_MS);
		}
	}
	fprintf(out, "# HELP keel_fleet_health_own 1 while tables are built from this host's own "
		"verdicts because the fleet store is lost.\n# TYPE keel_fleet_health_own gauge\n"
		"keel_fleet_health_own %d\n", h->fallback);
	pthread_mutex_unlock(&h->mu);
}

json_t *control_fleet_health_view(struct keel_control *c)
{
	json_t *j;

	pthread_mutex_lock(&c->mu);
	if (!c->fleet_health) {
		pthread_mutex_unlock(&c->mu);
		errno = ENOENT;
		return NULL;
	}
	j = fleet_health_json(c->fleet_health);
	pthread_mutex_unlock(&c->mu);
	return j;
}
