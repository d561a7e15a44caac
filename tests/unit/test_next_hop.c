/* Several next hops: the slot table (spread, stability, removal moves only the lost hop's flows) and the pipeline's per-flow MAC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "burst_env.h"
#include "flow_table.h"
#include "next_hop.h"
#include "pipeline.h"
#include "pktgen.h"
#include "snapfix.h"

#define N_ENT 20000

static const uint8_t gw_mac[KEEL_MAX_NEXT_HOPS][6] = {
	{ 0x02, 0, 0, 0, 0x0a, 1 }, { 0x02, 0, 0, 0, 0x0a, 2 }, { 0x02, 0, 0, 0, 0x0a, 3 },
	{ 0x02, 0, 0, 0, 0x0a, 4 },
};

/* The port each configured next hop leaves by (keel_next_hop.port), and port k's MAC at k - 1; all 0 unless a test sets them. */
static uint8_t hop_port[KEEL_MAX_NEXT_HOPS];
static const uint8_t port_mac[3][6] = {
	{ 0x02, 0, 0, 0, 0x0b, 1 }, { 0x02, 0, 0, 0, 0x0b, 2 }, { 0x02, 0, 0, 0, 0x0b, 3 },
};

/* A spec whose next hops are the configured ones in usable (a bit per configured index). */
static void with_hops(struct keel_snapshot_spec *spec, uint32_t n_conf, uint32_t usable)
{
	uint32_t i;

	spec->n_next_hops = 0;
	spec->n_next_hops_configured = n_conf;
	for (i = 0; i < n_conf; i++) {
		if (!(usable >> i & 1))
			continue;
		memcpy(spec->next_hop[spec->n_next_hops].mac, gw_mac[i], 6);
		spec->next_hop[spec->n_next_hops].id = (uint8_t)i;
		spec->next_hop[spec->n_next_hops].port = hop_port[i];
		/* A port past the fixture's MACs (test_ports_refused) keeps a zero source MAC. */
		if (hop_port[i] && hop_port[i] <= sizeof(port_mac) / sizeof(port_mac[0]))
			memcpy(spec->next_hop[spec->n_next_hops].src_mac, port_mac[hop_port[i] - 1], 6);
		spec->n_next_hops++;
	}
}

/* A spec of no VIP whose next hops are as with_hops makes them. */
static void hops_spec(struct keel_snapshot_spec *spec, uint32_t n_conf, uint32_t usable)
{
	memset(spec, 0, sizeof(*spec));
	snapfix_spec_defaults(spec);
	with_hops(spec, n_conf, usable);
}

static struct keel_snapshot *build(uint32_t n_conf, uint32_t usable)
{
	struct keel_snapshot_spec spec;

	hops_spec(&spec, n_conf, usable);
	return snapfix_build(&spec);
}

/* The configured index a flow of this entropy leaves by. */
static uint8_t hop_of(const struct keel_snapshot *s, uint32_t entropy)
{
	return s->next_hop[s->next_hop_slot[entropy >> (32 - KEEL_NEXT_HOP_SLOT_BITS)]].id;
}

