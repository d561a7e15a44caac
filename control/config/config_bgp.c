/* The bgp: section: its checks, defaults, canonical JSON, and the BIRD include files generated from it. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_bgp.h"
#include "config_check.h"
#include "config_field.h"
#include "pkt.h"

void config_bgp_defaults(struct config_bgp *b)
{
	memset(b, 0, sizeof(*b));
	b->table = 100;
	b->protocol = 250;
	b->metric = 100;
	b->degraded_metric = 200;
	b->all_backends_down = CONFIG_BGP_DOWN_DEGRADED;
	b->drain_wait_ms = 5000;
	b->flap_limit = 4;
	b->flap_window_ms = 60000;
	b->hold_down_ms = 30000;
	b->settle_ms = 3000;
	b->hold_time_ms = 3000;
	b->bfd_interval_ms = 100;
	b->bfd_multiplier = 3;
	strcpy(b->bird_socket, "/run/bird/bird.ctl");
}

static const char *const bgp_keys[] = { "enabled", "local_asn", "router_id", "neighbours",
	"degraded_community", "table", "protocol", "metric", "degraded_metric",
	"all_backends_down", "drain_wait", "flap_limit", "flap_window", "hold_down", "hold_time",
	"settle", "bfd", "bird_socket", NULL };
static const char *const neighbour_keys[] = { "address", "asn", NULL };
static const char *const bfd_keys[] = { "interval", "multiplier", NULL };
static const char *const down_modes[] = { "degraded", "withdraw", NULL };

#define ASN_MAX 4294967295ull
#define AS_TRANS 23456u /* RFC 6793: a placeholder in 2-byte speakers, never a real ASN */

static int check_asn(struct check *c, const struct loc *at, const json_t *o, const char *key,
		     uint32_t *out)
{
	struct loc l = LOC_KEY(at, o, key);
	uint64_t v = 0;
	int rc;

	if ((rc = check_uint(c, at, o, key, REQUIRED, 1, ASN_MAX, &v)))
		return rc;
	if (v == AS_TRANS)
		return check_bad(c, &l, "AS 23456 is AS_TRANS (RFC 6793), not an AS number");
	*out = (uint32_t)v;
	return 0;
}

static int check_neighbours(struct check *c, const struct loc *bat, const json_t *o,
			    struct config_bgp *b)
{
	const json_t *arr = json_object_get(o, "neighbours");
	struct loc at = LOC_KEY(bat, o, "neighbours");
	char d[64];
	size_t i, j;
	int rc;

	if (!arr)
		return check_bad(c, bat, "missing required key \"neighbours\"");
	if (!json_is_array(arr) || !json_array_size(arr))
		return check_bad(c, &at, "expected a list of 1..%d neighbours, got %s",
				 CONFIG_BGP_MAX_NEIGHBOURS, check_describe(arr, d, sizeof(d)));
	if (json_array_size(arr) > CONFIG_BGP_MAX_NEIGHBOURS)
		return check_bad(c, &at, "too many neighbours: %zu, at most %d",
				 json_array_size(arr), CONFIG_BGP_MAX_NEIGHBOURS);
	for (i = 0; i < json_array_size(arr); i++) {
		struct loc l = LOC_IDX(&at, arr, i);
		const json_t *n = json_array_get(arr, i);
		struct config_bgp_neighbour *nb = &b->neighbours[i];
		struct loc al = LOC_KEY(&l, n, "address");

		if ((rc = check_object(c, &l, n, "a BGP neighbour", neighbour_keys)) ||
		    (rc = check_addr(c, &l, n, "address", REQUIRED, nb->addr, &nb->family)) ||
		    (rc = check_asn(c, &l, n, "asn", &nb->asn)))
			return rc;
		for (j = 0; j < i; j++)
			if (b->neighbours[j].family == nb->family &&
			    !memcmp(b->neighbours[j].addr, nb->addr, 16))
				return check_bad(c, &al, "duplicate neighbour (first as "
						 "neighbours[%zu])", j);
		b->n_neighbours++;
	}
	return 0;
}

/* "ASN:VALUE", both 0..65535: a standard community (RFC 1997). */
static int check_community(struct check *c, const struct loc *at, const json_t *o,
			   struct config_bgp *b)
{
	struct loc l = LOC_KEY(at, o, "degraded_community");
	const char *s = NULL;
	unsigned int x, y;
	char tail;
	int rc;

