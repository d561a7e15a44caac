/* Configuration loading: bad files refused with line:column and reason, good files to expected values, round trips, limits. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_cases.h"
#include "pkt.h"

#define FIXTURES "../fixtures/config/"

static struct keel_config *load_ok(const char *yaml)
{
	struct keel_config *cfg = NULL;
	struct config_error err;
	int rc = config_load_buffer(yaml, strlen(yaml), "t.yaml", &cfg, &err);

	if (rc)
		fail_msg("refused: %s", err.msg);
	return cfg;
}

static void assert_round_trip(const struct keel_config *cfg)
{
	struct keel_config *back = NULL;
	struct config_error err;
	json_t *j = config_to_json(cfg);
	char *text;

	assert_non_null(j);
	/* Through text, as the API and the state file will carry it. */
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	assert_non_null(text);
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	if (config_from_json(j, "dump", &back, &err))
		fail_msg("canonical form refused: %s\n%s", err.msg, text);
	assert_true(config_equal(cfg, back));
	/* And through the YAML reader: JSON is YAML's flow style. */
	config_free(back);
	back = NULL;
	if (config_load_buffer(text, strlen(text), "dump.yaml", &back, &err))
		fail_msg("canonical form refused as YAML: %s", err.msg);
	assert_true(config_equal(cfg, back));
	config_free(back);
	json_decref(j);
	free(text);
}

/*
 * Each case: refused with -EINVAL at the expected line:column with the reason,
 * and the running model (cur) untouched: same pointer, same value.
 */
static void test_bad_cases(void **state)
{
	struct keel_config *cur, *ref;
	size_t i, failed = 0;

	(void)state;
	assert_int_equal(config_load_file(FIXTURES "full.yaml", &cur, &(struct config_error){ 0 }), 0);
	assert_int_equal(config_load_file(FIXTURES "full.yaml", &ref, &(struct config_error){ 0 }), 0);
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *b = &bad_cases[i];
		struct keel_config *keep = cur;
		struct config_error err = { .line = -1 };
		char prefix[64];
		int rc;

		rc = config_load_buffer(b->yaml, strlen(b->yaml), "bad.yaml", &cur, &err);
		snprintf(prefix, sizeof(prefix), "bad.yaml:%d:%d: ", b->line, b->column);
		if (rc != -EINVAL || err.line != b->line || err.column != b->column ||
		    strncmp(err.msg, prefix, strlen(prefix)) || !strstr(err.msg, b->reason)) {
			print_error("case \"%s\": rc %d, got \"%s\", want %d:%d \"%s\"\n", b->name, rc,
				    err.msg, b->line, b->column, b->reason);
			failed++;
		}
		assert_ptr_equal(cur, keep);
	}
	assert_true(config_equal(cur, ref));
	assert_int_equal(failed, 0);
	assert_true(i >= 35);
	config_free(cur);
	config_free(ref);
}

/* tests/fixtures/config/bad/\*.yaml: the first line says "# expect: LINE:COLUMN: reason". */
static void test_bad_fixtures(void **state)
{
	DIR *d = opendir(FIXTURES "bad");
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[512], first[256], *reason;
		struct keel_config *cfg = NULL;
		struct config_error err;
		int line, column, used = 0;
		FILE *f;

		if (!strstr(e->d_name, ".yaml"))
			continue;
		snprintf(path, sizeof(path), FIXTURES "bad/%s", e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(first, sizeof(first), f));
		fclose(f);
		first[strcspn(first, "\n")] = '\0';
		if (sscanf(first, "# expect: %d:%d: %n", &line, &column, &used) != 2 || !used)
			fail_msg("%s: first line must be '# expect: LINE:COLUMN: reason'", path);
		reason = first + used;
		assert_int_equal(config_load_file(path, &cfg, &err), -EINVAL);
		if (err.line != line || err.column != column || !strstr(err.msg, reason))
			fail_msg("%s: got \"%s\", want %d:%d \"%s\"", path, err.msg, line, column, reason);
		assert_null(cfg);
		n++;
	}
	closedir(d);
	assert_true(n >= 3);
}

