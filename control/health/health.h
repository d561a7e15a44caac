/* Health checks of keel-control: one checker thread probes every backend and keeps its UP/DOWN state. */
#ifndef KEEL_CONTROL_HEALTH_H
#define KEEL_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Usage from keel-control's main loop:
 *
 *   h = health_create();
 *   health_set_targets(h, targets, n);        on start and on every config change
 *   poll(health_event_fd(h)) or compare health_generation(h) with the last seen value;
 *   when it moved: health_get() each backend and rebuild the snapshot.
 *
 * This module only probes. The panic threshold (keep a VIP's backends when too
 * many are down) belongs to the publisher, which sees every VIP's backends at once.
 *
 * Routing rule for new targets: a target that has never been probed is in state
 * HEALTH_STATE_UNKNOWN and counts as routable (health_status_routable()), so a
 * backend added by the operator takes traffic at once instead of waiting for
 * `rise` successes. It turns DOWN after `fall` consecutive failures, or UP on its
 * first success (it is already routed, so waiting for `rise` would change nothing).
 * From DOWN it needs `rise` consecutive successes; from UP, `fall` failures.
 */

#define HEALTH_AF_INET4 4        /* same values as KEEL_AF_INET4/6 in the packet core */
#define HEALTH_AF_INET6 6
#define HEALTH_PATH_MAX 256      /* NUL included; equals CONFIG_HTTP_PATH_MAX in config_model.h */
#define HEALTH_TEXT_MAX 64       /* health_status.last_text, NUL included */
#define HEALTH_TARGETS_MAX 16384 /* distinct targets: CONFIG_MAX_BACKENDS; bounds memory and fds */
#define HEALTH_HOST_MAX 254      /* a DNS name (253) with its NUL: Host/SNI, or the DNS query name */
#define HEALTH_PAYLOAD_MAX 256   /* UDP: bytes sent, and the expected answer's bytes */

enum health_type {
	HEALTH_NONE = 0, /* never probed, always UP */
	HEALTH_TCP = 1,  /* connect() completes within timeout_ms */
	HEALTH_HTTP = 2, /* HTTP/1.0 GET path answers expect_status within timeout_ms */
	HEALTH_HTTPS = 3, /* the same over TLS (OpenSSL; the certificate is not verified) */
	HEALTH_UDP = 4,   /* a datagram of payload gets an answer holding expect within timeout_ms */
	HEALTH_DNS = 5,   /* a query for host / qtype (class IN) gets an answer of that type */
};

/*
 * One check of one backend. Two targets are the same target when every field is
 * equal (path compared up to its NUL): one probe then serves every VIP that shares
 * it, and its state survives health_set_targets(). Changing any field (say the
 * interval) makes a new target that starts UNKNOWN.
 */
struct health_target {
	uint8_t family;       /* HEALTH_AF_INET4 or HEALTH_AF_INET6 */
	uint8_t addr[16];     /* IPv4 in the first 4 bytes; network byte order */
	uint16_t port;        /* host byte order, 1..65535 */
	enum health_type type;
	char path[HEALTH_PATH_MAX]; /* HTTP(S): "/..." of visible ASCII (RFC 9112 3.2); else ignored */
	uint16_t expect_status;     /* HTTP(S): 100..599, the lowest status that passes; else ignored */
	uint16_t expect_status_max; /* HTTP(S): the highest that passes, >= expect_status; 0: = expect_status */
	/*
	 * HTTP(S): the Host header and, for HTTPS, the TLS server name (SNI; not sent
	 * for an address literal, RFC 6066 3); "" means the target's address.
	 * DNS: the name queried (required). A DNS name: letters, digits, '-', '_', '.'.
	 */
	char host[HEALTH_HOST_MAX];
	uint16_t qtype;             /* DNS: the query type (1 A, 28 AAAA, ...); else ignored */
	uint16_t payload_len;       /* UDP: bytes of payload sent, 1..HEALTH_PAYLOAD_MAX */
	uint16_t expect_len;        /* UDP: bytes of expect; 0: any answer passes */
	uint8_t payload[HEALTH_PAYLOAD_MAX];
	uint8_t expect[HEALTH_PAYLOAD_MAX]; /* UDP: the answer must contain these bytes */
	uint32_t interval_ms;       /* between probe starts, >= 1 */
	uint32_t timeout_ms;        /* 1..interval_ms */
	uint8_t rise;               /* consecutive successes DOWN -> UP, >= 1 */
	uint8_t fall;               /* consecutive failures -> DOWN, >= 1 */
	/*
	 * HEALTH_VIA_TUNNEL (health_tunnel.h): the probe is a SYN to vip:port
	 * encapsulated (encap) to addr as the dataplane sends it. TCP and IPv4
	 * only; vip and encap are zero for HEALTH_VIA_DIRECT.
	 */
	uint8_t via;
	uint8_t encap;              /* KEEL_ENCAP_IPIP (0) or KEEL_ENCAP_GUE (1) */
	uint8_t vip[16];            /* IPv4 in the first 4 bytes */
};