	if ((rc = check_string(c, at, o, "degraded_community", OPTIONAL, &s)))
		return rc;
	if (!s) {
		/* The default (local_asn, 200) needs a 2-byte ASN. */
		if (b->local_asn > 65535)
			return check_bad(c, at, "missing required key \"degraded_community\": "
					 "local_asn %u does not fit a standard community",
					 b->local_asn);
		b->degraded_community[0] = (uint16_t)b->local_asn;
		b->degraded_community[1] = 200;
		b->has_degraded_community = true;
		return 0;
	}
	if (sscanf(s, "%5u:%5u%c", &x, &y, &tail) != 2 || x > 65535 || y > 65535 ||
	    !strchr("0123456789", s[0]))
		return check_bad(c, &l, "\"%.40s\" is not a community: ASN:VALUE, both 0..65535", s);
	b->degraded_community[0] = (uint16_t)x;
	b->degraded_community[1] = (uint16_t)y;
	b->has_degraded_community = true;
	return 0;
}

static int check_bfd(struct check *c, const struct loc *bat, const json_t *top,
		     struct config_bgp *b)
{
	const json_t *o = json_object_get(top, "bfd");
	struct loc at = LOC_KEY(bat, top, "bfd");
	uint64_t mult = b->bfd_multiplier;
	int rc;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the BFD timers", bfd_keys)) ||
	    (rc = check_duration(c, &at, o, "interval", 10, 10000, &b->bfd_interval_ms)) ||
	    (rc = check_uint(c, &at, o, "multiplier", OPTIONAL, 1, 255, &mult)))
		return rc;
	b->bfd_multiplier = (uint32_t)mult;
	return 0;
}

static int check_socket(struct check *c, const struct loc *at, const json_t *o,
			struct config_bgp *b)
{
	struct loc l = LOC_KEY(at, o, "bird_socket");
	const char *s = NULL;
	int rc;

	if ((rc = check_string(c, at, o, "bird_socket", OPTIONAL, &s)) || !s)
		return rc;
	if (s[0] != '/' || strlen(s) >= CONFIG_BGP_SOCKET_MAX)
		return check_bad(c, &l, "must be an absolute path shorter than %d bytes",
				 CONFIG_BGP_SOCKET_MAX);
	strcpy(b->bird_socket, s);
	return 0;
}

/* Kernel tables 0 and 253..255 are unspec, default, main and local: ours must be its own. */
static int check_table(struct check *c, const struct loc *at, const json_t *o,
		       struct config_bgp *b)
{
	struct loc l = LOC_KEY(at, o, "table");
	uint64_t t = b->table;
	int rc;

	if ((rc = check_uint(c, at, o, "table", OPTIONAL, 1, 0xffffffffull, &t)))
		return rc;
	if (t >= 253 && t <= 255)
		return check_bad(c, &l, "table %llu is the kernel's %s table: use a table of its own",
				 (unsigned long long)t, t == 253 ? "default" : t == 254 ? "main"
										: "local");
	b->table = (uint32_t)t;
	return 0;
}

/*
 * rtm_protocol 0..4 are the kernel's own (unspec, redirect, kernel, boot,
 * static) and 12 is BIRD's: BIRD's kernel protocol does not learn routes
 * that look like its own.
 */
static int check_protocol(struct check *c, const struct loc *at, const json_t *o,
			  struct config_bgp *b)
{
	struct loc l = LOC_KEY(at, o, "protocol");
	uint64_t p = b->protocol;
	int rc;

	if ((rc = check_uint(c, at, o, "protocol", OPTIONAL, 5, 255, &p)))
		return rc;
	if (p == 12)
		return check_bad(c, &l, "protocol 12 is BIRD's own: BIRD would not learn the routes");
	b->protocol = (uint8_t)p;
	return 0;
}

static int check_metrics_pair(struct check *c, const struct loc *at, const json_t *o,
			      struct config_bgp *b)
{
	struct loc l = LOC_KEY(at, o, json_object_get(o, "degraded_metric") ? "degraded_metric"
									       : "metric");
	uint64_t m = b->metric, d = b->degraded_metric;
	int rc;

	if ((rc = check_uint(c, at, o, "metric", OPTIONAL, 1, 0xfffffffeull, &m)) ||
	    (rc = check_uint(c, at, o, "degraded_metric", OPTIONAL, 1, 0xffffffffull, &d)))
		return rc;
	if (d <= m)
		return check_bad(c, &l, "degraded_metric %llu must be above metric %llu (a higher "
				 "MED is the worse path)", (unsigned long long)d,
				 (unsigned long long)m);
	b->metric = (uint32_t)m;
	b->degraded_metric = (uint32_t)d;
	return 0;
}

