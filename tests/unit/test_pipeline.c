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

#include "flow_table.h"
#include "hash.h"
#include "maglev.h"
#include "pipeline.h"
#include "pktgen.h"
#include "snapfix.h"

#define HEADROOM 128
#define FRAME_MAX 2048

struct env {
	struct keel_worker w;
	struct keel_counters ctr;
	void *ftmem;
	struct keel_snapshot *snap;
	uint8_t frames[KEEL_BURST_MAX][HEADROOM + FRAME_MAX];
	struct keel_buf bufs[KEEL_BURST_MAX];
	uint8_t verdicts[KEEL_BURST_MAX];
};

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
	struct flow_table_params fp = {
		.capacity = 4096,
		.secret = 7,
		.timeout_ms = { 60000, 5000, 30000 },
	};
	struct keel_snapshot_spec spec;
	struct env *e = calloc(1, sizeof(*e));
	size_t sz = flow_table_mem_size(fp.capacity);

	assert_non_null(e);
	make_spec(&spec, KEEL_BACKEND_ACTIVE, 1);
	e->snap = snapfix_build(&spec);
	e->ftmem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	e->w.ft = flow_table_init(e->ftmem, sz, &fp);
	assert_non_null(e->w.ft);
	e->w.snap = e->snap;
	e->w.ctr = &e->ctr;
	e->w.now_ms = 1000;
	e->w.non_vip_to_kernel = true;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	free(e->snap);
	free(e->ftmem);
	free(e);
	return 0;
}

/* Put frame i of the burst in place; returns its length. */
static size_t load(struct env *e, int i, const struct pktgen *g)
{
	size_t len = pktgen_build(e->frames[i] + HEADROOM, FRAME_MAX, g);

	assert_true(len > 0);
	e->bufs[i].data = e->frames[i] + HEADROOM;
	e->bufs[i].len = (uint16_t)len;
	e->bufs[i].headroom = HEADROOM;
	e->bufs[i].tailroom = (uint16_t)(FRAME_MAX - len);
	return len;
}

static uint32_t run(struct env *e, uint32_t n)
{
	return keel_pipeline_burst(&e->w, e->bufs, e->verdicts, n);
}

/* The backend id a forwarded IPIP/IPv4 frame was sent to, from its outer destination. */
static int outer_backend(const struct env *e, int i)
{
	const uint8_t *f = e->bufs[i].data;
	uint32_t k;

	for (k = 0; k < 7; k++) {
		if (be[k].family == 4 && f[12] == 0x08 && f[13] == 0x00 &&
		    !memcmp(f + 14 + 16, be[k].addr, 4))
			return (int)k;
		if (be[k].family == 6 && f[12] == 0x86 && f[13] == 0xdd &&
		    !memcmp(f + 14 + 24, be[k].addr, 16))
			return (int)k;
	}
	return -1;
}

static uint16_t expected_backend(const struct env *e, const struct pktgen *g)
{
	struct keel_flow_key k = { 0 };
	struct keel_lookup lk;

	pktgen_addr(g->family, g->src, k.src);
	pktgen_addr(g->family, g->dst, k.dst);
	k.sport = htons(g->sport);
	k.dport = htons(g->dport);
	k.proto = g->proto;
	k.family = (uint8_t)g->family;
	keel_pipeline_lookup(e->snap, &k, &lk);
	return lk.backend;
}

static uint64_t drops_total(const struct keel_counters *c)
{
	uint64_t t = 0;
	int i;

	for (i = 0; i < KEEL_DROP_MAX; i++)
		t += c->drops[i];
	return t;
}

static void assert_accounted(const struct env *e)
{
	const struct keel_counters *c = &e->ctr;

	assert_int_equal(c->rx_pkts, c->fwd_pkts + c->reply_pkts + c->kernel_pkts + drops_total(c));
}

static const struct pktgen tcp4 = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1",
				    .proto = 6, .sport = 40000, .dport = 80, .tcp_flags = 0x02,
				    .payload_len = 10 };

static void test_forward_v4(void **state)
{
	struct env *e = *state;
	uint8_t inner[FRAME_MAX];
	size_t len = load(e, 0, &tcp4);
	const uint8_t *f;
	int b;

	memcpy(inner, e->bufs[0].data + 14, len - 14);
	assert_int_equal(run(e, 1), 1);
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
	assert_accounted(e);
}

