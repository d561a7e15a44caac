/* The burst pipeline end to end over crafted frames: forwarding, chosen backends, flow tracking, fragments, GUE, output bytes and counters. */
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
#include "pipeline.h"
#include "pipeline_vips.h"
#include "pktgen.h"
#include "snapfix.h"

static void test_forward_v4(void **state)
{
	struct burst_env *e = *state;
	uint8_t inner[BURST_ENV_FRAME_MAX];
	size_t len = burst_env_load(e, 0, &pipeline_vips_tcp4);
	const uint8_t *f;
	int b;

	memcpy(inner, e->bufs[0].data + 14, len - 14);
	assert_int_equal(burst_env_run(e, 1), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	f = e->bufs[0].data;
	assert_int_equal(e->bufs[0].len, len + 20);
	assert_memory_equal(f, pipeline_vips_be[0].mac[0] ? pipeline_vips_be[0].mac :
						    (const uint8_t *)"\x02\0\0\0\0\xfe", 6);
	assert_memory_equal(f + 6, "\x02\0\0\0\0\x02", 6);
	assert_int_equal(f[14 + 9], 4); /* IPIP */
	assert_true(pktgen_ip4_csum_ok(f + 14));
	assert_memory_equal(f + 34, inner, len - 14);
	b = pipeline_vips_outer_backend(e, 0);
	assert_int_equal(b, burst_env_lookup(e->snap, &pipeline_vips_tcp4));
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
			g[i] = pipeline_vips_tcp4;
			snprintf(src[i], sizeof(src[i]), "198.51.%d.%d", round, i + 1);
			g[i].src = src[i];
			g[i].sport = (uint16_t)(1000 + i);
			burst_env_load(e, i, &g[i]);
		}
		assert_int_equal(burst_env_run(e, 32), 32);
		for (i = 0; i < 32; i++) {
			int b = pipeline_vips_outer_backend(e, i);

			assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
			assert_int_equal(b, burst_env_lookup(e->snap, &g[i]));
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
			g[i] = pipeline_vips_tcp4;
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
		g[i] = pipeline_vips_tcp4;
		snprintf(src[i], sizeof(src[i]), "203.0.113.%d", i + 1);
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		first[i] = pipeline_vips_outer_backend(e, i);

	/* Backend 2 drained in a new snapshot: tracked flows stay, new ones avoid it. */
	pipeline_vips_spec(&spec, KEEL_BACKEND_DRAINING, 1);
	spec.generation = 2;
	drained = snapfix_build(&spec);
	e->w.snap = drained;
	for (i = 0; i < 64; i++)
		burst_env_load(e, i, &g[i]);
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(pipeline_vips_outer_backend(e, i), first[i]);
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.hits, 64);

	for (i = 0; i < 64; i++) {
		g[i].src = "198.18.0.1";
		g[i].sport = (uint16_t)(2000 + i);
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++)
		assert_int_not_equal(pipeline_vips_outer_backend(e, i), 2);

	/* Backend 2 down: its tracked flows are re-chosen, the others stay. */
	free(drained);
	pipeline_vips_spec(&spec, KEEL_BACKEND_DOWN, 1);
	spec.generation = 3;
	drained = snapfix_build(&spec);
	e->w.snap = drained;
	for (i = 0; i < 64; i++) {
		snprintf(src[i], sizeof(src[i]), "203.0.113.%d", i + 1);
		g[i] = pipeline_vips_tcp4;
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	burst_env_run(e, 64);
	for (i = 0; i < 64; i++) {
		int b = pipeline_vips_outer_backend(e, i);

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

static void test_fragments(void **state)
{
	struct burst_env *e = *state;
	struct pktgen first = { .family = 4, .src = "198.51.100.9", .dst = "192.0.2.1", .proto = 17,
				.sport = 5000, .dport = 53, .payload_len = 64, .more_frags = true };
	struct pktgen later = first;
	struct pktgen tcp_later = pipeline_vips_tcp4;
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
	assert_int_equal(pipeline_vips_outer_backend(e, 0), pipeline_vips_outer_backend(e, 1));
	assert_int_equal(pipeline_vips_outer_backend(e, 0), pipeline_vips_outer_backend(e, 2));
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
	b = pipeline_vips_outer_backend(e, 0);
	assert_int_equal(b, burst_env_lookup(e->snap, &g));
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
		g[i] = pipeline_vips_tcp4;
		snprintf(src[i], sizeof(src[i]), "198.51.100.%d", i + 100);
		g[i].src = src[i];
		burst_env_load(e, i, &g[i]);
	}
	assert_int_equal(burst_env_run(e, 32), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(pipeline_vips_outer_backend(e, i), burst_env_lookup(e->snap, &g[i]));
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.inserts, 10);
	assert_int_equal(e->ctr.untracked, 22);
	e->w.ft = saved;
	free(mem);
	burst_env_assert_accounted(e);
}


int main(void)
{
	const struct CMUnitTest tests[] = {
		PIPELINE_VIPS_TEST(test_forward_v4),
		PIPELINE_VIPS_TEST(test_spread_matches_lookup),
		PIPELINE_VIPS_TEST(test_flow_hit_and_drain),
		PIPELINE_VIPS_TEST(test_fragments),
		PIPELINE_VIPS_TEST(test_v6_gue),
		PIPELINE_VIPS_TEST(test_new_flow_rate),
		PIPELINE_VIPS_TEST(test_all_ports_lookup_agrees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
