/* Unit tests of the per-worker flow table: semantics, timeouts, LRU eviction, rate limit, an oracle and scale. */
/*
 * KEEL_TEST_QUICK=1 skips the 16M-entry scale test (256 MB and a few
 * seconds natively, far longer under ASan/UBSan).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "flow_table.h"
#include "hash.h"
#include "pkt.h"

#define NEVER_MS 0x7fffffffu /* a timeout no test reaches */

struct test_table {
	void *mem;
	size_t size;
	struct flow_table *ft;
};

/* mmap rather than malloc: the 16M table is 256 MB and wants transparent hugepages. */
static void table_open(struct test_table *t, const struct flow_table_params *p)
{
	t->size = flow_table_mem_size(p->capacity);
	assert_true(t->size > 0);
	t->mem = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	assert_true(t->mem != MAP_FAILED);
	(void)madvise(t->mem, t->size, MADV_HUGEPAGE); /* advisory: fine if THP is off */
	t->ft = flow_table_init(t->mem, t->size, p);
	assert_non_null(t->ft);
}

static void table_close(struct test_table *t)
{
	munmap(t->mem, t->size);
}

static struct flow_table_params params(uint32_t capacity, uint32_t tcp_ms, uint32_t closing_ms, uint32_t udp_ms)
{
	struct flow_table_params p = {
		.capacity = capacity,
		.secret = 0x0123456789abcdefULL,
		.timeout_ms = { [FLOW_TIMEOUT_TCP] = tcp_ms,
				[FLOW_TIMEOUT_TCP_CLOSING] = closing_ms,
				[FLOW_TIMEOUT_UDP] = udp_ms },
	};
	return p;
}

/* Distinct IPv4 keys for distinct i; odd i are UDP when mixed. */
static struct keel_flow_key make_key(uint32_t i, uint8_t proto)
{
	struct keel_flow_key k;

	memset(&k, 0, sizeof(k));
	k.src[0] = (uint8_t)(i >> 24);
	k.src[1] = (uint8_t)(i >> 16);
	k.src[2] = (uint8_t)(i >> 8);
	k.src[3] = (uint8_t)i;
	k.dst[0] = 192;
	k.dst[1] = 0;
	k.dst[2] = 2;
	k.dst[3] = 1;
	k.sport = (uint16_t)(1024 + (i % 50000));
	k.dport = 443;
	k.proto = proto;
	k.family = KEEL_AF_INET4;
	return k;
}

static struct flow_value make_value(uint32_t i)
{
	/* Distinct for every 32-bit i: backend is i * 7 mod 2^16 (7 is odd), vip the high half. */
	struct flow_value v = { .backend = (uint16_t)(i * 7), .vip = (uint16_t)(i >> 16) };
	return v;
}

static int value_eq(const struct flow_value *a, const struct flow_value *b)
{
	return a->backend == b->backend && a->vip == b->vip;
}

static struct flow_value *lookup1(struct flow_table *ft, const struct keel_flow_key *k, uint8_t flags,
				  uint64_t now, uint64_t *hash)
{
	const struct keel_flow_key *keys[1] = { k };
	struct flow_value *vals[1];
	uint64_t h[1];

	flow_table_lookup_burst(ft, keys, &flags, 1, now, vals, h);
	if (hash)
		*hash = h[0];
	return vals[0];
}

/* The table's fingerprint of a hash (flow_table.c ft_fp): its low bits pick the primary bucket. */
static uint64_t ft_fp_test(uint64_t h)
{
	return h ? h : 1;
}

static struct flow_value *insert1(struct flow_table *ft, const struct keel_flow_key *k, const struct flow_value *v,
				  uint8_t flags, uint64_t now)
{
	return flow_table_insert(ft, k, keel_hash_key(k, 0x0123456789abcdefULL), v, flags, now, NULL);
}

