/* The burst pipeline end to end over crafted frames: verdicts, chosen backends, output bytes and counters. */
#include <arpa/inet.h>
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
#include "hash.h"
#include "maglev.h"
#include "pkt_case.h"
#include "pipeline.h"
#include "pktgen.h"
#include "snapfix.h"

static struct keel_backend_spec be[8];
static struct keel_vip_spec vips[4];

/* VIP 0: 192.0.2.1:80/tcp, backends 0-2. VIP 1: 192.0.2.1 udp all ports + fragments, 3-4.
 * VIP 2: [2001:db8::1]:443/tcp GUE, backends 5-6 (IPv6). VIP 3: 192.0.2.2:80/tcp, no backend. */
static void make_spec(struct keel_snapshot_spec *spec, uint8_t state2, uint32_t weight1)
{
	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, weight1, KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.0.3", 2, 1, state2);
	be[3] = snapfix_backend("10.0.1.1", 3, 1, KEEL_BACKEND_ACTIVE);
	be[4] = snapfix_backend("10.0.1.2", 4, 1, KEEL_BACKEND_ACTIVE);
	be[5] = snapfix_backend("2001:db8:be::1", 5, 1, KEEL_BACKEND_ACTIVE);
	be[6] = snapfix_backend("2001:db8:be::2", 6, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 0, 251, be, 3);
	vips[1] = snapfix_vip("192.0.2.1", 0, KEEL_PROTO_UDP,
			      KEEL_VIP_ALL_PORTS | KEEL_VIP_FRAGMENTS, KEEL_ENCAP_IPIP, 1, 251,
			      &be[3], 2);
	vips[2] = snapfix_vip("2001:db8::1", 443, KEEL_PROTO_TCP, 0, KEEL_ENCAP_GUE, 2, 251,
			      &be[5], 2);
	vips[3] = snapfix_vip("192.0.2.2", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 3, 251, NULL,
			      0);
	memset(spec, 0, sizeof(*spec));
	spec->n_vips = 4;
	spec->vips = vips;
	snapfix_spec_defaults(spec);
}

static int setup(void **state)
{
	struct keel_snapshot_spec spec;
	struct burst_env *e = malloc(sizeof(*e));

	assert_non_null(e);
	make_spec(&spec, KEEL_BACKEND_ACTIVE, 1);
	burst_env_init(e, &spec, 4096);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct burst_env *e = *state;

	burst_env_fini(e);
	free(e);
	return 0;
}

/* The backend id a forwarded frame was sent to, from its outer destination. */
static int outer_backend(const struct burst_env *e, int i)
{
	return burst_env_outer_backend(e, i, be, 7);
}

static uint16_t expected_backend(const struct burst_env *e, const struct pktgen *g)
{
	return burst_env_lookup(e->snap, g);
}

static const struct pktgen tcp4 = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1",
				    .proto = 6, .sport = 40000, .dport = 80, .tcp_flags = 0x02,
				    .payload_len = 10 };

static void test_forward_v4(void **state)
{
	struct burst_env *e = *state;
	uint8_t inner[BURST_ENV_FRAME_MAX];
	size_t len = burst_env_load(e, 0, &tcp4);
	const uint8_t *f;
	int b;

	memcpy(inner, e->bufs[0].data + 14, len - 14);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	f = e->bufs[0].data;
	assert_int_equal(e->bufs[0].len, len + 20);
	assert_memory_equal(f, be[0].mac[0] ? be[0].mac : (const uint8_t *)"\x02\0\0\0\0\xfe", 6);
	assert_memory_equal(f + 6, "\x02\0\0\0\0\x02", 6);
	assert_int_equal(f[14 + 9], 4); /* IPIP */
	assert_true(pktgen_ip4_csum_ok(f + 14));
	assert_memory_equal(f + 34, inner, len - 14);
	b = outer_backend(e, 0);
	assert_int_equal(b, expected_backend(e, &tcp4));
	assert_int_equal(e->ctr.fwd_pkts, 1);
	assert_int_equal(e->ctr.backend[b].new_flows, 1);
	assert_int_equal(e->ctr.vip[0].pkts, 1);
	burst_env_assert_accounted(e);
}

/* Many clients: every packet goes where keel_pipeline_lookup says, and all three backends are used. */
static void test_spread_matches_lookup(void **state)
{
	struct burst_env *e = *state;
	int seen[3] = { 0 }, i, round;

	for (round = 0; round < 20; round++) {
		struct pktgen g[32];
		char src[32][32];

		for (i = 0; i < 32; i++) {
			g[i] = tcp4;
			snprintf(src[i], sizeof(src[i]), "198.51.%d.%d", round, i + 1);
			g[i].src = src[i];
			g[i].sport = (uint16_t)(1000 + i);
			burst_env_load(e, i, &g[i]);
		}
		assert_int_equal(burst_env_run(e, 32), 32);
		for (i = 0; i < 32; i++) {
			int b = outer_backend(e, i);

			assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
			assert_int_equal(b, expected_backend(e, &g[i]));
			seen[b]++;
		}
	}
	for (i = 0; i < 3; i++)
		assert_in_range(seen[i], 120, 310);
	burst_env_assert_accounted(e);
}

