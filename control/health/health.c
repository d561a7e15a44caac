/* The health checker: a target table, one thread with one epoll loop, rise/fall state per target. */
#define _GNU_SOURCE /* pthread_setname_np, and the GNU strerror_r that returns its string */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "health_probe.h"
#include "health_tunnel.h"
#include "log.h"

/*
 * Locking: one mutex (h->lock) covers the target table, the index, the heaps
 * and every entry. The checker thread holds it while it starts probes and
 * handles socket events (all non-blocking, microseconds each) and drops it only
 * around epoll_wait(); health_set_targets() takes it.
 *
 * Readers take only h->st_lock, never h->lock: with thousands of probes the
 * checker is busy for long stretches and re-takes h->lock as soon as it drops
 * it (mutexes are not fair), so a reader that needs h->lock for each of 10 000
 * backends waits for seconds. st_lock covers what readers see: the entries
 * array and index (swapped by health_set_targets() under both locks), every
 * entry's st (written by the checker under st_lock, a few hundred ns per
 * finished probe) and the published figures (h->pub). An entry's key and hash
 * never change. Only the generation is read without a lock.
 *
 * Lifetime: only the checker thread frees entries. health_set_targets() moves
 * removed entries to h->retired and flags them; the checker closes their
 * sockets and frees them at the top of its loop, before it waits again, so an
 * event already fetched by epoll_wait() never points at freed memory.
 */

#define NS_PER_MS 1000000ull
#define CHECKER_EVENTS 64 /* epoll events handled per wakeup */
#define BEHIND_LOG_MS 60000ull   /* at most one health_behind_schedule line a minute */
#define BEHIND_HOLD_NS (10000ull * NS_PER_MS) /* behind stays set this long after a late start */
#define DEFER_RETRY_NS (100ull * NS_PER_MS)   /* EMFILE with nothing in flight: retry after this */

/* Which of the two heaps holds an entry (one at most). */
enum { IN_NONE = 0, IN_WAIT, IN_FLIGHT };

/* A min-heap of entries on due_ns; heap_idx lets the checker move an entry after an event. */
struct entry_heap {
	struct health_entry **a;
	uint32_t n;
};

struct health_entry {
	struct health_target key;  /* normalised (see target_normalise), so equality is field-wise */
	uint64_t hash;
	struct health_probe probe; /* epoll cookie: this entry */
	uint64_t due_ns;           /* CLOCK_MONOTONIC: next start when idle, deadline when in flight */
	uint64_t anchor_ns;        /* start of the last probe; the next one starts interval later */
	uint32_t heap_idx;
	uint8_t in_heap;           /* IN_WAIT (idle, due_ns = start), IN_FLIGHT (due_ns = deadline) */
	uint32_t seen;             /* health_set_targets() pass that last listed it */
	bool fresh;                /* created by the running health_set_targets(), undone on failure */
	bool retired;              /* out of the table, waiting for the checker to free it */
	struct health_entry *next_retired;
	struct health_status st;
};

struct health_pub {
	uint32_t targets, in_flight, waiting;
	uint64_t started, late, deferred, last_late_ns;
	uint64_t oldest_due_ns; /* of the wait heap's top, 0 if empty */
	uint32_t oldest_interval_ms;
};

struct health {
	pthread_mutex_t lock;
	pthread_mutex_t st_lock; /* readers' lock; see above */
	struct health_pub pub;   /* under st_lock: the checker's figures as of its last loop */
	uint64_t waiting_at_ns;  /* checker: when pub.waiting was last counted */
	/* All below: checker rw, health_set_targets rw, health_get ro; under lock. */
	struct health_entry **entries; /* the current set, n_entries distinct targets */
	uint32_t n_entries;
	struct health_entry **index;   /* open addressing on hash; index_mask + 1 slots */
	uint32_t index_mask;
	/*
	 * The probed entries (type != NONE) are in exactly one of two heaps: wait
	 * (idle, on their next start) or flight (on their deadline). Two heaps so
	 * that due probes held back by the budget do not hide the deadlines that
	 * will free it.
	 */
	struct entry_heap wait, flight;
	uint32_t budget;     /* in flight at most; see health.h */
	uint32_t budget_eff; /* lowered on EMFILE, climbs back by one per finished probe */
	uint64_t started, late, deferred;
	uint64_t last_late_ns;   /* CLOCK_MONOTONIC of the last late start, 0 if none */
	uint64_t late_logged;    /* h->late when the last health_behind_schedule line was written */
	uint64_t last_log_ms;    /* CLOCK_MONOTONIC ms of that line, 0 if none */
	struct health_entry *retired;
	uint32_t pass;
	uint64_t rng;
	bool stop;

	/* Written by the checker under lock; read lock-free by health_generation(). */
	_Atomic uint64_t generation;

