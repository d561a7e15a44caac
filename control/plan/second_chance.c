/* Second chance, keel-control's side: per VIP the last published table, when each slot last changed owner, and from whom. */
#include "second_chance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vip_table.h"

struct sc_vip {
	uint32_t m;           /* table size; a new size starts the history again */
	uint16_t *cur;        /* the table last published */
	uint16_t *prev;       /* per slot: owner before its last change, or KEEL_BACKEND_NONE */
	uint64_t *changed_ms; /* per slot: when that change was published */
};

struct second_chance {
	uint64_t window_ms;
	uint64_t slots;
	struct sc_vip vip[KEEL_MAX_VIPS]; /* by stable VIP id */
};

struct second_chance *second_chance_new(uint64_t window_ms)
{
	struct second_chance *sc = calloc(1, sizeof(*sc));

	if (sc)
		sc->window_ms = window_ms;
	return sc;
}

static void sc_vip_free(struct sc_vip *v)
{
	free(v->cur);
	free(v->prev);
	free(v->changed_ms);
	memset(v, 0, sizeof(*v));
}

void second_chance_free(struct second_chance *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < KEEL_MAX_VIPS; i++)
		sc_vip_free(&sc->vip[i]);
	free(sc);
}

uint64_t second_chance_slots(const struct second_chance *sc)
{
	return sc ? sc->slots : 0;
}

static int sc_vip_alloc(struct sc_vip *v, uint32_t m)
{
	sc_vip_free(v);
	v->cur = malloc((size_t)m * sizeof(*v->cur));
	v->prev = malloc((size_t)m * sizeof(*v->prev));
	v->changed_ms = calloc(m, sizeof(*v->changed_ms));
	if (!v->cur || !v->prev || !v->changed_ms) {
		sc_vip_free(v);
		return -ENOMEM;
	}
	v->m = m;
	for (uint32_t s = 0; s < m; s++)
		v->prev[s] = KEEL_BACKEND_NONE;
	return 0;
}

int second_chance_apply(struct second_chance *sc, struct keel_snapshot_spec *spec, struct keel_vip_spec *vips,
			uint64_t now_ms)
{
	uint8_t *present = NULL;
	const uint16_t *t;
	uint16_t *own = NULL;
	int rc = 0;

	sc->slots = 0;
	if (!sc->window_ms)
		return 0;
	present = malloc(KEEL_MAX_BACKENDS);
	if (!present)
		return -ENOMEM;
	for (uint32_t i = 0; i < spec->n_vips; i++) {
		struct keel_vip_spec *vs = &vips[i];
		uint32_t m = vs->table_size ? vs->table_size : KEEL_MAGLEV_DEFAULT_SIZE;
		struct sc_vip *v;
		bool fresh, any = false;

		vs->prev_owner = NULL;
		if (vs->id >= KEEL_MAX_VIPS)
			continue;
		v = &sc->vip[vs->id];
		/* The table the snapshot will carry: built once (spec_tables), or here by the same builder. */
		if (vs->table) {
			t = vs->table;
		} else {
			free(own);
			own = malloc((size_t)m * sizeof(*own));
			if (!own || keel_vip_table_build(own, vs, spec->fleet_seed)) {
				rc = -ENOMEM;
				break;
			}
			t = own;
		}
		fresh = v->m != m;
		if (fresh && sc_vip_alloc(v, m)) {
			rc = -ENOMEM;
			break;
		}
		memset(present, 0, KEEL_MAX_BACKENDS);
		for (uint32_t j = 0; j < vs->n_backends; j++)
			if (vs->backends[j].id < KEEL_MAX_BACKENDS)
				present[vs->backends[j].id] = 1;
		for (uint32_t s = 0; s < m; s++) {
			if (!fresh && t[s] != v->cur[s] && v->cur[s] != KEEL_BACKEND_NONE) {
				v->prev[s] = v->cur[s];
				v->changed_ms[s] = now_ms;
			}
			v->cur[s] = t[s];
			/* Out of the window, back to its owner, or gone from the VIP: nothing to name. */
			if (v->prev[s] != KEEL_BACKEND_NONE &&
			    (now_ms - v->changed_ms[s] > sc->window_ms || v->prev[s] == t[s] || !present[v->prev[s]]))
				v->prev[s] = KEEL_BACKEND_NONE;
			if (v->prev[s] != KEEL_BACKEND_NONE) {
				any = true;
				sc->slots++;
			}
		}
		if (any)
			vs->prev_owner = v->prev;
	}
	if (rc)
		for (uint32_t i = 0; i < spec->n_vips; i++)
			vips[i].prev_owner = NULL;
	free(own);
	free(present);
	return rc;
}
