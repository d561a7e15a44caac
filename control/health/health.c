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
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "health.h"
#include "health_probe.h"

/*
 * Locking: one mutex (h->lock) covers the target table, the index, the heap and
 * every entry. The checker thread holds it while it starts probes and handles
 * socket events (all non-blocking, microseconds) and drops it only around
 * epoll_wait(); health_set_targets() and health_get() take it briefly. This is
 * the control plane, far from the packet path, and the table is read a few
 * times per second at most, so a plain mutex is simpler than anything lock-free
 * and costs nothing that matters. Only the generation is read without the lock.
 *
 * Lifetime: only the checker thread frees entries. health_set_targets() moves
 * removed entries to h->retired and flags them; the checker closes their
 * sockets and frees them at the top of its loop, before it waits again, so an
 * event already fetched by epoll_wait() never points at freed memory.
 */

#define NS_PER_MS 1000000ull
#define CHECKER_EVENTS 64 /* epoll events handled per wakeup */

struct health_entry {
	struct health_target key;  /* normalised (see target_normalise), so equality is field-wise */
	uint64_t hash;
	struct health_probe probe; /* epoll cookie: this entry */
	uint64_t due_ns;           /* CLOCK_MONOTONIC: next start when idle, deadline when in flight */
	uint64_t anchor_ns;        /* start of the last probe; the next one starts interval later */
	uint32_t heap_idx;
	uint32_t seen;             /* health_set_targets() pass that last listed it */
	bool fresh;                /* created by the running health_set_targets(), undone on failure */
	bool retired;              /* out of the table, waiting for the checker to free it */
	struct health_entry *next_retired;
	struct health_status st;
};

struct health {
	pthread_mutex_t lock;
	/* All below: checker rw, health_set_targets rw, health_get ro; under lock. */
	struct health_entry **entries; /* the current set, n_entries distinct targets */
	uint32_t n_entries;
	struct health_entry **index;   /* open addressing on hash; index_mask + 1 slots */
	uint32_t index_mask;
	struct health_entry **heap;    /* min-heap on due_ns of the probed entries (type != NONE) */
	uint32_t n_heap;
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
		if (!path_valid(t->path) || t->expect_status < 100 || t->expect_status > 599)
			return false;
		break;
	default:
		return false;
	}
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
	if (src->type == HEALTH_HTTP) {
		memcpy(dst->path, src->path, strnlen(src->path, HEALTH_PATH_MAX - 1));
		dst->expect_status = src->expect_status;
	}
	dst->interval_ms = src->interval_ms;
	dst->timeout_ms = src->timeout_ms;
	dst->rise = src->rise;
	dst->fall = src->fall;
}

static bool target_equal(const struct health_target *a, const struct health_target *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, 16) == 0 && a->port == b->port &&
	       a->type == b->type && strcmp(a->path, b->path) == 0 &&
	       a->expect_status == b->expect_status && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->rise == b->rise && a->fall == b->fall;
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
	h = fnv1a(h, &t->interval_ms, sizeof(t->interval_ms));
	h = fnv1a(h, &t->timeout_ms, sizeof(t->timeout_ms));
	h = fnv1a(h, &t->rise, sizeof(t->rise));
	h = fnv1a(h, &t->fall, sizeof(t->fall));
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

/* Min-heap on due_ns; heap_idx lets the checker re-place an entry after an event. */
static void heap_swap(struct health *h, uint32_t a, uint32_t b)
{
	struct health_entry *t = h->heap[a];

	h->heap[a] = h->heap[b];
	h->heap[b] = t;
	h->heap[a]->heap_idx = a;
	h->heap[b]->heap_idx = b;
}

