/*
 * The contract between keel-control and keelctl: routes, limits, requests,
 * answers and errors of the management API (docs/api.md), written once. The
 * server matches paths and decodes requests with it; keelctl builds paths,
 * encodes requests and reads answers with the same tables, so a path, a
 * field name or a limit cannot drift between the two. Depends on jansson only.
 */
#ifndef KEEL_API_H
#define KEEL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <arpa/inet.h>
#include <jansson.h>

/* ---- limits ---------------------------------------------------------- */

#define KEEL_API_PREFIX "/v1"
#define KEEL_API_DEFAULT_SOCKET "/run/keel/control.sock"
#define KEEL_API_WEIGHT_LIMIT 65535    /* a backend's weight: 0..this (config, API, keelctl) */
#define KEEL_API_WEIGHT_MAX ((uint32_t)KEEL_API_WEIGHT_LIMIT)
#define KEEL_API_STR_(x) #x
#define KEEL_API_STR(x) KEEL_API_STR_(x)
#define KEEL_API_WEIGHT_RANGE "0.." KEEL_API_STR(KEEL_API_WEIGHT_LIMIT) /* for help texts */
#define KEEL_API_WEIGHT_DEFAULT 1u     /* when an add names none (docs/config.md) */
#define KEEL_API_BODY_EDIT_MAX (64u * 1024)  /* JSON edits of one backend, drains, traces */
#define KEEL_API_BODY_CONFIG_MAX (16u << 20) /* whole configurations (= CONFIG_MAX_FILE_BYTES) */
#define KEEL_API_NAME_MAX 64           /* VIP names, NUL included (= CONFIG_NAME_MAX) */
#define KEEL_API_PATH_SEGMENTS_MAX 8
#define KEEL_API_SEGMENT_MAX 256       /* raw bytes of one path segment */
#define KEEL_API_PATH_MAX 1024         /* a built path with its query */
#define KEEL_API_DRAIN_WAIT_MAX_MS 600000u /* host drain's "wait": 10 min at most */

/* Is v a weight? The one range check of it (config schema, API body, keelctl). */
static inline bool keel_api_weight_ok(long long v)
{
	return v >= 0 && v <= (long long)KEEL_API_WEIGHT_MAX;
}

/* ---- routes ---------------------------------------------------------- */

enum keel_api_method { KEEL_API_GET, KEEL_API_POST, KEEL_API_PUT, KEEL_API_DELETE };
enum keel_api_access { KEEL_API_READ, KEEL_API_ADMIN }; /* ADMIN: changes something (docs/api.md, Access) */
enum keel_api_body { KEEL_API_BODY_NONE, KEEL_API_BODY_EDIT, KEEL_API_BODY_CONFIG };

/*
 * One row per resource of docs/api.md: X(name, method, pattern, access, body).
 * A pattern is under KEEL_API_PREFIX; {vip} is one segment holding a VIP
 * name, {addr} one holding a backend address. Rows of the same pattern
 * (/trace) are matched by method; a pattern's first row names the method a
 * 405 offers. Adding a route is adding a row (and its handler).
 */
