/* The health checker's target table: validation, dedup, reloads, churn, jitter, limits. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "health.h"
#include "health_probe.h"
#include "healthfix.h"

static void test_validate(void **state)
{
	struct health *h = health_create();
	struct health_target good = healthfix_http_target(HEALTH_AF_INET4, 80, "/healthz", 200), bad[12];
	size_t n = 0;

	(void)state;
	assert_non_null(h);
	assert_true(health_target_valid(&good));
	for (size_t i = 0; i < 12; i++)
		bad[i] = good;
	bad[n++].family = 5;
	bad[n++].port = 0;
	bad[n++].rise = 0;
	bad[n++].fall = 0;
	bad[n++].interval_ms = 0;
	bad[n].timeout_ms = 60; /* > interval */
	n++;
	bad[n++].expect_status = 99;
	bad[n++].type = (enum health_type)7;
	snprintf(bad[n++].path, HEALTH_PATH_MAX, "healthz");         /* no leading '/' */
	snprintf(bad[n++].path, HEALTH_PATH_MAX, "/a b");            /* SP ends the request-target */
	snprintf(bad[n++].path, HEALTH_PATH_MAX, "/a\r\nX-Evil: 1"); /* header smuggling */
	memset(bad[n++].path, 'a', HEALTH_PATH_MAX);                 /* no NUL */

	assert_int_equal(health_set_targets(h, &good, 1), 0);
	for (size_t i = 0; i < n; i++) {
		struct health_target two[2] = { good, bad[i] };

		assert_false(health_target_valid(&bad[i]));
		if (health_set_targets(h, two, 2) != -EINVAL)
			fail_msg("bad target %zu accepted", i);
		assert_int_equal(health_count(h), 1); /* a refused set changes nothing */
	}
	/* Path and expect mean nothing for TCP: junk there is not an error. */
	bad[0] = good;
	bad[0].type = HEALTH_TCP;
	memset(bad[0].path, 'a', HEALTH_PATH_MAX);
	bad[0].expect_status = 0;
	assert_true(health_target_valid(&bad[0]));
	health_destroy(h);
}