static void test_full_example(void **state)
{
	struct keel_config *cfg = NULL;
	struct config_error err;
	const struct config_vip *v;

	(void)state;
	if (config_load_file(FIXTURES "full.yaml", &cfg, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(cfg->instance, "edge1");
	assert_int_equal(cfg->fleet_seed, 0x6b65656c);
	assert_int_equal(cfg->maglev_table_size, 65537);
	assert_int_equal(cfg->n_next_hops, 1);
	assert_true(cfg->next_hops[0].has_gateway);
	assert_false(cfg->next_hops[0].has_mac);
	assert_int_equal(cfg->next_hops[0].gateway_family, KEEL_AF_INET4);
	assert_memory_equal(cfg->next_hops[0].gateway, ((uint8_t[4]){ 192, 0, 2, 254 }), 4);
	assert_true(cfg->has_src4 && cfg->has_src6);
	assert_memory_equal(cfg->src4, ((uint8_t[4]){ 172, 16, 0, 0 }), 4);
	assert_int_equal(cfg->src4_plen, 16);
	assert_int_equal(cfg->src6[0], 0xfd);
	assert_int_equal(cfg->src6[3], 0x01);
	assert_int_equal(cfg->src6_plen, 64);
	assert_int_equal(cfg->mtu, 1500);
	assert_int_equal(cfg->gue_port, 6080);
	assert_string_equal(cfg->api_socket, "/run/keel/control.sock");
	assert_string_equal(cfg->api_group, "keel");
	assert_string_equal(cfg->api_admin_group, "keel-admin");
	assert_int_equal(cfg->metrics_port, 9105);
	assert_int_equal(cfg->health_defaults.interval_ms, 2000);
	assert_int_equal(cfg->health_defaults.timeout_ms, 1000);
	assert_true(cfg->panic_threshold == 0.5);
	assert_int_equal(cfg->n_vips, 3);
	assert_int_equal(cfg->n_warnings, 0);

	v = &cfg->vips[0];
	assert_string_equal(v->name, "web");
	assert_int_equal(v->port, 80);
	assert_int_equal(v->proto, KEEL_PROTO_TCP);
	assert_int_equal(v->health.type, CONFIG_HEALTH_HTTP);
	assert_string_equal(v->health.path, "/healthz");
	assert_int_equal(v->health.expect_status, 200);
	assert_int_equal(v->n_backends, 2);
	assert_int_equal(v->backends[1].weight, 2);
	assert_int_equal(v->backends[1].state, CONFIG_BACKEND_DRAINING);

	v = &cfg->vips[1];
	assert_int_equal(v->family, KEEL_AF_INET6);
	assert_int_equal(v->proto, KEEL_PROTO_UDP);
	assert_int_equal(v->encap, 1); /* KEEL_ENCAP_GUE */
	assert_true(v->fragments);
	assert_int_equal(v->table_size, 65537); /* from the default */
	assert_int_equal(v->health.type, CONFIG_HEALTH_TCP);
	assert_int_equal(v->health.port, 0); /* the VIP's */
	assert_int_equal(v->health.interval_ms, 5000);
	assert_int_equal(v->health.timeout_ms, 500);
	assert_int_equal(v->health.rise, 2); /* from health_defaults */
	assert_int_equal(v->backends[0].weight, 1);
	assert_int_equal(v->backends[1].family, KEEL_AF_INET4);

	assert_true(cfg->bgp.enabled);
	assert_int_equal(cfg->bgp.local_asn, 65001);
	assert_memory_equal(cfg->bgp.router_id, ((uint8_t[4]){ 192, 0, 2, 21 }), 4);
	assert_int_equal(cfg->bgp.n_neighbours, 2);
	assert_int_equal(cfg->bgp.neighbours[1].asn, 4200000000u);
	assert_int_equal(cfg->bgp.neighbours[1].family, KEEL_AF_INET6);
	assert_int_equal(cfg->bgp.degraded_community[0], 65001);
	assert_int_equal(cfg->bgp.degraded_community[1], 200);
	assert_int_equal(cfg->bgp.table, 100);
	assert_int_equal(cfg->bgp.protocol, 250);
	assert_int_equal(cfg->bgp.degraded_metric, 200);
	assert_int_equal(cfg->bgp.all_backends_down, CONFIG_BGP_DOWN_DEGRADED);
	assert_int_equal(cfg->bgp.drain_wait_ms, 5000);
	assert_int_equal(cfg->bgp.flap_window_ms, 60000);
	assert_int_equal(cfg->bgp.bfd_interval_ms, 100);
	assert_int_equal(cfg->bgp.hold_time_ms, 3000);

	v = &cfg->vips[2];
	assert_true(v->all_ports);
	assert_int_equal(v->port, 0);
	assert_int_equal(v->table_size, 251);
	assert_int_equal(v->health.port, 22);
	assert_int_equal(v->backends[0].state, CONFIG_BACKEND_DISABLED);
	assert_round_trip(cfg);
	config_free(cfg);
}

static void test_defaults(void **state)
{
	struct keel_config *cfg = load_ok(HEAD);

	(void)state;
	assert_int_equal(cfg->fleet_seed, 0x6b65656c);
	assert_int_equal(cfg->maglev_table_size, 65537);
	assert_int_equal(cfg->mtu, 1500);
	assert_int_equal(cfg->gue_port, 6080);
	assert_string_equal(cfg->api_socket, "/run/keel/control.sock");
	assert_string_equal(cfg->api_group, "");
	assert_int_equal(cfg->metrics_family, KEEL_AF_INET4);
	assert_int_equal(cfg->metrics_port, 9105);
	assert_int_equal(cfg->health_defaults.fall, 3);
	assert_true(cfg->panic_threshold == 0.5);
	assert_int_equal(cfg->n_vips, 0);
	assert_round_trip(cfg);
	config_free(cfg);
}

/* Scalars in every accepted spelling. */
static void test_forms(void **state)
{
	struct keel_config *cfg;

	(void)state;
	cfg = load_ok(HEAD "fleet_seed: \"0xFFFFFFFFFFFFFFFF\"\nmetrics: {listen: \"[::1]:9200\"}\n"
			   "health_defaults: {interval: 1m, timeout: 3}\npanic_threshold: 1\n");
	assert_true(cfg->fleet_seed == UINT64_MAX);
	assert_int_equal(cfg->metrics_family, KEEL_AF_INET6);
	assert_int_equal(cfg->metrics_port, 9200);
	assert_int_equal(cfg->health_defaults.interval_ms, 60000);
	assert_int_equal(cfg->health_defaults.timeout_ms, 3000);
	assert_true(cfg->panic_threshold == 1.0);
	assert_round_trip(cfg);
	config_free(cfg);

	/* A plain 64-bit hex seed (too big for json_int_t), a decimal one, a fixed MAC. */
	cfg = load_ok("instance: e1\nfleet_seed: 0xffffffffffffffff\nnext_hop: {mac: \"02:AA:bb:cc:dd:ee\"}\n"
		      "encap_source: {ipv6: \"2001:db8:ff::/48\"}\n");
	assert_true(cfg->fleet_seed == UINT64_MAX);
	assert_true(cfg->next_hops[0].has_mac);
	assert_int_equal(cfg->next_hops[0].mac[1], 0xaa);
	assert_false(cfg->has_src4);
	assert_round_trip(cfg);
	config_free(cfg);
	/* A next hop may be link-local (IPv6 routers, unnumbered links); VIPs and backends near
	 * the refused blocks are ordinary addresses. */
	cfg = load_ok("instance: e1\nnext_hop: {gateway: \"fe80::1\"}\n"
		      "encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\nvips:\n"
		      "  - {name: a, address: 223.255.255.254, port: 80, protocol: tcp,"
		      " backends: [{address: 1.0.0.1}, {address: 126.255.255.255}, {address: \"fec0::1\"}]}\n"
		      "  - {name: b, address: \"2001:db8::1\", port: 80, protocol: tcp,"
		      " backends: [{address: \"::1:0:0:1\"}, {address: 169.253.0.1}]}\n");
	assert_int_equal(cfg->n_vips, 2);
	config_free(cfg);
	cfg = load_ok("instance: e1\nnext_hop: {gateway: 169.254.1.1}\nencap_source: {ipv4: 172.16.0.0/16}\n");
	config_free(cfg);
	/* Several next hops (dual-ToR): a list of gateways and MACs, each on its port if named. */
	cfg = load_ok("instance: e1\nnext_hops:\n  - {gateway: 192.0.2.1, interface: eth0}\n"
		      "  - {gateway: \"fe80::2\", interface: eth1}\n  - {mac: \"02:00:00:00:00:03\"}\n"
		      "encap_source: {ipv4: 172.16.0.0/16}\n");
	assert_int_equal(cfg->n_next_hops, 3);
	assert_string_equal(cfg->next_hops[0].interface, "eth0");
	assert_int_equal(cfg->next_hops[1].gateway_family, KEEL_AF_INET6);
	assert_true(cfg->next_hops[2].has_mac && !cfg->next_hops[2].has_gateway);
	assert_string_equal(cfg->next_hops[2].interface, "");
	assert_round_trip(cfg);
	config_free(cfg);
	/* A list of one is the same configuration as next_hop. */
	{
		struct keel_config *one = load_ok(HEAD);

		cfg = load_ok("instance: e1\nnext_hops: [{gateway: 192.0.2.254}]\n"
			      "encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\n");
		assert_true(config_equal(cfg, one));
		config_free(one);
		config_free(cfg);
	}
	cfg = load_ok(HEAD "fleet_seed: 12345\n");
	assert_int_equal(cfg->fleet_seed, 12345);
	config_free(cfg);

	/* Block style, comments, a weight of 0, a document marker. */
	cfg = load_ok("---\n" HEAD "vips:\n"
		      "  - name: web   # comment\n"
		      "    address: \"192.0.2.10\"\n"
		      "    port: 443\n"
		      "    protocol: udp\n"
		      "    backends:\n"
		      "      - address: 10.0.0.1\n"
		      "        weight: 0\n"
		      "      - address: 10.0.0.2\n"
		      "...\n");
	assert_int_equal(cfg->vips[0].backends[0].weight, 0);
	assert_int_equal(cfg->vips[0].proto, KEEL_PROTO_UDP);
	assert_int_equal(cfg->vips[0].health.type, CONFIG_HEALTH_NONE);
	assert_round_trip(cfg);
	config_free(cfg);
}

/* The check kinds of issue 22: every key read, and the canonical JSON loads back equal. */
static void test_health_kinds(void **state)
{
	const struct config_health *h;
	struct keel_config *cfg;

	(void)state;
	cfg = load_ok(HEAD "vips:\n"
		      "  - {name: web, address: 192.0.2.10, port: 443, protocol: tcp, backends: [{address: 10.0.0.1}],\n"
		      "     health_check: {type: https, host: www.example.org, path: /ready, expect_status: \"200-399\"}}\n"
		      "  - {name: udp, address: 192.0.2.11, port: 9000, protocol: udp, backends: [{address: 10.0.0.1}],\n"
		      "     health_check: {type: udp, send: \"ping\\n\", expect: pong}}\n"
		      "  - {name: dns, address: 192.0.2.12, port: 53, protocol: udp, backends: [{address: 10.0.0.1}],\n"
		      "     health_check: {type: dns, query: svc.example, query_type: aaaa, address: 10.9.9.9, port: 5353}}\n"
		      "  - {name: one, address: 192.0.2.13, port: 80, protocol: tcp, backends: [{address: 10.0.0.1}],\n"
		      "     health_check: {type: http, expect_status: \"204-204\"}}\n");
	h = &cfg->vips[0].health;
	assert_int_equal(h->type, CONFIG_HEALTH_HTTPS);
	assert_string_equal(h->host, "www.example.org");
	assert_string_equal(h->path, "/ready");
	assert_int_equal(h->expect_status, 200);
	assert_int_equal(h->expect_status_max, 399);
	h = &cfg->vips[1].health;
	assert_int_equal(h->type, CONFIG_HEALTH_UDP);
	assert_int_equal(h->send_len, 5);
	assert_memory_equal(h->send, "ping\n", 5);
	assert_int_equal(h->expect_len, 4);
	h = &cfg->vips[2].health;
	assert_int_equal(h->type, CONFIG_HEALTH_DNS);
	assert_string_equal(h->host, "svc.example");
	assert_int_equal(h->qtype, 28);
	assert_int_equal(h->family, KEEL_AF_INET4);
	assert_int_equal(h->addr[0], 10);
	assert_int_equal(h->port, 5353);
	h = &cfg->vips[3].health;
	assert_int_equal(h->expect_status, 204);
	assert_int_equal(h->expect_status_max, 0); /* a one-status range is that status */
	assert_round_trip(cfg);
	config_free(cfg);
}

static void test_warnings(void **state)
{
	struct keel_config *cfg;

	(void)state;
	cfg = load_ok(HEAD VIPK("maglev_table_size: 251, backends: [{address: 10.0.0.1}, {address: 10.0.0.2},"
				" {address: 10.0.0.3}]"));
	assert_int_equal(cfg->n_warnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "t.yaml:5:82: vips[0].maglev_table_size: "
						 "maglev_table_size 251 is less than 100 x 3 backends"));
	config_free(cfg);
	cfg = load_ok(HEAD VIP("{address: 10.0.0.1, state: draining}, {address: 10.0.0.2, weight: 0}"));
	assert_int_equal(cfg->n_warnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "has no active backend with a weight above 0"));
	config_free(cfg);
}