/* xorshift64*: deterministic so a failure replays. */
static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void test_sizes_and_params(void **state)
{
	struct flow_table_params p = params(1000, 1000, 1000, 1000);
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
		struct keel_flow_key k = make_key(1, KEEL_PROTO_TCP);
		struct flow_value v = make_value(1);

		assert_null(lookup1(ft, &k, 0, 5, NULL));
		assert_non_null(insert1(ft, &k, &v, KEEL_TCP_SYN, 5));
		assert_true(value_eq(lookup1(ft, &k, 0, 6, NULL), &v));
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
	struct flow_table_params p = params(64, 1000, 1000, 1000);
	size_t bsz = flow_table_buckets_size(64);
	struct keel_flow_key k1 = make_key(1, KEEL_PROTO_TCP), k2 = make_key(2, KEEL_PROTO_TCP);
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
	assert_non_null(insert1(ft, &k1, &v1, KEEL_TCP_SYN, 5));
	assert_non_null(insert1(ft, &k2, &v7, KEEL_TCP_SYN, 5));

	/* A later process: the same buckets, fresh state; keep refuses backend 7. */
	ft = flow_table_adopt_buckets(&st2, b, bsz, &p, keep_not_7, NULL, &dropped);
	assert_non_null(ft);
	assert_int_equal(dropped, 1);
	assert_true(value_eq(lookup1(ft, &k1, 0, 6, NULL), &v1));
	assert_null(lookup1(ft, &k2, 0, 6, NULL));

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
	assert_null(lookup1(ft, &k1, 0, 6, NULL));
	assert_non_null(insert1(ft, &k1, &v1, KEEL_TCP_SYN, 7));
	assert_true(value_eq(lookup1(ft, &k1, 0, 8, NULL), &v1));
	free(b);
}

static void test_basic(void **state)
{
	struct flow_table_params p = params(256, 1000, 100, 1000);
	struct keel_flow_key k1 = make_key(1, KEEL_PROTO_TCP), k2 = make_key(2, KEEL_PROTO_UDP);
	struct flow_value v1 = make_value(11), v2 = make_value(22), other = make_value(99);
	struct flow_table_stats st;
	struct test_table t;
	struct flow_value *r;
	uint64_t h;

	(void)state;
	table_open(&t, &p);

	assert_null(lookup1(t.ft, &k1, KEEL_TCP_SYN, 10, &h));
	assert_int_equal(h, keel_hash_key(&k1, p.secret));
	r = flow_table_insert(t.ft, &k1, h, &v1, KEEL_TCP_SYN, 10, NULL);
	assert_non_null(r);
	assert_true(value_eq(r, &v1));
	assert_non_null(insert1(t.ft, &k2, &v2, 0, 10));

	r = lookup1(t.ft, &k1, KEEL_TCP_ACK, 20, NULL);
	assert_non_null(r);
	assert_true(value_eq(r, &v1));
	assert_true(value_eq(lookup1(t.ft, &k2, 0, 20, NULL), &v2));

	/* A second insert of a tracked key (same burst, two packets) keeps the first choice. */
	r = insert1(t.ft, &k1, &other, KEEL_TCP_ACK, 21);
	assert_non_null(r);
	assert_true(value_eq(r, &v1));

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.inserts, 2);
	assert_int_equal(st.occupancy, 2);

	assert_int_equal(flow_table_remove(t.ft, &k1), 0);
	assert_int_equal(flow_table_remove(t.ft, &k1), -ENOENT);
	assert_null(lookup1(t.ft, &k1, 0, 30, NULL));
	assert_true(value_eq(lookup1(t.ft, &k2, 0, 30, NULL), &v2));

	/* A burst mixing hits, misses and a repeated key. */
	{
		struct keel_flow_key k3 = make_key(3, KEEL_PROTO_TCP);
		const struct keel_flow_key *keys[4] = { &k2, &k3, &k1, &k2 };
		uint8_t flags[4] = { 0 };
		struct flow_value *vals[4];
		uint64_t hs[4];

		flow_table_lookup_burst(t.ft, keys, flags, 4, 40, vals, hs);
		assert_true(value_eq(vals[0], &v2));
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
	table_close(&t);
}

