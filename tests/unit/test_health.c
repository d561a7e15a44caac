/* Health checks against real loopback servers: rise/fall counts, HTTP status, timeouts, dedup, reloads. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/time.h>

#include "health.h"
#include "health_probe.h"

/*
 * Timing: probes run every 50 ms (100 ms where a test counts single checks, so
 * a poll every millisecond cannot miss one), timeouts 40 ms, and every wait is
 * bounded by WAIT_MS, so the whole program stays within a few seconds.
 */
#define WAIT_MS 3000

/* ---- loopback servers ------------------------------------------------------------------- */

enum srv_mode {
	SRV_ACCEPT_CLOSE, /* accept and close: a TCP check passes */
	SRV_HTTP,         /* 200 on GET /healthz, 503 on anything else */
	SRV_SILENT,       /* accept, read nothing, answer nothing: an HTTP check times out */
	SRV_GARBAGE,      /* answer a line that is not HTTP */
};

#define SRV_HELD_MAX 256

struct server {
	int fam; /* HEALTH_AF_INET4/6 */
	int lfd;
	int stop_fd;
	uint16_t port;
	enum srv_mode mode;
	pthread_t thread;
	atomic_uint accepted;
	atomic_uint requests; /* HTTP requests read */
	atomic_uint host_ok;  /* of those, with the expected Host header */
	char host[64];        /* "127.0.0.1:port" or "[::1]:port" */
	int held[SRV_HELD_MAX];
	unsigned n_held;
};

static void loopback(int fam, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (fam == HEALTH_AF_INET6) {
		addr[15] = 1;
	} else {
		addr[0] = 127;
		addr[3] = 1;
	}
}

/* A TCP socket bound to an ephemeral loopback port, not listening: connects to it are refused. */
static int bound_socket(int fam, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd = socket(fam == HEALTH_AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (fam == HEALTH_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd);
		return -1; /* no IPv6 loopback here */
	}
	*port = ntohs(fam == HEALTH_AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					     : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Reads one request (until the blank line), bounded in size and time. */
static ssize_t read_request(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 1000) <= 0)
			return -1;
		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return (ssize_t)len;
	}
	return -1;
}

static void serve_http(struct server *s, int fd)
{
	static const char ok[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
	static const char unavailable[] = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 5\r\n\r\ndown\n";
	char req[2048], host[96];
	const char *resp;

	if (read_request(fd, req, sizeof(req)) < 0)
		return;
	atomic_fetch_add(&s->requests, 1);
	snprintf(host, sizeof(host), "\r\nHost: %s\r\n", s->host);
	if (strstr(req, host))
		atomic_fetch_add(&s->host_ok, 1);
	if (s->mode == SRV_GARBAGE)
		resp = "SSH-2.0-OpenSSH_9.2\r\n";
	else if (strncmp(req, "GET /healthz HTTP/1.0\r\n", 23) == 0)
		resp = ok;
	else
		resp = unavailable;
	if (send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0)
		return;
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->lfd, .events = POLLIN },
					 { .fd = s->stop_fd, .events = POLLIN } };
		int fd;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepted, 1);
		if (s->mode == SRV_SILENT && s->n_held < SRV_HELD_MAX) {
			s->held[s->n_held++] = fd; /* keep it open: the prober must time out on its own */
			continue;
		}
		if (s->mode == SRV_HTTP || s->mode == SRV_GARBAGE)
			serve_http(s, fd);
		close(fd);
	}
	return NULL;
}

/* Starts serving on lfd (bound, maybe not yet listening). */
static void server_start_fd(struct server *s, int fam, int lfd, uint16_t port, enum srv_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->fam = fam;
	s->lfd = lfd;
	s->port = port;
	s->mode = mode;
	snprintf(s->host, sizeof(s->host), fam == HEALTH_AF_INET6 ? "[::1]:%u" : "127.0.0.1:%u", port);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->stop_fd >= 0);
	assert_int_equal(listen(lfd, 128), 0);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

/* false when the family is not available (IPv6 disabled) */
static bool server_start(struct server *s, int fam, enum srv_mode mode)
{
	uint16_t port;
	int fd = bound_socket(fam, &port);

	if (fd < 0)
		return false;
	server_start_fd(s, fam, fd, port, mode);
	return true;
}

