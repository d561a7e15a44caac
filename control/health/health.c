/* The health checker: a target table, one thread with one epoll loop, rise/fall state per target. */
#define _GNU_SOURCE /* pthread_setname_np */
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
#include "health_internal.h"
#include "health_probe.h"
#include "health_tunnel.h"

/* The locking and lifetime rules, and the structures, are in health_internal.h. */

/* xorshift64*: jitter only needs to spread probes, not to be unpredictable. */
static uint64_t rng_next(struct health *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 0x2545f4914f6cdd1dull;
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
		h->rng = health_now_mono_ns();
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
	err = pthread_create(&h->thread, NULL, health_checker_main, h);
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
	health_wake(h->wake_fd);
	pthread_join(h->thread, NULL);

	health_reap_retired(h);
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
	e->st.last_change_ms = health_now_real_ms();
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
	uint64_t now_ns = health_now_mono_ns();
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

		health_target_normalise(&key, &t[i]);
		hash = health_target_hash(&key);
		if (health_index_find(index, cap - 1, &key, hash))
			continue; /* listed twice (two VIPs, one backend): one probe */
		if (m == HEALTH_TARGETS_MAX) {
			rc = -E2BIG;
			goto out_undo;
		}
		e = health_index_find(h->index, h->index_mask, &key, hash);
		if (!e) {
			e = entry_new(h, &key, hash, now_ns);
			if (!e) {
				rc = -ENOMEM;
				goto out_undo;
			}
		}
		e->seen = h->pass;
		entries[m++] = e;
		health_index_insert(index, cap - 1, e);
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
		health_heap_down(&h->wait, i);
	for (uint32_t i = n_flight / 2; i-- > 0;)
		health_heap_down(&h->flight, i);
	pthread_mutex_unlock(&h->lock);
	free(entries); /* the old arrays, swapped out: no reader can reach them now */
	free(index);
	health_wake(h->wake_fd); /* new due times and retired sockets for the checker */
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
	health_target_normalise(&key, t);
	pthread_mutex_lock(&h->st_lock);
	e = health_index_find(h->index, h->index_mask, &key, health_target_hash(&key));
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
	uint64_t now_ns = health_now_mono_ns();
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
		      (p.oldest_interval_ms &&
		       out->lag_ms * NS_PER_MS > health_late_after_ns(p.oldest_interval_ms));
}
