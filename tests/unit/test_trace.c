/* Packet traces: the filter, and that a traced burst does exactly what the plain one does while recording each taken packet's way. */
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
#include "pipeline.h"
#include "pktgen.h"
#include "snapfix.h"
#include "trace.h"

#define NREC 8

/* A sink over a small array, as a worker's ring is: take the next, commit moves on. */
struct arr_sink {
	struct keel_trace_record rec[NREC];
	uint32_t n, max;
};

static struct keel_trace_record *arr_take(void *arg)
{
	struct arr_sink *a = arg;

	return a->n < a->max ? &a->rec[a->n] : NULL;
}

static void arr_commit(void *arg, struct keel_trace_record *rec)
{
	struct arr_sink *a = arg;

	assert_ptr_equal(rec, &a->rec[a->n]);
	a->n++;
}

static struct keel_backend_spec be[4];
static struct keel_vip_spec vips[2];

/* VIP id 7: 192.0.2.1:80/tcp, backends 0-2. VIP id 9: 192.0.2.2:80/tcp, no backend. */
static void env_init(struct burst_env *e)
{
	struct keel_snapshot_spec spec;

	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	be[2] = snapfix_backend("10.0.0.3", 2, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 7, 251, be, 3);
	vips[1] = snapfix_vip("192.0.2.2", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_IPIP, 9, 251, NULL, 0);
	memset(&spec, 0, sizeof(spec));
	spec.n_vips = 2;
	spec.vips = vips;
	snapfix_spec_defaults(&spec);
	burst_env_init(e, &spec, 1024);
}

static struct keel_trace_filter any_filter(void)
{
	struct keel_trace_filter f = { .vip = KEEL_TRACE_ANY_VIP, .count = 10, .duration_ms = 1000 };

	return f;
}

static void test_filter_tuple(void **state)
{
	struct keel_trace_filter f = any_filter();
	struct keel_flow_key k = { 0 };

	(void)state;
	pktgen_addr(4, "198.51.100.7", k.src);
	pktgen_addr(4, "192.0.2.1", k.dst);
	k.family = KEEL_AF_INET4;
	k.proto = KEEL_PROTO_TCP;
	k.sport = htons(1234);
	k.dport = htons(80);
	assert_true(keel_trace_match_tuple(&f, true, &k, 7));
	assert_true(keel_trace_match_tuple(&f, false, &k, KEEL_TRACE_ANY_VIP));

	f.vip = 7;
	assert_true(keel_trace_match_tuple(&f, true, &k, 7));
	assert_false(keel_trace_match_tuple(&f, true, &k, 9));
	/* A frame the parser refused has no tuple: a tuple filter never takes it. */
	assert_false(keel_trace_match_tuple(&f, false, &k, KEEL_TRACE_ANY_VIP));

	f = any_filter();
	f.family = KEEL_AF_INET4;
	pktgen_addr(4, "198.51.100.0", f.src);
	f.src_len = 25;
	assert_true(keel_trace_match_tuple(&f, true, &k, 7));
	pktgen_addr(4, "198.51.100.128", f.src);
	assert_false(keel_trace_match_tuple(&f, true, &k, 7)); /* bit 25 differs */
	f.src_len = 24;
	assert_true(keel_trace_match_tuple(&f, true, &k, 7));
	f.family = KEEL_AF_INET6; /* another family never matches */
	assert_false(keel_trace_match_tuple(&f, true, &k, 7));

	f = any_filter();
	f.sport = htons(1234);
	assert_true(keel_trace_match_tuple(&f, true, &k, 7));
	f.sport = htons(1235);
	assert_false(keel_trace_match_tuple(&f, true, &k, 7));
	f = any_filter();
	f.proto = KEEL_PROTO_UDP;
	assert_false(keel_trace_match_tuple(&f, true, &k, 7));
	f = any_filter();
	f.dport = htons(443);
	assert_false(keel_trace_match_tuple(&f, true, &k, 7));
}

