/* UDP and DNS health checks against loopback servers, the DNS codec, validation of those kinds. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <resolv.h>
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
	struct health_target t = healthfix_tcp_target(HEALTH_AF_INET4, port);

	t.type = HEALTH_UDP;
	t.payload_len = (uint16_t)strlen(send_s);
	memcpy(t.payload, send_s, t.payload_len);
	t.expect_len = (uint16_t)strlen(expect_s);
	memcpy(t.expect, expect_s, t.expect_len);
	return t;
}

static struct health_target dns_target(uint16_t port, const char *name, uint16_t qtype)
{
	struct health_target t = healthfix_tcp_target(HEALTH_AF_INET4, port);

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
	st = healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_int_equal(st.last_result, HEALTH_RESULT_BAD_RESPONSE);
	assert_string_equal(st.last_text, "bad_response: answer without the expected bytes");
	st = healthfix_wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
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
	st = healthfix_wait_for(h, &t[0], WAIT_STATE, HEALTH_STATE_UP);
	assert_string_equal(st.last_text, "ok");
	st = healthfix_wait_for(h, &t[1], WAIT_STATE, HEALTH_STATE_DOWN);
	assert_string_equal(st.last_text, "bad_response: no answer of the type");
	st = healthfix_wait_for(h, &t[2], WAIT_STATE, HEALTH_STATE_DOWN);
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
	t = healthfix_http_target(HEALTH_AF_INET4, 443, "/", 200);
	t.type = HEALTH_HTTPS;
	t.expect_status_max = 399;
	assert_true(health_target_valid(&t));
	t.expect_status_max = 199;
	assert_false(health_target_valid(&t)); /* below the low end */
	t.expect_status_max = 0;
	snprintf(t.host, sizeof(t.host), "a b");
	assert_false(health_target_valid(&t)); /* would split the Host header */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_check),
		cmocka_unit_test(test_dns_check),
		cmocka_unit_test(test_dns_codec),
		cmocka_unit_test(test_validate_kinds),
	};

	/*
	 * The in-test servers (HTTPS, HTTP) write to probes that hang up after the
	 * status line: a write to a closed socket must fail with EPIPE, not kill
	 * the test (keel-control's checker thread blocks SIGPIPE, health.c).
	 */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