static void test_expiry_classes(void **state)
{
	struct flow_table_params p = params(256, 1000, 100, 500);
	struct keel_flow_key tcp = make_key(1, KEEL_PROTO_TCP), udp = make_key(2, KEEL_PROTO_UDP);
	struct keel_flow_key fin = make_key(3, KEEL_PROTO_TCP), rst = make_key(4, KEEL_PROTO_TCP);
	struct keel_flow_key rst0 = make_key(5, KEEL_PROTO_TCP), icmp = make_key(6, KEEL_PROTO_ICMP);
	struct flow_value v = make_value(1);
	struct flow_table_stats st;
	struct test_table t;
	const uint64_t t0 = 1000000;

	(void)state;
	table_open(&t, &p);
	assert_non_null(insert1(t.ft, &tcp, &v, KEEL_TCP_SYN, t0));
	assert_non_null(insert1(t.ft, &udp, &v, 0, t0));
	assert_non_null(insert1(t.ft, &fin, &v, KEEL_TCP_SYN, t0));
	assert_non_null(insert1(t.ft, &rst, &v, KEEL_TCP_SYN, t0));
	assert_non_null(insert1(t.ft, &rst0, &v, KEEL_TCP_RST, t0)); /* starts closing */
	assert_non_null(insert1(t.ft, &icmp, &v, 0, t0));             /* "other": UDP class */

	/* An idle time equal to the timeout is still alive; one more ms is not. */
	assert_non_null(lookup1(t.ft, &rst0, 0, t0 + 100, NULL));
	assert_null(lookup1(t.ft, &rst0, 0, t0 + 201, NULL));

	/* FIN and RST on a live TCP flow move it to the closing class and restart its timer. */
	assert_non_null(lookup1(t.ft, &fin, KEEL_TCP_FIN | KEEL_TCP_ACK, t0 + 10, NULL));
	assert_non_null(lookup1(t.ft, &rst, KEEL_TCP_RST, t0 + 10, NULL));
	assert_non_null(lookup1(t.ft, &fin, KEEL_TCP_ACK, t0 + 110, NULL));
	assert_null(lookup1(t.ft, &fin, KEEL_TCP_ACK, t0 + 211, NULL));
	assert_null(lookup1(t.ft, &rst, KEEL_TCP_ACK, t0 + 111, NULL));

	/* FIN bits on a UDP flow mean nothing (the parser leaves them 0, but be safe). */
	assert_non_null(lookup1(t.ft, &udp, KEEL_TCP_FIN, t0 + 500, NULL));
	assert_non_null(lookup1(t.ft, &udp, 0, t0 + 1000, NULL));
	assert_null(lookup1(t.ft, &udp, 0, t0 + 1501, NULL));
	assert_non_null(lookup1(t.ft, &icmp, 0, t0 + 500, NULL));
	assert_null(lookup1(t.ft, &icmp, 0, t0 + 1001, NULL));

	assert_non_null(lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 1000, NULL));
	assert_non_null(lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 2000, NULL));
	assert_null(lookup1(t.ft, &tcp, KEEL_TCP_ACK, t0 + 3001, NULL));

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 6);
	assert_int_equal(st.occupancy, 0);
	/* An expired entry is gone: a second lookup is a plain miss, not another expiration. */
	assert_null(lookup1(t.ft, &tcp, 0, t0 + 3002, NULL));
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 6);
	table_close(&t);
}

/* Tiny table: capacity 8 is two buckets of 4, so every key shares the same 8 slots. */
static void test_expired_reused_before_eviction(void **state)
{
	struct flow_table_params p = params(8, NEVER_MS, NEVER_MS, 500);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;

	(void)state;
	table_open(&t, &p);
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = make_key(i, i == 5 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP);
		struct flow_value v = make_value(i);

		assert_non_null(insert1(t.ft, &k, &v, 0, 100 + i));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.occupancy, 8);
	assert_int_equal(st.evictions, 0);

	/* Key 5 (UDP, seen at 105) is idle past 500 ms; key 0 is older but TCP and alive. */
	{
		struct keel_flow_key k = make_key(100, KEEL_PROTO_TCP);
		struct flow_value v = make_value(100);

		assert_non_null(insert1(t.ft, &k, &v, 0, 700));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.expirations, 1);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.occupancy, 8);
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = make_key(i, i == 5 ? KEEL_PROTO_UDP : KEEL_PROTO_TCP);

		if (i == 5)
			assert_null(lookup1(t.ft, &k, 0, 701, NULL));
		else
			assert_non_null(lookup1(t.ft, &k, 0, 701, NULL));
	}
	table_close(&t);
}

static void test_eviction_lru(void **state)
{
	struct flow_table_params p = params(8, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;

	(void)state;
	table_open(&t, &p);
	/* Capacity 8: two buckets, the same 8 candidate slots for every key. */
	for (i = 0; i < 8; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = make_value(i);

		assert_non_null(insert1(t.ft, &k, &v, KEEL_TCP_SYN, 1000 + i));
	}
	/* Touch key 0, the oldest (idle for a full FLOW_TABLE_TOUCH_MS): key 1 becomes the least recently used. */
	{
		struct keel_flow_key k = make_key(0, KEEL_PROTO_TCP);

		assert_non_null(lookup1(t.ft, &k, KEEL_TCP_ACK, 2000, NULL));
	}
	for (i = 8; i < 10; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = make_value(i);
		struct flow_value *r = insert1(t.ft, &k, &v, KEEL_TCP_SYN, 2000 + i);

		assert_non_null(r);
		assert_true(value_eq(r, &v));
	}
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.evictions, 2);
	assert_int_equal(st.occupancy, 8);

	/* Keys 1 and 2 (seen at 1001, 1002) went; every other one stayed with its value. */
	for (i = 0; i < 10; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = make_value(i);
		struct flow_value *r = lookup1(t.ft, &k, KEEL_TCP_ACK, 3000, NULL);

		if (i == 1 || i == 2) {
			assert_null(r);
		} else {
			assert_non_null(r);
			assert_true(value_eq(r, &v));
		}
	}
	table_close(&t);
}

