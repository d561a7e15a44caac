/* The validated configuration of keel-control as plain C structs, and its canonical JSON form. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_field.h"
#include "encap.h"
#include "config_model.h"
#include "config_sources.h"
#include "config_next_hop.h"
#include "pkt.h"
#include "snapshot.h"

struct keel_config *config_new(void)
{
	struct keel_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	cfg->fleet_seed = 0x6b65656c; /* "keel": any value works if every host uses it */
	cfg->maglev_table_size = KEEL_MAGLEV_DEFAULT_SIZE;
	cfg->mtu = 1500;
	cfg->gue_port = ENCAP_GUE_DEFAULT_PORT;
	strcpy(cfg->api_socket, "/run/keel/control.sock");
	cfg->metrics_addr[0] = 127;
	cfg->metrics_addr[3] = 1;
	cfg->metrics_family = KEEL_AF_INET4;
	cfg->metrics_port = 9105;
	cfg->health_defaults.interval_ms = 2000;
	cfg->health_defaults.timeout_ms = 1000;
	cfg->health_defaults.rise = 2;
	cfg->health_defaults.fall = 3;
	cfg->panic_threshold = 0.5;
	config_bgp_defaults(&cfg->bgp);
	config_fleet_defaults(&cfg->fleet);
	return cfg;
}

void config_free(struct keel_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_vips; i++) {
		free(cfg->vips[i].backends);
		config_sources_free(cfg->vips[i].sources);
	}
	free(cfg->vips);
	for (i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg);
}

int config_add_warning(struct keel_config *cfg, const char *text)
{
	char **w = realloc(cfg->warnings, (cfg->n_warnings + 1) * sizeof(*w));

	if (!w)
		return -ENOMEM;
	cfg->warnings = w;
	if (!(w[cfg->n_warnings] = strdup(text)))
		return -ENOMEM;
	cfg->n_warnings++;
	return 0;
}

static bool health_equal(const struct config_health *a, const struct config_health *b)
{
	return a->type == b->type && a->port == b->port && a->expect_status == b->expect_status &&
	       a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
	       a->rise == b->rise && a->fall == b->fall && !strcmp(a->path, b->path) &&
	       a->family == b->family && !memcmp(a->addr, b->addr, 16) &&
	       a->expect_status_max == b->expect_status_max && a->qtype == b->qtype &&
	       !strcmp(a->host, b->host) && a->send_len == b->send_len &&
	       a->expect_len == b->expect_len && !memcmp(a->send, b->send, a->send_len) &&
	       !memcmp(a->expect, b->expect, a->expect_len) && a->via == b->via;
}

static bool backend_equal(const struct config_backend *a, const struct config_backend *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16) && a->state == b->state &&
	       a->weight == b->weight && a->server_id == b->server_id;
}

static bool vip_equal(const struct config_vip *a, const struct config_vip *b)
{
	uint32_t i;

	if (strcmp(a->name, b->name) || a->family != b->family || memcmp(a->addr, b->addr, 16) ||
	    a->proto != b->proto || a->port != b->port || a->all_ports != b->all_ports ||
	    a->fragments != b->fragments || a->encap != b->encap ||
	    a->table_size != b->table_size || !health_equal(&a->health, &b->health) ||
	    a->quic != b->quic || a->slow_start_ms != b->slow_start_ms ||
	    a->n_backends != b->n_backends || !config_sources_equal(a->sources, b->sources))
		return false;
	for (i = 0; i < a->n_backends; i++)
		if (!backend_equal(&a->backends[i], &b->backends[i]))
			return false;
	return true;
}

/* Field by field: the structs have padding, and warnings do not count. */
const struct config_vip *config_vip_find(const struct keel_config *cfg, const char *name,
					 uint32_t *idx)
{
	uint32_t i;

	for (i = 0; cfg && i < cfg->n_vips; i++)
		if (!strcmp(cfg->vips[i].name, name)) {
			if (idx)
				*idx = i;
			return &cfg->vips[i];
		}
	return NULL;
}

