/* The schema of health checks: a backend's health_check and the timings health_defaults shares. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config_check.h"
#include "config_field.h"
#include "config_schema_internal.h"
#include "keel_api.h"
#include "pkt.h"
#include "snapshot.h"


/*
 * interval, timeout, rise, fall over the values already in h (the defaults),
 * then timeout < interval: a probe still running when the next one is due
 * would be counted twice.
 */
int config_schema_check_timing(struct check *c, const struct loc *at, const json_t *o,
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

	if ((rc = check_enum(c, at, o, "via", OPTIONAL, config_schema_health_vias, &h->via)))
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

int config_schema_check_health(struct check *c, const struct loc *at, const json_t *o,
			       const struct config_vip *v, struct config_health *h)
{
	uint64_t port = 0;
	const char *path = "/", *key;
	json_t *x;
	int rc;

	if ((rc = check_object(c, at, o, "a health check", config_schema_health_keys)) ||
	    (rc = check_enum(c, at, o, "type", REQUIRED, config_schema_health_types, &h->type)))
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
	return config_schema_check_timing(c, at, o, h, true);
}