static void test_rate_limit(void **state)
{
	struct flow_table_params p = params(1024, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t next = 0, i;

	(void)state;
	p.new_flow_rate = 10; /* one token per 100 ms */
	p.new_flow_burst = 5;
	table_open(&t, &p);

#define TRY_NEW(now) ({                                                          \
		struct keel_flow_key k_ = make_key(next, KEEL_PROTO_TCP);        \
		struct flow_value v_ = make_value(next);                         \
		struct flow_value *r_ = insert1(t.ft, &k_, &v_, KEEL_TCP_SYN, (now)); \
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
		struct keel_flow_key k = make_key(0, KEEL_PROTO_TCP);
		struct flow_value v = make_value(0);

		assert_non_null(insert1(t.ft, &k, &v, KEEL_TCP_ACK, 5099));
		assert_non_null(lookup1(t.ft, &k, KEEL_TCP_ACK, 5099, NULL));
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
	table_close(&t);

	/* Rate 0 is unlimited; burst 0 with a rate defaults to one second's worth. */
	p.new_flow_rate = 0;
	table_open(&t, &p);
	for (i = 0; i < 900; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_UDP);
		struct flow_value v = make_value(i);

		assert_non_null(insert1(t.ft, &k, &v, 0, 1));
	}
	table_close(&t);
	p.new_flow_rate = 100;
	p.new_flow_burst = 0;
	table_open(&t, &p);
	for (i = 0; i < 101; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_UDP);
		struct flow_value v = make_value(i);

		assert_true((insert1(t.ft, &k, &v, 0, 1) != NULL) == (i < 100));
	}
	table_close(&t);
}

/* Hits restart the idle timer only every FLOW_TABLE_TOUCH_MS, so that hit traffic leaves bucket lines clean. */
static void test_touch_throttle(void **state)
{
	struct flow_table_params p = params(256, 10000, 5000, 2000);
	struct keel_flow_key a = make_key(1, KEEL_PROTO_TCP), b = make_key(2, KEEL_PROTO_TCP);
	struct keel_flow_key u = make_key(3, KEEL_PROTO_UDP);
	struct flow_value v = make_value(1);
	struct test_table t;
	const uint64_t t0 = 5000000;

	(void)state;
	table_open(&t, &p);
	assert_non_null(insert1(t.ft, &a, &v, KEEL_TCP_SYN, t0));
	assert_non_null(insert1(t.ft, &b, &v, KEEL_TCP_SYN, t0));
	assert_non_null(insert1(t.ft, &u, &v, 0, t0));

	/* A hit 999 ms in leaves the timer alone: the flow expires 10 s after t0, not after the hit. */
	assert_non_null(lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + FLOW_TABLE_TOUCH_MS - 1, NULL));
	assert_non_null(lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 10000, NULL)); /* restarts it */
	assert_non_null(lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 20000, NULL));
	assert_null(lookup1(t.ft, &a, KEEL_TCP_ACK, t0 + 30001, NULL));

	/* FIN always restarts the timer, now in the closing class. */
	assert_non_null(lookup1(t.ft, &b, KEEL_TCP_FIN | KEEL_TCP_ACK, t0 + 10, NULL));
	assert_non_null(lookup1(t.ft, &b, KEEL_TCP_ACK, t0 + 5010, NULL));
	assert_null(lookup1(t.ft, &b, KEEL_TCP_ACK, t0 + 10011, NULL));

	/* A short timeout touches every eighth of itself (250 ms here), so an active flow stays. */
	for (uint64_t now = t0 + 100; now < t0 + 20000; now += 1500)
		assert_non_null(lookup1(t.ft, &u, 0, now, NULL));
	table_close(&t);
}

