/* Unit tests of the connection gate: per-client caps, the privileged reserve, who gives way, the request deadline, log limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn_gate.h"

#define MAXC 64

/* Each connection is a socketpair: the gate gets one end, the test reads what it answered on the other. */
struct peer {
	int srv, cli;
	struct conn_gate_slot *slot;
};

static struct peer peers[MAXC * 2];
static unsigned int n_peers;

static struct conn_gate_client client(unsigned int uid, bool privileged)
{
	struct conn_gate_client c = { .privileged = privileged };

	memcpy(c.id, &uid, sizeof(uid));
	snprintf(c.label, sizeof(c.label), "uid %u", uid);
	return c;
}

static struct peer *connect_as(struct conn_gate *g, unsigned int uid, bool privileged, uint64_t now)
{
	struct conn_gate_client c = client(uid, privileged);
	struct peer *p = &peers[n_peers++];
	int sv[2];

	assert_true(n_peers <= MAXC * 2);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->srv = sv[0];
	p->cli = sv[1];
	p->slot = conn_gate_admit(g, p->srv, &c, now);
	return p;
}

/* The status the gate answered on this connection (0: nothing, still open). */
static unsigned int answered(const struct peer *p)
{
	char buf[512];
	unsigned int st = 0;
	ssize_t n = recv(p->cli, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	assert_int_equal(sscanf(buf, "HTTP/1.1 %u", &st), 1);
	assert_non_null(strstr(buf, "Connection: close"));
	return st;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned int i = 0; i < n_peers; i++) {
		close(peers[i].srv);
		close(peers[i].cli);
	}
	n_peers = 0;
	return 0;
}

static const struct conn_gate_limits api_limits = {
	.max = 16, .per_client = 4, .reserved = 4, .request_ms = 1000, .json = true,
};

/*
 * One unprivileged client over its cap: its own oldest waiting connection
 * gives way (503), never another client's; with all of its connections
 * busy, the newcomer is refused.
 */
static void test_per_client_cap(void **state)
{
	struct conn_gate *g = conn_gate_new("api", &api_limits, false);
	struct peer *other, *mine[6];

	(void)state;
	assert_non_null(g);
	other = connect_as(g, 2000, false, 0);
	for (int i = 0; i < 4; i++)
		mine[i] = connect_as(g, 1000, false, (uint64_t)i + 1);
	assert_int_equal(conn_gate_count(g), 5);
	mine[4] = connect_as(g, 1000, false, 10);
	assert_non_null(mine[4]->slot);
	assert_int_equal(answered(mine[0]), 503);
	assert_false(conn_gate_open(g, mine[0]->slot));
	assert_int_equal(answered(other), 0);
	assert_true(conn_gate_open(g, other->slot));
	assert_int_equal(conn_gate_count(g), 5);
	/* All four of its live ones busy (being answered): nothing of its own to close, refused. */
	for (int i = 1; i <= 4; i++)
		assert_true(conn_gate_busy(g, mine[i]->slot));
	mine[5] = connect_as(g, 1000, false, 11);
	assert_null(mine[5]->slot);
	assert_int_equal(answered(mine[5]), 503);
	assert_int_equal(answered(other), 0);
	/* A busy connection is not given away, and a closed one cannot become busy. */
	assert_false(conn_gate_busy(g, mine[0]->slot));
	conn_gate_release(g, mine[0]->slot);
	conn_gate_free(g);
}

/*
 * Unprivileged clients together get max - reserved; the reserve is root's
 * (and admins'), who get in even when every unprivileged connection is
 * busy, and beyond the reserve close the oldest unprivileged waiting one.
 */