	int epfd;     /* checker: the probes' sockets, wake_fd, timer_fd */
	int wake_fd;  /* eventfd: set_targets and destroy -> checker */
	int timer_fd; /* timerfd armed at the earliest due_ns */
	int event_fd; /* eventfd: checker -> keel-control, on generation bumps */
	pthread_t thread;
	struct health_tunnel_conf tunnel; /* under lock; every probe points at it */
};

static uint64_t now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

/* xorshift64*: jitter only needs to spread probes, not to be unpredictable. */
static uint64_t rng_next(struct health *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dull;
}

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_STATE_UNKNOWN: return "unknown";
	case HEALTH_STATE_UP: return "up";
	case HEALTH_STATE_DOWN: return "down";
	}
	return "invalid";
}

const char *health_result_name(enum health_result r)
{
	switch (r) {
	case HEALTH_RESULT_NONE: return "none";
	case HEALTH_RESULT_OK: return "ok";
	case HEALTH_RESULT_REFUSED: return "refused";
	case HEALTH_RESULT_TIMEOUT: return "timeout";
	case HEALTH_RESULT_BAD_STATUS: return "bad_status";
	case HEALTH_RESULT_BAD_RESPONSE: return "bad_response";
	case HEALTH_RESULT_ERROR: return "error";
	case HEALTH_RESULT_LOCAL_ERROR: return "local_error";
	}
	return "invalid";
}

