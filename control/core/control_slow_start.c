/*
 * Slow start's driver: which backends ramp, and one publish per step. The
 * ramp's arithmetic is control/plan/slow_start.c; the state here is kept by
 * stable backend id. Ramps are this host's memory: a restarted keel-control
 * begins none (the dataplane already runs the published tables).
 */
#include "control_slow_start.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "config_field.h"
#include "control_priv.h"
#include "ids.h"
#include "log.h"
#include "slow_start.h"
#include "snapshot.h"
#include "spec.h"

/* One backend id as the last publish saw it. */
struct ss_backend {
	uint8_t key[17];    /* address + family: an id reused by another backend is a new one */
	bool known;
	bool up;            /* active, weight > 0, healthy (or its VIP in panic) */
	uint32_t window_ms; /* of its ramp */
	uint64_t begin_ms;  /* wall clock; 0: not ramping */
};

/* The weights of the ramps as of a moment of the ramp clock. */
struct ss_at {
	const struct control_slow_start *s;
	uint64_t now;
};

struct control_slow_start {
	bool started;      /* a first publish was observed: what is up then ramps not */
	uint64_t clock;    /* wall ms the published steps were computed at */
	uint64_t next_ms;  /* the next step boundary of any ramp */
	uint32_t ramps;
	struct ss_at published; /* { this, clock }: the weights of the running tables */
	const struct keel_config *cfg; /* the configuration of the last sweep */
	uint64_t applies;
	uint8_t seen[KEEL_MAX_BACKENDS];
	struct ss_backend be[KEEL_MAX_BACKENDS];
};

static void backend_key(const struct config_backend *b, uint8_t key[17])
{
	memcpy(key, b->addr, 16);
	key[16] = b->family;
}

/* The step a backend is at, as of at->now: 0 when it takes its configured weight. */
static uint32_t step_of(const struct ss_at *at, const struct config_vip *v,
			const struct config_backend *b, int bid)
{
	const struct control_slow_start *s = at->s;
	const struct ss_backend *e;
	uint8_t key[17];

	if (!s || !v->slow_start_ms || bid < 0 || bid >= KEEL_MAX_BACKENDS)
		return 0;
	e = &s->be[bid];
	backend_key(b, key);
	/*
	 * Not seen by a publish yet (an added backend), or seen out of the table and active now
	 * (undrained, enabled, healthy again): the next publish begins its ramp, so a preview
	 * counts it at its first step. In a VIP that is new too every backend is so: equal
	 * steps, the same table as the configured weights.
	 */
	if (!e->known || memcmp(e->key, key, 17) || (!e->up && b->state == CONFIG_BACKEND_ACTIVE))
		return s->started && b->state == CONFIG_BACKEND_ACTIVE ? 1 : 0;
	return e->begin_ms ? slow_start_step(e->window_ms, e->begin_ms, at->now) : 0;
}

static uint32_t weight_at(void *arg, const struct config_vip *v, const struct config_backend *b,
			  int bid)
{
	if (!v->slow_start_ms)
		return b->weight; /* a VIP without slow start: the configured weights, unscaled */
	return slow_start_weight(b->weight, step_of(arg, v, b, bid));
}

static struct control_slow_start *state(struct keel_control *c)
{
	struct control_slow_start *s;

	if (!c->slow_start) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->published.s = s;
		/* Views read the pointer under mu. */
		pthread_mutex_lock(&c->mu);
		c->slow_start = s;
		pthread_mutex_unlock(&c->mu);
	}
	return c->slow_start;
}

static bool backend_up(struct keel_control *c, uint32_t vi, const struct config_vip *v,
		       const struct config_backend *b)
{
	if (b->state != CONFIG_BACKEND_ACTIVE || !b->weight)
		return false;
	if (v->health.type == CONFIG_HEALTH_NONE || (vi < KEEL_MAX_VIPS && c->panic[vi]))
		return true;
	return control_backend_healthy(c, v, b) != 0;
}

/* Forget the ids no backend of cfg has any more (only when the configuration changed). */
static void sweep(struct keel_control *c, struct control_slow_start *s)
{
	const struct keel_config *cfg = c->cfg;
	uint32_t i, j;

	if (s->cfg == cfg && s->applies == c->applies)
		return;
	s->cfg = cfg;
	s->applies = c->applies;
	memset(s->seen, 0, sizeof(s->seen));
	for (i = 0; i < cfg->n_vips; i++)
		for (j = 0; j < cfg->vips[i].n_backends; j++) {
			const struct config_backend *b = &cfg->vips[i].backends[j];
			int bid = ids_backend(c->ids, cfg->vips[i].name, b->addr, b->family);

			if (bid >= 0 && bid < KEEL_MAX_BACKENDS)
				s->seen[bid] = 1;
		}
	for (i = 0; i < KEEL_MAX_BACKENDS; i++)
		if (!s->seen[i] && s->be[i].known)
			memset(&s->be[i], 0, sizeof(s->be[i]));
}

