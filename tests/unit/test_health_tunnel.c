/* Unit tests for the tunnel health probe: its packet equals what the dataplane's pipeline sends for the same SYN, and only the right answer counts. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "config_model.h"
#include "csum.h"
#include "encap.h"
#include "flow_table.h"
#include "health_tunnel.h"
#include "pipeline.h"
#include "snapfix.h"
#include "wire.h"

#define HEADROOM 128
#define FRAME_MAX 512

static const struct keel_port port = { .mac = { 0x02, 0, 0, 0, 0, 0x02 }, .mtu = 1500 };

static struct keel_backend_spec bes[2];
static struct keel_vip_spec vips[2];

/* VIP 0: 198.51.100.10:8080/tcp IPIP to 10.0.0.1; VIP 1: 198.51.100.11:8080/tcp GUE to 10.0.0.2. */
static struct keel_snapshot *build(struct keel_snapshot_spec *spec)
{
	bes[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	bes[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("198.51.100.10", 8080, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 0, 251,
			      &bes[0], 1);
	vips[1] = snapfix_vip("198.51.100.11", 8080, KEEL_PROTO_TCP, 0, KEEL_ENCAP_GUE, 1, 251,
			      &bes[1], 1);
	memset(spec, 0, sizeof(*spec));
	spec->n_vips = 2;
	spec->vips = vips;
	snapfix_spec_defaults(spec);
	return snapfix_build(spec);
}

static void flow_for(struct health_tunnel_flow *f, int vip)
{
	static const uint8_t src[4] = { 203, 0, 113, 1 };

	memset(f, 0, sizeof(*f));
	memcpy(f->src, src, 4);
	f->vip[0] = 198, f->vip[1] = 51, f->vip[2] = 100, f->vip[3] = (uint8_t)(10 + vip);
	f->backend[0] = 10, f->backend[3] = (uint8_t)(1 + vip);
	f->sport = 40001;
	f->dport = 8080;
	f->seq = 0x12345678;
	f->encap = vip ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP;
}

/*
 * The SYN goes through keel_pipeline_burst (VIP lookup, Maglev, flow table,
 * encap_packet) with a snapshot from the real builder; the probe, built from
 * the same output parameters as keel-control passes them (health_sync), with
 * the entropy the pipeline chose (read back from the outer source's host bits
 * and the GUE source port), must be the same bytes after Ethernet.
 */
static void check_same_as_pipeline(int vip)
{
	struct flow_table_params fp = { .capacity = 1024, .secret = 7,
					.timeout_ms = { 60000, 5000, 30000 } };
	size_t sz = flow_table_mem_size(fp.capacity);
	void *ftmem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	struct keel_snapshot_spec spec;
	struct keel_snapshot *s = build(&spec);
	struct keel_counters *ctr = calloc(1, sizeof(*ctr));
	struct keel_worker w = { 0 };
	static uint8_t mem[HEADROOM + FRAME_MAX];
	uint8_t verdict = 0, probe[HEALTH_TUNNEL_PKT_MAX];
	struct health_tunnel_conf conf = { .src4_plen = spec.src4_plen, .ttl = spec.ttl,
					   .gue_port = spec.gue_port, .mtu = spec.mtu };
	struct health_tunnel_flow f;
	const struct keel_backend *be;
	struct keel_buf b;
	uint32_t entropy;
	uint16_t overhead = encap_overhead(KEEL_AF_INET4, vip ? KEEL_ENCAP_GUE : KEEL_ENCAP_IPIP);
	const uint8_t *ip;
	int n;

	assert_non_null(ftmem);
	assert_non_null(ctr);
	memcpy(conf.src4, spec.src4, 4);
	w.ft = flow_table_init(ftmem, sz, &fp);
	assert_non_null(w.ft);
	w.snap = s;
	w.ctr = ctr;
	w.now_ms = 1000;

	flow_for(&f, vip);
	memset(mem, 0, sizeof(mem));
	memcpy(mem + HEADROOM, port.mac, 6);
	mem[HEADROOM + 6] = 0x02;
	mem[HEADROOM + 11] = 0x09;
	wire_put16(mem + HEADROOM + 12, WIRE_ETH_P_IPV4);
	health_tunnel_syn(mem + HEADROOM + WIRE_ETH_HLEN, &f, (uint16_t)(spec.mtu - overhead - 40));
	b.data = mem + HEADROOM;
	b.len = WIRE_ETH_HLEN + HEALTH_TUNNEL_SYN_LEN;
	b.headroom = HEADROOM;
	b.tailroom = (uint16_t)(FRAME_MAX - b.len);
	b.port = 0;
	assert_int_equal(keel_pipeline_burst(&w, &port, &b, &verdict, 1), 1);
	assert_int_equal(verdict, KEEL_VERDICT_FORWARD);
	ip = b.data + WIRE_ETH_HLEN;
	assert_memory_equal(ip + 16, f.backend, 4); /* Maglev chose the VIP's only backend */

	be = &keel_snapshot_backends(s)[vip];
	entropy = wire_get32(ip + 12) & be->tmpl.ent_mask;
	if (vip) /* GUE: the top 14 bits ride in the UDP source port */
		entropy |= (uint32_t)(wire_get16(ip + 20) & 0x3fff) << 18;
	n = health_tunnel_build(probe, sizeof(probe), &conf, &f, entropy);
	assert_int_equal(n, b.len - WIRE_ETH_HLEN);
	assert_int_equal(n, overhead + HEALTH_TUNNEL_SYN_LEN);
	assert_memory_equal(probe, ip, (size_t)n);
	/* and it is a probe to VIP:port inside: the inner SYN after the outer headers */
	assert_memory_equal(probe + overhead + 16, f.vip, 4);
	assert_int_equal(probe[9], vip ? KEEL_PROTO_UDP : 4);

	free(ctr);
	free(s);
	free(ftmem);
}

static void test_ipip_same_as_pipeline(void **state)
{
	(void)state;
	check_same_as_pipeline(0);
}

static void test_gue_same_as_pipeline(void **state)
{
	(void)state;
	check_same_as_pipeline(1);
}

/* The inner SYN on its own: valid checksums (computed here the slow way), SYN only, the MSS asked. */
static void test_syn_bytes(void **state)
{
	struct health_tunnel_flow f;
	uint8_t p[HEALTH_TUNNEL_SYN_LEN], pseudo[12];
	uint32_t sum = 0;

	(void)state;
	flow_for(&f, 0);
	assert_int_equal(health_tunnel_syn(p, &f, 1400), HEALTH_TUNNEL_SYN_LEN);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
	memcpy(pseudo, p + 12, 8);
	pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = 0, pseudo[11] = 24;
	sum = 0;
	for (int i = 0; i < 12; i += 2)
		sum += (uint32_t)(pseudo[i] << 8 | pseudo[i + 1]);
	for (int i = 20; i < 44; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
	assert_int_equal(p[20 + 13], 0x02);
	assert_int_equal(wire_get32(p + 24), 0x12345678);
	assert_int_equal(wire_get16(p + 20 + 22), 1400);
	assert_int_equal(p[6] & 0x40, 0x40); /* DF */
}

/* An answer as the backend's kernel sends it: from VIP:port to us, flags and ack as given. */
static size_t answer(uint8_t *p, const struct health_tunnel_flow *f, uint8_t flags, uint32_t ack)
{
	memset(p, 0, 40);
	p[0] = 0x45;
	wire_put16(p + 2, 40);
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, f->vip, 4);
	memcpy(p + 16, f->src, 4);
	wire_put16(p + 20, f->dport);
	wire_put16(p + 22, f->sport);
	wire_put32(p + 28, ack);
	p[32] = 5 << 4;
	p[33] = flags;
	return 40;
}

static void test_answer(void **state)
{
	struct health_tunnel_flow f;
	uint8_t p[64];
	size_t n;

	(void)state;
	flow_for(&f, 0);
	n = answer(p, &f, 0x12, f.seq + 1);
	assert_int_equal(health_tunnel_answer(p, n, &f), 1);       /* SYN-ACK */
	n = answer(p, &f, 0x14, f.seq + 1);
	assert_int_equal(health_tunnel_answer(p, n, &f), 2);       /* RST-ACK: refused */
	n = answer(p, &f, 0x12, f.seq);
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);       /* not our SYN's ack */
	n = answer(p, &f, 0x02, f.seq + 1);
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);       /* no ACK flag */
	n = answer(p, &f, 0x10, f.seq + 1);
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);       /* a bare ACK */
	n = answer(p, &f, 0x12, f.seq + 1);
	p[15] ^= 1;                                                /* another source */
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);
	n = answer(p, &f, 0x12, f.seq + 1);
	wire_put16(p + 22, (uint16_t)(f.sport + 1));               /* another port */
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);
	n = answer(p, &f, 0x12, f.seq + 1);
	wire_put16(p + 6, 0x2000);                                 /* a fragment */
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);
	n = answer(p, &f, 0x12, f.seq + 1);
	assert_int_equal(health_tunnel_answer(p, 39, &f), 0);      /* truncated */
	p[0] = 0x44;                                               /* a bad IHL */
	assert_int_equal(health_tunnel_answer(p, n, &f), 0);
}

