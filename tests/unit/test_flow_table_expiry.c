/* The flow table's timeouts, LRU eviction, insert rate limit and touch throttle. */
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

static void test_expiry_classes(void **state)
{
	struct flow_table_params p = flowfix_params(256, 1000, 100, 500);
	struct keel_flow_key tcp = flowfix_make_key(1, KEEL_PROTO_TCP);
	struct keel_flow_key udp = flowfix_make_key(2, KEEL_PROTO_UDP);
	struct keel_flow_key fin = flowfix_make_key(3, KEEL_PROTO_TCP);
	struct keel_flow_key rst = flowfix_make_key(4, KEEL_PROTO_TCP);
	struct keel_flow_key rst0 = flowfix_make_key(5, KEEL_PROTO_TCP);
	struct keel_flow_key icmp = flowfix_make_key(6, KEEL_PROTO_ICMP);
	struct flow_value v = flowfix_make_value(1);
	struct flow_table_stats st;
	struct test_table t;
	const uint64_t t0 = 1000000;

	(void)state;
	flowfix_table_open(&t, &p);
	assert_non_null(flowfix_insert1(t.ft, &tcp, &v, KEEL_TCP_SYN, t0));
	assert_non_null(flowfix_insert1(t.ft, &udp, &v, 0, t0));
	assert_non_null(flowfix_insert1(t.ft, &fin, &v, KEEL_TCP_SYN, t0));
	assert_non_null(flowfix_insert1(t.ft, &rst, &v, KEEL_TCP_SYN, t0));
	assert_non_null(flowfix_insert1(t.ft, &rst0, &v, KEEL_TCP_RST, t0)); /* starts closing */
	assert_non_null(flowfix_insert1(t.ft, &icmp, &v, 0, t0));             /* "other": UDP class */

	/* An idle time equal to the timeout is still alive; one more ms is not. */
	assert_non_null(flowfix_lookup1(t.ft, &rst0, 0, t0 + 100, NULL));
	assert_null(flowfix_lookup1(t.ft, &rst0, 0, t0 + 201, NULL));

	/* FIN and RST on a live TCP flow move it to the closing class and restart its timer. */
	assert_non_null(flowfix_lookup1(t.ft, &fin, KEEL_TCP_FIN | KEEL_TCP_ACK, t0 + 10, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &rst, KEEL_TCP_RST, t0 + 10, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &fin, KEEL_TCP_ACK, t0 + 110, NULL));
	assert_null(flowfix_lookup1(t.ft, &fin, KEEL_TCP_ACK, t0 + 211, NULL));
	assert_null(flowfix_lookup1(t.ft, &rst, KEEL_TCP_ACK, t0 + 111, NULL));

	/* FIN bits on a UDP flow mean nothing (the parser leaves them 0, but be safe). */
	assert_non_null(flowfix_lookup1(t.ft, &udp, KEEL_TCP_FIN, t0 + 500, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &udp, 0, t0 + 1000, NULL));
	assert_null(flowfix_lookup1(t.ft, &udp, 0, t0 + 1501, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &icmp, 0, t0 + 500, NULL));
	assert_null(flowfix_lookup1(t.ft, &icmp, 0, t0 + 1001, NULL));

	assert_non_null(flowfix_lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 1000, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 2000, NULL));
	assert_null(flowfix_lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 3001, NULL));

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 6);
	assert_int_equal(st.occupancy, 0);
	/* An expired entry is gone: a second lookup is a plain miss, not another expiration. */
	assert_null(flowfix_lookup1(t.ft, &tcp, 0, t0 + 3002, NULL));
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 6);
	flowfix_table_close(&t);
}

