/* Snapshot specs from the running configuration, and Maglev disruption previews. */
#include "spec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "maglev.h"
#include "pkt.h"
#include "snapshot.h"

static bool vip_panics(const struct config_vip *v, double threshold, spec_health_fn healthy,
		       void *arg)
{
	uint32_t j, active = 0, down = 0;

	if (!healthy || v->health.type == CONFIG_HEALTH_NONE)
		return false;
	for (j = 0; j < v->n_backends; j++) {
		if (v->backends[j].state != CONFIG_BACKEND_ACTIVE)
			continue;
		active++;
		down += !healthy(arg, v, &v->backends[j]);
	}
	return active && (double)down / active > threshold;
}

static uint8_t backend_state(const struct config_vip *v, const struct config_backend *b,
			     bool panic, spec_health_fn healthy, void *arg)
{
	if (b->state == CONFIG_BACKEND_DISABLED)
		return KEEL_BACKEND_DOWN;
	if (b->state == CONFIG_BACKEND_DRAINING)
		return KEEL_BACKEND_DRAINING;
	if (!panic && healthy && v->health.type != CONFIG_HEALTH_NONE && !healthy(arg, v, b))
		return KEEL_BACKEND_DOWN;
	return KEEL_BACKEND_ACTIVE;
}

int spec_build(const struct spec_inputs *in, struct spec_out *out)
{
	const struct keel_config *cfg = in->cfg;
	uint32_t i, j, nb = 0, k = 0;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cfg->n_vips; i++)
		nb += cfg->vips[i].n_backends;
	out->vips = calloc(cfg->n_vips ? cfg->n_vips : 1, sizeof(*out->vips));
	out->backends = calloc(nb ? nb : 1, sizeof(*out->backends));
	out->panic = calloc(cfg->n_vips ? cfg->n_vips : 1, sizeof(*out->panic));
	if (!out->vips || !out->backends || !out->panic) {
		spec_free(out);
		return -ENOMEM;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		struct keel_vip_spec *vs = &out->vips[i];
		int id = ids_vip(in->ids, v->name);

		if (id < 0) {
			spec_free(out);
			return -EINVAL;
		}
		out->panic[i] = vip_panics(v, cfg->panic_threshold, in->healthy, in->arg);
		memcpy(vs->addr, v->addr, 16);
		vs->family = v->family;
		vs->proto = v->proto;
		vs->port = v->all_ports ? 0 : v->port;
		vs->flags = (uint8_t)((v->all_ports ? KEEL_VIP_ALL_PORTS : 0) |
				      (v->fragments ? KEEL_VIP_FRAGMENTS : 0));
		vs->encap = v->encap;
		vs->id = (uint16_t)id;
		vs->table_size = v->table_size;
		vs->backends = &out->backends[k];
		vs->n_backends = v->n_backends;
		for (j = 0; j < v->n_backends; j++, k++) {
			const struct config_backend *b = &v->backends[j];
			struct keel_backend_spec *bs = &out->backends[k];
			int bid = ids_backend(in->ids, v->name, b->addr, b->family);

			if (bid < 0) {
				spec_free(out);
				return -EINVAL;
			}
			memcpy(bs->addr, b->addr, 16);
			bs->family = b->family;
			bs->id = (uint16_t)bid;
			bs->weight = b->weight;
			bs->state = backend_state(v, b, out->panic[i], in->healthy, in->arg);
		}
	}
	out->spec.generation = in->generation;
	out->spec.fleet_seed = cfg->fleet_seed;
	memcpy(out->spec.src_mac, in->src_mac, 6);
	memcpy(out->spec.gw_mac, in->gw_mac, 6);
	memcpy(out->spec.src4, cfg->src4, 4);
	out->spec.src4_plen = cfg->has_src4 ? cfg->src4_plen : 32;
	memcpy(out->spec.src6, cfg->src6, 16);
	out->spec.src6_plen = cfg->has_src6 ? cfg->src6_plen : 128;
	out->spec.mtu = cfg->mtu;
	out->spec.gue_port = cfg->gue_port;
	out->spec.n_vips = cfg->n_vips;
	out->spec.vips = out->vips;
	return 0;
}

void spec_free(struct spec_out *out)
{
	free(out->vips);
	free(out->backends);
	free(out->panic);
	memset(out, 0, sizeof(*out));
}

/* --- disruption preview ------------------------------------------------------- */

struct vtable {
	uint16_t *slots;           /* index into keys, KEEL_BACKEND_NONE when empty */
	uint8_t (*keys)[17];
	uint32_t n, m;
};

