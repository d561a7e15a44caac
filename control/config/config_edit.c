/*
 * Typed edits of the configuration model. An edit works on a copy and checks
 * only what it can change, on the structs: the rest of the model passed the
 * schema when it was loaded and an edit does not touch it. The rules and their
 * messages are the schema's (config_schema.c), so an edit is refused exactly
 * as the edited file would be, with the JSON path of the field.
 */
#include "config_edit.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_field.h"
#include "config_sources.h"
#include "pkt.h"

#define ORIGIN "edit" /* the origin of an edit's refusals and warnings, as before */

static int refuse(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int refuse(char *why, size_t whylen, int err, const char *fmt, ...)
{
	char text[448];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	config_textf(why, whylen, "%s", text);
	return err;
}

struct keel_config *config_copy(const struct keel_config *cfg)
{
	struct keel_config *out = malloc(sizeof(*out));
	uint32_t i;

	if (!out)
		return NULL;
	*out = *cfg;
	out->vips = NULL;
	out->n_vips = 0;
	out->warnings = NULL;
	out->n_warnings = 0;
	if (cfg->n_vips && !(out->vips = calloc(cfg->n_vips, sizeof(*out->vips))))
		goto fail;
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		struct config_vip *w = &out->vips[i];

		*w = *v;
		/* Nothing shared with cfg: config_free of either must not free the other's lists. */
		w->sources = NULL;
		/* One spare slot, as the loader allocates: an empty list is not NULL. */
		w->backends = calloc(v->n_backends + 1, sizeof(*w->backends));
		if (!w->backends || (v->sources && !(w->sources = config_sources_dup(v->sources)))) {
			free(w->backends);
			w->backends = NULL;
			w->n_backends = 0;
			out->n_vips = i;
			goto fail;
		}
		memcpy(w->backends, v->backends, v->n_backends * sizeof(*w->backends));
	}
	out->n_vips = cfg->n_vips;
	for (size_t k = 0; k < cfg->n_warnings; k++)
		if (config_add_warning(out, cfg->warnings[k]))
			goto fail;
	return out;
fail:
	config_free(out);
	return NULL;
}

int config_backend_index(const struct config_vip *v, const uint8_t addr[16], uint8_t family)
{
	for (uint32_t j = 0; j < v->n_backends; j++)
		if (v->backends[j].family == family && !memcmp(v->backends[j].addr, addr, 16))
			return (int)j;
	return -1;
}

static bool in_source(const struct keel_config *cfg, const uint8_t addr[16], uint8_t family)
{
	uint8_t net[16] = { 0 };

	if (family == KEEL_AF_INET4 && cfg->has_src4) {
		memcpy(net, cfg->src4, 4);
		return config_prefix_covers(net, family, cfg->src4_plen, addr);
	}
	if (family == KEEL_AF_INET6 && cfg->has_src6) {
		memcpy(net, cfg->src6, 16);
		return config_prefix_covers(net, family, cfg->src6_plen, addr);
	}
	return false;
}

/*
 * The schema's rules for one new backend (vips[vi].backends[bi]): check_backend,
 * config_schema_check_backends' global limit, check_vip_table's error,
 * config_schema_check_vip_addresses and check_mtu_v6, in that order.
 */
