/* TCP and HTTP health checks against loopback servers: rise/fall counts, status, timeouts, IPv6. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
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

/* ---- pure parts ------------------------------------------------------------------------- */

static void test_parse_status(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint16_t status;
	} cases[] = {
		{ "HTTP/1.0 200 OK\r\n", 0, 200 },
		{ "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n", 0, 503 },
		{ "HTTP/1.1 204\r\n", 0, 204 },        /* reason phrase is optional */
		{ "HTTP/1.1 204 \r\n", 0, 204 },
		{ "HTTP/1.0 301 Moved\n", 0, 301 },    /* bare LF, RFC 9112 2.2 */
		{ "HTTP/1.1 200 O", -EAGAIN, 0 },      /* no line end yet */
		{ "HTT", -EAGAIN, 0 },
		{ "", -EAGAIN, 0 },
		{ "HTTX", -EBADMSG, 0 },               /* refused before the newline */
		{ "SSH-2.0-OpenSSH\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1 20 OK\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1 2000 OK\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1 099 Low\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1 600 High\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1  200 OK\r\n", -EBADMSG, 0 },
		{ "HTTP/x.1 200 OK\r\n", -EBADMSG, 0 },
		{ "HTTP/1.1\r\n", -EBADMSG, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t status = 0;
		int rc = health_probe_parse_status(cases[i].in, strlen(cases[i].in), &status);

		if (rc != cases[i].rc || (rc == 0 && status != cases[i].status))
			fail_msg("case %zu \"%s\": rc %d status %u", i, cases[i].in, rc, status);
	}
}