/* A request-target of visible ASCII only (RFC 9112 3.2): no SP, CR or LF to smuggle headers. */
static bool path_valid(const char *path)
{
	size_t len = strnlen(path, HEALTH_PATH_MAX);

	if (len == 0 || len == HEALTH_PATH_MAX || path[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if (path[i] < 0x21 || path[i] > 0x7e)
			return false;
	return true;
}

/* A DNS name as the config accepts it: labels of letters, digits, '-' and '_', 1..63 bytes each. */
static bool host_valid(const char *host, bool required)
{
	size_t len = strnlen(host, HEALTH_HOST_MAX), label = 0;

	if (len == 0)
		return !required;
	if (len == HEALTH_HOST_MAX || host[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = host[i];

		if (c == '.') {
			if (label == 0)
				return false; /* empty label */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_') || ++label > 63)
			return false;
	}
	return true;
}

bool health_target_valid(const struct health_target *t)
{
	if (t->family != HEALTH_AF_INET4 && t->family != HEALTH_AF_INET6)
		return false;
	if (t->port == 0)
		return false;
	switch (t->type) {
	case HEALTH_NONE:
		return true;
	case HEALTH_TCP:
		break;
	case HEALTH_HTTP:
	case HEALTH_HTTPS:
		if (!path_valid(t->path) || t->expect_status < 100 || t->expect_status > 599 ||
		    (t->expect_status_max &&
		     (t->expect_status_max < t->expect_status || t->expect_status_max > 599)) ||
		    !host_valid(t->host, false))
			return false;
		break;
	case HEALTH_UDP:
		if (t->payload_len < 1 || t->payload_len > HEALTH_PAYLOAD_MAX ||
		    t->expect_len > HEALTH_PAYLOAD_MAX)
			return false;
		break;
	case HEALTH_DNS:
		if (!host_valid(t->host, true) || t->qtype == 0)
			return false;
		break;
	default:
		return false;
	}
	/* Tunnel probes: a TCP SYN in IPv4 (health_tunnel.h), IPIP or GUE. */
	if (t->via > HEALTH_VIA_TUNNEL ||
	    (t->via == HEALTH_VIA_TUNNEL &&
	     (t->type != HEALTH_TCP || t->family != HEALTH_AF_INET4 || t->encap > 1)))
		return false;
	/* timeout <= interval: at most one probe per target is ever in flight. */
	return t->interval_ms >= 1 && t->timeout_ms >= 1 && t->timeout_ms <= t->interval_ms &&
	       t->rise >= 1 && t->fall >= 1;
}

/*
 * One canonical form per target: bytes the type ignores are zeroed, so a TCP
 * check with a stale path or an IPv4 address with junk past byte 4 still
 * matches the same target. Call only on valid targets.
 */
static void target_normalise(struct health_target *dst, const struct health_target *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->family = src->family;
	memcpy(dst->addr, src->addr, src->family == HEALTH_AF_INET6 ? 16 : 4);
	dst->port = src->port;
	dst->type = src->type;
	if (src->type == HEALTH_NONE)
		return; /* never probed: the timing fields mean nothing */
	if (src->type == HEALTH_HTTP || src->type == HEALTH_HTTPS) {
		memcpy(dst->path, src->path, strnlen(src->path, HEALTH_PATH_MAX - 1));
		dst->expect_status = src->expect_status;
		/* One form per range: 200..200 is 200. */
		dst->expect_status_max = src->expect_status_max == src->expect_status ? 0
										     : src->expect_status_max;
	}
	if (src->type == HEALTH_HTTP || src->type == HEALTH_HTTPS || src->type == HEALTH_DNS)
		memcpy(dst->host, src->host, strnlen(src->host, HEALTH_HOST_MAX - 1));
	if (src->type == HEALTH_DNS)
		dst->qtype = src->qtype;
	if (src->type == HEALTH_UDP) {
		dst->payload_len = src->payload_len;
		dst->expect_len = src->expect_len;
		memcpy(dst->payload, src->payload, src->payload_len);
		memcpy(dst->expect, src->expect, src->expect_len);
	}
	dst->interval_ms = src->interval_ms;
	dst->timeout_ms = src->timeout_ms;
	dst->rise = src->rise;
	dst->fall = src->fall;
	if (src->via == HEALTH_VIA_TUNNEL) {
		dst->via = src->via;
		dst->encap = src->encap;
		memcpy(dst->vip, src->vip, 4);
	}
}

static bool target_equal(const struct health_target *a, const struct health_target *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 && a->port == b->port &&
	       a->type == b->type && strcmp(a->path, b->path) == 0 &&
	       a->expect_status == b->expect_status && a->expect_status_max == b->expect_status_max &&
	       strcmp(a->host, b->host) == 0 && a->qtype == b->qtype &&
	       a->payload_len == b->payload_len && a->expect_len == b->expect_len &&
	       memcmp(a->payload, b->payload, a->payload_len) == 0 &&
	       memcmp(a->expect, b->expect, a->expect_len) == 0 && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall &&
	       a->via == b->via && a->encap == b->encap && memcmp(a->vip, b->vip, 16) == 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Field by field: struct padding is not part of a target. */
static uint64_t target_hash(const struct health_target *t)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t type = (uint32_t)t->type;

	h = fnv1a(h, &t->family, sizeof(t->family));
	h = fnv1a(h, t->addr, sizeof(t->addr));
	h = fnv1a(h, &t->port, sizeof(t->port));
	h = fnv1a(h, &type, sizeof(type));
	h = fnv1a(h, t->path, strlen(t->path));
	h = fnv1a(h, &t->expect_status, sizeof(t->expect_status));
	h = fnv1a(h, &t->expect_status_max, sizeof(t->expect_status_max));
	h = fnv1a(h, t->host, strlen(t->host));
	h = fnv1a(h, &t->qtype, sizeof(t->qtype));
	h = fnv1a(h, t->payload, t->payload_len);
	h = fnv1a(h, t->expect, t->expect_len);
	h = fnv1a(h, &t->interval_ms, sizeof(t->interval_ms));
	h = fnv1a(h, &t->timeout_ms, sizeof(t->timeout_ms));
	h = fnv1a(h, &t->rise, sizeof(t->rise));
	h = fnv1a(h, &t->fall, sizeof(t->fall));
	h = fnv1a(h, &t->via, sizeof(t->via));
	h = fnv1a(h, &t->encap, sizeof(t->encap));
	h = fnv1a(h, t->vip, sizeof(t->vip));
	return h;
}

static struct health_entry *index_find(struct health_entry **index, uint32_t mask,
				       const struct health_target *key, uint64_t hash)
{
	if (!index)
		return NULL;
	for (uint32_t i = (uint32_t)hash & mask; index[i]; i = (i + 1) & mask)
		if (index[i]->hash == hash && target_equal(&index[i]->key, key))
			return index[i];
	return NULL;
}

static void index_insert(struct health_entry **index, uint32_t mask, struct health_entry *e)
{
	uint32_t i = (uint32_t)e->hash & mask;

	while (index[i])
		i = (i + 1) & mask;
	index[i] = e;
}

static void heap_swap(struct entry_heap *q, uint32_t a, uint32_t b)
{
	struct health_entry *t = q->a[a];

	q->a[a] = q->a[b];
	q->a[b] = t;
	q->a[a]->heap_idx = a;
	q->a[b]->heap_idx = b;
}

static void heap_down(struct entry_heap *q, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && q->a[l]->due_ns < q->a[m]->due_ns)
			m = l;
		if (r < q->n && q->a[r]->due_ns < q->a[m]->due_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

static void heap_up(struct entry_heap *q, uint32_t i)
{
	while (i > 0 && q->a[(i - 1) / 2]->due_ns > q->a[i]->due_ns) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Capacity: both heaps are sized for every entry at health_set_targets(). */
static void heap_push(struct health *h, struct health_entry *e, uint8_t which)
{
	struct entry_heap *q = which == IN_WAIT ? &h->wait : &h->flight;

	e->in_heap = which;
	e->heap_idx = q->n;
	q->a[q->n++] = e;
	heap_up(q, e->heap_idx);
}

static void heap_remove(struct health *h, struct health_entry *e)
{
	struct entry_heap *q = e->in_heap == IN_WAIT ? &h->wait : &h->flight;
	uint32_t i = e->heap_idx;

	if (e->in_heap == IN_NONE)
		return;
	e->in_heap = IN_NONE;
	if (i == --q->n)
		return;
	q->a[i] = q->a[q->n];
	q->a[i]->heap_idx = i;
	heap_up(q, i);
	heap_down(q, q->a[i]->heap_idx);
}

static void wake(int fd)
{
	uint64_t one = 1;

	/* Only fails with EAGAIN when the counter is about to overflow: already readable. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return; /* EAGAIN: someone else drained it; nothing is lost */
}

static void format_text(struct health_status *st, const struct health_probe_verdict *v)
{
	char buf[HEALTH_TEXT_MAX];

	switch (v->result) {
	case HEALTH_RESULT_BAD_STATUS:
		snprintf(st->last_text, sizeof(st->last_text), "bad status %u", v->http_status);
		break;
	case HEALTH_RESULT_BAD_RESPONSE:
		snprintf(st->last_text, sizeof(st->last_text), "bad_response%s%s",
			 v->detail ? ": " : "", v->detail ? v->detail : "");
		break;
	case HEALTH_RESULT_ERROR:
		snprintf(st->last_text, sizeof(st->last_text), "error: %s",
			 strerror_r(v->err, buf, sizeof(buf)));
		break;
	case HEALTH_RESULT_LOCAL_ERROR:
		snprintf(st->last_text, sizeof(st->last_text), "local error: %s",
			 strerror_r(v->err, buf, sizeof(buf)));
		break;
	default:
		snprintf(st->last_text, sizeof(st->last_text), "%s", health_result_name(v->result));
		break;
	}
}

/* 1 ms to 5 s: a check slower than its timeout is a timeout, and timeouts are below the interval. */
const uint32_t health_latency_bounds_us[HEALTH_LATENCY_BUCKETS] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

static unsigned int latency_bucket(uint64_t us)
{
	unsigned int i;

	for (i = 0; i < HEALTH_LATENCY_BUCKETS && us > health_latency_bounds_us[i]; i++)
		;
	return i;
}

/* A probe of e finished: count it, move the state, schedule the next one. Under lock. */
static void entry_complete(struct health *h, struct health_entry *e, uint64_t now_ns)
{
	const struct health_probe_verdict *v = &e->probe.verdict;
	struct health_status *st = &e->st;
	enum health_state old = st->state;
	bool bump;

	pthread_mutex_lock(&h->st_lock);
	st->last_result = v->result;
	st->last_http_status = v->http_status;
	st->last_errno = v->err;
	format_text(st, v);
	/* Our own failure (fd limit, no local port) says nothing about the backend. */
	if (v->result != HEALTH_RESULT_LOCAL_ERROR) {
		uint64_t us = v->latency_ns / 1000;

		st->last_latency_us = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		st->latency_sum_us += us;
		st->latency_hist[latency_bucket(us)]++;
		st->checks++;
		st->last_check_ms = now_real_ms();
		if (v->result == HEALTH_RESULT_OK) {
			st->consecutive_ok++;
			st->consecutive_fail = 0;
		} else {
			st->consecutive_fail++;
			st->consecutive_ok = 0;
		}
		if (st->state != HEALTH_STATE_DOWN && st->consecutive_fail >= e->key.fall)
			st->state = HEALTH_STATE_DOWN;
		else if (st->state == HEALTH_STATE_DOWN && st->consecutive_ok >= e->key.rise)
			st->state = HEALTH_STATE_UP;
		else if (st->state == HEALTH_STATE_UNKNOWN && st->consecutive_ok > 0)
			st->state = HEALTH_STATE_UP; /* already routed: rise has nothing to protect */
	}
	if (st->state != old)
		st->last_change_ms = now_real_ms();
	bump = (old == HEALTH_STATE_DOWN) != (st->state == HEALTH_STATE_DOWN);
	if (bump) {
		if (st->state == HEALTH_STATE_DOWN)
			st->went_down++;
		else
			st->came_up++;
	}
	pthread_mutex_unlock(&h->st_lock);
	if (bump) {
		/* Release: pairs with the acquire in health_generation(). */
		atomic_fetch_add_explicit(&h->generation, 1, memory_order_release);
		wake(h->event_fd);
	}

	e->probe.phase = HEALTH_PROBE_IDLE;
	heap_remove(h, e);
	if (h->budget_eff < h->budget)
		h->budget_eff++; /* a socket was freed: try one more at once next time */
	/* Keep the phase the jitter gave: start interval after the last start, not after its end. */
	e->due_ns = e->anchor_ns + (uint64_t)e->key.interval_ms * NS_PER_MS;
	if (e->due_ns < now_ns)
		e->due_ns = now_ns;
	heap_push(h, e, IN_WAIT);
}

/*
 * How late a start may be before it counts as late: a quarter of the interval
 * is the schedule slipping; under LATE_FLOOR_NS it is a busy machine's
 * scheduler, not the checker (timer wakeups are otherwise late by microseconds).
 */
#define LATE_FLOOR_NS (100ull * NS_PER_MS)

static uint64_t late_after_ns(uint32_t interval_ms)
{
	uint64_t q = (uint64_t)interval_ms * NS_PER_MS / 4;

	return q > LATE_FLOOR_NS ? q : LATE_FLOOR_NS;
}

/* Could not open a socket (EMFILE, ENFILE, ENOBUFS, ENOMEM): our shortage, not the backend's. */
static bool start_deferred(const struct health_entry *e)
{
	int err = e->probe.verdict.err;

	return e->probe.verdict.result == HEALTH_RESULT_LOCAL_ERROR &&
	       (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM);
}

/* One line when checks start running late, then at most one a minute while they do. Under lock. */
static void log_behind(struct health *h, uint64_t now_ns, uint64_t lag_ns)
{
	uint64_t now_ms = now_ns / NS_PER_MS;

	if (h->late == h->late_logged ||
	    (h->last_log_ms && now_ms - h->last_log_ms < BEHIND_LOG_MS))
		return;
	log_event(LOG_WARN, "health_behind_schedule",
		  "late=%llu late_total=%llu lag_ms=%llu in_flight=%u budget=%u targets=%u "
		  "hint=%s",
		  (unsigned long long)(h->late - h->late_logged), (unsigned long long)h->late,
		  (unsigned long long)(lag_ns / NS_PER_MS), h->flight.n, h->budget,
		  h->wait.n + h->flight.n,
		  "raise the open-file limit (LimitNOFILE) or lengthen intervals / shorten timeouts");
	h->late_logged = h->late;
	h->last_log_ms = now_ms;
}

/*
 * Times out every probe past its deadline, then starts due probes, most
 * overdue first, while the budget allows. Under lock.
 */
static void run_due(struct health *h, uint64_t now_ns)
{
	uint64_t worst_lag = 0;

	while (h->flight.n > 0 && h->flight.a[0]->due_ns <= now_ns) {
		struct health_entry *e = h->flight.a[0];

		health_probe_timeout(&e->probe, now_ns);
		entry_complete(h, e, now_ns);
	}
	while (h->wait.n > 0 && h->wait.a[0]->due_ns <= now_ns && h->flight.n < h->budget_eff) {
		struct health_entry *e = h->wait.a[0];
		uint64_t lag = now_ns - e->due_ns;

		heap_remove(h, e);
		e->anchor_ns = now_ns;
		if (health_probe_start(&e->probe, &e->key, now_ns)) {
			if (start_deferred(e)) {
				/* Not a check: wait for a socket to be freed, at once when one is in flight. */
				h->deferred++;
				h->budget_eff = h->flight.n > 1 ? h->flight.n - h->flight.n / 8 : 1;
				e->probe.phase = HEALTH_PROBE_IDLE;
				e->due_ns = h->flight.n ? now_ns : now_ns + DEFER_RETRY_NS;
				heap_push(h, e, IN_WAIT);
				if (!h->flight.n)
					break;
				continue;
			}
			entry_complete(h, e, now_ns);
		} else {
			e->due_ns = now_ns + (uint64_t)e->key.timeout_ms * NS_PER_MS;
			heap_push(h, e, IN_FLIGHT);
		}
		h->started++;
		if (lag > late_after_ns(e->key.interval_ms)) {
			h->late++;
			h->last_late_ns = now_ns;
			if (lag > worst_lag)
				worst_lag = lag;
		}
	}
	if (worst_lag)
		log_behind(h, now_ns, worst_lag);
}

/*
 * Arms the timerfd at the earliest deadline, or the earliest start when the
 * budget allows one (absolute time, so a late wakeup does not drift). With the
 * budget spent, a finished probe's event wakes the loop instead.
 */
static void arm_timer(struct health *h)
{
	struct itimerspec its = { 0 };
	uint64_t due = UINT64_MAX;

	if (h->flight.n > 0)
		due = h->flight.a[0]->due_ns;
	if (h->wait.n > 0 && h->flight.n < h->budget_eff && h->wait.a[0]->due_ns < due)
		due = h->wait.a[0]->due_ns;
	if (due != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(due / 1000000000ull);
		its.it_value.tv_nsec = (long)(due % 1000000000ull);
		if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
			its.it_value.tv_nsec = 1; /* all zero would disarm */
	}
	if (timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		abort(); /* only EINVAL/EBADF: a bug; keel-control restarts without losing packets */
}

static void reap_retired(struct health *h)
{
	while (h->retired) {
		struct health_entry *e = h->retired;

		h->retired = e->next_retired;
		health_probe_abort(&e->probe);
		free(e);
	}
}

/*
 * Due entries of the wait heap: a walk of the heap's due part only (a child is
 * never due before its parent). Depth first, so the stack holds at most one
 * pending sibling per level: 2 * log2(HEALTH_TARGETS_MAX) + 1 entries.
 */
static uint32_t count_due(const struct entry_heap *q, uint64_t now_ns)
{
	uint32_t stack[64], top = 0, n = 0;

	if (q->n > 0 && q->a[0]->due_ns <= now_ns)
		stack[top++] = 0;
	while (top > 0) {
		uint32_t j = stack[--top];

		n++;
		for (uint32_t c = 2 * j + 1; c <= 2 * j + 2 && c < q->n; c++)
			if (q->a[c]->due_ns <= now_ns)
				stack[top++] = c;
	}
	return n;
}

/* Copies the checker's figures where readers see them (under h->lock). */
static void publish_stats(struct health *h, uint64_t now_ns)
{
	struct health_pub p = h->pub;

	p.targets = h->wait.n + h->flight.n;
	p.in_flight = h->flight.n;
	/* Counting is O(waiting): ten times a second is plenty for a gauge. */
	if (h->flight.n < h->budget_eff) {
		p.waiting = 0; /* run_due() started everything due */
	} else if (now_ns - h->waiting_at_ns >= 100 * NS_PER_MS) {
		p.waiting = count_due(&h->wait, now_ns);
		h->waiting_at_ns = now_ns;
	}
	p.started = h->started;
	p.late = h->late;
	p.deferred = h->deferred;
	p.last_late_ns = h->last_late_ns;
	p.oldest_due_ns = h->wait.n ? h->wait.a[0]->due_ns : 0;
	p.oldest_interval_ms = h->wait.n ? h->wait.a[0]->key.interval_ms : 0;
	pthread_mutex_lock(&h->st_lock);
	h->pub = p;
	pthread_mutex_unlock(&h->st_lock);
}

static void *checker_main(void *arg)
{
	struct health *h = arg;
	struct epoll_event ev[CHECKER_EVENTS];

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		uint64_t t = now_mono_ns();
		int n;

		reap_retired(h);
		run_due(h, t);
		arm_timer(h);
		publish_stats(h, t);
		pthread_mutex_unlock(&h->lock);

		n = epoll_wait(h->epfd, ev, CHECKER_EVENTS, -1);
		if (n < 0 && errno != EINTR)
			abort(); /* EBADF/EFAULT/EINVAL: a bug, and a checker that stops is worse */

		pthread_mutex_lock(&h->lock);
		for (int i = 0; i < n; i++) {
			void *p = ev[i].data.ptr;
			struct health_entry *e = p;
			uint64_t now_ns;

			if (p == &h->wake_fd || p == &h->timer_fd) {
				drain_fd(*(int *)p);
				continue;
			}
			/* Retired after epoll_wait() fetched the event: skip, the reaper owns it. */
			if (e->retired || !health_probe_in_flight(&e->probe))
				continue;
			now_ns = now_mono_ns();
			if (health_probe_step(&e->probe, now_ns))
				entry_complete(h, e, now_ns);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int epoll_add(int epfd, int fd, void *cookie)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = cookie };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

uint32_t health_budget_for_limit(uint64_t nofile)
{
	uint64_t reserve, budget;

	if (nofile == (uint64_t)RLIM_INFINITY || nofile > (1ull << 20))
		nofile = 1ull << 20;
	reserve = nofile / 4 > HEALTH_FD_RESERVE ? nofile / 4 : HEALTH_FD_RESERVE;
	/* A limit under twice the reserve is a test or a mistake: still probe, half of it. */
	budget = nofile > 2 * reserve ? nofile - reserve : nofile / 2;
	if (budget < 1)
		budget = 1;
	return budget > HEALTH_TARGETS_MAX ? HEALTH_TARGETS_MAX : (uint32_t)budget;
}

struct health *health_create(void)
{
	return health_create_budget(0);
}

struct health *health_create_budget(uint32_t max_in_flight)
{
	struct health *h;
	sigset_t all, old;
	int err;

	if (!max_in_flight) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = 1024; /* cannot fail for this resource; the usual default */
		max_in_flight = health_budget_for_limit((uint64_t)rl.rlim_cur);
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->budget = h->budget_eff = max_in_flight;
	h->tunnel.src4_plen = 32; /* 0.0.0.0/32: the kernel fills the outer source in */
	h->tunnel.gue_port = 6080;
	h->tunnel.mtu = 1500;
	if (getrandom(&h->rng, sizeof(h->rng), GRND_NONBLOCK) != sizeof(h->rng))
		h->rng = now_mono_ns();
	h->rng |= 1; /* xorshift must not start at 0 */
	h->epfd = h->wake_fd = h->timer_fd = h->event_fd = -1;
	err = pthread_mutex_init(&h->lock, NULL);
	if (err)
		goto out_free;
	err = pthread_mutex_init(&h->st_lock, NULL);
	if (err) {
		pthread_mutex_destroy(&h->lock);
		goto out_free;
	}

	/* Each call is checked on its own so that errno is the one of the call that failed. */
	if ((h->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) < 0 ||
	    (h->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    epoll_add(h->epfd, h->wake_fd, &h->wake_fd) < 0 ||
	    epoll_add(h->epfd, h->timer_fd, &h->timer_fd) < 0) {
		err = errno;
		goto out_close_fds;
	}

	/* Block every signal in the checker so SIGHUP, SIGTERM... reach keel-control's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->thread, NULL, checker_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto out_close_fds;
	pthread_setname_np(h->thread, "keel-health"); /* best effort: shows in top -H */
	return h;

out_close_fds:
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	if (h->timer_fd >= 0)
		close(h->timer_fd);
	if (h->event_fd >= 0)
		close(h->event_fd);
	pthread_mutex_destroy(&h->st_lock);
	pthread_mutex_destroy(&h->lock);
out_free:
	free(h);
	errno = err;
	return NULL;
}

void health_destroy(struct health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	wake(h->wake_fd);
	pthread_join(h->thread, NULL);

	reap_retired(h);
	for (uint32_t i = 0; i < h->n_entries; i++) {
		health_probe_abort(&h->entries[i]->probe);
		free(h->entries[i]);
	}
	free(h->entries);
	free(h->index);
	free(h->wait.a);
	free(h->flight.a);
	close(h->epfd);
	close(h->wake_fd);
	close(h->timer_fd);
	close(h->event_fd);
	pthread_mutex_destroy(&h->st_lock);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

void health_set_tunnel(struct health *h, const struct health_tunnel_conf *conf)
{
	pthread_mutex_lock(&h->lock);
	h->tunnel = *conf;
	pthread_mutex_unlock(&h->lock);
}

static struct health_entry *entry_new(struct health *h, const struct health_target *key,
				      uint64_t hash, uint64_t now_ns)
{
	struct health_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->key = *key;
	e->hash = hash;
	e->fresh = true;
	health_probe_init(&e->probe, h->epfd, e);
	e->probe.tunnel = &h->tunnel; /* read by the checker under lock, as the entry */
	e->st.state = key->type == HEALTH_NONE ? HEALTH_STATE_UP : HEALTH_STATE_UNKNOWN;
	e->st.last_change_ms = now_real_ms();
	snprintf(e->st.last_text, sizeof(e->st.last_text), "none");
	/* First probe at a random point of the first interval: spreads a bulk add over time. */
	e->due_ns = now_ns + rng_next(h) % ((uint64_t)key->interval_ms * NS_PER_MS + 1);
	return e;
}

static void swap_ptr(void **a, void **b)
{
	void *t = *a;

	*a = *b;
	*b = t;
}

int health_set_targets(struct health *h, const struct health_target *t, uint32_t n)
{
	struct health_entry **entries = NULL, **index = NULL, **wait = NULL, **flight = NULL;
	uint32_t cap = 16, m = 0, n_wait = 0, n_flight = 0;
	uint64_t now_ns = now_mono_ns();
	int rc = 0;

	for (uint32_t i = 0; i < n; i++)
		if (!health_target_valid(&t[i]))
			return -EINVAL;
	/* Allocate everything before touching the live set, so a failure changes nothing. */
	while (cap < 2 * (uint64_t)(n < HEALTH_TARGETS_MAX ? n : HEALTH_TARGETS_MAX))
		cap *= 2;
	entries = calloc(n ? n : 1, sizeof(*entries));
	wait = calloc(n ? n : 1, sizeof(*wait));
	flight = calloc(n ? n : 1, sizeof(*flight));
	index = calloc(cap, sizeof(*index));
	if (!entries || !wait || !flight || !index) {
		rc = -ENOMEM;
		goto out_free_arrays;
	}

	pthread_mutex_lock(&h->lock);
	h->pass++;
	for (uint32_t i = 0; i < n; i++) {
		struct health_target key;
		struct health_entry *e;
		uint64_t hash;

		target_normalise(&key, &t[i]);
		hash = target_hash(&key);
		if (index_find(index, cap - 1, &key, hash))
			continue; /* listed twice (two VIPs, one backend): one probe */
		if (m == HEALTH_TARGETS_MAX) {
			rc = -E2BIG;
			goto out_undo;
		}
		e = index_find(h->index, h->index_mask, &key, hash);
		if (!e) {
			e = entry_new(h, &key, hash, now_ns);
			if (!e) {
				rc = -ENOMEM;
				goto out_undo;
			}
		}
		e->seen = h->pass;
		entries[m++] = e;
		index_insert(index, cap - 1, e);
	}

	for (uint32_t i = 0; i < h->n_entries; i++) {
		struct health_entry *e = h->entries[i];

		if (e->seen != h->pass) {
			e->retired = true;
			e->next_retired = h->retired;
			h->retired = e;
		}
	}
	for (uint32_t i = 0; i < m; i++) {
		struct health_entry *e = entries[i];

		e->fresh = false;
		if (e->key.type == HEALTH_NONE)
			continue;
		/* A probe in flight keeps its socket and deadline; the budget counts it. */
		if (health_probe_in_flight(&e->probe)) {
			e->in_heap = IN_FLIGHT;
			e->heap_idx = n_flight;
			flight[n_flight++] = e;
		} else {
			e->in_heap = IN_WAIT;
			e->heap_idx = n_wait;
			wait[n_wait++] = e;
		}
	}
	pthread_mutex_lock(&h->st_lock);
	swap_ptr((void **)&h->entries, (void **)&entries);
	swap_ptr((void **)&h->index, (void **)&index);
	h->n_entries = m;
	h->index_mask = cap - 1;
	pthread_mutex_unlock(&h->st_lock);
	free(h->wait.a);
	free(h->flight.a);
	h->wait = (struct entry_heap){ .a = wait, .n = n_wait };
	h->flight = (struct entry_heap){ .a = flight, .n = n_flight };
	for (uint32_t i = n_wait / 2; i-- > 0;)
		heap_down(&h->wait, i);
	for (uint32_t i = n_flight / 2; i-- > 0;)
		heap_down(&h->flight, i);
	pthread_mutex_unlock(&h->lock);
	free(entries); /* the old arrays, swapped out: no reader can reach them now */
	free(index);
	wake(h->wake_fd); /* new due times and retired sockets for the checker */
	return 0;

out_undo:
	for (uint32_t i = 0; i < m; i++)
		if (entries[i]->fresh)
			free(entries[i]);
	pthread_mutex_unlock(&h->lock);
out_free_arrays:
	free(entries);
	free(index);
	free(wait);
	free(flight);
	return rc;
}

int health_get(struct health *h, const struct health_target *t, struct health_status *out)
{
	struct health_target key;
	struct health_entry *e;
	int rc = -ENOENT;

	if (!health_target_valid(t))
		return -ENOENT;
	target_normalise(&key, t);
	pthread_mutex_lock(&h->st_lock);
	e = index_find(h->index, h->index_mask, &key, target_hash(&key));
	if (e) {
		*out = e->st;
		rc = 0;
	}
	pthread_mutex_unlock(&h->st_lock);
	return rc;
}

uint32_t health_count(struct health *h)
{
	uint32_t n;

	pthread_mutex_lock(&h->st_lock);
	n = h->n_entries;
	pthread_mutex_unlock(&h->st_lock);
	return n;
}

uint64_t health_generation(struct health *h)
{
	/* Acquire: pairs with the release in entry_complete(). */
	return atomic_load_explicit(&h->generation, memory_order_acquire);
}

int health_event_fd(struct health *h)
{
	return h->event_fd;
}

void health_stats(struct health *h, struct health_stats *out)
{
	uint64_t now_ns = now_mono_ns();
	struct health_pub p;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->st_lock);
	p = h->pub;
	pthread_mutex_unlock(&h->st_lock);
	out->targets = p.targets;
	out->budget = h->budget; /* set once at creation */
	out->in_flight = p.in_flight;
	out->waiting = p.waiting;
	if (p.oldest_due_ns && p.oldest_due_ns < now_ns)
		out->lag_ms = (now_ns - p.oldest_due_ns) / NS_PER_MS;
	out->started_total = p.started;
	out->late_total = p.late;
	out->deferred_total = p.deferred;
	out->behind = (p.last_late_ns && now_ns - p.last_late_ns < BEHIND_HOLD_NS) ||
		      (p.oldest_interval_ms && out->lag_ms * NS_PER_MS > late_after_ns(p.oldest_interval_ms));
}
