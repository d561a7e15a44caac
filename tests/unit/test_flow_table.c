/* The per-worker flow table's semantics: sizes, state apart, lookups, flush, census, peek, hints. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow_table.h"
#include "flowfix.h"
#include "hash.h"
#include "pkt.h"

static void test_sizes_and_params(void **state)
{
	struct flow_table_params p = flowfix_params(1000, 1000, 1000, 1000);
	struct flow_table *ft;
	uint8_t *mem;
	size_t sz;

	(void)state;
	assert_int_equal(flow_table_mem_size(0), flow_table_mem_size(8));
	assert_int_equal(flow_table_mem_size(9), flow_table_mem_size(16));
	assert_true(flow_table_mem_size(16) < flow_table_mem_size(17));
	/* One 64-byte bucket line per 4 flows, and nothing else that grows. */
	assert_int_equal(flow_table_mem_size(1u << 20) - flow_table_mem_size(1u << 19), (1u << 19) * 16);
	assert_int_equal(flow_table_mem_size(0x80000001u), 0);

	sz = flow_table_mem_size(p.capacity);
	mem = malloc(sz + 1);
	assert_non_null(mem);

	errno = 0;
	assert_null(flow_table_init(mem, sz - 1, &p));
	assert_int_equal(errno, EINVAL);
	assert_null(flow_table_init(NULL, sz, &p));
	p.capacity = 0x80000001u;
	errno = 0;
	assert_null(flow_table_init(mem, sz, &p));
	assert_int_equal(errno, EINVAL);

	/* A deliberately misaligned area: init aligns inside the slack. */
	p.capacity = 1000;
	memset(mem, 0xa5, sz + 1);
	ft = flow_table_init(mem + 1, sz, &p);
	assert_non_null(ft);
	assert_int_equal(flow_table_capacity(ft), 1024);
	{
		struct keel_flow_key k = flowfix_make_key(1, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(1);

		assert_null(flowfix_lookup1(ft, &k, 0, 5, NULL));
		assert_non_null(flowfix_insert1(ft, &k, &v, KEEL_TCP_SYN, 5));
		assert_true(flowfix_value_eq(flowfix_lookup1(ft, &k, 0, 6, NULL), &v));
	}
	free(mem);
}

/*
 * The state apart from the buckets (a flow-table file): nothing of the state
 * is in the buckets' memory, so overwriting all of it but one flow's slot
 * changes no other lookup; adoption keeps good slots, drops impossible ones
 * and those keep refuses.
 */
static int keep_not_7(const struct flow_value *v, void *arg)
{
	(void)arg;
	return v->backend != 7;
}

static void test_buckets_apart(void **state)
{
	static struct flow_table_state st, st2;
	struct flow_table_params p = flowfix_params(64, 1000, 1000, 1000);
	size_t bsz = flow_table_buckets_size(64);
	struct keel_flow_key k1 = flowfix_make_key(1, KEEL_PROTO_TCP);
	struct keel_flow_key k2 = flowfix_make_key(2, KEEL_PROTO_TCP);
	struct flow_value v1 = { .backend = 1, .vip = 2 }, v7 = { .backend = 7, .vip = 2 };
	struct flow_table *ft;
	uint32_t dropped = 99;
	uint8_t *b;

	(void)state;
	assert_int_equal(bsz, 16 * 64); /* 64 flows: 16 lines of 4 slots, no header */
	assert_int_equal(flow_table_buckets_size(0x80000001u), 0);
	b = aligned_alloc(64, bsz + 64);
	assert_non_null(b);
	errno = 0;
	assert_null(flow_table_init_buckets(&st, b + 8, bsz, &p)); /* buckets must be line-aligned */
	assert_int_equal(errno, EINVAL);
	assert_null(flow_table_init_buckets(&st, b, bsz - 1, &p));
	assert_null(flow_table_init_buckets(NULL, b, bsz, &p));
	memset(b, 0xa5, bsz);
	ft = flow_table_init_buckets(&st, b, bsz, &p);
	assert_non_null(ft);
	assert_true((uint8_t *)ft < b || (uint8_t *)ft >= b + bsz);
	assert_non_null(flowfix_insert1(ft, &k1, &v1, KEEL_TCP_SYN, 5));
	assert_non_null(flowfix_insert1(ft, &k2, &v7, KEEL_TCP_SYN, 5));

	/* A later process: the same buckets, fresh state; keep refuses backend 7. */
	ft = flow_table_adopt_buckets(&st2, b, bsz, &p, keep_not_7, NULL, &dropped);
	assert_non_null(ft);
	assert_int_equal(dropped, 1);
	assert_true(flowfix_value_eq(flowfix_lookup1(ft, &k1, 0, 6, NULL), &v1));
	assert_null(flowfix_lookup1(ft, &k2, 0, 6, NULL));

	/* Every slot made impossible (class 3): all dropped, the table empty and usable. */
	for (size_t off = 0; off < bsz; off += 16) {
		uint64_t fp = 0x0123456789abcdefull + off;
		uint32_t meta = 0xffffffffu;

		memcpy(b + off, &fp, sizeof(fp));
		memcpy(b + off + 12, &meta, sizeof(meta));
	}
	ft = flow_table_adopt_buckets(&st2, b, bsz, &p, NULL, NULL, &dropped);
	assert_non_null(ft);
	assert_int_equal(dropped, 64);
	assert_null(flowfix_lookup1(ft, &k1, 0, 6, NULL));
	assert_non_null(flowfix_insert1(ft, &k1, &v1, KEEL_TCP_SYN, 7));
	assert_true(flowfix_value_eq(flowfix_lookup1(ft, &k1, 0, 8, NULL), &v1));
	free(b);
}

