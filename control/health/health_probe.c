/* TCP connect and HTTP/1.0 GET health probes: non-blocking sockets, one verdict per probe. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health_probe.h"

void health_probe_init(struct health_probe *p, int epfd, void *cookie)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->epfd = epfd;
	p->cookie = cookie;
	p->phase = HEALTH_PROBE_IDLE;
}

static void probe_close(struct health_probe *p)
{
	if (p->fd < 0)
		return;
	if (p->armed) /* explicitly: a forked child's copy of fd would keep the registration */
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	close(p->fd);
	p->fd = -1;
	p->armed = 0;
}

static uint32_t probe_events(const struct health_probe *p)
{
	return p->phase == HEALTH_PROBE_CONNECTING || p->phase == HEALTH_PROBE_SENDING ? EPOLLOUT
										      : EPOLLIN;
}

/* Registers fd for what the current phase waits for. 0, or -errno (the caller gives up). */
static int probe_arm(struct health_probe *p)
{
	struct epoll_event ev = { .events = probe_events(p), .data.ptr = p->cookie };

	if (p->armed == ev.events)
		return 0;
	if (epoll_ctl(p->epfd, p->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, p->fd, &ev) < 0)
		return -errno;
	p->armed = ev.events;
	return 0;
}

static int probe_finish(struct health_probe *p, enum health_result r, int err, uint64_t now_ns)
{
	p->verdict.result = r;
	p->verdict.err = err;
	p->verdict.latency_ns = now_ns - p->started_ns;
	probe_close(p);
	p->phase = HEALTH_PROBE_DONE;
	return 1;
}

/* Errors that say we could not probe, not that the backend is bad. */
static bool errno_is_local(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL /* no free local port */ || err == EAGAIN /* same, from connect() */;
}

/* Waits for the next event of the current phase; a failed registration ends the probe. */
static int probe_wait(struct health_probe *p, uint64_t now_ns)
{
	int rc = probe_arm(p);

	if (rc < 0)
		return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, -rc, now_ns);
	return 0;
}

static int probe_fail(struct health_probe *p, int err, uint64_t now_ns)
{
	if (err == ECONNREFUSED)
		return probe_finish(p, HEALTH_RESULT_REFUSED, 0, now_ns);
	if (err == ETIMEDOUT) /* the kernel gave up on SYN retries before our deadline */
		return probe_finish(p, HEALTH_RESULT_TIMEOUT, 0, now_ns);
	return probe_finish(p, errno_is_local(err) ? HEALTH_RESULT_LOCAL_ERROR : HEALTH_RESULT_ERROR,
			    err, now_ns);
}

