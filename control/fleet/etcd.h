/*
 * A small typed client of etcd v3 (3.4) over its JSON gateway (/v3/kv/..., /v3/lease/..., /v3/watch),
 * with libcurl and jansson: the store that holds the fleet's configuration (docs/fleet.md).
 *
 * Every call is bounded in time (opts.timeout_ms for the whole call, all endpoints included; a
 * watch by its idle timeout) and answers 0 or a negative errno, with the reason in words in
 * keel_etcd_errmsg():
 *   -EHOSTUNREACH  no endpoint accepted a connection
 *   -ETIMEDOUT     no answer in time, or etcd has no leader (no quorum); a write that timed out
 *                  may still have been committed
 *   -ECONNRESET    the connection broke after the request was sent (the outcome is unknown)
 *   -EACCES        authentication failed, permission denied, or TLS failed with every member
 *   -ESTALE        the revision asked for has been compacted
 *   -ENOENT        the lease does not exist (expired or revoked)
 *   -ECANCELED     the server cancelled the watch
 *   -EPROTO        the answer was not what etcd sends
 *   -EINVAL, -ENOMEM, -ERANGE (a future revision), -ENOSPC (etcd's quota), -EIO (anything else)
 *
 * A client is used by one thread at a time (it owns one curl handle and keeps its connections);
 * keel_etcd_watch_stop() is the exception. Open a second client for a watch thread.
 */
#ifndef KEEL_FLEET_ETCD_H
#define KEEL_FLEET_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_ETCD_MAX_ENDPOINTS 8

struct keel_etcd_opts {
	/* "http://10.0.0.1:2379" or "https://..."; tried in order, the one that answered first next time. */
	const char *endpoints[KEEL_ETCD_MAX_ENDPOINTS];
	size_t n_endpoints;
	unsigned timeout_ms;         /* one call, every endpoint tried included (0: 2000) */
	unsigned connect_timeout_ms; /* one endpoint's TCP/TLS connect (0: 500, never above timeout_ms) */
	const char *ca_file;         /* optional TLS: CA to verify the members with */
	const char *cert_file;       /* optional client certificate and its key */
	const char *key_file;
	const char *user;            /* optional etcd auth: a token from /v3/auth/authenticate */
	const char *password;
};

struct keel_etcd;

/* Flags of range, delete, compares and watches. */
#define KEEL_ETCD_PREFIX       0x1u /* every key that starts with key (key "" is every key) */
#define KEEL_ETCD_SERIALIZABLE 0x2u /* range: the member's local copy, no quorum round (may be stale) */
#define KEEL_ETCD_KEYS_ONLY    0x4u /* range: keys and their revisions and leases, values empty */

