/* The announcement state machine (control/bgp/bgp_announce.c) over a simulated clock: host and VIP facts, fail-static, drain, damping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bgp_announce.h"

static const struct bgp_policy pol = {
	.down_withdraw = false, .flap_limit = 4, .flap_window_ms = 60000, .hold_down_ms = 30000,
};
static const struct bgp_host_view up = {
	.dp_alive = true, .stalled = false, .gen_current = true, .serving = true, .draining = false,
};
static const struct bgp_vip_view ok = { .configured = true, .healthy = true };

static enum bgp_pref want(const struct bgp_policy *p, const struct bgp_host_view *h,
			  const struct bgp_vip_view *v, enum bgp_why *why)
{
	return bgp_vip_want(p, h, v, why);
}

static void test_host_reasons(void **state)
{
	struct bgp_host_view h;
	enum bgp_why why;

	(void)state;
	assert_int_equal(want(&pol, &up, &ok, &why), BGP_PREF_NORMAL);
	assert_int_equal(why, BGP_WHY_SERVING);
	h = up, h.dp_alive = false;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_DATAPLANE_DOWN);
	h = up, h.stalled = true;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_STALLED);
	h = up, h.gen_current = false;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_GENERATION);
	h = up, h.serving = false; /* the drained (empty) snapshot runs */
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	h = up, h.draining = true, h.dp_alive = false; /* drain is named first */
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_DRAINING);
	/* A dead dataplane withdraws even a VIP whose backends are all down (never fail-static). */
	h = up, h.dp_alive = false;
	assert_int_equal(want(&pol, &h, &(struct bgp_vip_view){ true, false }, &why),
			 BGP_PREF_WITHDRAWN);
}

static void test_all_backends_down(void **state)
{
	struct bgp_policy w = pol;
	enum bgp_why why;

	(void)state;
	assert_int_equal(want(&pol, &up, &(struct bgp_vip_view){ true, false }, &why),
			 BGP_PREF_DEGRADED);
	assert_int_equal(why, BGP_WHY_ALL_DOWN);
	w.down_withdraw = true;
	assert_int_equal(want(&w, &up, &(struct bgp_vip_view){ true, false }, &why),
			 BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_ALL_DOWN);
	/* Nothing configured to serve: withdrawn under either policy. */
	assert_int_equal(want(&pol, &up, &(struct bgp_vip_view){ false, false }, &why),
			 BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_NO_BACKEND);
	/* Healthy backends but no steering entry (AF_XDP): the kernel would get its packets. */
	assert_int_equal(want(&pol, &up, &(struct bgp_vip_view){ true, true, 1, true }, &why),
			 BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_NOT_STEERED);
	/* ... and every backend down does not make it announceable either, degraded or not. */
	assert_int_equal(want(&pol, &up, &(struct bgp_vip_view){ true, false, 0, true }, &why),
			 BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_NOT_STEERED);
}

static void test_fold(void **state)
{
	enum bgp_pref p = BGP_PREF_WITHDRAWN;
	enum bgp_why why = BGP_WHY_NO_INPUT;

	(void)state;
	bgp_addr_fold(&p, &why, BGP_PREF_WITHDRAWN, BGP_WHY_NO_BACKEND);
	assert_int_equal(p, BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_NO_BACKEND);
	bgp_addr_fold(&p, &why, BGP_PREF_DEGRADED, BGP_WHY_ALL_DOWN);
	assert_int_equal(p, BGP_PREF_DEGRADED);
	bgp_addr_fold(&p, &why, BGP_PREF_NORMAL, BGP_WHY_SERVING);
	bgp_addr_fold(&p, &why, BGP_PREF_WITHDRAWN, BGP_WHY_NO_BACKEND);
	assert_int_equal(p, BGP_PREF_NORMAL);
	assert_int_equal(why, BGP_WHY_SERVING);
}

/* Withdraws take effect at the tick that sees them: no delay, whatever the history. */
static void test_withdraw_immediate(void **state)
{
	struct bgp_addr_state st = { 0 };
	uint64_t until, t = 1000;

	(void)state;
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_NORMAL);
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 50, 0, &until));
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_WITHDRAWN, BGP_WHY_DATAPLANE_DOWN, t + 100,
				  0, &until));
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
	assert_int_equal(st.since_ms, t + 100);
	assert_int_equal(st.why, BGP_WHY_DATAPLANE_DOWN);
	/* Normal to degraded is going down too: immediate. */
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 200, 0, &until));
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_DEGRADED, BGP_WHY_ALL_DOWN, t + 250, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_DEGRADED);
}

