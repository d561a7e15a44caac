/* Second chance, keel-control's side: per VIP the last published table, when each slot last changed owner, and from whom. */
#include "second_chance.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vip_table.h"

/*
 * prev and changed exist only while some slot of the VIP carries a previous
 * owner: most VIPs have not changed within the window, and 6 bytes a slot
 * for each of them (393 KB at M = 65537) would be most of keel-control's
 * memory at 1000 VIPs.
 */
struct sc_vip {
	uint32_t m;           /* table size; a new size starts the history again */
	uint16_t *cur;        /* the table last published, a copy of our own (no table cache); or NULL */
	const struct vip_table *cur_t; /* or that table in the cache: compared by key and serial first */
	uint64_t cur_key, cur_serial;
	uint16_t *prev;       /* per slot: owner before its last change, or KEEL_BACKEND_NONE; or NULL */
	uint32_t *changed;    /* per slot: when that change was published (ms after base_ms); or NULL */
};

struct second_chance {
	uint64_t window_ms;
	uint64_t base_ms; /* changed[] counts from here: 32 bits of ms, moved on before they wrap */
	uint64_t slots;
	struct vip_tables *vt; /* NULL: copies of our own */
	struct sc_vip vip[KEEL_MAX_VIPS]; /* by stable VIP id */
};

void second_chance_use_tables(struct second_chance *sc, struct vip_tables *vt)
{
	sc->vt = vt;
}

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
	free(v->changed);
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

static int sc_vip_alloc(struct sc_vip *v, uint32_t m, bool own)
{
	sc_vip_free(v);
	if (own) {
		v->cur = malloc((size_t)m * sizeof(*v->cur));
		if (!v->cur)
			return -ENOMEM;
	}
	v->m = m;
	return 0;
}

static void sc_history_free(struct sc_vip *v)
{
	free(v->prev);
	free(v->changed);
	v->prev = NULL;
	v->changed = NULL;
}

static int sc_history_alloc(struct sc_vip *v)
{
	v->prev = malloc((size_t)v->m * sizeof(*v->prev));
	v->changed = calloc(v->m, sizeof(*v->changed));
	if (!v->prev || !v->changed) {
		sc_history_free(v);
		return -ENOMEM;
	}
	for (uint32_t s = 0; s < v->m; s++)
		v->prev[s] = KEEL_BACKEND_NONE;
	return 0;
}

/*
 * Keep now - base_ms below 2^31 ms (about 24 days): move the base on and the
 * recorded times with it. A time that would fall before the new base is far
 * out of any window (windows are under 2^30 ms), so it becomes 0.
 */
static void rebase(struct second_chance *sc, uint64_t now_ms)
{
	uint64_t nb, shift;

	if (!sc->base_ms || now_ms < sc->base_ms) {
		if (!sc->base_ms)
			sc->base_ms = now_ms;
		return;
	}
	if (now_ms - sc->base_ms < (1ull << 31))
		return;
	nb = now_ms - (1ull << 30);
	shift = nb - sc->base_ms;
	for (size_t i = 0; i < KEEL_MAX_VIPS; i++) {
		struct sc_vip *v = &sc->vip[i];

		for (uint32_t s = 0; v->changed && s < v->m; s++)
			v->changed[s] = v->changed[s] > shift ? (uint32_t)(v->changed[s] - shift) : 0;
	}
	sc->base_ms = nb;
}

int second_chance_apply(struct second_chance *sc, struct keel_snapshot_spec *spec, struct keel_vip_spec *vips,
			uint64_t now_ms)
{
	uint32_t now_rel;
	uint8_t *present = NULL;
	const uint16_t *t, *old;
	const struct vip_table *nt;
	uint16_t *own = NULL;
	int rc = 0;

	sc->slots = 0;
	if (!sc->window_ms)
		return 0;
	present = malloc(KEEL_MAX_BACKENDS);
	if (!present)
		return -ENOMEM;
	rebase(sc, now_ms);
	now_rel = (uint32_t)(now_ms - sc->base_ms);
	for (uint32_t i = 0; i < spec->n_vips; i++) {
		struct keel_vip_spec *vs = &vips[i];
		uint32_t m = vs->table_size ? vs->table_size : KEEL_MAGLEV_DEFAULT_SIZE;
		struct sc_vip *v;
		bool fresh, same, any = false;

		vs->prev_owner = NULL;
		if (vs->id >= KEEL_MAX_VIPS)
			continue;
		v = &sc->vip[vs->id];
		/* The table the snapshot will carry: built once (spec_tables), or here by the same builder. */
		nt = NULL;
		if (vs->table && sc->vt) {
			nt = vip_tables_get(sc->vt, vs, spec->fleet_seed); /* found: spec_tables put it there */
			if (!nt) {
				rc = -ENOMEM;
				break;
			}
			t = nt->slots;
		} else if (vs->table) {
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
		/* The last table by reference: gone from the cache, the history starts again. */
		old = v->cur;
		if (v->cur_t)
			old = vip_tables_live(sc->vt, v->cur_t, v->cur_key, v->cur_serial) ? v->cur_t->slots : NULL;
		fresh = v->m != m || !old || !nt != !v->cur_t;
		if (fresh) {
			if (sc_vip_alloc(v, m, !nt)) {
				rc = -ENOMEM;
				break;
			}
			old = NULL;
		}
		same = !fresh && (old == t || !memcmp(t, old, (size_t)m * sizeof(*t)));
		if (nt) {
			v->cur_t = nt;
			v->cur_key = nt->key;
			v->cur_serial = nt->serial;
		}
		if (fresh || (same && !v->prev)) {
			/* A first table has no history; an unchanged one with none has nothing to expire. */
			if (fresh && v->cur)
				memcpy(v->cur, t, (size_t)m * sizeof(*t));
			continue;
		}
		if (!v->prev && sc_history_alloc(v)) {
			rc = -ENOMEM;
			break;
		}
		memset(present, 0, KEEL_MAX_BACKENDS);
		for (uint32_t j = 0; j < vs->n_backends; j++)
			if (vs->backends[j].id < KEEL_MAX_BACKENDS)
				present[vs->backends[j].id] = 1;
		for (uint32_t s = 0; s < m; s++) {
			if (t[s] != old[s] && old[s] != KEEL_BACKEND_NONE) {
				v->prev[s] = old[s];
				v->changed[s] = now_rel;
			}
			/* Out of the window, back to its owner, or gone from the VIP: nothing to name. */
			if (v->prev[s] != KEEL_BACKEND_NONE &&
			    (now_rel - v->changed[s] > sc->window_ms || v->prev[s] == t[s] || !present[v->prev[s]]))
				v->prev[s] = KEEL_BACKEND_NONE;
			if (v->prev[s] != KEEL_BACKEND_NONE) {
				any = true;
				sc->slots++;
			}
		}
		/* Our own copy follows the table (the cache's entries are read-only). */
		if (v->cur && v->cur != t)
			memcpy(v->cur, t, (size_t)m * sizeof(*t));
		if (any)
			vs->prev_owner = v->prev;
		else
			sc_history_free(v);
	}
	if (rc)
		for (uint32_t i = 0; i < spec->n_vips; i++)
			vips[i].prev_owner = NULL;
	free(own);
	free(present);
	return rc;
}
