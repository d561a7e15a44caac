/* The configuration schema: what each key means, its defaults, and the checks across keys. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_bgp.h"
#include "config_check.h"
#include "config_field.h"
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
static const char *const vip_keys[] = { "name", "address", "port", "protocol", "encap",
	"fragments", "maglev_table_size", "health_check", "backends",
	"quic", /* config_quic.c */
	"sources", /* source lists */
	"slow_start", /* a returning backend's ramp (control/plan/slow_start.h) */
	NULL };
static const char *const backend_keys[] = { "address", "weight", "state",
	"server_id", /* config_quic.c */
	NULL };
static const char *const health_keys[] = { "type", "port", "path", "expect_status", "interval",
	"timeout", "rise", "fall", "address", "host", "send", "expect", "query", "query_type",
	"via", /* checks through the encapsulation (health_tunnel.h) */
	NULL };
static const char *const timing_keys[] = { "interval", "timeout", "rise", "fall",
	"via", /* health_defaults: the fleet's backends run keel-decap */
	NULL };
static const char *const health_vias[] = { "direct", "tunnel", NULL };

/* Indexed by the enums of config_model.h and snapshot.h. */
static const char *const health_types[] = { "none", "tcp", "http", "https", "udp", "dns", NULL };
static const char *const backend_states[] = { "active", "draining", "disabled", NULL };
static const char *const encaps[] = { "ipip", "gue", NULL };
static const char *const protos[] = { "tcp", "udp", NULL };

#define INTERVAL_MIN_MS 100u
#define TIMEOUT_MIN_MS 10u
#define TIMING_MAX_MS 3600000u /* an hour: longer is a typo, not a health check */

static const char *fam_name(uint8_t family)
{
	return family == KEEL_AF_INET4 ? "IPv4" : "IPv6";
}

/*
 * An address that can carry traffic as role ("a VIP", "a backend", "the next
 * hop"): not loopback, multicast, broadcast, unspecified... (config_field.c).
 */
static int check_usable(struct check *c, const struct loc *at, const json_t *o, const char *key,
			const uint8_t addr[16], uint8_t family, const char *role,
			bool link_local_ok)
{
	struct loc l = LOC_KEY(at, o, key);
	const char *why = config_addr_special(addr, family, link_local_ok);
	char t[CONFIG_TEXT_MAX];

	if (!why)
		return 0;
	return check_bad(c, &l, "%s is %s: it cannot be %s", config_format_addr(addr, family, t),
			 why, role);
}

static int check_name(struct check *c, const struct loc *at, const json_t *obj, const char *key,
		      size_t max, char *out)
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

/*
 * interval, timeout, rise, fall over the values already in h (the defaults),
 * then timeout < interval: a probe still running when the next one is due
 * would be counted twice.
 */
static int check_timing(struct check *c, const struct loc *at, const json_t *o,
			struct config_health *h, bool inherited)
{
	char ti[CONFIG_TEXT_MAX], iv[CONFIG_TEXT_MAX];
	uint64_t rise = h->rise, fall = h->fall;
	int rc;

	if ((rc = check_duration(c, at, o, "interval", INTERVAL_MIN_MS, TIMING_MAX_MS,
				 &h->interval_ms)) ||
	    (rc = check_duration(c, at, o, "timeout", TIMEOUT_MIN_MS, TIMING_MAX_MS,
				 &h->timeout_ms)) ||
	    (rc = check_uint(c, at, o, "rise", OPTIONAL, 1, 10, &rise)) ||
	    (rc = check_uint(c, at, o, "fall", OPTIONAL, 1, 10, &fall)))
		return rc;
	h->rise = (uint8_t)rise;
	h->fall = (uint8_t)fall;
	if (h->timeout_ms < h->interval_ms)
		return 0;
	config_format_duration(h->timeout_ms, ti);
	config_format_duration(h->interval_ms, iv);
	const char *key = json_object_get(o, "timeout") ? "timeout"
			  : json_object_get(o, "interval") ? "interval" : NULL;
	struct loc l = LOC_KEY(at, o, key);