/*
 * An all-ports VIP (192.0.2.9, tcp, 4 backends): for 100 flows each to another
 * destination port, the backend the packet reaches is the one
 * keel_pipeline_lookup names for the same 5-tuple (keel-control's lookup asks
 * it with the packet's destination port). Asked with port 0 instead, as
 * lookup did before it took a destination port, it is wrong for most flows.
 */
static void test_all_ports_lookup_agrees(void **state)
{
	static struct keel_backend_spec abe[4];
	static struct keel_vip_spec av;
	struct burst_env *e = *state;
	struct keel_snapshot_spec spec;
	struct keel_snapshot *snap;
	int agree = 0, port0_agree = 0, used[4] = { 0 }, i, k;

	for (i = 0; i < 4; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.0.9.%d", i + 1);
		abe[i] = snapfix_backend(a, (uint16_t)i, 1, KEEL_BACKEND_ACTIVE);
	}
	av = snapfix_vip("192.0.2.9", 0, KEEL_PROTO_TCP, KEEL_VIP_ALL_PORTS, KEEL_ENCAP_IPIP, 0, 251,
			 abe, 4);
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 1;
	spec.vips = &av;
	snapfix_spec_defaults(&spec);
	snap = snapfix_build(&spec);
	e->w.snap = snap;
	for (k = 0; k < 4; k++) {
		struct pktgen g[25];
		char src[25][32];

		for (i = 0; i < 25; i++) {
			g[i] = tcp4;
			snprintf(src[i], sizeof(src[i]), "198.51.100.%d", 1 + (k * 25 + i) % 7);
			g[i].src = src[i];
			g[i].dst = "192.0.2.9";
			g[i].sport = (uint16_t)(33000 + k * 25 + i);
			g[i].dport = (uint16_t)(1000 + 7 * (k * 25 + i));
			burst_env_load(e, i, &g[i]);
		}
		assert_int_equal(burst_env_run(e, 25), 25);
		for (i = 0; i < 25; i++) {
			const uint8_t *f = e->bufs[i].data;
			struct pktgen g0 = g[i];
			uint16_t want = burst_env_lookup(snap, &g[i]);
			int b = -1, j;

			assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
			for (j = 0; j < 4; j++)
				if (!memcmp(f + 14 + 16, abe[j].addr, 4))
					b = j;
			assert_true(b >= 0);
			used[b]++;
			agree += want == b;
			g0.dport = 0;
			port0_agree += burst_env_lookup(snap, &g0) == b;
		}
	}
	assert_int_equal(agree, 100);
	for (i = 0; i < 4; i++)
		assert_true(used[i] > 0);
	/* About one in four by chance: the destination port does matter to the hash. */
	assert_true(port0_agree < 60);
	burst_env_assert_accounted(e);
	e->w.snap = e->snap;
	free(snap);
}

static void test_flow_hit_and_drain(void **state)
{
	struct burst_env *e = *state;
	struct keel_snapshot_spec spec;
	struct keel_snapshot *drained;
	struct flow_table_stats st;
	struct pktgen g[64];
	char src[64][32];
	int first[64], i, moved = 0;

	for (i = 0; i < 64; i++) {
		g[i] = tcp4;
		snprintf(src[i], sizeof(src[i]), "203.0.113.%d", i + 1);
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		first[i] = outer_backend(e, i);

	/* Backend 2 drained in a new snapshot: tracked flows stay, new ones avoid it. */
	make_spec(&spec, KEEL_BACKEND_DRAINING, 1);
	spec.generation = 2;
	drained = snapfix_build(&spec);
	e->w.snap = drained;
	for (i = 0; i < 64; i++)
		burst_env_load(e, i, &g[i]);
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(outer_backend(e, i), first[i]);
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.hits, 64);

	for (i = 0; i < 64; i++) {
		g[i].src = "198.18.0.1";
		g[i].sport = (uint16_t)(2000 + i);
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		assert_int_not_equal(outer_backend(e, i), 2);

	/* Backend 2 down: its tracked flows are re-chosen, the others stay. */
	free(drained);
	make_spec(&spec, KEEL_BACKEND_DOWN, 1);
	spec.generation = 3;
	drained = snapfix_build(&spec);
	e->w.snap = drained;
	for (i = 0; i < 64; i++) {
		snprintf(src[i], sizeof(src[i]), "203.0.113.%d", i + 1);
		g[i] = tcp4;
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++) {
		int b = outer_backend(e, i);

		assert_int_not_equal(b, 2);
		if (first[i] != 2)
			assert_int_equal(b, first[i]);
		else
			moved++;
	}
	assert_true(moved > 0);
	e->w.snap = e->snap;
	free(drained);
	burst_env_assert_accounted(e);
}

static void test_icmp_echo(void **state)
{
	struct burst_env *e = *state;
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1,
			    .icmp_type = 8, .payload_len = 32 };
	struct pktgen g6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1",
			     .proto = 58, .icmp_type = 128, .payload_len = 32 };
	struct pktgen other = g;

	other.dst = "192.0.2.77";
	burst_env_load(e, 0, &g);
	burst_env_load(e, 1, &g6);
	burst_env_load(e, 2, &other);
	assert_int_equal(burst_env_run(e, 3), 2);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[0].data[14 + 20], 0); /* echo reply */
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[1].data[14 + 40], 129);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.icmp_echo, 2);
	burst_env_assert_accounted(e);
}