/* The same tree from the API (JSON) is refused with a JSON path instead of a position. */
static void test_json_paths(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"instance\": \"e1\", \"next_hop\": {\"gateway\": \"192.0.2.1\"},"
		  " \"encap_source\": {\"ipv4\": \"10.0.0.0/8\"}, \"vips\": [{\"name\": \"a\","
		  " \"address\": \"192.0.2.10\", \"port\": 80, \"protocol\": \"tcp\", \"backends\":"
		  " [{\"address\": \"10.0.0.1\"}, {\"address\": \"10.0.0.2\", \"weight\": 65536}]}]}",
		  "api: vips[0].backends[1].weight: 65536 is out of range 0..65535" },
		{ "{\"instance\": \"e1\", \"next_hop\": {\"gateway\": \"192.0.2.1\"}}",
		  "api: missing required key \"encap_source\"" },
		{ "{\"instance\": \"e1\", \"next_hop\": {\"gateway\": \"192.0.2.1\", \"via\": 1}}",
		  "api: next_hop: unknown key \"via\"" },
		{ "{\"instance\": \"e\\u0000x\"}", "api: instance: NUL character" },
		{ "[1]", "api: expected the configuration (a mapping), got a list" },
		{ "{\"instance\": \"e1\", \"next_hop\": {\"gateway\": \"192.0.2.1\"},"
		  " \"encap_source\": {\"ipv4\": \"10.0.0.0/8\"}, \"vips\": [{\"name\": \"a\","
		  " \"address\": \"192.0.2.10\", \"port\": 80, \"protocol\": \"tcp\", \"backends\":"
		  " [{\"address\": \"127.0.0.1\"}]}]}",
		  "api: vips[0].backends[0].address: 127.0.0.1 is a loopback address" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_loads(cases[i].json, JSON_ALLOW_NUL, NULL);
		struct keel_config *cfg = NULL;
		struct config_error err;

		assert_non_null(j);
		assert_int_equal(config_from_json(j, "api", &cfg, &err), -EINVAL);
		assert_null(cfg);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("got \"%s\", want \"%s\"", err.msg, cases[i].msg);
		assert_int_equal(err.line, 0);
		json_decref(j);
	}
}