/* A timeout beyond the 28-bit age range never fires. */
static void test_never_timeout(void **state)
{
	struct flow_table_params p = params(64, 0xffffffffu, 0xffffffffu, 0xffffffffu);
	struct keel_flow_key k = make_key(1, KEEL_PROTO_UDP);
	struct flow_value v = make_value(1);
	struct test_table t;

	(void)state;
	table_open(&t, &p);
	assert_non_null(insert1(t.ft, &k, &v, 0, 1));
	assert_non_null(lookup1(t.ft, &k, 0, 1 + (1u << 27), NULL));
	assert_non_null(lookup1(t.ft, &k, 0, 1 + (1u << 27) + ((1u << 28) - 1), NULL));
	table_close(&t);
}

static int backend_is(const struct flow_value *v, void *arg)
{
	return v->backend == *(const uint16_t *)arg;
}

static void test_flush(void **state)
{
	struct flow_table_params p = params(1024, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint16_t victim = 1;
	uint32_t cursor = 0, removed = 0, calls = 0, i;

	(void)state;
	table_open(&t, &p);
	for (i = 0; i < 300; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = { .backend = (uint16_t)(i % 3), .vip = (uint16_t)i };

		assert_non_null(insert1(t.ft, &k, &v, 0, 1));
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
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value *r = lookup1(t.ft, &k, 0, 2, NULL);

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
	table_close(&t);
}

/*
 * The census of tracked flows by backend: live flows counted in place, in
 * steps, expired ones not, ids past n_counts ignored; the table unchanged.
 */
static void test_census(void **state)
{
	struct flow_table_params p = params(1024, 5000, 1000, 5000);
	struct flow_table_stats before, after;
	uint64_t counts[8] = { 0 };
	struct test_table t;
	uint32_t cursor = 0, hi = 0, calls = 0, scanned = 0, i;

	(void)state;
	table_open(&t, &p);
	assert_int_equal(flow_table_buckets(t.ft), 256);
	/* 300 TCP flows on backends 0..2 (100 each), then 20 on backend 9 (past n_counts). */
	for (i = 0; i < 320; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = { .backend = (uint16_t)(i < 300 ? i % 3 : 9), .vip = 1 };

		assert_non_null(insert1(t.ft, &k, &v, 0, 1));
	}
	/* 30 of backend 1 close (FIN): their class times out after 1 s, the others after 5. */
	for (i = 1; i < 90; i += 3) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);

		assert_non_null(lookup1(t.ft, &k, KEEL_TCP_FIN, 2, NULL));
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
	table_close(&t);
}

/* A burst lookup with insert hints, as the pipeline does it. */
static void lookup_hinted(struct flow_table *ft, const struct keel_flow_key *const keys[], const uint8_t flags[],
			  uint32_t n, uint64_t now, struct flow_value *vals[], uint64_t hs[], struct flow_hint hints[])
{
	flow_table_lookup_burst_hinted(ft, keys, flags, n, now, vals, hs, hints);
}

/*
 * The hinted insert (no second probe): a flow opened by an earlier packet of
 * the same burst is found, not duplicated, whether that packet took the
 * hinted slot or, the slot being taken by another flow first, went elsewhere;
 * and a hint is not trusted once a slot was emptied after the lookup.
 */
static void test_insert_hinted(void **state)
{
	struct flow_table_params p = params(8, NEVER_MS, NEVER_MS, NEVER_MS); /* two buckets */
	struct flow_value vf = make_value(1), vf2 = make_value(2), vg = make_value(3), *rf, *r;
	struct keel_flow_key f, g;
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i;
	bool created;

	(void)state;
	table_open(&t, &p);

	/* One new flow twice in a burst: the first takes the hinted slot, the second finds it. */
	{
		const struct keel_flow_key *keys[2] = { &f, &f };
		uint8_t flags[2] = { KEEL_TCP_SYN, KEEL_TCP_ACK };
		struct flow_value *vals[2];
		struct flow_hint hints[2];
		uint64_t hs[2];

		f = make_key(100, KEEL_PROTO_TCP);
		lookup_hinted(t.ft, keys, flags, 2, 10, vals, hs, hints);
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
		assert_true(value_eq(r, &vf));
		flow_table_get_stats(t.ft, &st);
		assert_int_equal(st.inserts, 1);
		assert_int_equal(st.occupancy, 1);
		assert_int_equal(flow_table_remove(t.ft, &f), 0);
	}

	/* g and f share a primary bucket, so a lookup gives both the same free slot. */
	g = make_key(0, KEEL_PROTO_TCP);
	for (i = 1; i < 1000; i++) {
		f = make_key(i, KEEL_PROTO_TCP);
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

		lookup_hinted(t.ft, keys, flags, 3, 20, vals, hs, hints);
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
		assert_true(value_eq(r, &vf));

		/*
		 * The hinted slot emptied after the lookup (g removed): trusting the
		 * hint now would track f twice. The epoch has moved on, so it is not.
		 */
		assert_int_equal(flow_table_remove(t.ft, &g), 0);
		r = flow_table_insert_hinted(t.ft, &f, hs[2], hints[2], &vf2, flags[2], 21, &created);
		assert_ptr_equal(r, rf);
		assert_false(created);
		assert_true(value_eq(r, &vf));
		flow_table_get_stats(t.ft, &st);
		assert_int_equal(st.occupancy, 1);
		assert_int_equal(st.inserts, 3);
		assert_true(value_eq(lookup1(t.ft, &f, 0, 22, NULL), &vf));
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
			k[n] = make_key(i, KEEL_PROTO_UDP);
			if ((ft_fp_test(keel_hash_key(&k[n], p.secret)) & 1) == (ft_fp_test(keel_hash_key(&g, p.secret)) & 1))
				n++;
		}
		assert_int_equal(n, 5);
		for (i = 0; i < 4; i++)
			assert_non_null(insert1(t.ft, &k[i], &vg, 0, 30));
		keys[0] = &k[4];
		hints[0].slot = 7;
		lookup_hinted(t.ft, keys, NULL, 1, 30, vals, hs, hints);
		assert_null(vals[0]);
		assert_int_equal(hints[0].slot, FLOW_HINT_NONE);
		r = flow_table_insert_hinted(t.ft, &k[4], hs[0], hints[0], &vf, 0, 30, &created);
		assert_non_null(r);
		assert_true(created);
		assert_true(value_eq(lookup1(t.ft, &k[4], 0, 31, NULL), &vf));
	}
	table_close(&t);
}