/* A "fragmentation needed" about a VIP connection reaches that connection's backend. */
static void test_icmp_error_follows_flow(void **state)
{
	struct burst_env *e = *state;
	struct pktgen reply = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = 6,
				.sport = 80, .dport = 40000, .payload_len = 20 };
	uint8_t quote[128], icmp[8 + 128];
	struct pktgen err = { .family = 4, .src = "203.0.113.254", .dst = "192.0.2.1", .proto = 1,
			      .icmp_type = 3, .icmp_code = 4 };
	size_t qlen;
	int b;

	/* The flow first, so it is tracked. */
	burst_env_load(e, 0, &tcp4);
	burst_env_run(e, 1);
	b = outer_backend(e, 0);

	qlen = pktgen_build_ip(quote, sizeof(quote), &reply);
	assert_true(qlen >= 28);
	memset(icmp, 0, 8);
	icmp[0] = 3;
	icmp[1] = 4;
	icmp[6] = 0x05;
	icmp[7] = 0x00; /* next-hop MTU 1280 */
	memcpy(icmp + 8, quote, 28); /* IP header + 8 bytes, the RFC 792 minimum */
	{
		uint16_t c = pktgen_csum(icmp, 36);

		icmp[2] = (uint8_t)(c >> 8);
		icmp[3] = (uint8_t)c;
	}
	err.l4_override = icmp;
	err.l4_override_len = 36;
	burst_env_load(e, 0, &err);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(outer_backend(e, 0), b);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);
}

/* An ICMPv4 frag-needed from a router to dst quoting 28 bytes of the reply q, loaded as frame i. */
static void load_frag_needed(struct burst_env *e, int i, const char *dst, const struct pktgen *q)
{
	uint8_t quote[128], icmp[8 + 28];
	struct pktgen err = { .family = 4, .src = "203.0.113.254", .dst = dst, .proto = 1,
			      .icmp_type = 3, .icmp_code = 4 };
	uint16_t c;

	assert_true(pktgen_build_ip(quote, sizeof(quote), q) >= 28);
	memset(icmp, 0, 8);
	icmp[0] = 3;
	icmp[1] = 4;
	icmp[6] = 0x05; /* next-hop MTU 1280 */
	memcpy(icmp + 8, quote, 28);
	c = pktgen_csum(icmp, sizeof(icmp));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	err.l4_override = icmp;
	err.l4_override_len = sizeof(icmp);
	burst_env_load(e, i, &err);
}

/*
 * Issue 20 item 14: an error is routed by its quote only when it is
 * addressed to the quoted source (the VIP). To another address it is that
 * address's (the kernel's, or not_vip); to another VIP, icmp_error_mismatch.
 */