static int check_new_backend(const struct keel_config *cfg, uint32_t vi, uint32_t bi, char *why,
			     size_t whylen)
{
	const struct config_vip *v = &cfg->vips[vi];
	const struct config_backend *b = &v->backends[bi];
	const char *special = config_addr_special(b->addr, b->family, false);
	char t[CONFIG_TEXT_MAX], at[64];
	uint32_t i, total = 0;

	config_format_addr(b->addr, b->family, t);
	snprintf(at, sizeof(at), "vips[%u].backends[%u].address", vi, bi);
	if (special)
		return refuse(why, whylen, -EINVAL, ORIGIN ": %s: %s is %s: it cannot be a backend", at,
			      t, special);
	if ((b->family == KEEL_AF_INET4 && !cfg->has_src4) ||
	    (b->family == KEEL_AF_INET6 && !cfg->has_src6))
		return refuse(why, whylen, -EINVAL,
			      ORIGIN ": %s: %s backend but encap_source has no %s prefix to send from", at,
			      b->family == KEEL_AF_INET4 ? "IPv4" : "IPv6",
			      b->family == KEEL_AF_INET4 ? "ipv4" : "ipv6");
	for (i = 0; i < cfg->n_vips; i++)
		total += cfg->vips[i].n_backends;
	if (total > CONFIG_MAX_BACKENDS)
		return refuse(why, whylen, -EINVAL,
			      ORIGIN ": vips[%u].backends: too many backends: more than %u over all VIPs",
			      vi, CONFIG_MAX_BACKENDS);
	if (v->n_backends > v->table_size)
		return refuse(why, whylen, -EINVAL,
			      ORIGIN ": vips[%u].maglev_table_size: maglev_table_size %u is smaller than "
			      "the %u backends", vi, v->table_size, v->n_backends);
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *o = &cfg->vips[i];

		if (o->family == b->family && !memcmp(o->addr, b->addr, 16))
			return refuse(why, whylen, -EINVAL,
				      ORIGIN ": %s: %s is the address of VIP %s (vips[%u]): a backend "
				      "must not be a VIP", at, t, o->name, i);
	}
	if (in_source(cfg, b->addr, b->family))
		return refuse(why, whylen, -EINVAL,
			      ORIGIN ": %s: %s is inside encap_source.%s: Keel could send it packets "
			      "from its own address", at, t, b->family == KEEL_AF_INET4 ? "ipv4" : "ipv6");
	if (b->family == KEEL_AF_INET6 && cfg->mtu < 1280)
		return refuse(why, whylen, -EINVAL,
			      ORIGIN ": mtu: %u is below 1280, the IPv6 minimum, and IPv6 is in use",
			      cfg->mtu);
	return 0;
}