#define KEEL_API_ROUTES(X)                                                                         \
	X(STATUS, GET, "/status", READ, NONE)                                                      \
	X(CONFIG, GET, "/config", READ, NONE)                                                      \
	X(CONFIG_CHECK, POST, "/config/check", READ, CONFIG)                                       \
	X(CONFIG_DIFF, POST, "/config/diff", READ, CONFIG)                                         \
	X(CONFIG_APPLY, POST, "/config/apply", ADMIN, CONFIG)                                      \
	X(VIPS, GET, "/vips", READ, NONE)                                                          \
	X(VIP, GET, "/vips/{vip}", READ, NONE)                                                     \
	X(VIP_TABLE, GET, "/vips/{vip}/table", READ, NONE)                                         \
	X(BACKEND_ADD, POST, "/vips/{vip}/backends", ADMIN, EDIT)                                  \
	X(BACKEND_DEL, DELETE, "/vips/{vip}/backends/{addr}", ADMIN, NONE)                         \
	X(BACKEND_WEIGHT, PUT, "/vips/{vip}/backends/{addr}/weight", ADMIN, EDIT)                  \
	X(BACKEND_DRAIN, POST, "/vips/{vip}/backends/{addr}/drain", ADMIN, EDIT)                   \
	X(BACKEND_UNDRAIN, POST, "/vips/{vip}/backends/{addr}/undrain", ADMIN, EDIT)               \
	X(BACKEND_DISABLE, POST, "/vips/{vip}/backends/{addr}/disable", ADMIN, EDIT)               \
	X(BACKEND_FLUSH, POST, "/vips/{vip}/backends/{addr}/flush", ADMIN, EDIT)                   \
	X(HEALTH, GET, "/health", READ, NONE)                                                      \
	X(STATS, GET, "/stats", READ, NONE)                                                        \
	X(LOOKUP, GET, "/lookup", READ, NONE)                                                      \
	X(BGP, GET, "/bgp", READ, NONE)                                                            \
	X(HOST_DRAIN, POST, "/host/drain", ADMIN, EDIT)                                            \
	X(HOST_UNDRAIN, POST, "/host/undrain", ADMIN, EDIT)                                        \
	X(TABLE_DIGEST, GET, "/table/digest", READ, NONE)                                          \
	X(FLEET, GET, "/fleet", READ, NONE)                                                        \
	X(FLEET_HEALTH, GET, "/fleet/health", READ, NONE)                                          \
	X(FLEET_FORGET, DELETE, "/fleet/hosts/{vip}", ADMIN, EDIT) /* {vip}: a host name */        \
	X(BACKEND_DRAIN_ALL, POST, "/backends/{addr}/drain", ADMIN, EDIT)                          \
	X(BACKEND_UNDRAIN_ALL, POST, "/backends/{addr}/undrain", ADMIN, EDIT)                      \
	X(TRACE, GET, "/trace", READ, NONE)                                                        \
	X(TRACE_ARM, POST, "/trace", ADMIN, EDIT)                                                  \
	X(TRACE_STOP, DELETE, "/trace", ADMIN, EDIT)                                               \
	X(HISTORY, GET, "/history", READ, NONE)

enum keel_api_route {
	KEEL_API_ROUTE_NONE = 0,
#define KEEL_API_ROUTE_ENUM(name, method, pattern, access, body) KEEL_API_ROUTE_##name,
	KEEL_API_ROUTES(KEEL_API_ROUTE_ENUM)
#undef KEEL_API_ROUTE_ENUM
	KEEL_API_ROUTE_COUNT,
};

struct keel_api_route_def {
	enum keel_api_method method;
	const char *pattern; /* with KEEL_API_PREFIX */
	enum keel_api_access access;
	enum keel_api_body body;
};

/* The row of a route (NULL for NONE or out of range). */
const struct keel_api_route_def *keel_api_route(enum keel_api_route r);
const char *keel_api_method_name(enum keel_api_method m); /* "GET" */
/* Does the route change anything (needs the admin role)? */
bool keel_api_route_mutates(enum keel_api_route r);
/* Largest body the route takes (0: none). */
size_t keel_api_route_body_limit(enum keel_api_route r);

/* An address, parsed once at the edge: its bytes, and their canonical text (inet_ntop). */
struct keel_api_addr {
	int family; /* AF_INET or AF_INET6; 0: none */
	uint8_t bytes[16];
	char text[INET6_ADDRSTRLEN];
};

/* text (already %-decoded) into a; 0 or -EINVAL. */
int keel_api_addr_parse(const char *text, struct keel_api_addr *a);
/* a from family and bytes (text filled); 0 or -EINVAL. */
int keel_api_addr_set(struct keel_api_addr *a, int family, const uint8_t *bytes);

/* A VIP name as the configuration takes it (docs/config.md): [A-Za-z0-9][A-Za-z0-9_.-]*, < KEEL_API_NAME_MAX. */
bool keel_api_name_ok(const char *s);

