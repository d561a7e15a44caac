/* The flow table against a naive model of every key, over random traffic. */
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

/* xorshift64*: deterministic so a failure replays. */
static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
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
	struct flow_table_params p = flowfix_params(capacity, 3000, 200, 1000);
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
		keys[i] = flowfix_make_key(i * 2654435761u, (i & 3) ? KEEL_PROTO_TCP : KEEL_PROTO_UDP);
	flowfix_table_open(&t, &p);

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
			flowfix_lookup_hinted(t.ft, bk, flags, n, now, vals, hs, hints);
		else
			flow_table_lookup_burst(t.ft, bk, flags, n, now, vals, hs);

		/* The table answers in burst order, as the model does. */
		for (i = 0; i < n; i++) {
			struct model_flow *f = &m[idx[i]];
			int live = model_live(f, &p, now);

			if (vals[i]) {
				assert_true(live);
				assert_true(flowfix_value_eq(vals[i], &f->v));
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
			struct flow_value v = flowfix_make_value(++gen), *got;

			if (vals[i] || rnd() % 10 < 2)
				continue;
			got = hinted ? flow_table_insert_hinted(t.ft, bk[i], hs[i], hints[i], &v, flags[i], now, NULL) :
				       flow_table_insert(t.ft, bk[i], hs[i], &v, flags[i], now, NULL);
			assert_non_null(got);
			/*
			 * Live in the model: the table must hand back the earlier
			 * choice, unless (small run) it evicted it within this burst.
			 */
			if (model_live(f, &p, now) && (exact || !flowfix_value_eq(got, &v))) {
				assert_true(flowfix_value_eq(got, &f->v));
				model_hit(f, &p, now, flags[i]);
			} else {
				assert_true(flowfix_value_eq(got, &v));
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
	flowfix_table_close(&t);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle_exact),
		cmocka_unit_test(test_oracle_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