/* Many clients: every packet goes where keel_pipeline_lookup says, and all three backends are used. */
static void test_spread_matches_lookup(void **state)
{
	struct env *e = *state;
	int seen[3] = { 0 }, i, round;

	for (round = 0; round < 20; round++) {
		struct pktgen g[32];
		char src[32][32];

		for (i = 0; i < 32; i++) {
			g[i] = tcp4;
			snprintf(src[i], sizeof(src[i]), "198.51.%d.%d", round, i + 1);
			g[i].src = src[i];
			g[i].sport = (uint16_t)(1000 + i);
			load(e, i, &g[i]);
		}
		assert_int_equal(run(e, 32), 32);
		for (i = 0; i < 32; i++) {
			int b = outer_backend(e, i);

			assert_int_equal(e->verdicts[i], KEEL_VERDICT_FORWARD);
			assert_int_equal(b, expected_backend(e, &g[i]));
			seen[b]++;
		}
	}
	for (i = 0; i < 3; i++)
		assert_in_range(seen[i], 120, 310);
	assert_accounted(e);
}

static void test_flow_hit_and_drain(void **state)
{
	struct env *e = *state;
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
		load(e, i, &g[i]);
	}
	run(e, 64);
	for (i = 0; i < 64; i++)
		first[i] = outer_backend(e, i);

	/* Backend 2 drained in a new snapshot: tracked flows stay, new ones avoid it. */
	make_spec(&spec, KEEL_BACKEND_DRAINING, 1);
	spec.generation = 2;
	drained = snapfix_build(&spec);
	e->w.snap = drained;
	for (i = 0; i < 64; i++)
		load(e, i, &g[i]);
	run(e, 64);
	for (i = 0; i < 64; i++)
		assert_int_equal(outer_backend(e, i), first[i]);
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.hits, 64);

	for (i = 0; i < 64; i++) {
		g[i].src = "198.18.0.1";
		g[i].sport = (uint16_t)(2000 + i);
		load(e, i, &g[i]);
	}
	run(e, 64);
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
		load(e, i, &g[i]);
	}
	run(e, 64);
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
	assert_accounted(e);
}

static void test_not_vip(void **state)
{
	struct env *e = *state;
	struct pktgen g = tcp4;
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };

	g.dst = "192.0.2.99";
	load(e, 0, &g);
	g = tcp4;
	g.dport = 81;
	load(e, 1, &g);
	memcpy(e->frames[2] + HEADROOM, arp, sizeof(arp));
	e->bufs[2] = (struct keel_buf){ e->frames[2] + HEADROOM, 60, HEADROOM, 100 };
	assert_int_equal(run(e, 3), 0);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.kernel_pkts, 3);

	e->w.non_vip_to_kernel = false;
	load(e, 0, &g);
	run(e, 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_NOT_VIP], 1);
	assert_accounted(e);
}

static void test_malformed_and_no_backend(void **state)
{
	struct env *e = *state;
	struct pktgen g = tcp4;

	load(e, 0, &g);
	e->bufs[0].data[14 + 10] ^= 0xff; /* IPv4 header checksum */
	g.dst = "192.0.2.2";
	load(e, 1, &g);
	assert_int_equal(run(e, 2), 0);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_DROP);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_IP4_CHECKSUM], 1);
	assert_int_equal(e->ctr.drops[KEEL_DROP_NO_BACKEND], 1);

	/* No snapshot yet: dropped, or with an exception path all handed to the kernel. */
	e->w.snap = NULL;
	e->w.non_vip_to_kernel = false;
	load(e, 0, &tcp4);
	run(e, 1);
	assert_int_equal(e->ctr.drops[KEEL_DROP_NO_SNAPSHOT], 1);
	e->w.non_vip_to_kernel = true;
	load(e, 0, &tcp4);
	run(e, 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_KERNEL);
	e->w.snap = e->snap;
	assert_accounted(e);
}

static void test_icmp_echo(void **state)
{
	struct env *e = *state;
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 1,
			    .icmp_type = 8, .payload_len = 32 };
	struct pktgen g6 = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1",
			     .proto = 58, .icmp_type = 128, .payload_len = 32 };
	struct pktgen other = g;

	other.dst = "192.0.2.77";
	load(e, 0, &g);
	load(e, 1, &g6);
	load(e, 2, &other);
	assert_int_equal(run(e, 3), 2);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[0].data[14 + 20], 0); /* echo reply */
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_REPLY);
	assert_int_equal(e->bufs[1].data[14 + 40], 129);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_KERNEL);
	assert_int_equal(e->ctr.icmp_echo, 2);
	assert_accounted(e);
}

