/* Admission and request deadlines for the HTTP servers' connections: per-client caps, a reserve, slow clients cut off. */
#ifndef KEEL_CONTROL_CONN_GATE_H
#define KEEL_CONTROL_CONN_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * libmicrohttpd bounds the number of connections and how long one may sit
 * idle, but a client that sends one header byte a second is never idle: 64
 * of them held every slot of the API (root included) and 16 every slot of
 * /metrics. The gate is called from MHD's connection notifications
 * (api.c, metrics_http.c) and decides, per connection:
 *
 *  - admission: a client other than a privileged one (root or the admin
 *    group on the API) has at most per_client connections, and all of them
 *    together at most max - reserved; privileged clients may use all max.
 *    When a cap is reached, the oldest connection that has not yet sent its
 *    whole request (of that client for the per-client cap, of the
 *    unprivileged ones first otherwise) is closed to make room: a client
 *    that sends its request at once (keelctl, curl, Prometheus) is never
 *    the oldest one waiting, slow ones give way. With nothing to close, the
 *    newcomer is refused: 503 and closed.
 *  - a deadline: a request (line, headers, body) must have arrived within
 *    request_ms of the connection's accept, or of the end of the previous
 *    answer on a kept-alive connection; past it the connection gets 408 and
 *    is closed. A request being handled or answered has no deadline here.
 *
 * Closing is shutdown(2) of the socket after a short answer written with
 * MSG_DONTWAIT: MHD sees the end of the stream and closes the connection
 * itself. The socket stays ours to shut down until conn_gate_release (MHD's
 * "closed" notification comes before it closes the descriptor).
 *
 * Refusals and cut-offs are logged at most once a second per gate and
 * reason, with the number left out since the last line.
 */

struct conn_gate_limits {
	unsigned int max;        /* connections handled at once */
	unsigned int per_client; /* most of one unprivileged client; 0: no such cap */
	unsigned int reserved;   /* of max, for privileged clients only */
	unsigned int request_ms; /* deadline of a request's arrival; 0: none */
	bool json;               /* answers as {"error": ...} (else text/plain) */
};

/* Who a connection comes from: an id to count by (a uid, an address) and its label for logs. */
struct conn_gate_client {
	uint8_t id[20];
	bool privileged;
	char label[64];
};

struct conn_gate;
struct conn_gate_slot;

/*
 * A gate for one server named name ("api", "metrics": the log events are
 * NAME_connection_refused, NAME_connection_closed, NAME_request_timeout). Its slot table holds
 * conn_gate_capacity() connections (the MHD connection limit to set, so that
 * every connection MHD keeps has a slot, closed ones included until MHD
 * notices). watchdog: a thread that applies the deadline every 250 ms (the
 * unit tests call conn_gate_expire themselves). NULL with errno.
 */
struct conn_gate *conn_gate_new(const char *name, const struct conn_gate_limits *l, bool watchdog);
/* Stop the watchdog and free; call after MHD_stop_daemon (every slot released). NULL is fine. */
void conn_gate_free(struct conn_gate *g);
unsigned int conn_gate_capacity(const struct conn_gate *g);

/*
 * A new connection on fd: its slot, or NULL when it was refused (then it has
 * been answered 503 and shut down: the server must drop whatever request
 * comes on it).
 */
struct conn_gate_slot *conn_gate_admit(struct conn_gate *g, int fd, const struct conn_gate_client *c,
				       uint64_t now_ms);

/* The request is all in (or answered early): no deadline until conn_gate_idle. False when the gate closed it. */
bool conn_gate_busy(struct conn_gate *g, struct conn_gate_slot *s);
/* The answer is done; the connection may carry another request, which has request_ms from now. */
void conn_gate_idle(struct conn_gate *g, struct conn_gate_slot *s, uint64_t now_ms);
/* False once the gate has closed the connection (the server drops it). */
bool conn_gate_open(struct conn_gate *g, const struct conn_gate_slot *s);
/* MHD closed it: the slot is free. NULL is fine. */
void conn_gate_release(struct conn_gate *g, struct conn_gate_slot *s);

/* Close every connection whose request is past its deadline; how many. */
unsigned int conn_gate_expire(struct conn_gate *g, uint64_t now_ms);

/* Connections counted now (admitted and neither closed by the gate nor released). */
unsigned int conn_gate_count(struct conn_gate *g);

/* Monotonic milliseconds, the clock the gate's callers pass. */
uint64_t conn_gate_now_ms(void);

/*
 * A log line at most once per interval: true when this one may be written,
 * with *left_out the number suppressed since the last one. Thread-safe.
 */
struct log_limit {
	uint64_t last_ms;
	unsigned long left_out;
	bool used;
};
bool log_limit_ok(struct log_limit *l, uint64_t now_ms, uint64_t interval_ms, unsigned long *left_out);

#endif