static void server_stop(struct server *s)
{
	uint64_t one = 1;

	assert_int_equal(write(s->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->thread, NULL);
	for (unsigned i = 0; i < s->n_held; i++)
		close(s->held[i]);
	close(s->lfd);
	close(s->stop_fd);
}

/* ---- targets and waiting ---------------------------------------------------------------- */

static struct health_target tcp_target(int fam, uint16_t port)
{
	struct health_target t = { 0 };

	t.family = (uint8_t)fam;
	loopback(fam, t.addr);
	t.port = port;
	t.type = HEALTH_TCP;
	t.interval_ms = 50;
	t.timeout_ms = 40;
	t.rise = 2;
	t.fall = 3;
	return t;
}

static struct health_target http_target(int fam, uint16_t port, const char *path, uint16_t expect)
{
	struct health_target t = tcp_target(fam, port);

	t.type = HEALTH_HTTP;
	snprintf(t.path, sizeof(t.path), "%s", path);
	t.expect_status = expect;
	return t;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

enum wait_what { WAIT_CHECKS, WAIT_STATE, WAIT_OK_RUN };

/* Polls every millisecond (no busy loop) until the status satisfies what >= / == v. */
static struct health_status wait_for(struct health *h, const struct health_target *t,
				     enum wait_what what, uint64_t v)
{
	struct health_status st;

	for (int ms = 0; ms < WAIT_MS; ms++) {
		assert_int_equal(health_get(h, t, &st), 0);
		if ((what == WAIT_CHECKS && st.checks >= v) ||
		    (what == WAIT_STATE && st.state == (enum health_state)v) ||
		    (what == WAIT_OK_RUN && st.consecutive_ok >= v))
			return st;
		sleep_ms(1);
	}
	fail_msg("timed out waiting (what %d, value %llu): state %s, checks %llu, last %s", what,
		 (unsigned long long)v, health_state_name(st.state), (unsigned long long)st.checks,
		 st.last_text);
	return st;
}

static bool event_fd_readable(struct health *h)
{
	struct pollfd pfd = { .fd = health_event_fd(h), .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, 0) != 1)
		return false;
	assert_int_equal(read(pfd.fd, &v, sizeof(v)), sizeof(v)); /* clear it for the next check */
	return true;
}

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
	struct health_target t4 = http_target(HEALTH_AF_INET4, 8080, "/healthz?full=1", 200);
	struct health_target t6 = http_target(HEALTH_AF_INET6, 80, "/", 200);
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

static void test_validate(void **state)
{
	struct health *h = health_create();
	struct health_target good = http_target(HEALTH_AF_INET4, 80, "/healthz", 200), bad[12];
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
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	t = tcp_target(HEALTH_AF_INET4, s.port);
	assert_int_equal(health_set_targets(h, &t, 1), 0);

	assert_int_equal(health_get(h, &t, &st), 0);
	assert_int_equal(st.state, HEALTH_STATE_UNKNOWN); /* new: not proven, but routable */
	assert_true(health_status_routable(&st));
	assert_true(st.last_change_ms > 0);

	st = wait_for(h, &t, WAIT_STATE, HEALTH_STATE_UP);
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
	assert_false(event_fd_readable(h));

	health_destroy(h);
	server_stop(&s);
}

static void test_tcp_fall_rise_exact(void **state)
{
	struct health *h = health_create();
	struct health_target t;
	struct health_status st;
	struct server s;
	uint64_t changed_ms;
	uint16_t port;
	int fd = bound_socket(HEALTH_AF_INET4, &port);

	(void)state;
	assert_non_null(h);
	assert_true(fd >= 0);
	t = tcp_target(HEALTH_AF_INET4, port);
	t.interval_ms = 100; /* single checks must be observable */
	assert_int_equal(health_set_targets(h, &t, 1), 0);

	st = wait_for(h, &t, WAIT_CHECKS, 2);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.consecutive_fail, 2);
	assert_int_equal(st.state, HEALTH_STATE_UNKNOWN); /* fall is 3 */
	assert_int_equal(st.last_result, HEALTH_RESULT_REFUSED);
	assert_string_equal(st.last_text, "refused");
	assert_int_equal(health_generation(h), 0);

	st = wait_for(h, &t, WAIT_CHECKS, 3);
	assert_int_equal(st.checks, 3);
	assert_int_equal(st.state, HEALTH_STATE_DOWN);
	assert_false(health_status_routable(&st));
	assert_int_equal(st.went_down, 1);
	assert_int_equal(st.came_up, 0);
	assert_int_equal(hist_total(&st), 3);
	assert_int_equal(health_generation(h), 1);
	assert_true(event_fd_readable(h));
	changed_ms = st.last_change_ms;

	/* The port starts listening: DOWN needs rise (2) successes in a row. */
	server_start_fd(&s, HEALTH_AF_INET4, fd, port, SRV_ACCEPT_CLOSE);
	st = wait_for(h, &t, WAIT_OK_RUN, 1);
	assert_int_equal(st.consecutive_ok, 1);
	assert_int_equal(st.state, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_change_ms, changed_ms);
	assert_int_equal(health_generation(h), 1);

	st = wait_for(h, &t, WAIT_OK_RUN, 2);
	assert_int_equal(st.consecutive_ok, 2);
	assert_int_equal(st.state, HEALTH_STATE_UP);
	assert_true(st.last_change_ms >= changed_ms);
	assert_int_equal(health_generation(h), 2);
	assert_int_equal(st.went_down, 1);
	assert_int_equal(st.came_up, 1);
	assert_int_equal(hist_total(&st), st.checks);
	assert_true(event_fd_readable(h));

	health_destroy(h);
	server_stop(&s);
}