static void test_icmp_error_outer_destination(void **state)
{
	struct burst_env *e = *state;
	struct pktgen reply = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = 6,
				.sport = 80, .dport = 40000, .payload_len = 20 };
	struct pktgen reply6 = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:c::7", .proto = 6,
				 .sport = 443, .dport = 50000, .payload_len = 20 };
	struct pktgen flow6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
				.sport = 50000, .dport = 443, .payload_len = 20 };
	uint8_t q6[128], icmp6[8 + 48];
	struct pktgen err6 = { .family = 6, .src = "2001:db8:ffff::1", .dst = "2001:db8::99",
			       .proto = 58, .icmp_type = 2 };
	size_t n;

	/* The connections first, so they are tracked. */
	burst_env_load(e, 0, &tcp4);
	burst_env_load(e, 1, &flow6);
	assert_int_equal(burst_env_run(e, 2), 2);

	load_frag_needed(e, 0, "192.0.2.1", &reply);      /* to the VIP: its backend */
	load_frag_needed(e, 1, "203.0.113.10", &reply);   /* to the host: the kernel's */
	load_frag_needed(e, 2, "192.0.2.2", &reply);      /* to another VIP: refused */
	n = pktgen_build_ip(q6, sizeof(q6), &reply6);
	assert_true(n >= 48);
	memset(icmp6, 0, 8);
	icmp6[0] = 2;
	icmp6[6] = 0x05;
	memcpy(icmp6 + 8, q6, 48);
	err6.l4_override = icmp6;
	err6.l4_override_len = sizeof(icmp6);
	burst_env_load(e, 3, &err6);                                 /* IPv6, to a non-VIP address */
	assert_int_equal(burst_env_run(e, 4), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_ERROR_MISMATCH], 1);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);

	/* Without an exception path, one to the host is dropped as any packet for no VIP. */
	e->w.non_vip_to_kernel = false;
	load_frag_needed(e, 0, "203.0.113.10", &reply);
	assert_int_equal(burst_env_run(e, 1), 0);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_NOT_VIP], 1);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	burst_env_assert_accounted(e);
}

static void test_fragments(void **state)
{
	struct burst_env *e = *state;
	struct pktgen first = { .family = 4, .src = "198.51.100.9", .dst = "192.0.2.1", .proto = 17,
				.sport = 5000, .dport = 53, .payload_len = 64, .more_frags = true };
	struct pktgen later = first;
	struct pktgen tcp_later = tcp4;
	struct pktgen whole = first;

	later.more_frags = false;
	later.frag_offset = 9;
	whole.more_frags = false;
	whole.sport = 6000;
	tcp_later.frag_offset = 100;
	burst_env_load(e, 0, &first);
	burst_env_load(e, 1, &later);
	burst_env_load(e, 2, &whole);
	burst_env_load(e, 3, &tcp_later);
	burst_env_run(e, 4);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_FORWARD);
	/* Addresses-only hashing: all three, whatever the ports, on one backend. */
	assert_int_equal(outer_backend(e, 0), outer_backend(e, 1));
	assert_int_equal(outer_backend(e, 0), outer_backend(e, 2));
	/* A TCP VIP without the fragments flag drops non-first fragments. */
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_FRAGMENT], 1);
	burst_env_assert_accounted(e);
}

static void test_v6_gue(void **state)
{
	struct burst_env *e = *state;
	struct pktgen g = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
			    .sport = 50000, .dport = 443, .payload_len = 100 };
	size_t len = burst_env_load(e, 0, &g);
	const uint8_t *f;
	int b;

	assert_int_equal(burst_env_run(e, 1), 1);
	f = e->bufs[0].data;
	assert_int_equal(e->bufs[0].len, len + 40 + 8 + 4);
	assert_int_equal(f[14 + 6], 17); /* UDP */
	assert_int_equal(f[14 + 40 + 2] << 8 | f[14 + 40 + 3], 6080);
	assert_true(pktgen_l4_csum_ok(6, f + 14, f + 54, len - 14 + 12, 17));
	b = outer_backend(e, 0);
	assert_int_equal(b, expected_backend(e, &g));
	burst_env_assert_accounted(e);
}

static void test_too_big(void **state)
{
	struct burst_env *e = *state;
	struct pktgen df = tcp4, nodf = tcp4;
	uint32_t i;

	df.payload_len = 1460; /* 1500-byte packet: 1520 with IPIP */
	df.df = true;
	nodf.payload_len = 1460;
	burst_env_load(e, 0, &df);
	burst_env_load(e, 1, &nodf);
	assert_int_equal(burst_env_run(e, 2), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[0].data[14 + 20], 3);
	assert_int_equal(e->bufs[0].data[14 + 21], 4);
	assert_int_equal(e->bufs[0].data[14 + 26] << 8 | e->bufs[0].data[14 + 27], 1480);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_TOO_BIG], 1);
	assert_int_equal(e->ctr.icmp_too_big, 1);

	/* At most icmp_rate answers per second. */
	e->w.now_ms += 5000;
	for (i = 0; i < 150; i++) {
		burst_env_load(e, 0, &df);
		burst_env_run(e, 1);
	}
	assert_int_equal(e->ctr.icmp_too_big, 1 + e->snap->icmp_rate);
	assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_RATE_LIMIT], 150 - e->snap->icmp_rate);
	burst_env_assert_accounted(e);
}