/* The naive model: every key of the universe, with what the table should know of it. */
struct model_flow {
	int present;
	uint64_t seen;
	uint8_t tclass;
	struct flow_value v;
};

static uint8_t model_class(uint8_t proto, uint8_t flags)
{
	if (proto != KEEL_PROTO_TCP)
		return FLOW_TIMEOUT_UDP;
	return (flags & (KEEL_TCP_FIN | KEEL_TCP_RST)) ? FLOW_TIMEOUT_TCP_CLOSING : FLOW_TIMEOUT_TCP;
}

static int model_live(const struct model_flow *m, const struct flow_table_params *p, uint64_t now)
{
	return m->present && now - m->seen <= p->timeout_ms[m->tclass];
}

/*
 * A hit on a live flow, as the table documents it: FIN or RST on TCP moves
 * it to the closing class and restarts the timer; otherwise the timer
 * restarts only once it has run FLOW_TABLE_TOUCH_MS or an eighth of the
 * timeout, whichever is shorter.
 */
static void model_hit(struct model_flow *m, const struct flow_table_params *p, uint64_t now, uint8_t flags)
{
	uint32_t touch = p->timeout_ms[m->tclass] / 8;

	if (touch > FLOW_TABLE_TOUCH_MS)
		touch = FLOW_TABLE_TOUCH_MS;
	if (m->tclass == FLOW_TIMEOUT_TCP && (flags & (KEEL_TCP_FIN | KEEL_TCP_RST))) {
		m->tclass = FLOW_TIMEOUT_TCP_CLOSING;
		m->seen = now;
	} else if (now - m->seen >= touch) {
		m->seen = now;
	}
}

static uint8_t random_flags(void)
{
	uint32_t r = rnd() % 100;

	if (r < 3)
		return KEEL_TCP_FIN | KEEL_TCP_ACK;
	if (r < 5)
		return KEEL_TCP_RST;
	return KEEL_TCP_ACK;
}

/*
 * Random bursts of lookups, inserts of the misses, removes and clock steps,
 * each checked against the model. exact: the table is large enough never to
 * evict, so every answer must equal the model's. Otherwise the table may
 * forget (evict) but must never return a wrong value or an idle-expired flow.
 */