/* The bgp: section's durations: key, accepted range in ms, where the value goes. */
static const struct bgp_timer {
	const char *key;
	uint32_t min_ms, max_ms;
	size_t field;
} bgp_timers[] = {
	{ "drain_wait", 0, 600000, offsetof(struct config_bgp, drain_wait_ms) },
	{ "flap_window", 1000, 3600000, offsetof(struct config_bgp, flap_window_ms) },
	{ "hold_down", 0, 3600000, offsetof(struct config_bgp, hold_down_ms) },
	{ "settle", 0, 600000, offsetof(struct config_bgp, settle_ms) },
	/* RFC 4271 4.2: at least 3 s, at most 65535 s. */
	{ "hold_time", 3000, 65535000, offsetof(struct config_bgp, hold_time_ms) },
};

static int check_timers(struct check *c, const struct loc *at, const json_t *o,
			struct config_bgp *b)
{
	struct loc hl = LOC_KEY(at, o, "hold_time");
	uint64_t limit = b->flap_limit;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bgp_timers) / sizeof(bgp_timers[0]); i++) {
		const struct bgp_timer *t = &bgp_timers[i];

		if ((rc = check_duration(c, at, o, t->key, t->min_ms, t->max_ms,
					 (uint32_t *)((char *)b + t->field))))
			return rc;
	}
	if ((rc = check_uint(c, at, o, "flap_limit", OPTIONAL, 2, 100, &limit)))
		return rc;
	/* RFC 4271 4.2: the hold time is whole seconds. */
	if (b->hold_time_ms % 1000)
		return check_bad(c, &hl, "the BGP hold time is whole seconds (RFC 4271)");
	b->flap_limit = (uint32_t)limit;
	return 0;
}

int config_bgp_check(struct check *c, const struct loc *root, const json_t *top)
{
	struct config_bgp *b = &c->cfg->bgp;
	const json_t *o = json_object_get(top, "bgp");
	struct loc at = LOC_KEY(root, top, "bgp");
	struct loc rl = LOC_KEY(&at, o, "router_id");
	uint8_t rid[16], fam = 0;
	bool enabled = true;
	int rc;

	if (!o)
		return 0;
	if ((rc = check_object(c, &at, o, "the BGP settings", bgp_keys)) ||
	    (rc = check_bool(c, &at, o, "enabled", OPTIONAL, &enabled)) ||
	    (rc = check_asn(c, &at, o, "local_asn", &b->local_asn)) ||
	    (rc = check_addr(c, &at, o, "router_id", REQUIRED, rid, &fam)))
		return rc;
	if (fam != KEEL_AF_INET4)
		return check_bad(c, &rl, "the router id is an IPv4 address (RFC 4271)");
	memcpy(b->router_id, rid, 4);
	if ((rc = check_neighbours(c, &at, o, b)) || (rc = check_community(c, &at, o, b)) ||
	    (rc = check_table(c, &at, o, b)) || (rc = check_protocol(c, &at, o, b)) ||
	    (rc = check_metrics_pair(c, &at, o, b)) ||
	    (rc = check_enum(c, &at, o, "all_backends_down", OPTIONAL, down_modes,
			     &b->all_backends_down)) ||
	    (rc = check_timers(c, &at, o, b)) || (rc = check_bfd(c, &at, o, b)) ||
	    (rc = check_socket(c, &at, o, b)))
		return rc;
	b->enabled = enabled;
	return 0;
}

bool config_bgp_equal(const struct config_bgp *a, const struct config_bgp *b)
{
	uint32_t i;

	if (a->enabled != b->enabled || a->local_asn != b->local_asn ||
	    memcmp(a->router_id, b->router_id, 4) || a->n_neighbours != b->n_neighbours ||
	    a->has_degraded_community != b->has_degraded_community ||
	    memcmp(a->degraded_community, b->degraded_community, 4) || a->table != b->table ||
	    a->protocol != b->protocol || a->metric != b->metric ||
	    a->degraded_metric != b->degraded_metric ||
	    a->all_backends_down != b->all_backends_down || a->drain_wait_ms != b->drain_wait_ms ||
	    a->flap_limit != b->flap_limit || a->flap_window_ms != b->flap_window_ms ||
	    a->hold_down_ms != b->hold_down_ms || a->settle_ms != b->settle_ms ||
	    a->hold_time_ms != b->hold_time_ms ||
	    a->bfd_interval_ms != b->bfd_interval_ms || a->bfd_multiplier != b->bfd_multiplier ||
	    strcmp(a->bird_socket, b->bird_socket))
		return false;
	for (i = 0; i < a->n_neighbours; i++)
		if (a->neighbours[i].family != b->neighbours[i].family ||
		    memcmp(a->neighbours[i].addr, b->neighbours[i].addr, 16) ||
		    a->neighbours[i].asn != b->neighbours[i].asn)
			return false;
	return true;
}