/* Decode %XX in place. -EINVAL on a bad escape or a decoded NUL. */
int keel_api_decode(char *s);
/* One hex digit's value, or -1 (keel_api_decode's, and the access log's path decoding). */
int keel_api_hexval(char c);
/* %-encode everything but RFC 3986 unreserved characters. 0, or -ENAMETOOLONG. */
int keel_api_escape(char *out, size_t n, const char *s);

/* A matched request target: the route and its path parameters, decoded. */
struct keel_api_target {
	enum keel_api_route route;
	char vip[KEEL_API_NAME_MAX];
	struct keel_api_addr addr; /* family 0 when the route has no {addr} */
};

/*
 * The server's side: method and raw path (still %-encoded; cut at '/'
 * before decoding, so %2F makes no segment) to a route. 0, or
 *   -ENOENT      no such resource (404): unknown path, or a VIP name that no
 *                configuration could hold;
 *   -EINVAL      malformed path or backend address (400);
 *   -EOPNOTSUPP  the resource exists but not with this method (405), *allow
 *                gets the value of the Allow header.
 * why (when not NULL) gets the reason.
 */
int keel_api_match(const char *method, const char *path, struct keel_api_target *t,
		   const char **allow, char *why, size_t whylen);

struct keel_api_query;
/*
 * keelctl's side: the path of route r, its {vip} and {addr} filled in
 * (%-encoded) and q's parameters as its query (q may be NULL). 0, -EINVAL
 * (a parameter the route needs is missing), -ENAMETOOLONG.
 */
int keel_api_path(char *out, size_t n, enum keel_api_route r, const char *vip, const char *addr,
		  const struct keel_api_query *q);

/* ---- requests -------------------------------------------------------- */

/* The query parameters the API knows; any other is refused (a typo must not go unnoticed). */
struct keel_api_query {
	bool dry_run, force;
	bool no_wait;     /* fleet: answer once the store committed the edit */
	int64_t revision; /* fleet: config apply's precondition (the spec revision of its diff); 0: none */
	bool has_vip, has_src, has_sport, has_dport;
	char vip[KEEL_API_NAME_MAX];
	struct keel_api_addr src;
	uint16_t sport;
	uint16_t dport;   /* lookup: the destination port (all-ports VIPs need it) */
};

/* Decode one key=value (both raw, %-encoded; value NULL for "?force"). 0 or -EINVAL with why. */
int keel_api_query_set(struct keel_api_query *q, const char *key, const char *value, char *why,
		       size_t whylen);
/* Encode q as "?k=v&..." (nothing when q sets nothing). 0 or -ENAMETOOLONG. */
int keel_api_query_encode(const struct keel_api_query *q, char *out, size_t n);

/*
 * Refuse any key of o not in known (NULL-terminated): the one unknown-key
 * check of every body. 0 or -EINVAL with why.
 */
int keel_api_known_keys(const json_t *o, const char *const *known, char *why, size_t whylen);

/* {"address": A, "weight": N} of backend add, {"weight": N} of backend weight. */
struct keel_api_backend_body {
	bool has_addr, has_weight;
	struct keel_api_addr addr;
	uint32_t weight; /* KEEL_API_WEIGHT_DEFAULT when !has_weight */
	uint32_t server_id; /* add to a QUIC VIP: 1..65535 (docs/quic.md); 0 when none */
};
/*
 * want_addr: add (address required, weight optional); else weight (required).
 * Unknown keys refused. 0 or -EINVAL with why.
 */
int keel_api_backend_body_decode(const json_t *o, bool want_addr, struct keel_api_backend_body *b,
				 char *why, size_t whylen);
json_t *keel_api_backend_body_encode(const struct keel_api_backend_body *b);

/* {} or {"wait": "5s"} of host drain: the duration as written (the server parses it). */
struct keel_api_host_drain {
	bool has_wait;
	char wait[33];
};
int keel_api_host_drain_decode(const json_t *o, struct keel_api_host_drain *d, char *why,
			       size_t whylen);
json_t *keel_api_host_drain_encode(const struct keel_api_host_drain *d);