/* Grow text with snprintf-like appends into a malloc'd buffer. */
struct text {
	char *s;
	size_t len, cap;
};

static void append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cap - t->len < 256) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->s = realloc(t->s, t->cap);
		assert_non_null(t->s);
	}
	va_start(ap, fmt);
	n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < t->cap - t->len);
	t->len += (size_t)n;
}

/* n_vips VIPs of per_vip backends each, in block style. */
static char *generate(unsigned n_vips, unsigned per_vip)
{
	struct text t = { 0 };
	unsigned i, j;

	append(&t, HEAD "vips:\n");
	for (i = 0; i < n_vips; i++) {
		append(&t, "  - {name: v%u, address: 198.18.%u.%u, port: 80, protocol: tcp, backends: [",
		       i, i / 256, i % 256);
		for (j = 0; j < per_vip; j++)
			append(&t, "%s{address: 10.%u.%u.%u}", j ? ", " : "", i % 256, j / 256, j % 256);
		append(&t, "]}\n");
	}
	return t.s;
}

static void test_limits(void **state)
{
	struct keel_config *cfg = NULL;
	struct config_error err;
	char *big;
	size_t n;

	(void)state;
	/* At the limits: accepted. */
	big = generate(CONFIG_MAX_VIPS, CONFIG_MAX_BACKENDS / CONFIG_MAX_VIPS);
	cfg = load_ok(big);
	assert_int_equal(cfg->n_vips, CONFIG_MAX_VIPS);
	assert_round_trip(cfg);
	config_free(cfg);
	free(big);

	/* One VIP more. */
	big = generate(CONFIG_MAX_VIPS + 1, 0);
	cfg = NULL;
	assert_int_equal(config_load_buffer(big, strlen(big), "big.yaml", &cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "big.yaml:5:3: vips: too many VIPs: 1025, at most 1024"));
	assert_null(cfg);
	free(big);

	/* One backend more, in the last VIP. */
	big = generate(2, CONFIG_MAX_BACKENDS / 2 + 1);
	assert_int_equal(config_load_buffer(big, strlen(big), "big.yaml", &cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "big.yaml:6:"));
	assert_non_null(strstr(err.msg, "vips[1].backends: too many backends"));
	free(big);

	/* Over a MiB, refused before parsing. */
	n = CONFIG_MAX_FILE_BYTES + 1;
	big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(config_load_buffer(big, n, "big.yaml", &cfg, &err), -EFBIG);
	free(big);
	assert_int_equal(config_load_file(FIXTURES "missing.yaml", &cfg, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing.yaml: cannot read"));
	assert_int_equal(config_load_file(FIXTURES, &cfg, &err), -EINVAL);
	assert_null(cfg);
}

/*
 * Source lists: accepted in both families, in canonical form and back; allow
 * next to deny warns; 100 000 IPv4 and 100 000 IPv6 prefixes load, one more
 * than KEEL_SRC_MAX_PREFIXES over all VIPs is refused where it crosses.
 */
static char *sources_yaml(uint32_t n4, uint32_t n6)
{
	size_t cap = 4096 + (size_t)(n4 + n6) * 32, len;
	char *y = malloc(cap);

	assert_non_null(y);
	len = (size_t)snprintf(y, cap, HEAD "vips:\n"
			       "  - {name: a, address: 192.0.2.10, port: 80, protocol: tcp, "
			       "backends: [{address: 10.0.0.1}], sources: {mode: count, deny: [");
	for (uint32_t i = 0; i < n4; i++)
		len += (size_t)snprintf(y + len, cap - len, "%s%u.%u.%u.0/24", i ? ", " : "",
					  64 + (i >> 16), (i >> 8) & 255, i & 255);
	len += (size_t)snprintf(y + len, cap - len, "]}}\n  - {name: b, address: \"2001:db8::10\", "
				"port: 80, protocol: tcp, backends: [{address: 10.0.0.1}], sources: {allow: [");
	for (uint32_t i = 0; i < n6; i++)
		len += (size_t)snprintf(y + len, cap - len, "%s\"2001:db8:%x:%x::/64\"", i ? ", " : "",
					  i >> 16, i & 0xffff);
	snprintf(y + len, cap - len, "]}}\n");
	return y;
}

static void test_sources(void **state)
{
	struct keel_config *cfg = NULL;
	struct config_error err;
	char *y;

	(void)state;
	cfg = load_ok(HEAD VIPK("backends: [{address: 10.0.0.1}], sources: {allow: [10.0.0.0/8, "
				"198.51.100.0/24], deny: [192.168.0.0/16]}"));
	assert_non_null(cfg->vips[0].sources);
	assert_int_equal(cfg->vips[0].sources->mode, KEEL_SRC_ENFORCE);
	assert_int_equal(cfg->vips[0].sources->n_allow, 2);
	assert_int_equal(cfg->vips[0].sources->n_deny, 1);
	assert_int_equal(cfg->vips[0].sources->allow[1].plen, 24);
	assert_int_equal(cfg->n_warnings, 1);
	assert_non_null(strstr(cfg->warnings[0], "t.yaml:5:105: vips[0].sources: deny entries next to allow"));
	assert_round_trip(cfg);
	config_free(cfg);

	y = sources_yaml(100000, 100000);
	cfg = load_ok(y);
	assert_int_equal(cfg->vips[0].sources->n_deny, 100000);
	assert_int_equal(cfg->vips[0].sources->mode, KEEL_SRC_COUNT);
	assert_int_equal(cfg->vips[1].sources->n_allow, 100000);
	assert_int_equal(cfg->vips[1].sources->allow[99999].plen, 64);
	assert_round_trip(cfg);
	config_free(cfg);
	free(y);

	y = sources_yaml(200000, KEEL_SRC_MAX_PREFIXES - 200000 + 1);
	cfg = NULL;
	assert_int_equal(config_load_buffer(y, strlen(y), "big.yaml", &cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "big.yaml:6:"));
	assert_non_null(strstr(err.msg, "vips[1].sources.allow: too many source prefixes: 62145 here "
				       "after 200000 before, at most 262144"));
	assert_null(cfg);
	free(y);
}

/*
 * Degenerate YAML at the edges of the event parser (empty documents, bare
 * markers, directives, undefined aliases). fuzz_config found no crash; its
 * crashes would be added here.
 */
/*
 * The fleet split: a spec (the spec keys of a configuration, "version": 1) merged onto a host's
 * keys gives the configuration back; a spec with a host key, another version or no object is
 * refused; a host's keel.yaml (a file) with a fleet: section refuses spec keys with line:column.
 */
static void test_fleet_split(void **state)
{
	static const char host[] = "instance: e1\nnext_hop: {gateway: 192.0.2.254}\n"
				   "encap_source: {ipv4: 172.16.0.0/16}\n"
				   "fleet: {endpoints: [\"http://10.0.0.1:2379\"], prefix: /keel/a}\n";
	struct keel_config *full, *local, *merged = NULL;
	struct config_error err = { 0 };
	json_t *spec, *bad;
	char path[] = "/tmp/keel-test-fleet-XXXXXX";
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(config_load_file(FIXTURES "full.yaml", &full, &err), 0);
	assert_int_equal(config_load_buffer(host, strlen(host), "host.yaml", &local, &err), 0);
	assert_true(local->fleet.enabled);
	assert_string_equal(local->fleet.host, "e1");
	assert_int_equal(local->fleet.timeout_ms, 1500);
	spec = config_fleet_spec_json(full);
	assert_non_null(spec);
	assert_null(json_object_get(spec, "instance"));
	assert_null(json_object_get(spec, "next_hop"));
	assert_non_null(json_object_get(spec, "vips"));
	/* The full example's VIPs need its encap_source: merged onto its own host keys. */
	assert_int_equal(config_fleet_merge(full, spec, "spec", &merged, &err), 0);
	assert_true(config_equal(merged, full));
	config_free(merged);
	merged = NULL;
	bad = json_deep_copy(spec);
	json_object_set_new(bad, "instance", json_string("x"));
	assert_int_equal(config_fleet_merge(full, bad, "spec", &merged, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "a host-local key"));
	json_object_set_new(bad, "instance", NULL);
	json_object_del(bad, "instance");
	json_object_set_new(bad, "version", json_integer(2));
	assert_int_equal(config_fleet_merge(full, bad, "spec", &merged, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "version 2"));
	json_decref(bad);
	bad = json_string("x");
	assert_int_equal(config_fleet_merge(full, bad, "spec", &merged, &err), -EINVAL);
	assert_null(merged);
	json_decref(bad);
	json_decref(spec);
	/* The same keel.yaml with a spec key, as a file: refused where the key is. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "%smtu: 1500\n", host);
	fclose(f);
	assert_int_equal(config_load_file(path, &merged, &err), -EINVAL);
	assert_int_equal(err.line, 5);
	assert_int_equal(err.column, 1);
	assert_non_null(strstr(err.msg, "a fleet spec key in a fleet-mode keel.yaml"));
	unlink(path);
	config_free(local);
	config_free(full);
}

static void test_yaml_edges(void **state)
{
	static const char *const inputs[] = {
		"", "---", "...", "- - - - -", "{", "[", "a: b: c", "\"\\u0000\": 1", "? : :",
		"%YAML 1.1\n---\n", "%TAG ! tag:x,2000:\n--- !a 1\n", "*a", "&a [*a]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct keel_config *cfg = NULL;
		struct config_error err;

		assert_int_equal(config_load_buffer(inputs[i], strlen(inputs[i]), "f", &cfg, &err),
				 -EINVAL);
		assert_null(cfg);
	}
}

/* A QUIC VIP: its flag and server ids in the model, through the canonical form and back, and in a diff. */
static void test_quic(void **state)
{
	static const char *yaml = "instance: e1\nnext_hop: {gateway: 192.0.2.254}\n"
		"encap_source: {ipv4: 172.16.0.0/16}\n"
		"vips:\n  - {name: q, address: 192.0.2.10, port: 443, protocol: udp, quic: true, backends:\n"
		"      [{address: 10.0.0.1, server_id: 65535}, {address: 10.0.0.2, server_id: 1}]}\n"
		"  - {name: u, address: 192.0.2.11, port: 53, protocol: udp, backends: [{address: 10.0.0.3}]}\n";
	struct keel_config *cfg = load_ok(yaml);

	(void)state;
	assert_true(cfg->vips[0].quic);
	assert_int_equal(cfg->vips[0].backends[0].server_id, 65535);
	assert_int_equal(cfg->vips[0].backends[1].server_id, 1);
	assert_false(cfg->vips[1].quic);
	assert_int_equal(cfg->vips[1].backends[0].server_id, 0);
	assert_round_trip(cfg);
	config_free(cfg);
}

/* Slow start's window: read, 0 when absent, through the canonical form and back, and in a diff. */
static void test_slow_start(void **state)
{
	static const char *yaml = "instance: e1\nnext_hop: {gateway: 192.0.2.254}\n"
		"encap_source: {ipv4: 172.16.0.0/16}\n"
		"vips:\n  - {name: a, address: 192.0.2.10, port: 80, protocol: tcp, slow_start: 30s,"
		" backends: [{address: 10.0.0.1}]}\n"
		"  - {name: b, address: 192.0.2.11, port: 80, protocol: tcp, slow_start: 0s,"
		" backends: [{address: 10.0.0.1}]}\n"
		"  - {name: c, address: 192.0.2.12, port: 80, protocol: tcp, backends: [{address: 10.0.0.3}]}\n";
	struct keel_config *cfg = load_ok(yaml);

	(void)state;
	assert_int_equal(cfg->vips[0].slow_start_ms, 30000);
	assert_int_equal(cfg->vips[1].slow_start_ms, 0);
	assert_int_equal(cfg->vips[2].slow_start_ms, 0);
	assert_round_trip(cfg);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_health_kinds),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_json_paths),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_slow_start),
		cmocka_unit_test(test_yaml_edges),
		cmocka_unit_test(test_fleet_split),
		cmocka_unit_test(test_quic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