static void test_filter_fate_and_check(void **state)
{
	struct keel_trace_filter f = any_filter();

	(void)state;
	assert_true(keel_trace_match_fate(&f, KEEL_VERDICT_FORWARD, 0));
	f.drop = KEEL_TRACE_DROP_ANY;
	assert_false(keel_trace_match_fate(&f, KEEL_VERDICT_FORWARD, 0));
	assert_true(keel_trace_match_fate(&f, KEEL_VERDICT_DROP, KEEL_DROP_NO_BACKEND));
	f.drop = KEEL_DROP_NO_BACKEND;
	assert_true(keel_trace_match_fate(&f, KEEL_VERDICT_DROP, KEEL_DROP_NO_BACKEND));
	assert_false(keel_trace_match_fate(&f, KEEL_VERDICT_DROP, KEEL_DROP_FRAGMENT));

	f = any_filter();
	assert_null(keel_trace_filter_check(&f));
	f.count = 0;
	assert_non_null(keel_trace_filter_check(&f));
	f.count = KEEL_TRACE_RECORDS + 1;
	assert_non_null(keel_trace_filter_check(&f));
	f = any_filter();
	f.duration_ms = KEEL_TRACE_MAX_MS + 1;
	assert_non_null(keel_trace_filter_check(&f));
	f = any_filter();
	f.src_len = 8; /* a prefix without its family */
	assert_non_null(keel_trace_filter_check(&f));
	f.family = KEEL_AF_INET4;
	f.src_len = 33;
	assert_non_null(keel_trace_filter_check(&f));
	f = any_filter();
	f.drop = KEEL_DROP_MAX;
	assert_non_null(keel_trace_filter_check(&f));
}

/*
 * The same burst through the plain pipeline and the traced one: same
 * verdicts, bytes and counters; the records say what happened to each
 * packet the filter took.
 */
static void test_traced_burst_agrees(void **state)
{
	static struct burst_env plain, traced;
	struct arr_sink a = { .max = NREC };
	struct keel_trace_filter f = any_filter();
	struct keel_trace_sink sink = { .f = &f, .port = 1, .queue = 2, .take = arr_take, .commit = arr_commit,
					.arg = &a };
	struct pktgen tcp = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6,
			      .sport = 1234, .dport = 80, .tcp_flags = KEEL_TCP_SYN };
	struct pktgen other = tcp, nob = tcp, echo = { .family = 4, .src = "198.51.100.8",
						      .dst = "192.0.2.1", .proto = 1, .icmp_type = 8,
						      .payload_len = 8 };
	struct burst_env *envs[2] = { &plain, &traced };
	uint32_t ntx[2], i, k;

	(void)state;
	other.src = "203.0.113.9";
	nob.dst = "192.0.2.2";
	f.family = KEEL_AF_INET4;
	pktgen_addr(4, "198.51.100.0", f.src);
	f.src_len = 24;
	for (k = 0; k < 2; k++) {
		struct burst_env *e = envs[k];

		env_init(e);
		burst_env_load(e, 0, &tcp);   /* new flow: inserted */
		burst_env_load(e, 1, &other); /* not taken by the filter */
		burst_env_load(e, 2, &tcp);   /* same flow again: hit */
		burst_env_load(e, 3, &echo);  /* answered */
		nob.src = "198.51.100.9";
		burst_env_load(e, 4, &nob);   /* no backend */
		burst_env_load(e, 5, &other);
		ntx[k] = k ? keel_trace_pipeline(&e->w, &burst_env_port, e->bufs, e->verdicts, 6, &sink) :
			     keel_pipeline_burst(&e->w, &burst_env_port, e->bufs, e->verdicts, 6);
	}
	assert_int_equal(ntx[0], ntx[1]);
	for (i = 0; i < 6; i++) {
		assert_int_equal(plain.verdicts[i], traced.verdicts[i]);
		assert_int_equal(plain.bufs[i].len, traced.bufs[i].len);
		assert_memory_equal(plain.bufs[i].data, traced.bufs[i].data, plain.bufs[i].len);
	}
	assert_memory_equal(&plain.ctr, &traced.ctr, sizeof(plain.ctr));

	assert_int_equal(a.n, 4);
	/* 0: forwarded, a new flow. */
	assert_int_equal(a.rec[0].verdict, KEEL_VERDICT_FORWARD);
	assert_int_equal(a.rec[0].flow, KEEL_TRACE_FLOW_INSERTED);
	assert_int_equal(a.rec[0].vip, 7);
	assert_int_equal(a.rec[0].port, 1);
	assert_int_equal(a.rec[0].queue, 2);
	assert_int_equal(a.rec[0].key.sport, htons(1234));
	assert_true(a.rec[0].backend < 3);
	assert_int_equal(a.rec[0].backend, keel_snapshot_table(plain.snap, &keel_snapshot_vips(plain.snap)[0])[a.rec[0].slot]);
	assert_int_equal(a.rec[0].out_len, plain.bufs[0].len);
	assert_memory_equal(a.rec[0].out, plain.bufs[0].data, KEEL_TRACE_OUT_BYTES);
	/* 1 (frame 2): the same flow, tracked. */
	assert_int_equal(a.rec[1].flow, KEEL_TRACE_FLOW_HIT);
	assert_int_equal(a.rec[1].backend, a.rec[0].backend);
	/* 2 (frame 3): the echo, answered. */
	assert_int_equal(a.rec[2].verdict, KEEL_VERDICT_REPLY);
	assert_int_equal(a.rec[2].flow, KEEL_TRACE_FLOW_NONE);
	assert_int_equal(a.rec[2].backend, KEEL_BACKEND_NONE);
	assert_int_equal(a.rec[2].out[14 + 20], 0); /* echo reply */
	/* 3 (frame 4): dropped, no backend. */
	assert_int_equal(a.rec[3].verdict, KEEL_VERDICT_DROP);
	assert_int_equal(a.rec[3].drop, KEEL_DROP_NO_BACKEND);
	assert_int_equal(a.rec[3].vip, 9);
	assert_int_equal(a.rec[3].out_caplen, 0);
	burst_env_fini(&plain);
	burst_env_fini(&traced);
}