/* Above the new-flow rate, new flows are forwarded by hash, untracked, and counted. */
static void test_new_flow_rate(void **state)
{
	struct burst_env *e = *state;
	struct flow_table_params fp = {
		.capacity = 1024,
		.secret = 9,
		.timeout_ms = { 60000, 5000, 30000 },
		.new_flow_rate = 10,
		.new_flow_burst = 10,
	};
	size_t sz = flow_table_mem_size(fp.capacity);
	void *mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	struct flow_table *saved = e->w.ft;
	struct flow_table_stats st;
	struct pktgen g[32];
	char src[32][32];
	int i;

	e->w.ft = flow_table_init(mem, sz, &fp);
	assert_non_null(e->w.ft);
	for (i = 0; i < 32; i++) {
		g[i] = tcp4;
		snprintf(src[i], sizeof(src[i]), "198.51.100.%d", i + 100);
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	assert_int_equal(burst_env_run(e, 32), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(outer_backend(e, i), expected_backend(e, &g[i]));
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.inserts, 10);
	assert_int_equal(e->ctr.untracked, 22);
	e->w.ft = saved;
	free(mem);
	burst_env_assert_accounted(e);
}


/* ---- Hardening (issue 14): every test below failed before its fix. ---- */

/*
 * Item 1: the ICMP answer bucket on a simulated clock, for rates R of 1 to
 * 10000 per second and "too big" events at E = 0.5 R to 3 R, for T = 10 s,
 * from a fresh worker whose clock starts at 1 ms (as keel-replay's does).
 * Checked against a naive floating-point token bucket (depth R, refilled
 * continuously) to within one answer, and against the closed form: all of
 * them when E < R, else R (the first burst) + R * T within 1 + 0.5 % (when
 * the bucket is deep enough, R >= 10, not to fill up between two events).
 * The old refill rounded elapsed * R / 1000 down to zero and still moved its
 * clock, so with more than one event per 1000/R ms it never refilled.
 */
static void test_icmp_rate_simulated_clock(void **state)
{
	static const uint32_t rates[] = { 1, 10, 100, 1000, 10000 };
	static const double factors[] = { 0.5, 0.9, 1.11, 3.0 };
	struct burst_env *e = *state;
	struct keel_snapshot_spec spec;
	struct pktgen df = tcp4;
	const uint64_t T_ms = 10000;
	unsigned int ri, fi;

	df.payload_len = 1460;
	df.df = true;
	for (ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
		struct keel_snapshot *snap;

		make_spec(&spec, KEEL_BACKEND_ACTIVE, 1);
		spec.icmp_rate = rates[ri];
		snap = snapfix_build(&spec);
		for (fi = 0; fi < sizeof(factors) / sizeof(factors[0]); fi++) {
			double ev_rate = rates[ri] * factors[fi], tokens = rates[ri];
			uint64_t n_events = (uint64_t)(ev_rate * (double)T_ms / 1000.0);
			uint64_t before = e->ctr.icmp_too_big, k, got, oracle = 0, last = 1;
			struct keel_worker w = { .snap = snap, .ft = e->w.ft, .ctr = &e->ctr,
						 .non_vip_to_kernel = true };

			for (k = 0; k < n_events; k++) {
				w.now_ms = 1 + (uint64_t)((double)k * 1000.0 / ev_rate);
				burst_env_load(e, 0, &df);
				keel_pipeline_burst(&w, &burst_env_port, e->bufs, e->verdicts, 1);
				/* The oracle. */
				tokens += (double)(w.now_ms - last) * rates[ri] / 1000.0;
				if (tokens > rates[ri])
					tokens = rates[ri];
				last = w.now_ms;
				if (tokens >= 1.0) {
					tokens -= 1.0;
					oracle++;
				}
			}
			got = e->ctr.icmp_too_big - before;
			if (got + 1 < oracle || got > oracle + 1)
				fail_msg("rate %u/s, %.1f events/s: %llu answered, the naive bucket %llu",
					 rates[ri], ev_rate, (unsigned long long)got,
					 (unsigned long long)oracle);
			if (factors[fi] < 1.0) {
				assert_int_equal(got, n_events);
			} else if (rates[ri] >= 10) {
				uint64_t expect = rates[ri] + rates[ri] * T_ms / 1000, tol = 1 + expect / 200;

				if (got + tol < expect || got > expect + tol)
					fail_msg("rate %u/s, %.1f events/s: %llu answered, expected %llu +- %llu",
						 rates[ri], ev_rate, (unsigned long long)got,
						 (unsigned long long)expect, (unsigned long long)tol);
			}
		}
		free(snap);
	}
	burst_env_assert_accounted(e);
}

/* Item 1, the reported case: a continuous stream of oversized DF packets keeps being answered at the rate. */
static void test_icmp_rate_continuous_stream(void **state)
{
	struct burst_env *e = *state;
	struct pktgen df = tcp4;
	uint64_t ms;

	df.payload_len = 1460;
	df.df = true;
	/* Four too-big packets every millisecond for 10 s against the default 100/s. */
	for (ms = 0; ms < 10000; ms++) {
		int i;

		e->w.now_ms = 1000 + ms;
		for (i = 0; i < 4; i++)
			burst_env_load(e, i, &df);
		burst_env_run(e, 4);
	}
	/* The first burst of 100, then 100 per second: 1100, within one per second of slack. */
	assert_in_range(e->ctr.icmp_too_big, 1090, 1101);
	burst_env_assert_accounted(e);
}

/* Item 4: an echo request with a bad ICMP checksum is not answered; nor one whose reply exceeds the port MTU. */
static void test_echo_checksum_and_mtu(void **state)
{
	struct burst_env *e = *state;
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1,
			    .icmp_type = 8, .payload_len = 32 };
	struct pktgen g6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1",
			     .proto = 58, .icmp_type = 128, .payload_len = 32 };
	struct pktgen big = g;

	burst_env_load(e, 0, &g);
	e->bufs[0].data[14 + 20 + 2] ^= 0x01;
	burst_env_load(e, 1, &g6);
	e->bufs[1].data[14 + 40 + 8] ^= 0x80; /* payload byte: the checksum no longer matches */
	big.payload_len = 1500 - 28 + 1;      /* reply one byte over the 1500-byte port MTU */
	burst_env_load(e, 2, &big);
	big.payload_len = 1500 - 28;          /* exactly the MTU: answered */
	burst_env_load(e, 3, &big);
	assert_int_equal(burst_env_run(e, 4), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_REPLY);
	assert_int_equal(burst_env_drops_named(e, "icmp_checksum"), 2);
	assert_int_equal(burst_env_drops_named(e, "echo_too_big"), 1);
	assert_int_equal(e->ctr.icmp_echo, 1);
	burst_env_assert_accounted(e);
}