struct keel_etcd_kv {
	char *key;   /* NUL-terminated (keys with a NUL byte are refused as -EPROTO) */
	char *value; /* value_len bytes and a NUL after them */
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

struct keel_etcd_range {
	struct keel_etcd_kv *kvs;
	size_t n;
	int64_t count;    /* keys in the range (n may be smaller only if etcd limited it) */
	int64_t revision; /* the store's revision this answer is consistent with */
};

enum keel_etcd_cmp_result { KEEL_ETCD_EQUAL, KEEL_ETCD_NOT_EQUAL, KEEL_ETCD_LESS, KEEL_ETCD_GREATER };

/* A compare on mod_revision: key (every key under it with KEEL_ETCD_PREFIX) mod_revision <result>
 * mod_revision. A key that does not exist has mod_revision 0. */
struct keel_etcd_cmp {
	const char *key;
	unsigned flags;
	enum keel_etcd_cmp_result result;
	int64_t mod_revision;
};

enum keel_etcd_op_type { KEEL_ETCD_OP_PUT, KEEL_ETCD_OP_DELETE };

struct keel_etcd_op {
	enum keel_etcd_op_type type;
	const char *key;
	unsigned flags;     /* delete: KEEL_ETCD_PREFIX */
	const void *value;  /* put */
	size_t value_len;
	int64_t lease;      /* put: 0 or a granted lease */
};

/* NULL with the reason in err when the options are invalid or curl cannot start. */
struct keel_etcd *keel_etcd_open(const struct keel_etcd_opts *o, char *err, size_t errlen);
void keel_etcd_close(struct keel_etcd *c);

/* Why the last call failed (empty after a success), and the endpoint it last talked to. */
const char *keel_etcd_errmsg(const struct keel_etcd *c);
const char *keel_etcd_endpoint(const struct keel_etcd *c);

/* One key, or a prefix; revision 0 is the newest, R reads the store as of R (-ESTALE if
 * compacted). Linearizable unless KEEL_ETCD_SERIALIZABLE. Free out with keel_etcd_range_free. */
int keel_etcd_range(struct keel_etcd *c, const char *key, unsigned flags, int64_t revision,
		    struct keel_etcd_range *out);
void keel_etcd_range_free(struct keel_etcd_range *r);

int keel_etcd_put(struct keel_etcd *c, const char *key, const void *value, size_t value_len,
		  int64_t lease, int64_t *revision);
int keel_etcd_delete(struct keel_etcd *c, const char *key, unsigned flags, int64_t *deleted,
		     int64_t *revision);

/* All compares hold: every op runs, *succeeded true; otherwise nothing is written and
 * *succeeded false (a conflict is not an error). *revision: the store's revision after it. */
int keel_etcd_txn(struct keel_etcd *c, const struct keel_etcd_cmp *cmp, size_t n_cmp,
		  const struct keel_etcd_op *ops, size_t n_ops, bool *succeeded, int64_t *revision);

/* Leases: keys put with one vanish ttl seconds after its last keepalive. */
int keel_etcd_lease_grant(struct keel_etcd *c, int64_t ttl_s, int64_t *id, int64_t *granted_ttl);
int keel_etcd_lease_keepalive(struct keel_etcd *c, int64_t id, int64_t *ttl); /* -ENOENT: gone */
int keel_etcd_lease_revoke(struct keel_etcd *c, int64_t id);

/* --- watch (etcd_watch.c) --- */

struct keel_etcd_event {
	bool is_delete;
	struct keel_etcd_kv kv; /* a delete carries the key and its mod_revision only */
};

/* One answer of the stream. etcd never splits one revision's events over two answers. */
struct keel_etcd_watch_resp {
	int64_t revision; /* header revision */
	bool progress;    /* a progress notification: nothing changed up to revision */
	const struct keel_etcd_event *events;
	size_t n_events;
};

/* Return 0 to go on, anything else to stop the watch (keel_etcd_watch returns 0). */
typedef int (*keel_etcd_watch_cb)(void *arg, const struct keel_etcd_watch_resp *r);

struct keel_etcd_watch_opts {
	const char *key;
	unsigned flags;          /* KEEL_ETCD_PREFIX */
	int64_t start_revision;  /* 0: from now on */
	bool progress_notify;    /* ask for progress notifications (members send them every
				  * --experimental-watch-progress-notify-interval) */
	unsigned idle_timeout_ms; /* nothing received for this long: -ETIMEDOUT (0: 30000) */
};

struct keel_etcd_watch_end {
	int64_t last_revision;    /* every change up to it was delivered: resume from it + 1 */
	int64_t compact_revision; /* -ESTALE: the oldest revision still available */
};

/*
 * Runs the watch in the calling thread until the callback stops it or keel_etcd_watch_stop() is
 * called (0), or it ends: -ESTALE (compacted: list again), -ECANCELED, -ETIMEDOUT (idle, or no
 * leader), -ECONNRESET (stream closed), or the errors of a call. The stream asks the member to
 * end it when it loses its leader.
 */
int keel_etcd_watch(struct keel_etcd *c, const struct keel_etcd_watch_opts *w, keel_etcd_watch_cb cb,
		    void *arg, struct keel_etcd_watch_end *end);

/* From any thread: the running watch of c (or, if none runs, the next one) returns 0 within
 * about a second. */
void keel_etcd_watch_stop(struct keel_etcd *c);

#endif