/* A tunnel MTU too small for the SYN: refused, never a truncated packet. */
static void test_mtu_too_small(void **state)
{
	struct health_tunnel_conf conf = { .src4_plen = 32, .gue_port = 6080, .mtu = 70 };
	struct health_tunnel_flow f;
	uint8_t p[HEALTH_TUNNEL_PKT_MAX];

	(void)state;
	flow_for(&f, 1);
	assert_int_equal(health_tunnel_build(p, sizeof(p), &conf, &f, 0), -EINVAL);
	conf.mtu = 76;
	assert_int_equal(health_tunnel_build(p, sizeof(p), &conf, &f, 0), 76);
}

/* The checker takes tunnel targets only where a probe can be built: TCP, IPv4, IPIP or GUE. */
static void test_target_valid(void **state)
{
	struct health_target t;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.family = HEALTH_AF_INET4;
	t.addr[0] = 10, t.addr[3] = 1;
	t.port = 8080;
	t.type = HEALTH_TCP;
	t.interval_ms = 1000;
	t.timeout_ms = 500;
	t.rise = t.fall = 1;
	t.via = HEALTH_VIA_TUNNEL;
	t.vip[0] = 198, t.vip[1] = 51, t.vip[2] = 100, t.vip[3] = 10;
	assert_true(health_target_valid(&t));
	t.encap = KEEL_ENCAP_GUE;
	assert_true(health_target_valid(&t));
	t.encap = 2;
	assert_false(health_target_valid(&t));
	t.encap = KEEL_ENCAP_IPIP;
	t.via = 2;
	assert_false(health_target_valid(&t));
	t.via = HEALTH_VIA_TUNNEL;
	t.family = HEALTH_AF_INET6;
	assert_false(health_target_valid(&t));
	t.family = HEALTH_AF_INET4;
	t.type = HEALTH_UDP;
	t.payload_len = 1;
	assert_false(health_target_valid(&t));
}