static void run_oracle(uint32_t capacity, uint32_t universe, uint32_t rounds, int exact)
{
	struct flow_table_params p = params(capacity, 3000, 200, 1000);
	struct model_flow *m = calloc(universe, sizeof(*m));
	struct keel_flow_key *keys = calloc(universe, sizeof(*keys));
	uint64_t now = (1ULL << 32) - 1000000; /* the truncated 32-bit clock wraps mid-run */
	uint64_t hits = 0, misses = 0, inserts = 0, forgotten = 0;
	uint32_t gen = 0, r, i;
	struct flow_table_stats st;
	struct test_table t;

	assert_non_null(m);
	assert_non_null(keys);
	for (i = 0; i < universe; i++)
		keys[i] = make_key(i * 2654435761u, (i & 3) ? KEEL_PROTO_TCP : KEEL_PROTO_UDP);
	table_open(&t, &p);

	for (r = 0; r < rounds; r++) {
		const struct keel_flow_key *bk[FLOW_TABLE_BURST_MAX];
		struct flow_value *vals[FLOW_TABLE_BURST_MAX];
		uint32_t idx[FLOW_TABLE_BURST_MAX];
		uint8_t flags[FLOW_TABLE_BURST_MAX];
		uint64_t hs[FLOW_TABLE_BURST_MAX];
		struct flow_hint hints[FLOW_TABLE_BURST_MAX];
		uint32_t n = 1 + rnd() % 32;
		/* Every other round as the pipeline does it: lookups with hints, hinted inserts. */
		int hinted = r & 1;

		for (i = 0; i < n; i++) {
			/* A hot subset makes repeats within a burst common. */
			idx[i] = (rnd() & 1) ? rnd() % 16 : rnd() % universe;
			bk[i] = &keys[idx[i]];
			flags[i] = random_flags();
		}
		if (hinted)
			lookup_hinted(t.ft, bk, flags, n, now, vals, hs, hints);
		else
			flow_table_lookup_burst(t.ft, bk, flags, n, now, vals, hs);

		/* The table answers in burst order, as the model does. */
		for (i = 0; i < n; i++) {
			struct model_flow *f = &m[idx[i]];
			int live = model_live(f, &p, now);

			if (vals[i]) {
				assert_true(live);
				assert_true(value_eq(vals[i], &f->v));
				model_hit(f, &p, now, flags[i]);
				hits++;
			} else {
				if (exact)
					assert_false(live);
				forgotten += live;
				f->present = 0;
				misses++;
			}
		}
		/* Insert most misses; repeats of one key in the burst must find the first insert. */
		for (i = 0; i < n; i++) {
			struct model_flow *f = &m[idx[i]];
			struct flow_value v = make_value(++gen), *got;

			if (vals[i] || rnd() % 10 < 2)
				continue;
			got = hinted ? flow_table_insert_hinted(t.ft, bk[i], hs[i], hints[i], &v, flags[i], now, NULL) :
				       flow_table_insert(t.ft, bk[i], hs[i], &v, flags[i], now, NULL);
			assert_non_null(got);
			/*
			 * Live in the model: the table must hand back the earlier
			 * choice, unless (small run) it evicted it within this burst.
			 */
			if (model_live(f, &p, now) && (exact || !value_eq(got, &v))) {
				assert_true(value_eq(got, &f->v));
				model_hit(f, &p, now, flags[i]);
			} else {
				assert_true(value_eq(got, &v));
				f->present = 1;
				f->seen = now;
				f->tclass = model_class(bk[i]->proto, flags[i]);
				f->v = v;
				inserts++;
			}
		}
		if (rnd() % 20 == 0) {
			uint32_t k = rnd() % universe;
			int rc = flow_table_remove(t.ft, &keys[k]);

			/* An idle flow not yet reclaimed may still be found and removed. */
			if (exact && model_live(&m[k], &p, now))
				assert_int_equal(rc, 0);
			else if (exact && !m[k].present)
				assert_int_equal(rc, -ENOENT);
			m[k].present = 0;
		}
		now += rnd() % 64;
	}

	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.hits, hits);
	assert_int_equal(st.misses, misses);
	assert_true(st.occupancy <= flow_table_capacity(t.ft));
	if (exact) {
		assert_int_equal(st.evictions, 0);
		assert_int_equal(st.inserts, inserts);
		assert_true(st.expirations > 0);
	} else {
		/* Every live flow the table forgot was evicted, and the run must have evicted. */
		assert_true(st.evictions >= forgotten);
		assert_true(st.evictions > 0);
	}
	table_close(&t);
	free(keys);
	free(m);
}

static void test_oracle_exact(void **state)
{
	(void)state;
	rng_state = 0x9e3779b97f4a7c15ULL;
	run_oracle(4096, 1500, 100000, 1);
	/*
	 * Fuller, so that keys spill to their secondary bucket and come back,
	 * yet (with this seed) never so full that a flow is evicted.
	 */
	rng_state = 0x0123456789abcdefULL;
	run_oracle(1024, 320, 100000, 1);
}