static void test_http_status(void **state)
{
	struct health *h = health_create();
	struct health_target t[3];
	struct health_status st;
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_HTTP));
	t[0] = http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t[1] = http_target(HEALTH_AF_INET4, s.port, "/wrong", 200);
	t[2] = http_target(HEALTH_AF_INET4, s.port, "/wrong", 503); /* expect_status honoured */
	for (int i = 0; i < 3; i++)
		t[i].fall = 2;
	assert_int_equal(health_set_targets(h, t, 3), 0);
	assert_int_equal(health_count(h), 3);

	st = wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_http_status, 200);
	assert_string_equal(st.last_text, "ok");

	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_STATUS);
	assert_int_equal(st.last_http_status, 503);
	assert_string_equal(st.last_text, "bad status 503");

	st = wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_result, HEALTH_RESULT_OK);
	assert_int_equal(st.last_http_status, 503);

	health_destroy(h);
	server_stop(&s);
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
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_SILENT));
	t[0] = http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t[0].fall = 2;
	t[1] = tcp_target(HEALTH_AF_INET4, s.port); /* the handshake alone completes */
	assert_int_equal(health_set_targets(h, t, 2), 0);

	st = wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.checks, 2);
	assert_int_equal(st.last_result, HEALTH_RESULT_TIMEOUT);
	assert_string_equal(st.last_text, "timeout");
	assert_true(st.last_latency_us >= 40000);
	assert_true(st.last_latency_us < 40000 + 500000); /* the deadline is kept, give or take a scheduler */

	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_result, HEALTH_RESULT_OK);

	health_destroy(h);
	server_stop(&s);
}

static void test_http_bad_response(void **state)
{
	struct health *h = health_create();
	struct health_target t;
	struct health_status st;
	struct server s;

	(void)state;
	assert_non_null(h);
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_GARBAGE));
	t = http_target(HEALTH_AF_INET4, s.port, "/healthz", 200);
	t.fall = 1;
	assert_int_equal(health_set_targets(h, &t, 1), 0);
	st = wait_for(h, &t, WAIT_STATE, HEALTH_STATE_DOWN);
	/* fall 1: the first check is enough; a loaded machine may run a second before we look. */
	assert_true(st.checks >= 1);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_RESPONSE);
	assert_string_equal(st.last_text, "bad_response");
	health_destroy(h);
	server_stop(&s);
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
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	t[0] = tcp_target(HEALTH_AF_INET4, s.port);
	t[1] = t[0]; /* the same backend behind a second VIP */
	t[2] = t[0];
	snprintf(t[2].path, sizeof(t[2].path), "/ignored-for-tcp"); /* still the same TCP check */
	t[2].expect_status = 204;
	t[2].addr[7] = 0xee; /* past an IPv4 address: not part of it */
	assert_int_equal(health_set_targets(h, t, 3), 0);
	assert_int_equal(health_count(h), 1);

	st = wait_for(h, &t[1], WAIT_CHECKS, 5);
	assert_int_equal(health_get(h, &t[2], &st), 0); /* every alias finds the one probe */
	assert_int_equal(health_set_targets(h, NULL, 0), 0); /* stop probing */
	assert_int_equal(health_count(h), 0);
	assert_int_equal(health_get(h, &t[0], &gone), -ENOENT);
	sleep_ms(30); /* let the server accept the last connection */
	accepted = atomic_load(&s.accepted);
	/* One probe, not three: one connection per check (one more if a probe ended meanwhile). */
	assert_true(accepted >= st.checks && accepted <= st.checks + 1);

	health_destroy(h);
	server_stop(&s);
}