#define HEALTH_VIA_DIRECT 0 /* to the backend's (or the check's) address and port, from this host */
#define HEALTH_VIA_TUNNEL 1 /* through Keel's encapsulation to the VIP, as clients' packets go */

enum health_state {
	HEALTH_STATE_UNKNOWN = 0, /* not proven either way yet; routable */
	HEALTH_STATE_UP = 1,
	HEALTH_STATE_DOWN = 2,
};

enum health_result {
	HEALTH_RESULT_NONE = 0,     /* no probe finished yet */
	HEALTH_RESULT_OK,
	HEALTH_RESULT_REFUSED,      /* RST to our SYN */
	HEALTH_RESULT_TIMEOUT,      /* no verdict within timeout_ms */
	HEALTH_RESULT_BAD_STATUS,   /* HTTP status outside the expected range; see last_http_status */
	HEALTH_RESULT_BAD_RESPONSE, /* not an HTTP status line, closed before one, TLS failed,
				     * a UDP answer without expect, a DNS answer that is not one */
	HEALTH_RESULT_ERROR,        /* other network error; see last_errno */
	HEALTH_RESULT_LOCAL_ERROR,  /* we could not probe (e.g. EMFILE); not counted against the backend */
};

/*
 * Upper bounds (microseconds) of the check-duration histogram's buckets
 * (Prometheus' le, cumulative when exported); a last, implicit bucket holds
 * the longer ones (+Inf).
 */
#define HEALTH_LATENCY_BUCKETS 9
extern const uint32_t health_latency_bounds_us[HEALTH_LATENCY_BUCKETS];

struct health_status {
	enum health_state state;
	enum health_result last_result;
	uint16_t last_http_status;     /* HTTP status of the last answer, 0 if none */
	int last_errno;                /* for ERROR and LOCAL_ERROR, else 0 */
	char last_text[HEALTH_TEXT_MAX]; /* "ok", "refused", "timeout", "bad status 503", "error: ..." */
	uint32_t last_latency_us;      /* probe start to verdict (HTTP: to the status line) */
	uint32_t consecutive_ok;
	uint32_t consecutive_fail;
	uint64_t checks;               /* probes finished (LOCAL_ERROR not included) */
	uint64_t last_check_ms;        /* CLOCK_REALTIME of the last finished probe, 0 if none */
	uint64_t last_change_ms;       /* CLOCK_REALTIME of the last state change (or of creation) */
	uint64_t went_down;            /* routable -> DOWN transitions (UNKNOWN/UP -> DOWN) */
	uint64_t came_up;              /* DOWN -> UP transitions */
	/* Check durations of the counted probes (checks): per bucket (not cumulative), and their sum. */
	uint64_t latency_hist[HEALTH_LATENCY_BUCKETS + 1];
	uint64_t latency_sum_us;
};

static inline bool health_status_routable(const struct health_status *s)
{
	return s->state != HEALTH_STATE_DOWN;
}

struct health;

/* Starts the checker thread. NULL and errno on failure. */
struct health *health_create(void);