	return check_bad(c, key ? &l : at, "timeout %s%s must be shorter than interval %s%s", ti,
			 inherited && !json_object_get(o, "timeout") ? " (from health_defaults)" : "",
			 iv,
			 inherited && !json_object_get(o, "interval") ? " (from health_defaults)" : "");
}

/* Printable ASCII without spaces: the path goes into a request line verbatim. */
static bool http_path_ok(const char *s)
{
	if (s[0] != '/' || strlen(s) >= CONFIG_HTTP_PATH_MAX)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* Which check types a key of health_check applies to (bit 1 << type), and how to say so. */
#define T(x) (1u << CONFIG_HEALTH_##x)
static const struct {
	const char *key;
	unsigned types;
	const char *only;
} health_key_types[] = {
	{ "path", T(HTTP) | T(HTTPS), "type http or https" },
	{ "expect_status", T(HTTP) | T(HTTPS), "type http or https" },
	{ "host", T(HTTP) | T(HTTPS), "type http or https" },
	{ "send", T(UDP), "type udp" },
	{ "expect", T(UDP), "type udp" },
	{ "query", T(DNS), "type dns" },
	{ "query_type", T(DNS), "type dns" },
};
#undef T

/* A DNS name for Host, SNI or a query: labels of letters, digits, '-', '_', 1..63 bytes, <= 253 in all. */
static bool dns_name_ok(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len >= CONFIG_HEALTH_HOST_MAX || s[0] == '.')
		return false;
	for (; *s; s++) {
		if (*s == '.') {
			if (!label)
				return false;
			label = 0;
		} else if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			     (*s >= '0' && *s <= '9') || *s == '-' || *s == '_') || ++label > 63) {
			return false;
		}
	}
	return true;
}

static int check_dns_name(struct check *c, const struct loc *at, const json_t *o, const char *key,
			  int required, char *out)
{
	struct loc l = LOC_KEY(at, o, key);
	const char *name = NULL;
	int rc;

	if ((rc = check_string(c, at, o, key, required, &name)) || !name)
		return rc;
	if (!dns_name_ok(name))
		return check_bad(c, &l, "\"%.64s\" is not a DNS name: labels of letters, digits, '-' "
				 "or '_' (1..63 bytes) joined by dots, under %d bytes", name,
				 CONFIG_HEALTH_HOST_MAX);
	strcpy(out, name);
	return 0;
}

/* A UDP payload: a non-empty string (its UTF-8 bytes) of at most CONFIG_HEALTH_PAYLOAD_MAX bytes. */
static int check_payload(struct check *c, const struct loc *at, const json_t *o, const char *key,
			 int required, uint8_t *out, uint16_t *len)
{
	struct loc l = LOC_KEY(at, o, key);
	const json_t *x = json_object_get(o, key);
	const char *str = NULL;
	int rc;

	if ((rc = check_string(c, at, o, key, required, &str)) || !str)
		return rc;
	if (json_string_length(x) == 0 || json_string_length(x) > CONFIG_HEALTH_PAYLOAD_MAX)
		return check_bad(c, &l, "%s must be 1..%d bytes, got %zu", key,
				 CONFIG_HEALTH_PAYLOAD_MAX, json_string_length(x));
	memcpy(out, str, json_string_length(x));
	*len = (uint16_t)json_string_length(x);
	return 0;
}

/* expect_status: one status (200) or a range as a string ("200-399"). */
static int check_status_range(struct check *c, const struct loc *at, const json_t *o,
			      struct config_health *h)
{
	struct loc l = LOC_KEY(at, o, "expect_status");
	const json_t *x = json_object_get(o, "expect_status");
	uint64_t status = 200;
	const char *str;
	unsigned lo, hi;
	int n, rc;