/* An ICMPv6 packet too big from a router, quoting q (the VIP's packet to the client). */
static void load_ptb6(struct burst_env *e, int i, const struct pktgen *q)
{
	uint8_t quote[256], icmp[8 + 256];
	struct pktgen err = { .family = 6, .src = "2001:db8:ffff::1", .dst = "2001:db8::1",
			      .proto = 58, .icmp_type = 2 };
	size_t qlen = pktgen_build_ip(quote, sizeof(quote), q);

	assert_true(qlen > 0);
	memset(icmp, 0, 8);
	icmp[0] = 2;
	icmp[6] = 0x05; /* MTU 1280 */
	memcpy(icmp + 8, quote, qlen);
	err.l4_override = icmp;
	err.l4_override_len = (uint16_t)(8 + qlen);
	burst_env_load(e, i, &err);
}

/* Item 5: a packet too big quoting extension headers (Fragment, Hop-by-Hop) reaches the connection's backend. */
static void test_ptb_quoting_exthdrs(void **state)
{
	struct burst_env *e = *state;
	struct pktgen flow = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
			       .sport = 50000, .dport = 443, .payload_len = 20 };
	struct pktgen q = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8:c::7", .proto = 6,
			    .sport = 443, .dport = 50000, .payload_len = 40 };
	struct pktgen qfrag = q, qhbh = q, qlater = q;
	const uint8_t *dst0, *f;

	burst_env_load(e, 0, &flow);
	assert_int_equal(burst_env_run(e, 1), 1);
	f = e->bufs[0].data;
	dst0 = f + 14 + 24;
	{
		uint8_t backend[16];

		memcpy(backend, dst0, 16);
		qfrag.ip6_frag_hdr = true;     /* first fragment: offset 0, M set */
		qfrag.more_frags = true;
		qhbh.ip6_hbh_len = 1;          /* 8-byte Hop-by-Hop */
		qhbh.ip6_frag_hdr = true;      /* then an atomic fragment (RFC 6946) */
		qlater.ip6_frag_hdr = true;    /* a later fragment quotes no ports */
		qlater.frag_offset = 100;
		load_ptb6(e, 0, &qfrag);
		load_ptb6(e, 1, &qhbh);
		load_ptb6(e, 2, &qlater);
		assert_int_equal(burst_env_run(e, 3), 2);
		assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
		assert_int_equal(e->verdicts[1], KEEL_VERDICT_FORWARD);
		assert_memory_equal(e->bufs[0].data + 14 + 24, backend, 16);
		assert_memory_equal(e->bufs[1].data + 14 + 24, backend, 16);
		assert_int_equal(e->verdicts[2], KEEL_VERDICT_DROP);
		assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_ERROR_INNER], 1);
		assert_int_equal(e->ctr.icmp_errors_fwd, 2);
	}
	burst_env_assert_accounted(e);
}

/* ---- One frame per row through the burst (lib/pkt_case.h): verdict, the counter it moves, the drop reason ---- */

/* A row's worker: with or without an exception path (non_vip_to_kernel), with or without a snapshot; the drop reason named. */
struct pipe_row {
	bool to_kernel;
	bool no_snapshot;
	const char *drop;
};