static void test_dedup(void **state)
{
	struct health *h = health_create();
	struct health_target t[3];
	struct health_status st, gone;
	struct server s;
	unsigned accepted;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	t[0] = healthfix_tcp_target(HEALTH_AF_INET4, s.port);
	t[1] = t[0]; /* the same backend behind a second VIP */
	t[2] = t[0];
	snprintf(t[2].path, sizeof(t[2].path), "/ignored-for-tcp"); /* still the same TCP check */
	t[2].expect_status = 204;
	t[2].addr[7] = 0xee; /* past an IPv4 address: not part of it */
	assert_int_equal(health_set_targets(h, t, 3), 0);
	assert_int_equal(health_count(h), 1);

	st = healthfix_wait_for(h, &t[1], WAIT_CHECKS, 5);
	assert_int_equal(health_get(h, &t[2], &st), 0); /* every alias finds the one probe */
	assert_int_equal(health_set_targets(h, NULL, 0), 0); /* stop probing */
	assert_int_equal(health_count(h), 0);
	assert_int_equal(health_get(h, &t[0], &gone), -ENOENT);
	healthfix_sleep_ms(30); /* let the server accept the last connection */
	accepted = atomic_load(&s.accepted);
	/* One probe, not three: one connection per check (one more if a probe ended meanwhile). */
	assert_true(accepted >= st.checks && accepted <= st.checks + 1);

	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_state_kept_across_sets(void **state)
{
	struct health *h = health_create();
	struct health_target a, b, a_slower, both[3];
	struct health_status st, st2;
	uint16_t port_a, port_b;
	int fa = healthfix_bound_socket(HEALTH_AF_INET4, &port_a);
	int fb = healthfix_bound_socket(HEALTH_AF_INET4, &port_b);

	(void)state;
	assert_non_null(h);
	assert_true(fa >= 0 && fb >= 0);
	a = healthfix_tcp_target(HEALTH_AF_INET4, port_a);
	a.fall = 2;
	b = healthfix_tcp_target(HEALTH_AF_INET4, port_b);
	assert_int_equal(health_set_targets(h, &a, 1), 0);
	st = healthfix_wait_for(h, &a, WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(health_generation(h), 1);

	/* A reload that lists a again (twice) and adds b: a stays DOWN with its history. */
	both[0] = b;
	both[1] = a;
	both[2] = a;
	assert_int_equal(health_set_targets(h, both, 3), 0);
	assert_int_equal(health_count(h), 2);
	assert_int_equal(health_get(h, &a, &st2), 0);
	assert_int_equal(st2.state, HEALTH_STATE_DOWN);
	assert_true(st2.checks >= st.checks);
	assert_int_equal(st2.last_change_ms, st.last_change_ms);
	assert_int_equal(health_get(h, &b, &st2), 0);
	assert_int_equal(st2.state, HEALTH_STATE_UNKNOWN);
	assert_int_equal(health_generation(h), 1); /* a reload is not a transition */

	/* Changing a check's parameters makes a new target, which starts over. */
	a_slower = a;
	a_slower.interval_ms = 80;
	assert_int_equal(health_set_targets(h, &a_slower, 1), 0);
	assert_int_equal(health_count(h), 1);
	assert_int_equal(health_get(h, &a, &st2), -ENOENT);
	assert_int_equal(health_get(h, &b, &st2), -ENOENT);
	assert_int_equal(health_get(h, &a_slower, &st2), 0);
	assert_int_equal(st2.state, HEALTH_STATE_UNKNOWN);

	health_destroy(h);
	close(fa);
	close(fb);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Targets removed, replaced and destroyed with probes in flight: ASan checks the lifetimes. */
static void test_churn_in_flight(void **state)
{
	int fds_before = count_fds();
	struct health *h = health_create();
	struct health_target t[32];
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_SILENT));
	for (int i = 0; i < 32; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/p%d", i);
		t[i] = healthfix_http_target(HEALTH_AF_INET4, s.port, path, 200);
	}
	for (int round = 0; round < 5; round++) {
		assert_int_equal(health_set_targets(h, t, 32), 0);
		healthfix_sleep_ms(30); /* some probes are now waiting on the silent server */
		assert_int_equal(health_set_targets(h, t + 16, 16), 0);
		healthfix_sleep_ms(5);
		assert_int_equal(health_set_targets(h, NULL, 0), 0);
	}
	assert_int_equal(health_set_targets(h, t, 32), 0);
	healthfix_sleep_ms(30);
	health_destroy(h); /* with probes in flight */
	healthfix_server_stop(&s);
	assert_int_equal(count_fds(), fds_before); /* every probe socket was closed */
}

/* New targets are spread over their first interval, not probed in the same millisecond. */
static void test_jitter(void **state)
{
	struct health *h = health_create();
	struct health_target t[64];
	struct server s;
	unsigned checked = 0;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	for (int i = 0; i < 64; i++) {
		t[i] = healthfix_tcp_target(HEALTH_AF_INET4, s.port);
		t[i].interval_ms = 400;
		t[i].fall = (uint8_t)(i + 1); /* distinct targets on one server */
	}
	assert_int_equal(health_set_targets(h, t, 64), 0);
	assert_int_equal(health_count(h), 64);
	healthfix_sleep_ms(200);
	for (int i = 0; i < 64; i++) {
		struct health_status st;

		assert_int_equal(health_get(h, &t[i], &st), 0);
		assert_true(st.checks <= 1);
		checked += st.checks > 0;
	}
	/* Uniform starts over 400 ms: about half by now; all or none would mean no spread. */
	assert_true(checked >= 4 && checked <= 60);
	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_too_many(void **state)
{
	struct health *h = health_create();
	uint32_t n = HEALTH_TARGETS_MAX + 1;
	struct health_target *t = calloc(n, sizeof(*t));
	struct health_target one = healthfix_tcp_target(HEALTH_AF_INET4, 9);

	(void)state;
	assert_non_null(h);
	assert_non_null(t);
	assert_int_equal(health_set_targets(h, &one, 1), 0);
	for (uint32_t i = 0; i < n; i++) {
		t[i] = healthfix_tcp_target(HEALTH_AF_INET4, (uint16_t)(1 + i % 65535));
		/* Distinct; a minute-long interval so the jitter starts next to no probe here. */
		t[i].interval_ms = 60000 + i / 65535;
	}
	assert_int_equal(health_set_targets(h, t, n), -E2BIG);
	assert_int_equal(health_count(h), 1); /* unchanged */
	/* Duplicates do not count against the limit. */
	t[n - 1] = t[0];
	assert_int_equal(health_set_targets(h, t, n), 0);
	assert_int_equal(health_count(h), HEALTH_TARGETS_MAX);
	health_destroy(h);
	free(t);
}

static void test_none_type(void **state)
{
	struct health *h = health_create();
	struct health_target t = healthfix_tcp_target(HEALTH_AF_INET4, 9);
	struct health_status st;

	(void)state;
	assert_non_null(h);
	t.type = HEALTH_NONE;
	assert_int_equal(health_set_targets(h, &t, 1), 0);
	healthfix_sleep_ms(60);
	assert_int_equal(health_get(h, &t, &st), 0);
	assert_int_equal(st.state, HEALTH_STATE_UP);
	assert_int_equal(st.checks, 0);
	health_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_state_kept_across_sets),
		cmocka_unit_test(test_churn_in_flight),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_none_type),
	};

	/*
	 * The in-test servers (HTTPS, HTTP) write to probes that hang up after the
	 * status line: a write to a closed socket must fail with EPIPE, not kill
	 * the test (keel-control's checker thread blocks SIGPIPE, health.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