/* The body of drain, undrain, disable, flush, host undrain: none or {}. 0 or -EINVAL with why. */
int keel_api_empty_body_decode(const json_t *o, char *why, size_t whylen);

/* ---- answers ----------------------------------------------------------- */

/* Share of one VIP's slots that change owner, and each backend's slots before and after. */
struct keel_api_preview_backend {
	char addr[INET6_ADDRSTRLEN];
	bool has_before;
	int64_t before, after;
};
struct keel_api_preview_vip {
	char vip[KEEL_API_NAME_MAX];
	double moved_share;
	bool removed, added, empty; /* "removed"; else "new", "empty" (written true or false) */
	/* "sources": {"before", "after"}: the VIP's source list when it changes (else both "") */
	char sources_before[64], sources_after[64];
	size_t n_backends;
	struct keel_api_preview_backend *backends;
};
struct keel_api_preview {
	size_t n_vips;
	struct keel_api_preview_vip *vips;
};
/* preview: {VIP: {...}} (members that are not objects, like a diff's "warnings", skipped). */
int keel_api_preview_decode(const json_t *o, struct keel_api_preview *p);
json_t *keel_api_preview_encode(const struct keel_api_preview *p);
void keel_api_preview_free(struct keel_api_preview *p);

/* The report of a change (apply, backend edits, backend drain --all); a refusal's {"error", "report"}. */
struct keel_api_report {
	bool applied, dry_run, changed;
	bool has_changed;
	int64_t generation;
	bool has_config_generation;
	int64_t config_generation;
	bool has_preview;
	struct keel_api_preview preview;
	size_t n_warnings;
	char **warnings;
	bool has_published, published; /* "published": the dataplane runs this generation */
	char *publish_error;  /* NULL: none */
	char *error;          /* a refusal's reason; NULL on success */
	struct keel_api_report *refused; /* a refusal's "report" (the preview that made it dangerous) */
	size_t n_vips;        /* backend drain --all: the VIPs changed */
	char (*vips)[KEEL_API_NAME_MAX];
	bool has_vips;
	/* fleet mode: the store revision the change committed at, and the hosts running it */
	bool has_revision, has_converged, converged;
	int64_t revision;
	bool has_hosts;
	size_t n_hosts;       /* "hosts": live hosts, {NAME: the revision it runs} */
	char (*hosts)[KEEL_API_NAME_MAX * 2];
	int64_t *host_revisions;
	size_t n_pending;
	char (*pending)[KEEL_API_NAME_MAX * 2];
};
int keel_api_report_decode(const json_t *o, struct keel_api_report *r);
json_t *keel_api_report_encode(const struct keel_api_report *r);
void keel_api_report_free(struct keel_api_report *r);

/*
 * One backend of GET /v1/vips/{vip}: "backends"[i]. Decoded strings point
 * into the answer (never NULL: "" when absent): it must outlive them.
 */
struct keel_api_backend_view {
	const char *addr;
	uint32_t weight;
	const char *state;       /* active, draining, disabled */
	const char *health;      /* health.state: "" when unchecked */
	const char *health_last; /* health.last */
	bool has_latency;        /* a check ran: last, latency_us and the three below are written */
	int64_t latency_us;
	int64_t checks, since_ms, last_check_ms; /* health.checks, .since_ms, .last_check_ms */
	/* "slow_start": {"percent", "until_ms"} while its weight ramps (docs/config.md), else absent. */
	bool has_slow_start;
	int64_t slow_start_percent;  /* of the configured weight in the running table */
	int64_t slow_start_until_ms; /* wall clock, ms: the configured weight from then */
};
/* The "backends" array of a VIP view: *n items, calloc'd into *out. 0 or -ENOMEM. */
int keel_api_backends_decode(const json_t *vip, struct keel_api_backend_view **out, size_t *n);
json_t *keel_api_backend_view_encode(const struct keel_api_backend_view *b);
/* Its "health" object alone ({"state"}; "last", "latency_us", ... once a check ran): GET /v1/health's too. */
json_t *keel_api_health_encode(const struct keel_api_backend_view *b);

