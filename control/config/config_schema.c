/* The configuration schema: what each key means, its defaults, and the checks across keys. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_bgp.h"
#include "config_check.h"
#include "config_field.h"
#include "config_schema_internal.h"
#include "config_fleet.h"
#include "keel_api.h"
#include "config_quic.h"
#include "config_sources.h"
#include "config_next_hop.h"
#include "pkt.h"
#include "snapshot.h"

static const char *const top_keys[] = { "instance", "fleet_seed", "maglev_table_size",
	"next_hop", "encap_source", "mtu", "gue_port", "api", "metrics", "health_defaults",
	"panic_threshold", "vips", "bgp", "fleet",
	"next_hops", /* several next hops (config_next_hop.c) */
	NULL };
const char *const config_schema_vip_keys[] = { "name", "address", "port", "protocol", "encap",
	"fragments", "maglev_table_size", "health_check", "backends",
	"quic", /* config_quic.c */
	"sources", /* source lists */
	"slow_start", /* a returning backend's ramp (control/plan/slow_start.h) */
	NULL };
const char *const config_schema_backend_keys[] = { "address", "weight", "state",
	"server_id", /* config_quic.c */
	NULL };
const char *const config_schema_health_keys[] = { "type", "port", "path", "expect_status",
	"interval", "timeout", "rise", "fall", "address", "host", "send", "expect", "query", "query_type",
	"via", /* checks through the encapsulation (health_tunnel.h) */
	NULL };
static const char *const timing_keys[] = { "interval", "timeout", "rise", "fall",
	"via", /* health_defaults: the fleet's backends run keel-decap */
	NULL };
const char *const config_schema_health_vias[] = { "direct", "tunnel", NULL };

/* Indexed by the enums of config_model.h and snapshot.h. */
const char *const config_schema_health_types[] = { "none", "tcp", "http", "https", "udp", "dns",
	NULL };
const char *const config_schema_backend_states[] = { "active", "draining", "disabled", NULL };
const char *const config_schema_encaps[] = { "ipip", "gue", NULL };
const char *const config_schema_protos[] = { "tcp", "udp", NULL };

const char *config_schema_fam_name(uint8_t family)
{
	return family == KEEL_AF_INET4 ? "IPv4" : "IPv6";
}

/*
 * An address that can carry traffic as role ("a VIP", "a backend", "the next
 * hop"): not loopback, multicast, broadcast, unspecified... (config_field.c).
 */
int config_schema_check_usable(struct check *c, const struct loc *at, const json_t *o,
			       const char *key, const uint8_t addr[16], uint8_t family,
			       const char *role, bool link_local_ok)
{
	struct loc l = LOC_KEY(at, o, key);
	const char *why = config_addr_special(addr, family, link_local_ok);
	char t[CONFIG_TEXT_MAX];

	if (!why)
		return 0;
	return check_bad(c, &l, "%s is %s: it cannot be %s", config_format_addr(addr, family, t),
			 why, role);
}

int config_schema_check_name(struct check *c, const struct loc *at, const json_t *obj,
			     const char *key, size_t max, char *out)
{
	struct loc l = LOC_KEY(at, obj, key);
	const char *s = NULL;
	int rc;

	rc = check_string(c, at, obj, key, REQUIRED, &s);
	if (rc)
		return rc;
	if (!config_name_ok(s, max))
		return check_bad(c, &l, "\"%.64s\" is not a name: 1..%zu letters, digits, '_', '.' "
				 "or '-', starting with a letter or digit", s, max - 1);
	strcpy(out, s);
	return 0;
}
static int check_prefix(struct check *c, const struct loc *at, const json_t *o, const char *key,
			uint8_t want, uint8_t *addr, uint8_t *plen, bool *has)
{
	struct loc l = LOC_KEY(at, o, key);
	uint8_t a[16], family;
	const char *s = NULL, *why, *what, *block;
	int rc;

	rc = check_string(c, at, o, key, OPTIONAL, &s);
	if (rc || !s)
		return rc;
	if (config_parse_prefix(s, a, &family, plen, &why))
		return check_bad(c, &l, "\"%.64s\": %s", s, why);
	if (family != want)
		return check_bad(c, &l, "\"%.64s\" is not an %s prefix", s, config_schema_fam_name(want));
	/* Backends answer (ICMP, decap errors) to the outer source: it must be routable unicast. */
	if ((what = config_prefix_special(a, family, *plen, &block)))
		return check_bad(c, &l, "\"%.64s\" overlaps %s, %s: outer sources must be unicast "
				 "addresses the backends can reach", s, block, what);
	memcpy(addr, a, want == KEEL_AF_INET4 ? 4 : 16);
	*has = true;
	return 0;
}

static int check_encap_source(struct check *c, const struct loc *root, const json_t *top)
{
	static const char *const keys[] = { "ipv4", "ipv6", NULL };
	struct keel_config *cfg = c->cfg;
	const json_t *o = json_object_get(top, "encap_source");
	struct loc at = LOC_KEY(root, top, "encap_source");
	int rc;

	if (!o)
		return check_bad(c, root, "missing required key \"encap_source\"");
	if ((rc = check_object(c, &at, o, "the encapsulation source prefixes", keys)) ||
	    (rc = check_prefix(c, &at, o, "ipv4", KEEL_AF_INET4, cfg->src4, &cfg->src4_plen,
			       &cfg->has_src4)) ||
	    (rc = check_prefix(c, &at, o, "ipv6", KEEL_AF_INET6, cfg->src6, &cfg->src6_plen,
			       &cfg->has_src6)))
		return rc;
	if (!cfg->has_src4 && !cfg->has_src6)
		return check_bad(c, &at, "missing required key \"ipv4\" or \"ipv6\"");
	return 0;
}