/*
 * health_check.via: asked for, it is kept; from health_defaults, it applies to
 * the checks that can go through the tunnel (tcp, IPv4 VIP and backends, no
 * check address) and the others stay direct; the canonical JSON form reads
 * back equal (an explicit direct under a tunnel default included).
 */
static void test_config_via(void **state)
{
	static const char yaml[] =
		"instance: e1\n"
		"next_hop: {gateway: 192.0.2.254}\n"
		"encap_source: {ipv4: 172.16.0.0/16, ipv6: \"fd00::/64\"}\n"
		"health_defaults: {via: tunnel}\n"
		"vips:\n"
		"  - {name: a, address: 192.0.2.10, port: 80, protocol: tcp,\n"
		"     health_check: {type: tcp}, backends: [{address: 10.0.0.1}]}\n"
		"  - {name: b, address: 192.0.2.11, port: 80, protocol: tcp,\n"
		"     health_check: {type: http}, backends: [{address: 10.0.0.1}]}\n"
		"  - {name: c, address: 192.0.2.12, port: 80, protocol: tcp,\n"
		"     health_check: {type: tcp, address: 10.0.0.9}, backends: [{address: 10.0.0.1}]}\n"
		"  - {name: d, address: 192.0.2.13, port: 80, protocol: tcp,\n"
		"     health_check: {type: tcp}, backends: [{address: \"2001:db8:be::1\"}]}\n"
		"  - {name: e, address: 192.0.2.14, port: 80, protocol: tcp,\n"
		"     health_check: {type: tcp, via: direct}, backends: [{address: 10.0.0.1}]}\n"
		"  - {name: f, address: 192.0.2.15, port: 80, protocol: tcp, encap: gue,\n"
		"     health_check: {type: tcp, via: tunnel}, backends: [{address: 10.0.0.1}]}\n";
	static const uint8_t want[] = { 1, 0, 0, 0, 0, 1 };
	struct keel_config *cfg = NULL, *back = NULL;
	struct config_error err;
	json_t *j;

	(void)state;
	if (config_load_buffer(yaml, sizeof(yaml) - 1, "via.yaml", &cfg, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(cfg->health_defaults.via, CONFIG_VIA_TUNNEL);
	assert_int_equal(cfg->n_vips, 6);
	for (uint32_t i = 0; i < cfg->n_vips; i++)
		assert_int_equal(cfg->vips[i].health.via, want[i]);
	j = config_to_json(cfg);
	assert_non_null(j);
	assert_int_equal(config_from_json(j, "canonical", &back, &err), 0);
	assert_true(config_equal(cfg, back));
	json_decref(j);
	config_free(back);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipip_same_as_pipeline),
		cmocka_unit_test(test_gue_same_as_pipeline),
		cmocka_unit_test(test_syn_bytes),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_mtu_too_small),
		cmocka_unit_test(test_target_valid),
		cmocka_unit_test(test_config_via),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