static void test_state_kept_across_sets(void **state)
{
	struct health *h = health_create();
	struct health_target a, b, a_slower, both[3];
	struct health_status st, st2;
	uint16_t port_a, port_b;
	int fa = bound_socket(HEALTH_AF_INET4, &port_a);
	int fb = bound_socket(HEALTH_AF_INET4, &port_b);

	(void)state;
	assert_non_null(h);
	assert_true(fa >= 0 && fb >= 0);
	a = tcp_target(HEALTH_AF_INET4, port_a);
	a.fall = 2;
	b = tcp_target(HEALTH_AF_INET4, port_b);
	assert_int_equal(health_set_targets(h, &a, 1), 0);
	st = wait_for(h, &a, WAIT_STATE, HEALTH_STATE_DOWN);
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

static void test_ipv6(void **state)
{
	struct health *h;
	struct health_target t[3];
	struct health_status st;
	struct server tcp, http;
	uint16_t port;
	int fd;

	(void)state;
	if (!server_start(&tcp, HEALTH_AF_INET6, SRV_ACCEPT_CLOSE))
		skip(); /* no ::1 in this environment */
	assert_true(server_start(&http, HEALTH_AF_INET6, SRV_HTTP));
	fd = bound_socket(HEALTH_AF_INET6, &port);
	assert_true(fd >= 0);
	h = health_create();
	assert_non_null(h);
	t[0] = tcp_target(HEALTH_AF_INET6, tcp.port);
	t[1] = http_target(HEALTH_AF_INET6, http.port, "/healthz", 200);
	t[2] = tcp_target(HEALTH_AF_INET6, port);
	t[2].fall = 2;
	assert_int_equal(health_set_targets(h, t, 3), 0);

	wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_UP);
	assert_int_equal(st.last_http_status, 200);
	st = wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_result, HEALTH_RESULT_REFUSED);

	health_destroy(h);
	server_stop(&tcp);
	server_stop(&http);
	close(fd);
	assert_int_equal(atomic_load(&http.host_ok), atomic_load(&http.requests)); /* "[::1]:port" */
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
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_SILENT));
	for (int i = 0; i < 32; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/p%d", i);
		t[i] = http_target(HEALTH_AF_INET4, s.port, path, 200);
	}
	for (int round = 0; round < 5; round++) {
		assert_int_equal(health_set_targets(h, t, 32), 0);
		sleep_ms(30); /* some probes are now waiting on the silent server */
		assert_int_equal(health_set_targets(h, t + 16, 16), 0);
		sleep_ms(5);
		assert_int_equal(health_set_targets(h, NULL, 0), 0);
	}
	assert_int_equal(health_set_targets(h, t, 32), 0);
	sleep_ms(30);
	health_destroy(h); /* with probes in flight */
	server_stop(&s);
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
	assert_true(server_start(&s, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	for (int i = 0; i < 64; i++) {
		t[i] = tcp_target(HEALTH_AF_INET4, s.port);
		t[i].interval_ms = 400;
		t[i].fall = (uint8_t)(i + 1); /* distinct targets on one server */
	}
	assert_int_equal(health_set_targets(h, t, 64), 0);
	assert_int_equal(health_count(h), 64);
	sleep_ms(200);
	for (int i = 0; i < 64; i++) {
		struct health_status st;

		assert_int_equal(health_get(h, &t[i], &st), 0);
		assert_true(st.checks <= 1);
		checked += st.checks > 0;
	}
	/* Uniform starts over 400 ms: about half by now; all or none would mean no spread. */
	assert_true(checked >= 4 && checked <= 60);
	health_destroy(h);
	server_stop(&s);
}

static void test_too_many(void **state)
{
	struct health *h = health_create();
	uint32_t n = HEALTH_TARGETS_MAX + 1;
	struct health_target *t = calloc(n, sizeof(*t));
	struct health_target one = tcp_target(HEALTH_AF_INET4, 9);

	(void)state;
	assert_non_null(h);
	assert_non_null(t);
	assert_int_equal(health_set_targets(h, &one, 1), 0);
	for (uint32_t i = 0; i < n; i++) {
		t[i] = tcp_target(HEALTH_AF_INET4, (uint16_t)(1 + i % 65535));
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
	struct health_target t = tcp_target(HEALTH_AF_INET4, 9);
	struct health_status st;

	(void)state;
	assert_non_null(h);
	t.type = HEALTH_NONE;
	assert_int_equal(health_set_targets(h, &t, 1), 0);
	sleep_ms(60);
	assert_int_equal(health_get(h, &t, &st), 0);
	assert_int_equal(st.state, HEALTH_STATE_UP);
	assert_int_equal(st.checks, 0);
	health_destroy(h);
}


/* ---- the in-flight budget ----------------------------------------------------------------- */

/*
 * A silent server that counts the connections open at once. Each round it
 * first reads every held connection (so a probe's FIN is seen) and only then
 * accepts: on loopback the FIN of a closed probe is queued before the SYN of
 * the probe started after it, so the count is exact, not a sample.
 */
struct counting_server {
	int lfd, stop_fd;
	uint16_t port;
	pthread_t thread;
	int held[SRV_HELD_MAX];
	unsigned n_held;
	atomic_uint max_open;
	atomic_uint accepted;
};

static void *counting_main(void *arg)
{
	struct counting_server *s = arg;

	for (;;) {
		struct pollfd pfd[SRV_HELD_MAX + 2];
		unsigned n = 0;

		pfd[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = s->lfd, .events = POLLIN };
		for (unsigned i = 0; i < s->n_held; i++)
			pfd[n++] = (struct pollfd){ .fd = s->held[i], .events = POLLIN };
		if (poll(pfd, n, -1) < 0 || pfd[0].revents)
			break;
		for (unsigned i = 0; i < s->n_held;) {
			char buf[512];
			ssize_t r;

			while ((r = recv(s->held[i], buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				;
			if (r == 0 || (r < 0 && errno != EAGAIN)) { /* the prober closed it */
				close(s->held[i]);
				s->held[i] = s->held[--s->n_held];
				continue;
			}
			i++;
		}
		for (;;) {
			int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd < 0)
				break;
			atomic_fetch_add(&s->accepted, 1);
			if (s->n_held == SRV_HELD_MAX) {
				close(fd);
				continue;
			}
			s->held[s->n_held++] = fd;
			if (s->n_held > atomic_load(&s->max_open))
				atomic_store(&s->max_open, s->n_held);
		}
	}
	return NULL;
}

static void counting_start(struct counting_server *s)
{
	memset(s, 0, sizeof(*s));
	s->lfd = bound_socket(HEALTH_AF_INET4, &s->port);
	assert_true(s->lfd >= 0);
	assert_int_equal(fcntl(s->lfd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(listen(s->lfd, 128), 0);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->stop_fd >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, counting_main, s), 0);
}

static void counting_stop(struct counting_server *s)
{
	uint64_t one = 1;

	assert_int_equal(write(s->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->thread, NULL);
	for (unsigned i = 0; i < s->n_held; i++)
		close(s->held[i]);
	close(s->lfd);
	close(s->stop_fd);
}

static void test_budget_for_limit(void **state)
{
	(void)state;
	assert_int_equal(health_budget_for_limit(1024), 1024 - HEALTH_FD_RESERVE);
	assert_int_equal(health_budget_for_limit(4096), 3072); /* a quarter kept back */
	assert_int_equal(health_budget_for_limit(65536), HEALTH_TARGETS_MAX);
	assert_int_equal(health_budget_for_limit((uint64_t)-1), HEALTH_TARGETS_MAX);
	assert_int_equal(health_budget_for_limit(100), 50);
	assert_int_equal(health_budget_for_limit(1), 1);
	assert_int_equal(health_budget_for_limit(0), 1);
	/* What the systemd unit's LimitNOFILE gives: every target of the maximum at once. */
	assert_int_equal(health_budget_for_limit(32768), HEALTH_TARGETS_MAX);
}

#define BUDGET 3
#define N_SILENT 12

/* Twelve HTTP checks that time out, with room for three: never more than three sockets, all checked. */
static void test_budget_bounds_in_flight(void **state)
{
	struct health *h = health_create_budget(BUDGET);
	struct health_target t[N_SILENT];
	struct counting_server s;
	struct health_stats hs;

	(void)state;
	assert_non_null(h);
	counting_start(&s);
	for (int i = 0; i < N_SILENT; i++) {
		char path[16];

		snprintf(path, sizeof(path), "/t%d", i);
		t[i] = http_target(HEALTH_AF_INET4, s.port, path, 200);
		/* Twelve 100 ms timeouts per 200 ms need six sockets: twice the budget. */
		t[i].interval_ms = 200;
		t[i].timeout_ms = 100;
	}
	assert_int_equal(health_set_targets(h, t, N_SILENT), 0);
	/* Three at a time, 100 ms each: a round of twelve takes 400 ms; every target twice by 1.5 s. */
	for (int i = 0; i < N_SILENT; i++)
		wait_for(h, &t[i], WAIT_CHECKS, 2);
	health_stats(h, &hs);
	health_destroy(h);
	counting_stop(&s);
	printf("    budget %d: at most %u connections open at once (%u accepted), %llu late\n",
	       BUDGET, atomic_load(&s.max_open), atomic_load(&s.accepted),
	       (unsigned long long)hs.late_total);
	/*
	 * The server sees a timed-out probe's close after the client sent it: the
	 * next probe's connection may be accepted first, so one over the budget
	 * is the server's view lagging, not a fourth socket (without the budget
	 * this test saw 9).
	 */
	assert_true(atomic_load(&s.max_open) <= BUDGET + 1);
	assert_true(atomic_load(&s.max_open) >= 2); /* probes do run side by side */
	assert_int_equal(hs.budget, BUDGET);
	assert_int_equal(hs.targets, N_SILENT);
	assert_true(hs.in_flight <= BUDGET);
	assert_true(hs.started_total >= 2 * N_SILENT);
	assert_true(hs.late_total > 0); /* the schedule cannot be kept, and the checker says so */
	assert_true(hs.behind);
	assert_int_equal(hs.deferred_total, 0);
}

/* The same checks with room for all of them: nothing late, nothing behind. */
static void test_budget_ample_not_late(void **state)
{
	struct health *h = health_create_budget(64);
	struct health_target t[N_SILENT];
	struct counting_server s;
	struct health_stats hs;

	(void)state;
	assert_non_null(h);
	counting_start(&s);
	for (int i = 0; i < N_SILENT; i++) {
		char path[16];

		snprintf(path, sizeof(path), "/t%d", i);
		t[i] = http_target(HEALTH_AF_INET4, s.port, path, 200);
		t[i].interval_ms = 1000; /* late means 250 ms late: a loaded machine stays well under */
		t[i].timeout_ms = 100;
	}
	assert_int_equal(health_set_targets(h, t, N_SILENT), 0);
	for (int i = 0; i < N_SILENT; i++)
		wait_for(h, &t[i], WAIT_CHECKS, 1);
	health_stats(h, &hs);
	assert_int_equal(hs.budget, 64);
	assert_int_equal(hs.late_total, 0);
	assert_false(hs.behind);
	health_destroy(h);
	counting_stop(&s);
}


/* ---- UDP and DNS checks ----------------------------------------------------------------- */

enum udp_mode {
	UDP_PONG,   /* answers "pong " + the request */
	UDP_DNS_A,  /* answers a DNS query with one A record 192.0.2.7 */
	UDP_DNS_NX, /* answers NXDOMAIN */
};

struct udp_server {
	int fd, stop_fd;
	uint16_t port;
	enum udp_mode mode;
	pthread_t thread;
	atomic_uint requests;
};

/* The answer to a DNS query q of n bytes: the question copied, then (A mode) one A record. */
static size_t dns_answer(const uint8_t *q, size_t n, uint8_t *out, bool nx)
{
	static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7 };

	memcpy(out, q, n);
	out[2] = 0x81; /* QR, RD */
	out[3] = nx ? 0x83 : 0x80; /* RA, RCODE 3 or 0 */
	out[7] = nx ? 0 : 1;       /* ANCOUNT */
	if (nx)
		return n;
	memcpy(out + n, rr, sizeof(rr));
	return n + sizeof(rr);
}

static void *udp_main(void *arg)
{
	struct udp_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->fd, .events = POLLIN },
					 { .fd = s->stop_fd, .events = POLLIN } };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		uint8_t in[512], out[600];
		ssize_t n;
		size_t m;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		n = recvfrom(s->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		atomic_fetch_add(&s->requests, 1);
		if (s->mode == UDP_PONG) {
			memcpy(out, "pong ", 5);
			memcpy(out + 5, in, (size_t)n);
			m = (size_t)n + 5;
		} else {
			m = dns_answer(in, (size_t)n, out, s->mode == UDP_DNS_NX);
		}
		if (sendto(s->fd, out, m, 0, (struct sockaddr *)&from, fl) < 0)
			continue;
	}
	return NULL;
}

static void udp_start(struct udp_server *s, enum udp_mode mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	s->stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->stop_fd >= 0);
	assert_int_equal(pthread_create(&s->thread, NULL, udp_main, s), 0);
}

static void udp_stop(struct udp_server *s)
{
	uint64_t one = 1;

	assert_int_equal(write(s->stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->stop_fd);
}

static struct health_target udp_target(uint16_t port, const char *send_s, const char *expect_s)
{
	struct health_target t = tcp_target(HEALTH_AF_INET4, port);

	t.type = HEALTH_UDP;
	t.payload_len = (uint16_t)strlen(send_s);
	memcpy(t.payload, send_s, t.payload_len);
	t.expect_len = (uint16_t)strlen(expect_s);
	memcpy(t.expect, expect_s, t.expect_len);
	return t;
}

static struct health_target dns_target(uint16_t port, const char *name, uint16_t qtype)
{
	struct health_target t = tcp_target(HEALTH_AF_INET4, port);

	t.type = HEALTH_DNS;
	snprintf(t.host, sizeof(t.host), "%s", name);
	t.qtype = qtype;
	return t;
}

static void test_udp_check(void **state)
{
	struct health *h = health_create();
	struct health_target t[3];
	struct health_status st;
	struct udp_server s;
	uint16_t closed;
	int cfd = -1;

	(void)state;
	assert_non_null(h);
	udp_start(&s, UDP_PONG);
	/* A port with nothing behind it: bound, then closed, so ICMP port unreachable answers. */
	cfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);

		assert_int_equal(bind(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(cfd, (struct sockaddr *)&a, &al), 0);
		closed = ntohs(a.sin_port);
		close(cfd);
	}
	t[0] = udp_target(s.port, "ping", "pong ping"); /* the answer holds the expected bytes */
	t[1] = udp_target(s.port, "ping", "nope");      /* an answer, but not the expected one */
	t[2] = udp_target(closed, "ping", "");          /* nobody there */
	assert_int_equal(health_set_targets(h, t, 3), 0);
	st = wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_RESPONSE);
	assert_string_equal(st.last_text, "bad_response: answer without the expected bytes");
	st = wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_result, HEALTH_RESULT_REFUSED);
	health_destroy(h);
	udp_stop(&s);
	assert_true(atomic_load(&s.requests) >= 2);
}

