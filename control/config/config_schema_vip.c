/* The schema of the VIPs: each one (table size, port, encapsulation, backends), then duplicates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "config_quic.h"
#include "config_schema_internal.h"
#include "config_sources.h"
#include "keel_api.h"
#include "pkt.h"
#include "snapshot.h"

static int check_vip_table(struct check *c, const struct loc *at, const json_t *o,
			   const struct config_vip *v)
{
	struct loc ts = LOC_KEY(at, o, "maglev_table_size");
	struct loc be = LOC_KEY(at, o, "backends");
	const struct loc *l = json_object_get(o, "maglev_table_size") ? &ts : &be;
	bool usable = false;
	uint32_t i;
	int rc;

	if (v->n_backends > v->table_size)
		return check_bad(c, l, "maglev_table_size %u is smaller than the %u backends",
				 v->table_size, v->n_backends);
	if ((uint64_t)v->table_size < 100ull * v->n_backends) {
		rc = check_warn(c, l, "maglev_table_size %u is less than 100 x %u backends: "
				"weights are coarse and changes move more flows",
				v->table_size, v->n_backends);
		if (rc)
			return rc;
	}
	for (i = 0; i < v->n_backends; i++)
		usable |= v->backends[i].state == CONFIG_BACKEND_ACTIVE && v->backends[i].weight;
	if (!usable)
		return check_warn(c, at, "VIP %s has no active backend with a weight above 0: "
				  "it will drop new connections", v->name);
	return 0;
}

static int check_port(struct check *c, const struct loc *at, const json_t *o,
		      struct config_vip *v)
{
	const json_t *p = json_object_get(o, "port");
	struct loc l = LOC_KEY(at, o, "port");
	uint64_t port = 0;
	char d[64];

	if (json_is_string(p) && !strcmp(json_string_value(p), "all")) {
		v->all_ports = true;
		return 0;
	}
	if (p && !json_is_integer(p))
		return check_bad(c, &l, "expected a port 1..65535 or \"all\", got %s",
				 check_describe(p, d, sizeof(d)));
	/* 0 is how a script's empty variable arrives: every port is asked for by name. */
	if (json_is_integer(p) && !json_integer_value(p))
		return check_bad(c, &l, "0 is out of range 1..65535 (write \"all\" for every port)");
	if (check_uint(c, at, o, "port", REQUIRED, 1, 65535, &port))
		return -EINVAL;
	v->port = (uint16_t)port;
	return 0;
}

/* A tunnel check's outer header is IPv4 (health_tunnel.h): IPv6 backends are checked direct. */
static int check_via_backends(struct check *c, const struct loc *at, const json_t *o,
			      struct config_vip *v)
{
	const json_t *hc = json_object_get(o, "health_check");
	struct loc l = LOC_KEY(at, o, "health_check");

	if (v->health.via != CONFIG_VIA_TUNNEL)
		return 0;
	for (uint32_t i = 0; i < v->n_backends; i++) {
		if (v->backends[i].family == KEEL_AF_INET4)
			continue;
		if (hc && json_object_get(hc, "via"))
			return check_bad(c, &l, "via tunnel needs IPv4 backends: backends[%u] is IPv6",
					 i);
		v->health.via = CONFIG_VIA_DIRECT;
		break;
	}
	return 0;
}

/* slow_start: "0s" (off) or a window of 1 s to 60 min; shorter steps than 250 ms would be publishes, not a ramp. */
static int check_slow_start(struct check *c, const struct loc *at, const json_t *o,
			    struct config_vip *v)
{
	int rc = check_duration(c, at, o, "slow_start", 0, TIMING_MAX_MS, &v->slow_start_ms);

	if (!rc && v->slow_start_ms && v->slow_start_ms < 1000) {
		struct loc l = LOC_KEY(at, o, "slow_start");

		return check_bad(c, &l, "must be 0s (off) or between 1s and 60m");
	}
	return rc;
}

static int check_vip(struct check *c, const struct loc *at, const json_t *o,
		     struct config_vip *v)
{
	const json_t *hc;
	int rc;