/* One worker of GET /v1/status: "dataplane"."workers"[i]. */
struct keel_api_worker_status {
	int64_t worker, lcore, socket, generation, activations, refused, busy_cycles;
	bool numa_mismatch; /* polls a port on another NUMA socket */
};
/* The "workers" array of a status answer as it is (NULL: the dataplane reports none). */
json_t *keel_api_status_workers(const json_t *status);
/* The workers of a status answer; *n = 0 and has = false when the dataplane reports none. */
int keel_api_workers_decode(const json_t *status, struct keel_api_worker_status **out, size_t *n,
			    bool *has);
json_t *keel_api_worker_status_encode(const struct keel_api_worker_status *w);

/*
 * GET /v1/fleet: this host, and every live host's status key. Decoded strings
 * and digests point into the answer (strings "" when absent): it must outlive f.
 */
struct keel_api_fleet_host {
	const char *name;
	int64_t applied_revision;
	bool dataplane_alive, announcing;
	const char *version;
	const char *last_refusal;
	json_t *digests; /* {VIP: digest} */
};
struct keel_api_fleet_status {
	const char *host;
	const char *prefix;
	int64_t revision, applied_revision;
	bool store_up;
	bool store_lost; /* this host is cut from the store past its lease: BGP degraded */
	const char *store_error;
	size_t n_hosts;
	struct keel_api_fleet_host *hosts;
	size_t n_gone; /* "gone": the last-known record of each host whose lease expired */
	struct keel_api_fleet_host *gone;
	/*
	 * encode only: "hosts" (and "gone") written as these {NAME: doc} objects
	 * instead of hosts[] (gone[]); or "hosts" left out (no_hosts)
	 */
	const json_t *raw_hosts, *raw_gone;
	bool no_hosts;
};
/* One host's status document (what each host writes to the store; "hosts"[NAME] of GET /v1/fleet). */
json_t *keel_api_fleet_host_encode(const struct keel_api_fleet_host *h);
int keel_api_fleet_decode(const json_t *o, struct keel_api_fleet_status *f);
json_t *keel_api_fleet_encode(const struct keel_api_fleet_status *f);
void keel_api_fleet_free(struct keel_api_fleet_status *f);