static void test_basic(void **state)
{
	struct flow_table_params p = flowfix_params(256, 1000, 100, 1000);
	struct keel_flow_key k1 = flowfix_make_key(1, KEEL_PROTO_TCP);
	struct keel_flow_key k2 = flowfix_make_key(2, KEEL_PROTO_UDP);
	struct flow_value v1 = flowfix_make_value(11), v2 = flowfix_make_value(22);
	struct flow_value other = flowfix_make_value(99);
	struct flow_table_stats st;
	struct test_table t;
	struct flow_value *r;
	uint64_t h;

	(void)state;
	flowfix_table_open(&t, &p);

	assert_null(flowfix_lookup1(t.ft, &k1, KEEL_TCP_SYN, 10, &h));
	assert_int_equal(h, keel_hash_key(&k1, p.secret));
	r = flow_table_insert(t.ft, &k1, h, &v1, KEEL_TCP_SYN, 10, NULL);
	assert_non_null(r);
	assert_true(flowfix_value_eq(r, &v1));
	assert_non_null(flowfix_insert1(t.ft, &k2, &v2, 0, 10));

	r = flowfix_lookup1(t.ft, &k1, KEEL_TCP_ACK, 20, NULL);
	assert_non_null(r);
	assert_true(flowfix_value_eq(r, &v1));
	assert_true(flowfix_value_eq(flowfix_lookup1(t.ft, &k2, 0, 20, NULL), &v2));

	/* A second insert of a tracked key (same burst, two packets) keeps the first choice. */
	r = flowfix_insert1(t.ft, &k1, &other, KEEL_TCP_ACK, 21);
	assert_non_null(r);
	assert_true(flowfix_value_eq(r, &v1));

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.inserts, 2);
	assert_int_equal(st.occupancy, 2);

	assert_int_equal(flow_table_remove(t.ft, &k1), 0);
	assert_int_equal(flow_table_remove(t.ft, &k1), -ENOENT);
	assert_null(flowfix_lookup1(t.ft, &k1, 0, 30, NULL));
	assert_true(flowfix_value_eq(flowfix_lookup1(t.ft, &k2, 0, 30, NULL), &v2));

	/* A burst mixing hits, misses and a repeated key. */
	{
		struct keel_flow_key k3 = flowfix_make_key(3, KEEL_PROTO_TCP);
		const struct keel_flow_key *keys[4] = { &k2, &k3, &k1, &k2 };
		uint8_t flags[4] = { 0 };
		struct flow_value *vals[4];
		uint64_t hs[4];

		flow_table_lookup_burst(t.ft, keys, flags, 4, 40, vals, hs);
		assert_true(flowfix_value_eq(vals[0], &v2));
		assert_null(vals[1]);
		assert_null(vals[2]);
		assert_ptr_equal(vals[3], vals[0]);
		assert_int_equal(hs[1], keel_hash_key(&k3, p.secret));
		/* NULL tcp_flags and hashes are accepted. */
		flow_table_lookup_burst(t.ft, keys, NULL, 4, 41, vals, NULL);
		assert_ptr_equal(vals[3], vals[0]);
	}

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.occupancy, 1);
	assert_int_equal(st.hits, 2 + 1 + 2 + 2);
	assert_int_equal(st.misses, 1 + 1 + 2 + 2);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.expirations, 0);
	assert_int_equal(st.insert_skipped, 0);
	flowfix_table_close(&t);
}