/* Whether any backend of v was seen by a publish: its added backends ramp, a new VIP's do not. */
static bool vip_known(struct keel_control *c, const struct control_slow_start *s,
		      const struct config_vip *v)
{
	uint8_t key[17];
	uint32_t j;

	for (j = 0; j < v->n_backends; j++) {
		int bid = ids_backend(c->ids, v->name, v->backends[j].addr, v->backends[j].family);

		backend_key(&v->backends[j], key);
		if (bid >= 0 && bid < KEEL_MAX_BACKENDS && s->be[bid].known &&
		    !memcmp(s->be[bid].key, key, 17))
			return true;
	}
	return false;
}

static void observe(struct keel_control *c, struct control_slow_start *s)
{
	const struct keel_config *cfg = c->cfg;
	uint64_t now = control_wall_ms(), next = 0;
	char a[CONFIG_TEXT_MAX];
	uint32_t i, j, ramps = 0;

	sweep(c, s);
	pthread_mutex_lock(&c->mu);
	if (!s->ramps)
		s->clock = now; /* an idle ramp clock follows the wall clock */
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		bool old_vip = v->slow_start_ms && s->started && vip_known(c, s, v);

		for (j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int bid = ids_backend(c->ids, v->name, b->addr, b->family);
			struct ss_backend e;
			bool up, fresh;

			if (bid < 0 || bid >= KEEL_MAX_BACKENDS)
				continue;
			e = s->be[bid];
			up = backend_up(c, i, v, b);
			backend_key(b, e.key);
			fresh = !e.known || memcmp(s->be[bid].key, e.key, 17);
			if (fresh)
				e.up = false, e.begin_ms = 0;
			config_format_addr(b->addr, b->family, a);
			if (v->slow_start_ms && up && (fresh ? old_vip : s->started && !e.up)) {
				e.window_ms = v->slow_start_ms;
				e.begin_ms = slow_start_begin(e.window_ms, now);
				log_event(LOG_INFO, "slow_start_begin", "vip=%s backend=%s window_ms=%u until_ms=%llu",
					  v->name, a, e.window_ms,
					  (unsigned long long)slow_start_end(e.window_ms, e.begin_ms));
			} else if (e.begin_ms && (!up || !v->slow_start_ms)) {
				log_event(LOG_INFO, "slow_start_cancelled", "vip=%s backend=%s reason=%s", v->name, a,
					  !v->slow_start_ms ? "slow_start off" : "down, drained or disabled");
				e.begin_ms = 0;
			} else if (e.begin_ms && !slow_start_step(e.window_ms, e.begin_ms, s->clock)) {
				log_event(LOG_INFO, "slow_start_done", "vip=%s backend=%s", v->name, a);
				e.begin_ms = 0;
			}
			if (e.begin_ms && v->slow_start_ms != e.window_ms)
				e.window_ms = v->slow_start_ms; /* a new window applies from now on */
			e.known = true;
			e.up = up;
			if (e.begin_ms) {
				uint64_t n = slow_start_next(e.window_ms, e.begin_ms, s->clock);

				ramps++;
				if (!next || n < next)
					next = n;
			}
			pthread_mutex_lock(&c->mu);
			s->be[bid] = e;
			pthread_mutex_unlock(&c->mu);
		}
	}
	pthread_mutex_lock(&c->mu);
	s->started = true;
	s->ramps = ramps;
	s->next_ms = next;
	pthread_mutex_unlock(&c->mu);
}

void control_slow_start_inputs(struct keel_control *c, struct spec_inputs *in)
{
	struct control_slow_start *s = state(c);

	/* Without memory no ramp: the configured weights, as before slow start existed. */
	if (!s)
		return;
	observe(c, s);
	s->published.now = s->clock;
	in->weight = weight_at;
	in->weight_arg = &s->published;
}

struct spec_side *control_slow_start_side(struct keel_control *c, struct spec_side *side)
{
	struct control_slow_start *s = state(c);

	if (s) {
		s->published.now = s->clock;
		side->weight = weight_at;
		side->weight_arg = &s->published;
	}
	return side;
}

