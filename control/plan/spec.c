/* Snapshot specs from the running configuration, and Maglev disruption previews. */
#include "spec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_field.h"
#include "config_sources.h"
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
				      (v->fragments ? KEEL_VIP_FRAGMENTS : 0) |
				      (v->quic ? KEEL_VIP_QUIC : 0));
		vs->encap = v->encap;
		vs->id = (uint16_t)id;
		vs->table_size = v->table_size;
		vs->sources = v->sources; /* NULL without a list */
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
			bs->weight = in->weight ? in->weight(in->weight_arg, v, b, bid) : b->weight;
			bs->server_id = b->server_id; /* 0 unless the VIP has quic */
			bs->state = backend_state(v, b, out->panic[i], in->healthy, in->arg);
		}
	}
	out->spec.generation = in->generation;
	out->spec.fleet_seed = cfg->fleet_seed;
	memcpy(out->spec.src_mac, in->src_mac, 6);
	memcpy(out->spec.gw_mac, in->gw_mac, 6);
	out->spec.n_next_hops = in->n_next_hops;
	memcpy(out->spec.next_hop, in->next_hop, sizeof(in->next_hop));
	out->spec.n_next_hops_configured = in->n_next_hops_configured;
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

/*
 * Per backend of VIP v: its slots in table t (0 for those that take none),
 * as "before" (before = true) or "after" of pv's backend of that address
 * (added when missing: pv->backends has room for both sides' backends).
 */
static void count_backends(struct keel_api_preview_vip *pv, const struct config_vip *v,
			   const struct vip_table *t, bool before)
{
	char a[CONFIG_TEXT_MAX];
	uint8_t key[17];
	uint32_t j;
	size_t k;

	for (j = 0; j < v->n_backends; j++) {
		struct keel_api_preview_backend *pb = NULL;

		memcpy(key, v->backends[j].addr, 16);
		key[16] = v->backends[j].family;
		config_format_addr(key, key[16], a);
		for (k = 0; k < pv->n_backends && !pb; k++)
			if (!strcmp(pv->backends[k].addr, a))
				pb = &pv->backends[k];
		if (!pb) {
			/* The server writes both counts of every backend: 0 on the side it is absent from. */
			pb = &pv->backends[pv->n_backends++];
			snprintf(pb->addr, sizeof(pb->addr), "%.*s", (int)sizeof(pb->addr) - 1, a); /* an address fits */
			pb->has_before = true;
		}
		*(before ? &pb->before : &pb->after) = vip_table_count(t, key);
	}
}

static uint32_t filled(const struct vip_table *t)
{
	uint32_t i, f = 0;

	for (i = 0; i < t->n; i++)
		f += t->counts[i];
	return f;
}

/* The key (address + family) of the backend id in t's inputs, or NULL. */
static const uint8_t *key_of(const struct vip_table *t, uint16_t id, const uint8_t *const *by_id)
{
	(void)t;
	return id == KEEL_BACKEND_NONE ? NULL : by_id[id];
}

/* Slots whose owner (by address, not id) differs between two tables of one size. */
static uint32_t moved_slots(const struct vip_table *a, const struct vip_table *b,
			    const uint8_t **ka, const uint8_t **kb)
{
	uint32_t s, i, moved = 0;

	if (a == b)
		return 0; /* the same inputs, the same owners */
	for (i = 0; i < a->n; i++)
		ka[a->in[i].id] = a->in[i].key;
	for (i = 0; i < b->n; i++)
		kb[b->in[i].id] = b->in[i].key;
	for (s = 0; s < b->m; s++) {
		const uint8_t *ob = key_of(a, a->slots[s], ka), *nb = key_of(b, b->slots[s], kb);

		/* A slot that had no owner had no connections to disturb. */
		if (ob && (!nb || memcmp(nb, ob, 17)))
			moved++;
	}
	for (i = 0; i < a->n; i++)
		ka[a->in[i].id] = NULL;
	for (i = 0; i < b->n; i++)
		kb[b->in[i].id] = NULL;
	return moved;
}