static void test_oracle_small(void **state)
{
	(void)state;
	rng_state = 0xdeadbeefcafef00dULL;
	run_oracle(64, 1000, 100000, 0);
}

/* Insert n distinct flows into a table of capacity, then find every one by burst lookup. */
static void run_scale(uint32_t capacity, uint32_t n)
{
	struct flow_table_params p = params(capacity, NEVER_MS, NEVER_MS, NEVER_MS);
	struct flow_table_stats st;
	struct test_table t;
	uint32_t i, found = 0;

	table_open(&t, &p);
	for (i = 0; i < n; i++) {
		struct keel_flow_key k = make_key(i, KEEL_PROTO_TCP);
		struct flow_value v = make_value(i);

		if (!insert1(t.ft, &k, &v, KEEL_TCP_SYN, 1))
			fail_msg("insert %u refused", i);
	}
	for (i = 0; i < n; i += 32) {
		struct keel_flow_key kb[32];
		const struct keel_flow_key *bk[32];
		struct flow_value *vals[32];
		uint64_t hs[32];
		uint32_t j, m = n - i < 32 ? n - i : 32;

		for (j = 0; j < m; j++) {
			kb[j] = make_key(i + j, KEEL_PROTO_TCP);
			bk[j] = &kb[j];
		}
		flow_table_lookup_burst(t.ft, bk, NULL, m, 2, vals, hs);
		for (j = 0; j < m; j++) {
			if (vals[j]) {
				struct flow_value v = make_value(i + j);

				assert_true(value_eq(vals[j], &v));
				found++;
			}
		}
	}
	flow_table_get_stats(t.ft, &st);
	print_message("capacity %u, %u flows (%.0f%%): %u found, %lu evictions\n", flow_table_capacity(t.ft),
		      n, 100.0 * n / flow_table_capacity(t.ft), found, (unsigned long)st.evictions);
	/*
	 * Two 4-slot buckets plus one cuckoo move per insert into a full pair:
	 * measured 0 evictions at 50% load (0.0002% at 60%, 0.016% at 75%).
	 * Tables are sized at twice the flows they hold; allow 1 in 100000.
	 */
	assert_true(st.evictions <= n / 100000);
	assert_int_equal(found, n - st.evictions);
	assert_int_equal(st.occupancy, n - st.evictions);
	table_close(&t);
}

static void test_scale_1m(void **state)
{
	(void)state;
	run_scale(1u << 20, 1u << 19);
}

static void test_scale_16m(void **state)
{
	const char *quick = getenv("KEEL_TEST_QUICK");

	(void)state;
	if (quick && strcmp(quick, "1") == 0)
		skip();
	run_scale(1u << 24, 1u << 23);
}

/* peek answers like a lookup but changes nothing: no refresh, no counter, no expiry reclaim. */
static void test_peek(void **state)
{
	struct flow_table_params p = params(1024, 10000, 2000, 5000);
	struct keel_flow_key k = make_key(7, KEEL_PROTO_TCP), other = make_key(8, KEEL_PROTO_TCP);
	struct flow_value v = make_value(7);
	const struct flow_value *got;
	struct flow_table_stats st;
	struct test_table t;

	(void)state;
	table_open(&t, &p);
	assert_non_null(insert1(t.ft, &k, &v, KEEL_TCP_SYN, 1000));
	got = flow_table_peek(t.ft, &k, 1500);
	assert_non_null(got);
	assert_true(value_eq(got, &v));
	assert_null(flow_table_peek(t.ft, &other, 1500));
	/* Peeking near the timeout does not keep the flow alive. */
	assert_non_null(flow_table_peek(t.ft, &k, 1000 + 10000));
	assert_null(flow_table_peek(t.ft, &k, 1000 + 10001));
	assert_null(lookup1(t.ft, &k, KEEL_TCP_ACK, 1000 + 10001, NULL));
	flow_table_get_stats(t.ft, &st);
	assert_int_equal(st.hits, 0); /* only the last lookup counted, as a miss */
	assert_int_equal(st.misses, 1);
	table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_and_params),
		cmocka_unit_test(test_buckets_apart),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_expiry_classes),
		cmocka_unit_test(test_expired_reused_before_eviction),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_touch_throttle),
		cmocka_unit_test(test_never_timeout),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_census),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_insert_hinted),
		cmocka_unit_test(test_oracle_exact),
		cmocka_unit_test(test_oracle_small),
		cmocka_unit_test(test_scale_1m),
		cmocka_unit_test(test_scale_16m),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