/* The audit's lines of a step: each ramping backend whose step changes. */
static json_t *step_diff(struct keel_control *c, const struct ss_at *from, const struct ss_at *to)
{
	json_t *d = json_array();
	char a[CONFIG_TEXT_MAX], line[256];
	uint32_t i, j;

	for (i = 0; d && i < c->cfg->n_vips; i++) {
		const struct config_vip *v = &c->cfg->vips[i];

		for (j = 0; v->slow_start_ms && j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			int bid = ids_backend(c->ids, v->name, b->addr, b->family);
			uint32_t x = step_of(from, v, b, bid), y = step_of(to, v, b, bid);

			if (x == y || json_array_size(d) >= AUDIT_DIFF_LINES)
				continue;
			snprintf(line, sizeof(line), "%s/%s: slow start %u%% -> %u%% of weight %u", v->name,
				 config_format_addr(b->addr, b->family, a), slow_start_percent(x),
				 slow_start_percent(y), b->weight);
			json_array_append_new(d, json_string(line));
		}
	}
	return d;
}

/* The next step boundary after now of any ramp (mu held). */
static uint64_t next_boundary(const struct control_slow_start *s, uint64_t now)
{
	uint64_t next = 0;
	uint32_t i;

	for (i = 0; i < KEEL_MAX_BACKENDS; i++)
		if (s->be[i].begin_ms) {
			uint64_t n = slow_start_next(s->be[i].window_ms, s->be[i].begin_ms, now);

			if (!next || n < next)
				next = n;
		}
	return next;
}

void control_slow_start_tick(struct keel_control *c)
{
	struct control_slow_start *s = c->slow_start;
	struct keel_api_preview preview = { 0 };
	struct ss_at from, to;
	struct spec_side sf, st;
	uint64_t now = control_wall_ms();
	double moved = 0;
	bool emptied = false, last = true;
	char why[160] = "";
	uint32_t i, j;

	if (!s || !s->ramps || now < s->next_ms)
		return;
	from = (struct ss_at){ s, s->clock };
	to = (struct ss_at){ s, now };
	sf = (struct spec_side){ c->cfg, c->ids, weight_at, &from };
	st = (struct spec_side){ c->cfg, c->ids, weight_at, &to };
	/* The last step of every ramp (configured weights) is not held back: see the header. */
	for (i = 0; last && i < c->cfg->n_vips; i++)
		for (j = 0; last && j < c->cfg->vips[i].n_backends; j++) {
			const struct config_vip *v = &c->cfg->vips[i];
			const struct config_backend *b = &v->backends[j];

			last = !step_of(&to, v, b, ids_backend(c->ids, v->name, b->addr, b->family));
		}
	if (spec_preview_fill(c->tables, &sf, &st, control_backend_healthy, c, &moved, &emptied, &preview)) {
		/* No preview, no step: tried again at the next tick. */
		log_event(LOG_WARN, "slow_start_step_skipped", "reason=%s", "cannot build the preview");
		return;
	}
	audit_actor_set("slow_start", -1, -1);
	if (!last && moved > c->p.max_move_share) {
		snprintf(why, sizeof(why),
			 "slow start step held: %.1f%% of a VIP's slots would move, over the %.0f%% limit",
			 moved * 100, c->p.max_move_share * 100);
		log_event(LOG_WARN, "slow_start_step_held", "moved=%.3f limit=%.2f", moved, c->p.max_move_share);
		if (c->audit)
			audit_event(c->audit, c->generation, false, why, &preview, step_diff(c, &from, &to));
		pthread_mutex_lock(&c->mu);
		s->next_ms = next_boundary(s, now);
		pthread_mutex_unlock(&c->mu);
	} else {
		/* The publish that follows at once is the next generation. */
		if (c->audit)
			audit_event(c->audit, c->generation + 1, true, "", &preview, step_diff(c, &from, &to));
		log_event(LOG_INFO, "slow_start_step", "moved=%.3f", moved);
		pthread_mutex_lock(&c->mu);
		s->clock = now;
		s->next_ms = next_boundary(s, now);
		pthread_mutex_unlock(&c->mu);
		c->need_publish = true;
		c->need_bump = true;
	}
	audit_actor_clear();
	keel_api_preview_free(&preview);
}

bool control_slow_start_ramp(struct keel_control *c, int bid, uint32_t *percent, uint64_t *until_ms)
{
	const struct control_slow_start *s = c->slow_start;
	const struct ss_backend *e;
	uint32_t step;

	if (!s || bid < 0 || bid >= KEEL_MAX_BACKENDS || !s->be[bid].begin_ms)
		return false;
	e = &s->be[bid];
	step = slow_start_step(e->window_ms, e->begin_ms, s->clock);
	if (!step)
		return false;
	*percent = slow_start_percent(step);
	*until_ms = slow_start_end(e->window_ms, e->begin_ms);
	return true;
}

void control_slow_start_free(struct keel_control *c)
{
	free(c->slow_start);
	c->slow_start = NULL;
}