static void test_damping(void **state)
{
	struct bgp_addr_state st = { 0 };
	uint64_t until, t = 5000;
	int i;

	(void)state;
	/* Up, down, up, down: four changes within the window. */
	for (i = 0; i < 4; i++, t += 1000)
		assert_true(bgp_addr_step(&pol, &st, i % 2 ? BGP_PREF_WITHDRAWN : BGP_PREF_NORMAL,
					  BGP_WHY_SERVING, t, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
	/* The fifth (up) waits hold_down after the last change (at t - 1000). */
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
	assert_int_equal(st.why, BGP_WHY_HELD_DOWN);
	assert_int_equal(until, t - 1000 + pol.hold_down_ms);
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING,
				   t - 1000 + pol.hold_down_ms - 1, 0, &until));
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING,
				  t - 1000 + pol.hold_down_ms, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_NORMAL);
	assert_int_equal(st.why, BGP_WHY_SERVING);
	/* Still flapping: a withdraw goes through at once, the next announce is held again. */
	t = t - 1000 + pol.hold_down_ms + 100;
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_WITHDRAWN, BGP_WHY_STALLED, t, 0, &until));
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 100, 0, &until));
	assert_int_equal(until, t + pol.hold_down_ms);
}

/* Changes spread wider than the window never hold an address down. */
static void test_slow_changes_not_damped(void **state)
{
	struct bgp_addr_state st = { 0 };
	uint64_t until, t = 0;
	int i;

	(void)state;
	for (i = 0; i < 20; i++, t += pol.flap_window_ms / 3 + 1)
		assert_true(bgp_addr_step(&pol, &st, i % 2 ? BGP_PREF_WITHDRAWN : BGP_PREF_NORMAL,
					  BGP_WHY_SERVING, t, 0, &until));
	assert_int_equal(st.n_changes, 20);
}

/* The history ring wraps without losing the newest changes. */
static void test_history_wraps(void **state)
{
	struct bgp_policy p = pol;
	struct bgp_addr_state st = { 0 };
	uint64_t until, t = 0;
	int i;

	(void)state;
	p.flap_limit = 100;
	p.hold_down_ms = 0; /* never held: every change goes through */
	for (i = 0; i < 3 * BGP_FLAP_HISTORY; i++, t += 10)
		assert_true(bgp_addr_step(&p, &st, i % 2 ? BGP_PREF_WITHDRAWN : BGP_PREF_DEGRADED,
					  BGP_WHY_ALL_DOWN, t, 0, &until));
	p.hold_down_ms = 1000;
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
	assert_false(bgp_addr_step(&p, &st, BGP_PREF_DEGRADED, BGP_WHY_ALL_DOWN, t, 0, &until));
	assert_int_equal(until, t - 10 + 1000);
}

/*
 * A host whose backends' health changed moments ago is not raised until it
 * settles (its Maglev table may still differ from its peers'); going down is
 * never held, and an unchanged preference is not disturbed.
 */
static void test_settle(void **state)
{
	struct bgp_addr_state st = { 0 };
	uint64_t t = 100000, until;

	(void)state;
	/* Withdrawn -> degraded waits while settling, then goes. */
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_DEGRADED, BGP_WHY_ALL_DOWN, t, t + 3000,
				   &until));
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
	assert_int_equal(st.why, BGP_WHY_SETTLING);
	assert_int_equal(until, t + 3000);
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_DEGRADED, BGP_WHY_ALL_DOWN, t + 3000,
				  t + 3000, &until));
	/* Degraded -> normal: a backend came back at t + 4000, another at t + 4400. */
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 4100,
				   t + 7000, &until));
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 4500,
				   t + 7400, &until));
	assert_int_equal(st.pref, BGP_PREF_DEGRADED);
	assert_int_equal(until, t + 7400);
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 7399,
				   t + 7400, &until));
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 7400,
				  t + 7400, &until));
	assert_int_equal(st.pref, BGP_PREF_NORMAL);
	/* Settling never delays a withdraw or holds an unchanged preference. */
	assert_false(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, t + 8000,
				   t + 11000, &until));
	assert_int_equal(st.why, BGP_WHY_SERVING);
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_WITHDRAWN, BGP_WHY_DATAPLANE_DOWN, t + 8100,
				  t + 11000, &until));
	assert_int_equal(st.pref, BGP_PREF_WITHDRAWN);
}

/* A fleet host cut from its store: a serving VIP goes degraded (still announced, worse preference);
 * the host reasons still withdraw, and a drain still reads as a drain. */