/* A drop filter keeps only drops of its reason; a full sink stops taking, and the burst still runs whole. */
static void test_drop_filter_and_full(void **state)
{
	static struct burst_env e;
	struct arr_sink a = { .max = NREC };
	struct keel_trace_filter f = any_filter();
	struct keel_trace_sink sink = { .f = &f, .take = arr_take, .commit = arr_commit, .arg = &a };
	struct pktgen tcp = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6,
			      .sport = 1234, .dport = 80 };
	struct pktgen nob = tcp;
	uint32_t i;

	(void)state;
	env_init(&e);
	nob.dst = "192.0.2.2";
	burst_env_load(&e, 0, &tcp);
	burst_env_load(&e, 1, &nob);
	burst_env_load(&e, 2, &tcp);
	e.bufs[2].data[14 + 10] ^= 0xff; /* IPv4 header checksum */
	f.drop = KEEL_DROP_NO_BACKEND;
	keel_trace_pipeline(&e.w, &burst_env_port, e.bufs, e.verdicts, 3, &sink);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rec[0].drop, KEEL_DROP_NO_BACKEND);
	assert_int_equal(e.verdicts[0], KEEL_VERDICT_FORWARD);

	f.drop = KEEL_DROP_IP4_CHECKSUM; /* the parser's refusal: no tuple, taken by a tuple-less filter */
	a.n = 0;
	burst_env_load(&e, 0, &tcp);
	e.bufs[0].data[14 + 10] ^= 0xff;
	keel_trace_pipeline(&e.w, &burst_env_port, e.bufs, e.verdicts, 1, &sink);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rec[0].parsed, 0);
	assert_int_equal(a.rec[0].drop, KEEL_DROP_IP4_CHECKSUM);

	/* Full after two: the rest of the burst is forwarded untraced. */
	f.drop = 0;
	a.n = 0;
	a.max = 2;
	for (i = 0; i < 5; i++)
		burst_env_load(&e, (int)i, &tcp);
	assert_int_equal(keel_trace_pipeline(&e.w, &burst_env_port, e.bufs, e.verdicts, 5, &sink), 5);
	assert_int_equal(a.n, 2);
	for (i = 0; i < 5; i++)
		assert_int_equal(e.verdicts[i], KEEL_VERDICT_FORWARD);
	burst_env_fini(&e);
}

/*
 * Second chance: a GUE VIP whose every slot names the other backend as its
 * previous owner; a mid-connection segment of an untracked flow goes to the
 * slot's owner naming the previous one, and stays untracked (flow: miss).
 */