static void heap_down(struct health *h, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n_heap && h->heap[l]->due_ns < h->heap[m]->due_ns)
			m = l;
		if (r < h->n_heap && h->heap[r]->due_ns < h->heap[m]->due_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static void heap_up(struct health *h, uint32_t i)
{
	while (i > 0 && h->heap[(i - 1) / 2]->due_ns > h->heap[i]->due_ns) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_fix(struct health *h, struct health_entry *e)
{
	heap_up(h, e->heap_idx);
	heap_down(h, e->heap_idx);
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
	if (st->state != old) {
		st->last_change_ms = now_real_ms();
		if ((old == HEALTH_STATE_DOWN) != (st->state == HEALTH_STATE_DOWN)) {
			if (st->state == HEALTH_STATE_DOWN)
				st->went_down++;
			else
				st->came_up++;
			/* Release: pairs with the acquire in health_generation(). */
			atomic_fetch_add_explicit(&h->generation, 1, memory_order_release);
			wake(h->event_fd);
		}
	}

	e->probe.phase = HEALTH_PROBE_IDLE;
	/* Keep the phase the jitter gave: start interval after the last start, not after its end. */
	e->due_ns = e->anchor_ns + (uint64_t)e->key.interval_ms * NS_PER_MS;
	if (e->due_ns < now_ns)
		e->due_ns = now_ns;
	heap_fix(h, e);
}

/* Starts every probe that is due and times out every probe past its deadline. Under lock. */
static void run_due(struct health *h, uint64_t now_ns)
{
	while (h->n_heap > 0 && h->heap[0]->due_ns <= now_ns) {
		struct health_entry *e = h->heap[0];

		if (health_probe_in_flight(&e->probe)) {
			health_probe_timeout(&e->probe, now_ns);
			entry_complete(h, e, now_ns);
			continue;
		}
		e->anchor_ns = now_ns;
		if (health_probe_start(&e->probe, &e->key, now_ns)) {
			entry_complete(h, e, now_ns);
			continue;
		}
		e->due_ns = now_ns + (uint64_t)e->key.timeout_ms * NS_PER_MS;
		heap_down(h, 0);
	}
}

/* Arms the timerfd at the earliest due time (absolute, so a late wakeup does not drift). */
static void arm_timer(struct health *h)
{
	struct itimerspec its = { 0 };

	if (h->n_heap > 0) {
		uint64_t due = h->heap[0]->due_ns;

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

static void *checker_main(void *arg)
{
	struct health *h = arg;
	struct epoll_event ev[CHECKER_EVENTS];

	pthread_mutex_lock(&h->lock);
	while (!h->stop) {
		int n;

		reap_retired(h);
		run_due(h, now_mono_ns());
		arm_timer(h);
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

struct health *health_create(void)
{
	struct health *h;
	sigset_t all, old;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (getrandom(&h->rng, sizeof(h->rng), GRND_NONBLOCK) != sizeof(h->rng))
		h->rng = now_mono_ns();
	h->rng |= 1; /* xorshift must not start at 0 */
	h->epfd = h->wake_fd = h->timer_fd = h->event_fd = -1;
	err = pthread_mutex_init(&h->lock, NULL);
	if (err)
		goto out_free;

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
	free(h->heap);
	close(h->epfd);
	close(h->wake_fd);
	close(h->timer_fd);
	close(h->event_fd);
	pthread_mutex_destroy(&h->lock);
	free(h);
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
	e->st.state = key->type == HEALTH_NONE ? HEALTH_STATE_UP : HEALTH_STATE_UNKNOWN;
	e->st.last_change_ms = now_real_ms();
	snprintf(e->st.last_text, sizeof(e->st.last_text), "none");
	/* First probe at a random point of the first interval: spreads a bulk add over time. */
	e->due_ns = now_ns + rng_next(h) % ((uint64_t)key->interval_ms * NS_PER_MS + 1);
	return e;
}

int health_set_targets(struct health *h, const struct health_target *t, uint32_t n)
{
	struct health_entry **entries = NULL, **index = NULL, **heap = NULL;
	uint32_t cap = 16, m = 0, n_heap = 0;
	uint64_t now_ns = now_mono_ns();
	int rc = 0;

	for (uint32_t i = 0; i < n; i++)
		if (!health_target_valid(&t[i]))
			return -EINVAL;
	/* Allocate everything before touching the live set, so a failure changes nothing. */
	while (cap < 2 * (uint64_t)(n < HEALTH_TARGETS_MAX ? n : HEALTH_TARGETS_MAX))
		cap *= 2;
	entries = calloc(n ? n : 1, sizeof(*entries));
	heap = calloc(n ? n : 1, sizeof(*heap));
	index = calloc(cap, sizeof(*index));
	if (!entries || !heap || !index) {
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
		entries[i]->fresh = false;
		if (entries[i]->key.type != HEALTH_NONE) {
			entries[i]->heap_idx = n_heap;
			heap[n_heap++] = entries[i];
		}
	}
	free(h->entries);
	free(h->index);
	free(h->heap);
	h->entries = entries;
	h->n_entries = m;
	h->index = index;
	h->index_mask = cap - 1;
	h->heap = heap;
	h->n_heap = n_heap;
	for (uint32_t i = n_heap / 2; i-- > 0;)
		heap_down(h, i);
	pthread_mutex_unlock(&h->lock);
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
	free(heap);
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
	pthread_mutex_lock(&h->lock);
	e = index_find(h->index, h->index_mask, &key, target_hash(&key));
	if (e) {
		*out = e->st;
		rc = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

uint32_t health_count(struct health *h)
{
	uint32_t n;

	pthread_mutex_lock(&h->lock);
	n = h->n_entries;
	pthread_mutex_unlock(&h->lock);
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