int spec_preview_fill(struct vip_tables *vt, const struct spec_side *from,
		      const struct spec_side *to, spec_health_fn healthy, void *arg,
		      double *max_moved, bool *emptied, struct keel_api_preview *p)
{
	struct spec_inputs fin = { .cfg = from->cfg, .ids = from->ids, .healthy = healthy, .arg = arg,
				   .weight = from->weight, .weight_arg = from->weight_arg };
	struct spec_inputs tin = { .cfg = to->cfg, .ids = to->ids, .healthy = healthy, .arg = arg,
				   .weight = to->weight, .weight_arg = to->weight_arg };
	struct spec_out fo = { 0 }, to_out = { 0 };
	const uint8_t **ka = calloc(KEEL_MAX_BACKENDS, sizeof(*ka));
	const uint8_t **kb = calloc(KEEL_MAX_BACKENDS, sizeof(*kb));
	uint32_t i, oi;

	memset(p, 0, sizeof(*p));
	if (max_moved)
		*max_moved = 0;
	if (emptied)
		*emptied = false;
	p->vips = calloc((size_t)to->cfg->n_vips + from->cfg->n_vips + 1, sizeof(*p->vips));
	if (!ka || !kb || !p->vips || spec_build(&fin, &fo) || spec_build(&tin, &to_out))
		goto fail;
	for (i = 0; i < to->cfg->n_vips; i++) {
		const struct config_vip *nv = &to->cfg->vips[i];
		const struct config_vip *ov = config_vip_find_at(from->cfg, nv->name, i, &oi);
		const struct vip_table *a = NULL, *b;
		struct keel_api_preview_vip *pv = &p->vips[p->n_vips];
		uint32_t moved = 0, filled_before = 0, filled_after;
		double share;

		b = vip_tables_get(vt, &to_out.vips[i], to->cfg->fleet_seed);
		if (ov)
			a = vip_tables_get(vt, &fo.vips[oi], from->cfg->fleet_seed);
		pv->backends = calloc((size_t)nv->n_backends + (ov ? ov->n_backends : 0) + 1,
				      sizeof(*pv->backends));
		if (!pv->backends || !b || (ov && !a)) {
			free(pv->backends);
			pv->backends = NULL;
			goto fail;
		}
		p->n_vips++;
		filled_after = filled(b);
		if (a) {
			filled_before = filled(a);
			/* A new table size re-deals every slot. */
			moved = a->m == b->m ? moved_slots(a, b, ka, kb) : filled_before ? b->m : 0;
		}
		share = ov ? (double)moved / b->m : 0.0;
		if (ov) {
			count_backends(pv, ov, a, true);
			if (max_moved && share > *max_moved)
				*max_moved = share;
			if (emptied && filled_before && !filled_after)
				*emptied = true;
		}
		count_backends(pv, nv, b, false);
		snprintf(pv->vip, sizeof(pv->vip), "%s", nv->name);
		pv->moved_share = share;
		pv->added = !ov;
		pv->empty = !filled_after;
		/* Source lists: what the VIP's list becomes, when it changes. */
		if (!config_sources_equal(ov ? ov->sources : NULL, nv->sources)) {
			config_sources_describe(ov ? ov->sources : NULL, pv->sources_before,
						sizeof(pv->sources_before));
			config_sources_describe(nv->sources, pv->sources_after, sizeof(pv->sources_after));
		}
	}
	for (i = 0; i < from->cfg->n_vips; i++)
		if (!config_vip_find_at(to->cfg, from->cfg->vips[i].name, i, NULL)) {
			struct keel_api_preview_vip *pv = &p->vips[p->n_vips++];

			snprintf(pv->vip, sizeof(pv->vip), "%s", from->cfg->vips[i].name);
			pv->moved_share = 1.0;
			pv->removed = true;
		}
	spec_free(&fo);
	spec_free(&to_out);
	free(ka);
	free(kb);
	return 0;
fail:
	spec_free(&fo);
	spec_free(&to_out);
	free(ka);
	free(kb);
	keel_api_preview_free(p);
	return -ENOMEM;
}

json_t *spec_preview(struct vip_tables *vt, const struct spec_side *from,
		     const struct spec_side *to, spec_health_fn healthy, void *arg,
		     double *max_moved, bool *emptied)
{
	struct keel_api_preview p;
	json_t *o;

	if (spec_preview_fill(vt, from, to, healthy, arg, max_moved, emptied, &p))
		return NULL;
	o = keel_api_preview_encode(&p);
	keel_api_preview_free(&p);
	return o;
}

int spec_tables(struct spec_out *out, struct vip_tables *vt, vip_tables_progress_fn progress,
		void *arg)
{
	uint32_t i;
	int rc;

	rc = vip_tables_prepare(vt, out->vips, out->spec.n_vips, out->spec.fleet_seed, progress, arg);
	for (i = 0; !rc && i < out->spec.n_vips; i++) {
		const struct vip_table *t = vip_tables_get(vt, &out->vips[i], out->spec.fleet_seed);

		if (!t)
			return -errno;
		out->vips[i].table = t->slots;
		/* Its name and sums: a slot that holds this very table keeps it (keel_snapshot_build_over). */
		out->vips[i].table_serial = t->serial;
		memcpy(out->vips[i].table_sum, t->sum, sizeof(t->sum));
	}
	return rc;
}