const struct config_vip *config_vip_find_at(const struct keel_config *cfg, const char *name,
					    uint32_t hint, uint32_t *idx)
{
	if (cfg && hint < cfg->n_vips && !strcmp(cfg->vips[hint].name, name)) {
		if (idx)
			*idx = hint;
		return &cfg->vips[hint];
	}
	return config_vip_find(cfg, name, idx);
}

bool config_equal(const struct keel_config *a, const struct keel_config *b)
{
	uint32_t i;

	if (strcmp(a->instance, b->instance) || a->fleet_seed != b->fleet_seed ||
	    a->maglev_table_size != b->maglev_table_size || !config_next_hops_equal(a, b) ||
	    a->has_src4 != b->has_src4 || memcmp(a->src4, b->src4, 4) ||
	    a->src4_plen != b->src4_plen || a->has_src6 != b->has_src6 ||
	    memcmp(a->src6, b->src6, 16) || a->src6_plen != b->src6_plen || a->mtu != b->mtu ||
	    a->gue_port != b->gue_port || strcmp(a->api_socket, b->api_socket) ||
	    strcmp(a->api_group, b->api_group) || strcmp(a->api_admin_group, b->api_admin_group) ||
	    a->metrics_family != b->metrics_family || memcmp(a->metrics_addr, b->metrics_addr, 16) ||
	    a->metrics_port != b->metrics_port ||
	    !health_equal(&a->health_defaults, &b->health_defaults) ||
	    a->panic_threshold != b->panic_threshold || a->n_vips != b->n_vips ||
	    !config_bgp_equal(&a->bgp, &b->bgp) || !config_fleet_equal(&a->fleet, &b->fleet))
		return false;
	for (i = 0; i < a->n_vips; i++)
		if (!vip_equal(&a->vips[i], &b->vips[i]))
			return false;
	return true;
}