static void test_reserve(void **state)
{
	struct conn_gate *g = conn_gate_new("api", &api_limits, false);
	struct peer *p, *first = NULL, *root[5];
	unsigned int uid;

	(void)state;
	assert_non_null(g);
	/* 12 unprivileged connections from 3 users (4 each): the unprivileged share is full. */
	for (uid = 1000; uid < 1003; uid++)
		for (int i = 0; i < 4; i++) {
			p = connect_as(g, uid, false, uid);
			assert_non_null(p->slot);
			if (!first)
				first = p;
		}
	/* A fourth user: the oldest unprivileged waiting connection (another user's) gives way. */
	p = connect_as(g, 1003, false, 2000);
	assert_non_null(p->slot);
	assert_int_equal(answered(first), 503);
	/* Everything unprivileged busy: the next unprivileged one is refused... */
	for (unsigned int i = 0; i < n_peers; i++)
		if (peers[i].slot && conn_gate_open(g, peers[i].slot))
			assert_true(conn_gate_busy(g, peers[i].slot));
	p = connect_as(g, 1004, false, 2001);
	assert_null(p->slot);
	assert_int_equal(answered(p), 503);
	/* ...and root still gets the four reserved places. */
	for (int i = 0; i < 4; i++) {
		root[i] = connect_as(g, 0, true, 3000 + (uint64_t)i);
		assert_non_null(root[i]->slot);
	}
	assert_int_equal(conn_gate_count(g), 16);
	/* Full, everything else busy: a fifth root connection replaces root's own oldest waiting one. */
	root[4] = connect_as(g, 0, true, 4000);
	assert_non_null(root[4]->slot);
	assert_int_equal(answered(root[0]), 503);
	conn_gate_free(g);
}

/* A request that has not arrived by the deadline is answered 408 and closed; a busy one is not. */
static void test_deadline(void **state)
{
	struct conn_gate *g = conn_gate_new("metrics",
					    &(struct conn_gate_limits){ .max = 4, .request_ms = 1000 },
					    false);
	struct peer *slow, *busy, *kept;
	char buf[256];
	ssize_t n;

	(void)state;
	assert_non_null(g);
	slow = connect_as(g, 1, false, 100);
	busy = connect_as(g, 1, false, 100);
	kept = connect_as(g, 1, false, 100);
	assert_true(conn_gate_busy(g, busy->slot));
	assert_int_equal(conn_gate_expire(g, 1099), 0);
	/* A kept-alive connection's next request has its own deadline, from the end of the answer. */
	assert_true(conn_gate_busy(g, kept->slot));
	conn_gate_idle(g, kept->slot, 1050);
	assert_int_equal(conn_gate_expire(g, 1100), 1);
	n = recv(slow->cli, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 408 Request Timeout"));
	assert_non_null(strstr(buf, "text/plain"));
	assert_int_equal(recv(slow->cli, buf, sizeof(buf), MSG_DONTWAIT), 0); /* shut down */
	assert_false(conn_gate_open(g, slow->slot));
	assert_true(conn_gate_open(g, busy->slot));
	assert_true(conn_gate_open(g, kept->slot));
	assert_int_equal(conn_gate_expire(g, 2049), 0);
	assert_int_equal(conn_gate_expire(g, 2050), 1);
	assert_int_equal(answered(kept), 408);
	assert_int_equal(conn_gate_expire(g, 100000), 0); /* busy: no deadline */
	assert_int_equal(conn_gate_count(g), 1);
	conn_gate_free(g);
}

/* Released slots are reused; the table holds twice the limit for closed ones MHD has not seen yet. */
static void test_release(void **state)
{
	struct conn_gate *g = conn_gate_new("api", &api_limits, false);
	struct peer *p;

	(void)state;
	assert_non_null(g);
	assert_int_equal(conn_gate_capacity(g), 32);
	for (int i = 0; i < 40; i++) {
		p = connect_as(g, 0, true, (uint64_t)i);
		assert_non_null(p->slot);
		conn_gate_release(g, p->slot);
		close(p->srv);
		close(p->cli);
		n_peers--;
	}
	assert_int_equal(conn_gate_count(g), 0);
	conn_gate_free(g);
}

/* One line per interval, with how many were left out since the last. */
static void test_log_limit(void **state)
{
	struct log_limit l = { 0 };
	unsigned long left = 99;

	(void)state;
	assert_true(log_limit_ok(&l, 5000, 1000, &left));
	assert_int_equal(left, 0);
	for (int i = 0; i < 500; i++)
		assert_false(log_limit_ok(&l, 5000 + (uint64_t)i, 1000, &left));
	assert_true(log_limit_ok(&l, 6000, 1000, &left));
	assert_int_equal(left, 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_per_client_cap, teardown),
		cmocka_unit_test_teardown(test_reserve, teardown),
		cmocka_unit_test_teardown(test_deadline, teardown),
		cmocka_unit_test_teardown(test_release, teardown),
		cmocka_unit_test(test_log_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
