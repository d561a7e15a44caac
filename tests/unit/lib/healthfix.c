/* The health checker tests' fixture: loopback TCP/HTTP servers, targets and bounded waits. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
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
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "health.h"
#include "healthfix.h"

/* ---- loopback servers ------------------------------------------------------------------- */
void healthfix_loopback(int fam, uint8_t addr[16])
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
int healthfix_bound_socket(int fam, uint16_t *port)
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
void healthfix_server_start_fd(struct server *s, int fam, int lfd, uint16_t port,
			       enum srv_mode mode)
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
bool healthfix_server_start(struct server *s, int fam, enum srv_mode mode)
{
	uint16_t port;
	int fd = healthfix_bound_socket(fam, &port);

	if (fd < 0)
		return false;
	healthfix_server_start_fd(s, fam, fd, port, mode);
	return true;
}

void healthfix_server_stop(struct server *s)
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

struct health_target healthfix_tcp_target(int fam, uint16_t port)
{
	struct health_target t = { 0 };

	t.family = (uint8_t)fam;
	healthfix_loopback(fam, t.addr);
	t.port = port;
	t.type = HEALTH_TCP;
	t.interval_ms = 50;
	t.timeout_ms = 40;
	t.rise = 2;
	t.fall = 3;
	return t;
}

struct health_target healthfix_http_target(int fam, uint16_t port, const char *path,
					   uint16_t expect)
{
	struct health_target t = healthfix_tcp_target(fam, port);

	t.type = HEALTH_HTTP;
	snprintf(t.path, sizeof(t.path), "%s", path);
	t.expect_status = expect;
	return t;
}

void healthfix_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Polls every millisecond (no busy loop) until the status satisfies what >= / == v. */
struct health_status healthfix_wait_for(struct health *h, const struct health_target *t,
					enum wait_what what, uint64_t v)
{
	struct health_status st;

	for (int ms = 0; ms < WAIT_MS; ms++) {
		assert_int_equal(health_get(h, t, &st), 0);
		if ((what == WAIT_CHECKS && st.checks >= v) ||
		    (what == WAIT_STATE && st.state == (enum health_state)v) ||
		    (what == WAIT_OK_RUN && st.consecutive_ok >= v))
			return st;
		healthfix_sleep_ms(1);
	}
	fail_msg("timed out waiting (what %d, value %llu): state %s, checks %llu, last %s", what,
		 (unsigned long long)v, health_state_name(st.state), (unsigned long long)st.checks,
		 st.last_text);
	return st;
}

bool healthfix_event_fd_readable(struct health *h)
{
	struct pollfd pfd = { .fd = health_event_fd(h), .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, 0) != 1)
		return false;
	assert_int_equal(read(pfd.fd, &v, sizeof(v)), sizeof(v)); /* clear it for the next check */
	return true;
}
