/* One health probe (TCP connect, HTTP/1.0 GET over TCP or TLS, UDP exchange, DNS query) as a non-blocking state machine driven by epoll. */
#ifndef KEEL_CONTROL_HEALTH_PROBE_H
#define KEEL_CONTROL_HEALTH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "health.h"
#include "health_tunnel.h"

/*
 * A probe owns its socket and that socket's registration in the caller's epoll
 * set: it adds the socket with the caller's cookie as epoll data, changes the
 * events it waits for as its phase moves, and removes the socket from the set
 * before closing it. Removing explicitly (not relying on close()) matters: if
 * the process forks while a probe is open, the child's copy of the descriptor
 * would otherwise keep the registration, and a stale cookie, alive.
 *
 * The caller (health_checker.c) calls health_probe_step() on every event with the
 * cookie and health_probe_timeout() at the deadline. A probe never blocks and
 * never sleeps; it is single-threaded (the caller's lock covers it).
 */

/* "GET path HTTP/1.0" + Host + fixed headers; also a UDP payload or a DNS query (12 + 255 + 4) */
#define HEALTH_PROBE_REQ_MAX (HEALTH_PATH_MAX + HEALTH_HOST_MAX + 128)
#define HEALTH_PROBE_DGRAM_MAX 4096 /* a UDP or DNS answer read; longer ones are cut here */
#define HEALTH_PROBE_LINE_MAX 256   /* a status line longer than this is a bad response */
#define HEALTH_PROBE_DRAIN_MAX 4096 /* bytes read after the status line before we close anyway */

enum health_probe_phase {
	HEALTH_PROBE_IDLE = 0,   /* no socket */
	HEALTH_PROBE_CONNECTING, /* waiting for EPOLLOUT, then SO_ERROR */
	HEALTH_PROBE_HANDSHAKE,  /* HTTPS: TLS handshake, waiting for what OpenSSL wants */
	HEALTH_PROBE_SENDING,    /* HTTP: request partly written; UDP/DNS: datagram not sent yet */
	HEALTH_PROBE_READING,    /* HTTP: waiting for the status line; UDP/DNS: for the answer */
	HEALTH_PROBE_DRAINING,   /* HTTP: verdict known, reading the rest until EOF or the bound */
	HEALTH_PROBE_DONE,       /* verdict set, socket closed */
};

struct health_probe_verdict {
	enum health_result result;
	uint16_t http_status; /* the status code received, 0 if none */
	int err;              /* errno for ERROR / LOCAL_ERROR */
	uint64_t latency_ns;  /* start to verdict */
	const char *detail;   /* BAD_RESPONSE: a static text saying what was wrong, or NULL */
};

struct health_probe {
	int fd;         /* -1 unless the phase is CONNECTING..DRAINING */
	int epfd;       /* the caller's epoll set */
	void *cookie;   /* epoll_event.data.ptr for fd */
	uint32_t armed; /* events fd is registered for, 0 if not registered */
	enum health_probe_phase phase;
	enum health_type type;
	uint16_t expect_status, expect_status_max; /* HTTP(S): the passing range */
	uint16_t qtype, dns_id;                    /* DNS: what was asked */
	uint16_t expect_len;                       /* UDP */
	uint32_t want;       /* HTTPS: the epoll event OpenSSL waits for, 0 when none */
	void *ssl;           /* HTTPS: the OpenSSL connection (SSL *), NULL otherwise */
	void *session;       /* HTTPS: the last resumable session (SSL_SESSION *), kept across probes */
	uint64_t started_ns; /* CLOCK_MONOTONIC */
	const struct health_tunnel_conf *tunnel; /* via tunnel: the checker's parameters */
	struct health_tunnel_flow flow;          /* via tunnel: the probe in flight */
	bool via_tunnel;                         /* this probe is a tunnel probe (fd is raw) */
	struct health_probe_verdict verdict; /* valid once the phase is DRAINING or DONE */
	size_t req_len, req_off;
	size_t line_len, drained;
	char req[HEALTH_PROBE_REQ_MAX];
	char line[HEALTH_PROBE_LINE_MAX];
	uint8_t expect[HEALTH_PAYLOAD_MAX]; /* UDP: bytes the answer must hold */
};

/* Sets p idle; events for its socket will go to epfd with data.ptr = cookie. */
void health_probe_init(struct health_probe *p, int epfd, void *cookie);

/*
 * Opens a non-blocking socket and starts connecting. Returns 1 when the
 * verdict is already known (refused at once, local error), 0 when the probe
 * now waits for events in the epoll set.
 */
int health_probe_start(struct health_probe *p, const struct health_target *t, uint64_t now_ns);

/* Advances on an epoll event for p. 1: done (verdict set, socket closed); 0: wait more. */
int health_probe_step(struct health_probe *p, uint64_t now_ns);

/* The deadline passed: TIMEOUT unless the verdict was already known; closes the socket. */
void health_probe_timeout(struct health_probe *p, uint64_t now_ns);

/* Closes the socket without a verdict and drops any kept TLS session (the target went away). */
void health_probe_abort(struct health_probe *p);

static inline int health_probe_in_flight(const struct health_probe *p)
{
	return p->fd >= 0;
}

/*
 * Parses an HTTP status line at the start of buf (RFC 9112 section 4:
 * HTTP-version SP 3DIGIT SP [reason] CRLF). 0 and *status when complete,
 * -EAGAIN when more bytes are needed, -EBADMSG when it cannot be one.
 */
int health_probe_parse_status(const char *buf, size_t len, uint16_t *status);

/* Writes "GET path HTTP/1.0" with a Host header for t into buf. Length, or -ENOSPC. */
int health_probe_format_request(const struct health_target *t, char *buf, size_t size);

/* Whether an HTTP status passes t's expected range. */
bool health_probe_status_ok(uint16_t status, uint16_t lo, uint16_t hi);

/* Writes a DNS query (RFC 1035 4.1, RD set, class IN) for name/qtype with id into buf. Length, or -errno. */
int health_probe_dns_query(const char *name, uint16_t qtype, uint16_t id, uint8_t *buf, size_t size);

/*
 * Checks a DNS answer to the query with id and qtype (RFC 1035 4.1): 0 when it
 * is a response to it with RCODE NOERROR and at least one answer record of
 * qtype; -EBADMSG (not a well-formed response to our query) or -ENOENT (no
 * such record: NXDOMAIN, an error RCODE, or no answer of the type), with
 * *detail set to a static text.
 */
int health_probe_dns_check(const uint8_t *msg, size_t len, uint16_t id, uint16_t qtype,
			   const char **detail);

/* Whether a UDP answer passes: it contains expect (any answer when expect_len is 0). */
bool health_probe_udp_ok(const uint8_t *ans, size_t len, const uint8_t *expect, size_t expect_len);

#endif /* KEEL_CONTROL_HEALTH_PROBE_H */
