/* What the health tests (test_health*.c) share: loopback servers, targets, bounded waits. */
#ifndef KEEL_TEST_HEALTHFIX_H
#define KEEL_TEST_HEALTHFIX_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "health.h"

/*
 * Timing: probes run every 50 ms (100 ms where a test counts single checks, so
 * a poll every millisecond cannot miss one), timeouts 40 ms, and every wait is
 * bounded by WAIT_MS, so the whole program stays within a few seconds.
 */
#define WAIT_MS 3000

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

/* The loopback address of fam (HEALTH_AF_INET4/6) into addr. */
void healthfix_loopback(int fam, uint8_t addr[16]);
/* A socket bound to a free loopback port (into *port), not listening yet; -1 where fam has none. */
int healthfix_bound_socket(int fam, uint16_t *port);
/* Starts serving on lfd (bound, maybe not yet listening). */
void healthfix_server_start_fd(struct server *s, int fam, int lfd, uint16_t port,
				  enum srv_mode mode);
/* false when the family is not available (IPv6 disabled) */
bool healthfix_server_start(struct server *s, int fam, enum srv_mode mode);
void healthfix_server_stop(struct server *s);

/* A TCP check of the loopback port: every 50 ms, timeout 40 ms, rise 2, fall 3. */
struct health_target healthfix_tcp_target(int fam, uint16_t port);
/* The same as an HTTP check of path, expecting status expect. */
struct health_target healthfix_http_target(int fam, uint16_t port, const char *path,
					      uint16_t expect);
void healthfix_sleep_ms(unsigned ms);

enum wait_what { WAIT_CHECKS, WAIT_STATE, WAIT_OK_RUN };

/* Polls every millisecond (no busy loop) until the status satisfies what >= / == v. */
struct health_status healthfix_wait_for(struct health *h, const struct health_target *t,
					   enum wait_what what, uint64_t v);
/* Whether health_event_fd() is readable; clears it for the next check. */
bool healthfix_event_fd_readable(struct health *h);

#endif