static void test_dns_check(void **state)
{
	struct health *h = health_create();
	struct health_target t[3];
	struct health_status st;
	struct udp_server a, nx;

	(void)state;
	assert_non_null(h);
	udp_start(&a, UDP_DNS_A);
	udp_start(&nx, UDP_DNS_NX);
	t[0] = dns_target(a.port, "svc.example.", 1);   /* A: answered */
	t[1] = dns_target(a.port, "svc.example", 28);   /* AAAA: the answer has only an A */
	t[2] = dns_target(nx.port, "gone.example", 1);  /* NXDOMAIN */
	assert_int_equal(health_set_targets(h, t, 3), 0);
	st = wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad_response: no answer of the type");
	st = wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad_response: nxdomain");
	health_destroy(h);
	udp_stop(&a);
	udp_stop(&nx);
}

/* The DNS encoder against libresolv's parser, and the answer checker on crafted messages. */
static void test_dns_codec(void **state)
{
	uint8_t q[512], r[600];
	const char *why = NULL;
	char name[300];
	int n;
	size_t m;

	(void)state;
	n = health_probe_dns_query("www.example.org", 28, 0x1234, q, sizeof(q));
	assert_int_equal(n, 12 + 17 + 4);
	{
		ns_msg msg;
		ns_rr rr;

		assert_int_equal(ns_initparse(q, n, &msg), 0);
		assert_int_equal(ns_msg_id(msg), 0x1234);
		assert_int_equal(ns_msg_count(msg, ns_s_qd), 1);
		assert_int_equal(ns_parserr(&msg, ns_s_qd, 0, &rr), 0);
		assert_string_equal(ns_rr_name(rr), "www.example.org");
		assert_int_equal(ns_rr_type(rr), 28);
		assert_int_equal(ns_rr_class(rr), ns_c_in);
	}
	memset(name, 'a', sizeof(name));
	name[299] = '\0';
	assert_true(health_probe_dns_query(name, 1, 1, q, sizeof(q)) < 0); /* label over 63 */
	assert_true(health_probe_dns_query("x.y", 1, 1, q, 20) < 0);       /* no room */

	n = health_probe_dns_query("svc.example", 1, 0xbeef, q, sizeof(q));
	m = dns_answer(q, (size_t)n, r, false);
	assert_int_equal(health_probe_dns_check(r, m, 0xbeef, 1, &why), 0);
	assert_int_equal(health_probe_dns_check(r, m, 0xbeee, 1, &why), -EBADMSG); /* not our id */
	assert_int_equal(health_probe_dns_check(r, m, 0xbeef, 28, &why), -ENOENT);
	assert_int_equal(health_probe_dns_check(q, (size_t)n, 0xbeef, 1, &why), -EBADMSG); /* a query */
	assert_int_equal(health_probe_dns_check(r, m - 3, 0xbeef, 1, &why), -EBADMSG); /* cut short */
	assert_int_equal(health_probe_dns_check(r, 5, 0xbeef, 1, &why), -EBADMSG);
	m = dns_answer(q, (size_t)n, r, true);
	assert_int_equal(health_probe_dns_check(r, m, 0xbeef, 1, &why), -ENOENT);
	assert_string_equal(why, "nxdomain");

	assert_true(health_probe_udp_ok((const uint8_t *)"xxpongxx", 8, (const uint8_t *)"pong", 4));
	assert_false(health_probe_udp_ok((const uint8_t *)"pon", 3, (const uint8_t *)"pong", 4));
	assert_true(health_probe_udp_ok((const uint8_t *)"", 0, NULL, 0));
	assert_true(health_probe_status_ok(204, 200, 299));
	assert_false(health_probe_status_ok(301, 200, 299));
	assert_true(health_probe_status_ok(200, 200, 0));
	assert_false(health_probe_status_ok(201, 200, 0));
}