/* Tiny table: capacity 8 is two buckets of 4, so every key shares the same 8 slots. */
static void test_expired_reused_before_eviction(void **state)
{
	struct flow_table_params p = flowfix_params(8, NEVER_MS, NEVER_MS, 500);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;

	(void)state;
	flowfix_table_open(&t, &p);
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = flowfix_make_key(i, i == 5 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(i);

		assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 100 + i));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.occupancy, 8);
	assert_int_equal(st.evictions, 0);

	/* Key 5 (UDP, seen at 105) is idle past 500 ms; key 0 is older but TCP and alive. */
	{
		struct keel_flow_key k = flowfix_make_key(100, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(100);

		assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 700));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 1);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.occupancy, 8);
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = flowfix_make_key(i, i == 5 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP);

		if (i == 5)
			assert_null(flowfix_lookup1(t.ft, &k, 0, 701, NULL));
		else
			assert_non_null(flowfix_lookup1(t.ft, &k, 0, 701, NULL));
	}
	flowfix_table_close(&t);
}

static void test_eviction_lru(void **state)
{
	struct flow_table_params p = flowfix_params(8, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;

	(void)state;
	flowfix_table_open(&t, &p);
	/* Capacity 8: two buckets, the same 8 candidate slots for every key. */
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(i);

		assert_non_null(flowfix_insert1(t.ft, &k, &v, KEEL_TCP_SYN, 1000 + i));
	}
	/* Touch key 0, the oldest (idle for a full FLOW_TABLE_TOUCH_MS): key 1 becomes the least recently used. */
	{
		struct keel_flow_key k = flowfix_make_key(0, KEEL_PROTO_TCP);

		assert_non_null(flowfix_lookup1(t.ft, &k, KEEL_TCP_ACK, 2000, NULL));
	}
	for (i = 8; i < 10; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(i);
		struct flow_value *r = flowfix_insert1(t.ft, &k, &v, KEEL_TCP_SYN, 2000 + i);

		assert_non_null(r);
		assert_true(flowfix_value_eq(r, &v));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.occupancy, 8);

	/* Keys 1 and 2 (seen at 1001, 1002) went; every other one stayed with its value. */
	for (i = 0; i < 10; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(i);
		struct flow_value *r = flowfix_lookup1(t.ft, &k, KEEL_TCP_ACK, 3000, NULL);

		if (i == 1 || i == 2) {
			assert_null(r);
		} else {
			assert_non_null(r);
			assert_true(flowfix_value_eq(r, &v));
		}
	}
	flowfix_table_close(&t);
}

static void test_rate_limit(void **state)
{
	struct flow_table_params p = flowfix_params(1024, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t next = 0, i;

	(void)state;
	p.new_flow_rate = 10; /* one token per 100 ms */
	p.new_flow_burst = 5;
	flowfix_table_open(&t, &p);

#define TRY_NEW(now) ({                                                          \
		struct keel_flow_key k_ = flowfix_make_key(next, KEEL_PROTO_TCP);        \
		struct flow_value v_ = flowfix_make_value(next);                         \
		struct flow_value *r_ = flowfix_insert1(t.ft, &k_, &v_, KEEL_TCP_SYN, (now)); \
		next += r_ != NULL;                                              \
		r_ != NULL;                                                      \
	})

	/* The bucket starts full: a burst of 5, then nothing. */
	for (i = 0; i < 5; i++)
		assert_true(TRY_NEW(5000));
	assert_false(TRY_NEW(5000));
	assert_false(TRY_NEW(5099));
	/* Tracked flows never need a token. */
	{
		struct keel_flow_key k = flowfix_make_key(0, KEEL_PROTO_TCP);
		struct flow_value v = flowfix_make_value(0);

		assert_non_null(flowfix_insert1(t.ft, &k, &v, KEEL_TCP_ACK, 5099));
		assert_non_null(flowfix_lookup1(t.ft, &k, KEEL_TCP_ACK, 5099, NULL));
	}
	/* 100 ms refill one token (the 99 ms before are kept, not lost). */
	assert_true(TRY_NEW(5100));
	assert_false(TRY_NEW(5100));
	assert_false(TRY_NEW(5150));
	assert_true(TRY_NEW(5200));
	/* A long pause refills only to the depth. */
	for (i = 0; i < 5; i++)
		assert_true(TRY_NEW(1000000));
	assert_false(TRY_NEW(1000000));
	/* A clock going backwards refills nothing. */
	assert_false(TRY_NEW(900000));
	assert_true(TRY_NEW(1000100));