const char *config_health_type_name(uint8_t type)
{
	static const char *const names[] = { "none", "tcp", "http", "https", "udp", "dns" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "none";
}

/* Query types by name (RFC 1035 3.2.2, RFC 3596, RFC 2782); others as "TYPE<n>" (RFC 3597 5). */
static const struct {
	const char *name;
	uint16_t type;
} dns_types[] = {
	{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 }, { "MX", 15 },
	{ "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 },
};

const char *config_dns_type_name(uint16_t type)
{
	static _Thread_local char buf[16];

	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (dns_types[i].type == type)
			return dns_types[i].name;
	snprintf(buf, sizeof(buf), "TYPE%u", type);
	return buf;
}

int config_dns_type_parse(const char *s, uint16_t *type)
{
	char *end;
	unsigned long v;

	for (size_t i = 0; i < sizeof(dns_types) / sizeof(dns_types[0]); i++)
		if (!strcasecmp(dns_types[i].name, s)) {
			*type = dns_types[i].type;
			return 0;
		}
	if (strncasecmp(s, "TYPE", 4) || s[4] < '1' || s[4] > '9')
		return -EINVAL;
	v = strtoul(s + 4, &end, 10);
	if (*end || v > 65535)
		return -EINVAL;
	*type = (uint16_t)v;
	return 0;
}

const char *config_backend_state_name(uint8_t state)
{
	return state == CONFIG_BACKEND_DRAINING   ? "draining"
	       : state == CONFIG_BACKEND_DISABLED ? "disabled"
						  : "active";
}

const char *config_encap_name(uint8_t encap)
{
	return encap == KEEL_ENCAP_GUE ? "gue" : "ipip";
}

const char *config_proto_name(uint8_t proto)
{
	return proto == KEEL_PROTO_UDP ? "udp" : "tcp";
}

/*
 * Builders below collect into one object; jansson's *_new setters steal the
 * value even on failure, so a failed set only has to be remembered, not undone.
 */
struct jb {
	json_t *obj;
	bool failed;
};

static void put(struct jb *b, const char *key, json_t *v)
{
	if (!v || json_object_set_new(b->obj, key, v))
		b->failed = true;
}

static void put_str(struct jb *b, const char *key, const char *s)
{
	put(b, key, json_string(s));
}

static void put_int(struct jb *b, const char *key, json_int_t v)
{
	put(b, key, json_integer(v));
}

static void put_duration(struct jb *b, const char *key, uint32_t ms)
{
	char t[CONFIG_TEXT_MAX];

	config_format_duration(ms, t);
	put_str(b, key, t);
}

static void put_addr(struct jb *b, const char *key, const uint8_t addr[16], uint8_t family)
{
	char t[CONFIG_TEXT_MAX];

	config_format_addr(addr, family, t);
	put_str(b, key, t);
}

static void put_prefix(struct jb *b, const char *key, const uint8_t *addr, uint8_t family,
		       uint8_t plen)
{
	uint8_t a[16] = { 0 };
	char t[CONFIG_TEXT_MAX], p[CONFIG_TEXT_MAX + 8];

	memcpy(a, addr, family == KEEL_AF_INET4 ? 4 : 16);
	config_format_addr(a, family, t);
	snprintf(p, sizeof(p), "%s/%u", t, plen);
	put_str(b, key, p);
}

static json_t *done(struct jb *b)
{
	if (b->failed) {
		json_decref(b->obj);
		errno = ENOMEM;
		return NULL;
	}
	return b->obj;
}

/* via is written when it is tunnel, or when force (it differs from health_defaults' tunnel). */
static json_t *health_to_json(const struct config_health *h, bool with_type, bool force_via)
{
	struct jb b = { .obj = json_object(), .failed = false };

	if (!b.obj)
		return NULL;
	if (with_type)
		put_str(&b, "type", config_health_type_name(h->type));
	if (with_type && h->type == CONFIG_HEALTH_NONE)
		return done(&b);
	if (h->family)
		put_addr(&b, "address", h->addr, h->family);
	if (h->port)
		put_int(&b, "port", h->port);
	if (h->type == CONFIG_HEALTH_HTTP || h->type == CONFIG_HEALTH_HTTPS) {
		put_str(&b, "path", h->path);
		if (h->expect_status_max) {
			char r[16];

			snprintf(r, sizeof(r), "%u-%u", h->expect_status, h->expect_status_max);
			put_str(&b, "expect_status", r);
		} else {
			put_int(&b, "expect_status", h->expect_status);
		}
		if (h->host[0])
			put_str(&b, "host", h->host);
	}
	if (h->type == CONFIG_HEALTH_UDP) {
		put(&b, "send", json_stringn((const char *)h->send, h->send_len));
		if (h->expect_len)
			put(&b, "expect", json_stringn((const char *)h->expect, h->expect_len));
	}
	if (h->type == CONFIG_HEALTH_DNS) {
		put_str(&b, "query", h->host);
		put_str(&b, "query_type", config_dns_type_name(h->qtype));
	}
	put_duration(&b, "interval", h->interval_ms);
	put_duration(&b, "timeout", h->timeout_ms);
	put_int(&b, "rise", h->rise);
	put_int(&b, "fall", h->fall);
	if (h->via || force_via)
		put_str(&b, "via", h->via ? "tunnel" : "direct");
	return done(&b);
}

static json_t *backend_to_json(const struct config_backend *be)
{
	struct jb b = { .obj = json_object(), .failed = false };

	if (!b.obj)
		return NULL;
	put_addr(&b, "address", be->addr, be->family);
	put_int(&b, "weight", be->weight);
	put_str(&b, "state", config_backend_state_name(be->state));
	if (be->server_id)
		put_int(&b, "server_id", be->server_id);
	return done(&b);
}

static json_t *vip_to_json(const struct config_vip *v, uint8_t default_via)
{
	struct jb b = { .obj = json_object(), .failed = false };
	json_t *arr = json_array();
	uint32_t i;

	if (!b.obj || !arr) {
		json_decref(b.obj);
		json_decref(arr);
		return NULL;
	}
	put_str(&b, "name", v->name);
	put_addr(&b, "address", v->addr, v->family);
	put(&b, "port", v->all_ports ? json_string("all") : json_integer(v->port));
	put_str(&b, "protocol", config_proto_name(v->proto));
	put_str(&b, "encap", config_encap_name(v->encap));
	put(&b, "fragments", json_boolean(v->fragments));
	put_int(&b, "maglev_table_size", v->table_size);
	put(&b, "health_check", health_to_json(&v->health, true,
						default_via && v->health.type == CONFIG_HEALTH_TCP &&
							!v->health.family));
	if (v->quic)
		put(&b, "quic", json_true());
	for (i = 0; i < v->n_backends; i++)
		if (json_array_append_new(arr, backend_to_json(&v->backends[i])))
			b.failed = true;
	put(&b, "backends", arr);
	if (v->sources)
		put(&b, "sources", config_sources_to_json(v->sources, v->family));
	if (v->slow_start_ms)
		put_duration(&b, "slow_start", v->slow_start_ms);
	return done(&b);
}

static json_t *sub(struct jb *parent, const char *key)
{
	json_t *o = json_object();

	put(parent, key, o);
	return parent->failed ? NULL : o;
}

json_t *config_to_json(const struct keel_config *cfg)
{
	struct jb b = { .obj = json_object(), .failed = false };
	struct jb s = { .failed = false };
	char t[CONFIG_TEXT_MAX];
	json_t *vips;
	uint32_t i;

	if (!b.obj)
		return NULL;
	put_str(&b, "instance", cfg->instance);
	/* A string: JSON readers differ on integers above 2^53, hex text does not. */
	snprintf(t, sizeof(t), "0x%llx", (unsigned long long)cfg->fleet_seed);
	put_str(&b, "fleet_seed", t);
	put_int(&b, "maglev_table_size", cfg->maglev_table_size);
	if (config_next_hops_put(b.obj, cfg))
		b.failed = true;
	if ((s.obj = sub(&b, "encap_source"))) {
		if (cfg->has_src4)
			put_prefix(&s, "ipv4", cfg->src4, KEEL_AF_INET4, cfg->src4_plen);
		if (cfg->has_src6)
			put_prefix(&s, "ipv6", cfg->src6, KEEL_AF_INET6, cfg->src6_plen);
	}
	put_int(&b, "mtu", cfg->mtu);
	put_int(&b, "gue_port", cfg->gue_port);
	if ((s.obj = sub(&b, "api"))) {
		put_str(&s, "socket", cfg->api_socket);
		if (cfg->api_group[0])
			put_str(&s, "group", cfg->api_group);
		if (cfg->api_admin_group[0])
			put_str(&s, "admin_group", cfg->api_admin_group);
	}
	if ((s.obj = sub(&b, "metrics"))) {
		char hp[CONFIG_TEXT_MAX + 16];

		config_format_addr(cfg->metrics_addr, cfg->metrics_family, t);
		snprintf(hp, sizeof(hp), cfg->metrics_family == KEEL_AF_INET6 ? "[%s]:%u" : "%s:%u",
			 t, cfg->metrics_port);
		put_str(&s, "listen", hp);
	}
	put(&b, "health_defaults", health_to_json(&cfg->health_defaults, false, false));
	put(&b, "panic_threshold", json_real(cfg->panic_threshold));
	vips = json_array();
	for (i = 0; vips && i < cfg->n_vips; i++)
		if (json_array_append_new(vips, vip_to_json(&cfg->vips[i], cfg->health_defaults.via)))
			b.failed = true;
	put(&b, "vips", vips);
	if (cfg->bgp.local_asn) /* a bgp: section was given (local_asn is required in it) */
		put(&b, "bgp", config_bgp_to_json(&cfg->bgp));
	if (cfg->fleet.enabled)
		put(&b, "fleet", config_fleet_to_json(&cfg->fleet));
	if (s.failed)
		b.failed = true;
	return done(&b);
}