static const struct pipe_row host = { .to_kernel = true };

static uint64_t verdict_count(const struct burst_env *e, uint8_t v)
{
	switch (v) {
	case KEEL_VERDICT_FORWARD:
		return e->ctr.fwd_pkts;
	case KEEL_VERDICT_REPLY:
		return e->ctr.reply_pkts;
	case KEEL_VERDICT_KERNEL:
		return e->ctr.kernel_pkts;
	default:
		return burst_env_drops(&e->ctr);
	}
}

/* The stage: a burst of one; the counter of the verdict and the named drop reason move by one. */
static int pipeline_stage(const struct pkt_case *c, struct keel_buf *b, struct keel_pkt *p, void *ctx)
{
	struct burst_env *e = ctx;
	const struct pipe_row *r = c->arg;
	uint64_t named = r->drop ? burst_env_drops_named(e, r->drop) : 0, counted = verdict_count(e, (uint8_t)c->want);
	uint8_t verdict = 0xff;

	(void)p;
	e->w.non_vip_to_kernel = r->to_kernel;
	e->w.snap = r->no_snapshot ? NULL : e->snap;
	keel_pipeline_burst(&e->w, &burst_env_port, b, &verdict, 1);
	e->w.snap = e->snap;
	if (verdict == c->want)
		assert_int_equal(verdict_count(e, verdict), counted + 1);
	if (r->drop)
		assert_int_equal(burst_env_drops_named(e, r->drop), named + 1);
	burst_env_assert_accounted(e);
	return verdict;
}

#define P_TCP4(...) { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6, .sport = 40000, \
		      .dport = 80, .tcp_flags = 0x02, .payload_len = 10, __VA_ARGS__ }
#define P_ECHO4(...) { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1, .icmp_type = 8, \
		       .payload_len = 8, __VA_ARGS__ }
#define P_TCP6(...) { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6, .sport = 50000, \
		      .dport = 443, __VA_ARGS__ }
/* Destination MACs other than the port's own (pktgen's 02:00:00:00:00:02). */
#define TO_BCAST { FILL(0, 0xff, 6) }
#define TO_MCAST4 { SET8(0, 0x01), SET8(2, 0x5e), SET8(5, 0x01) }            /* 01:00:5e:00:00:01 */
#define TO_MCAST6 { SET8(0, 0x33), SET8(1, 0x33), SET8(2, 0xff), SET8(5, 0x01) } /* 33:33:ff:00:00:01 */
#define TO_OTHER { SET8(5, 0x99) }                                         /* 02:00:00:00:00:99 */

/*
 * Item 3: sources that are only valid on the link (::, fe80::/10, 169.254/16)
 * or that no IPv6 wire carries (IPv4-mapped) are never balanced or answered;
 * to the host itself (not a VIP) they still reach the kernel: DAD probes
 * (from ::) and neighbour discovery (from link-local) must.
 */
#define SRC6(a, why)                                                                                   \
	{ .what = "from " a " to a vip", .in = P_TCP6(.src = a, .sport = 1234), .arg = &(const struct pipe_row){ \
	  .to_kernel = true, .drop = why }, .want = KEEL_VERDICT_DROP },                                   \
	{ .what = "echo from " a, .in = { .family = 6, .src = a, .dst = "2001:db8::1", .proto = 58,         \
	  .icmp_type = 128, .payload_len = 8 }, .arg = &(const struct pipe_row){ .to_kernel = true, .drop = why }, \
	  .want = KEEL_VERDICT_DROP },                                                                     \
	{ .what = "from " a " to the host", .in = P_TCP6(.src = a, .sport = 1234, .dst = "2001:db8::99"),  \
	  .arg = &host, .want = KEEL_VERDICT_KERNEL }
#define SRC4(a, why)                                                                                   \
	{ .what = "from " a " to a vip", .in = P_TCP4(.src = a, .sport = 1234, .tcp_flags = 0, .payload_len = 0), \
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = why }, .want = KEEL_VERDICT_DROP },  \
	{ .what = "echo from " a, .in = P_ECHO4(.src = a), .arg = &(const struct pipe_row){ .to_kernel = true, \
	  .drop = why }, .want = KEEL_VERDICT_DROP },                                                      \
	{ .what = "from " a " to the host", .in = P_TCP4(.src = a, .sport = 1234, .tcp_flags = 0, .payload_len = 0, \
	  .dst = "192.0.2.99"), .arg = &host, .want = KEEL_VERDICT_KERNEL }

static const uint8_t arp_frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };

static const struct pkt_case pipeline_cases[] = {
	/* Not a VIP: the kernel's with an exception path, dropped without. */
	{ .what = "tcp to no vip", .in = P_TCP4(.dst = "192.0.2.99"), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "tcp to a vip's other port", .in = P_TCP4(.dport = 81), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "arp", .raw = arp_frame, .raw_len = sizeof(arp_frame), .arg = &host, .want = KEEL_VERDICT_KERNEL },
	{ .what = "tcp to a vip's other port, no exception path", .in = P_TCP4(.dport = 81),
	  .arg = &(const struct pipe_row){ .drop = "not_vip" }, .want = KEEL_VERDICT_DROP },
	/* Malformed, no backend, no snapshot (dropped, or with an exception path all the kernel's). */
	{ .what = "ipv4 header checksum", .in = P_TCP4(), .edit = { XOR8(14 + 10, 0xff) },
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "ip4_checksum" }, .want = KEEL_VERDICT_DROP },
	{ .what = "vip without a backend", .in = P_TCP4(.dst = "192.0.2.2"),
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "no_backend" }, .want = KEEL_VERDICT_DROP },
	{ .what = "no snapshot", .in = P_TCP4(), .arg = &(const struct pipe_row){ .no_snapshot = true, .drop = "no_snapshot" },
	  .want = KEEL_VERDICT_DROP },
	{ .what = "no snapshot, with an exception path", .in = P_TCP4(),
	  .arg = &(const struct pipe_row){ .to_kernel = true, .no_snapshot = true }, .want = KEEL_VERDICT_KERNEL },
	/* Item 2: only frames to the port's own MAC are balanced or answered; group frames go to the kernel at most. */
	{ .what = "tcp to broadcast", .in = P_TCP4(), .edit = TO_BCAST,
	  .arg = &(const struct pipe_row){ .drop = "l2_broadcast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to multicast", .in = P_TCP4(), .edit = TO_MCAST4,
	  .arg = &(const struct pipe_row){ .drop = "l2_multicast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "ipv6 to multicast", .in = P_TCP6(), .edit = TO_MCAST6,
	  .arg = &(const struct pipe_row){ .drop = "l2_multicast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to another host", .in = P_TCP4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	{ .what = "echo to broadcast", .in = P_ECHO4(), .edit = TO_BCAST,
	  .arg = &(const struct pipe_row){ .drop = "l2_broadcast" }, .want = KEEL_VERDICT_DROP },
	{ .what = "echo to another host", .in = P_ECHO4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	/* With an exception path the kernel gets the group frames (ARP, ND, DAD); another host's frames still not. */
	{ .what = "tcp to broadcast, with an exception path", .in = P_TCP4(), .edit = TO_BCAST, .arg = &host,
	  .want = KEEL_VERDICT_KERNEL },
	{ .what = "ipv6 to multicast, with an exception path", .in = P_TCP6(), .edit = TO_MCAST6, .arg = &host,
	  .want = KEEL_VERDICT_KERNEL },
	{ .what = "echo to another host, with an exception path", .in = P_ECHO4(), .edit = TO_OTHER,
	  .arg = &(const struct pipe_row){ .to_kernel = true, .drop = "l2_other_host" }, .want = KEEL_VERDICT_DROP },
	{ .what = "tcp to the port, with an exception path", .in = P_TCP4(), .arg = &host, .want = KEEL_VERDICT_FORWARD },
	/* Item 2: 802.1Q VID 4095 is reserved (IEEE 802.1Q 9.6): never forwarded. VID 0 (priority tag) is. */
	{ .what = "vid 4095", .in = P_TCP4(.vlan = 0xfff), .arg = &(const struct pipe_row){ .to_kernel = true,
	  .drop = "vlan_reserved" }, .want = KEEL_VERDICT_DROP },
	{ .what = "priority 1, vid 4095", .in = P_TCP4(.vlan = 0x2fff), .arg = &(const struct pipe_row){
	  .to_kernel = true, .drop = "vlan_reserved" }, .want = KEEL_VERDICT_DROP },
	{ .what = "vid 1", .in = P_TCP4(.vlan = 0x2001), .arg = &host, .want = KEEL_VERDICT_FORWARD },
	SRC6("::", "ip6_src_unspecified"),
	SRC6("fe80::1", "ip6_src_link_local"),
	SRC6("febf:ffff::1", "ip6_src_link_local"),
	SRC6("::ffff:198.51.100.7", "ip6_src_v4mapped"),
	SRC4("169.254.10.1", "ip4_src_link_local"),
};

static void test_pipeline_cases(void **state)
{
	struct burst_env *e = *state;

	pkt_case_run(PKT_CASES(pipeline_cases), pipeline_stage, e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forward_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spread_matches_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_hit_and_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_error_follows_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_error_outer_destination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v6_gue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_flow_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_rate_simulated_clock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_rate_continuous_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_echo_checksum_and_mtu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ptb_quoting_exthdrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_ports_lookup_agrees, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