static int backend_is(const struct flow_value *v, void *arg)
{
	return v->backend == *(const uint16_t *)arg;
}

static void test_flush(void **state)
{
	struct flow_table_params p = flowfix_params(1024, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint16_t victim = 1;
	uint32_t cursor = 0, removed = 0, calls = 0, i;

	(void)state;
	flowfix_table_open(&t, &p);
	for (i = 0; i < 300; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = { .backend = (uint16_t)(i % 3), .vip = (uint16_t)i };

		assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 1));
	}
	/* 256 buckets of 4, 10 per call: 26 calls, the cursor wraps to 0 on the last. */
	do {
		removed += flow_table_flush(t.ft, backend_is, &victim, &cursor, 10);
		calls++;
		assert_true(calls <= 26);
	} while (cursor != 0);
	assert_int_equal(calls, 26);
	assert_int_equal(removed, 100);

	for (i = 0; i < 300; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value *r = flowfix_lookup1(t.ft, &k, 0, 2, NULL);

		if (i % 3 == 1) {
			assert_null(r);
		} else {
			assert_non_null(r);
			assert_int_equal(r->backend, i % 3);
			assert_int_equal(r->vip, i);
		}
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.occupancy, 200);
	/* A pass with nothing matching removes nothing; one call can cover the table. */
	assert_int_equal(flow_table_flush(t.ft, backend_is, &victim, &cursor, 1000), 0);
	assert_int_equal(cursor, 0);
	flowfix_table_close(&t);
}

/*
 * The census of tracked flows by backend: live flows counted in place, in
 * steps, expired ones not, ids past n_counts ignored; the table unchanged.
 */
