/* Unit tests of slow start's ramp (control/plan/slow_start.c): steps aligned to wall-clock multiples,
 * the end, a clock gone back, the scaled weights, and the Maglev shares those weights give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "maglev.h"
#include "slow_start.h"

#define W 10000u /* a 10 s window: steps of 2.5 s */

static void test_steps(void **state)
{
	uint64_t t = 1700000001234ull, b = slow_start_begin(W, t);

	(void)state;
	assert_int_equal(slow_start_step_ms(W), 2500);
	/* The boundary at or before the return, a multiple of the step. */
	assert_true(b <= t && t - b < 2500 && b % 2500 == 0);
	assert_int_equal(slow_start_step(W, b, t), 1);
	assert_int_equal(slow_start_step(W, b, b + 2499), 1);
	assert_int_equal(slow_start_step(W, b, b + 2500), 2);
	assert_int_equal(slow_start_step(W, b, b + 7500), 4);
	assert_int_equal(slow_start_step(W, b, b + 9999), 4);
	assert_int_equal(slow_start_step(W, b, b + 10000), 0); /* over: full weight */
	assert_int_equal(slow_start_step(W, b, b + 86400000), 0);
	assert_int_equal(slow_start_end(W, b), b + 10000);
	assert_int_equal(slow_start_next(W, b, t), b + 2500);
	assert_int_equal(slow_start_next(W, b, b + 2500), b + 5000);
	/* A clock that went back: the first step, the next boundary one step after the beginning. */
	assert_int_equal(slow_start_step(W, b, b - 5000), 1);
	assert_int_equal(slow_start_next(W, b, b - 5000), b + 2500);
	/* A tiny window still has a step of at least 1 ms. */
	assert_int_equal(slow_start_step_ms(3), 1);
	assert_int_equal(slow_start_step(3, 100, 100 + SLOW_START_STEPS), 0);
}

/* Two hosts that see the return at different moments within one step run the same ramp. */
static void test_hosts_agree(void **state)
{
	uint64_t b1 = slow_start_begin(W, 1700000002600ull), b2 = slow_start_begin(W, 1700000004900ull);
	uint64_t t;

	(void)state;
	assert_int_equal(b1, b2);
	for (t = b1; t < b1 + 12000; t += 100)
		assert_int_equal(slow_start_step(W, b1, t), slow_start_step(W, b2, t));
	/* Either side of a boundary: one step apart (what docs/config.md says remains). */
	assert_int_equal(slow_start_begin(W, 1700000004999ull) + 2500, slow_start_begin(W, 1700000005000ull));
}

static void test_weights(void **state)
{
	(void)state;
	assert_int_equal(slow_start_weight(1, 0), SLOW_START_SCALE);
	assert_int_equal(slow_start_weight(1, 1), 1);
	assert_int_equal(slow_start_weight(3, 4), 12);
	assert_int_equal(slow_start_weight(65535, 0), 65535u * SLOW_START_SCALE);
	assert_int_equal(slow_start_weight(7, 99), 7 * SLOW_START_SCALE); /* not a step: full */
	assert_int_equal(slow_start_percent(1), 20);
	assert_int_equal(slow_start_percent(4), 80);
	assert_int_equal(slow_start_percent(0), 100);
}

static void backends(struct maglev_backend *b, uint32_t n, const uint32_t *w)
{
	memset(b, 0, n * sizeof(*b));
	for (uint32_t i = 0; i < n; i++) {
		b[i].key[0] = 10;
		b[i].key[3] = (uint8_t)(i + 1);
		b[i].key[16] = 4;
		b[i].id = (uint16_t)i;
		b[i].weight = w[i];
	}
}

static uint32_t count(const uint16_t *t, uint32_t m, uint16_t id)
{
	uint32_t c = 0;

	for (uint32_t s = 0; s < m; s++)
		c += t[s] == id;
	return c;
}

/*
 * The scaled weights: every backend times SLOW_START_SCALE is the table of the configured
 * weights, slot for slot; a ramping backend at step k owns about k/(k + 5 (n-1)) of the
 * slots (the share its weight gives), within 1 % of the table.
 */
static void test_maglev_shares(void **state)
{
	enum { M = 4099, N = 3 };
	uint16_t *plain = malloc(M * sizeof(*plain)), *scaled = malloc(M * sizeof(*scaled));
	struct maglev_backend b[N];
	uint32_t w1[N] = { 1, 1, 1 }, w[N], k, prev = 0;

	(void)state;
	assert_non_null(plain);
	assert_non_null(scaled);
	backends(b, N, w1);
	assert_int_equal(maglev_build(plain, M, b, N, 42), 0);
	for (int i = 0; i < N; i++)
		w[i] = slow_start_weight(w1[i], 0);
	backends(b, N, w);
	assert_int_equal(maglev_build(scaled, M, b, N, 42), 0);
	assert_memory_equal(plain, scaled, M * sizeof(*plain));
	for (k = 1; k <= SLOW_START_STEPS; k++) {
		double want;
		uint32_t got;

		w[1] = slow_start_weight(1, k);
		backends(b, N, w);
		assert_int_equal(maglev_build(scaled, M, b, N, 42), 0);
		got = count(scaled, M, 1);
		want = (double)k / (k + SLOW_START_SCALE * (N - 1)) * M;
		printf("step %u: %u slots, want %.0f\n", k, got, want);
		assert_true(got > prev);
		assert_true((double)got > want - M / 100.0 && (double)got < want + M / 100.0);
		prev = got;
	}
	free(plain);
	free(scaled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_hosts_agree),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_maglev_shares),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
