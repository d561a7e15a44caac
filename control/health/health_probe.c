/* TCP connect, HTTP/1.0 GET (plain or TLS), UDP and DNS health probes: non-blocking sockets, one verdict per probe. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <resolv.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "health_probe.h"

void health_probe_init(struct health_probe *p, int epfd, void *cookie)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->epfd = epfd;
	p->cookie = cookie;
	p->phase = HEALTH_PROBE_IDLE;
}

/*
 * One client context for every HTTPS probe. Certificates are not verified: a
 * health check asks whether the backend answers, and backends often serve
 * self-signed or internal certificates (documented in docs/config.md).
 */
static SSL_CTX *tls_ctx;

static void tls_ctx_init(void)
{
	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (!tls_ctx)
		return;
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	/* No cache in the context to grow: each target keeps its own last session (probe_close). */
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
}

static SSL_CTX *tls_client_ctx(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, tls_ctx_init);
	return tls_ctx;
}

static void probe_close(struct health_probe *p)
{
	if (p->ssl) {
		/*
		 * Keep the session (with the ticket TLS 1.3 sent after the handshake) for
		 * the next probe of this target: a resumed handshake skips the
		 * certificate and its signature, most of an HTTPS check's CPU.
		 */
		SSL_SESSION *sess = SSL_get1_session((SSL *)p->ssl);

		if (sess && SSL_SESSION_is_resumable(sess)) {
			SSL_SESSION_free((SSL_SESSION *)p->session);
			p->session = sess;
		} else {
			SSL_SESSION_free(sess);
		}
		/* One close_notify attempt, never waited for; the checker thread blocks SIGPIPE. */
		SSL_shutdown(p->ssl);
		SSL_free(p->ssl);
		p->ssl = NULL;
		ERR_clear_error(); /* the error queue is per thread: leave it empty for the next probe */
	}
	p->want = 0;
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
	if (p->ssl && p->want)
		return p->want; /* TLS reads may need a write first (and the reverse) */
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
	if (r != HEALTH_RESULT_BAD_RESPONSE)
		p->verdict.detail = NULL;
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

bool health_probe_status_ok(uint16_t status, uint16_t lo, uint16_t hi)
{
	return status >= lo && status <= (hi ? hi : lo);
}

bool health_probe_udp_ok(const uint8_t *ans, size_t len, const uint8_t *expect, size_t expect_len)
{
	return expect_len == 0 || (len >= expect_len && memmem(ans, len, expect, expect_len));
}

int health_probe_format_request(const struct health_target *t, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t dflt = t->type == HEALTH_HTTPS ? 443 : 80;
	int n;

	if (!inet_ntop(t->family == HEALTH_AF_INET6 ? AF_INET6 : AF_INET, t->addr, host, sizeof(host)))
		return -EINVAL;
	/*
	 * HTTP/1.0 so the server closes after one answer, but with Host (RFC 9110
	 * 7.2; an IPv6 literal in brackets, RFC 3986 3.2.2) because virtual hosts
	 * and HTTP/1.1-only servers want it. A configured host name goes there
	 * instead, with the port only when it is not the scheme's default.
	 */
	if (t->host[0] && t->port == dflt)
		n = snprintf(buf, size,
			     "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: keel-health\r\n"
			     "Connection: close\r\n\r\n", t->path, t->host);
	else if (t->host[0])
		n = snprintf(buf, size,
			     "GET %s HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: keel-health\r\n"
			     "Connection: close\r\n\r\n", t->path, t->host, t->port);
	else
		n = snprintf(buf, size,
			     "GET %s HTTP/1.0\r\nHost: %s%s%s:%u\r\nUser-Agent: keel-health\r\n"
			     "Connection: close\r\n\r\n",
			     t->path, t->family == HEALTH_AF_INET6 ? "[" : "", host,
			     t->family == HEALTH_AF_INET6 ? "]" : "", t->port);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

int health_probe_dns_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t size)
{
	int n;

	if (size < NS_HFIXEDSZ + NS_QFIXEDSZ + 2)
		return -ENOSPC;
	memset(buf, 0, NS_HFIXEDSZ);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 0x01; /* RD: a recursive server answers for names it does not own */
	buf[5] = 1;    /* QDCOUNT */
	/* libresolv's encoder: label lengths, the 63/255 bounds and escapes are its job. */
	n = ns_name_compress(name, buf + NS_HFIXEDSZ, size - NS_HFIXEDSZ - NS_QFIXEDSZ, NULL, NULL);
	if (n < 0)
		return -EINVAL;
	buf += NS_HFIXEDSZ + (size_t)n;
	buf[0] = (uint8_t)(qtype >> 8);
	buf[1] = (uint8_t)qtype;
	buf[2] = 0;
	buf[3] = ns_c_in;
	return NS_HFIXEDSZ + n + NS_QFIXEDSZ;
}

int health_probe_dns_check(const uint8_t *msg, size_t len, uint16_t id, uint16_t qtype,
			   const char **detail)
{
	ns_msg m;
	int an;

	/* libresolv's parser bounds every section against len; -1 on any inconsistency. */
	if (len > 65535 || ns_initparse(msg, (int)len, &m) < 0) {
		*detail = "malformed dns message";
		return -EBADMSG;
	}
	if (ns_msg_id(m) != id || !ns_msg_getflag(m, ns_f_qr) ||
	    ns_msg_getflag(m, ns_f_opcode) != ns_o_query) {
		*detail = "not an answer to the query";
		return -EBADMSG;
	}
	if (ns_msg_getflag(m, ns_f_rcode) != ns_r_noerror) {
		*detail = ns_msg_getflag(m, ns_f_rcode) == ns_r_nxdomain ? "nxdomain" : "dns error rcode";
		return -ENOENT;
	}
	an = ns_msg_count(m, ns_s_an);
	for (int i = 0; i < an; i++) {
		ns_rr rr;

		if (ns_parserr(&m, ns_s_an, i, &rr) < 0) {
			*detail = "malformed dns answer";
			return -EBADMSG;
		}
		if (ns_rr_type(rr) == qtype && ns_rr_class(rr) == ns_c_in)
			return 0; /* CNAMEs before it are fine: the name resolves */
	}
	*detail = "no answer of the type";
	return -ENOENT;
}

static int probe_connected(struct health_probe *p, uint64_t now_ns);

static bool is_dgram(enum health_type type)
{
	return type == HEALTH_UDP || type == HEALTH_DNS;
}

int health_probe_start(struct health_probe *p, const struct health_target *t, uint64_t now_ns)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int n;

	probe_close(p);
	memset(&p->verdict, 0, sizeof(p->verdict));
	p->type = t->type;
	p->expect_status = t->expect_status;
	p->expect_status_max = t->expect_status_max;
	p->qtype = t->qtype;
	p->expect_len = t->expect_len;
	memcpy(p->expect, t->expect, t->expect_len);
	p->started_ns = now_ns;
	p->req_len = p->req_off = p->line_len = p->drained = 0;
	p->phase = HEALTH_PROBE_CONNECTING;
	p->via_tunnel = t->via == HEALTH_VIA_TUNNEL;
	if (p->via_tunnel) {
		/* Sent at once on a raw socket (health_tunnel.c): wait for the answer. */
		int fd = health_tunnel_open(t, p->tunnel, &p->flow, now_ns);

		if (fd < 0)
			p->flow.src_uses = 0;
		/* No CAP_NET_RAW is ours to fix, not the backend's: LOCAL_ERROR keeps its state. */
		if (fd == -EPERM || fd == -EACCES)
			return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, -fd, now_ns);
		if (fd < 0)
			return probe_fail(p, -fd, now_ns);
		p->fd = fd;
		p->phase = HEALTH_PROBE_READING;
		return probe_wait(p, now_ns);
	}

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
	switch (t->type) {
	case HEALTH_HTTP:
	case HEALTH_HTTPS:
		n = health_probe_format_request(t, p->req, sizeof(p->req));
		break;
	case HEALTH_UDP:
		memcpy(p->req, t->payload, t->payload_len);
		n = t->payload_len;
		break;
	case HEALTH_DNS:
		/* The id only has to tell our answer from a stray one: the clock's low bits do. */
		p->dns_id = (uint16_t)(now_ns ^ (now_ns >> 16) ^ (now_ns >> 32));
		n = health_probe_dns_query(t->host, t->qtype, p->dns_id, (uint8_t *)p->req,
					   sizeof(p->req));
		break;
	default:
		n = 0;
		break;
	}
	if (n < 0) /* health_target_valid() bounds what goes in, so this is a bug, not the backend */
		return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, -n, now_ns);
	p->req_len = (size_t)n;
	if (t->type == HEALTH_HTTPS) {
		struct in6_addr literal;
		SSL_CTX *ctx = tls_client_ctx();

		p->ssl = ctx ? SSL_new(ctx) : NULL;
		if (!p->ssl)
			return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, ENOMEM, now_ns);
		/* SNI carries host names only (RFC 6066 3), never an address literal. */
		if (t->host[0] && inet_pton(AF_INET, t->host, &literal) != 1 &&
		    inet_pton(AF_INET6, t->host, &literal) != 1 &&
		    !SSL_set_tlsext_host_name((SSL *)p->ssl, t->host))
			return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, ENOMEM, now_ns);
		if (p->session)
			SSL_set_session((SSL *)p->ssl, (SSL_SESSION *)p->session);
		SSL_set_connect_state((SSL *)p->ssl);
	}

	p->fd = socket(ss.ss_family,
		       (is_dgram(t->type) ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, errno, now_ns);
	if (p->ssl && !SSL_set_fd((SSL *)p->ssl, p->fd))
		return probe_finish(p, HEALTH_RESULT_LOCAL_ERROR, ENOMEM, now_ns);
	/* UDP: connect() only fixes the peer, so that ICMP port unreachable comes back as ECONNREFUSED. */
	if (connect(p->fd, (struct sockaddr *)&ss, sl) == 0)
		return probe_connected(p, now_ns);
	if (errno == EINPROGRESS)
		return probe_wait(p, now_ns);
	return probe_fail(p, errno, now_ns);
}