static void test_census(void **state)
{
	struct flow_table_params p = flowfix_params(1024, 5000, 1000, 5000);
	struct flow_table_stats before, after;
	uint64_t counts[8] = { 0 };
	struct test_table t;
	uint32_t cursor = 0, hi = 0, calls = 0, scanned = 0, i;

	(void)state;
	flowfix_table_open(&t, &p);
	assert_int_equal(flow_table_buckets(t.ft), 256);
	/* 300 TCP flows on backends 0..2 (100 each), then 20 on backend 9 (past n_counts). */
	for (i = 0; i < 320; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = { .backend = (uint16_t)(i < 300 ? i % 3 : 9), .vip = 1 };

		assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 1));
	}
	/* 30 of backend 1 close (FIN): their class times out after 1 s, the others after 5. */
	for (i = 1; i < 90; i += 3) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);

		assert_non_null(flowfix_lookup1(t.ft, &k, KEEL_TCP_FIN, 2, NULL));
	}
	flow_table_get_stats(t.ft, &before);
	/* At 3 s the closed flows are past their timeout; 256 buckets, 10 per call: 26 calls. */
	do {
		scanned += flow_table_census(t.ft, 3000, counts, 8, &hi, &cursor, 10);
		calls++;
		assert_true(calls <= 26);
	} while (cursor != 0);
	assert_int_equal(calls, 26);
	assert_int_equal(scanned, 256);
	assert_int_equal(counts[0], 100);
	assert_int_equal(counts[1], 70);
	assert_int_equal(counts[2], 100);
	for (i = 3; i < 8; i++)
		assert_int_equal(counts[i], 0);
	assert_int_equal(hi, 3);
	/* Nothing reclaimed, nothing counted as a hit or a miss. */
	flow_table_get_stats(t.ft, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	/* Past every timeout nothing is live. */
	memset(counts, 0, sizeof(counts));
	hi = 0;
	assert_int_equal(flow_table_census(t.ft, 7000, counts, 8, &hi, &cursor, 1000), 256);
	assert_int_equal(cursor, 0);
	assert_int_equal(hi, 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(counts[i], 0);
	flowfix_table_close(&t);
}

/* The table's fingerprint of a hash (flow_table.c ft_fp): its low bits pick the primary bucket. */
static uint64_t ft_fp_test(uint64_t h)
{
	return h ? h : 1;
}
/*
 * The hinted insert (no second probe): a flow opened by an earlier packet of
 * the same burst is found, not duplicated, whether that packet took the
 * hinted slot or, the slot being taken by another flow first, went elsewhere;
 * and a hint is not trusted once a slot was emptied after the lookup.
 */
static void test_insert_hinted(void **state)
{
	struct flow_table_params p = flowfix_params(8, NEVER_MS, NEVER_MS, NEVER_MS); /* two buckets */
	struct flow_value vf = flowfix_make_value(1), vf2 = flowfix_make_value(2);
	struct flow_value vg = flowfix_make_value(3), *rf, *r;
	struct keel_flow_key f, g;
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;
	bool created;

	(void)state;
	flowfix_table_open(&t, &p);

	/* One new flow twice in a burst: the first takes the hinted slot, the second finds it. */
	{
		const struct keel_flow_key *keys[2] = { &f, &f };
		uint8_t flags[2] = { KEEL_TCP_SYN, KEEL_TCP_ACK };
		struct flow_value *vals[2];
		struct flow_hint hints[2];
		uint64_t hs[2];

		f = flowfix_make_key(100, KEEL_PROTO_TCP);
		flowfix_lookup_hinted(t.ft, keys, flags, 2, 10, vals, hs, hints);
		assert_null(vals[0]);
		assert_null(vals[1]);
		assert_int_equal(hints[0].slot, 0); /* an empty table: the first slot of the primary */
		assert_int_equal(hints[1].slot, hints[0].slot);
		rf = flow_table_insert_hinted(t.ft, &f, hs[0], hints[0], &vf, flags[0], 10, &created);
		assert_non_null(rf);
		assert_true(created);
		r = flow_table_insert_hinted(t.ft, &f, hs[1], hints[1], &vf2, flags[1], 10, &created);
		assert_ptr_equal(r, rf);
		assert_false(created);
		assert_true(flowfix_value_eq(r, &vf));
		flow_table_get_stats(t.ft, &st);
		assert_int_equal(st.inserts, 1);
		assert_int_equal(st.occupancy, 1);
		assert_int_equal(flow_table_remove(t.ft, &f), 0);
	}

	/* g and f share a primary bucket, so a lookup gives both the same free slot. */
	g = flowfix_make_key(0, KEEL_PROTO_TCP);
	for (i = 1; i < 1000; i++) {
		f = flowfix_make_key(i, KEEL_PROTO_TCP);
		if ((ft_fp_test(keel_hash_key(&f, p.secret)) & 1) == (ft_fp_test(keel_hash_key(&g, p.secret)) & 1))
			break;
	}
	assert_true(i < 1000);
	{
		const struct keel_flow_key *keys[3] = { &g, &f, &f };
		uint8_t flags[3] = { KEEL_TCP_SYN, KEEL_TCP_SYN, KEEL_TCP_ACK };
		struct flow_value *vals[3];
		struct flow_hint hints[3];
		uint64_t hs[3];

		flowfix_lookup_hinted(t.ft, keys, flags, 3, 20, vals, hs, hints);
		assert_null(vals[0]);
		assert_null(vals[1]);
		assert_null(vals[2]);
		assert_int_equal(hints[1].slot, hints[0].slot);
		assert_non_null(flow_table_insert_hinted(t.ft, &g, hs[0], hints[0], &vg, flags[0], 20, &created));
		assert_true(created);
		/* g took the slot: f's first packet goes the long way, to another slot. */
		rf = flow_table_insert_hinted(t.ft, &f, hs[1], hints[1], &vf, flags[1], 20, &created);
		assert_non_null(rf);
		assert_true(created);
		/* f's second packet has the same (taken) hint and finds f's first insert. */
		r = flow_table_insert_hinted(t.ft, &f, hs[2], hints[2], &vf2, flags[2], 20, &created);
		assert_ptr_equal(r, rf);
		assert_false(created);
		assert_true(flowfix_value_eq(r, &vf));

		/*
		 * The hinted slot emptied after the lookup (g removed): trusting the
		 * hint now would track f twice. The epoch has moved on, so it is not.
		 */
		assert_int_equal(flow_table_remove(t.ft, &g), 0);
		r = flow_table_insert_hinted(t.ft, &f, hs[2], hints[2], &vf2, flags[2], 21, &created);
		assert_ptr_equal(r, rf);
		assert_false(created);
		assert_true(flowfix_value_eq(r, &vf));
		flow_table_get_stats(t.ft, &st);
		assert_int_equal(st.occupancy, 1);
		assert_int_equal(st.inserts, 3);
		assert_true(flowfix_value_eq(flowfix_lookup1(t.ft, &f, 0, 22, NULL), &vf));
		assert_int_equal(flow_table_remove(t.ft, &f), 0);
		assert_int_equal(flow_table_remove(t.ft, &f), -ENOENT);
	}

	/* A hit leaves its hint alone; a full primary gives none. */
	{
		struct keel_flow_key k[6];
		const struct keel_flow_key *keys[1];
		struct flow_value *vals[1];
		struct flow_hint hints[1];
		uint64_t hs[1];
		uint32_t n = 0;

		/* Five keys of g's primary: four fill it, the fifth finds it full. */
		for (i = 1; i < 100000 && n < 5; i++) {
			k[n] = flowfix_make_key(i, KEEL_PROTO_UDP);
			if ((ft_fp_test(keel_hash_key(&k[n], p.secret)) & 1) == (ft_fp_test(keel_hash_key(&g, p.secret)) & 1))
				n++;
		}
		assert_int_equal(n, 5);
		for (i = 0; i < 4; i++)
			assert_non_null(flowfix_insert1(t.ft, &k[i], &vg, 0, 30));
		keys[0] = &k[4];
		hints[0].slot = 7;
		flowfix_lookup_hinted(t.ft, keys, NULL, 1, 30, vals, hs, hints);
		assert_null(vals[0]);
		assert_int_equal(hints[0].slot, FLOW_HINT_NONE);
		r = flow_table_insert_hinted(t.ft, &k[4], hs[0], hints[0], &vf, 0, 30, &created);
		assert_non_null(r);
		assert_true(created);
		assert_true(flowfix_value_eq(flowfix_lookup1(t.ft, &k[4], 0, 31, NULL), &vf));
	}
	flowfix_table_close(&t);
}

/* peek answers like a lookup but changes nothing: no refresh, no counter, no expiry reclaim. */
static void test_peek(void **state)
{
	struct flow_table_params p = flowfix_params(1024, 10000, 2000, 5000);
	struct keel_flow_key k = flowfix_make_key(7, KEEL_PROTO_TCP);
	struct keel_flow_key other = flowfix_make_key(8, KEEL_PROTO_TCP);
	struct flow_value v = flowfix_make_value(7);
	const struct flow_value *got;
	struct flow_table_stats st;
	struct test_table t;

	(void)state;
	flowfix_table_open(&t, &p);
	assert_non_null(flowfix_insert1(t.ft, &k, &v, KEEL_TCP_SYN, 1000));
	got = flow_table_peek(t.ft, &k, 1500);
	assert_non_null(got);
	assert_true(flowfix_value_eq(got, &v));
	assert_null(flow_table_peek(t.ft, &other, 1500));
	/* Peeking near the timeout does not keep the flow alive. */
	assert_non_null(flow_table_peek(t.ft, &k, 1000 + 10000));
	assert_null(flow_table_peek(t.ft, &k, 1000 + 10001));
	assert_null(flowfix_lookup1(t.ft, &k, KEEL_TCP_ACK, 1000 + 10001, NULL));
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.hits, 0); /* only the last lookup counted, as a miss */
	assert_int_equal(st.misses, 1);
	flowfix_table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_and_params),
		cmocka_unit_test(test_buckets_apart),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_census),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_insert_hinted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