static int warn(struct keel_config *cfg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int warn(struct keel_config *cfg, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return config_add_warning(cfg, text);
}

/* check_vip_table's warnings for every VIP, as the schema writes them for a JSON body. */
static int rewarn(struct keel_config *cfg)
{
	for (size_t k = 0; k < cfg->n_warnings; k++)
		free(cfg->warnings[k]);
	free(cfg->warnings);
	cfg->warnings = NULL;
	cfg->n_warnings = 0;
	for (uint32_t i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		bool usable = false;

		if ((uint64_t)v->table_size < 100ull * v->n_backends &&
		    warn(cfg, ORIGIN ": vips[%u].maglev_table_size: maglev_table_size %u is less than "
			 "100 x %u backends: weights are coarse and changes move more flows", i,
			 v->table_size, v->n_backends))
			return -ENOMEM;
		for (uint32_t j = 0; j < v->n_backends; j++)
			usable |= v->backends[j].state == CONFIG_BACKEND_ACTIVE && v->backends[j].weight;
		if (!usable && warn(cfg, ORIGIN ": vips[%u]: VIP %s has no active backend with a weight "
				    "above 0: it will drop new connections", i, v->name))
			return -ENOMEM;
	}
	return 0;
}

static int backend_op(struct keel_config *next, const struct config_edit *e, char *why,
		      size_t whylen)
{
	char t[CONFIG_TEXT_MAX];
	uint32_t vi;
	struct config_vip *v = (struct config_vip *)config_vip_find(next, e->vip, &vi);
	int bi;

	config_format_addr(e->addr, e->family, t);
	if (!v)
		return refuse(why, whylen, -ENOENT, "no VIP named %s", e->vip);
	bi = config_backend_index(v, e->addr, e->family);
	if (e->op == CONFIG_EDIT_BACKEND_ADD) {
		struct config_backend *nb;

		if (bi >= 0)
			return refuse(why, whylen, -EEXIST, "backend %s already in VIP %s", t, e->vip);
		/* The QUIC rules of config_quic.c on the model: a QUIC VIP's backends each name their server id. */
		if (!v->quic && e->server_id)
			return refuse(why, whylen, -EINVAL,
				      "server_id is only for the backends of a VIP with quic: true");
		if (v->quic && (e->server_id < 1 || e->server_id > 65535))
			return refuse(why, whylen, -EINVAL,
				      "missing required key \"server_id\" (1..65535): VIP %s has quic: true (docs/quic.md)",
				      e->vip);
		for (uint32_t k = 0; v->quic && k < v->n_backends; k++)
			if (v->backends[k].server_id == e->server_id)
				return refuse(why, whylen, -EINVAL,
					      "duplicate server_id %u in VIP %s (first as backends[%u]): "
					      "a connection ID must name one backend",
					      e->server_id, e->vip, k);
		nb = realloc(v->backends, (v->n_backends + 2) * sizeof(*nb));
		if (!nb)
			return refuse(why, whylen, -ENOMEM, "out of memory");
		v->backends = nb;
		memset(&nb[v->n_backends], 0, 2 * sizeof(*nb));
		memcpy(nb[v->n_backends].addr, e->addr, 16);
		nb[v->n_backends].family = e->family;
		nb[v->n_backends].weight = e->weight;
		nb[v->n_backends].server_id = (uint16_t)e->server_id;
		nb[v->n_backends].state = CONFIG_BACKEND_ACTIVE;
		v->n_backends++;
		return check_new_backend(next, vi, v->n_backends - 1, why, whylen);
	}
	if (bi < 0)
		return refuse(why, whylen, -ENOENT, "no backend %s in VIP %s", t, e->vip);
	switch (e->op) {
	case CONFIG_EDIT_BACKEND_DEL:
		memmove(&v->backends[bi], &v->backends[bi + 1],
			(v->n_backends - (uint32_t)bi - 1) * sizeof(v->backends[0]));
		v->n_backends--;
		break;
	case CONFIG_EDIT_BACKEND_WEIGHT:
		v->backends[bi].weight = e->weight;
		break;
	case CONFIG_EDIT_BACKEND_DRAIN:
		v->backends[bi].state = CONFIG_BACKEND_DRAINING;
		break;
	case CONFIG_EDIT_BACKEND_UNDRAIN:
		v->backends[bi].state = CONFIG_BACKEND_ACTIVE;
		break;
	default:
		v->backends[bi].state = CONFIG_BACKEND_DISABLED;
		break;
	}
	return 0;
}

/* One server in every VIP: a disabled backend stays disabled (undrain must not re-enable it). */
static int server_op(struct keel_config *next, const struct config_edit *e, char *why,
		     size_t whylen)
{
	bool drain = e->op == CONFIG_EDIT_SERVER_DRAIN;
	uint8_t from = drain ? CONFIG_BACKEND_ACTIVE : CONFIG_BACKEND_DRAINING;
	char t[CONFIG_TEXT_MAX];
	uint32_t i, found = 0;

	for (i = 0; i < next->n_vips; i++) {
		struct config_vip *v = &next->vips[i];
		int bi = config_backend_index(v, e->addr, e->family);

		if (bi < 0)
			continue;
		found++;
		if (v->backends[bi].state == from)
			v->backends[bi].state = drain ? CONFIG_BACKEND_DRAINING : CONFIG_BACKEND_ACTIVE;
	}
	if (!found)
		return refuse(why, whylen, -ENOENT, "no VIP has backend %s",
			      config_format_addr(e->addr, e->family, t));
	return 0;
}

int config_edit_apply(const struct keel_config *cur, const struct config_edit *e,
		      struct keel_config **out, char *why, size_t whylen)
{
	struct keel_config *next;
	int rc;

	if (e->family != KEEL_AF_INET4 && e->family != KEEL_AF_INET6)
		return refuse(why, whylen, -EINVAL, "the backend address has no family");
	if ((e->op == CONFIG_EDIT_BACKEND_ADD || e->op == CONFIG_EDIT_BACKEND_WEIGHT) &&
	    !keel_api_weight_ok(e->weight))
		return refuse(why, whylen, -EINVAL, "weight must be 0..%u", CONFIG_WEIGHT_MAX);
	if (e->op < CONFIG_EDIT_SERVER_DRAIN && !e->vip)
		return refuse(why, whylen, -EINVAL, "no VIP named");
	next = config_copy(cur);
	if (!next)
		return refuse(why, whylen, -ENOMEM, "out of memory");
	switch (e->op) {
	case CONFIG_EDIT_SERVER_DRAIN:
	case CONFIG_EDIT_SERVER_UNDRAIN:
		rc = server_op(next, e, why, whylen);
		break;
	case CONFIG_EDIT_BACKEND_ADD:
	case CONFIG_EDIT_BACKEND_DEL:
	case CONFIG_EDIT_BACKEND_WEIGHT:
	case CONFIG_EDIT_BACKEND_DRAIN:
	case CONFIG_EDIT_BACKEND_UNDRAIN:
	case CONFIG_EDIT_BACKEND_DISABLE:
		rc = backend_op(next, e, why, whylen);
		break;
	default:
		rc = refuse(why, whylen, -EINVAL, "unknown edit %d", (int)e->op);
		break;
	}
	if (!rc && rewarn(next))
		rc = refuse(why, whylen, -ENOMEM, "out of memory");
	if (rc) {
		config_free(next);
		return rc;
	}
	*out = next;
	return 0;
}