#undef TRY_NEW

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.inserts, 13);
	assert_int_equal(st.insert_skipped, 6);
	assert_int_equal(st.occupancy, 13);
	flowfix_table_close(&t);

	/* Rate 0 is unlimited; burst 0 with a rate defaults to one second's worth. */
	p.new_flow_rate = 0;
	flowfix_table_open(&t, &p);
	for (i = 0; i < 900; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_UDP);
		struct flow_value v = flowfix_make_value(i);

		assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 1));
	}
	flowfix_table_close(&t);
	p.new_flow_rate = 100;
	p.new_flow_burst = 0;
	flowfix_table_open(&t, &p);
	for (i = 0; i < 101; i++) {
		struct keel_flow_key k = flowfix_make_key(i, KEEL_PROTO_UDP);
		struct flow_value v = flowfix_make_value(i);

		assert_true((flowfix_insert1(t.ft, &k, &v, 0, 1) != NULL) == (i < 100));
	}
	flowfix_table_close(&t);
}

/* Hits restart the idle timer only every FLOW_TABLE_TOUCH_MS, so that hit traffic leaves bucket lines clean. */
static void test_touch_throttle(void **state)
{
	struct flow_table_params p = flowfix_params(256, 10000, 5000, 2000);
	struct keel_flow_key a = flowfix_make_key(1, KEEL_PROTO_TCP);
	struct keel_flow_key b = flowfix_make_key(2, KEEL_PROTO_TCP);
	struct keel_flow_key u = flowfix_make_key(3, KEEL_PROTO_UDP);
	struct flow_value v = flowfix_make_value(1);
	struct test_table t;
	const uint64_t t0 = 5000000;

	(void)state;
	flowfix_table_open(&t, &p);
	assert_non_null(flowfix_insert1(t.ft, &a, &v, KEEL_TCP_SYN, t0));
	assert_non_null(flowfix_insert1(t.ft, &b, &v, KEEL_TCP_SYN, t0));
	assert_non_null(flowfix_insert1(t.ft, &u, &v, 0, t0));

	/* A hit 999 ms in leaves the timer alone: the flow expires 10 s after t0, not after the hit. */
	assert_non_null(flowfix_lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + FLOW_TABLE_TOUCH_MS - 1, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 10000, NULL)); /* restarts it */
	assert_non_null(flowfix_lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 20000, NULL));
	assert_null(flowfix_lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 30001, NULL));

	/* FIN always restarts the timer, now in the closing class. */
	assert_non_null(flowfix_lookup1(t.ft, &b, KEEL_TCP_FIN | KEEL_TCP_ACK, t0 + 10, NULL));
	assert_non_null(flowfix_lookup1(t.ft, &b, KEEL_TCP_ACK, t0 + 5010, NULL));
	assert_null(flowfix_lookup1(t.ft, &b, KEEL_TCP_ACK, t0 + 10011, NULL));

	/* A short timeout touches every eighth of itself (250 ms here), so an active flow stays. */
	for (uint64_t now = t0 + 100; now < t0 + 20000; now += 1500)
		assert_non_null(flowfix_lookup1(t.ft, &u, 0, now, NULL));
	flowfix_table_close(&t);
}

/* A timeout beyond the 28-bit age range never fires. */
static void test_never_timeout(void **state)
{
	struct flow_table_params p = flowfix_params(64, 0xffffffffu, 0xffffffffu, 0xffffffffu);
	struct keel_flow_key k = flowfix_make_key(1, KEEL_PROTO_UDP);
	struct flow_value v = flowfix_make_value(1);
	struct test_table t;

	(void)state;
	flowfix_table_open(&t, &p);
	assert_non_null(flowfix_insert1(t.ft, &k, &v, 0, 1));
	assert_non_null(flowfix_lookup1(t.ft, &k, 0, 1 + (1u << 27), NULL));
	assert_non_null(flowfix_lookup1(t.ft, &k, 0, 1 + (1u << 27) + ((1u << 28) - 1), NULL));
	flowfix_table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_classes),
		cmocka_unit_test(test_expired_reused_before_eviction),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_touch_throttle),
		cmocka_unit_test(test_never_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