/* printf into why (when why and whylen): the reason a decoder or request check gives. */
void keel_api_say(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- errors ---------------------------------------------------------- */

/* keelctl's exit codes of a failed call (keelctl(8)): sysexits(3). */
#define KEEL_API_EXIT_OK 0
#define KEEL_API_EXIT_DATAERR EX_DATAERR         /* 65: refused, unknown VIP, bad config */
#define KEEL_API_EXIT_UNAVAILABLE EX_UNAVAILABLE /* 69: no daemon, no dataplane, daemon failure */
#define KEEL_API_EXIT_NOPERM EX_NOPERM           /* 77 */
#define KEEL_API_EXIT_CONFLICT EX_TEMPFAIL       /* 75: 412, changed since it was read */

/*
 * Where an errno comes from decides its status: the control layer (control.h:
 * EINVAL is a refused change, 422), the request layer (routing, query,
 * bodies: EINVAL is a malformed request, 400), host drain (EINVAL: no bgp:
 * section, 409), the packet trace (EINVAL: a bad filter, 400; else as the
 * control layer).
 */
enum keel_api_layer { KEEL_API_CONTROL, KEEL_API_REQUEST, KEEL_API_HOST, KEEL_API_TRACE };

/*
 * The one error table: X(errno, layer, HTTP status, keelctl exit, message).
 * docs/api.md lists the same statuses. 503 means "the dataplane is not there
 * or did not answer: retry later", whatever the reason, so that a client can
 * tell it from a change that can never succeed (4xx). A status has one exit
 * code whatever the errno (keelctl sees the status only).
 */
#define KEEL_API_ERRORS(X)                                                                         \
	X(ENOENT, CONTROL, 404, DATAERR, "no such VIP or backend")                                 \
	X(EAFNOSUPPORT, CONTROL, 400, DATAERR, "address of another family than the VIP's")         \
	X(EDESTADDRREQ, CONTROL, 400, DATAERR, "the VIP's destination port is missing or another") \
	X(EINVAL, CONTROL, 422, DATAERR, "refused by the validator")                               \
	X(EPERM, CONTROL, 409, DATAERR, "refused without force")                                   \
	X(EEXIST, CONTROL, 409, DATAERR, "conflicts with what is there")                           \
	X(EFBIG, CONTROL, 413, DATAERR, "too large")                                               \
	X(ESTALE, CONTROL, 412, CONFLICT,                                                          \
	  "changed since it was read (the If-Match generation, or in a fleet the spec revision): " \
	  "read it again")                                                                         \
	X(ENOTCONN, CONTROL, 503, UNAVAILABLE, "dataplane not running")                            \
	X(EPIPE, CONTROL, 503, UNAVAILABLE, "dataplane not running")                               \
	X(ECONNREFUSED, CONTROL, 503, UNAVAILABLE, "dataplane not running")                        \
	X(ESRCH, CONTROL, 503, UNAVAILABLE, "dataplane not running")                               \
	X(EHOSTDOWN, CONTROL, 503, UNAVAILABLE, "dataplane not running")                           \
	X(EAGAIN, CONTROL, 503, UNAVAILABLE, "no snapshot active yet")                             \
	X(ETIMEDOUT, CONTROL, 503, UNAVAILABLE, "the dataplane did not answer in time")            \
	X(EBUSY, CONTROL, 503, UNAVAILABLE, "the dataplane has not acknowledged an older snapshot") \
	X(EIO, CONTROL, 500, UNAVAILABLE, "state not persisted")                                   \
	X(ENOLINK, CONTROL, 503, UNAVAILABLE, "the fleet store is unreachable: edits are refused")  \
	X(EXDEV, CONTROL, 409, DATAERR, "the fleet prefix belongs to another fleet: not joined")    \
	X(ENOMEM, CONTROL, 500, UNAVAILABLE, "out of memory")                                      \
	X(EINVAL, REQUEST, 400, DATAERR, "malformed request")                                      \
	X(ENOENT, REQUEST, 404, DATAERR, "no such resource")                                       \
	X(EOPNOTSUPP, REQUEST, 405, UNAVAILABLE, "method not allowed")                             \
	X(EFBIG, REQUEST, 413, DATAERR, "body over the limit")                                     \
	X(ENOMEM, REQUEST, 500, UNAVAILABLE, "out of memory")                                      \
	X(EACCES, REQUEST, 403, NOPERM, "permission denied")                                       \
	X(EMEDIUMTYPE, REQUEST, 415, DATAERR,                                                      \
	  "Content-Type must be application/json or application/yaml")                             \
	X(ENOSYS, REQUEST, 501, UNAVAILABLE, "Transfer-Encoding not supported (only chunked)")     \
	X(EINVAL, HOST, 409, DATAERR, "this host has no bgp: section")                             \
	X(EINVAL, TRACE, 400, DATAERR, "malformed trace filter")

struct keel_api_error {
	int err;             /* positive errno */
	enum keel_api_layer layer;
	unsigned int status; /* HTTP status */
	int exit_code;       /* keelctl's exit code for that status */
	const char *message; /* when the layer gave no reason of its own */
};

/* The table itself, for tests and docs: n rows. */
const struct keel_api_error *keel_api_errors(size_t *n);
/*
 * The row of err in layer (the trace layer falls back on the control layer's
 * rows); NULL when none: then the status is 400 in the request layer, 500
 * elsewhere, and the message "internal error" (request: "malformed request").
 */
const struct keel_api_error *keel_api_error_find(enum keel_api_layer layer, int err);
unsigned int keel_api_error_status(enum keel_api_layer layer, int err);
const char *keel_api_error_message(enum keel_api_layer layer, int err);
/* keelctl's exit code for an answer's HTTP status: 0 for 2xx, the table's, else UNAVAILABLE. */
int keel_api_exit_code(unsigned int status);

#endif