static void test_format_request(void **state)
{
	struct health_target t4 = healthfix_http_target(HEALTH_AF_INET4, 8080, "/healthz?full=1", 200);
	struct health_target t6 = healthfix_http_target(HEALTH_AF_INET6, 80, "/", 200);
	char buf[HEALTH_PROBE_REQ_MAX];

	(void)state;
	assert_true(health_probe_format_request(&t4, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "GET /healthz?full=1 HTTP/1.0\r\n"));
	assert_non_null(strstr(buf, "\r\nHost: 127.0.0.1:8080\r\n"));
	assert_non_null(strstr(buf, "\r\n\r\n"));
	assert_true(health_probe_format_request(&t6, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\r\nHost: [::1]:80\r\n"));
	assert_int_equal(health_probe_format_request(&t4, buf, 20), -ENOSPC);
}

/* Host header from the configured name, with the port only when not the scheme's default. */
static void test_format_request_host(void **state)
{
	struct health_target t = healthfix_http_target(HEALTH_AF_INET4, 80, "/h", 200);
	char buf[HEALTH_PROBE_REQ_MAX];

	(void)state;
	snprintf(t.host, sizeof(t.host), "svc.example");
	assert_true(health_probe_format_request(&t, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\r\nHost: svc.example\r\n"));
	t.type = HEALTH_HTTPS;
	assert_true(health_probe_format_request(&t, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\r\nHost: svc.example:80\r\n"));
	t.port = 443;
	assert_true(health_probe_format_request(&t, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\r\nHost: svc.example\r\n"));
}

/* ---- probes against loopback servers ----------------------------------------------------- */

/* Every counted check is in exactly one bucket of the duration histogram. */
static uint64_t hist_total(const struct health_status *st)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i <= HEALTH_LATENCY_BUCKETS; i++)
		n += st->latency_hist[i];
	return n;
}

static void test_tcp_up(void **state)
{
	struct health *h = health_create();
	struct server s;
	struct health_target t;
	struct health_status st;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	t = healthfix_tcp_target(HEALTH_AF_INET4, s.port);
	assert_int_equal(health_set_targets(h, &t, 1), 0);

	assert_int_equal(health_get(h, &t, &st), 0);
	assert_int_equal(st.state, HEALTH_STATE_UNKNOWN); /* new: not proven, but routable */
	assert_true(health_status_routable(&st));
	assert_true(st.last_change_ms > 0);

	st = healthfix_wait_for(h, &t, WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.checks, 1); /* UNKNOWN -> UP on the first success, rise or not */
	assert_int_equal(st.last_result, HEALTH_RESULT_OK);
	assert_string_equal(st.last_text, "ok");
	assert_true(st.last_latency_us < 40000);
	assert_true(st.last_check_ms > 0);
	/* A loopback connect is in the first buckets (<= 50 ms); the sum is that one check. */
	assert_int_equal(hist_total(&st), 1);
	assert_int_equal(st.latency_hist[0] + st.latency_hist[1] + st.latency_hist[2] +
				 st.latency_hist[3] + st.latency_hist[4], 1);
	assert_int_equal(st.latency_sum_us, st.last_latency_us);
	/* UNKNOWN -> UP is no transition of routing. */
	assert_int_equal(st.went_down, 0);
	assert_int_equal(st.came_up, 0);
	/* Routability did not change, so nothing to rebuild. */
	assert_int_equal(health_generation(h), 0);
	assert_false(healthfix_event_fd_readable(h));

	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_tcp_fall_rise_exact(void **state)
{
	struct health *h = health_create();
	struct health_target t;
	struct health_status st;
	struct server s;
	uint64_t changed_ms;
	uint16_t port;
	int fd = healthfix_bound_socket(HEALTH_AF_INET4, &port);

	(void)state;
	assert_non_null(h);
	assert_true(fd >= 0);
	t = healthfix_tcp_target(HEALTH_AF_INET4, port);
	t.interval_ms = 100; /* single checks must be observable */
	assert_int_equal(health_set_targets(h, &t, 1), 0);

	st = healthfix_wait_for(h, &t, WAIT_CHECKS, 2);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.consecutive_fail, 2);
	assert_int_equal(st.state, HEALTH_STATE_UNKNOWN); /* fall is 3 */
	assert_int_equal(st.last_result, HEALTH_RESULT_REFUSED);
	assert_string_equal(st.last_text, "refused");
	assert_int_equal(health_generation(h), 0);

	st = healthfix_wait_for(h, &t, WAIT_CHECKS, 3);
	assert_int_equal(st.checks, 3);
	assert_int_equal(st.state, HEALTH_STATE_DOWN);
	assert_false(health_status_routable(&st));
	assert_int_equal(st.went_down, 1);
	assert_int_equal(st.came_up, 0);
	assert_int_equal(hist_total(&st), 3);
	assert_int_equal(health_generation(h), 1);
	assert_true(healthfix_event_fd_readable(h));
	changed_ms = st.last_change_ms;

	/* The port starts listening: DOWN needs rise (2) successes in a row. */
	healthfix_server_start_fd(&s, HEALTH_AF_INET4, fd, port, SRV_ACCEPT_CLOSE);
	st = healthfix_wait_for(h, &t, WAIT_OK_RUN, 1);
	assert_int_equal(st.consecutive_ok, 1);
	assert_int_equal(st.state, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_change_ms, changed_ms);
	assert_int_equal(health_generation(h), 1);

	st = healthfix_wait_for(h, &t, WAIT_OK_RUN, 2);
	assert_int_equal(st.consecutive_ok, 2);
	assert_int_equal(st.state, HEALTH_STATE_UP);
	assert_true(st.last_change_ms >= changed_ms);
	assert_int_equal(health_generation(h), 2);
	assert_int_equal(st.went_down, 1);
	assert_int_equal(st.came_up, 1);
	assert_int_equal(hist_total(&st), st.checks);
	assert_true(healthfix_event_fd_readable(h));

	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_http_status(void **state)
{
	struct health *h = health_create();
	struct health_target t[3];
	struct health_status st;
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_HTTP));
	t[0] = healthfix_http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t[1] = healthfix_http_target(HEALTH_AF_INET4, s.port, "/wrong", 200);
	t[2] = healthfix_http_target(HEALTH_AF_INET4, s.port, "/wrong", 503); /* expect_status honoured */
	for (int i = 0; i < 3; i++)
		t[i].fall = 2;
	assert_int_equal(health_set_targets(h, t, 3), 0);
	assert_int_equal(health_count(h), 3);

	st = healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_http_status, 200);
	assert_string_equal(st.last_text, "ok");

	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_STATUS);
	assert_int_equal(st.last_http_status, 503);
	assert_string_equal(st.last_text, "bad status 503");

	st = healthfix_wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_result, HEALTH_RESULT_OK);
	assert_int_equal(st.last_http_status, 503);

	health_destroy(h);
	healthfix_server_stop(&s);
	assert_true(atomic_load(&s.requests) >= 4);
	assert_int_equal(atomic_load(&s.host_ok), atomic_load(&s.requests));
}

static void test_http_timeout(void **state)
{
	struct health *h = health_create();
	struct health_target t[2];
	struct health_status st;
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_SILENT));
	t[0] = healthfix_http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t[0].fall = 2;
	t[1] = healthfix_tcp_target(HEALTH_AF_INET4, s.port); /* the handshake alone completes */
	assert_int_equal(health_set_targets(h, t, 2), 0);

	st = healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.last_result, HEALTH_RESULT_TIMEOUT);
	assert_string_equal(st.last_text, "timeout");
	assert_true(st.last_latency_us >= 40000);
	assert_true(st.last_latency_us < 40000 + 500000); /* the deadline is kept, give or take a scheduler */

	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_result, HEALTH_RESULT_OK);

	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_http_bad_response(void **state)
{
	struct health *h = health_create();
	struct health_target t;
	struct health_status st;
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(healthfix_server_start(&s, HEALTH_AF_INET4, SRV_GARBAGE));
	t = healthfix_http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t.fall = 1;
	assert_int_equal(health_set_targets(h, &t, 1), 0);
	st = healthfix_wait_for(h, &t, WAIT_STATE, HEALTH_STATE_DOWN);
	/* fall 1: the first check is enough; a loaded machine may run a second before we look. */
	assert_true(st.checks >= 1);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_RESPONSE);
	assert_string_equal(st.last_text, "bad_response");
	health_destroy(h);
	healthfix_server_stop(&s);
}