int health_probe_parse_status(const char *buf, size_t len, uint16_t *status)
{
	static const char prefix[] = "HTTP/";
	size_t n = len < sizeof(prefix) - 1 ? len : sizeof(prefix) - 1;
	const char *nl;
	size_t line;

	/* Refuse garbage as soon as it shows rather than waiting for a newline that may never come. */
	if (memcmp(buf, prefix, n) != 0)
		return -EBADMSG;
	nl = memchr(buf, '\n', len);
	if (!nl)
		return -EAGAIN;
	line = (size_t)(nl - buf);
	if (line > 0 && buf[line - 1] == '\r') /* RFC 9112 2.2: a bare LF is accepted too */
		line--;
	/* "HTTP/" DIGIT "." DIGIT SP 3DIGIT, then SP reason or the end (RFC 9112 section 4). */
	if (line < 12 || buf[5] < '0' || buf[5] > '9' || buf[6] != '.' || buf[7] < '0' ||
	    buf[7] > '9' || buf[8] != ' ')
		return -EBADMSG;
	for (size_t i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return -EBADMSG;
	if (line > 12 && buf[12] != ' ')
		return -EBADMSG;
	*status = (uint16_t)((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
	if (*status < 100 || *status > 599) /* RFC 9110 15: the defined range */
		return -EBADMSG;
	return 0;
}

int health_probe_format_request(const struct health_target *t, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	int n;

	if (!inet_ntop(t->family == HEALTH_AF_INET6 ? AF_INET6 : AF_INET, t->addr, host, sizeof(host)))
		return -EINVAL;
	/*
	 * HTTP/1.0 so the server closes after one answer, but with Host (RFC 9110
	 * 7.2; an IPv6 literal in brackets, RFC 3986 3.2.2) because virtual hosts
	 * and HTTP/1.1-only servers want it.
	 */
	n = snprintf(buf, size,
		     "GET %s HTTP/1.0\r\nHost: %s%s%s:%u\r\nUser-Agent: keel-health\r\n"
		     "Connection: close\r\n\r\n",
		     t->path, t->family == HEALTH_AF_INET6 ? "[" : "", host,
		     t->family == HEALTH_AF_INET6 ? "]" : "", t->port);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

static int probe_connected(struct health_probe *p, uint64_t now_ns);

int health_probe_start(struct health_probe *p, const struct health_target *t, uint64_t now_ns)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int n;

	probe_close(p);
	memset(&p->verdict, 0, sizeof(p->verdict));
	p->type = t->type;
	p->expect_status = t->expect_status;
	p->started_ns = now_ns;
	p->req_len = p->req_off = p->line_len = p->drained = 0;
	p->phase = HEALTH_PROBE_CONNECTING;

	memset(&ss, 0, sizeof(ss));
	if (t->family == HEALTH_AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(t->port);
		memcpy(&s6->sin6_addr, t->addr, 16);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(t->port);
		memcpy(&s4->sin_addr, t->addr, 4);
		sl = sizeof(*s4);
	}
	if (t->type == HEALTH_HTTP) {
		n = health_probe_format_request(t, p->req, sizeof(p->req));
		if (n < 0) /* health_target_valid() bounds the path, so this is a bug, not the backend */
			return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, -n, now_ns);
		p->req_len = (size_t)n;
	}

	p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (p->fd < 0)
		return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, errno, now_ns);
	if (connect(p->fd, (struct sockaddr *)&ss, sl) == 0)
		return probe_connected(p, now_ns);
	if (errno == EINPROGRESS)
		return probe_wait(p, now_ns);
	return probe_fail(p, errno, now_ns);
}

static int probe_read_status(struct health_probe *p, uint64_t now_ns);
static int probe_drain(struct health_probe *p);

static int probe_send(struct health_probe *p, uint64_t now_ns)
{
	while (p->req_off < p->req_len) {
		/* MSG_NOSIGNAL: a backend that resets must not SIGPIPE keel-control. */
		ssize_t n = send(p->fd, p->req + p->req_off, p->req_len - p->req_off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return probe_wait(p, now_ns);
			return probe_fail(p, errno, now_ns);
		}
		p->req_off += (size_t)n;
	}
	p->phase = HEALTH_PROBE_READING;
	return probe_read_status(p, now_ns);
}

static int probe_connected(struct health_probe *p, uint64_t now_ns)
{
	if (p->type != HEALTH_HTTP)
		return probe_finish(p, HEALTH_RESULT_OK, 0, now_ns);
	p->phase = HEALTH_PROBE_SENDING;
	return probe_send(p, now_ns);
}

static int probe_read_status(struct health_probe *p, uint64_t now_ns)
{
	for (;;) {
		size_t room = sizeof(p->line) - p->line_len;
		uint16_t status = 0;
		ssize_t n;
		int rc;

		if (room == 0) /* no newline in HEALTH_PROBE_LINE_MAX bytes */
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		n = recv(p->fd, p->line + p->line_len, room, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return probe_wait(p, now_ns);
			return probe_fail(p, errno, now_ns);
		}
		if (n == 0) /* closed before a whole status line */
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		p->line_len += (size_t)n;
		rc = health_probe_parse_status(p->line, p->line_len, &status);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		/* The verdict is known now; latency ends here. */
		p->verdict.result = status == p->expect_status ? HEALTH_RESULT_OK : HEALTH_RESULT_BAD_STATUS;
		p->verdict.http_status = status;
		p->verdict.latency_ns = now_ns - p->started_ns;
		p->drained = p->line_len;
		p->phase = HEALTH_PROBE_DRAINING;
		return probe_drain(p);
	}
}

/*
 * Closing with unread bytes in the receive queue makes the kernel send an RST,
 * which shows up in backend logs as an error. Reading the (bounded) rest of
 * the answer lets the HTTP/1.0 server close first and keeps checks polite.
 */
static int probe_drain(struct health_probe *p)
{
	char scratch[1024];

	while (p->drained < HEALTH_PROBE_DRAIN_MAX) {
		ssize_t n = recv(p->fd, scratch, sizeof(scratch), 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (probe_arm(p) == 0)
				return 0;
			break; /* cannot wait: close now, the verdict stands */
		}
		if (n <= 0) /* EOF or reset: the verdict stands */
			break;
		p->drained += (size_t)n;
	}
	probe_close(p);
	p->phase = HEALTH_PROBE_DONE;
	return 1;
}

int health_probe_step(struct health_probe *p, uint64_t now_ns)
{
	int err = 0;
	socklen_t len = sizeof(err);

	switch (p->phase) {
	case HEALTH_PROBE_CONNECTING:
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == EINPROGRESS || err == EALREADY)
			return probe_wait(p, now_ns);
		if (err)
			return probe_fail(p, err, now_ns);
		return probe_connected(p, now_ns);
	case HEALTH_PROBE_SENDING:
		return probe_send(p, now_ns);
	case HEALTH_PROBE_READING:
		return probe_read_status(p, now_ns);
	case HEALTH_PROBE_DRAINING:
		return probe_drain(p);
	case HEALTH_PROBE_IDLE:
	case HEALTH_PROBE_DONE:
		break;
	}
	return 1;
}

void health_probe_timeout(struct health_probe *p, uint64_t now_ns)
{
	if (p->phase == HEALTH_PROBE_DRAINING) { /* verdict already known: keep it */
		probe_close(p);
		p->phase = HEALTH_PROBE_DONE;
		return;
	}
	probe_finish(p, HEALTH_RESULT_TIMEOUT, 0, now_ns);
}

void health_probe_abort(struct health_probe *p)
{
	probe_close(p);
	p->phase = HEALTH_PROBE_IDLE;
}