static int probe_read_status(struct health_probe *p, uint64_t now_ns);
static int probe_drain(struct health_probe *p);
static int probe_dgram_send(struct health_probe *p, uint64_t now_ns);

/*
 * An OpenSSL call returned r <= 0: wait for what it wants (0), or end the probe
 * (1). A TLS failure is the backend's: BAD_RESPONSE "tls".
 */
static int tls_wait_or_fail(struct health_probe *p, int r, uint64_t now_ns)
{
	int e = SSL_get_error((SSL *)p->ssl, r);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		p->want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
		return probe_wait(p, now_ns);
	}
	if (e == SSL_ERROR_SYSCALL && errno && errno != EAGAIN)
		return probe_fail(p, errno, now_ns);
	p->verdict.detail = p->phase == HEALTH_PROBE_HANDSHAKE ? "tls handshake failed" : "tls error";
	return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
}

static int probe_send(struct health_probe *p, uint64_t now_ns)
{
	while (p->req_off < p->req_len) {
		ssize_t n;

		if (p->ssl) {
			int r;

			ERR_clear_error();
			errno = 0; /* SSL_ERROR_SYSCALL reads errno: not a stale one */
			r = SSL_write((SSL *)p->ssl, p->req + p->req_off, (int)(p->req_len - p->req_off));
			if (r <= 0)
				return tls_wait_or_fail(p, r, now_ns);
			p->req_off += (size_t)r;
			continue;
		}
		/* MSG_NOSIGNAL: a backend that resets must not SIGPIPE keel-control. */
		n = send(p->fd, p->req + p->req_off, p->req_len - p->req_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return probe_wait(p, now_ns);
			return probe_fail(p, errno, now_ns);
		}
		p->req_off += (size_t)n;
	}
	p->want = 0;
	p->phase = HEALTH_PROBE_READING;
	return probe_read_status(p, now_ns);
}