static void test_ipv6(void **state)
{
	struct health *h;
	struct health_target t[3];
	struct health_status st;
	struct server tcp, http;
	uint16_t port;
	int fd;

	(void)state;
	if (!healthfix_server_start(&tcp, HEALTH_AF_INET6, SRV_ACCEPT_CLOSE))
		skip(); /* no ::1 in this environment */
	assert_true(healthfix_server_start(&http, HEALTH_AF_INET6, SRV_HTTP));
	fd = healthfix_bound_socket(HEALTH_AF_INET6, &port);
	assert_true(fd >= 0);
	h = health_create();
	assert_non_null(h);
	t[0] = healthfix_tcp_target(HEALTH_AF_INET6, tcp.port);
	t[1] = healthfix_http_target(HEALTH_AF_INET6, http.port, "/healthz", 200);
	t[2] = healthfix_tcp_target(HEALTH_AF_INET6, port);
	t[2].fall = 2;
	assert_int_equal(health_set_targets(h, t, 3), 0);

	healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_http_status, 200);
	st = healthfix_wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_result, HEALTH_RESULT_REFUSED);

	health_destroy(h);
	healthfix_server_stop(&tcp);
	healthfix_server_stop(&http);
	close(fd);
	assert_int_equal(atomic_load(&http.host_ok), atomic_load(&http.requests)); /* "[::1]:port" */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_format_request),
		cmocka_unit_test(test_tcp_up),
		cmocka_unit_test(test_tcp_fall_rise_exact),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_http_timeout),
		cmocka_unit_test(test_http_bad_response),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_format_request_host),
	};

	/*
	 * The in-test servers (HTTPS, HTTP) write to probes that hang up after the
	 * status line: a write to a closed socket must fail with EPIPE, not kill
	 * the test (keel-control's checker thread blocks SIGPIPE, health.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