/* A reproducible spread of entropies (xorshift), as flow hashes would be. */
static uint32_t ent(uint32_t i)
{
	uint32_t x = i * 2654435761u + 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

static void test_spread(void **state)
{
	uint32_t n, i, count[KEEL_MAX_NEXT_HOPS];

	(void)state;
	for (n = 2; n <= 4; n++) {
		struct keel_snapshot *s = build(n, (1u << n) - 1);

		assert_int_equal(s->n_next_hops, n);
		memset(count, 0, sizeof(count));
		for (i = 0; i < N_ENT; i++)
			count[hop_of(s, ent(i))]++;
		/* Each within 10% of an even share. */
		for (i = 0; i < n; i++)
			if (count[i] < N_ENT / n * 9 / 10 || count[i] > N_ENT / n * 11 / 10)
				fail_msg("%u next hops: hop %u has %u of %u flows", n, i, count[i], N_ENT);
		free(s);
	}
}

static void test_stable(void **state)
{
	struct keel_snapshot *a = build(2, 3), *b = build(2, 3);
	uint32_t i;

	(void)state;
	/* The same set, built again (another publish): every flow keeps its next hop. */
	for (i = 0; i < N_ENT; i++)
		assert_int_equal(hop_of(a, ent(i)), hop_of(b, ent(i)));
	free(a);
	free(b);
}

static void test_removal(void **state)
{
	struct keel_snapshot *all = build(3, 7), *less = build(3, 5), *back = build(3, 7);
	uint32_t i, moved_to[KEEL_MAX_NEXT_HOPS] = { 0 }, lost = 0;

	(void)state;
	assert_int_equal(less->n_next_hops, 2);
	for (i = 0; i < N_ENT; i++) {
		uint8_t before = hop_of(all, ent(i)), after = hop_of(less, ent(i));

		assert_true(after != 1);
		if (before != 1) {
			/* A flow of a next hop that stays keeps it. */
			assert_int_equal(before, after);
		} else {
			lost++;
			moved_to[after]++;
		}
		/* And the lost next hop's flows come back to it when it does. */
		assert_int_equal(hop_of(back, ent(i)), before);
	}
	/* Its flows are shared by the others, not all thrown on one. */
	assert_true(lost > 0);
	assert_true(moved_to[0] > lost / 3 && moved_to[2] > lost / 3);
	free(all);
	free(less);
	free(back);
}

static void test_refused(void **state)
{
	struct keel_snapshot_spec spec;
	struct keel_snapshot *s;
	const char *why = NULL;

	(void)state;
	hops_spec(&spec, 2, 3);
	spec.next_hop[1].id = 0; /* not ascending */
	assert_int_equal(snapfix_build_err(&spec, &why), -EINVAL);

	/* A slot past the set is refused by a worker's validation. */
	s = build(2, 3);
	s->next_hop_slot[7] = 2;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), -EINVAL);
	assert_string_equal(why, "next hop slot out of range");
	free(s);
}

/* Through the pipeline: each connection's packets leave by one next hop; the backend does not depend on it. */
struct run_out {
	uint8_t mac[KEEL_BURST_MAX][6];
	uint8_t dst[KEEL_BURST_MAX][4]; /* outer destination: the backend */
	uint8_t src[KEEL_BURST_MAX][6]; /* source MAC */
	uint8_t port[KEEL_BURST_MAX];   /* keel_buf.port after the burst (0xee: not written) */
	uint8_t src_mac[6];             /* the snapshot's, the RX side's port */
	uint64_t hop_pkts[KEEL_MAX_NEXT_HOPS];
};

static void run_flows(uint32_t n_conf, uint32_t usable, uint16_t sport0, struct run_out *o)
{
	static struct burst_env e;
	struct keel_backend_spec be[3];
	struct keel_vip_spec vip;
	struct keel_snapshot_spec spec;
	uint32_t i;

	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.0.3", 2, 1, KEEL_BACKEND_ACTIVE);
	vip = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 0, 251, be, 3);
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 1;
	spec.vips = &vip;
	snapfix_spec_defaults(&spec);
	with_hops(&spec, n_conf, usable);
	burst_env_init(&e, &spec, 1024);
	for (i = 0; i < KEEL_BURST_MAX; i++) {
		struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6,
				    .sport = (uint16_t)(sport0 + i), .dport = 80, .tcp_flags = 0x02 };

		burst_env_load(&e, (int)i, &g);
		e.bufs[i].port = 0xee;
	}
	assert_int_equal(burst_env_run(&e, KEEL_BURST_MAX), KEEL_BURST_MAX);
	for (i = 0; i < KEEL_BURST_MAX; i++) {
		assert_int_equal(e.verdicts[i], KEEL_VERDICT_FORWARD);
		memcpy(o->mac[i], e.bufs[i].data, 6);
		memcpy(o->dst[i], e.bufs[i].data + 14 + 16, 4);
		memcpy(o->src[i], e.bufs[i].data + 6, 6);
		o->port[i] = e.bufs[i].port;
	}
	memcpy(o->src_mac, e.snap->src_mac, 6);
	memcpy(o->hop_pkts, e.ctr.next_hop_pkts, sizeof(o->hop_pkts));
	assert_int_equal(e.ctr.fwd_pkts, KEEL_BURST_MAX);
	burst_env_fini(&e);
}