/* Host header from the configured name, with the port only when not the scheme's default. */
static void test_format_request_host(void **state)
{
	struct health_target t = http_target(HEALTH_AF_INET4, 80, "/h", 200);
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

static void test_validate_kinds(void **state)
{
	struct health_target t;

	(void)state;
	t = dns_target(53, "svc.example", 1);
	assert_true(health_target_valid(&t));
	t.host[0] = '\0';
	assert_false(health_target_valid(&t)); /* a DNS check needs a name */
	t = dns_target(53, "bad..name", 1);
	assert_false(health_target_valid(&t));
	t = dns_target(53, "svc.example", 0);
	assert_false(health_target_valid(&t));
	t = udp_target(9, "x", "");
	assert_true(health_target_valid(&t));
	t.payload_len = 0;
	assert_false(health_target_valid(&t));
	t = http_target(HEALTH_AF_INET4, 443, "/", 200);
	t.type = HEALTH_HTTPS;
	t.expect_status_max = 399;
	assert_true(health_target_valid(&t));
	t.expect_status_max = 199;
	assert_false(health_target_valid(&t)); /* below the low end */
	t.expect_status_max = 0;
	snprintf(t.host, sizeof(t.host), "a b");
	assert_false(health_target_valid(&t)); /* would split the Host header */
}


/* ---- HTTPS checks ------------------------------------------------------------------------- */

/*
 * A TLS server on loopback with a throwaway P-256 certificate made here. It
 * answers 200 when the client sent SNI "svc.test" and "Host: svc.test:PORT",
 * 421 otherwise, so one check covers SNI, Host and the status range.
 */
struct tls_server {
	struct server tcp; /* listener, stop fd and thread; mode unused */
	SSL_CTX *ctx;
	atomic_uint handshakes;
	atomic_uint resumed; /* of those, resumed sessions */
};

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"svc.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static void *tls_main(void *arg)
{
	struct tls_server *s = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = s->tcp.lfd, .events = POLLIN },
					 { .fd = s->tcp.stop_fd, .events = POLLIN } };
		char req[2048], want[64];
		const char *sni, *resp;
		size_t len = 0;
		SSL *ssl;
		int fd;

		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		fd = accept4(s->tcp.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* Blocking with a bound: a stuck client must not hang the test. */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){ .tv_sec = 1 }, sizeof(struct timeval));
		ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			int n;

			atomic_fetch_add(&s->handshakes, 1);
			if (SSL_session_reused(ssl))
				atomic_fetch_add(&s->resumed, 1);
			while (len + 1 < sizeof(req) && (n = SSL_read(ssl, req + len, (int)(sizeof(req) - 1 - len))) > 0) {
				len += (size_t)n;
				req[len] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			req[len] = '\0';
			sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
			snprintf(want, sizeof(want), "\r\nHost: svc.test:%u\r\n", s->tcp.port);
			resp = sni && !strcmp(sni, "svc.test") && strstr(req, want)
				       ? "HTTP/1.0 204 No Content\r\n\r\n"
				       : "HTTP/1.0 421 Misdirected Request\r\n\r\n";
			SSL_write(ssl, resp, (int)strlen(resp));
			SSL_shutdown(ssl);
		}
		SSL_free(ssl);
		close(fd);
	}
	return NULL;
}