	if (!x || !json_is_string(x)) {
		if ((rc = check_uint(c, at, o, "expect_status", OPTIONAL, 100, 599, &status)))
			return rc;
		h->expect_status = (uint16_t)status;
		h->expect_status_max = 0;
		return 0;
	}
	str = json_string_value(x);
	/* Exactly DDD-DDD: no signs, spaces or other digits counts sscanf would let through. */
	for (n = 0; n < 7; n++)
		if (n == 3 ? str[n] != '-' : (str[n] < '0' || str[n] > '9'))
			break;
	lo = n == 7 && !str[7] ? (unsigned)atoi(str) : 0;
	hi = n == 7 && !str[7] ? (unsigned)atoi(str + 4) : 0;
	if (n != 7 || str[7] || lo < 100 || hi > 599 || lo > hi)
		return check_bad(c, &l, "\"%.20s\" is not a status or a range LOW-HIGH of 100..599",
				 json_string_value(x));
	h->expect_status = (uint16_t)lo;
	h->expect_status_max = lo == hi ? 0 : (uint16_t)hi;
	return 0;
}

/*
 * via: tunnel probes are TCP SYNs in IPv4 (health_tunnel.h). Asked for in the
 * check, anything else is an error; inherited from health_defaults, it applies
 * to the checks it can (tcp, IPv4, no separate address) and the others stay direct.
 */
static int check_via(struct check *c, const struct loc *at, const json_t *o,
		     const struct config_vip *v, struct config_health *h)
{
	struct loc l = LOC_KEY(at, o, "via");
	bool asked = json_object_get(o, "via") != NULL;
	int rc;

	if ((rc = check_enum(c, at, o, "via", OPTIONAL, health_vias, &h->via)))
		return rc;
	if (h->via != CONFIG_VIA_TUNNEL)
		return 0;
	if (h->type == CONFIG_HEALTH_TCP && v->family == KEEL_AF_INET4 && !h->family)
		return 0;
	if (!asked) {
		h->via = CONFIG_VIA_DIRECT;
		return 0;
	}
	return check_bad(c, &l, "via tunnel applies only to type tcp checks of IPv4 VIPs without "
			 "a check address");
}

static int check_health(struct check *c, const struct loc *at, const json_t *o,
			const struct config_vip *v, struct config_health *h)
{
	uint64_t port = 0;
	const char *path = "/", *key;
	json_t *x;
	int rc;

	if ((rc = check_object(c, at, o, "a health check", health_keys)) ||
	    (rc = check_enum(c, at, o, "type", REQUIRED, health_types, &h->type)))
		return rc;
	json_object_foreach((json_t *)o, key, x) {
		struct loc k = LOC_KEY(at, o, key);

		if (h->type == CONFIG_HEALTH_NONE && strcmp(key, "type"))
			return check_bad_key(c, &k, "\"%s\" does not apply to type none", key);
		for (size_t i = 0; i < sizeof(health_key_types) / sizeof(health_key_types[0]); i++)
			if (!strcmp(key, health_key_types[i].key) &&
			    !(health_key_types[i].types & (1u << h->type)))
				return check_bad_key(c, &k, "\"%s\" applies only to %s", key,
						     health_key_types[i].only);
	}
	if (h->type == CONFIG_HEALTH_NONE) {
		memset(h, 0, sizeof(*h));
		return 0;
	}
	if ((rc = check_uint(c, at, o, "port", OPTIONAL, 1, 65535, &port)))
		return rc;
	if (!port && v->all_ports)
		return check_bad(c, at, "missing required key \"port\": the VIP serves all ports");
	h->port = (uint16_t)port;
	/* One address checked for every backend of the VIP instead of each backend's own. */
	if ((rc = check_addr(c, at, o, "address", OPTIONAL, h->addr, &h->family)))
		return rc;
	if (h->type == CONFIG_HEALTH_HTTP || h->type == CONFIG_HEALTH_HTTPS) {
		struct loc l = LOC_KEY(at, o, "path");

		if ((rc = check_string(c, at, o, "path", OPTIONAL, &path)) ||
		    (rc = check_status_range(c, at, o, h)) ||
		    (rc = check_dns_name(c, at, o, "host", OPTIONAL, h->host)))
			return rc;
		if (!http_path_ok(path))
			return check_bad(c, &l, "\"%.40s\" is not a request path: it starts with '/', "
					 "is printable ASCII without spaces, under %d bytes",
					 path, CONFIG_HTTP_PATH_MAX);
		strcpy(h->path, path);
	}
	if (h->type == CONFIG_HEALTH_UDP &&
	    ((rc = check_payload(c, at, o, "send", REQUIRED, h->send, &h->send_len)) ||
	     (rc = check_payload(c, at, o, "expect", OPTIONAL, h->expect, &h->expect_len))))
		return rc;
	if (h->type == CONFIG_HEALTH_DNS) {
		struct loc l = LOC_KEY(at, o, "query_type");
		const char *qt = "A";

		if ((rc = check_dns_name(c, at, o, "query", REQUIRED, h->host)) ||
		    (rc = check_string(c, at, o, "query_type", OPTIONAL, &qt)))
			return rc;
		if (config_dns_type_parse(qt, &h->qtype))
			return check_bad(c, &l, "\"%.20s\" is not a DNS query type: A, AAAA, CNAME, MX, "
					 "NS, PTR, SOA, SRV, TXT or TYPE<1..65535>", qt);
	}
	if ((rc = check_via(c, at, o, v, h)))
		return rc;
	return check_timing(c, at, o, h, true);
}