static void test_second_chance(void **state)
{
	static struct burst_env e;
	static uint16_t prev[251];
	struct arr_sink a = { .max = NREC };
	struct keel_trace_filter f = any_filter();
	struct keel_trace_sink sink = { .f = &f, .take = arr_take, .commit = arr_commit, .arg = &a };
	struct pktgen ack = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 6,
			      .sport = 40000, .dport = 80, .tcp_flags = KEEL_TCP_ACK, .payload_len = 10 };
	struct keel_snapshot_spec spec;
	struct keel_snapshot *s;
	const uint16_t *table;
	uint32_t i;

	(void)state;
	env_init(&e);
	be[0] = snapfix_backend("10.0.0.1", 0, 1, KEEL_BACKEND_ACTIVE);
	be[1] = snapfix_backend("10.0.0.2", 1, 1, KEEL_BACKEND_ACTIVE);
	vips[0] = snapfix_vip("192.0.2.1", 80, KEEL_PROTO_TCP, 0, KEEL_ENCAP_GUE, 7, 251, be, 2);
	memset(&spec, 0, sizeof(spec));
	spec.generation = 1;
	spec.n_vips = 1;
	spec.vips = vips;
	snapfix_spec_defaults(&spec);
	s = snapfix_build(&spec);
	table = keel_snapshot_table(s, keel_snapshot_vips(s));
	for (i = 0; i < 251; i++)
		prev[i] = (uint16_t)(table[i] ^ 1);
	free(s);
	vips[0].prev_owner = prev;
	free(e.snap);
	e.snap = snapfix_build(&spec);
	e.w.snap = e.snap;

	burst_env_load(&e, 0, &ack);
	burst_env_load(&e, 1, &ack);
	keel_trace_pipeline(&e.w, &burst_env_port, e.bufs, e.verdicts, 2, &sink);
	assert_int_equal(a.n, 2);
	for (i = 0; i < 2; i++) {
		const struct keel_trace_record *r = &a.rec[i];

		assert_int_equal(r->verdict, KEEL_VERDICT_FORWARD);
		assert_int_equal(r->second_chance, 1);
		assert_int_equal(r->flow, KEEL_TRACE_FLOW_MISS); /* not tracked: every packet names it */
		assert_int_equal(r->vip, 7);
		assert_true(r->backend < 2);
		assert_int_equal(r->prev_backend, r->backend ^ 1);
		/* The outer header goes to the owner: UDP (GUE) to its address. */
		assert_int_equal(r->out[14 + 9], KEEL_PROTO_UDP);
		assert_int_equal(r->out[14 + 16], 10);
		assert_int_equal(r->out[14 + 19], r->backend + 1);
	}
	assert_int_equal(e.ctr.second_chance, 2);
	burst_env_fini(&e);
}

/* A QUIC short header routed by its server id: the trace names that backend and no flow entry. */
static void test_quic_cid(void **state)
{
	static struct burst_env e;
	static const uint8_t l4[8 + 24] = { 0x9c, 0x40, 0x01, 0xbb, 0, 32, 0, 0,
					    0x40, 0x07, 0x00, 0x02 /* server id 2 */, 0x5a, 0x5a };
	struct arr_sink a = { .max = NREC };
	struct keel_trace_filter f = any_filter();
	struct keel_trace_sink sink = { .f = &f, .take = arr_take, .commit = arr_commit, .arg = &a };
	struct pktgen g = { .family = 4, .src = "198.51.100.7", .dst = "192.0.2.1", .proto = 17,
			    .sport = 40000, .dport = 443, .l4_override = l4, .l4_override_len = sizeof(l4) };
	struct keel_snapshot_spec spec;
	uint32_t i;

	(void)state;
	env_init(&e);
	for (i = 0; i < 3; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.0.0.%u", i + 1);
		be[i] = snapfix_backend(addr, (uint16_t)i, 1, KEEL_BACKEND_ACTIVE);
		be[i].server_id = (uint16_t)(i + 1);
	}
	vips[0] = snapfix_vip("192.0.2.1", 443, KEEL_PROTO_UDP, KEEL_VIP_QUIC, KEEL_ENCAP_IPIP, 7, 251, be, 3);
	memset(&spec, 0, sizeof(spec));
	spec.generation = 1;
	spec.n_vips = 1;
	spec.vips = vips;
	snapfix_spec_defaults(&spec);
	free(e.snap);
	e.snap = snapfix_build(&spec);
	e.w.snap = e.snap;

	burst_env_load(&e, 0, &g);
	keel_trace_pipeline(&e.w, &burst_env_port, e.bufs, e.verdicts, 1, &sink);
	assert_int_equal(a.n, 1);
	assert_int_equal(a.rec[0].verdict, KEEL_VERDICT_FORWARD);
	assert_int_equal(a.rec[0].backend, 1); /* server id 2 is backend id 1 */
	assert_int_equal(a.rec[0].flow, KEEL_TRACE_FLOW_NONE);
	assert_int_equal(a.rec[0].out[14 + 19], 2); /* outer destination 10.0.0.2 */
	assert_int_equal(e.ctr.quic_cid_routed, 1);
	burst_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_tuple),
		cmocka_unit_test(test_filter_fate_and_check),
		cmocka_unit_test(test_traced_burst_agrees),
		cmocka_unit_test(test_drop_filter_and_full),
		cmocka_unit_test(test_second_chance),
		cmocka_unit_test(test_quic_cid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
