/* Addresses across sections: VIPs against each other, the encapsulation source and the MTU. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "config_schema_internal.h"
#include "keel_api.h"
#include "pkt.h"
#include "snapshot.h"

/* --- addresses across sections --------------------------------------------------- */

struct vip_addr {
	uint8_t addr[16];
	uint8_t family;
	uint32_t vip; /* index in cfg->vips */
};

static int cmp_vip_addr(const void *pa, const void *pb)
{
	const struct vip_addr *a = pa, *b = pb;
	int d = memcmp(a->addr, b->addr, 16);

	if (d)
		return d;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return a->vip < b->vip ? -1 : a->vip > b->vip;
}

/* The first VIP (in file order) on addr, or NULL. s is sorted by cmp_vip_addr. */
static const struct vip_addr *vip_on(const struct vip_addr *s, uint32_t n, const uint8_t addr[16],
				     uint8_t family)
{
	uint32_t lo = 0, hi = n;
	struct vip_addr key = { .family = family, .vip = 0 };

	memcpy(key.addr, addr, 16);
	while (lo < hi) { /* lower bound: the entry with the lowest vip index */
		uint32_t mid = lo + (hi - lo) / 2;

		if (cmp_vip_addr(&s[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && s[lo].family == family && !memcmp(s[lo].addr, addr, 16) ? &s[lo] : NULL;
}

/* The encap_source prefix of a family, or NULL. */
static const uint8_t *source_prefix(const struct keel_config *cfg, uint8_t family, uint8_t *plen)
{
	if (family == KEEL_AF_INET4 && cfg->has_src4) {
		*plen = cfg->src4_plen;
		return cfg->src4;
	}
	if (family == KEEL_AF_INET6 && cfg->has_src6) {
		*plen = cfg->src6_plen;
		return cfg->src6;
	}
	return NULL;
}

static bool in_source(const struct keel_config *cfg, const uint8_t addr[16], uint8_t family)
{
	uint8_t plen, net[16] = { 0 };
	const uint8_t *p = source_prefix(cfg, family, &plen);

	if (!p)
		return false;
	memcpy(net, p, family == KEEL_AF_INET4 ? 4 : 16);
	return config_prefix_covers(net, family, plen, addr);
}

/*
 * A VIP's address anywhere else loops traffic back into Keel: a backend or
 * a next hop on it gets the VIP's own packets again, and an outer source in
 * the encap_source prefix that is a VIP (or a backend's own address) makes
 * the backends' answers go to the wrong place or be dropped as martians.
 */
int config_schema_check_vip_addresses(struct check *c, const struct loc *root, const json_t *top)
{
	const struct keel_config *cfg = c->cfg;
	const json_t *arr = json_object_get(top, "vips");
	struct loc vat = LOC_KEY(root, top, "vips");
	const struct vip_addr *hit;
	struct vip_addr *s;
	char t[CONFIG_TEXT_MAX];
	uint32_t i, j;
	int rc = 0;

	if (!cfg->n_vips)
		return 0;
	s = malloc(cfg->n_vips * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < cfg->n_vips; i++) {
		memcpy(s[i].addr, cfg->vips[i].addr, 16);
		s[i].family = cfg->vips[i].family;
		s[i].vip = i;
	}
	qsort(s, cfg->n_vips, sizeof(*s), cmp_vip_addr);
	for (i = 0; i < cfg->n_next_hops; i++) {
		const struct config_next_hop *h = &cfg->next_hops[i];
		const char *key = json_object_get(top, "next_hop") ? "next_hop" : "next_hops";
		const json_t *nh = json_object_get(top, key);
		struct loc at = LOC_KEY(root, top, key);
		struct loc el = LOC_IDX(&at, nh, i);
		const json_t *o = json_is_array(nh) ? json_array_get(nh, i) : nh;
		struct loc l = LOC_KEY(json_is_array(nh) ? &el : &at, o, "gateway");

		if (!h->has_gateway || !(hit = vip_on(s, cfg->n_vips, h->gateway, h->gateway_family)))
			continue;
		rc = check_bad(c, &l, "%s is the address of VIP %s (vips[%u]): the next hop must "
			       "be the router", config_format_addr(h->gateway, h->gateway_family, t),
			       cfg->vips[hit->vip].name, hit->vip);
		goto out;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		const json_t *es = json_object_get(top, "encap_source");
		struct loc at = LOC_KEY(root, top, "encap_source");
		const char *key = v->family == KEEL_AF_INET4 ? "ipv4" : "ipv6";
		struct loc l = LOC_KEY(&at, es, key);

		if (!in_source(cfg, v->addr, v->family))
			continue;
		rc = check_bad(c, &l, "\"%s\" covers %s, the address of VIP %s (vips[%u]): an outer "
			       "source must not be a VIP", json_string_value(json_object_get(es, key)),
			       config_format_addr(v->addr, v->family, t), v->name, i);
		goto out;
	}
	for (i = 0; i < cfg->n_vips; i++) {
		const struct config_vip *v = &cfg->vips[i];
		const json_t *vo = json_array_get(arr, i);
		struct loc vl = LOC_IDX(&vat, arr, i);
		struct loc bat = LOC_KEY(&vl, vo, "backends");
		const json_t *barr = json_object_get(vo, "backends");

		for (j = 0; j < v->n_backends; j++) {
			const struct config_backend *b = &v->backends[j];
			struct loc bl = LOC_IDX(&bat, barr, j);
			struct loc l = LOC_KEY(&bl, json_array_get(barr, j), "address");

			config_format_addr(b->addr, b->family, t);
			if ((hit = vip_on(s, cfg->n_vips, b->addr, b->family))) {
				rc = check_bad(c, &l, "%s is the address of VIP %s (vips[%u]): a backend "
					       "must not be a VIP", t, cfg->vips[hit->vip].name, hit->vip);
				goto out;
			}
			if (in_source(cfg, b->addr, b->family)) {
				rc = check_bad(c, &l, "%s is inside encap_source.%s: Keel could send it "
					       "packets from its own address", t,
					       b->family == KEEL_AF_INET4 ? "ipv4" : "ipv6");
				goto out;
			}
		}
	}
out:
	free(s);
	return rc;
}

/* RFC 8200 section 5: every IPv6 link carries 1280-byte packets; a smaller MTU cannot be meant. */
int config_schema_check_mtu_v6(struct check *c, const struct loc *root, const json_t *top)
{
	const struct keel_config *cfg = c->cfg;
	struct loc l = LOC_KEY(root, top, "mtu");
	bool v6 = false;
	uint32_t i, j;

	if (cfg->mtu >= 1280)
		return 0;
	for (i = 0; i < cfg->n_vips; i++) {
		v6 |= cfg->vips[i].family == KEEL_AF_INET6;
		for (j = 0; j < cfg->vips[i].n_backends; j++)
			v6 |= cfg->vips[i].backends[j].family == KEEL_AF_INET6;
	}
	if (v6)
		return check_bad(c, &l, "%u is below 1280, the IPv6 minimum, and IPv6 is in use",
				 cfg->mtu);
	return 0;
}