/* A "fragmentation needed" about a VIP connection reaches that connection's backend. */
static void test_icmp_error_follows_flow(void **state)
{
	struct env *e = *state;
	struct pktgen reply = { .family = 4, .src = "192.0.2.1", .dst = "198.51.100.7", .proto = 6,
				.sport = 80, .dport = 40000, .payload_len = 20 };
	uint8_t quote[128], icmp[8 + 128];
	struct pktgen err = { .family = 4, .src = "203.0.113.254", .dst = "192.0.2.1", .proto = 1,
			      .icmp_type = 3, .icmp_code = 4 };
	size_t qlen;
	int b;

	/* The flow first, so it is tracked. */
	load(e, 0, &tcp4);
	run(e, 1);
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
	load(e, 0, &err);
	assert_int_equal(run(e, 1), 1);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(outer_backend(e, 0), b);
	assert_int_equal(e->ctr.icmp_errors_fwd, 1);
	assert_accounted(e);
}

static void test_fragments(void **state)
{
	struct env *e = *state;
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
	load(e, 0, &first);
	load(e, 1, &later);
	load(e, 2, &whole);
	load(e, 3, &tcp_later);
	run(e, 4);
	assert_int_equal(e->verdicts[0], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[1], KEEL_VERDICT_FORWARD);
	assert_int_equal(e->verdicts[2], KEEL_VERDICT_FORWARD);
	/* Addresses-only hashing: all three, whatever the ports, on one backend. */
	assert_int_equal(outer_backend(e, 0), outer_backend(e, 1));
	assert_int_equal(outer_backend(e, 0), outer_backend(e, 2));
	/* A TCP VIP without the fragments flag drops non-first fragments. */
	assert_int_equal(e->verdicts[3], KEEL_VERDICT_DROP);
	assert_int_equal(e->ctr.drops[KEEL_DROP_FRAGMENT], 1);
	assert_accounted(e);
}

static void test_v6_gue(void **state)
{
	struct env *e = *state;
	struct pktgen g = { .family = 6, .src = "2001:db8:c::7", .dst = "2001:db8::1", .proto = 6,
			    .sport = 50000, .dport = 443, .payload_len = 100 };
	size_t len = load(e, 0, &g);
	const uint8_t *f;
	int b;

	assert_int_equal(run(e, 1), 1);
	f = e->bufs[0].data;
	assert_int_equal(e->bufs[0].len, len + 40 + 8 + 4);
	assert_int_equal(f[14 + 6], 17); /* UDP */
	assert_int_equal(f[14 + 40 + 2] << 8 | f[14 + 40 + 3], 6080);
	assert_true(pktgen_l4_csum_ok(6, f + 14, f + 54, len - 14 + 12, 17));
	b = outer_backend(e, 0);
	assert_int_equal(b, expected_backend(e, &g));
	assert_accounted(e);
}

static void test_too_big(void **state)
{
	struct env *e = *state;
	struct pktgen df = tcp4, nodf = tcp4;
	uint32_t i;

	df.payload_len = 1460; /* 1500-byte packet: 1520 with IPIP */
	df.df = true;
	nodf.payload_len = 1460;
	load(e, 0, &df);
	load(e, 1, &nodf);
	assert_int_equal(run(e, 2), 1);
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
		load(e, 0, &df);
		run(e, 1);
	}
	assert_int_equal(e->ctr.icmp_too_big, 1 + e->snap->icmp_rate);
	assert_int_equal(e->ctr.drops[KEEL_DROP_ICMP_RATE_LIMIT], 150 - e->snap->icmp_rate);
	assert_accounted(e);
}

/* Above the new-flow rate, new flows are forwarded by hash, untracked, and counted. */
static void test_new_flow_rate(void **state)
{
	struct env *e = *state;
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
		load(e, i, &g[i]);
	}
	assert_int_equal(run(e, 32), 32);
	for (i = 0; i < 32; i++)
		assert_int_equal(outer_backend(e, i), expected_backend(e, &g[i]));
	flow_table_get_stats(e->w.ft, &st);
	assert_int_equal(st.inserts, 10);
	assert_int_equal(e->ctr.untracked, 22);
	e->w.ft = saved;
	free(mem);
	assert_accounted(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forward_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spread_matches_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_hit_and_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_vip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_and_no_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icmp_error_follows_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v6_gue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_flow_rate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