	v->table_size = c->cfg->maglev_table_size;
	v->health = c->cfg->health_defaults; /* what a health_check leaves out */
	if ((rc = check_object(c, at, o, "a VIP", config_schema_vip_keys)) ||
	    (rc = config_schema_check_name(c, at, o, "name", CONFIG_NAME_MAX, v->name)) ||
	    (rc = check_addr(c, at, o, "address", REQUIRED, v->addr, &v->family)) ||
	    (rc = config_schema_check_usable(c, at, o, "address", v->addr, v->family, "a VIP", false)) ||
	    (rc = check_port(c, at, o, v)) ||
	    (rc = check_enum(c, at, o, "protocol", REQUIRED, config_schema_protos, &v->proto)) ||
	    (rc = check_enum(c, at, o, "encap", OPTIONAL, config_schema_encaps, &v->encap)) ||
	    (rc = check_bool(c, at, o, "fragments", OPTIONAL, &v->fragments)) ||
	    (rc = check_table_size(c, at, o, "maglev_table_size", &v->table_size)))
		return rc;
	/* check_enum gave the index in config_schema_protos[]; the model holds the IP protocol number. */
	v->proto = v->proto ? KEEL_PROTO_UDP : KEEL_PROTO_TCP;
	if ((hc = json_object_get(o, "health_check"))) {
		struct loc l = LOC_KEY(at, o, "health_check");

		if ((rc = config_schema_check_health(c, &l, hc, v, &v->health)))
			return rc;
	} else {
		memset(&v->health, 0, sizeof(v->health));
	}
	if ((rc = config_schema_check_backends(c, at, o, v)) || (rc = check_via_backends(c, at, o, v)) ||
	    (rc = config_sources_check(c, at, o, v)) ||
	    (rc = config_quic_check_vip(c, at, o, v)) ||
	    (rc = check_slow_start(c, at, o, v)))
		return rc;
	return check_vip_table(c, at, o, v);
}

/* Two VIPs on one (address, port, protocol) would shadow each other; two names confuse keelctl. */
static int check_vip_dups(struct check *c, const struct loc *at, const json_t *o, uint32_t n)
{
	const struct config_vip *v = &c->cfg->vips[n], *w;
	uint32_t i;

	for (i = 0; i < n; i++) {
		w = &c->cfg->vips[i];
		if (!strcmp(w->name, v->name)) {
			struct loc l = LOC_KEY(at, o, "name");

			return check_bad(c, &l, "duplicate VIP name \"%s\" (first as vips[%u])",
					 v->name, i);
		}
		if (w->family == v->family && !memcmp(w->addr, v->addr, 16) &&
		    w->proto == v->proto && w->port == v->port && w->all_ports == v->all_ports) {
			struct loc l = LOC_KEY(at, o, "address");

			return check_bad(c, &l, "duplicate VIP: same address, port and protocol as "
					 "vips[%u] (%s)", i, w->name);
		}
	}
	return 0;
}

int config_schema_check_vips(struct check *c, const struct loc *root, const json_t *top)
{
	const json_t *arr = json_object_get(top, "vips");
	struct loc at = LOC_KEY(root, top, "vips");
	char d[64];
	size_t i;
	int rc;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return check_bad(c, &at, "expected a list of VIPs, got %s",
				 check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > CONFIG_MAX_VIPS)
		return check_bad(c, &at, "too many VIPs: %zu, at most %u", json_array_size(arr),
				 CONFIG_MAX_VIPS);
	c->cfg->vips = calloc(json_array_size(arr) + 1, sizeof(*c->cfg->vips));
	if (!c->cfg->vips)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		struct loc l = LOC_IDX(&at, arr, i);
		const json_t *o = json_array_get(arr, i);

		c->cfg->n_vips++; /* before filling, so config_free sees its backends */
		if ((rc = check_vip(c, &l, o, &c->cfg->vips[i])) ||
		    (rc = check_vip_dups(c, &l, o, (uint32_t)i)))
			return rc;
	}
	return 0;
}