static int check_backend(struct check *c, const struct loc *at, const json_t *o,
			 struct config_backend *be)
{
	struct loc l = LOC_KEY(at, o, "address");
	const struct keel_config *cfg = c->cfg;
	uint64_t weight = KEEL_API_WEIGHT_DEFAULT;
	int rc;

	if ((rc = check_object(c, at, o, "a backend", backend_keys)) ||
	    (rc = check_addr(c, at, o, "address", REQUIRED, be->addr, &be->family)) ||
	    (rc = check_usable(c, at, o, "address", be->addr, be->family, "a backend", false)) ||
	    (rc = check_uint(c, at, o, "weight", OPTIONAL, 0, KEEL_API_WEIGHT_MAX, &weight)) ||
	    (rc = check_enum(c, at, o, "state", OPTIONAL, backend_states, &be->state)))
		return rc;
	be->weight = (uint32_t)weight;
	/* The outer header has the backend's family (4in6 and 6in4 are fine); it needs a source. */
	if ((be->family == KEEL_AF_INET4 && !cfg->has_src4) ||
	    (be->family == KEEL_AF_INET6 && !cfg->has_src6))
		return check_bad(c, &l, "%s backend but encap_source has no %s prefix to send from",
				 fam_name(be->family), be->family == KEEL_AF_INET4 ? "ipv4" : "ipv6");
	return 0;
}

static int same_backend(const struct config_backend *a, const struct config_backend *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, 16);
}

static int cmp_backend(const void *pa, const void *pb)
{
	const struct config_backend *a = *(const struct config_backend *const *)pa;
	const struct config_backend *b = *(const struct config_backend *const *)pb;
	int d = memcmp(a->addr, b->addr, 16);

	if (d)
		return d;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return a < b ? -1 : a > b; /* file order among equals */
}

/*
 * A backend twice in one VIP would get two sets of Maglev turns under one key
 * (maglev_build refuses it). Sorted, so 16384 backends cost n log n; the one
 * reported is the earliest second occurrence in the file.
 */
static int check_backend_dups(struct check *c, const struct loc *at, const json_t *arr,
			      const struct config_vip *v)
{
	const struct config_backend **s, *dup = NULL, *first = NULL, *head;
	char t[CONFIG_TEXT_MAX];
	uint32_t i;

	if (v->n_backends < 2)
		return 0;
	s = malloc(v->n_backends * sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < v->n_backends; i++)
		s[i] = &v->backends[i];
	qsort(s, v->n_backends, sizeof(*s), cmp_backend);
	for (i = 1, head = s[0]; i < v->n_backends; i++) {
		if (!same_backend(s[i - 1], s[i])) {
			head = s[i];
			continue;
		}
		if (s[i - 1] == head && (!dup || s[i] < dup))
			dup = s[i], first = head;
	}
	free(s);
	if (!dup)
		return 0;
	struct loc b = LOC_IDX(at, arr, (size_t)(dup - v->backends));
	struct loc l = LOC_KEY(&b, json_array_get(arr, b.index), "address");

	config_format_addr(dup->addr, dup->family, t);
	return check_bad(c, &l, "duplicate backend %s in VIP %s (first as backends[%zu])", t,
			 v->name, (size_t)(first - v->backends));
}