/*
 * Probes in flight hold one socket each, so their number is bounded by a budget
 * taken from the open-file limit (RLIMIT_NOFILE's soft limit, read once at
 * health_create()): the limit less a reserve of HEALTH_FD_RESERVE or a quarter
 * of it, whichever is more, for the API's and /metrics' connections, the BIRD
 * socket, netlink, state files and the dataplane's region. Probes that are due
 * while the budget is spent wait in due order and start as probes finish, so
 * every target is still checked, later. A check that starts more than a
 * quarter of its interval (and at least 100 ms) after it was due is late: counted, shown by
 * health_stats() and logged at most once a minute ("health_behind_schedule").
 * With every target timing out the checker needs about
 * sum(timeout / interval) sockets to keep the schedule.
 */
#define HEALTH_FD_RESERVE 256

/* The budget for an open-file limit of nofile (RLIM_INFINITY counts as 2^20): 1..HEALTH_TARGETS_MAX. */
uint32_t health_budget_for_limit(uint64_t nofile);

/* As health_create(), with at most max_in_flight probes at once (0: from the open-file limit). */
struct health *health_create_budget(uint32_t max_in_flight);

struct health_stats {
	uint32_t targets;          /* distinct targets that are probed (type != NONE) */
	uint32_t budget;           /* probes allowed in flight at once */
	uint32_t in_flight;        /* probes in flight now */
	uint32_t waiting;          /* probes due now that wait for the budget */
	uint64_t lag_ms;           /* how long the longest-waiting due probe has waited, 0 if none */
	uint64_t started_total;    /* probes started */
	uint64_t late_total;       /* of those, started late (see above) */
	uint64_t deferred_total;   /* starts put off because a socket could not be opened (EMFILE...) */
	bool behind;               /* a check was late in the last 10 s, or one waits late now */
};

/* The checker's figures now. */
void health_stats(struct health *h, struct health_stats *out);

struct health_tunnel_conf;

/*
 * The dataplane's encapsulation parameters (outer source prefix, TTL, GUE
 * port, MTU) tunnel probes are built with; copied. Until it is called they
 * are 0.0.0.0/32 (the kernel picks the outer source), TTL 64, GUE 6080, MTU 1500.
 */
void health_set_tunnel(struct health *h, const struct health_tunnel_conf *conf);

/* Stops the checker thread, closes every probe, frees everything. NULL is fine. */
void health_destroy(struct health *h);

/*
 * Replaces the set of targets. Duplicates collapse into one probe; targets equal
 * to one already known keep their state and schedule; new ones start UNKNOWN with
 * their first probe at a random point of their first interval (so a thousand
 * backends added at once are not probed in the same millisecond). Returns 0,
 * -EINVAL (a target is invalid, nothing changed), -E2BIG (more than
 * HEALTH_TARGETS_MAX distinct targets) or -ENOMEM (nothing changed).
 * Not meant for concurrent callers: keel-control calls it from its main loop.
 */
int health_set_targets(struct health *h, const struct health_target *t, uint32_t n);

/* Copies the status of the target equal to *t. 0, or -ENOENT if it is not in the set. */
int health_get(struct health *h, const struct health_target *t, struct health_status *out);

/* Number of distinct targets (probes) in the set. */
uint32_t health_count(struct health *h);

/*
 * Bumped each time a target becomes routable or stops being routable
 * (UNKNOWN/UP <-> DOWN); UNKNOWN -> UP changes nothing for routing and does not
 * bump it. Lock-free: meant to be polled from the main loop.
 */
uint64_t health_generation(struct health *h);

/*
 * An eventfd (non-blocking, CLOEXEC, owned by h) that becomes readable when
 * health_generation() moves. The caller read()s it to clear it, then compares
 * generations; a missed or merged wakeup loses nothing.
 */
int health_event_fd(struct health *h);

bool health_target_valid(const struct health_target *t);
const char *health_state_name(enum health_state s);
const char *health_result_name(enum health_result r);

#endif /* KEEL_CONTROL_HEALTH_H */