static int probe_handshake(struct health_probe *p, uint64_t now_ns)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake((SSL *)p->ssl);
	if (r != 1)
		return tls_wait_or_fail(p, r, now_ns);
	p->want = 0;
	p->phase = HEALTH_PROBE_SENDING;
	return probe_send(p, now_ns);
}

static int probe_connected(struct health_probe *p, uint64_t now_ns)
{
	switch (p->type) {
	case HEALTH_HTTP:
		p->phase = HEALTH_PROBE_SENDING;
		return probe_send(p, now_ns);
	case HEALTH_HTTPS:
		p->phase = HEALTH_PROBE_HANDSHAKE;
		return probe_handshake(p, now_ns);
	case HEALTH_UDP:
	case HEALTH_DNS:
		p->phase = HEALTH_PROBE_SENDING;
		return probe_dgram_send(p, now_ns);
	default:
		return probe_finish(p, HEALTH_RESULT_OK, 0, now_ns);
	}
}

/* Reads into buf: bytes (> 0), 0 at EOF, -1 to wait (the probe is armed), -2 when the probe ended. */
static ssize_t probe_recv(struct health_probe *p, void *buf, size_t size, uint64_t now_ns)
{
	ssize_t n;

	if (p->ssl) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read((SSL *)p->ssl, buf, (int)size);
		if (r > 0)
			return r;
		if (SSL_get_error((SSL *)p->ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0; /* close_notify */
		return tls_wait_or_fail(p, r, now_ns) ? -2 : -1;
	}
	n = recv(p->fd, buf, size, 0);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return probe_wait(p, now_ns) ? -2 : -1;
	probe_fail(p, errno, now_ns);
	return -2;
}

static int probe_read_status(struct health_probe *p, uint64_t now_ns)
{
	for (;;) {
		size_t room = sizeof(p->line) - p->line_len;
		uint16_t status = 0;
		ssize_t n;
		int rc;

		if (room == 0) { /* no newline in HEALTH_PROBE_LINE_MAX bytes */
			p->verdict.detail = "status line too long";
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		}
		n = probe_recv(p, p->line + p->line_len, room, now_ns);
		if (n == -1)
			return 0;
		if (n == -2)
			return 1;
		if (n == 0) { /* closed before a whole status line */
			p->verdict.detail = NULL;
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		}
		p->line_len += (size_t)n;
		rc = health_probe_parse_status(p->line, p->line_len, &status);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		/* The verdict is known now; latency ends here. */
		p->verdict.result = health_probe_status_ok(status, p->expect_status, p->expect_status_max)
					    ? HEALTH_RESULT_OK
					    : HEALTH_RESULT_BAD_STATUS;
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
		ssize_t n;

		if (p->ssl) {
			int r;

			ERR_clear_error();
			errno = 0; /* SSL_ERROR_SYSCALL reads errno: not a stale one */
			r = SSL_read((SSL *)p->ssl, scratch, sizeof(scratch));
			if (r <= 0) {
				int e = SSL_get_error((SSL *)p->ssl, r);

				if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
					break; /* EOF, close_notify or an error: the verdict stands */
				p->want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
				if (probe_arm(p) == 0)
					return 0;
				break;
			}
			p->drained += (size_t)r;
			continue;
		}
		n = recv(p->fd, scratch, sizeof(scratch), 0);
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

/* UDP and DNS: one datagram out... */
static int probe_dgram_send(struct health_probe *p, uint64_t now_ns)
{
	ssize_t n = send(p->fd, p->req, p->req_len, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return probe_wait(p, now_ns);
		return probe_fail(p, errno, now_ns);
	}
	p->phase = HEALTH_PROBE_READING;
	return probe_wait(p, now_ns);
}

/* ...and answers read until one passes, the socket errs, or the deadline. */
static int probe_dgram_read(struct health_probe *p, uint64_t now_ns)
{
	uint8_t buf[HEALTH_PROBE_DGRAM_MAX];

	for (;;) {
		const char *detail = NULL;
		ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
		int rc;

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return probe_wait(p, now_ns);
			return probe_fail(p, errno, now_ns); /* ECONNREFUSED: ICMP port unreachable */
		}
		if (p->type == HEALTH_UDP) {
			if (health_probe_udp_ok(buf, (size_t)n, p->expect, p->expect_len))
				return probe_finish(p, HEALTH_RESULT_OK, 0, now_ns);
			p->verdict.detail = "answer without the expected bytes";
			return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
		}
		rc = health_probe_dns_check(buf, (size_t)n, p->dns_id, p->qtype, &detail);
		if (rc == 0)
			return probe_finish(p, HEALTH_RESULT_OK, 0, now_ns);
		if (rc == -EBADMSG && n >= 2 && ((buf[0] << 8) | buf[1]) != p->dns_id)
			continue; /* a late answer to an earlier probe's query: not ours, keep waiting */
		p->verdict.detail = detail;
		return probe_finish(p, HEALTH_RESULT_BAD_RESPONSE, 0, now_ns);
	}
}

/* A tunnel probe's raw socket is readable: SYN-ACK up, RST refused, else wait for the deadline. */
static int probe_tunnel_read(struct health_probe *p, uint64_t now_ns)
{
	int r = health_tunnel_recv(p->fd, &p->flow);

	if (r == 1)
		return probe_finish(p, HEALTH_RESULT_OK, 0, now_ns);
	p->flow.src_uses = 0; /* not passed: the next probe asks the routing table again */
	if (r == 2)
		return probe_finish(p, HEALTH_RESULT_REFUSED, 0, now_ns);
	if (r < 0)
		return probe_fail(p, -r, now_ns);
	return probe_wait(p, now_ns);
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
	case HEALTH_PROBE_HANDSHAKE:
		return probe_handshake(p, now_ns);
	case HEALTH_PROBE_SENDING:
		return is_dgram(p->type) ? probe_dgram_send(p, now_ns) : probe_send(p, now_ns);
	case HEALTH_PROBE_READING:
		if (p->via_tunnel)
			return probe_tunnel_read(p, now_ns);
		return is_dgram(p->type) ? probe_dgram_read(p, now_ns) : probe_read_status(p, now_ns);
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
	p->flow.src_uses = 0; /* a tunnel probe's source is looked up again after a failure */
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
	SSL_SESSION_free((SSL_SESSION *)p->session); /* the target goes away */
	p->session = NULL;
	p->phase = HEALTH_PROBE_IDLE;
}