static void tls_start(struct tls_server *s)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert;
	uint16_t port;
	int lfd;

	memset(s, 0, sizeof(*s));
	assert_non_null(key);
	cert = self_signed(key);
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ctx);
	assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	lfd = bound_socket(HEALTH_AF_INET4, &port);
	assert_true(lfd >= 0);
	s->tcp.lfd = lfd;
	s->tcp.port = port;
	s->tcp.stop_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(s->tcp.stop_fd >= 0);
	assert_int_equal(listen(lfd, 128), 0);
	assert_int_equal(pthread_create(&s->tcp.thread, NULL, tls_main, s), 0);
}

static void tls_stop(struct tls_server *s)
{
	uint64_t one = 1;

	assert_int_equal(write(s->tcp.stop_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(s->tcp.thread, NULL);
	close(s->tcp.lfd);
	close(s->tcp.stop_fd);
	SSL_CTX_free(s->ctx);
}

static void test_https_check(void **state)
{
	struct health *h = health_create();
	struct health_target t[4];
	struct health_status st;
	struct tls_server s;
	struct server plain;

	(void)state;
	assert_non_null(h);
	tls_start(&s);
	assert_true(server_start(&plain, HEALTH_AF_INET4, SRV_ACCEPT_CLOSE));
	for (int i = 0; i < 4; i++) {
		t[i] = http_target(HEALTH_AF_INET4, s.tcp.port, "/", 200);
		t[i].type = HEALTH_HTTPS;
		t[i].interval_ms = 200; /* a handshake on a loaded machine: room for it */
		t[i].timeout_ms = 150;
		snprintf(t[i].host, sizeof(t[i].host), "svc.test");
		t[i].expect_status_max = 299;
	}
	t[1].host[0] = '\0';     /* no SNI, Host is the address: 421 */
	t[2].expect_status_max = 0; /* 200 only: the 204 does not pass */
	t[3].port = plain.port;  /* not TLS at all: the handshake fails */
	assert_int_equal(health_set_targets(h, t, 4), 0);
	st = wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	assert_int_equal(st.last_http_status, 204);
	st = wait_for(h, &t[0], WAIT_CHECKS, 3);
	assert_string_equal(st.last_text, "ok"); /* resumed handshakes pass too */
	st = wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad status 421");
	st = wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad status 204");
	st = wait_for(h, &t[3], WAIT_STATE, HEALTH_STATE_DOWN);
	/*
	 * The plain server closes on our ClientHello: an orderly close fails the
	 * handshake, one with our bytes unread is a reset (the kernel's choice).
	 */
	if (strcmp(st.last_text, "bad_response: tls handshake failed") &&
	    strcmp(st.last_text, "error: Connection reset by peer"))
		fail_msg("not TLS: \"%s\"", st.last_text);
	health_destroy(h);
	tls_stop(&s);
	server_stop(&plain);
	assert_true(atomic_load(&s.handshakes) >= 3);
	/* A target's later probes resume its TLS session instead of a full handshake. */
	printf("    %u TLS handshakes, %u resumed\n", atomic_load(&s.handshakes), atomic_load(&s.resumed));
	assert_true(atomic_load(&s.resumed) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_status),
		cmocka_unit_test(test_format_request),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_tcp_up),
		cmocka_unit_test(test_tcp_fall_rise_exact),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_http_timeout),
		cmocka_unit_test(test_http_bad_response),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_state_kept_across_sets),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_churn_in_flight),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_none_type),
		cmocka_unit_test(test_budget_for_limit),
		cmocka_unit_test(test_budget_bounds_in_flight),
		cmocka_unit_test(test_budget_ample_not_late),
		cmocka_unit_test(test_udp_check),
		cmocka_unit_test(test_dns_check),
		cmocka_unit_test(test_dns_codec),
		cmocka_unit_test(test_format_request_host),
		cmocka_unit_test(test_validate_kinds),
		cmocka_unit_test(test_https_check),
	};

	/*
	 * The in-test servers (HTTPS, HTTP) write to probes that hang up after the
	 * status line: a write to a closed socket must fail with EPIPE, not kill
	 * the test (keel-control's checker thread blocks SIGPIPE, health.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