static void test_pipeline(void **state)
{
	struct run_out two, again, one, single;
	uint32_t i, on[2] = { 0, 0 };

	(void)state;
	run_flows(2, 3, 40000, &two);
	run_flows(2, 3, 40000, &again);
	run_flows(2, 1, 40000, &one);     /* next hop 1 gone */
	run_flows(1, 1, 40000, &single);  /* one next hop, as before this feature */
	for (i = 0; i < KEEL_BURST_MAX; i++) {
		int h = !memcmp(two.mac[i], gw_mac[1], 6);

		assert_true(h || !memcmp(two.mac[i], gw_mac[0], 6));
		on[h]++;
		/* The same flow, the same next hop and backend. */
		assert_memory_equal(two.mac[i], again.mac[i], 6);
		/* Next hop 1 gone: its flows leave by 0, every flow keeps its backend. */
		assert_memory_equal(one.mac[i], gw_mac[0], 6);
		assert_memory_equal(one.dst[i], two.dst[i], 4);
		assert_memory_equal(single.mac[i], gw_mac[0], 6);
		assert_memory_equal(single.dst[i], two.dst[i], 4);
	}
	/* 64 flows over two next hops: both used, and counted by next hop. */
	assert_true(on[0] > 8 && on[1] > 8);
	assert_int_equal(two.hop_pkts[0], on[0]);
	assert_int_equal(two.hop_pkts[1], on[1]);
	assert_int_equal(one.hop_pkts[0], KEEL_BURST_MAX);
	assert_int_equal(one.hop_pkts[1], 0);
	assert_int_equal(single.hop_pkts[0], KEEL_BURST_MAX);
}

/*
 * Next hops on ports of their own (dual-homed, one port per ToR): next hop
 * 1 on port 2. Its frames are told port 2 and carry port 2's MAC; next hop
 * 0's keep the RX side's (port 0: the RX port's TX port). The choice of
 * next hop and backend is the one without ports. Without ports, keel_buf.port
 * is not even written (no cost per packet).
 */
static void test_ports(void **state)
{
	struct run_out plain, two, one;
	uint32_t i, on2 = 0;

	(void)state;
	run_flows(2, 3, 40000, &plain);
	hop_port[1] = 2;
	run_flows(2, 3, 40000, &two);
	run_flows(2, 2, 40000, &one); /* next hop 0 gone: everything by port 2 */
	hop_port[1] = 0;
	for (i = 0; i < KEEL_BURST_MAX; i++) {
		int h = !memcmp(two.mac[i], gw_mac[1], 6);

		assert_int_equal(plain.port[i], 0xee);
		assert_memory_equal(plain.src[i], plain.src_mac, 6);
		assert_memory_equal(two.mac[i], plain.mac[i], 6);
		assert_memory_equal(two.dst[i], plain.dst[i], 4);
		assert_int_equal(two.port[i], h ? 2 : 0);
		assert_memory_equal(two.src[i], h ? port_mac[1] : two.src_mac, 6);
		on2 += h;
		assert_memory_equal(one.mac[i], gw_mac[1], 6);
		assert_int_equal(one.port[i], 2);
		assert_memory_equal(one.src[i], port_mac[1], 6);
		assert_memory_equal(one.dst[i], plain.dst[i], 4);
	}
	assert_true(on2 > 8 && on2 < KEEL_BURST_MAX - 8);
	assert_int_equal(two.hop_pkts[1], on2);
	assert_int_equal(one.hop_pkts[1], KEEL_BURST_MAX);
}

/* A snapshot whose next hop names a port must say so (the flag the pipeline tests), and a port past the region's 8 is refused. */
static void test_ports_refused(void **state)
{
	struct keel_snapshot_spec spec;
	struct keel_snapshot *s;
	const char *why = NULL;

	(void)state;
	hop_port[1] = KEEL_NEXT_HOP_MAX_PORT + 1;
	hops_spec(&spec, 2, 3);
	hop_port[1] = 0;
	assert_int_equal(snapfix_build_err(&spec, &why), -EINVAL);
	assert_string_equal(why, "next hop port out of range");

	hop_port[1] = 2;
	s = build(2, 3);
	hop_port[1] = 0;
	assert_int_equal(s->next_hop_ports, 1);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), 0);
	s->next_hop_ports = 0;
	s->checksum = keel_snapshot_checksum(s);
	assert_int_equal(keel_snapshot_validate(s, s->size, &why), -EINVAL);
	assert_string_equal(why, "bad next hop port");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_removal),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ports_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