static int check_backends(struct check *c, const struct loc *vat, const json_t *o,
			  struct config_vip *v)
{
	const json_t *arr = json_object_get(o, "backends");
	struct loc at = LOC_KEY(vat, o, "backends");
	char d[64];
	size_t i;
	int rc;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return check_bad(c, &at, "expected a list of backends, got %s",
				 check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > CONFIG_MAX_BACKENDS - c->n_backends)
		return check_bad(c, &at, "too many backends: more than %u over all VIPs",
				 CONFIG_MAX_BACKENDS);
	c->n_backends += (uint32_t)json_array_size(arr);
	v->backends = calloc(json_array_size(arr) + 1, sizeof(*v->backends));
	if (!v->backends)
		return -ENOMEM;
	for (i = 0; i < json_array_size(arr); i++) {
		struct loc l = LOC_IDX(&at, arr, i);

		rc = check_backend(c, &l, json_array_get(arr, i), &v->backends[i]);
		if (rc)
			return rc;
		v->n_backends++;
	}
	return check_backend_dups(c, &at, arr, v);
}

/* Table size against the backends: maglev_build needs M >= N; the paper wants M >> N. */
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
	if ((rc = check_object(c, at, o, "a VIP", vip_keys)) ||
	    (rc = check_name(c, at, o, "name", CONFIG_NAME_MAX, v->name)) ||
	    (rc = check_addr(c, at, o, "address", REQUIRED, v->addr, &v->family)) ||
	    (rc = check_usable(c, at, o, "address", v->addr, v->family, "a VIP", false)) ||
	    (rc = check_port(c, at, o, v)) ||
	    (rc = check_enum(c, at, o, "protocol", REQUIRED, protos, &v->proto)) ||
	    (rc = check_enum(c, at, o, "encap", OPTIONAL, encaps, &v->encap)) ||
	    (rc = check_bool(c, at, o, "fragments", OPTIONAL, &v->fragments)) ||
	    (rc = check_table_size(c, at, o, "maglev_table_size", &v->table_size)))
		return rc;
	/* check_enum gave the index in protos[]; the model holds the IP protocol number. */
	v->proto = v->proto ? KEEL_PROTO_UDP : KEEL_PROTO_TCP;
	if ((hc = json_object_get(o, "health_check"))) {
		struct loc l = LOC_KEY(at, o, "health_check");

		if ((rc = check_health(c, &l, hc, v, &v->health)))
			return rc;
	} else {
		memset(&v->health, 0, sizeof(v->health));
	}
	if ((rc = check_backends(c, at, o, v)) || (rc = check_via_backends(c, at, o, v)) ||
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

static int check_vips(struct check *c, const struct loc *root, const json_t *top)
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
		return check_bad(c, &l, "\"%.64s\" is not an %s prefix", s, fam_name(want));
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
	    (rc = check_enum(c, &at, o, "via", OPTIONAL, health_vias,
			     &c->cfg->health_defaults.via)))
		return rc;
	return check_timing(c, &at, o, &c->cfg->health_defaults, false);
}

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
static int check_vip_addresses(struct check *c, const struct loc *root, const json_t *top)
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
static int check_mtu_v6(struct check *c, const struct loc *root, const json_t *top)
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

int config_schema_check(struct check *c, const json_t *root)
{
	struct loc at = { .up = NULL, .parent = NULL, .key = NULL, .index = 0 };
	struct keel_config *cfg = c->cfg;
	uint64_t mtu = cfg->mtu, gue = cfg->gue_port;
	int rc;

	if ((rc = check_object(c, &at, root, "the configuration", top_keys)) ||
	    (rc = check_name(c, &at, root, "instance", CONFIG_NAME_MAX, cfg->instance)) ||
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
	if ((rc = check_vips(c, &at, root)) || (rc = check_vip_addresses(c, &at, root)) ||
	    (rc = config_bgp_check(c, &at, root)) || (rc = config_fleet_check(c, &at, root)))
		return rc;
	return check_mtu_v6(c, &at, root);
}