static void test_store_lost(void **state)
{
	struct bgp_host_view h = up;
	struct bgp_policy w = pol;
	enum bgp_why why;

	(void)state;
	h.store_lost = true;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_DEGRADED);
	assert_int_equal(why, BGP_WHY_STORE_LOST);
	assert_string_equal(bgp_why_name(why), "cut from the fleet store");
	/* every backend down: that reason first (withdraw policy still withdraws) */
	w.down_withdraw = true;
	assert_int_equal(want(&w, &h, &(struct bgp_vip_view){ true, false }, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_ALL_DOWN);
	h.dp_alive = false;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_DATAPLANE_DOWN);
	h = up, h.store_lost = true, h.draining = true;
	assert_int_equal(want(&pol, &h, &ok, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_DRAINING);
}

/* A fleet host whose own check says a backend the fleet keeps is dead from here: that VIP goes
 * degraded (announced, worse preference) and back to normal when the disagreement ends; every
 * stronger reason still wins, and an address with another serving VIP stays normal. */
static void test_dead_here(void **state)
{
	struct bgp_vip_view v = ok;
	struct bgp_host_view h = up;
	struct bgp_policy w = pol;
	struct bgp_addr_state st = { 0 };
	enum bgp_pref p = BGP_PREF_WITHDRAWN, vp;
	enum bgp_why why = BGP_WHY_NO_INPUT, vw;
	uint64_t until;

	(void)state;
	v.dead_here = true;
	assert_int_equal(want(&pol, &h, &v, &why), BGP_PREF_DEGRADED);
	assert_int_equal(why, BGP_WHY_DEAD_HERE);
	assert_string_equal(bgp_why_name(why), "a backend the fleet keeps is down from here");
	/* through the state machine: degraded at once, normal again once it ends (no settle) */
	assert_true(bgp_addr_step(&pol, &st, BGP_PREF_NORMAL, BGP_WHY_SERVING, 1000, 0, &until));
	p = want(&pol, &h, &v, &why);
	assert_true(bgp_addr_step(&pol, &st, p, why, 2000, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_DEGRADED);
	assert_int_equal(st.why, BGP_WHY_DEAD_HERE);
	v.dead_here = false;
	p = want(&pol, &h, &v, &why);
	assert_true(bgp_addr_step(&pol, &st, p, why, 3000, 0, &until));
	assert_int_equal(st.pref, BGP_PREF_NORMAL);
	assert_int_equal(st.why, BGP_WHY_SERVING);
	/* stronger reasons first: every backend down (withdraw policy), the store lost, the host */
	v.dead_here = true;
	w.down_withdraw = true;
	v.healthy = false;
	assert_int_equal(want(&w, &h, &v, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_ALL_DOWN);
	v.healthy = true;
	h.store_lost = true;
	assert_int_equal(want(&pol, &h, &v, &why), BGP_PREF_DEGRADED);
	assert_int_equal(why, BGP_WHY_STORE_LOST);
	h = up, h.draining = true;
	assert_int_equal(want(&pol, &h, &v, &why), BGP_PREF_WITHDRAWN);
	assert_int_equal(why, BGP_WHY_DRAINING);
	/* one address, two VIPs: one dead here, one serving: the address stays normal */
	h = up;
	p = BGP_PREF_WITHDRAWN;
	why = BGP_WHY_NO_INPUT;
	vp = want(&pol, &h, &v, &vw);
	bgp_addr_fold(&p, &why, vp, vw);
	assert_int_equal(p, BGP_PREF_DEGRADED);
	assert_int_equal(why, BGP_WHY_DEAD_HERE);
	vp = want(&pol, &h, &ok, &vw);
	bgp_addr_fold(&p, &why, vp, vw);
	assert_int_equal(p, BGP_PREF_NORMAL);
	assert_int_equal(why, BGP_WHY_SERVING);
}

static void test_names(void **state)
{
	int w;

	(void)state;
	for (w = 0; w < BGP_WHY_COUNT; w++)
		assert_non_null(bgp_why_name((enum bgp_why)w));
	assert_string_equal(bgp_pref_name(BGP_PREF_DEGRADED), "degraded");
	assert_string_equal(bgp_why_name(BGP_WHY_DRAINING), "host draining");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_reasons),
		cmocka_unit_test(test_all_backends_down),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_withdraw_immediate),
		cmocka_unit_test(test_damping),
		cmocka_unit_test(test_slow_changes_not_damped),
		cmocka_unit_test(test_history_wraps),
		cmocka_unit_test(test_settle),
		cmocka_unit_test(test_store_lost),
		cmocka_unit_test(test_dead_here),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