static int check_api(struct check *c, const struct loc *root, const json_t *top)
{
	static const char *const keys[] = { "socket", "group", "admin_group", NULL };
	static const char *const groups[] = { "group", "admin_group" };
	struct keel_config *cfg = c->cfg;
	char *const dst[] = { cfg->api_group, cfg->api_admin_group };
	const json_t *o = json_object_get(top, "api");
	struct loc at = LOC_KEY(root, top, "api");
	struct loc sl = LOC_KEY(&at, o, "socket");
	const char *s = NULL;
	int rc, i;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the API settings", keys)) ||
	    (rc = check_string(c, &at, o, "socket", OPTIONAL, &s)))
		return rc;
	if (s && (s[0] != '/' || strlen(s) >= CONFIG_SOCKET_MAX))
		return check_bad(c, &sl, "must be an absolute path shorter than %d bytes",
				 CONFIG_SOCKET_MAX);
	if (s)
		strcpy(cfg->api_socket, s);
	for (i = 0; i < 2; i++) {
		struct loc gl = LOC_KEY(&at, o, groups[i]);

		s = NULL;
		if ((rc = check_string(c, &at, o, groups[i], OPTIONAL, &s)))
			return rc;
		if (s && !config_name_ok(s, CONFIG_GROUP_MAX))
			return check_bad(c, &gl, "\"%.40s\" is not a group name", s);
		if (s)
			strcpy(dst[i], s);
	}
	return 0;
}

static int check_metrics(struct check *c, const struct loc *root, const json_t *top)
{
	static const char *const keys[] = { "listen", NULL };
	struct keel_config *cfg = c->cfg;
	const json_t *o = json_object_get(top, "metrics");
	struct loc at = LOC_KEY(root, top, "metrics");
	struct loc ll = LOC_KEY(&at, o, "listen");
	const char *s = NULL, *why;
	int rc;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the metrics settings", keys)) ||
	    (rc = check_string(c, &at, o, "listen", OPTIONAL, &s)))
		return rc;
	if (s && config_parse_hostport(s, cfg->metrics_addr, &cfg->metrics_family,
				       &cfg->metrics_port, &why))
		return check_bad(c, &ll, "\"%.64s\": %s", s, why);
	return 0;
}

static int check_seed(struct check *c, const struct loc *root, const json_t *top)
{
	const json_t *v = json_object_get(top, "fleet_seed");
	struct loc l = LOC_KEY(root, top, "fleet_seed");
	const char *why;
	char d[64];

	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		c->cfg->fleet_seed = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return check_bad(c, &l, "expected a non-negative integer or a string like "
				 "\"0x6b65656c\", got %s", check_describe(v, d, sizeof(d)));
	if (config_parse_u64(json_string_value(v), &c->cfg->fleet_seed, &why))
		return check_bad(c, &l, "\"%.40s\": %s", json_string_value(v), why);
	return 0;
}

static int check_panic(struct check *c, const struct loc *root, const json_t *top)
{
	const json_t *v = json_object_get(top, "panic_threshold");
	struct loc l = LOC_KEY(root, top, "panic_threshold");
	char d[64];
	double x;

	if (!v)
		return 0;
	if (!json_is_number(v))
		return check_bad(c, &l, "expected a number 0..1, got %s",
				 check_describe(v, d, sizeof(d)));
	x = json_number_value(v);
	if (!(x >= 0 && x <= 1))
		return check_bad(c, &l, "%g is out of range 0..1 (a share of a VIP's backends)", x);
	c->cfg->panic_threshold = x;
	return 0;
}

static int check_health_defaults(struct check *c, const struct loc *root, const json_t *top)
{
	const json_t *o = json_object_get(top, "health_defaults");
	struct loc at = LOC_KEY(root, top, "health_defaults");
	int rc;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the health check defaults", timing_keys)) ||
	    (rc = check_enum(c, &at, o, "via", OPTIONAL, config_schema_health_vias,
			     &c->cfg->health_defaults.via)))
		return rc;
	return config_schema_check_timing(c, &at, o, &c->cfg->health_defaults, false);
}

int config_schema_check(struct check *c, const json_t *root)
{
	struct loc at = { .up = NULL, .parent = NULL, .key = NULL, .index = 0 };
	struct keel_config *cfg = c->cfg;
	uint64_t mtu = cfg->mtu, gue = cfg->gue_port;
	int rc;

	if ((rc = check_object(c, &at, root, "the configuration", top_keys)) ||
	    (rc = config_schema_check_name(c, &at, root, "instance", CONFIG_NAME_MAX, cfg->instance)) ||
	    (rc = check_seed(c, &at, root)) ||
	    (rc = check_table_size(c, &at, root, "maglev_table_size", &cfg->maglev_table_size)) ||
	    (rc = config_next_hop_check(c, &at, root)) || (rc = check_encap_source(c, &at, root)) ||
	    (rc = check_uint(c, &at, root, "mtu", OPTIONAL, 576, 9216, &mtu)) ||
	    (rc = check_uint(c, &at, root, "gue_port", OPTIONAL, 1, 65535, &gue)) ||
	    (rc = check_api(c, &at, root)) || (rc = check_metrics(c, &at, root)) ||
	    (rc = check_health_defaults(c, &at, root)) || (rc = check_panic(c, &at, root)))
		return rc;
	cfg->mtu = (uint16_t)mtu;
	cfg->gue_port = (uint16_t)gue;
	if ((rc = config_schema_check_vips(c, &at, root)) ||
	    (rc = config_schema_check_vip_addresses(c, &at, root)) ||
	    (rc = config_bgp_check(c, &at, root)) || (rc = config_fleet_check(c, &at, root)))
		return rc;
	return config_schema_check_mtu_v6(c, &at, root);
}