/* The VIP's table as the dataplane would build it (same builder, seed and rules). */
static int vtable_build(const struct keel_config *cfg, const struct config_vip *v,
			spec_health_fn healthy, void *arg, struct vtable *t)
{
	bool panic = vip_panics(v, cfg->panic_threshold, healthy, arg);
	struct maglev_backend *mb = calloc(v->n_backends ? v->n_backends : 1, sizeof(*mb));
	uint32_t j, n = 0;
	int ret = 0;

	t->m = v->table_size;
	t->n = v->n_backends;
	t->slots = malloc((size_t)t->m * sizeof(uint16_t));
	t->keys = calloc(v->n_backends ? v->n_backends : 1, 17);
	if (!mb || !t->slots || !t->keys) {
		ret = -ENOMEM;
		goto out;
	}
	for (j = 0; j < v->n_backends; j++) {
		const struct config_backend *b = &v->backends[j];

		memcpy(t->keys[j], b->addr, 16);
		t->keys[j][16] = b->family;
		if (backend_state(v, b, panic, healthy, arg) != KEEL_BACKEND_ACTIVE || !b->weight)
			continue;
		memcpy(mb[n].key, t->keys[j], 17);
		mb[n].id = (uint16_t)j;
		mb[n].weight = b->weight;
		n++;
	}
	if (n)
		ret = maglev_build(t->slots, t->m, mb, n, cfg->fleet_seed);
	else
		for (j = 0; j < t->m; j++)
			t->slots[j] = KEEL_BACKEND_NONE;
out:
	free(mb);
	return ret;
}

static void vtable_free(struct vtable *t)
{
	free(t->slots);
	free(t->keys);
}

static const uint8_t *owner(const struct vtable *t, uint32_t slot)
{
	uint16_t o = t->slots[slot];

	return o == KEEL_BACKEND_NONE ? NULL : t->keys[o];
}

static void count_backends(json_t *backends, const struct vtable *t, const char *field)
{
	uint32_t *cnt = calloc(t->n ? t->n : 1, sizeof(uint32_t)), s, j;
	char a[CONFIG_TEXT_MAX];

	if (!cnt)
		return;
	for (s = 0; s < t->m; s++)
		if (t->slots[s] != KEEL_BACKEND_NONE)
			cnt[t->slots[s]]++;
	for (j = 0; j < t->n; j++) {
		json_t *e;

		config_format_addr(t->keys[j], t->keys[j][16], a);
		e = json_object_get(backends, a);
		if (!e) {
			e = json_pack("{s:i,s:i}", "before", 0, "after", 0);
			json_object_set_new(backends, a, e);
		}
		json_object_set_new(e, field, json_integer(cnt[j]));
	}
	free(cnt);
}

json_t *spec_preview(const struct keel_config *from, const struct keel_config *to,
		     spec_health_fn healthy, void *arg, double *max_moved, bool *emptied)
{
	json_t *out = json_object();
	uint32_t i;

	if (max_moved)
		*max_moved = 0;
	if (emptied)
		*emptied = false;
	for (i = 0; out && to && i < to->n_vips; i++) {
		const struct config_vip *nv = &to->vips[i], *ov = config_vip_find(from, nv->name, NULL);
		struct vtable a = { 0 }, b = { 0 };
		json_t *backends = json_object();
		uint32_t s, moved = 0, filled_before = 0, filled_after = 0;
		double share;

		if (vtable_build(to, nv, healthy, arg, &b) ||
		    (ov && vtable_build(from, ov, healthy, arg, &a))) {
			vtable_free(&a);
			vtable_free(&b);
			json_decref(backends);
			json_decref(out);
			return NULL;
		}
		for (s = 0; s < b.m; s++) {
			const uint8_t *nb = owner(&b, s), *ob = NULL;

			filled_after += nb != NULL;
			if (ov && a.m == b.m) {
				ob = owner(&a, s);
				filled_before += ob != NULL;
				/* A slot that had no owner had no connections to disturb. */
				if (ob && (!nb || memcmp(nb, ob, 17)))
					moved++;
			}
		}
		if (ov && a.m != b.m) {
			/* A new table size re-deals every slot. */
			for (s = 0; s < a.m; s++)
				filled_before += owner(&a, s) != NULL;
			moved = filled_before ? b.m : 0;
		}
		share = ov ? (double)moved / b.m : 0.0;
		if (ov) {
			count_backends(backends, &a, "before");
			if (max_moved && share > *max_moved)
				*max_moved = share;
			if (emptied && filled_before && !filled_after)
				*emptied = true;
		}
		count_backends(backends, &b, "after");
		json_object_set_new(out, nv->name,
				    json_pack("{s:f,s:b,s:b,s:o}", "moved_share", share, "new", !ov,
					      "empty", !filled_after, "backends", backends));
		vtable_free(&a);
		vtable_free(&b);
	}
	for (i = 0; out && from && i < from->n_vips; i++)
		if (!config_vip_find(to, from->vips[i].name, NULL))
			json_object_set_new(out, from->vips[i].name,
					    json_pack("{s:f,s:b}", "moved_share", 1.0, "removed", 1));
	return out;
}