static json_t *dur(uint32_t ms)
{
	char t[CONFIG_TEXT_MAX];

	config_format_duration(ms, t);
	return json_string(t);
}

json_t *config_bgp_to_json(const struct config_bgp *b)
{
	char t[CONFIG_TEXT_MAX], rid[CONFIG_TEXT_MAX], comm[24];
	uint8_t a[16] = { 0 };
	json_t *nbs = json_array(), *o;
	uint32_t i;

	if (!nbs)
		return NULL;
	for (i = 0; i < b->n_neighbours; i++)
		json_array_append_new(nbs, json_pack("{s:s,s:I}", "address",
						     config_format_addr(b->neighbours[i].addr,
									b->neighbours[i].family, t),
						     "asn", (json_int_t)b->neighbours[i].asn));
	memcpy(a, b->router_id, 4);
	config_format_addr(a, KEEL_AF_INET4, rid);
	snprintf(comm, sizeof(comm), "%u:%u", b->degraded_community[0], b->degraded_community[1]);
	o = json_pack("{s:b,s:I,s:s,s:o,s:s,s:I,s:I,s:I,s:I,s:s,s:o,s:I,s:o,s:o,s:o,s:o,"
		      "s:{s:o,s:I},s:s}",
		      "enabled", b->enabled, "local_asn", (json_int_t)b->local_asn, "router_id", rid,
		      "neighbours", nbs, "degraded_community", comm, "table", (json_int_t)b->table,
		      "protocol", (json_int_t)b->protocol, "metric", (json_int_t)b->metric,
		      "degraded_metric", (json_int_t)b->degraded_metric, "all_backends_down",
		      down_modes[b->all_backends_down], "drain_wait", dur(b->drain_wait_ms),
		      "flap_limit", (json_int_t)b->flap_limit, "flap_window", dur(b->flap_window_ms),
		      "hold_down", dur(b->hold_down_ms), "settle", dur(b->settle_ms), "hold_time", dur(b->hold_time_ms), "bfd",
		      "interval", dur(b->bfd_interval_ms), "multiplier",
		      (json_int_t)b->bfd_multiplier, "bird_socket", b->bird_socket);
	if (!o)
		errno = ENOMEM;
	return o;
}

void config_bgp_peer_name(unsigned int i, char *buf, size_t n)
{
	snprintf(buf, n, "keel_peer%u", i);
}

int config_bgp_write_bird_defs(const struct config_bgp *b, FILE *f)
{
	fprintf(f, "# Generated by keel-control --bird-config from the bgp: section; do not edit.\n"
		   "# Included first by keel-host.conf. It changes only with the bgp: section,\n"
		   "# never with the VIPs: those are kernel routes in table %u.\n",
		b->table);
	fprintf(f, "router id %u.%u.%u.%u;\n", b->router_id[0], b->router_id[1], b->router_id[2],
		b->router_id[3]);
	fprintf(f, "define KEEL_ASN = %u;\n", b->local_asn);
	fprintf(f, "define KEEL_KERNEL_TABLE = %u;\n", b->table);
	fprintf(f, "define KEEL_DEGRADED_METRIC = %u;\n", b->degraded_metric);
	fprintf(f, "define KEEL_DEGRADED_COMMUNITY = (%u, %u);\n", b->degraded_community[0],
		b->degraded_community[1]);
	fprintf(f, "define KEEL_HOLD_TIME = %u;\n", b->hold_time_ms / 1000);
	fprintf(f, "define KEEL_BFD_INTERVAL_MS = %u;\n", b->bfd_interval_ms);
	fprintf(f, "define KEEL_BFD_MULTIPLIER = %u;\n", b->bfd_multiplier);
	return ferror(f) ? -EIO : 0;
}

int config_bgp_write_bird_peers(const struct config_bgp *b, FILE *f)
{
	char t[CONFIG_TEXT_MAX], name[32];
	uint32_t i;

	fprintf(f, "# Generated by keel-control --bird-config; included last by keel-host.conf.\n");
	for (i = 0; i < b->n_neighbours; i++) {
		const struct config_bgp_neighbour *n = &b->neighbours[i];

		config_bgp_peer_name(i, name, sizeof(name));
		fprintf(f, "protocol bgp %s from %s {\n\tneighbor %s as %u;\n}\n", name,
			n->family == KEEL_AF_INET4 ? "keel_router4" : "keel_router6",
			config_format_addr(n->addr, n->family, t), n->asn);
	}
	return ferror(f) ? -EIO : 0;
}
